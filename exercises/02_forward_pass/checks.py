"""Tests of assignment 02_forward_pass, read by ``rnncourse.grading`` (see its docstring).

``build(rc, G)`` returns one ``G.Spec`` per graded function: the reference (from ``rc``, a
private copy of rnncourse), visible and hidden test cases, and the common mistakes that the
feedback recognises.  Only NumPy is imported here; everything else comes through ``rc``/``G``.
"""
import numpy as np

#: The graded functions in notebook order: (points of the visible cell, of the hidden cell).
#: The notebook's test cells are generated from this table (rnncourse.grading.cells).
POINTS = {
    "rnn_step_forward": (2, 3),
    "rnn_forward": (2, 3),
    "output_forward": (1, 2),
    "softmax": (1, 2),
    "softmax_cross_entropy": (2, 3),
}


def build(rc, G):
    RNNParams = rc.rnn.RNNParams
    OutputParams = rc.output.OutputParams

    def rnn_inputs(rng, N, D, H, scale=0.5):
        x = rng.normal(size=(N, D))
        h_prev = rng.normal(size=(N, H))
        return x, h_prev, G.random_params(rng, RNNParams, (H, D), (H, H), (H,), scale=scale)

    def seq_inputs(rng, N, T, D, H, scale=0.5):
        x = rng.normal(size=(N, T, D))
        h0 = rng.normal(size=(N, H))
        return x, h0, G.random_params(rng, RNNParams, (H, D), (H, H), (H,), scale=scale)

    def act(name):
        return np.tanh if name == "tanh" else (lambda a: np.maximum(a, 0.0))

    # ---------------------------------------------------------------- rnn_step_forward
    def step_ref(x, h_prev, params, activation="tanh"):
        return rc.rnn.rnn_step_forward(x, h_prev, params, activation)[0]

    def step_no_bias(x, h_prev, params, activation="tanh"):
        return act(activation)(x @ params.U.T + h_prev @ params.W.T)

    def step_not_transposed(x, h_prev, params, activation="tanh"):
        return act(activation)(x @ params.U + h_prev @ params.W + params.b)

    def step_swapped(x, h_prev, params, activation="tanh"):
        return act(activation)(x @ params.W.T + h_prev @ params.U.T + params.b)

    def step_sigmoid(x, h_prev, params, activation="tanh"):
        return G.sigmoid(x @ params.U.T + h_prev @ params.W.T + params.b)

    def step_always_tanh(x, h_prev, params, activation="tanh"):
        return np.tanh(x @ params.U.T + h_prev @ params.W.T + params.b)

    def step_linear(x, h_prev, params, activation="tanh"):
        return x @ params.U.T + h_prev @ params.W.T + params.b

    def step_no_recurrence(x, h_prev, params, activation="tanh"):
        return act(activation)(x @ params.U.T + params.b)

    def step_np_max(x, h_prev, params, activation="tanh"):   # np.max(net, 0): a maximum over axis 0
        net = x @ params.U.T + h_prev @ params.W.T + params.b
        return np.max(net, 0) if activation == "relu" else np.tanh(net)

    step_mistakes = [
        G.Mistake("forgot the bias b", "net = x @ U.T + h_prev @ W.T + b: every hidden unit adds its bias.",
                  fn=step_no_bias),
        G.Mistake("weights used without transposing", "U has shape (H, D) (one row per hidden unit), "
                  "so a batch of rows x (N, D) is multiplied as x @ U.T; likewise h_prev @ W.T.",
                  fn=step_not_transposed, error=G.MATMUL_ERROR),
        G.Mistake("U and W swapped", "U multiplies the input x, W multiplies the previous state h_prev.",
                  fn=step_swapped),
        G.Mistake("sigmoid instead of tanh", "the vanilla RNN's hidden state uses tanh (or relu when "
                  "activation='relu'); sigmoid is for gates.", fn=step_sigmoid),
        G.Mistake("the activation argument is ignored", "apply relu, max(net, 0), when "
                  "activation == 'relu' and tanh otherwise.", fn=step_always_tanh),
        G.Mistake("no activation function", "h_next = tanh(net), not net itself.", fn=step_linear),
        G.Mistake("h_prev is not used", "the new state depends on the previous one: add h_prev @ W.T.",
                  fn=step_no_recurrence),
        # np.max(net, 0) reduces axis 0, np.maximum(net, 0) is element-wise: the confusion of
        # https://stackoverflow.com/questions/33569668 ("numpy max vs amax vs maximum")
        G.Mistake("np.max instead of np.maximum for relu", "np.max(net, 0) is the largest entry of "
                  "each column (it drops axis 0); relu is the element-wise np.maximum(net, 0).",
                  fn=step_np_max),
    ]

    def step_visible():
        rng = np.random.default_rng(2)
        return [G.core("N=2, D=3, H=4, tanh", *rnn_inputs(rng, 2, 3, 4)),
                G.case("N=3, D=4, H=4, relu", *rnn_inputs(rng, 3, 4, 4), activation="relu")]

    def step_hidden(rng):
        return [G.case("N=1, D=1, H=1", *rnn_inputs(rng, 1, 1, 1)),
                G.case("N=1, D=5, H=3 (D != H)", *rnn_inputs(rng, 1, 5, 3)),
                G.case("N=4, D=3, H=3 (D == H)", *rnn_inputs(rng, 4, 3, 3)),
                G.case("N=2, D=2, H=6, relu", *rnn_inputs(rng, 2, 2, 6), activation="relu"),
                G.case("N=3, D=4, H=5, large weights (saturation)", *rnn_inputs(rng, 3, 4, 5, scale=5.0)),
                G.case("N=2, D=6, H=2, activation passed by keyword", *rnn_inputs(rng, 2, 6, 2),
                       activation="tanh")]

    # ---------------------------------------------------------------- rnn_forward
    def fwd_ref(x, h0, params, activation="tanh"):
        return rc.rnn.rnn_forward(x, h0, params, activation)[0]

    def _loop(x, h0, params, activation, step, keep="new", carry=True, time_axis=1):
        N = x.shape[0]
        H = params.W.shape[0]
        h_prev = np.zeros((N, H)) if h0 is None else h0
        first = h_prev
        out = []
        T = x.shape[time_axis]
        for t in range(T):
            xt = x[:, t] if time_axis == 1 else x[t]
            h_new = step(xt, h_prev if carry else first, params, activation)
            out.append(h_prev if keep == "old" else h_new)
            h_prev = h_new
        return np.stack(out, axis=1)

    def fwd_ignore_h0(x, h0, params, activation="tanh"):
        return _loop(x, None, params, activation, step_ref)

    def fwd_off_by_one(x, h0, params, activation="tanh"):
        return _loop(x, h0, params, activation, step_ref, keep="old")

    def fwd_no_carry(x, h0, params, activation="tanh"):
        return _loop(x, h0, params, activation, step_ref, carry=False)

    def fwd_time_major(x, h0, params, activation="tanh"):
        return fwd_ref(x, h0, params, activation).transpose(1, 0, 2)

    def fwd_wrong_axis(x, h0, params, activation="tanh"):
        return _loop(x, h0, params, activation, step_ref, time_axis=0)

    def fwd_like_x(x, h0, params, activation="tanh"):    # h = np.zeros_like(x): fails unless D == H
        h_prev = np.zeros((x.shape[0], params.W.shape[0])) if h0 is None else h0
        h = np.zeros_like(x)
        for t in range(x.shape[1]):
            h_prev = step_ref(x[:, t], h_prev, params, activation)
            h[:, t] = h_prev
        return h

    def fwd_no_bias(x, h0, params, activation="tanh"):
        return _loop(x, h0, params, activation, step_no_bias)

    def fwd_always_tanh(x, h0, params, activation="tanh"):
        return _loop(x, h0, params, "tanh", step_ref)

    fwd_mistakes = [
        G.Mistake("h0 is ignored (the loop starts from zeros)", "start the recurrence from the h0 you "
                  "are given; only h0=None means zeros.", fn=fwd_ignore_h0),
        G.Mistake("off by one: h[:, t] holds the state from before step t",
                  "store the NEW state h_t after computing it from x[:, t] and h_{t-1}.", fn=fwd_off_by_one),
        G.Mistake("the state is not carried from step to step", "after each step, the new state "
                  "becomes h_prev for the next step.", fn=fwd_no_carry),
        G.Mistake("time-major output (T, N, H)", "stack the states along axis 1: h has shape (N, T, H), "
                  "e.g. np.stack(states, axis=1) or fill h[:, t] = h_t.", fn=fwd_time_major),
        G.Mistake("x indexed along the wrong axis", "time is axis 1: the inputs of step t are x[:, t], "
                  "not x[t].", fn=fwd_wrong_axis),
        G.Mistake("forgot the bias b", "net = x_t @ U.T + h_prev @ W.T + b.", fn=fwd_no_bias),
        G.Mistake("the activation argument is not passed on", "pass activation to every step.",
                  fn=fwd_always_tanh),
        G.Mistake("the states are stored in an array shaped like x", "h holds H numbers per step, "
                  "x holds D: allocate h = np.zeros((N, T, H)), not np.zeros_like(x).", fn=fwd_like_x),
    ]

    def fwd_visible():
        rng = np.random.default_rng(3)
        return [G.core("N=2, T=3, D=4, H=5", *seq_inputs(rng, 2, 3, 4, 5)),
                G.case("h0=None means zeros (N=2, T=2, D=3, H=3)",
                       seq_inputs(rng, 2, 2, 3, 3)[0], None, seq_inputs(rng, 2, 2, 3, 3)[2])]

    def fwd_hidden(rng):
        x1, _, p1 = seq_inputs(rng, 3, 4, 2, 2)
        return [G.case("N=1, T=1, D=3, H=2", *seq_inputs(rng, 1, 1, 3, 2)),
                G.case("N=1, T=6, D=2, H=4", *seq_inputs(rng, 1, 6, 2, 4)),
                G.case("N=3, T=3, D=3, H=3 (N == T)", *seq_inputs(rng, 3, 3, 3, 3)),
                G.case("N=4, T=2, D=5, H=3 (D != H)", *seq_inputs(rng, 4, 2, 5, 3)),
                G.case("N=2, T=5, D=3, H=4, relu", *seq_inputs(rng, 2, 5, 3, 4), activation="relu"),
                G.case("h0=None, N=3, T=4, D=2, H=2", x1, None, p1),
                G.case("N=2, T=10, D=3, H=6 (long)", *seq_inputs(rng, 2, 10, 3, 6))]

    # ---------------------------------------------------------------- softmax
    def softmax_ref(scores):
        return rc.output.softmax(scores)

    def sm_naive(scores):
        with np.errstate(over="ignore", invalid="ignore"):
            e = np.exp(scores)
            return e / e.sum(axis=-1, keepdims=True)

    def sm_axis0(scores):
        e = np.exp(scores - scores.max(axis=0, keepdims=True))
        return e / e.sum(axis=0, keepdims=True)

    def sm_all(scores):
        e = np.exp(scores - scores.max())
        return e / e.sum()

    def sm_global_max(scores):
        with np.errstate(invalid="ignore"):
            e = np.exp(scores - scores.max())            # one maximum for the whole array
            return e / e.sum(axis=-1, keepdims=True)

    def sm_no_exp(scores):
        return scores / scores.sum(axis=-1, keepdims=True)

    def sm_no_norm(scores):
        return np.exp(scores - scores.max(axis=-1, keepdims=True))

    def sm_sum_all(scores):          # the row's maximum subtracted, then e / e.sum()
        e = np.exp(scores - scores.max(axis=-1, keepdims=True))
        return e / e.sum()

    def sm_axis1(scores):            # axis=1: right for (N, K), wrong for (N, T, K), fails on (K,)
        e = np.exp(scores - scores.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def sm_no_keepdims(scores):
        e = np.exp(scores - scores.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1)

    sm_mistakes = [
        G.Mistake("exp of large scores overflows", "subtract the largest score of each row before "
                  "np.exp (scores - scores.max(axis=-1, keepdims=True)); the result is unchanged.",
                  fn=sm_naive),
        G.Mistake("normalised along the wrong axis", "the classes are on the LAST axis: use axis=-1.",
                  fn=sm_axis0),
        G.Mistake("normalised over the whole array", "each row (each sequence and step) is its own "
                  "distribution: sum along axis=-1 with keepdims=True.", fn=sm_all),
        G.Mistake("forgot the exponential", "softmax(o)_k = exp(o_k) / sum_j exp(o_j).", fn=sm_no_exp),
        G.Mistake("shifted by the maximum of the whole array", "subtract each row's own maximum "
                  "(scores.max(axis=-1, keepdims=True)): with one global maximum, a row whose scores are "
                  "all far below it underflows to 0 / 0.", fn=sm_global_max),
        G.Mistake("not normalised", "divide by the sum over the classes so each row sums to 1.",
                  fn=sm_no_norm),
        G.Mistake("broadcasting without keepdims", "e.sum(axis=-1, keepdims=True) keeps a length-1 axis "
                  "so the division lines up row by row.", fn=sm_no_keepdims,
                  error=r"operands could not be broadcast"),
        G.Mistake("divided by the sum of the whole array", "e.sum() adds every entry of every row; "
                  "divide by each row's own sum, e.sum(axis=-1, keepdims=True).", fn=sm_sum_all),
        G.Mistake("normalised along axis 1, not the last axis", "axis=1 is the class axis only for "
                  "2-D scores; for (N, T, K) it is time and a (K,) vector has none: use axis=-1.",
                  fn=sm_axis1),
    ]

    def sm_visible():
        rng = np.random.default_rng(4)
        return [G.core("scores (2, 5)", rng.normal(size=(2, 5))),
                G.case("scores (2, 3, 4)", rng.normal(size=(2, 3, 4)))]

    def sm_hidden(rng):
        return [G.case("one vector of K=6 scores", rng.normal(size=6)),
                G.case("(1, 1, 3)", rng.normal(size=(1, 1, 3))),
                G.case("(4, 4) square", rng.normal(size=(4, 4))),
                G.case("large scores, up to 1000 (overflow)", 1000 * rng.normal(size=(3, 2, 5))),
                G.case("very negative scores", -800 + rng.normal(size=(2, 4))),
                G.case("equal scores give a uniform distribution", np.full((2, 3, 4), 7.0))]

    # ---------------------------------------------------------------- output_forward
    def out_inputs(rng, lead, H, K):
        h = np.tanh(rng.normal(size=tuple(lead) + (H,)))
        return h, OutputParams(rng.normal(0, 0.5, (K, H)), rng.normal(0, 0.5, K))

    def out_ref(h, params):
        return rc.output.output_forward(h, params)[0]

    def out_not_transposed(h, params):
        return h @ params.V + params.b_y

    def out_no_bias(h, params):
        return h @ params.V.T

    def out_softmax(h, params):
        return rc.output.softmax(h @ params.V.T + params.b_y)

    out_mistakes = [
        G.Mistake("V used without transposing", "V has shape (K, H): scores = h @ V.T + b_y.",
                  fn=out_not_transposed, error=G.MATMUL_ERROR),
        G.Mistake("forgot the bias b_y", "add b_y (one bias per class).", fn=out_no_bias),
        G.Mistake("returned probabilities", "output_forward returns the raw scores o_t = V h_t + b_y; "
                  "softmax comes later.", fn=out_softmax),
    ]

    def out_visible():
        rng = np.random.default_rng(5)
        return [G.core("h (2, 3, 4), K=5 (many-to-many)", *out_inputs(rng, (2, 3), 4, 5)),
                G.case("h (3, 4), K=2 (many-to-one: last state only)", *out_inputs(rng, (3,), 4, 2))]

    def out_hidden(rng):
        return [G.case("N=1, T=1, H=2, K=7", *out_inputs(rng, (1, 1), 2, 7)),
                G.case("H == K == 3", *out_inputs(rng, (2, 4), 3, 3)),
                G.case("h (5, 6), K=1", *out_inputs(rng, (5,), 6, 1)),
                G.case("N=2, T=6, H=5, K=4", *out_inputs(rng, (2, 6), 5, 4))]

    # ---------------------------------------------------------------- softmax_cross_entropy
    def sce_ref(scores, y):
        return rc.output.softmax_cross_entropy(scores, y)

    def _pieces(scores, y):
        p = rc.output.softmax(scores)
        logp = rc.output.log_softmax(scores)
        picked = np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
        onehot = np.zeros_like(p)
        np.put_along_axis(onehot, y[..., None], 1.0, axis=-1)
        return p, picked, onehot, scores.shape[0]

    def sce_mean_all(scores, y):
        p, picked, onehot, N = _pieces(scores, y)
        return float(-picked.mean()), (p - onehot) / picked.size

    def sce_sum(scores, y):
        p, picked, onehot, N = _pieces(scores, y)
        return float(-picked.sum()), p - onehot

    def sce_sign(scores, y):
        p, picked, onehot, N = _pieces(scores, y)
        return float(picked.sum() / N), (p - onehot) / N

    def sce_no_onehot(scores, y):
        p, picked, onehot, N = _pieces(scores, y)
        return float(-picked.sum() / N), p / N

    def sce_grad_not_scaled(scores, y):
        p, picked, onehot, N = _pieces(scores, y)
        return float(-picked.sum() / N), p - onehot

    def sce_naive_log(scores, y):
        p, picked, onehot, N = _pieces(scores, y)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            e = np.exp(scores)
            q = e / e.sum(axis=-1, keepdims=True)
            lp = np.log(np.take_along_axis(q, y[..., None], axis=-1)[..., 0])
            return float(-lp.sum() / N), (q - onehot) / N

    def sce_log_of_softmax(scores, y):
        p, picked, onehot, N = _pieces(scores, y)
        with np.errstate(divide="ignore"):
            e = np.exp(scores - scores.max(axis=-1, keepdims=True))
            q = e / e.sum(axis=-1, keepdims=True)        # stable, but a probability can underflow to 0
            lp = np.log(np.take_along_axis(q, y[..., None], axis=-1)[..., 0])
            return float(-lp.sum() / N), (q - onehot) / N

    # log-sum-exp written without the maximum: exp(1000) = inf, the overflow of
    # https://github.com/tensorflow/tensorflow/issues/10142 (a loss of NaN/inf from exp(x))
    def sce_unshifted(scores, y):
        N = scores.shape[0]
        with np.errstate(over="ignore", invalid="ignore"):
            log_p = scores - np.log(np.exp(scores).sum(axis=-1, keepdims=True))
            picked = np.take_along_axis(log_p, y[..., None], axis=-1)
            p = np.exp(log_p)
            np.put_along_axis(p, y[..., None], np.take_along_axis(p, y[..., None], axis=-1) - 1.0,
                              axis=-1)
            return float(-picked.sum() / N), p / N

    # log_p[np.arange(N), y] and dscores[np.arange(N), y] -= 1: the idiom of CS231n's softmax
    # loss for scores (N, C) (e.g. https://py4u.org/questions/46691293/), wrong for (N, T, K)
    def sce_arange_rows(scores, y):
        N = scores.shape[0]
        log_p = rc.output.log_softmax(scores)
        loss = -log_p[np.arange(N), y].sum() / N
        d = np.exp(log_p)
        d[np.arange(N), y] -= 1.0
        return float(loss), d / N

    sce_mistakes = [
        G.Mistake("averaged over time steps too", "the loss is summed over the T steps and averaged "
                  "over the N sequences only: divide by N, not by N*T.", fn=sce_mean_all),
        G.Mistake("not averaged over the batch", "divide the summed loss (and its gradient) by N.",
                  fn=sce_sum),
        G.Mistake("wrong sign", "cross-entropy is -log p(correct class): a positive number.",
                  fn=sce_sign),
        G.Mistake("gradient without subtracting the one-hot targets", "dL/do = (softmax(o) - onehot(y)) / N: "
                  "subtract 1 at each correct class.", fn=sce_no_onehot),
        G.Mistake("gradient not divided by N", "the loss is divided by N, so its gradient is too.",
                  fn=sce_grad_not_scaled),
        G.Mistake("log of a naive softmax", "large scores overflow exp; compute log-probabilities as "
                  "o - max - log(sum(exp(o - max))).", fn=sce_naive_log),
        G.Mistake("log of a (stable) softmax", "a probability that underflows to 0 gives log(0) = -inf "
                  "and an infinite loss for scores far apart (e.g. +-1000): take the log-probabilities "
                  "directly, o - max - log(sum(exp(o - max))).", fn=sce_log_of_softmax),
        G.Mistake("log-sum-exp without subtracting the maximum", "log(sum(exp(o))) overflows to inf "
                  "for large scores: compute m = o.max(axis=-1, keepdims=True) and "
                  "m + log(sum(exp(o - m))) (same value, no overflow).", fn=sce_unshifted),
        G.Mistake("[np.arange(N), y] picks the correct classes of (N, K) scores only",
                  "for scores (N, T, K) and y (N, T) those two index arrays do not pair every (n, t) "
                  "with its class: use np.take_along_axis(log_p, y[..., None], axis=-1) (and "
                  "np.put_along_axis for the gradient), which works for any leading shape.",
                  fn=sce_arange_rows),
    ]

    def sce_inputs(rng, lead, K, scale=1.0):
        scores = scale * rng.normal(size=tuple(lead) + (K,))
        y = rng.integers(0, K, size=tuple(lead))
        return scores, y

    def sce_gradcheck(student_fn, c, out):
        scores, y = c.args
        if scores.size > 40:
            return None
        return G.gradient_check(lambda scores: rc.output.softmax_cross_entropy(scores, y)[0],
                                {"scores": scores}, {"scores": out[1]}, tol=1e-6)

    def sce_visible():
        rng = np.random.default_rng(6)
        return [G.core("scores (2, 3, 4), y (2, 3)", *sce_inputs(rng, (2, 3), 4)),
                G.case("scores (3, 5), y (3,) (many-to-one)", *sce_inputs(rng, (3,), 5))]

    def sce_hidden(rng):
        return [G.case("N=1, T=1, K=3", *sce_inputs(rng, (1, 1), 3)),
                G.case("N=4, T=2, K=2", *sce_inputs(rng, (4, 2), 2)),
                G.case("N=2, T=5, K=6", *sce_inputs(rng, (2, 5), 6)),
                G.case("N=3, K=4 (many-to-one)", *sce_inputs(rng, (3,), 4)),
                G.case("large scores, up to 1000 (stability)", *sce_inputs(rng, (2, 3), 5, scale=1000.0))]

    return {
        "rnn_step_forward": G.Spec(step_ref, step_visible, step_hidden, step_mistakes),
        "rnn_forward": G.Spec(fwd_ref, fwd_visible, fwd_hidden, fwd_mistakes, depends=("rnn_step_forward",)),
        "softmax": G.Spec(softmax_ref, sm_visible, sm_hidden, sm_mistakes),
        "output_forward": G.Spec(out_ref, out_visible, out_hidden, out_mistakes),
        "softmax_cross_entropy": G.Spec(sce_ref, sce_visible, sce_hidden, sce_mistakes,
                                        extra=[sce_gradcheck], output_names=("loss", "dscores")),
    }
