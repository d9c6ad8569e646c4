"""Tests of assignment 08_deep_rnn, read by ``rnncourse.grading`` (see its docstring).

``build(rc, G)`` returns one ``G.Spec`` per graded function: the reference (from ``rc``, a
private copy of rnncourse), visible and hidden test cases, and the common mistakes that the
feedback recognises.  Only NumPy is imported here; everything else comes through ``rc``/``G``.

The student writes the stacking only: both functions may call one layer's passes, i.e.
``rnncourse.rnn.rnn_forward`` / ``rnn_backward`` (assignments 02/03), the bidirectional layer
``rnncourse.bidirectional`` (assignment 07) and the cell registry ``rnncourse.cells``; a call
into ``rnncourse.deep`` scores zero.  The tests use the vanilla tanh RNN (``cell="rnn"``), with
unidirectional and bidirectional layers.
"""
import numpy as np

#: The graded functions in notebook order: (points of the visible cell, of the hidden cell).
#: The notebook's test cells are generated from this table (rnncourse.grading.cells).
POINTS = {
    "deep_forward": (2, 3),
    "deep_backward": (2, 3),
}


ALLOW = ("rnncourse.rnn.rnn_forward", "rnncourse.rnn.rnn_backward", "rnncourse.cells",
         "rnncourse.bidirectional.bidirectional_forward", "rnncourse.bidirectional.bidirectional_backward")


def build(rc, G):
    RNNParams = rc.rnn.RNNParams
    BidirectionalParams = rc.bidirectional.BidirectionalParams
    DeepGrads = rc.deep.DeepGrads

    def rnn_params(rng, D, H, scale=0.6):
        return G.random_params(rng, RNNParams, (H, D), (H, H), (H,), scale=scale)

    def make_layers(rng, D, sizes, bidirectional=False):
        layers, d = [], D
        for H in sizes:
            if bidirectional:
                layers.append(BidirectionalParams(rnn_params(rng, d, H), rnn_params(rng, d, H)))
                d = 2 * H
            else:
                layers.append(rnn_params(rng, d, H))
                d = H
        return layers

    def deep_inputs(rng, N, T, D, sizes, bidirectional=False):
        x = rng.normal(size=(N, T, D))
        return x, make_layers(rng, D, sizes, bidirectional), "rnn", bidirectional

    # one layer, forward and backward, as the student may call it
    def layer_fwd(a, p, bidirectional):
        if bidirectional:
            return rc.bidirectional.bidirectional_forward(a, None, p, "rnn")[0]
        return rc.rnn.rnn_forward(a, None, p)[0]

    def layer_bwd(da, layer_cache, bidirectional):
        if bidirectional:
            return rc.bidirectional.bidirectional_backward(da, layer_cache)
        return rc.rnn.rnn_backward(da, layer_cache)

    # ---------------------------------------------------------------- deep_forward
    def fwd_ref(x, layers, cell="rnn", bidirectional=False):
        return rc.deep.deep_forward(x, layers, cell, bidirectional)[0]

    def _stack(x, layers, bidirectional, order, same_input=False, keep="top"):
        a = x
        outputs = []
        for l in order:
            a = layer_fwd(x if same_input else a, layers[l], bidirectional)
            outputs.append(a)
        if not outputs:
            return x
        return outputs[0] if keep == "first" else outputs[-1]

    def fwd_same_input(x, layers, cell="rnn", bidirectional=False):
        return _stack(x, layers, bidirectional, range(len(layers)), same_input=True)

    def fwd_reversed(x, layers, cell="rnn", bidirectional=False):
        return _stack(x, layers, bidirectional, range(len(layers) - 1, -1, -1))

    def fwd_skip_first(x, layers, cell="rnn", bidirectional=False):
        return _stack(x, layers, bidirectional, range(1, len(layers)))

    def fwd_skip_last(x, layers, cell="rnn", bidirectional=False):
        return _stack(x, layers, bidirectional, range(len(layers) - 1))

    def fwd_first_only(x, layers, cell="rnn", bidirectional=False):
        return _stack(x, layers, bidirectional, range(len(layers)), keep="first")

    def fwd_ignore_bidirectional(x, layers, cell="rnn", bidirectional=False):
        return _stack(x, layers, False, range(len(layers)))

    fwd_mistakes = [
        G.Mistake("every layer reads x",
                  "only layer 1 reads x; layer l reads the states of layer l-1: a^[l-1]<t> is the input "
                  "of a^[l]<t>. Keep the current layer's output in a variable and feed it to the next "
                  "layer.", fn=fwd_same_input),
        G.Mistake("the layers run in reverse order",
                  "layers[0] is the bottom layer (input size D): go through the list from the first "
                  "entry to the last.", fn=fwd_reversed),
        G.Mistake("off by one: the first layer is skipped",
                  "layers[0] is layer 1; loop over all L entries (range(len(layers)) or simply "
                  "`for p in layers`).", fn=fwd_skip_first),
        G.Mistake("off by one: the top layer is skipped",
                  "loop over all L layers (range(len(layers)), not range(len(layers) - 1)) and return "
                  "the top layer's states.", fn=fwd_skip_last),
        G.Mistake("returned the bottom layer's states",
                  "return the states of the LAST (top) layer, after the loop.", fn=fwd_first_only),
        G.Mistake("bidirectional=True is ignored",
                  "when bidirectional is True each entry of layers is BidirectionalParams: run each "
                  "layer with bidirectional_forward (its output (N, T, 2H) feeds the next layer).",
                  fn=fwd_ignore_bidirectional),
        # the order before the package's one convention (x, params, cell, h0): params lands on h0
        G.Mistake("bidirectional_forward called without its h0 argument",
                  "its arguments are (x, h0, params, cell), like rnn_forward(x, h0, params): pass None "
                  "for the zero initial state, bidirectional_forward(a, None, params, cell).",
                  error=r"h0 must be None or a \(2, N, H\) array \(the arguments are x, h0, params, cell\)"),
    ]

    def fwd_visible():
        rng = np.random.default_rng(81)
        return [G.core("L=2, N=2, T=3, D=3, H=4", *deep_inputs(rng, 2, 3, 3, [4, 4])),
                G.case("L=3, sizes D=2 -> 3 -> 3 -> 3", *deep_inputs(rng, 2, 4, 2, [3, 3, 3])),
                G.case("L=2, bidirectional, D=3, H=2", *deep_inputs(rng, 2, 3, 3, [2, 2], True))]

    def fwd_hidden(rng):
        x, layers, cell, bi = deep_inputs(rng, 2, 3, 2, [3, 3])
        return [G.case("L=1, N=2, T=3, D=2, H=3", *deep_inputs(rng, 2, 3, 2, [3])),
                G.case("L=2, N=1, T=1, D=3, H=2", *deep_inputs(rng, 1, 1, 3, [2, 2])),
                G.case("L=3, D = H = 3 everywhere", *deep_inputs(rng, 2, 4, 3, [3, 3, 3])),
                G.case("L=3, a different H per layer: D=4 -> 2 -> 5 -> 3", *deep_inputs(rng, 2, 3, 4, [2, 5, 3])),
                G.case("L=4, N=3, T=2, D=H=2", *deep_inputs(rng, 3, 2, 2, [2, 2, 2, 2])),
                G.case("L=3, bidirectional, D=2, H=2", *deep_inputs(rng, 2, 3, 2, [2, 2, 2], True)),
                G.case("L=1, bidirectional, D=3, H=4", *deep_inputs(rng, 1, 4, 3, [4], True)),
                G.case("cell and bidirectional passed by keyword", x, layers, cell=cell, bidirectional=bi),
                G.case("L=2, T=8 (longer)", *deep_inputs(rng, 2, 8, 3, [4, 3]))]

    # ---------------------------------------------------------------- deep_backward
    def bwd_ref(dh_top, cache):
        return rc.deep.deep_backward(dh_top, cache)

    def bwd_inputs(rng, N, T, D, sizes, bidirectional=False):
        x, layers, cell, bi = deep_inputs(rng, N, T, D, sizes, bidirectional)
        h_top, cache = rc.deep.deep_forward(x, layers, cell, bi)
        return rng.normal(size=h_top.shape), cache

    def bwd_same_dh(dh_top, cache):
        dlayers = [None] * len(cache.caches)
        dx = None
        for l in range(len(cache.caches) - 1, -1, -1):
            g = layer_bwd(dh_top, cache.caches[l], cache.bidirectional)
            dlayers[l] = g.dparams
            dx = g.dx
        return DeepGrads(dx, dlayers)

    def _walk(dh_top, cache, order, bidirectional=None, pass_down="dx"):
        dlayers = [None] * len(cache.caches)
        da = dh_top
        bi = cache.bidirectional if bidirectional is None else bidirectional
        for l in order:
            g = layer_bwd(da, cache.caches[l], bi)
            dlayers[l] = g.dparams
            da = getattr(g, pass_down)
        return da, dlayers

    def bwd_ignore_bidirectional(dh_top, cache):
        return DeepGrads(*_walk(dh_top, cache, range(len(cache.caches) - 1, -1, -1), bidirectional=False))

    def bwd_dh0_down(dh_top, cache):
        return DeepGrads(*_walk(dh_top, cache, range(len(cache.caches) - 1, -1, -1), pass_down="dh0"))

    def bwd_bottom_up(dh_top, cache):
        return DeepGrads(*_walk(dh_top, cache, range(len(cache.caches))))

    def bwd_dlayers_reversed(dh_top, cache):
        dx, dlayers = _walk(dh_top, cache, range(len(cache.caches) - 1, -1, -1))
        return DeepGrads(dx, dlayers[::-1])

    def bwd_skip_bottom(dh_top, cache):
        return DeepGrads(*_walk(dh_top, cache, range(len(cache.caches) - 1, 0, -1)))

    def bwd_top_dx(dh_top, cache):
        dx, dlayers = _walk(dh_top, cache, range(len(cache.caches) - 1, -1, -1))
        top = layer_bwd(dh_top, cache.caches[-1], cache.bidirectional)
        return DeepGrads(top.dx, dlayers)

    bwd_mistakes = [
        G.Mistake("dh_top is given to every layer",
                  "only the top layer receives dh_top; the dx that layer l's backward pass returns is "
                  "the gradient with respect to layer l-1's states, i.e. the dh of layer l-1.",
                  fn=bwd_same_dh),
        G.Mistake("the layers are visited bottom-up",
                  "backpropagation goes down the stack: start with the top layer (the last entry of "
                  "cache.caches) and end with layer 1.", fn=bwd_bottom_up),
        G.Mistake("the gradients in dlayers are in reverse order",
                  "dlayers[l] must hold the gradients of layers[l]: fill dlayers[l] = g.dparams (or "
                  "reverse the list you appended to from the top down).", fn=bwd_dlayers_reversed),
        G.Mistake("off by one: the bottom layer is skipped",
                  "range(L - 1, 0, -1) stops before l = 0; use range(L - 1, -1, -1) so that the first "
                  "layer gets its gradients and dx has the shape of x.", fn=bwd_skip_bottom),
        G.Mistake("returned the top layer's dx",
                  "dx is what comes out of the BOTTOM layer's backward pass, the last one you run.",
                  fn=bwd_top_dx),
        G.Mistake("cache.bidirectional is ignored",
                  "when cache.bidirectional is True every entry of cache.caches is a bidirectional_forward "
                  "cache: run bidirectional_backward(da, cache.caches[l]) for it, rnn_backward otherwise.",
                  fn=bwd_ignore_bidirectional),
        G.Mistake("g.dh0 passed down instead of g.dx",
                  "g.dh0 (N, H) is the gradient of the layer's initial state; the layer below needs the "
                  "gradient of its whole output sequence, g.dx (N, T, H): da = g.dx.", fn=bwd_dh0_down),
    ]

    def _forward_inputs(cache):
        """x and layers, read back from the reference cache (for the finite-difference check)."""
        layers = []
        for c in cache.caches:
            if cache.bidirectional:
                layers.append(BidirectionalParams(c.cache_forward.params, c.cache_backward.params))
            else:
                layers.append(c.params)
        first = cache.caches[0].cache_forward if cache.bidirectional else cache.caches[0]
        return first.x_tm.transpose(1, 0, 2).copy(), layers

    def bwd_gradcheck(student_fn, c, out):
        """Finite differences of L = sum(h_top * dh_top) with respect to x and the bottom layer's W."""
        dh, cache = c.args
        if dh.size > 48:
            return None
        x, layers = _forward_inputs(cache)
        bottom = layers[0].forward if cache.bidirectional else layers[0]

        def loss(x, W0):
            p0 = bottom._replace(W=W0)
            first = layers[0]._replace(forward=p0) if cache.bidirectional else p0
            h = rc.deep.deep_forward(x, [first] + list(layers[1:]), "rnn", cache.bidirectional)[0]
            return float((h * dh).sum())

        d0 = out[1][0]
        dW0 = d0[0][1] if cache.bidirectional else d0[1]
        return G.gradient_check(loss, {"x": x, "W0": bottom.W}, {"x": out[0], "W0": dW0}, tol=1e-6)

    def bwd_visible():
        rng = np.random.default_rng(82)
        return [G.core("L=2, N=2, T=3, D=3, H=4", *bwd_inputs(rng, 2, 3, 3, [4, 4])),
                G.case("L=3, D=2, H=3", *bwd_inputs(rng, 2, 3, 2, [3, 3, 3])),
                G.case("L=2, bidirectional, D=3, H=2", *bwd_inputs(rng, 2, 3, 3, [2, 2], True))]

    def bwd_hidden(rng):
        return [G.case("L=1, N=2, T=3, D=2, H=3", *bwd_inputs(rng, 2, 3, 2, [3])),
                G.case("L=2, N=1, T=1, D=3, H=2", *bwd_inputs(rng, 1, 1, 3, [2, 2])),
                G.case("L=3, D = H = 3 everywhere", *bwd_inputs(rng, 2, 3, 3, [3, 3, 3])),
                G.case("L=3, a different H per layer: D=4 -> 2 -> 5 -> 3", *bwd_inputs(rng, 2, 3, 4, [2, 5, 3])),
                G.case("L=3, bidirectional, D=2, H=2", *bwd_inputs(rng, 1, 3, 2, [2, 2, 2], True)),
                G.case("L=2, T=7 (longer)", *bwd_inputs(rng, 2, 7, 3, [3, 4]))]

    return {
        "deep_forward": G.Spec(fwd_ref, fwd_visible, fwd_hidden, fwd_mistakes, allow=ALLOW),
        "deep_backward": G.Spec(bwd_ref, bwd_visible, bwd_hidden, bwd_mistakes, allow=ALLOW,
                                extra=[bwd_gradcheck]),
    }
