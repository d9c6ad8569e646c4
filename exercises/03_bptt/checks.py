"""Tests of assignment 03_bptt, read by ``rnncourse.grading`` (see its docstring).

``build(rc, G)`` returns one ``G.Spec`` per graded function: references from ``rc.rnn`` and
``rc.gradcheck``, seeded cases (N=1, T=1, D != H, relu), the usual BPTT mistakes, and for the
backward functions a finite-difference check of the gradients.  Only NumPy is imported here.
"""
import numpy as np

#: The graded functions in notebook order: (points of the visible cell, of the hidden cell).
#: The notebook's test cells are generated from this table (rnncourse.grading.cells).
POINTS = {
    "rnn_step_backward": (2, 3),
    "rnn_backward": (3, 4),
    "numerical_gradient": (2, 2),
}


def build(rc, G):
    RNNParams = rc.rnn.RNNParams
    StepGrads = rc.rnn.StepGrads
    SequenceGrads = rc.rnn.SequenceGrads

    def params_of(rng, D, H, scale=0.5):
        return G.random_params(rng, RNNParams, (H, D), (H, H), (H,), scale=scale)

    def fprime_of(h, activation, form="right"):
        """The activation's derivative from its output h; ``form``: how students get tanh's wrong."""
        if activation != "tanh":
            return (h > 0).astype(np.float64)
        return {"right": 1.0 - h * h, "one_minus_h": 1.0 - h, "tanh_again": 1.0 - np.tanh(h) ** 2}[form]

    # ---------------------------------------------------------------- rnn_step_backward
    def step_case(label, rng, N, D, H, activation="tanh", scale=0.5):
        x = rng.normal(size=(N, D))
        h_prev = rng.normal(size=(N, H))
        _, cache = rc.rnn.rnn_step_forward(x, h_prev, params_of(rng, D, H, scale), activation)
        return G.case(label, rng.normal(size=(N, H)), cache)

    def step_ref(dh_next, cache):
        return rc.rnn.rnn_step_backward(dh_next, cache)

    def step_variant(dh_next, cache, *, fprime=True, fprime_from="next", W_T=False, dW_h="prev",
                     sum_db=True, activation=None, form="right", relu_prime=True, layout="course"):
        x, h_prev, h_next, (U, W, b), act = cache
        act = activation or act
        # fprime=False: tanh's derivative left out (relu's is another mistake, relu_prime=False)
        if (fprime or act != "tanh") and (act == "tanh" or relu_prime):
            dnet = dh_next * fprime_of(h_next if fprime_from == "next" else h_prev, act, form)
        else:
            dnet = dh_next
        dx = dnet @ U
        dh_prev = dnet @ (W.T if W_T else W)
        dW = dnet.T @ (h_prev if dW_h == "prev" else h_next)
        dU = dnet.T @ x
        if layout == "cs231n":           # x.T @ dnet: right for Wx of shape (D, H), not for U (H, D)
            dU, dW = x.T @ dnet, (h_prev if dW_h == "prev" else h_next).T @ dnet
        db = dnet.sum(axis=0) if sum_db else dnet
        return StepGrads(dx, dh_prev, RNNParams(dU, dW, db))

    step_mistakes = [
        G.Mistake("forgot the derivative of tanh", "h_next = tanh(net), so dnet = dh_next * (1 - h_next**2) "
                  "comes first; every other gradient is computed from dnet.",
                  fn=lambda dh, c: step_variant(dh, c, fprime=False)),
        G.Mistake("tanh' computed from h_prev", "the derivative belongs to the output of this step's "
                  "tanh: 1 - h_next**2, not 1 - h_prev**2.",
                  fn=lambda dh, c: step_variant(dh, c, fprime_from="prev")),
        G.Mistake("W transposed in dh_prev", "net = x @ U.T + h_prev @ W.T + b, so dh_prev = dnet @ W "
                  "(the transpose of the transpose).", fn=lambda dh, c: step_variant(dh, c, W_T=True)),
        G.Mistake("dW uses h_next instead of h_prev (off by one)", "W multiplies h_prev in this step: "
                  "dW = dnet.T @ h_prev.", fn=lambda dh, c: step_variant(dh, c, dW_h="next")),
        G.Mistake("db not summed over the batch", "b is added to every row of the batch, so its "
                  "gradient is the sum of dnet over axis 0: shape (H,).",
                  fn=lambda dh, c: step_variant(dh, c, sum_db=False)),
        G.Mistake("the activation is ignored (tanh' used for relu)", "for relu the derivative is "
                  "1 where h_next > 0 and 0 elsewhere; read cache.activation.",
                  fn=lambda dh, c: step_variant(dh, c, activation="tanh")),
        G.Mistake("tanh' written as 1 - h", "h_next is already tanh(net), and tanh'(net) = 1 - tanh(net)**2 "
                  "= 1 - h_next**2: square it.", fn=lambda dh, c: step_variant(dh, c, form="one_minus_h")),
        G.Mistake("tanh applied again to h_next in the derivative", "h_next is already tanh(net): "
                  "1 - np.tanh(h_next)**2 takes tanh twice; use 1 - h_next**2.",
                  fn=lambda dh, c: step_variant(dh, c, form="tanh_again")),
        # the layout of CS231n's rnn_layers.py (Wx of shape (D, H)) and of many NumPy RNNs, e.g.
        # github.com/retrieva/deep-learning-from-scratch-2 python/common/time_layers.py:
        # dWx = np.dot(x.T, dt); this course's U is (H, D)
        G.Mistake("weight gradients transposed (x.T @ dnet)", "U has shape (H, D) and W (H, H) "
                  "(net = x @ U.T + h_prev @ W.T), so dU = dnet.T @ x and dW = dnet.T @ h_prev have "
                  "their shapes; x.T @ dnet is the transpose (the layout of Wx (D, H) elsewhere).",
                  fn=lambda dh, c: step_variant(dh, c, layout="cs231n")),
        G.Mistake("the derivative of relu is missing (h_next >= 0 is always true)", "relu's output "
                  "is never negative, so h_next >= 0 holds everywhere; the derivative is 1 where "
                  "h_next > 0 (strictly) and 0 elsewhere.",
                  fn=lambda dh, c: step_variant(dh, c, relu_prime=False)),
    ]

    def step_visible():
        rng = np.random.default_rng(31)
        return [G.as_core(step_case("N=2, D=3, H=4, tanh", rng, 2, 3, 4)),
                step_case("N=3, D=2, H=2, relu", rng, 3, 2, 2, "relu")]

    def step_hidden(rng):
        return [step_case("N=1, D=1, H=1", rng, 1, 1, 1),
                step_case("N=1, D=5, H=3 (D != H)", rng, 1, 5, 3),
                step_case("N=4, D=3, H=3 (D == H)", rng, 4, 3, 3),
                step_case("N=2, D=2, H=5, relu", rng, 2, 2, 5, "relu"),
                step_case("N=3, D=4, H=2, large weights (saturated tanh)", rng, 3, 4, 2, scale=3.0)]

    def step_fd(student_fn, c, out):
        dh_next, cache = c.args
        x, h_prev, _, (U, W, b), act = cache
        if act != "tanh":            # relu has kinks: finite differences are unreliable there
            return None

        def loss(x=x, h_prev=h_prev, U=U, W=W, b=b):
            return float(np.sum(rc.rnn.rnn_step_forward(x, h_prev, RNNParams(U, W, b), act)[0] * dh_next))

        return fd_report(loss, dict(x=x, h_prev=h_prev, U=U, W=W, b=b),
                         dict(x=out[0], h_prev=out[1], U=out[2][0], W=out[2][1], b=out[2][2]))

    # ---------------------------------------------------------------- rnn_backward
    def seq_case(label, rng, N, T, D, H, activation="tanh", scale=0.5, h0=True):
        x = rng.normal(size=(N, T, D))
        h0v = rng.normal(size=(N, H)) if h0 else None
        _, cache = rc.rnn.rnn_forward(x, h0v, params_of(rng, D, H, scale), activation)
        return G.case(label, rng.normal(size=(N, T, H)), cache)

    def seq_ref(dh, cache):
        return rc.rnn.rnn_backward(dh, cache)

    def seq_variant(dh, cache, *, recurrent=True, dW_h="prev", fprime=True, W_T=False, sum_db=True,
                    forward_loop=False, drop_dh0=False, activation=None, form="right", wrap_h0=False,
                    last_step_only=False, time_major_dx=False):
        x_tm, h0, h_tm, (U, W, b), act = cache
        act = activation or act
        T, N, H = h_tm.shape
        dnet = np.zeros((T, N, H))
        carry = np.zeros((N, H))
        order = range(T) if forward_loop else range(T - 1, -1, -1)
        for t in order:
            d = dh[:, t] + (carry if recurrent else 0.0)
            dnet[t] = d * fprime_of(h_tm[t], act, form) if fprime else d
            carry = dnet[t] @ (W.T if W_T else W)
        # wrap_h0: h_tm[t - 1] at t = 0 is h_tm[-1], the last state, where h0 was meant
        h_before = np.concatenate([(h_tm[-1] if wrap_h0 else h0)[None], h_tm[:-1]], axis=0)
        h_used = h_before if dW_h == "prev" else h_tm
        if last_step_only:               # dU = ... instead of dU += ...: the last step run, t = 0
            dnet, x_tm, h_used = dnet[:1], x_tm[:1], h_used[:1]
        dU = np.einsum("tnh,tnd->hd", dnet, x_tm)
        dW = np.einsum("tnh,tnk->hk", dnet, h_used)
        db = dnet.sum(axis=(0, 1)) if sum_db else dnet.sum(axis=0)
        dx = seq_dx = (dnet @ U).transpose(1, 0, 2)
        if last_step_only:
            dx = seq_dx = seq_variant(dh, cache).dx
        if time_major_dx:
            dx = seq_dx.transpose(1, 0, 2)
        # the forward loop ends at t = T - 1: what it returns as dh0 is that step's dh_prev
        dh0 = np.zeros((N, H)) if drop_dh0 else (carry if forward_loop else dnet[0] @ (W.T if W_T else W))
        return SequenceGrads(dx, dh0, RNNParams(dU, dW, db))

    def seq_batch_first_cache(dh, cache):   # x_tm[:, t], h_tm[:, t]: the cache read as batch-first
        x_tm, h0, h_tm, params, act = cache
        T, N, H = h_tm.shape
        dx = np.zeros((N, T, x_tm.shape[2]))
        dU, dW, db = np.zeros_like(params.U), np.zeros_like(params.W), np.zeros_like(params.b)
        dh_prev = np.zeros((N, H))
        for t in range(T - 1, -1, -1):
            h_before = h0 if t == 0 else h_tm[:, t - 1]
            g = step_ref(dh[:, t] + dh_prev,
                         rc.rnn.RNNStepCache(x_tm[:, t], h_before, h_tm[:, t], params, act))
            dx[:, t] = g.dx
            dh_prev = g.dh_prev
            dU, dW, db = dU + g.dparams.U, dW + g.dparams.W, db + g.dparams.b
        return SequenceGrads(dx, dh_prev, RNNParams(dU, dW, db))

    seq_mistakes = [
        G.Mistake("the gradient from the next step is not added", "the state h_t feeds both the output "
                  "at step t and the next step: dL/dh_t = dh[:, t] + (the dh_prev returned by step t+1). "
                  "Carry it backwards through the loop.", fn=lambda dh, c: seq_variant(dh, c, recurrent=False)),
        G.Mistake("dW uses h_t instead of h_{t-1} (off by one)", "at step t, W multiplies the PREVIOUS "
                  "state: h_{t-1} (h0 for the first step), not h_t.", fn=lambda dh, c: seq_variant(dh, c, dW_h="next")),
        G.Mistake("forgot the derivative of tanh", "multiply by 1 - h_t**2 (relu: h_t > 0) before "
                  "computing any gradient of step t.", fn=lambda dh, c: seq_variant(dh, c, fprime=False)),
        G.Mistake("W transposed in the recurrence", "dh_prev = dnet_t @ W, since net_t = ... + h_{t-1} @ W.T.",
                  fn=lambda dh, c: seq_variant(dh, c, W_T=True)),
        G.Mistake("db not summed over the batch", "b is shared by every sequence and step: sum dnet over "
                  "the batch AND over time, shape (H,).", fn=lambda dh, c: seq_variant(dh, c, sum_db=False)),
        G.Mistake("the loop runs forwards in time", "backpropagation through time starts at the LAST step "
                  "(t = T-1) and walks back to t = 0, carrying the gradient.",
                  fn=lambda dh, c: seq_variant(dh, c, forward_loop=True)),
        G.Mistake("dh0 is zeros", "return the gradient that flows out of the first step: dnet_0 @ W.",
                  fn=lambda dh, c: seq_variant(dh, c, drop_dh0=True)),
        G.Mistake("the activation is ignored (tanh' used for relu)", "read cache.activation: for relu "
                  "the derivative is 1 where h_t > 0 and 0 elsewhere.",
                  fn=lambda dh, c: seq_variant(dh, c, activation="tanh")),
        G.Mistake("tanh' written as 1 - h", "h_t is already tanh(net_t): its derivative is 1 - h_t**2.",
                  fn=lambda dh, c: seq_variant(dh, c, form="one_minus_h")),
        G.Mistake("tanh applied again to h_t in the derivative", "h_t is already tanh(net_t): "
                  "1 - np.tanh(h_t)**2 takes tanh twice; use 1 - h_t**2.",
                  fn=lambda dh, c: seq_variant(dh, c, form="tanh_again")),
        # D_Whh += np.outer(dt, h[t-1]) for t down to 0: https://github.com/qixianbiao/RNN/issues/2
        G.Mistake("h_tm[t - 1] at t = 0 is the last state, not h0", "Python reads index -1 as the "
                  "LAST entry: the first step's previous state is h0 (h_before = h0 if t == 0 else "
                  "h_tm[t - 1]).", fn=lambda dh, c: seq_variant(dh, c, wrap_h0=True)),
        G.Mistake("dx returned time-major (T, N, D)", "the cache is time-major but dx is returned "
                  "batch-first like x: shape (N, T, D), dx[:, t] = the step's dx.",
                  fn=lambda dh, c: seq_variant(dh, c, time_major_dx=True)),
        G.Mistake("dU, dW, db overwritten at every step instead of summed", "U, W and b are shared "
                  "by all T steps: accumulate, dU += the step's dU (likewise dW, db), from zeros.",
                  fn=lambda dh, c: seq_variant(dh, c, last_step_only=True)),
        G.Mistake("the time-major cache indexed as batch-first (x_tm[:, t])", "the cache holds "
                  "x_tm (T, N, D) and h_tm (T, N, H), time first: step t is x_tm[t] and h_tm[t] "
                  "(while dh and the returned dx are batch-first: dh[:, t]).",
                  fn=seq_batch_first_cache),
    ]

    def seq_visible():
        rng = np.random.default_rng(32)
        return [G.as_core(seq_case("N=2, T=3, D=4, H=5", rng, 2, 3, 4, 5)),
                seq_case("N=2, T=4, D=3, H=3, relu", rng, 2, 4, 3, 3, "relu")]

    def seq_hidden(rng):
        return [seq_case("N=1, T=1, D=1, H=1", rng, 1, 1, 1, 1),
                seq_case("N=1, T=5, D=2, H=3 (D != H)", rng, 1, 5, 2, 3),
                seq_case("N=3, T=1, D=4, H=2 (T=1)", rng, 3, 1, 4, 2),
                seq_case("N=2, T=6, D=3, H=4, relu", rng, 2, 6, 3, 4, "relu"),
                seq_case("N=3, T=4, D=2, H=2, h0 = zeros", rng, 3, 4, 2, 2, h0=False),
                seq_case("N=2, T=8, D=3, H=3, large weights", rng, 2, 8, 3, 3, scale=1.5)]

    def seq_fd(student_fn, c, out):
        dh, cache = c.args
        x_tm, h0, _, (U, W, b), act = cache
        if act != "tanh":
            return None
        x = x_tm.transpose(1, 0, 2)

        def loss(x=x, h0=h0, U=U, W=W, b=b):
            return float(np.sum(rc.rnn.rnn_forward(x, h0, RNNParams(U, W, b), act)[0] * dh))

        return fd_report(loss, dict(x=x, h0=h0, U=U, W=W, b=b),
                         dict(x=out[0], h0=out[1], U=out[2][0], W=out[2][1], b=out[2][2]))

    def fd_report(loss, inputs, grads, tol=1e-6):
        """None, or which gradient disagrees with central differences (relative error > tol)."""
        for name, analytic in grads.items():
            base = inputs[name]
            num = rc.gradcheck.numerical_gradient(lambda v: loss(**{**inputs, name: v}), base)
            err = rc.gradcheck.relative_error(np.asarray(analytic, dtype=np.float64), num)
            if not err <= tol:
                return (f"gradient check: d{name} differs from finite differences "
                        f"(relative error {err:.3g}, allowed {tol:g})")
        return None

    # ---------------------------------------------------------------- numerical_gradient
    A = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]])

    def cube_sum(v):
        return float(np.sum(v ** 3))

    def tanh_layer(v):
        return float(np.sum(np.tanh(v @ A.T) * np.array([1.0, -2.0])))

    def coupled(v):
        return float(np.sum(v) ** 2 + np.sum(np.sin(v) * np.arange(v.size).reshape(v.shape)))

    def exp_norm(v):
        return float(np.log(np.sum(np.exp(v))))

    def ng_ref(f, x, eps=1e-6):
        return rc.gradcheck.numerical_gradient(f, x, eps)

    def ng_forward(f, x, eps=1e-6):
        x = np.array(x, dtype=np.float64)
        g = np.zeros_like(x)
        f0 = f(x.copy())
        for i in np.ndindex(x.shape):
            xp = x.copy()
            xp[i] += eps
            g[i] = (f(xp) - f0) / eps
        return g

    def ng_no_two(f, x, eps=1e-6):
        return 2.0 * ng_ref(f, x, eps)

    def ng_all_at_once(f, x, eps=1e-6):
        x = np.array(x, dtype=np.float64)
        return np.full(x.shape, (f(x + eps) - f(x - eps)) / (2 * eps))

    def ng_not_restored(f, x, eps=1e-6):
        w = np.array(x, dtype=np.float64)
        g = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            w[i] += eps
            fp = f(w.copy())
            w[i] -= 2 * eps
            fm = f(w.copy())
            g[i] = (fp - fm) / (2 * eps)
        return g

    def ng_half_forward(f, x, eps=1e-6):   # x[i] -= eps after x[i] += eps: back at x, not x - eps
        return ng_forward(f, x, eps) / 2.0

    def ng_first_axis(f, x, eps=1e-6):     # for i in range(len(x)): x[i] is a row (a view) of x
        x = np.array(x, dtype=np.float64)
        grad = np.zeros_like(x)
        for i in range(len(x)):
            old = x[i]
            x[i] = old + eps
            f_plus = f(x.copy())
            x[i] = old - eps
            f_minus = f(x.copy())
            x[i] = old
            grad[i] = (f_plus - f_minus) / (2 * eps)
        return grad

    ng_mistakes = [
        G.Mistake("forward difference (f(x + eps) - f(x)) / eps", "use the CENTRAL difference "
                  "(f(x + eps e_i) - f(x - eps e_i)) / (2 eps): its error is of order eps**2 instead of eps.",
                  fn=ng_forward),
        G.Mistake("divided by eps instead of 2 * eps", "the two points x + eps and x - eps are 2 eps apart.",
                  fn=ng_no_two),
        G.Mistake("every entry perturbed at once", "perturb ONE entry at a time (x[i] + eps, the others "
                  "unchanged) to get the partial derivative for that entry.", fn=ng_all_at_once),
        G.Mistake("the perturbed entry is not put back", "after evaluating f(x - eps e_i), restore x[i] "
                  "to its original value before moving to the next entry.", fn=ng_not_restored),
        G.Mistake("f_minus evaluated at x itself (x[i] -= eps undid the + eps)", "after x[i] += eps, "
                  "x[i] -= eps brings x back to the original point; the second point is x - eps: set "
                  "x[i] = old - eps (old: the saved value).", fn=ng_half_forward),
        G.Mistake("the loop runs over the first axis only (range(len(x)))", "for x of several axes, "
                  "x[i] is a whole row (and old = x[i] a view that changes with it): visit every "
                  "entry with for i in np.ndindex(x.shape), or np.nditer's multi_index.",
                  fn=ng_first_axis),
    ]

    def ng_visible():
        rng = np.random.default_rng(33)
        return [G.core("f = sum(x**3), x of shape (3,)", cube_sum, rng.normal(size=3)),
                G.case("f = a tanh layer, x of shape (4, 3)", tanh_layer, rng.normal(size=(4, 3)))]

    def ng_hidden(rng):
        return [G.case("one entry, x of shape (1,)", cube_sum, rng.normal(size=1)),
                G.case("entries coupled through f, x (2, 3)", coupled, rng.normal(size=(2, 3))),
                G.case("log-sum-exp, eps=1e-4", exp_norm, rng.normal(size=5), 1e-4),
                G.case("x of shape (2, 2, 2), eps by keyword", cube_sum, rng.normal(size=(2, 2, 2)), eps=1e-5),
                G.case("tanh layer, x (1, 3)", tanh_layer, rng.normal(size=(1, 3))),
                # eps=0.1: the central difference of x**3 is 3 x**2 + eps**2, so a step size
                # other than the eps given is seen (with eps <= 1e-4 it is not)
                G.case("sum(x**3) with a large step, eps=0.1", cube_sum, rng.normal(size=4), eps=0.1)]

    return {
        "rnn_step_backward": G.Spec(reference=step_ref, visible=step_visible, hidden=step_hidden,
                                    mistakes=step_mistakes, extra=(step_fd,),
                                    shared="dnet = (dh_next) * f'(net), the gradient before the activation "
                                           "(for tanh, 1 - h_next**2 with h_next from the cache), which "
                                           "every gradient is computed from"),
        "rnn_backward": G.Spec(reference=seq_ref, visible=seq_visible, hidden=seq_hidden,
                               mistakes=seq_mistakes, extra=(seq_fd,), depends=("rnn_step_backward",)),
        "numerical_gradient": G.Spec(reference=ng_ref, visible=ng_visible, hidden=ng_hidden,
                                     mistakes=ng_mistakes, rtol=1e-7, atol=1e-8),
    }
