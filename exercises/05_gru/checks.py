"""Tests of assignment 05_gru, read by ``rnncourse.grading`` (see its docstring).

``build(rc, G)`` returns one ``G.Spec`` per graded function: the reference (from ``rc``, a
private copy of rnncourse), visible and hidden test cases, and the common mistakes that the
feedback recognises.  Only NumPy is imported here; everything else comes through ``rc``/``G``.
"""
import numpy as np

#: The graded functions in notebook order: (points of the visible cell, of the hidden cell).
#: The notebook's test cells are generated from this table (rnncourse.grading.cells).
POINTS = {
    "simple_gru_step_forward": (2, 2),
    "gru_step_forward": (3, 3),
    "simple_gru_step_backward": (3, 4),
}


def build(rc, G):
    SimpleGRUParams = rc.gru.SimpleGRUParams
    GRUParams = rc.gru.GRUParams

    def simple_inputs(rng, N, D, H, scale=0.5):
        x = rng.normal(size=(N, D))
        h_prev = np.tanh(rng.normal(size=(N, H)))
        params = G.random_params(rng, SimpleGRUParams, (2 * H, D), (2 * H, H), (2 * H,), scale=scale)
        return x, h_prev, params

    def gru_inputs(rng, N, D, H, reset_after=False, scale=0.5):
        x = rng.normal(size=(N, D))
        h_prev = np.tanh(rng.normal(size=(N, H)))
        b_hn = rng.normal(0, scale, H) if reset_after else None
        params = GRUParams(rng.normal(0, scale, (3 * H, D)), rng.normal(0, scale, (3 * H, H)),
                           rng.normal(0, scale, 3 * H), b_hn)
        return x, h_prev, params

    # ---------------------------------------------------------------- simple_gru_step_forward
    def simple_ref(x, h_prev, params):
        return rc.gru.simple_gru_step_forward(x, h_prev, params)[0]

    def _simple(x, h_prev, params, *, bias=True, transpose=True, z_act=G.sigmoid, n_act=np.tanh,
                swap_blocks=False, mix="right"):
        U, W, b = params
        H = h_prev.shape[1]
        a = (x @ U.T + h_prev @ W.T) if transpose else (x @ U + h_prev @ W)
        if bias:
            a = a + b
        az, an = (a[:, H:], a[:, :H]) if swap_blocks else (a[:, :H], a[:, H:])
        z, n = z_act(az), n_act(an)
        if mix == "swapped":
            return (1 - z) * n + z * h_prev
        if mix == "candidate":
            return n
        if mix == "sum":
            return z * n + h_prev
        return z * n + (1 - z) * h_prev

    simple_mistakes = [
        G.Mistake("z and (1 - z) swapped", "h_t = z * n + (1 - z) * h_prev: z weighs the NEW candidate n, "
                  "so z near 0 keeps the old memory.", fn=lambda x, h, p: _simple(x, h, p, mix="swapped")),
        G.Mistake("tanh used for the update gate", "a gate is a soft switch between 0 and 1: "
                  "z = sigmoid(a_z); only the candidate n uses tanh.",
                  fn=lambda x, h, p: _simple(x, h, p, z_act=np.tanh)),
        G.Mistake("sigmoid used for the candidate", "the candidate n = tanh(a_n) must be able to be "
                  "negative, like the state it replaces; sigmoid is for the gate z.",
                  fn=lambda x, h, p: _simple(x, h, p, n_act=G.sigmoid)),
        G.Mistake("gate blocks in the wrong order", "the rows of U, W and b are stacked [z; n]: the "
                  "first H columns of a are the update gate, the last H the candidate.",
                  fn=lambda x, h, p: _simple(x, h, p, swap_blocks=True)),
        G.Mistake("forgot the bias b", "a = x @ U.T + h_prev @ W.T + b.",
                  fn=lambda x, h, p: _simple(x, h, p, bias=False)),
        G.Mistake("weights used without transposing", "U has shape (2H, D) (one row per gate unit), so a "
                  "batch of rows x (N, D) is multiplied as x @ U.T; likewise h_prev @ W.T.",
                  fn=lambda x, h, p: _simple(x, h, p, transpose=False), error=G.MATMUL_ERROR),
        G.Mistake("returned the candidate instead of the new state", "the new state mixes the candidate "
                  "with the old state: h_t = z * n + (1 - z) * h_prev.",
                  fn=lambda x, h, p: _simple(x, h, p, mix="candidate")),
        G.Mistake("old state added instead of interpolated", "the old state is weighted by (1 - z): "
                  "h_t = z * n + (1 - z) * h_prev, so the state stays bounded.",
                  fn=lambda x, h, p: _simple(x, h, p, mix="sum")),
    ]

    def simple_visible():
        rng = np.random.default_rng(51)
        return [G.core("N=2, D=3, H=4", *simple_inputs(rng, 2, 3, 4)),
                G.case("N=3, D=5, H=2", *simple_inputs(rng, 3, 5, 2))]

    def simple_hidden(rng):
        return [G.case("N=1, D=1, H=1", *simple_inputs(rng, 1, 1, 1)),
                G.case("N=1, D=4, H=3 (D != H)", *simple_inputs(rng, 1, 4, 3)),
                G.case("N=3, D=3, H=3 (D == H)", *simple_inputs(rng, 3, 3, 3)),
                G.case("N=2, D=2, H=6", *simple_inputs(rng, 2, 2, 6)),
                G.case("N=4, D=3, H=5, large weights (saturated gates)", *simple_inputs(rng, 4, 3, 5, scale=5.0))]

    # ---------------------------------------------------------------- gru_step_forward
    def gru_ref(x, h_prev, params, reset_after=False):
        return rc.gru.gru_step_forward(x, h_prev, params, reset_after=reset_after)[0]

    def _gru(x, h_prev, params, reset_after=False, *, mode=None, gate_act=G.sigmoid, swap_rz=False,
             swap_mix=False, bias=True, bhn_outside=False):
        """A GRU step with one deliberate change (``mode``), for the mistakes below."""
        U, W, b = params[:3]
        b_hn = params[3] if len(params) > 3 else None
        H = h_prev.shape[1]
        ax = x @ U.T + (b if bias else 0.0)
        ah = h_prev @ W[:2 * H].T
        ar, az = ax[:, :H] + ah[:, :H], ax[:, H:2 * H] + ah[:, H:]
        if swap_rz:
            ar, az = az, ar
        r, z = gate_act(ar), gate_act(az)
        Wn = W[2 * H:]
        after = reset_after
        if mode == "after_always":
            after = True
        if mode == "ignore_flag":
            after = False
        if mode == "no_reset":
            pre = ax[:, 2 * H:] + h_prev @ Wn.T + (b_hn if (after and b_hn is not None) else 0.0)
        elif after:
            hn = h_prev @ Wn.T
            if b_hn is not None and mode != "no_bhn" and reset_after and not bhn_outside:
                hn = hn + b_hn
            pre = ax[:, 2 * H:] + r * hn
            if b_hn is not None and reset_after and bhn_outside:
                pre = pre + b_hn
        else:
            pre = ax[:, 2 * H:] + (r * h_prev) @ Wn.T
        n = np.tanh(pre)
        if swap_mix:
            return (1 - z) * n + z * h_prev
        return z * n + (1 - z) * h_prev

    gru_mistakes = [
        G.Mistake("reset applied after the matrix product", "with reset_after=False (the notes' GRU) the "
                  "reset gate scales h_prev BEFORE W_n: n = tanh(x @ U_n.T + (r * h_prev) @ W_n.T + b_n).",
                  fn=lambda x, h, p, reset_after=False: _gru(x, h, p, reset_after, mode="after_always")),
        G.Mistake("the reset gate is not used", "r decides how much of h_prev enters the candidate: "
                  "n = tanh(x @ U_n.T + (r * h_prev) @ W_n.T + b_n).",
                  fn=lambda x, h, p, reset_after=False: _gru(x, h, p, reset_after, mode="no_reset")),
        G.Mistake("r and z blocks swapped", "the rows are stacked [r; z; n] (PyTorch's order): columns "
                  "0:H of the pre-activations are the reset gate, H:2H the update gate.",
                  fn=lambda x, h, p, reset_after=False: _gru(x, h, p, reset_after, swap_rz=True)),
        G.Mistake("z and (1 - z) swapped", "h_t = z * n + (1 - z) * h_prev: z weighs the new candidate.",
                  fn=lambda x, h, p, reset_after=False: _gru(x, h, p, reset_after, swap_mix=True)),
        G.Mistake("tanh used for the gates", "r and z are gates between 0 and 1: use sigmoid for them "
                  "and tanh only for the candidate n.",
                  fn=lambda x, h, p, reset_after=False: _gru(x, h, p, reset_after, gate_act=np.tanh)),
        G.Mistake("forgot the bias b", "each of the three blocks adds its bias: x @ U.T + b.",
                  fn=lambda x, h, p, reset_after=False: _gru(x, h, p, reset_after, bias=False)),
        G.Mistake("the reset_after argument is ignored", "with reset_after=True use PyTorch's form "
                  "n = tanh(x @ U_n.T + b_n + r * (h_prev @ W_n.T + b_hn)).",
                  fn=lambda x, h, p, reset_after=False: _gru(x, h, p, reset_after, mode="ignore_flag")),
        G.Mistake("forgot b_hn (reset_after=True)", "PyTorch's candidate has a second bias inside the reset "
                  "product: r * (h_prev @ W_n.T + b_hn).",
                  fn=lambda x, h, p, reset_after=False: _gru(x, h, p, reset_after, mode="no_bhn")),
        # pytorch/pytorch#99531: where the reset gate multiplies in PyTorch's n_t (b_hn inside r * (...))
        G.Mistake("b_hn added outside the reset product (reset_after=True)", "b_hn belongs to the "
                  "hidden side and is scaled by r with it: r * (h_prev @ W_n.T + b_hn), not "
                  "r * (h_prev @ W_n.T) + b_hn.",
                  fn=lambda x, h, p, reset_after=False: _gru(x, h, p, reset_after, bhn_outside=True)),
    ]

    def gru_visible():
        rng = np.random.default_rng(52)
        return [G.core("N=2, D=3, H=4, reset_after=False", *gru_inputs(rng, 2, 3, 4)),
                G.case("N=3, D=2, H=3, reset_after=True", *gru_inputs(rng, 3, 2, 3, reset_after=True),
                       reset_after=True)]

    def gru_hidden(rng):
        return [G.case("N=1, D=1, H=1", *gru_inputs(rng, 1, 1, 1)),
                G.case("N=1, D=5, H=3 (D != H)", *gru_inputs(rng, 1, 5, 3)),
                G.case("N=4, D=3, H=3 (D == H)", *gru_inputs(rng, 4, 3, 3)),
                G.case("N=2, D=2, H=5, large weights", *gru_inputs(rng, 2, 2, 5, scale=4.0)),
                G.case("N=1, D=4, H=2, reset_after=True", *gru_inputs(rng, 1, 4, 2, reset_after=True),
                       reset_after=True),
                G.case("N=3, D=3, H=4, reset_after=True", *gru_inputs(rng, 3, 3, 4, reset_after=True),
                       reset_after=True)]

    # ---------------------------------------------------------------- simple_gru_step_backward
    def sbwd_case(rng, label, N, D, H, scale=0.5):
        x, h_prev, params = simple_inputs(rng, N, D, H, scale)
        _, cache = rc.gru.simple_gru_step_forward(x, h_prev, params)
        return G.case(label, rng.normal(size=(N, H)), cache)

    def sbwd_ref(dh_next, cache):
        return rc.gru.simple_gru_step_backward(dh_next, cache)

    def _sbwd(dh, cache, *, direct=True, through_gates=True, dsig=True, dtanh="right", sign=1.0,
              dU_T=False, db_axis=0, db_sum=True, swap_dUdW=False, direct_gate="1-z"):
        x, h_prev, z, n, (U, W, _) = cache
        dz = sign * dh * (n - h_prev)
        daz = dz * z * (1 - z) if dsig else dz
        dn = dh * z
        dan = dn * (1 - n * n) if dtanh == "right" else (dn if dtanh == "none" else dn * (1 - n))
        da = np.concatenate([daz, dan], axis=1)
        dh_prev = np.zeros_like(h_prev)
        if direct:
            dh_prev = dh_prev + dh * ((1 - z) if direct_gate == "1-z" else z)
        if through_gates:
            dh_prev = dh_prev + da @ W
        dU = x.T @ da if dU_T else da.T @ x
        dW = da.T @ h_prev
        if swap_dUdW:
            dU, dW = da.T @ h_prev, da.T @ x
        return (da @ U, dh_prev, (dU, dW, da.sum(axis=db_axis) if db_sum else da))

    sbwd_mistakes = [
        G.Mistake("dh_prev misses the direct path", "h_t = z * n + (1 - z) * h_prev depends on h_prev "
                  "directly: add dh_next * (1 - z) to what comes back through W.",
                  fn=lambda dh, c: _sbwd(dh, c, direct=False)),
        G.Mistake("dh_prev misses the path through the gates", "z and n both depend on h_prev through W: "
                  "add da @ W (da = the pre-activation gradients [da_z, da_n]) to dh_next * (1 - z).",
                  fn=lambda dh, c: _sbwd(dh, c, through_gates=False)),
        G.Mistake("sigmoid derivative missing", "z = sigmoid(a_z), so da_z = dz * z * (1 - z).",
                  fn=lambda dh, c: _sbwd(dh, c, dsig=False)),
        G.Mistake("tanh derivative missing", "n = tanh(a_n), so da_n = dn * (1 - n**2).",
                  fn=lambda dh, c: _sbwd(dh, c, dtanh="none")),
        G.Mistake("wrong tanh derivative (1 - n)", "d tanh(a)/da = 1 - tanh(a)**2: da_n = dn * (1 - n**2).",
                  fn=lambda dh, c: _sbwd(dh, c, dtanh="linear")),
        G.Mistake("wrong sign in the update-gate gradient", "h_t = h_prev + z * (n - h_prev), so "
                  "dz = dh_next * (n - h_prev), not (h_prev - n).",
                  fn=lambda dh, c: _sbwd(dh, c, sign=-1.0)),
        G.Mistake("dU transposed", "dU has the shape of U, (2H, D): dU = da.T @ x.",
                  fn=lambda dh, c: _sbwd(dh, c, dU_T=True)),
        G.Mistake("db summed over the wrong axis", "the bias is shared by the N examples: db = da.sum(axis=0), "
                  "shape (2H,).", fn=lambda dh, c: _sbwd(dh, c, db_axis=1)),
        G.Mistake("db not summed over the batch", "b is added to every example's row, so its "
                  "gradient is the sum of the rows: db = da.sum(axis=0), shape (2H,), not da.",
                  fn=lambda dh, c: _sbwd(dh, c, db_sum=False)),
        G.Mistake("dU and dW swapped", "U multiplies the input and W the previous state: "
                  "dU = da.T @ x (2H, D) and dW = da.T @ h_prev (2H, H).",
                  fn=lambda dh, c: _sbwd(dh, c, swap_dUdW=True)),
        # PaddlePaddle/Paddle#5493: gru_unit_op and gru_op weigh h_prev by (1 - u) and by u
        G.Mistake("the direct path weighted by z instead of (1 - z)", "in this course h_t = z * n + "
                  "(1 - z) * h_prev, so the direct part of dh_prev is dh_next * (1 - z).",
                  fn=lambda dh, c: _sbwd(dh, c, direct_gate="z")),
        G.Mistake("weights transposed in dx or dh_prev", "da has shape (N, 2H) and U (2H, D), "
                  "W (2H, H): dx = da @ U and the gate part of dh_prev is da @ W (no .T).",
                  error=G.MATMUL_ERROR),
    ]

    def sbwd_gradcheck(student_fn, c, out):
        dh, cache = c.args
        x, h_prev, _, _, p = cache
        if x.size + h_prev.size > 16 or np.abs(p.U).max() > 2:
            return None

        def loss(x, h_prev, U, W, b):
            h = rc.gru.simple_gru_step_forward(x, h_prev, SimpleGRUParams(U, W, b))[0]
            return float((h * dh).sum())

        dx, dh_prev, dparams = out
        return G.gradient_check(loss, {"x": x, "h_prev": h_prev, "U": p.U, "W": p.W, "b": p.b},
                                {"x": dx, "h_prev": dh_prev, "U": dparams[0], "W": dparams[1],
                                 "b": dparams[2]})

    def sbwd_visible():
        rng = np.random.default_rng(53)
        return [G.as_core(sbwd_case(rng, "N=2, D=3, H=4", 2, 3, 4)),
                sbwd_case(rng, "N=3, D=2, H=2 (with a gradient check)", 3, 2, 2)]

    def sbwd_hidden(rng):
        return [sbwd_case(rng, "N=1, D=1, H=1", 1, 1, 1),
                sbwd_case(rng, "N=1, D=4, H=3 (D != H)", 1, 4, 3),
                sbwd_case(rng, "N=2, D=3, H=3 (D == H)", 2, 3, 3),
                sbwd_case(rng, "N=4, D=2, H=5", 4, 2, 5),
                sbwd_case(rng, "N=3, D=3, H=2, large weights", 3, 3, 2, scale=4.0)]

    return {
        "simple_gru_step_forward": G.Spec(simple_ref, simple_visible, simple_hidden, simple_mistakes),
        "gru_step_forward": G.Spec(gru_ref, gru_visible, gru_hidden, gru_mistakes),
        "simple_gru_step_backward": G.Spec(sbwd_ref, sbwd_visible, sbwd_hidden, sbwd_mistakes,
                                           extra=[sbwd_gradcheck],
                                           shared="the gradients of the gates' pre-activations (da_z, da_n), "
                                                  "which every gradient is computed from"),
    }
