"""Tests of assignment 06_lstm, read by ``rnncourse.grading`` (see its docstring).

``build(rc, G)`` returns one ``G.Spec`` per graded function: the reference (from ``rc``, a
private copy of rnncourse), visible and hidden test cases, and the common mistakes that the
feedback recognises.  Only NumPy is imported here; everything else comes through ``rc``/``G``.
"""
import numpy as np

#: The graded functions in notebook order: (points of the visible cell, of the hidden cell).
#: The notebook's test cells are generated from this table (rnncourse.grading.cells).
POINTS = {
    "lstm_step_forward": (3, 3),
    "lstm_step_backward": (4, 4),
    "lstm_forward": (2, 2),
}


def build(rc, G):
    LSTMParams = rc.lstm.LSTMParams

    def make_params(rng, D, H, peep=False, scale=0.5):
        return G.random_params(rng, LSTMParams, (4 * H, D), (4 * H, H), (4 * H,),
                               (3, H) if peep else None, scale=scale)

    def step_inputs(rng, N, D, H, peep=False, scale=0.5):
        x = rng.normal(size=(N, D))
        h_prev = np.tanh(rng.normal(size=(N, H)))
        c_prev = rng.normal(size=(N, H))
        return x, h_prev, c_prev, make_params(rng, D, H, peep, scale)

    # ---------------------------------------------------------------- lstm_step_forward
    def step_ref(x, h_prev, c_prev, params):
        return rc.lstm.lstm_step_forward(x, h_prev, c_prev, params)[:2]

    def _step(x, h_prev, c_prev, params, *, gate_act=G.sigmoid, cand_act=np.tanh, order="ifgo",
              forget=True, h_from="c_next", squash_c=True, peep="right", bias=True):
        U, W, b = params[:3]
        P = params[3] if len(params) > 3 else None
        H = h_prev.shape[1]
        a = x @ U.T + h_prev @ W.T + (b if bias else 0.0)
        blocks = {k: a[:, j * H:(j + 1) * H] for j, k in enumerate(order)}
        ai, af, ag, ao = blocks["i"], blocks["f"], blocks["g"], blocks["o"]
        if P is not None and peep != "none":
            ai = ai + P[0] * c_prev
            af = af + P[1] * c_prev
            if peep == "right":
                ao = ao + P[2] * c_prev
        i, f, g = gate_act(ai), gate_act(af), cand_act(ag)
        c_next = f * c_prev + i * g if forget else c_prev + i * g
        if P is not None and peep == "o_on_c_next":
            ao = ao + P[2] * c_next
        o = gate_act(ao)
        c_out = c_prev if h_from == "c_prev" else c_next
        h_next = o * (np.tanh(c_out) if squash_c else c_out)
        return h_next, c_next

    step_mistakes = [
        G.Mistake("c_prev used where c_next belongs", "the output reads the NEW memory: "
                  "h_next = o * tanh(c_next), with c_next = f * c_prev + i * g computed first.",
                  fn=lambda x, h, c, p: _step(x, h, c, p, h_from="c_prev")),
        G.Mistake("tanh used for the gates", "i, f and o are gates between 0 and 1: use sigmoid for them; "
                  "only the candidate g uses tanh.", fn=lambda x, h, c, p: _step(x, h, c, p, gate_act=np.tanh)),
        G.Mistake("sigmoid used for the candidate g", "the candidate g = tanh(a_g) must be able to add "
                  "negative values to the memory.", fn=lambda x, h, c, p: _step(x, h, c, p, cand_act=G.sigmoid)),
        G.Mistake("input and forget gates swapped", "the row blocks are [i; f; g; o] (PyTorch's order): "
                  "columns 0:H are the input gate, H:2H the forget gate.",
                  fn=lambda x, h, c, p: _step(x, h, c, p, order="figo")),
        G.Mistake("gate blocks g and o swapped", "the row blocks are [i; f; g; o]: columns 2H:3H are "
                  "the candidate g, 3H:4H the output gate o.",
                  fn=lambda x, h, c, p: _step(x, h, c, p, order="ifog")),
        G.Mistake("forgot the forget gate", "the old memory is scaled by the forget gate: "
                  "c_next = f * c_prev + i * g, not c_prev + i * g.",
                  fn=lambda x, h, c, p: _step(x, h, c, p, forget=False)),
        G.Mistake("no tanh on the cell state", "h_next = o * tanh(c_next): the memory is squashed "
                  "before it is exposed.", fn=lambda x, h, c, p: _step(x, h, c, p, squash_c=False)),
        G.Mistake("forgot the bias b", "a = x @ U.T + h_prev @ W.T + b.",
                  fn=lambda x, h, c, p: _step(x, h, c, p, bias=False)),
        G.Mistake("output-gate peephole on c_next", "in this course every peephole looks at the previous "
                  "cell state: a_o += P[2] * c_prev (like a_i += P[0] * c_prev and a_f += P[1] * c_prev).",
                  fn=lambda x, h, c, p: _step(x, h, c, p, peep="o_on_c_next")),
        G.Mistake("peepholes ignored", "when params.P is not None, add P[0] * c_prev, P[1] * c_prev and "
                  "P[2] * c_prev to the pre-activations of i, f and o.",
                  fn=lambda x, h, c, p: _step(x, h, c, p, peep="none")),
        G.Mistake("weights used without transposing", "U has shape (4H, D) (one row per gate unit): "
                  "x @ U.T and h_prev @ W.T.", error=G.MATMUL_ERROR),
    ]

    def step_visible():
        rng = np.random.default_rng(61)
        return [G.core("N=2, D=3, H=4, no peepholes", *step_inputs(rng, 2, 3, 4)),
                G.case("N=3, D=2, H=3, with peepholes", *step_inputs(rng, 3, 2, 3, peep=True))]

    def step_hidden(rng):
        return [G.case("N=1, D=1, H=1", *step_inputs(rng, 1, 1, 1)),
                G.case("N=1, D=5, H=3 (D != H)", *step_inputs(rng, 1, 5, 3)),
                G.case("N=4, D=3, H=3 (D == H)", *step_inputs(rng, 4, 3, 3)),
                G.case("N=2, D=2, H=5, large weights", *step_inputs(rng, 2, 2, 5, scale=4.0)),
                G.case("N=1, D=3, H=2, peepholes", *step_inputs(rng, 1, 3, 2, peep=True)),
                G.case("N=3, D=4, H=4, peepholes", *step_inputs(rng, 3, 4, 4, peep=True))]

    # ---------------------------------------------------------------- lstm_step_backward
    def bwd_case(rng, label, N, D, H, peep=False, scale=0.5, dc=True):
        x, h_prev, c_prev, params = step_inputs(rng, N, D, H, peep, scale)
        _, _, cache = rc.lstm.lstm_step_forward(x, h_prev, c_prev, params)
        dh_next = rng.normal(size=(N, H))
        dc_next = rng.normal(size=(N, H)) if dc else None
        return G.case(label, dh_next, dc_next, cache)

    def bwd_ref(dh_next, dc_next, cache):
        return rc.lstm.lstm_step_backward(dh_next, dc_next, cache)

    def _bwd(dh, dc_next, cache, *, keep_f=True, use_dc_next=True, use_dh=True, dtanh_c=True,
             g_deriv="tanh", do_from="tanh_c", peep_to_dc=True, order="ifgo", peepholes=True,
             dP_none=False):
        x, h_prev, c_prev, i, f, g, o, c_next, tanh_c, params = cache
        U, W, _, P = params
        H = h_prev.shape[1]
        if dc_next is None:
            dc_next = np.zeros_like(dh)
        do = dh * (tanh_c if do_from == "tanh_c" else c_next)
        dc = np.zeros_like(dh)
        if use_dc_next:
            dc = dc + dc_next
        if use_dh:
            dc = dc + dh * o * ((1 - tanh_c ** 2) if dtanh_c else 1.0)
        di, dg, df = dc * g, dc * i, dc * c_prev
        dc_prev = dc * f if keep_f else dc
        dag = dg * (1 - g * g) if g_deriv == "tanh" else dg * g * (1 - g)
        blocks = {"i": di * i * (1 - i), "f": df * f * (1 - f), "g": dag, "o": do * o * (1 - o)}
        da = np.concatenate([blocks[k] for k in order], axis=1)
        dP = None
        if P is not None and not peepholes:            # the peepholes forgotten altogether
            dP = None if dP_none else np.zeros_like(P)
        elif P is not None:
            dai, daf, dao = da[:, :H], da[:, H:2 * H], da[:, 3 * H:]
            if peep_to_dc:
                dc_prev = dc_prev + dai * P[0] + daf * P[1] + dao * P[2]
            dP = np.stack([(dai * c_prev).sum(0), (daf * c_prev).sum(0), (dao * c_prev).sum(0)])
        return (da @ U, da @ W, dc_prev, (da.T @ x, da.T @ h_prev, da.sum(axis=0), dP))

    bwd_mistakes = [
        G.Mistake("dc_prev not multiplied by f", "c_next = f * c_prev + i * g, so dc_prev = dc * f "
                  "(dc = the total gradient reaching c_next).",
                  fn=lambda dh, dc, c: _bwd(dh, dc, c, keep_f=False)),
        G.Mistake("dc_next is ignored", "c_next also feeds the next step: dc = dc_next + "
                  "dh_next * o * (1 - tanh(c_next)**2).", fn=lambda dh, dc, c: _bwd(dh, dc, c, use_dc_next=False)),
        G.Mistake("the path from h_next to c_next is missing", "h_next = o * tanh(c_next) depends on c_next: "
                  "dc = dc_next + dh_next * o * (1 - tanh_c**2).", fn=lambda dh, dc, c: _bwd(dh, dc, c, use_dh=False)),
        G.Mistake("tanh derivative missing on the cell state", "d tanh(c)/dc = 1 - tanh(c)**2: "
                  "dc = dc_next + dh_next * o * (1 - tanh_c**2).",
                  fn=lambda dh, dc, c: _bwd(dh, dc, c, dtanh_c=False)),
        G.Mistake("sigmoid derivative used for the candidate g", "g = tanh(a_g), so da_g = dg * (1 - g**2); "
                  "z * (1 - z) is the derivative of the sigmoid gates.",
                  fn=lambda dh, dc, c: _bwd(dh, dc, c, g_deriv="sigmoid")),
        G.Mistake("do computed from c_next instead of tanh(c_next)", "h_next = o * tanh(c_next): "
                  "do = dh_next * tanh_c.", fn=lambda dh, dc, c: _bwd(dh, dc, c, do_from="c")),
        G.Mistake("peephole paths missing from dc_prev", "with peepholes, c_prev also enters a_i, a_f, a_o: "
                  "add da_i * P[0] + da_f * P[1] + da_o * P[2] to dc_prev.",
                  fn=lambda dh, dc, c: _bwd(dh, dc, c, peep_to_dc=False)),
        G.Mistake("gate gradients stacked in CS231n's order [i, f, o, g]", "this course stacks the gate "
                  "blocks as [i; f; g; o] (PyTorch's order): da = concatenate([da_i, da_f, da_g, da_o]).",
                  fn=lambda dh, dc, c: _bwd(dh, dc, c, order="ifog")),
        G.Mistake("the peepholes are ignored", "with P, a_i, a_f and a_o also get P * c_prev: dP[k] = "
                  "sum over the batch of da_k * c_prev, and c_prev gets da_i * P[0] + da_f * P[1] + "
                  "da_o * P[2] on top of dc * f.", fn=lambda dh, dc, c: _bwd(dh, dc, c, peepholes=False)),
        # the same, written from the peephole-free backward pass: dP stays None
        G.Mistake("dP is None although params.P is given", "with peepholes P (3, H), return dP (3, H): "
                  "dP[k] = (da_k * c_prev).sum(axis=0) for k = i, f, o, and add da_i * P[0] + da_f * P[1] + "
                  "da_o * P[2] to dc_prev.", fn=lambda dh, dc, c: _bwd(dh, dc, c, peepholes=False, dP_none=True)),
        G.Mistake("dc_next=None is not handled", "None means no gradient from the next step: "
                  "treat it as zeros (e.g. `if dc_next is None: dc_next = np.zeros_like(dh_next)`).",
                  error=r"NoneType"),
    ]

    def bwd_gradcheck(student_fn, c, out):
        dh, dc_next, cache = c.args
        x, h_prev, c_prev = cache.x, cache.h_prev, cache.c_prev
        p = cache.params
        if x.size + h_prev.size > 16 or np.abs(p.U).max() > 2:
            return None
        dcn = np.zeros_like(dh) if dc_next is None else dc_next

        def loss(x, h_prev, c_prev, U, W, b, P=None):
            h, cn, _ = rc.lstm.lstm_step_forward(x, h_prev, c_prev, LSTMParams(U, W, b, P))
            return float((h * dh).sum() + (cn * dcn).sum())

        dx, dh_prev, dc_prev, dparams = out
        inputs = {"x": x, "h_prev": h_prev, "c_prev": c_prev, "U": p.U, "W": p.W, "b": p.b}
        grads = {"x": dx, "h_prev": dh_prev, "c_prev": dc_prev, "U": dparams[0], "W": dparams[1],
                 "b": dparams[2]}
        if p.P is not None:
            inputs["P"], grads["P"] = p.P, dparams[3]
        return G.gradient_check(loss, inputs, grads)

    def bwd_visible():
        rng = np.random.default_rng(62)
        return [G.as_core(bwd_case(rng, "N=2, D=3, H=2 (with a gradient check)", 2, 3, 2)),
                bwd_case(rng, "N=3, D=2, H=4, dc_next=None", 3, 2, 4, dc=False),
                bwd_case(rng, "N=2, D=2, H=3, with peepholes", 2, 2, 3, peep=True)]

    def bwd_hidden(rng):
        return [bwd_case(rng, "N=1, D=1, H=1", 1, 1, 1),
                bwd_case(rng, "N=1, D=4, H=3 (D != H)", 1, 4, 3),
                bwd_case(rng, "N=3, D=3, H=3 (D == H)", 3, 3, 3),
                bwd_case(rng, "N=2, D=3, H=5, dc_next=None", 2, 3, 5, dc=False),
                bwd_case(rng, "N=2, D=2, H=2, peepholes (gradient check)", 2, 2, 2, peep=True),
                bwd_case(rng, "N=3, D=2, H=4, peepholes, large weights", 3, 2, 4, peep=True, scale=3.0)]

    # ---------------------------------------------------------------- lstm_forward
    def seq_case(make, label, rng, N, T, D, H, peep=False, c0=True):
        """``make(label, x, h0, params, c0=...)``: c0 is keyword only, as in lstm_forward."""
        x = rng.normal(size=(N, T, D))
        h0 = np.tanh(rng.normal(size=(N, H)))
        params = make_params(rng, D, H, peep)
        return make(label, x, h0, params, c0=rng.normal(size=(N, H)) if c0 else None)

    def fwd_ref(x, h0, params, *, c0=None):
        h, cache = rc.lstm.lstm_forward(x, h0, params, c0=c0)
        return h, cache.c                              # the cell states: (N, T, H)

    def _loop(x, h0, params, *, c0=None, carry_c=True, carry_h=True, use_h0=True, use_c0=True,
              keep="new", time_major=False, last_only=False, like_x=False):
        N, T, _ = x.shape
        H = params[1].shape[1]
        zeros = np.zeros((N, H))
        h_first = h0 if (use_h0 and h0 is not None) else zeros
        c_first = c0 if (use_c0 and c0 is not None) else zeros
        h_prev, c_prev = h_first, c_first
        hs, cs = [], []
        for t in range(T):
            h_new, c_new = _step(x[:, t], h_prev if carry_h else h_first,
                                 c_prev if carry_c else c_first, params)
            hs.append(h_prev if keep == "old" else h_new)
            cs.append(c_prev if keep == "old" else c_new)
            h_prev, c_prev = h_new, c_new
        if like_x:                                     # h = np.zeros_like(x): (N, T, D), not (N, T, H)
            h, c = np.zeros_like(x), np.zeros_like(x)
            for t in range(T):
                h[:, t], c[:, t] = hs[t], cs[t]        # raises NumPy's broadcast error when D != H
            return h, c
        if last_only:
            return hs[-1], cs[-1]
        axis = 0 if time_major else 1
        return np.stack(hs, axis=axis), np.stack(cs, axis=axis)

    fwd_mistakes = [
        G.Mistake("the cell state is not carried from step to step", "after each step, c_next becomes "
                  "c_prev for the next step (like h).", fn=lambda x, h0, p, *, c0=None: _loop(x, h0, p, c0=c0, carry_c=False)),
        G.Mistake("the hidden state is not carried from step to step", "after each step, h_next becomes "
                  "h_prev for the next step.", fn=lambda x, h0, p, *, c0=None: _loop(x, h0, p, c0=c0, carry_h=False)),
        G.Mistake("c0 is ignored (the loop starts from zeros)", "start the cell state from the c0 you are "
                  "given; only c0=None means zeros.", fn=lambda x, h0, p, *, c0=None: _loop(x, h0, p, c0=c0, use_c0=False)),
        G.Mistake("h0 is ignored (the loop starts from zeros)", "start the hidden state from h0; only "
                  "h0=None means zeros.", fn=lambda x, h0, p, *, c0=None: _loop(x, h0, p, c0=c0, use_h0=False)),
        G.Mistake("off by one: h[:, t] holds the state from before step t", "store the NEW states "
                  "computed from x[:, t].", fn=lambda x, h0, p, *, c0=None: _loop(x, h0, p, c0=c0, keep="old")),
        G.Mistake("time-major outputs (T, N, H)", "stack along axis 1: h and c have shape (N, T, H).",
                  fn=lambda x, h0, p, *, c0=None: _loop(x, h0, p, c0=c0, time_major=True)),
        # PyTorch's nn.LSTM returns output, (h_n, c_n): the last states are easily taken for the
        # result (https://discuss.pytorch.org/t/clarify-difference-between-output-and-h-n-in-rnn/146724)
        G.Mistake("only the last states are returned", "return the states of EVERY step, h and c of shape "
                  "(N, T, H) (h[:, -1] and c[:, -1] are PyTorch's h_n and c_n).",
                  fn=lambda x, h0, p, *, c0=None: _loop(x, h0, p, c0=c0, last_only=True)),
        # `a or b` calls bool(a), undefined for an array of several entries
        # (https://stackoverflow.com/questions/10062954)
        G.Mistake("`h0 or zeros` tests the truth value of an array", "an array is neither True nor False: "
                  "test for None, `h_prev = np.zeros((N, H)) if h0 is None else h0` (and the same for c0).",
                  error=r"truth value of an array with more than one element is ambiguous"),
        G.Mistake("h and c allocated with the shape of x", "np.zeros_like(x) has x's shape (N, T, D); the "
                  "states need (N, T, H): h = np.zeros((N, T, H)), c = np.zeros((N, T, H)).",
                  fn=lambda x, h0, p, *, c0=None: _loop(x, h0, p, c0=c0, like_x=True)),
    ]

    def fwd_visible():
        rng = np.random.default_rng(63)
        return [seq_case(G.core, "N=2, T=3, D=4, H=3", rng, 2, 3, 4, 3),
                seq_case(G.case, "N=3, T=2, D=2, H=2, c0=None, peepholes", rng, 3, 2, 2, 2, peep=True,
                         c0=False)]

    def fwd_hidden(rng):
        x, _, p = seq_case(G.case, "", rng, 2, 4, 3, 2).args
        return [seq_case(G.case, "N=1, T=1, D=3, H=2", rng, 1, 1, 3, 2),
                seq_case(G.case, "N=1, T=6, D=2, H=4", rng, 1, 6, 2, 4),
                seq_case(G.case, "N=3, T=3, D=3, H=3 (N == T)", rng, 3, 3, 3, 3),
                seq_case(G.case, "N=4, T=2, D=5, H=3, peepholes", rng, 4, 2, 5, 3, peep=True),
                G.case("h0=None, c0=None", x, None, p, c0=None),
                seq_case(G.case, "N=2, T=8, D=2, H=3 (long)", rng, 2, 8, 2, 3)]

    return {
        "lstm_step_forward": G.Spec(step_ref, step_visible, step_hidden, step_mistakes,
                                    output_names=("h_next", "c_next")),
        "lstm_step_backward": G.Spec(bwd_ref, bwd_visible, bwd_hidden, bwd_mistakes, extra=[bwd_gradcheck],
                                     shared="dc = dc_next + dh_next * o * (1 - tanh(c_next)**2) or the gates' "
                                            "pre-activation gradients da, which every gradient is computed from"),
        "lstm_forward": G.Spec(fwd_ref, fwd_visible, fwd_hidden, fwd_mistakes, output_names=("h", "c"),
                               depends=("lstm_step_forward",)),
    }
