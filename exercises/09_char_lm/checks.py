"""Tests of assignment 09_char_lm, read by ``rnncourse.grading`` (see its docstring).

``build(rc, G)`` returns one ``G.Spec`` per graded function: the reference (from ``rc``, a
private copy of rnncourse), visible and hidden test cases, and the common mistakes that the
feedback recognises.  Only NumPy is imported here; everything else comes through ``rc``/``G``.

Graded: ``charlm_loss`` (vanilla tanh RNN only), ``adam_step``, ``train_model`` (a training run,
judged by the held-out loss per character its parameters reach, measured here: below
:data:`TRAIN_LOSS_BELOW`; and they must be the run of the case's arguments, :data:`SAME_RUN`, so
that a model trained elsewhere or kept from another call scores nothing) and ``sample`` (cell
"rnn").
Students may call the building blocks of earlier assignments (``rnncourse.rnn`` forward and
backward, ``rnncourse.text``: Vocabulary methods and ``one_hot``), never ``rnncourse.charlm``,
``rnncourse.optim`` or ``rnncourse.output``.
"""
import numpy as np

#: The graded functions in notebook order: (points of the visible cell, of the hidden cell).
#: The notebook's test cells are generated from this table (rnncourse.grading.cells).
POINTS = {
    "charlm_loss": (3, 4),
    "adam_step": (2, 3),
    "train_model": (2, 2),
    "sample": (3, 4),
}

#: train_model's cases train on the first TRAIN_CHARS characters of the course's Shakespeare and
#: pass when the trained model's loss per character on the rest (13,889 characters it never
#: saw), computed by the grader, is below TRAIN_LOSS_BELOW nats (untrained: log 59 = 4.08; the
#: course's loop reaches 2.20-2.31 after 150 steps, over 16 seeds, H = 32 or 48, windows of
#: 16 x 25 or 8 x 50 characters).
TRAIN_CHARS = 50_000
TRAIN_LOSS_BELOW = 2.5
#: and the parameters must be the run these arguments give (the recipe is deterministic: the
#: course's loop and the notebook's agree exactly): at most this far from the course's run, as a
#: fraction of how far that run moved from its initial model (a model trained elsewhere, with
#: another seed or kept from another call, is more than 1 away)
SAME_RUN = 1e-3


#: what the student's code may call in rnncourse (the outermost call counts)
ALLOW = ("rnncourse.rnn.rnn_forward", "rnncourse.rnn.rnn_backward", "rnncourse.rnn.rnn_step_forward",
         "rnncourse.text")
#: what train_model may call besides: the helpers the notebook imports for the training run
TRAIN_ALLOW = ALLOW + ("rnncourse.charlm.init_charlm", "rnncourse.corpus.batches",
                       "rnncourse.clipping.clip_by_global_norm", "rnncourse.optim.adam_init")


def build(rc, G):
    RNNParams = rc.rnn.RNNParams
    OutputParams = rc.output.OutputParams
    CharLMParams = rc.charlm.CharLMParams
    AdamState = rc.optim.AdamState
    Vocabulary = rc.text.Vocabulary

    def model(rng, K, H, scale=0.5):
        return CharLMParams(RNNParams(rng.normal(0, scale, (H, K)), rng.normal(0, scale, (H, H)),
                                      rng.normal(0, scale, H)),
                            OutputParams(rng.normal(0, scale, (K, H)), rng.normal(0, scale, K)))

    def softmax(z, axis=-1):
        e = np.exp(z - z.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    # ---------------------------------------------------------------- charlm_loss
    own = {cls.__name__: cls for cls in (CharLMParams, RNNParams, OutputParams, AdamState)}

    def as_rc(tree):
        """The same containers in the private copy's classes (a notebook builds them with the
        imported package's: init_charlm and adam_init in train_model)."""
        cls = own.get(type(tree).__name__)
        if cls is not None and getattr(type(tree), "_fields", None) == cls._fields:
            return cls(*(as_rc(v) for v in tree))
        if isinstance(tree, dict):
            return {k: as_rc(v) for k, v in tree.items()}
        if isinstance(tree, (list, tuple)) and not hasattr(tree, "_fields"):
            return type(tree)(as_rc(v) for v in tree)
        return tree

    def loss_ref(params, x_idx, y_idx, cell="rnn", h0=None):
        return rc.charlm.charlm_loss(as_rc(params), x_idx, y_idx, cell, h0)

    def _loss(params, x_idx, y_idx, h0, *, targets=None, divide="N", axis=-1, grad_divide=None,
              last="last", use_h0=True, db_axes=(0, 1), dV_spec="ntk,nth->kh"):
        """A configurable version of the loss: the correct one with the defaults."""
        K = params.output.V.shape[0]
        N, T = x_idx.shape
        x = np.eye(K)[x_idx]
        h, cache = rc.rnn.rnn_forward(x, h0 if use_h0 else None, params.cell)
        V, b_y = params.output
        scores = h @ V.T + b_y
        y = y_idx if targets is None else targets
        p = softmax(scores, axis)
        picked = np.take_along_axis(p, y[..., None], axis=-1)[..., 0]
        denom = {"N": N, "sum": 1, "NT": N * T}[divide]
        gdenom = denom if grad_divide is None else {"N": N, "sum": 1, "NT": N * T}[grad_divide]
        loss = float(-np.log(picked).sum() / denom)
        dscores = p.copy()
        np.put_along_axis(dscores, y[..., None], np.take_along_axis(p, y[..., None], axis=-1) - 1.0, axis=-1)
        dscores /= gdenom
        dV = np.einsum(dV_spec, dscores, h)
        db_y = dscores.sum(axis=db_axes)
        dh = dscores @ V
        g = rc.rnn.rnn_backward(dh, cache)
        h_last = {"last": h[:, -1], "first": h[:, 0], "all": h}[last]
        return loss, CharLMParams(g.dparams, OutputParams(dV, db_y)), h_last

    def loss_y_is_x(params, x_idx, y_idx, cell="rnn", h0=None):
        return _loss(params, x_idx, y_idx, h0, targets=x_idx)

    def loss_sum(params, x_idx, y_idx, cell="rnn", h0=None):
        return _loss(params, x_idx, y_idx, h0, divide="sum")

    def loss_mean_nt(params, x_idx, y_idx, cell="rnn", h0=None):
        return _loss(params, x_idx, y_idx, h0, divide="NT")

    def loss_axis_time(params, x_idx, y_idx, cell="rnn", h0=None):
        return _loss(params, x_idx, y_idx, h0, axis=1)

    def loss_grad_not_scaled(params, x_idx, y_idx, cell="rnn", h0=None):
        return _loss(params, x_idx, y_idx, h0, grad_divide="sum")

    def loss_first_state(params, x_idx, y_idx, cell="rnn", h0=None):
        return _loss(params, x_idx, y_idx, h0, last="first")

    def loss_all_states(params, x_idx, y_idx, cell="rnn", h0=None):
        return _loss(params, x_idx, y_idx, h0, last="all")

    def loss_ignore_h0(params, x_idx, y_idx, cell="rnn", h0=None):
        return _loss(params, x_idx, y_idx, h0, use_h0=False)

    loss_mistakes = [
        G.Mistake("the targets are the inputs (y = x)", "the model at step t predicts the NEXT "
                  "character: score the targets y_idx[:, t] = c_{t+1}, not the inputs x_idx.",
                  fn=loss_y_is_x),
        G.Mistake("the loss is not averaged over the N sequences", "sum -log p over the T steps, "
                  "then divide by N (and divide dscores by N too).", fn=loss_sum),
        G.Mistake("averaged over the time steps too", "charlm_loss sums over the T steps and averages "
                  "over the N sequences only (divide by N, not N*T); the per-character loss is "
                  "loss / T, computed by the caller.", fn=loss_mean_nt),
        G.Mistake("softmax over the wrong axis", "the K characters are on the LAST axis of the scores "
                  "(N, T, K): normalise with axis=-1, not over the time steps.", fn=loss_axis_time),
        G.Mistake("the gradient is not divided by N", "the loss is divided by N, so dL/dscores = "
                  "(softmax(o) - onehot(y)) / N.", fn=loss_grad_not_scaled),
        G.Mistake("h_last is the first state", "return the state after the LAST step, h[:, -1], so "
                  "the next window can continue from it.", fn=loss_first_state),
        G.Mistake("h_last is every state", "return only the last state h[:, -1] of shape (N, H), "
                  "not all the states (N, T, H).", fn=loss_all_states),
        G.Mistake("h0 is ignored", "pass the h0 you are given to the RNN (None means zeros).",
                  fn=loss_ignore_h0),
        G.Mistake("db_y summed over the batch only", "b_y is added at every one of the T steps of "
                  "every sequence: db_y = dscores.sum(axis=(0, 1)), shape (K,).",
                  fn=lambda p, x, y, cell="rnn", h0=None: _loss(p, x, y, h0, db_axes=0)),
        G.Mistake("dV transposed", "dV has the shape of V, (K, H): dV = sum over n, t of "
                  "dscores[n, t, :, None] * h[n, t, None, :] (np.einsum(\"ntk,nth->kh\", ...)).",
                  fn=lambda p, x, y, cell="rnn", h0=None: _loss(p, x, y, h0, dV_spec="ntk,nth->hk")),
    ]

    def loss_inputs(rng, N, T, K, H, scale=0.5, h0=False):
        params = model(rng, K, H, scale)
        x_idx = rng.integers(0, K, size=(N, T))
        y_idx = rng.integers(0, K, size=(N, T))
        out = [params, x_idx, y_idx]
        if h0:
            out += ["rnn", np.tanh(rng.normal(size=(N, H)))]
        return out

    def loss_gradcheck(student_fn, c, out):
        params, x_idx, y_idx = c.args[:3]
        h0 = c.args[4] if len(c.args) > 4 else c.kwargs.get("h0")
        if x_idx.size > 8 or params.output.V.size > 24:
            return None
        flat = {"U": params.cell.U, "W": params.cell.W, "b": params.cell.b,
                "V": params.output.V, "b_y": params.output.b_y}

        def loss(U, W, b, V, b_y):
            p = CharLMParams(RNNParams(U, W, b), OutputParams(V, b_y))
            return rc.charlm.charlm_loss(p, x_idx, y_idx, "rnn", h0)[0]

        g = out[1]
        grads = {"U": g.cell.U, "W": g.cell.W, "b": g.cell.b, "V": g.output.V, "b_y": g.output.b_y}
        return G.gradient_check(loss, flat, grads, tol=1e-6)

    def loss_visible():
        rng = np.random.default_rng(9)
        return [G.core("N=2, T=4, K=5, H=3", *loss_inputs(rng, 2, 4, 5, 3)),
                G.case("N=3, T=3, K=4, H=6, with h0", *loss_inputs(rng, 3, 3, 4, 6, h0=True))]

    def loss_hidden(rng):
        return [G.case("N=1, T=1, K=3, H=2 (gradient checked)", *loss_inputs(rng, 1, 1, 3, 2)),
                G.case("N=2, T=3, K=4, H=3 (gradient checked)", *loss_inputs(rng, 2, 3, 4, 3)),
                G.case("N=1, T=7, K=6, H=4", *loss_inputs(rng, 1, 7, 6, 4)),
                G.case("N=4, T=5, K=9, H=5, with h0", *loss_inputs(rng, 4, 5, 9, 5, h0=True)),
                G.case("N=3, T=6, K=7, H=7 (K == H)", *loss_inputs(rng, 3, 6, 7, 7)),
                G.case("N=2, T=4, K=10, H=3, large weights", *loss_inputs(rng, 2, 4, 10, 3, scale=3.0))]

    # ---------------------------------------------------------------- adam_step
    def adam_ref(params, grads, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        return rc.optim.adam_step(as_rc(params), as_rc(grads), as_rc(state), lr, betas, eps)

    def _map(fn, *trees):
        """``fn(*leaves)`` leaf by leaf over trees of one structure (rc.tree.tree_map); None stays."""
        return rc.tree.tree_map(lambda _label, leaf, *rest: None if leaf is None else fn(leaf, *rest),
                                *trees)

    def _adam(params, grads, state, lr, betas, eps, *, correct=(True, True), swap_state=False,
              eps_inside=False, same_t=False, swap_betas=False, v_from_g=False, inplace=False):
        b1, b2 = betas
        if swap_betas:
            b1, b2 = b2, b1
        t = state.t if same_t else state.t + 1
        c1 = 1 - b1 ** t if correct[0] else 1.0
        c2 = 1 - b2 ** t if correct[1] else 1.0
        m = _map(lambda m, g: b1 * m + (1 - b1) * g, state.m, grads)
        v = _map(lambda v, g: b2 * v + (1 - b2) * (g if v_from_g else g * g), state.v, grads)

        def upd(p, m, v):
            with np.errstate(all="ignore"):
                denom = np.sqrt(v / c2 + eps) if eps_inside else np.sqrt(v / c2) + eps
                step = lr * (m / c1) / denom
            if inplace:
                p -= step
                return p
            return p - step

        new = _map(upd, params, m, v)
        return new, AdamState(t, v, m) if swap_state else AdamState(t, m, v)

    def _variant(**kw):
        def fn(params, grads, state, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
            return _adam(params, grads, state, lr, betas, eps, **kw)
        return fn

    adam_mistakes = [
        G.Mistake("no bias correction", "m and v start at zero, so early averages are too small: "
                  "divide by (1 - beta1**t) and (1 - beta2**t) with t = state.t + 1.",
                  fn=_variant(correct=(False, False))),
        G.Mistake("bias correction of v missing", "v_hat = v / (1 - beta2**t) as well as "
                  "m_hat = m / (1 - beta1**t).", fn=_variant(correct=(True, False))),
        G.Mistake("m and v swapped in the returned state", "return AdamState(t, m, v): the first "
                  "moment (mean of g) first, then the second moment (mean of g**2).",
                  fn=_variant(swap_state=True)),
        G.Mistake("eps inside the square root", "the denominator is sqrt(v_hat) + eps, not "
                  "sqrt(v_hat + eps); it matters when the gradients are small.",
                  fn=_variant(eps_inside=True)),
        G.Mistake("the step count t is not incremented", "this call is step t = state.t + 1: use it "
                  "in the bias corrections and return it in the new state.", fn=_variant(same_t=True)),
        G.Mistake("beta1 and beta2 swapped", "betas = (beta1, beta2): beta1 (0.9) averages g into m, "
                  "beta2 (0.999) averages g**2 into v.", fn=_variant(swap_betas=True)),
        G.Mistake("v averages g instead of g**2", "v is the running mean of the SQUARED gradient: "
                  "v = beta2 * v + (1 - beta2) * g * g.", fn=_variant(v_from_g=True)),
        G.Mistake("params changed in place", "write `p - step` (a new array), not `p -= step`: the "
                  "caller's parameters must not change.", fn=_variant(inplace=True),
                  error=r"_Mutation: params"),
    ]

    def adam_case(rng, params, *, t=0, grad_scale=1.0, **kw):
        grads = _map(lambda p: grad_scale * rng.normal(size=p.shape), params)
        if t == 0:
            state = rc.optim.adam_init(params)
        else:
            state = AdamState(t, _map(lambda p: 0.1 * grad_scale * rng.normal(size=p.shape), params),
                              _map(lambda p: (grad_scale * rng.normal(size=p.shape)) ** 2 * 0.05, params))
        return (params, grads, state), kw

    def rnn_params(rng, D, H):
        return RNNParams(rng.normal(size=(H, D)), rng.normal(size=(H, H)), rng.normal(size=H))

    def acase(label, rng, params, **kw):
        args, kwargs = adam_case(rng, params, **kw)
        return G.case(label, *args, **kwargs)

    def adam_visible():
        rng = np.random.default_rng(10)
        return [G.as_core(acase("first step from adam_init, RNNParams (D=3, H=2)", rng, rnn_params(rng, 3, 2))),
                acase("step t=4 with lr=0.01, CharLMParams (K=4, H=3)", rng, model(rng, 4, 3), t=3,
                      lr=0.01)]

    def adam_hidden(rng):
        return [acase("first step, a dict of arrays", rng,
                      {"a": rng.normal(size=(2, 2)), "b": rng.normal(size=3)}),
                acase("t=1 (second step), RNNParams (D=1, H=1)", rng, rnn_params(rng, 1, 1), t=1),
                acase("tiny gradients (1e-5): eps matters", rng, rnn_params(rng, 2, 3), t=2,
                      grad_scale=1e-5),
                acase("betas=(0.8, 0.99), eps=1e-6, lr=0.1", rng, model(rng, 3, 2), t=6, lr=0.1,
                      betas=(0.8, 0.99), eps=1e-6),
                acase("t=100 (bias corrections near 1), CharLMParams (K=5, H=4)", rng, model(rng, 5, 4),
                      t=100, lr=0.002),
                acase("first step, a list of arrays", rng, [rng.normal(size=(3, 1)), rng.normal(size=4)])]

    # ---------------------------------------------------------------- train_model
    text = rc.corpus.load_corpus("shakespeare")
    encoded = Vocabulary.from_text(text).encode(text)
    K_text = int(encoded.max()) + 1
    train_part, held_out = encoded[:TRAIN_CHARS], encoded[TRAIN_CHARS:]

    def train_ref(data, vocab_size, steps=150, hidden=48, batch=16, seq_len=25, lr=0.01, clip=5.0,
                  seed=1):
        gen = np.random.default_rng(seed)
        init = rc.charlm.init_charlm(vocab_size, hidden, gen)
        params, history = rc.charlm.train_charlm(data, None, steps=steps, seq_len=seq_len,
                                                 batch=batch, lr=lr, clip=clip, seed=gen,
                                                 log_every=1, params=init)
        return params, history.loss

    # A training run is judged, not compared (train_judge), so these mistakes carry no fn: the
    # judge names them, re-running the course's loop with the mistake (train_variant) only when a
    # run has failed; the last one is recognised by its error like any other.
    train_mistakes = [
        G.Mistake("the parameters are never updated", "keep what adam_step returns: "
                  "params, state = adam_step(params, grads, state, lr=lr)."),
        G.Mistake("the same windows at every step", "make ONE "
                  "rng = np.random.default_rng(seed) before the loop and draw new windows from it "
                  "at every step, batches(data, batch, seq_len, rng)."),
        G.Mistake("lr is not passed to adam_step", "adam_step's default lr is 0.001, ten times "
                  "smaller than this run's: adam_step(params, grads, state, lr=lr)."),
        G.Mistake("a plain gradient step instead of adam_step", "p - lr * g with lr=0.01 learns far "
                  "too slowly in 150 steps: params, state = adam_step(params, grads, state, lr=lr)."),
        G.Mistake("the hidden argument is ignored", "build the model with "
                  "init_charlm(vocab_size, hidden, rng), not with a fixed hidden size."),
        G.Mistake("the losses are not per character", "charlm_loss sums over the seq_len steps of "
                  "each window: append loss / seq_len of every step."),
        G.Mistake("init_charlm's arguments swapped", "init_charlm(vocab_size, hidden, rng): the "
                  "vocabulary size first, so that the model has one score per character.",
                  error=r"charlm_loss: x_idx must hold character indices in \[0, \d+\)"),
    ]

    def likely(name):
        m = next(m for m in train_mistakes if m.name == name)
        return f"\nLikely mistake:\n  - {m.name}. Hint: {m.hint}"

    def train_variant(data, vocab_size, steps, hidden, batch, seq_len, lr, clip, seed, *, variant):
        """The course's loop with one mistake: "nolr" (adam_step's default lr) or "sgd"."""
        gen = np.random.default_rng(seed)
        params = rc.charlm.init_charlm(vocab_size, hidden, gen)
        state = rc.optim.adam_init(params)
        for _ in range(steps):
            x_idx, y_idx = rc.corpus.batches(data, batch, seq_len, gen)
            _, grads, _ = rc.charlm.charlm_loss(params, x_idx, y_idx)
            grads, _ = rc.clipping.clip_by_global_norm(grads, clip)
            if variant == "sgd":
                params = _map(lambda p, g: p - lr * g, params, grads)
            else:
                params, state = rc.optim.adam_step(params, grads, state)
        return params

    def same_params(a, b):
        return all(np.allclose(x, y, rtol=1e-6, atol=1e-9) for x, y in
                   zip(list(a.cell) + list(a.output), list(b.cell) + list(b.output)))

    def train_judge(c, out, ref):
        """The trained parameters' held-out loss (computed here) and the reported losses."""
        kw = c.kwargs
        K, H, steps, T = c.args[1], kw["hidden"], kw["steps"], kw["seq_len"]
        if not (isinstance(out, tuple) and len(out) == 2):
            return f"train_model must return a pair (params, losses), got {G.describe(out)}"
        params, losses = out
        if not all(getattr(type(p), "_fields", None) == cls._fields for p, cls in
                   ((params, CharLMParams), (getattr(params, "cell", None), RNNParams),
                    (getattr(params, "output", None), OutputParams))):
            return ("params must be CharLMParams(RNNParams(U, W, b), OutputParams(V, b_y)) (what "
                    f"init_charlm returns, updated by adam_step), got {G.describe(params)}")
        want = {"U": (H, K), "W": (H, H), "b": (H,), "V": (K, H), "b_y": (K,)}
        got = dict(zip("UWb", params.cell), V=params.output.V, b_y=params.output.b_y)
        for name, shape in want.items():
            if not isinstance(got[name], np.ndarray) or got[name].shape != shape:
                fixed = name == "U" and np.ndim(got[name]) == 2 and np.shape(got[name])[1] == K
                return (f"params: {name} should be an array of shape {shape} (hidden={H}, "
                        f"vocab_size={K}), got {G.describe(got[name])}"
                        + (likely("the hidden argument is ignored") if fixed else ""))
            if not np.isfinite(got[name]).all():
                return (f"params: {name} holds NaN or inf: training diverged. Clip the gradients "
                        f"with clip_by_global_norm(grads, clip) before every adam_step.")
        params = as_rc(params)
        loss = rc.charlm.evaluate_charlm(params, held_out)
        ref_loss = rc.charlm.evaluate_charlm(ref[0], held_out)
        init = rc.charlm.init_charlm(K, H, np.random.default_rng(kw["seed"]))
        untrained = rc.charlm.evaluate_charlm(init, held_out)
        losses = np.asarray(losses, dtype=np.float64) if isinstance(losses, (list, tuple, np.ndarray)) \
            else None
        said = (f"the loss per character of your trained model on the {held_out.size:,} held-out "
                f"characters is {loss:.3f} nats (untrained: {untrained:.3f}; the course's loop with "
                f"these arguments reaches {ref_loss:.3f}); it must be below {TRAIN_LOSS_BELOW}.")
        recipe = ("\n  Follow the recipe: rng = np.random.default_rng(seed), "
                  "params = init_charlm(vocab_size, hidden, rng), state = adam_init(params), "
                  "then per step batches(data, batch, seq_len, rng), charlm_loss, "
                  "clip_by_global_norm(grads, clip), adam_step(..., lr=lr).")
        if loss >= TRAIN_LOSS_BELOW:
            first = dict(zip("UWb", init.cell), V=init.output.V, b_y=init.output.b_y)
            if all(np.array_equal(got[k], first[k]) for k in want):
                return said + "\n  Your parameters are the initial ones." + likely(
                    "the parameters are never updated")
            if losses is not None and losses.shape == (steps,) and np.isfinite(losses).all() \
                    and losses[-10:].mean() < loss - 1.0:
                return (said + f"\n  Your training losses end at {losses[-10:].mean():.3f}, far "
                        "below that: the model learnt the same windows by heart."
                        + likely("the same windows at every step"))
            for name, variant in (("lr is not passed to adam_step", "nolr"),
                                  ("a plain gradient step instead of adam_step", "sgd")):
                if same_params(params, train_variant(*c.args, **kw, variant=variant)):
                    return said + recipe + likely(name)
            return said + recipe
        if losses is None or losses.shape != (steps,):
            return (f"losses must hold one loss per step, shape ({steps},), got "
                    f"{G.describe(out[1])}")
        reported = float(losses[-10:].mean())
        if not np.isfinite(losses).all() or abs(reported - loss) > 1.0:
            per_char = " (charlm_loss sums over the T steps)" if abs(reported / T - loss) < 1.0 else ""
            return (f"your model trained well ({loss:.3f} nats per character on held-out text), "
                    f"but your losses are not the loss per character of each step: the last 10 "
                    f"average {reported:.3f}. Append loss / seq_len of every step{per_char}."
                    + (likely("the losses are not per character") if per_char else ""))
        flat = lambda p: np.concatenate([np.ravel(x) for x in list(p.cell) + list(p.output)])  # noqa: E731
        off = float(np.linalg.norm(flat(params) - flat(ref[0])) /
                    np.linalg.norm(flat(ref[0]) - flat(init)))
        if not off <= SAME_RUN:
            # an honest loop keeps much of its initial model (correlation about 0.5 after 150
            # steps); a model that started elsewhere has none of it (about 0 +- 0.02)
            weights = lambda p: np.concatenate([np.ravel(p.cell[0]), np.ravel(p.cell[1]),  # noqa: E731
                                                np.ravel(p.output[0])])
            started_here = np.corrcoef(weights(params), weights(init))[0, 1] > 0.2
            why = ("it starts from this seed's initial model, but its windows are not the "
                   "recipe's: draw them with the same rng, after init_charlm" if started_here else
                   "it did not start from init_charlm(vocab_size, hidden, rng) with this seed: a "
                   "model trained elsewhere, or kept from another call, is not this run")
            return (f"your model reaches {loss:.3f} nats per character, but it is not the run of "
                    f"these arguments (seed {kw['seed']}, hidden={H}, batch={kw['batch']}, "
                    f"seq_len={T}), which the recipe makes the same on every machine: {why}."
                    + recipe.replace("Follow", "Follow exactly"))
        return None

    def tcase(label, data, K, core=False, **kw):
        kw = {"steps": 150, "hidden": 48, "batch": 16, "seq_len": 25, "lr": 0.01, "clip": 5.0,
              "seed": 1, **kw}
        return (G.core if core else G.case)(label, data, K, **kw)

    def train_visible():
        return [tcase(f"the first {TRAIN_CHARS:,} characters, 150 steps, seed 1", train_part, K_text,
                      core=True)]

    def train_hidden(rng):
        return [tcase("another seed, H=32", train_part, K_text, hidden=32,
                      seed=int(rng.integers(2, 2**31))),
                tcase("another seed, batch=8, seq_len=50", train_part, K_text, batch=8, seq_len=50,
                      seed=int(rng.integers(2, 2**31)))]

    # ---------------------------------------------------------------- sample
    def sample_ref(params, vocab, n=200, seed=0, temperature=1.0, prefix="", cell="rnn",
                   stop_at_eos=True):
        return rc.charlm.sample(params, vocab, n, seed, temperature, prefix, cell, stop_at_eos)

    def _sample(params, vocab, n, seed, temperature, prefix, stop_at_eos, *, tau_mode="divide",
                greedy=False, feed=True, eos_stop=True, start_eos=True, return_prefix=True,
                feed_prefix=True, keep_eos=False, new_rng=False):
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        U, W, b = params.cell
        V, b_y = params.output
        K, H = V.shape
        eye = np.eye(K)
        h = np.zeros((1, H))
        warm = list(vocab.encode(prefix)) if feed_prefix else []
        if start_eos and vocab.eos_index is not None:
            warm.insert(0, vocab.eos_index)
        for k in warm or [None]:
            x = np.zeros((1, K)) if k is None else eye[k:k + 1]
            h = np.tanh(x @ U.T + h @ W.T + b)
        out = []
        for i in range(n):
            scores = (h @ V.T + b_y)[0]
            if greedy or (tau_mode == "divide" and temperature == 0):
                k = int(np.argmax(scores))
            else:
                z = {"divide": lambda: scores / temperature, "multiply": lambda: scores * temperature,
                     "ignore": lambda: scores}[tau_mode]()
                draw = np.random.default_rng(seed) if new_rng else rng
                k = int(draw.choice(K, p=softmax(z)))
            if stop_at_eos and eos_stop and k == vocab.eos_index:
                if keep_eos:
                    out.append(k)
                break
            out.append(k)
            if feed:
                h = np.tanh(eye[k:k + 1] @ U.T + h @ W.T + b)
        text = vocab.decode(np.array(out, dtype=np.int64))
        return prefix + text if return_prefix else text

    def _svariant(**kw):
        def fn(params, vocab, n=200, seed=0, temperature=1.0, prefix="", cell="rnn", stop_at_eos=True):
            return _sample(params, vocab, n, seed, temperature, prefix, stop_at_eos, **kw)
        return fn

    sample_mistakes = [
        G.Mistake("temperature multiplied instead of divided", "P(k) is proportional to "
                  "exp(o_k / temperature): a temperature below 1 must sharpen the distribution.",
                  fn=_svariant(tau_mode="multiply")),
        G.Mistake("always the most likely character (argmax)", "draw the character at random with "
                  "rng.choice(K, p=p); argmax only when temperature == 0.", fn=_svariant(greedy=True)),
        G.Mistake("the temperature is ignored", "divide the scores by the temperature before the "
                  "softmax (and take the argmax when it is 0).", fn=_svariant(tau_mode="ignore")),
        G.Mistake("the sampled character is not fed back", "after each draw, run one RNN step on "
                  "onehot(k) so the next prediction sees what was just generated.",
                  fn=_svariant(feed=False)),
        G.Mistake("the end-of-sequence symbol is ignored", "when stop_at_eos is True and the draw is "
                  "vocab.eos_index, stop (without adding it to the text).", fn=_svariant(eos_stop=False)),
        G.Mistake("the end-of-sequence symbol is kept in the text", "stop at EOS without appending "
                  "it: the result holds only the characters before it.", fn=_svariant(keep_eos=True)),
        G.Mistake("generation does not start from EOS", "first feed onehot(vocab.eos_index) (the "
                  "'a sequence starts here' context), then the prefix; only a vocabulary without "
                  "EOS and an empty prefix start from the zero vector.", fn=_svariant(start_eos=False)),
        G.Mistake("the prefix is not returned", "return prefix + the generated characters.",
                  fn=_svariant(return_prefix=False)),
        G.Mistake("the prefix is not fed to the model", "run the RNN over the prefix's characters "
                  "(after EOS) before drawing the first new character.", fn=_svariant(feed_prefix=False)),
        G.Mistake("a new generator made at every draw", "np.random.default_rng(seed) inside the loop "
                  "starts the same stream again, so every draw uses the same random number: make "
                  "rng once, before the loop, and call rng.choice at every step.",
                  fn=_svariant(new_rng=True)),
        G.Mistake("the probabilities are not normalised", "rng.choice(K, p=p) needs p to sum to 1: "
                  "divide exp(z - z.max()) by its sum.", error=r"[Pp]robabilities do not sum to 1"),
    ]

    vocab_a = Vocabulary.from_text("the cat sat on the mat")          # EOS "\n" added at index 0
    vocab_b = Vocabulary.from_text("abcab", eos=None)                  # no EOS
    vocab_c = Vocabulary.from_text("to be or not to be\nthat is\n")    # EOS occurs in the text

    def eos_bias(params, shift):
        """The model with the score of symbol 0 (EOS in vocab_a and vocab_c) shifted by ``shift``."""
        b_y = params.output.b_y + shift * np.eye(params.output.b_y.shape[0])[0]
        return params._replace(output=params.output._replace(b_y=b_y))

    def sample_visible():
        rng = np.random.default_rng(11)
        p = eos_bias(model(rng, vocab_a.size, 6, 0.8), -3.0)
        return [G.core("n=25, seed=1, temperature 1", p, vocab_a, 25, 1),
                G.case("n=25, seed=2, temperature 0.5, prefix 'the'", p, vocab_a, 25, 2, 0.5, "the"),
                G.case("n=10, temperature 0 (greedy)", p, vocab_a, 10, 3, 0.0)]

    def sample_hidden(rng):
        pa = eos_bias(model(rng, vocab_a.size, 5, 1.0), -3.0)
        pb = model(rng, vocab_b.size, 4, 0.5)
        pc0 = model(rng, vocab_c.size, 6, 1.0)
        pc, pc_eos = eos_bias(pc0, -2.5), eos_bias(pc0, 1.0)
        return [G.case("seed is a Generator, n=30", pa, vocab_a, 30, np.random.default_rng(int(rng.integers(1000)))),
                G.case("temperature 2, n=30, prefix 'a'", pa, vocab_a, 30, 4, 2.0, "a"),
                G.case("temperature 0.3, n=30", pc, vocab_c, 30, 5, 0.3),
                G.case("stop_at_eos=False, n=40", pc, vocab_c, 40, 6, stop_at_eos=False),
                G.case("EOS is likely: stops early (n=40)", pc_eos, vocab_c, 40, 7, prefix="to "),
                G.case("EOS is likely, stop_at_eos=False: it is kept and generation goes on",
                       pc_eos, vocab_c, 40, 7, prefix="to ", stop_at_eos=False),
                G.case("vocabulary without EOS (starts from the zero vector)", pb, vocab_b, 20, 8),
                G.case("n=0 returns the prefix", pa, vocab_a, 0, 9, 1.0, "cat"),
                G.case("n=1, temperature 0, prefix 'sat'", pa, vocab_a, 1, 10, 0.0, "sat"),
                G.case("keyword arguments, n=20, temperature 1.5", pc, vocab_c, n=20, seed=12,
                       temperature=1.5, prefix="be", cell="rnn", stop_at_eos=True)]

    return {
        "charlm_loss": G.Spec(loss_ref, loss_visible, loss_hidden, loss_mistakes, allow=ALLOW,
                              extra=[loss_gradcheck], output_names=("loss", "grads", "h_last")),
        "adam_step": G.Spec(adam_ref, adam_visible, adam_hidden, adam_mistakes, allow=ALLOW,
                            output_names=("new_params", "new_state")),
        "train_model": G.Spec(train_ref, train_visible, train_hidden, train_mistakes, allow=TRAIN_ALLOW,
                              depends=("charlm_loss", "adam_step"), judge=train_judge),
        "sample": G.Spec(sample_ref, sample_visible, sample_hidden, sample_mistakes, allow=ALLOW),
    }
