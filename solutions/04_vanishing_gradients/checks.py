"""Tests of assignment 04_vanishing_gradients, read by ``rnncourse.grading`` (see its docstring).

``build(rc, G)`` returns one ``G.Spec`` per graded function: the reference (from ``rc``, a
private copy of rnncourse), visible and hidden test cases, and the common mistakes that the
feedback recognises.  Only NumPy is imported here; everything else comes through ``rc``/``G``.

The students' clipping functions handle a flat container (NamedTuple, list, tuple or dict of
arrays, ``None`` entries passed through), a subset of what ``rnncourse.clipping`` accepts; every
case here uses such a container.
"""
import numpy as np

#: The graded functions in notebook order: (points of the visible cell, of the hidden cell).
#: The notebook's test cells are generated from this table (rnncourse.grading.cells).
POINTS = {
    "clip_by_value": (1, 2),
    "clip_by_global_norm": (2, 3),
    "init_rnn_params": (1, 2),
    "hidden_gradient_norms": (2, 3),
}


EPS = 1e-6                      # rnncourse.clipping.NORM_EPS, as torch.nn.utils.clip_grad_norm_


def build(rc, G):
    RNNParams = rc.rnn.RNNParams
    GRUParams = rc.gru.GRUParams

    def rnn_grads(rng, D, H, scale=1.0):
        return RNNParams(scale * rng.normal(size=(H, D)), scale * rng.normal(size=(H, H)),
                         scale * rng.normal(size=H))

    # ---------------------------------------------------------------- clip_by_value
    def value_ref(grads, clip_value):
        return rc.clipping.clip_by_value(grads, clip_value)

    def value_unchanged(grads, clip_value):
        return G.map_flat(grads, lambda g: g)

    def value_upper_only(grads, clip_value):
        return G.map_flat(grads, lambda g: np.minimum(g, clip_value))

    def value_zero_to_c(grads, clip_value):
        return G.map_flat(grads, lambda g: np.clip(g, 0.0, clip_value))

    def value_sign(grads, clip_value):
        return G.map_flat(grads, lambda g: np.sign(g) * clip_value)

    def value_by_norm(grads, clip_value):
        total = G.global_norm(grads)
        return G.map_flat(grads, lambda g: g * min(1.0, clip_value / (total + EPS)))

    def value_bounds_swapped(grads, clip_value):
        return G.map_flat(grads, lambda g: np.clip(g, clip_value, -clip_value))

    def value_per_array_max(grads, clip_value):
        def f(g):
            m = np.abs(g).max() if g.size else 0.0
            return g * (clip_value / m) if m > clip_value else g
        return G.map_flat(grads, f)

    value_mistakes = [
        G.Mistake("the gradients come back unchanged", "build NEW arrays np.clip(g, -clip_value, "
                  "clip_value) and return those (in the same kind of container as grads).",
                  fn=value_unchanged),
        G.Mistake("only the upper bound is applied", "clamp both sides: entries below -clip_value "
                  "become -clip_value, e.g. np.clip(g, -clip_value, clip_value).", fn=value_upper_only),
        G.Mistake("clamped to [0, clip_value]", "the interval is symmetric: [-clip_value, clip_value]; "
                  "negative gradients stay negative.", fn=value_zero_to_c),
        G.Mistake("every entry set to +-clip_value", "only entries OUTSIDE [-clip_value, clip_value] "
                  "change; entries inside are kept as they are.", fn=value_sign),
        G.Mistake("rescaled by the global norm", "that is clip_by_global_norm; clip_by_value clamps "
                  "each entry on its own.", fn=value_by_norm),
        G.Mistake("each array rescaled so that its largest entry is clip_value", "value clipping does "
                  "not rescale: it clamps the entries that are too large and leaves the others alone.",
                  fn=value_per_array_max),
        # keras-team/keras#734 ("Fix order of signs of clipvalue"): the bounds given as (max, min)
        G.Mistake("the bounds are in the wrong order", "np.clip(g, a_min, a_max) takes the LOWER "
                  "bound first: np.clip(g, -clip_value, clip_value); with the bounds swapped NumPy "
                  "sets every entry to a_max.", fn=value_bounds_swapped),
        G.Mistake("the gradients were modified in place", "np.clip(g, lo, hi, out=g), g[...] = ... or "
                  "g *= ... change the caller's arrays; compute new ones (np.clip(g, lo, hi)).",
                  error=G.MUTATION_ERROR),
    ]

    def value_visible():
        rng = np.random.default_rng(40)
        return [G.core("RNNParams gradients (D=3, H=4), clip_value=1", rnn_grads(rng, 3, 4, 2.0), 1.0),
                G.case("a list of two arrays, clip_value=0.5", [rng.normal(size=(2, 3)), rng.normal(size=5)],
                       0.5)]

    def value_hidden(rng):
        return [
            G.case("all entries inside the bounds (nothing changes)", rnn_grads(rng, 2, 3, 0.1), 5.0),
            G.case("every entry outside the bounds", rnn_grads(rng, 3, 2, 1.0)._replace(
                U=np.full((2, 3), -7.0), W=np.full((2, 2), 9.0), b=np.array([3.0, -3.0])), 2.0),
            G.case("a dict of gradients, clip_value=0.3", {"U": rng.normal(size=(4, 2)),
                                                           "W": rng.normal(size=(4, 4)),
                                                           "b": rng.normal(size=4)}, 0.3),
            G.case("a tuple of one (1, 1) array, clip_value=2", (np.array([[-5.0]]),), 2.0),
            G.case("GRUParams with b_hn=None (passed through)",
                   GRUParams(rng.normal(size=(6, 3)), 4 * rng.normal(size=(6, 2)), rng.normal(size=6)), 1.5),
            G.case("large gradients (exploding), clip_value=10", rnn_grads(rng, 5, 6, 1e4), 10.0),
            G.case("clip_value given by keyword", [rng.normal(size=(3, 3))], clip_value=0.7),
        ]

    # ---------------------------------------------------------------- clip_by_global_norm
    def norm_ref(grads, max_norm):
        return rc.clipping.clip_by_global_norm(grads, max_norm)

    def norm_unchanged(grads, max_norm):
        return G.map_flat(grads, lambda g: g), G.global_norm(grads)

    def norm_per_array(grads, max_norm):
        def f(g):
            n = float(np.sqrt(np.sum(g * g)))
            return g * min(1.0, max_norm / (n + EPS))
        return G.map_flat(grads, f), G.global_norm(grads)

    def norm_always(grads, max_norm):
        total = G.global_norm(grads)
        return G.map_flat(grads, lambda g: g * (max_norm / (total + EPS))), total

    def norm_reversed(grads, max_norm):
        total = G.global_norm(grads)
        coef = max_norm / (total + EPS) if total < max_norm else 1.0
        return G.map_flat(grads, lambda g: g * coef), total

    def norm_by_value(grads, max_norm):
        return G.map_flat(grads, lambda g: np.clip(g, -max_norm, max_norm)), G.global_norm(grads)

    def norm_no_sqrt(grads, max_norm):
        total = G.global_norm(grads) ** 2
        return G.map_flat(grads, lambda g: g * min(1.0, max_norm / (total + EPS))), total

    def norm_after(grads, max_norm):
        total = G.global_norm(grads)
        coef = min(1.0, max_norm / (total + EPS))
        return G.map_flat(grads, lambda g: g * coef), total * coef

    def norm_sum_of_norms(grads, max_norm):
        total = float(sum(np.sqrt(np.sum(g * g)) for g in G.flat_arrays(grads)))
        return G.map_flat(grads, lambda g: g * min(1.0, max_norm / (total + EPS))), total

    def norm_inverse(grads, max_norm):
        total = G.global_norm(grads)
        coef = min(1.0, total / max_norm)
        return G.map_flat(grads, lambda g: g * coef), total

    norm_mistakes = [
        G.Mistake("the gradients come back unchanged", "when the norm exceeds max_norm, multiply every "
                  "array by max_norm / (total_norm + 1e-6) and return the NEW arrays.", fn=norm_unchanged),
        G.Mistake("each array clipped by its own norm", "the norm is GLOBAL: total_norm = sqrt(sum of "
                  "the squares of ALL entries of ALL arrays), and every array is scaled by the same "
                  "factor, so the direction of the whole gradient is kept.", fn=norm_per_array),
        G.Mistake("the gradients are always rescaled to norm max_norm", "scale only when total_norm > "
                  "max_norm: the factor is min(1, max_norm / (total_norm + 1e-6)); small gradients are "
                  "left alone.", fn=norm_always),
        G.Mistake("the condition is reversed", "clip when the norm is ABOVE max_norm; below it, return "
                  "the gradients unchanged.", fn=norm_reversed),
        G.Mistake("clipped by value instead of by norm", "np.clip(g, -max_norm, max_norm) is "
                  "clip_by_value; here every array is multiplied by one common factor.", fn=norm_by_value),
        G.Mistake("forgot the square root", "total_norm = sqrt(sum_k sum(g_k**2)), not the sum of "
                  "squares.", fn=norm_no_sqrt),
        G.Mistake("returned the norm after clipping", "total_norm is the norm BEFORE clipping (it is "
                  "what you log to spot exploding gradients).", fn=norm_after),
        G.Mistake("the factor is upside down", "the factor is max_norm / total_norm (at most 1), so "
                  "the clipped norm becomes max_norm.", fn=norm_inverse),
        # apache/mxnet#9291: clip_global_norm documented as bounding "the sum of their 2-norm"
        G.Mistake("the norms of the arrays were added up", "the global norm is the norm of all "
                  "entries together: sqrt(sum_k sum(g_k**2)), not sum_k ||g_k|| (which is larger "
                  "and clips too much).", fn=norm_sum_of_norms),
        G.Mistake("the gradients were modified in place", "g *= scale or g[...] = ... change the "
                  "caller's arrays; compute new ones: g * scale.", error=G.MUTATION_ERROR),
    ]

    def norm_visible():
        rng = np.random.default_rng(41)
        return [G.core("RNNParams gradients with norm above max_norm=1", rnn_grads(rng, 3, 4, 1.0), 1.0),
                G.case("a list of two arrays with norm below max_norm=100",
                       [rng.normal(size=(2, 3)), rng.normal(size=5)], 100.0)]

    def norm_hidden(rng):
        one_big = [np.full((3, 3), 0.01), np.array([10.0, -20.0]), np.full(4, 0.02)]
        return [
            G.case("one large array among small ones (global, not per array)", one_big, 5.0),
            G.case("a dict of gradients, max_norm=0.5", {"U": rng.normal(size=(4, 2)),
                                                        "W": rng.normal(size=(4, 4)),
                                                        "b": rng.normal(size=4)}, 0.5),
            G.case("GRUParams with b_hn=None (passed through)",
                   GRUParams(rng.normal(size=(6, 3)), rng.normal(size=(6, 2)), rng.normal(size=6)), 2.0),
            G.case("norm below max_norm (nothing changes)", rnn_grads(rng, 2, 5, 0.1), 3.0),
            G.case("a tuple of one (1, 1) array", (np.array([[-8.0]]),), 2.0),
            G.case("exploding gradients (norm ~ 1e5), max_norm=5", rnn_grads(rng, 4, 3, 1e4), 5.0),
            G.case("all-zero gradients (norm 0)", [np.zeros((2, 2)), np.zeros(3)], 1.0),
            G.case("max_norm given by keyword", [rng.normal(size=(3, 3)), rng.normal(size=3)], max_norm=0.25),
        ]

    # ---------------------------------------------------------------- init_rnn_params (irnn)
    def init_ref(D, H, rng, scheme="xavier"):
        return rc.initializers.init_rnn_params(D, H, rng, scheme)

    def _gen(rng):
        return np.random.default_rng(rng)        # an int seed or a Generator (returned as it is)

    def init_w_zero(D, H, rng, scheme="xavier"):
        return RNNParams(_gen(rng).normal(0.0, 1e-3, (H, D)), np.zeros((H, H)), np.zeros(H))

    def init_w_random(D, H, rng, scheme="xavier"):
        r = _gen(rng)
        return RNNParams(r.normal(0.0, 1e-3, (H, D)), r.normal(0.0, 1e-3, (H, H)), np.zeros(H))

    def init_w_ones(D, H, rng, scheme="xavier"):
        return RNNParams(_gen(rng).normal(0.0, 1e-3, (H, D)), np.ones((H, H)), np.zeros(H))

    def init_u_std1(D, H, rng, scheme="xavier"):
        return RNNParams(_gen(rng).normal(size=(H, D)), np.eye(H), np.zeros(H))

    def init_u_var(D, H, rng, scheme="xavier"):
        return RNNParams(_gen(rng).normal(0.0, np.sqrt(1e-3), (H, D)), np.eye(H), np.zeros(H))

    def init_u_transposed_draw(D, H, rng, scheme="xavier"):
        return RNNParams(_gen(rng).normal(0.0, 1e-3, (D, H)).T.copy(), np.eye(H), np.zeros(H))

    def init_u_zero(D, H, rng, scheme="xavier"):
        return RNNParams(np.zeros((H, D)), np.eye(H), np.zeros(H))

    def init_u_uniform(D, H, rng, scheme="xavier"):
        return RNNParams(_gen(rng).uniform(-1e-3, 1e-3, (H, D)), np.eye(H), np.zeros(H))

    def init_legacy(D, H, rng, scheme="xavier"):
        if not isinstance(rng, (int, np.integer)):
            raise TypeError("not an int seed")
        return RNNParams(1e-3 * np.random.RandomState(int(rng)).randn(H, D), np.eye(H), np.zeros(H))

    def init_bias_one(D, H, rng, scheme="xavier"):
        return RNNParams(_gen(rng).normal(0.0, 1e-3, (H, D)), np.eye(H), np.ones(H))

    init_mistakes = [
        G.Mistake("W is all zeros", "the IRNN recipe sets W = I (np.eye(H)), so that with ReLU and no "
                  "input the state is copied unchanged from step to step.", fn=init_w_zero),
        G.Mistake("W is random", "W is not drawn at all: it is exactly the identity, np.eye(H). "
                  "Only U is random.", fn=init_w_random),
        G.Mistake("W is all ones", "the identity has ones on the diagonal only: np.eye(H), not "
                  "np.ones((H, H)).", fn=init_w_ones),
        G.Mistake("U drawn from N(0, 1)", "the input weights are tiny: standard deviation 0.001, "
                  "rng.normal(0.0, 0.001, size=(H, D)).", fn=init_u_std1),
        G.Mistake("0.001 used as the variance", "0.001 is the standard deviation (the scale argument of "
                  "rng.normal), not the variance.", fn=init_u_var),
        G.Mistake("U drawn with shape (D, H) and transposed", "draw U directly with size=(H, D) (one "
                  "row per hidden unit) so that your numbers match the course's for the same seed.",
                  fn=init_u_transposed_draw),
        G.Mistake("U is all zeros", "U is random, N(0, 0.001^2): with U = 0 the input never reaches "
                  "the state.", fn=init_u_zero),
        G.Mistake("U drawn from a uniform distribution", "IRNN draws U from a normal distribution: "
                  "rng.normal(0.0, 0.001, size=(H, D)).", fn=init_u_uniform),
        G.Mistake("the legacy global generator (np.random.seed / np.random.randn) was used",
                  "use the Generator: rng = np.random.default_rng(rng) (this accepts an int seed and "
                  "returns a Generator unchanged), then rng.normal(...).", fn=init_legacy),
        G.Mistake("b is not zero", "IRNN starts with b = 0 (np.zeros(H)).", fn=init_bias_one),
    ]

    def init_visible():
        return [G.core("D=3, H=4, seed 0", 3, 4, 0, "irnn"),
                G.case("D=2, H=2, seed 7, scheme by keyword", 2, 2, 7, scheme="irnn")]

    def init_hidden(rng):
        gen = np.random.default_rng(int(rng.integers(1000)))
        return [G.case("D=1, H=1", 1, 1, int(rng.integers(1000)), "irnn"),
                G.case("D=5, H=3 (D != H)", 5, 3, int(rng.integers(1000)), "irnn"),
                G.case("D=2, H=6", 2, 6, int(rng.integers(1000)), scheme="irnn"),
                G.case("rng is a numpy Generator, D=4, H=4", 4, 4, gen, "irnn"),
                G.case("D=10, H=20", 10, 20, int(rng.integers(1000)), "irnn")]

    # ---------------------------------------------------------------- hidden_gradient_norms
    def flow_ref(x, h0, params, cell="rnn", *, seed=0, dh_last=None):
        return rc.gradient_flow.hidden_gradient_norms(x, h0, params, cell, seed=seed, dh_last=dh_last)

    def _act(cell):
        if cell == "rnn":
            return np.tanh, lambda h: 1.0 - h * h
        return (lambda a: np.maximum(a, 0.0)), (lambda h: (h > 0).astype(np.float64))

    def _direction(N, H, seed, dh_last):
        if dh_last is not None:
            return np.asarray(dh_last, dtype=np.float64)
        g = np.random.default_rng(seed).normal(size=(N, H))
        return g / np.linalg.norm(g, axis=1, keepdims=True)

    def _flow(cell, x, params, h0, seed, dh_last, *, variant=""):
        """The measurement, with one deliberate deviation named by ``variant``."""
        U, W, b = params
        N, T, _ = x.shape
        H = W.shape[0]
        f, fprime = _act("rnn" if variant == "always_tanh" else cell)
        h = np.zeros((N, H)) if (h0 is None or variant == "ignore_h0") else h0
        states = []
        for t in range(T):
            h = f(x[:, t] @ U.T + h @ W.T + b)
            states.append(h)
        dh = _direction(N, H, seed, None if variant == "ignore_dh_last" else dh_last)
        if dh_last is None and variant in ("unnormalised", "whole_norm", "legacy"):
            g = (np.random.RandomState(seed).randn(N, H) if variant == "legacy"
                 else np.random.default_rng(seed).normal(size=(N, H)))
            dh = {"unnormalised": g, "whole_norm": g / np.linalg.norm(g),
                  "legacy": g / np.linalg.norm(g, axis=1, keepdims=True)}[variant]
        norms = np.empty(T)
        for t in range(T - 1, -1, -1):
            if variant == "frobenius":
                norms[t] = np.linalg.norm(dh)
            elif variant == "sum":
                norms[t] = np.linalg.norm(dh, axis=1).sum()
            elif variant != "after":
                norms[t] = np.linalg.norm(dh, axis=1).mean()
            dnet = dh if variant == "no_fprime" else dh * fprime(states[t])
            dh = dnet @ (W.T if variant == "transposed" else W)
            if variant == "after":
                norms[t] = np.linalg.norm(dh, axis=1).mean()
        if variant == "reversed":
            norms = norms[::-1].copy()
        return norms

    def _variant(name):
        def fn(x, h0, params, cell="rnn", *, seed=0, dh_last=None):
            return _flow(cell, x, params, h0, seed, dh_last, variant=name)
        return fn

    flow_mistakes = [
        G.Mistake("the order of the norms is reversed", "norms[k - 1] belongs to h_k: the LAST entry "
                  "is ||dL/dh_T|| (1 for the default direction) and the first is ||dL/dh_1||.",
                  fn=_variant("reversed")),
        G.Mistake("off by one: each norm was recorded after stepping back", "record ||dh|| for h_k "
                  "first, then backpropagate through step k to get the gradient for h_{k-1}; "
                  "dL/dh_0 is not part of the result.", fn=_variant("after")),
        G.Mistake("forgot the derivative of the activation", "each step back multiplies by "
                  "diag(f'(net_t)) W, not by W alone: dh_prev = (dh * f'(net_t)) @ W; for tanh "
                  "f' = 1 - h_t**2, for relu f' = (h_t > 0).", fn=_variant("no_fprime")),
        G.Mistake("W transposed in the step back", "h_t = f(x_t @ U.T + h_prev @ W.T + b), so "
                  "dh_prev = dnet @ W (no .T).", fn=_variant("transposed")),
        G.Mistake("one norm over the whole batch", "take the norm of each sequence's row, "
                  "np.linalg.norm(dh, axis=1), then the mean over the batch.", fn=_variant("frobenius")),
        G.Mistake("norms summed over the batch", "average the per-sequence norms over the N sequences "
                  "(.mean()), do not sum them.", fn=_variant("sum")),
        G.Mistake("h0 is ignored", "start the forward pass from h0 (zeros only when h0 is None).",
                  fn=_variant("ignore_h0")),
        G.Mistake("cell='rnn_relu' is computed with tanh", "for cell='rnn_relu' the activation is "
                  "relu, max(net, 0), and its derivative is (h_t > 0).", fn=_variant("always_tanh")),
        G.Mistake("the default direction is not normalised", "when dh_last is None, draw g = "
                  "np.random.default_rng(seed).normal(size=(N, H)) and divide each row by its norm.",
                  fn=_variant("unnormalised")),
        G.Mistake("each row divided by the norm of the whole matrix", "np.linalg.norm(g) is one "
                  "number for all N rows; normalise each sequence's row on its own: "
                  "g / np.linalg.norm(g, axis=1, keepdims=True).", fn=_variant("whole_norm")),
        G.Mistake("dh_last is ignored", "use the given dh_last as dL/dh_T; draw the random "
                  "direction only when dh_last is None.", fn=_variant("ignore_dh_last")),
        G.Mistake("the default direction drawn from the legacy global generator",
                  "draw it with g = np.random.default_rng(seed).normal(size=(N, H)), not "
                  "np.random.seed(seed) / np.random.randn: they give other numbers.",
                  fn=_variant("legacy")),
    ]

    def flow_inputs(rng, N, T, D, H, scale=0.5, h0=True, dh_last=True):
        x = rng.normal(size=(N, T, D))
        params = RNNParams(rng.normal(0, scale, (H, D)), rng.normal(0, scale, (H, H)), rng.normal(0, 0.1, H))
        h = np.tanh(rng.normal(size=(N, H))) if h0 else None
        g = rng.normal(size=(N, H)) if dh_last else None
        return x, params, h, g

    def flow_case(label, rng, cell, N, T, D, H, scale=0.5, h0=True, dh_last=True, seed=None):
        x, params, h, g = flow_inputs(rng, N, T, D, H, scale, h0, dh_last)
        kwargs = {"dh_last": g} if dh_last else {}
        if seed is not None:
            kwargs["seed"] = seed
        return G.case(label, x, h, params, cell, **kwargs)

    def flow_visible():
        rng = np.random.default_rng(43)
        return [G.as_core(flow_case("tanh, N=2, T=5, D=3, H=4, dh_last given", rng, "rnn", 2, 5, 3, 4)),
                flow_case("relu, N=3, T=4, D=2, H=3, dh_last given", rng, "rnn_relu", 3, 4, 2, 3)]

    def flow_hidden(rng):
        return [flow_case("T=1", rng, "rnn", 2, 1, 3, 2),
                flow_case("N=1, D != H", rng, "rnn", 1, 6, 5, 2),
                flow_case("h0=None", rng, "rnn", 2, 4, 2, 3, h0=False),
                flow_case("relu with h0=None", rng, "rnn_relu", 2, 5, 3, 3, h0=False),
                flow_case("large weights (tanh saturates: the norms vanish)", rng, "rnn", 3, 12, 2, 4,
                          scale=3.0),
                flow_case("default direction (dh_last=None, seed=0)", rng, "rnn", 3, 5, 2, 4, dh_last=False),
                flow_case("default direction, seed=5", rng, "rnn_relu", 2, 6, 3, 5, dh_last=False, seed=5)]

    flow_allow = ("rnncourse.rnn", "rnncourse.activations")

    return {
        "clip_by_value": G.Spec(value_ref, value_visible, value_hidden, value_mistakes),
        "clip_by_global_norm": G.Spec(norm_ref, norm_visible, norm_hidden, norm_mistakes, rtol=1e-5,
                                      output_names=("clipped", "total_norm")),
        "init_rnn_params": G.Spec(init_ref, init_visible, init_hidden, init_mistakes),
        "hidden_gradient_norms": G.Spec(flow_ref, flow_visible, flow_hidden, flow_mistakes,
                                        allow=flow_allow),
    }
