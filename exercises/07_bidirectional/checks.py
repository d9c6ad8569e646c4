"""Tests of assignment 07_bidirectional, read by ``rnncourse.grading`` (see its docstring).

``build(rc, G)`` returns one ``G.Spec`` per graded function: the reference (from ``rc``, a
private copy of rnncourse), visible and hidden test cases, and the common mistakes that the
feedback recognises.  Only NumPy is imported here; everything else comes through ``rc``/``G``.

The student writes the bidirectional wiring only: both functions may call the vanilla RNN's
``rnncourse.rnn.rnn_forward`` / ``rnn_backward`` (given, written in assignments 02 and 03) and
the cell registry ``rnncourse.cells``; a call into ``rnncourse.bidirectional`` scores zero.
The tests use the vanilla tanh RNN (``cell="rnn"``) only.
"""
import numpy as np

#: The graded functions in notebook order: (points of the visible cell, of the hidden cell).
#: The notebook's test cells are generated from this table (rnncourse.grading.cells).
POINTS = {
    "bidirectional_forward": (2, 3),
    "bidirectional_backward": (2, 3),
}


# The student may run the vanilla RNN itself (its own topic was assignments 02/03).
ALLOW = ("rnncourse.rnn.rnn_forward", "rnncourse.rnn.rnn_backward", "rnncourse.cells")


def build(rc, G):
    RNNParams = rc.rnn.RNNParams
    BidirectionalParams = rc.bidirectional.BidirectionalParams
    BidirectionalGrads = rc.bidirectional.BidirectionalGrads
    rnn_forward = rc.rnn.rnn_forward
    rnn_backward = rc.rnn.rnn_backward

    def rnn_params(rng, D, H, scale=0.5):
        return G.random_params(rng, RNNParams, (H, D), (H, H), (H,), scale=scale)

    def bi_inputs(rng, N, T, D, H, with_h0=True, scale=0.5):
        x = rng.normal(size=(N, T, D))
        params = BidirectionalParams(rnn_params(rng, D, H, scale), rnn_params(rng, D, H, scale))
        h0 = rng.normal(size=(2, N, H)) if with_h0 else None
        return x, h0, params, "rnn"                   # bidirectional_forward's argument order

    def split_h0(h0):
        return (None, None) if h0 is None else (h0[0], h0[1])

    # ---------------------------------------------------------------- bidirectional_forward
    def fwd_ref(x, h0, params, cell="rnn"):
        return rc.bidirectional.bidirectional_forward(x, h0, params, cell)[0]

    def _directions(x, params, h0, reverse_input=True, h0_swapped=False, same_params=False):
        h0_f, h0_b = split_h0(h0)
        if h0_swapped:
            h0_f, h0_b = h0_b, h0_f
        h_f = rnn_forward(x, h0_f, params.forward)[0]
        p_b = params.forward if same_params else params.backward
        x_b = x[:, ::-1] if reverse_input else x
        h_b = rnn_forward(x_b, h0_b, p_b)[0]          # in the order it was computed
        return h_f, h_b

    def fwd_not_flipped_back(x, h0, params, cell="rnn"):
        h_f, h_b_rev = _directions(x, params, h0)
        return np.concatenate([h_f, h_b_rev], axis=2)

    def fwd_order_swapped(x, h0, params, cell="rnn"):
        h_f, h_b_rev = _directions(x, params, h0)
        return np.concatenate([h_b_rev[:, ::-1], h_f], axis=2)

    def fwd_unreversed_input(x, h0, params, cell="rnn"):
        h_f, h_b = _directions(x, params, h0, reverse_input=False)
        return np.concatenate([h_f, h_b], axis=2)

    def fwd_unreversed_input_flipped(x, h0, params, cell="rnn"):
        h_f, h_b = _directions(x, params, h0, reverse_input=False)
        return np.concatenate([h_f, h_b[:, ::-1]], axis=2)

    def fwd_sum(x, h0, params, cell="rnn"):
        h_f, h_b_rev = _directions(x, params, h0)
        return h_f + h_b_rev[:, ::-1]

    def fwd_h0_swapped(x, h0, params, cell="rnn"):
        h_f, h_b_rev = _directions(x, params, h0, h0_swapped=True)
        return np.concatenate([h_f, h_b_rev[:, ::-1]], axis=2)

    def fwd_same_params(x, h0, params, cell="rnn"):
        h_f, h_b_rev = _directions(x, params, h0, same_params=True)
        return np.concatenate([h_f, h_b_rev[:, ::-1]], axis=2)

    def fwd_wrong_axis(x, h0, params, cell="rnn"):
        h_f, h_b_rev = _directions(x, params, h0)
        return np.concatenate([h_f, h_b_rev[:, ::-1]], axis=1)

    def fwd_batch_reversed(x, h0, params, cell="rnn"):
        h0_f, h0_b = split_h0(h0)
        h_f = rnn_forward(x, h0_f, params.forward)[0]
        h_b = rnn_forward(x[::-1], h0_b, params.backward)[0]    # x[::-1] reverses axis 0, the batch
        return np.concatenate([h_f, h_b[::-1]], axis=2)

    fwd_mistakes = [
        G.Mistake("the backward direction's states are not flipped back",
                  "the backward direction reads x_T first, so its output is in reversed time order: "
                  "reverse it again (h_b[:, ::-1]) so that h[:, t, H:] belongs to the same step t "
                  "as h[:, t, :H].", fn=fwd_not_flipped_back),
        G.Mistake("the two halves are concatenated in the wrong order",
                  "h[:, t] = [forward state ; backward state]: the forward direction's H numbers "
                  "come first, then the backward direction's.", fn=fwd_order_swapped),
        G.Mistake("the backward direction reads the sequence from left to right",
                  "feed the time-reversed inputs x[:, ::-1] to the backward direction, then reverse "
                  "its states back.", fn=fwd_unreversed_input),
        G.Mistake("only the backward direction's output is reversed, not its input",
                  "reversing the states of a left-to-right run does not make it read from the end: "
                  "the backward direction must *read* x[:, ::-1] (and its states are then reversed "
                  "back).", fn=fwd_unreversed_input_flipped),
        G.Mistake("the two directions are summed instead of concatenated",
                  "stack them side by side: np.concatenate([h_f, h_b], axis=2) gives (N, T, 2H).",
                  fn=fwd_sum),
        G.Mistake("h0[0] and h0[1] are swapped",
                  "h0[0] starts the forward direction (before x_1), h0[1] the backward direction "
                  "(after x_T).", fn=fwd_h0_swapped),
        G.Mistake("both directions use params.forward",
                  "the backward direction has its own weights: params.backward.", fn=fwd_same_params),
        G.Mistake("concatenated along the time axis",
                  "the halves go side by side in the feature axis: axis=2 (or -1), giving (N, T, 2H).",
                  fn=fwd_wrong_axis),
        # reversing axis 0 of batch-major data (https://github.com/EderSantana/seya/issues/32,
        # https://github.com/google-deepmind/dm-haiku/issues/298)
        G.Mistake("the batch axis is reversed instead of time",
                  "x[::-1] reverses axis 0, the batch; time is axis 1: feed x[:, ::-1] to the backward "
                  "direction and flip its states back with [:, ::-1].", fn=fwd_batch_reversed),
    ]

    def fwd_visible():
        rng = np.random.default_rng(71)
        return [G.core("N=2, T=4, D=3, H=5", *bi_inputs(rng, 2, 4, 3, 5)),
                G.case("h0=None means zeros (N=3, T=3, D=2, H=2)", *bi_inputs(rng, 3, 3, 2, 2, with_h0=False))]

    def fwd_hidden(rng):
        x, h0, params, cell = bi_inputs(rng, 2, 5, 4, 3)
        return [G.case("N=1, T=1, D=3, H=2", *bi_inputs(rng, 1, 1, 3, 2)),
                G.case("N=1, T=6, D=2, H=4", *bi_inputs(rng, 1, 6, 2, 4)),
                G.case("N=3, T=3, D=3, H=3 (N == T == D == H)", *bi_inputs(rng, 3, 3, 3, 3)),
                G.case("N=4, T=2, D=5, H=3 (D != H)", *bi_inputs(rng, 4, 2, 5, 3)),
                G.case("h0=None, N=2, T=4, D=2, H=3", *bi_inputs(rng, 2, 4, 2, 3, with_h0=False)),
                G.case("h0, params and cell passed by keyword, N=2, T=5, D=4, H=3", x, h0=h0,
                       params=params, cell=cell),
                G.case("N=2, T=9, D=3, H=4 (longer)", *bi_inputs(rng, 2, 9, 3, 4))]

    # ---------------------------------------------------------------- bidirectional_backward
    def bwd_ref(dh, cache):
        return rc.bidirectional.bidirectional_backward(dh, cache)

    def bwd_inputs(rng, N, T, D, H, with_h0=True):
        x, h0, params, cell = bi_inputs(rng, N, T, D, H, with_h0)
        _, cache = rc.bidirectional.bidirectional_forward(x, h0, params, cell)
        return rng.normal(size=(N, T, 2 * H)), cache

    def _grads(g_f, g_b, dx, swap_dh0=False):
        dh0 = np.stack([g_b.dh0, g_f.dh0] if swap_dh0 else [g_f.dh0, g_b.dh0])
        return BidirectionalGrads(dx, dh0, BidirectionalParams(g_f.dparams, g_b.dparams))

    def _bwd(dh, cache, reverse_dh=True, swap_halves=False):
        H = cache.H
        first, second = (dh[:, :, H:], dh[:, :, :H]) if swap_halves else (dh[:, :, :H], dh[:, :, H:])
        g_f = rnn_backward(first, cache.cache_forward)
        g_b = rnn_backward(second[:, ::-1] if reverse_dh else second, cache.cache_backward)
        return g_f, g_b

    def bwd_dx_not_flipped(dh, cache):
        g_f, g_b = _bwd(dh, cache)
        return _grads(g_f, g_b, g_f.dx + g_b.dx)

    def bwd_dh_not_reversed(dh, cache):
        g_f, g_b = _bwd(dh, cache, reverse_dh=False)
        return _grads(g_f, g_b, g_f.dx + g_b.dx[:, ::-1])

    def bwd_nothing_reversed(dh, cache):
        g_f, g_b = _bwd(dh, cache, reverse_dh=False)
        return _grads(g_f, g_b, g_f.dx + g_b.dx)

    def bwd_halves_swapped(dh, cache):
        g_f, g_b = _bwd(dh, cache, swap_halves=True)
        return _grads(g_f, g_b, g_f.dx + g_b.dx[:, ::-1])

    def bwd_dx_forward_only(dh, cache):
        g_f, g_b = _bwd(dh, cache)
        return _grads(g_f, g_b, g_f.dx)

    def bwd_dh0_swapped(dh, cache):
        g_f, g_b = _bwd(dh, cache)
        return _grads(g_f, g_b, g_f.dx + g_b.dx[:, ::-1], swap_dh0=True)

    def bwd_dx_concatenated(dh, cache):
        g_f, g_b = _bwd(dh, cache)
        return _grads(g_f, g_b, np.concatenate([g_f.dx, g_b.dx[:, ::-1]], axis=2))

    def bwd_batch_reversed(dh, cache):
        H = cache.H
        g_f = rnn_backward(dh[:, :, :H], cache.cache_forward)
        g_b = rnn_backward(dh[::-1, :, H:], cache.cache_backward)   # axis 0 is the batch
        return _grads(g_f, g_b, g_f.dx + g_b.dx[::-1])

    bwd_mistakes = [
        G.Mistake("dx from the backward direction is not flipped back",
                  "the backward direction read x[:, ::-1], so its dx is in reversed time order: add "
                  "g_b.dx[:, ::-1] to the forward direction's dx.", fn=bwd_dx_not_flipped),
        G.Mistake("the backward direction's upstream gradient is not reversed",
                  "the backward direction's states were flipped back to align with t, so its "
                  "gradient dh[:, :, H:] must be reversed (dh[:, ::-1, H:]) before its BPTT.",
                  fn=bwd_dh_not_reversed),
        G.Mistake("nothing is reversed in the backward direction",
                  "reverse the backward half of dh in time before rnn_backward, and reverse its dx "
                  "back afterwards: the forward pass reversed x and then the states.",
                  fn=bwd_nothing_reversed),
        G.Mistake("the two halves of dh are swapped",
                  "dh[:, :, :H] belongs to the forward direction, dh[:, :, H:] to the backward one, "
                  "in the order of the concatenation [forward ; backward].", fn=bwd_halves_swapped),
        G.Mistake("dx only comes from the forward direction",
                  "x feeds both directions, so dx is the SUM of both directions' input gradients.",
                  fn=bwd_dx_forward_only),
        G.Mistake("dh0[0] and dh0[1] are swapped",
                  "dh0 = np.stack([forward direction's dh0, backward direction's dh0]), like h0.",
                  fn=bwd_dh0_swapped),
        G.Mistake("the two directions' dx are concatenated",
                  "both directions read the same x (N, T, D): add their gradients, do not stack them.",
                  fn=bwd_dx_concatenated),
        G.Mistake("the batch axis is reversed instead of time",
                  "dh[::-1] and dx[::-1] reverse axis 0, the batch; time is axis 1: dh[:, ::-1, H:] before "
                  "the backward direction's BPTT and g_b.dx[:, ::-1] after it.", fn=bwd_batch_reversed),
    ]

    def bwd_gradcheck(student_fn, c, out):
        """Finite differences of L = sum(h * dh) with respect to x and the forward direction's U."""
        dh, cache = c.args
        if dh.size > 40:
            return None
        x = cache.cache_forward.x_tm.transpose(1, 0, 2).copy()
        params = BidirectionalParams(cache.cache_forward.params, cache.cache_backward.params)
        h0 = np.stack([cache.cache_forward.h0, cache.cache_backward.h0])

        def loss(x, U_f):
            p = BidirectionalParams(params.forward._replace(U=U_f), params.backward)
            return float((rc.bidirectional.bidirectional_forward(x, h0, p, "rnn")[0] * dh).sum())

        return G.gradient_check(loss, {"x": x, "U_f": params.forward.U},
                                {"x": out[0], "U_f": out[2][0][0]}, tol=1e-6)

    def bwd_visible():
        rng = np.random.default_rng(72)
        return [G.core("N=2, T=3, D=3, H=4", *bwd_inputs(rng, 2, 3, 3, 4)),
                G.case("N=3, T=4, D=2, H=2, h0=None", *bwd_inputs(rng, 3, 4, 2, 2, with_h0=False))]

    def bwd_hidden(rng):
        return [G.case("N=1, T=1, D=2, H=3", *bwd_inputs(rng, 1, 1, 2, 3)),
                G.case("N=1, T=5, D=3, H=2", *bwd_inputs(rng, 1, 5, 3, 2)),
                G.case("N=3, T=3, D=3, H=3", *bwd_inputs(rng, 3, 3, 3, 3)),
                G.case("N=4, T=2, D=5, H=3 (D != H)", *bwd_inputs(rng, 4, 2, 5, 3)),
                G.case("N=2, T=7, D=2, H=4 (longer)", *bwd_inputs(rng, 2, 7, 2, 4))]

    return {
        "bidirectional_forward": G.Spec(fwd_ref, fwd_visible, fwd_hidden, fwd_mistakes, allow=ALLOW),
        "bidirectional_backward": G.Spec(bwd_ref, bwd_visible, bwd_hidden, bwd_mistakes, allow=ALLOW,
                                         extra=[bwd_gradcheck]),
    }
