"""Tests of assignment 10_seq2seq, read by ``rnncourse.grading`` (see its docstring).

``build(rc, G)`` returns one ``G.Spec`` per graded function: the reference (from ``rc``, a
private copy of rnncourse), visible and hidden test cases, and the common mistakes that the
feedback recognises.  Only NumPy is imported here; everything else comes through ``rc``/``G``.

Graded: ``attention_step_forward`` and ``attention_step_backward`` (additive attention, one
decoder step), ``decoder_step_forward`` (GRU decoder with attention; it calls the student's
attention step), ``beam_search`` (it calls the student's decoder step) and ``train_step``
(one Adam update; its hidden tests include a 250-step training run on the dates, scored on
held-out dates by the grader's own greedy decoder, its last step and :data:`RUN_CHECKED` others
drawn from the hidden seed compared with the course's step, so that the model it ends with is
the student's own steps').
"""
import numpy as np

#: The graded functions in notebook order: (points of the visible cell, of the hidden cell).
#: The notebook's test cells are generated from this table (rnncourse.grading.cells).
POINTS = {
    "attention_step_forward": (3, 4),
    "attention_step_backward": (3, 4),
    "decoder_step_forward": (2, 3),
    "beam_search": (3, 4),
    "train_step": (2, 3),
}

#: the training run of train_step's hidden tests (the run of chapter 10 on its page)
TRAIN_STEPS, TRAIN_SEED, TRAIN_BATCH, TRAIN_HIDDEN, TRAIN_LR = 250, 1, 64, 32, 1e-2
#: held-out dates it is scored on, and the exact match it must reach
HELD_OUT_N, HELD_OUT_SEED, REQUIRED_EXACT_MATCH = 500, 2024, 0.90
#: steps of that run (besides the last) compared with the course's step, drawn from the hidden seed
RUN_CHECKED = 24


def build(rc, G):
    AttentionParams = rc.attention.AttentionParams
    Grads = rc.attention.AttentionStepGrads
    Seq2SeqParams = rc.seq2seq.Seq2SeqParams
    Encoded = rc.seq2seq.Encoded

    def as_rc(p):
        """The model as this copy's classes (a notebook's or the codec's containers work too)."""
        return Seq2SeqParams(rc.gru.GRUParams(*p.encoder), rc.gru.GRUParams(*p.decoder),
                             AttentionParams(*p.attention), rc.output.OutputParams(*p.output))

    def softmax_rows(e):
        w = np.exp(e - e.max(axis=1, keepdims=True))
        return w / w.sum(axis=1, keepdims=True)

    def att_params(rng, Hd, He, A, scale=0.5):
        return G.random_params(rng, AttentionParams, (A, Hd), (A, He), (A,), (A,), scale=scale)

    def mask_of(rng, N, S, padded):
        if not padded:
            return None
        lengths = rng.integers(1, S + 1, size=N)
        lengths[0] = max(1, S - 2)                       # at least one row with padding
        return np.arange(S)[None, :] < lengths[:, None]

    def fwd_inputs(rng, N, S, Hd, He, A, padded=False, scale=0.5, h_scale=1.0):
        p = att_params(rng, Hd, He, A, scale)
        s_prev = np.tanh(rng.normal(size=(N, Hd)))
        h = h_scale * np.tanh(rng.normal(size=(N, S, He)))
        keys, _ = rc.attention.attention_keys(h, p)
        return s_prev, h, keys, mask_of(rng, N, S, padded), p

    # ---------------------------------------------------------------- attention_step_forward
    def fwd_ref(s_prev, h, keys, mask, params):
        return rc.attention.attention_step_forward(s_prev, h, keys, mask, params)[:2]

    def _fwd(s_prev, h, keys, mask, params, *, use_mask=True, axis=1, extra_b=False, squash=True,
             values="h", pad_score=-np.inf, query=True):
        W_a, _U_a, v, b = params
        z = keys + (b if extra_b else 0.0)
        if query:
            z = (s_prev @ W_a.T)[:, None, :] + z
        e = (np.tanh(z) if squash else z) @ v
        if mask is not None and use_mask:
            e = np.where(mask, e, pad_score)
        if axis == 1:
            alpha = softmax_rows(e)
        else:
            w = np.exp(e - e.max(axis=0, keepdims=True))
            alpha = w / w.sum(axis=0, keepdims=True)
        vals = h if values == "h" else keys
        return np.einsum("ns,nsh->nh", alpha, vals), alpha

    def fv(**kw):
        return lambda s_prev, h, keys, mask, params: _fwd(s_prev, h, keys, mask, params, **kw)

    # sources: the mask ignored, tensorflow/tensorflow#43941 (TensorFlow's NMT tutorial);
    # padding scored 0, georg-wolflein/good-features#1 and hyunwoongko/transformer#10
    fwd_mistakes = [
        G.Mistake("the mask is ignored", "padding positions must get weight 0: set their scores "
                  "to -inf before the softmax, e = np.where(mask, e, -np.inf), when mask is not "
                  "None.", fn=fv(use_mask=False)),
        G.Mistake("padding scores set to 0 instead of -inf", "a score of 0 still gets the weight "
                  "exp(0) / sum: give padding the score -np.inf, so that its weight is exactly 0.",
                  fn=fv(pad_score=0.0)),
        G.Mistake("softmax over the wrong axis", "the weights of one decoder step sum to 1 over "
                  "the S source positions: normalise along axis=1 of the (N, S) scores, not over "
                  "the batch.", fn=fv(axis=0)),
        G.Mistake("the bias b added twice", "the keys are already U_a h + b: the score is "
                  "v . tanh(W_a s_prev + keys), with no second + b.", fn=fv(extra_b=True)),
        G.Mistake("no tanh in the scores", "e = tanh(W_a s_prev + keys) @ v: the tanh makes the "
                  "score a small one-layer network of the query and the key.", fn=fv(squash=False)),
        G.Mistake("the context averages the keys, not the encoder states", "the context is "
                  "sum_s alpha_s h_s, a weighted mean of the VALUES h (N, S, He), not of the keys.",
                  fn=fv(values="keys")),
        G.Mistake("the query is ignored", "every score depends on the decoder's state: add "
                  "(s_prev @ W_a.T)[:, None, :] to the keys before the tanh.", fn=fv(query=False)),
        G.Mistake("W_a used without transposing", "W_a has shape (A, Hd), one row per attention "
                  "unit: the query term is s_prev @ W_a.T.", error=G.MATMUL_ERROR),
    ]

    def fwd_visible():
        rng = np.random.default_rng(101)
        return [G.core("N=2, S=4, Hd=3, He=5, A=6, no mask", *fwd_inputs(rng, 2, 4, 3, 5, 6)),
                G.case("N=3, S=5, Hd=4, He=3, A=2, with padding", *fwd_inputs(rng, 3, 5, 4, 3, 2, True))]

    def fwd_hidden(rng):
        return [G.case("N=1, S=1, Hd=2, He=2, A=3 (one source position)", *fwd_inputs(rng, 1, 1, 2, 2, 3)),
                G.case("N=4, S=6, Hd=3, He=4, A=5, with padding", *fwd_inputs(rng, 4, 6, 3, 4, 5, True)),
                G.case("N=2, S=3, Hd=4, He=4, A=4 (Hd == He == A)", *fwd_inputs(rng, 2, 3, 4, 4, 4)),
                G.case("N=3, S=7, Hd=2, He=3, A=4, large weights (peaked weights)",
                       *fwd_inputs(rng, 3, 7, 2, 3, 4, scale=4.0)),
                G.case("N=5, S=4, Hd=3, He=2, A=3, with padding, large states",
                       *fwd_inputs(rng, 5, 4, 3, 2, 3, True, h_scale=5.0)),
                G.case("N=1, S=8, Hd=5, He=3, A=2", *fwd_inputs(rng, 1, 8, 5, 3, 2))]

    # ---------------------------------------------------------------- attention_step_backward
    def bwd_case(rng, label, N, S, Hd, He, A, padded=False, scale=0.5, dalpha=False, core=False):
        s_prev, h, keys, mask, p = fwd_inputs(rng, N, S, Hd, He, A, padded, scale)
        _, _, cache = rc.attention.attention_step_forward(s_prev, h, keys, mask, p)
        dcontext = rng.normal(size=(N, He))
        da = rng.normal(size=(N, S)) if dalpha else None
        make = G.core if core else G.case
        return make(label, dcontext, da, cache)

    def bwd_ref(dcontext, dalpha, cache):
        return rc.attention.attention_step_backward(dcontext, dalpha, cache)

    def _bwd(dcontext, dalpha, cache, *, softmax="full", use_dalpha=True, dtanh="square",
             dW_T=False, dkeys_sum=False):
        s_prev, h, tanh_z, alpha, W_a, v = cache
        da = np.einsum("nh,nsh->ns", dcontext, h)
        if dalpha is not None and use_dalpha:
            da = da + dalpha
        dh = alpha[:, :, None] * dcontext[:, None, :]
        if softmax == "full":
            de = alpha * (da - (alpha * da).sum(axis=1, keepdims=True))
        elif softmax == "diagonal":
            de = alpha * (1.0 - alpha) * da
        else:                                            # the sum term without alpha
            de = alpha * (da - da.sum(axis=1, keepdims=True))
        dv = np.einsum("ns,nsa->a", de, tanh_z)
        deriv = 1.0 - tanh_z ** 2 if dtanh == "square" else 1.0 - tanh_z
        dz = de[:, :, None] * v * deriv
        dq = dz.sum(axis=1)
        dW = dq.T @ s_prev
        return Grads(dq @ W_a, dh, dz.sum(axis=1) if dkeys_sum else dz, dW.T if dW_T else dW, dv)

    def bv(**kw):
        return lambda dcontext, dalpha, cache: _bwd(dcontext, dalpha, cache, **kw)

    # source: softmax backward as s * (1 - s) only, forums.fast.ai "Gradients for softmax are
    # tiny" (t/18970)
    bwd_mistakes = [
        G.Mistake("softmax backward taken entry by entry", "alpha_s depends on EVERY score: "
                  "de = alpha * (da - sum_s(alpha * da)), not alpha * (1 - alpha) * da (that is "
                  "only the diagonal of the Jacobian).", fn=bv(softmax="diagonal")),
        G.Mistake("the softmax's sum term misses alpha", "the term subtracted is the weighted sum "
                  "sum_s alpha_s da_s: de = alpha * (da - (alpha * da).sum(axis=1, keepdims=True)).",
                  fn=bv(softmax="no_alpha")),
        G.Mistake("dalpha ignored", "when dalpha is not None, add it to the gradient that reaches "
                  "the weights through the context: da = dcontext . h_s + dalpha.",
                  fn=bv(use_dalpha=False)),
        G.Mistake("tanh' written as 1 - tanh", "the derivative of tanh(z) is 1 - tanh(z)**2: "
                  "dz = de[:, :, None] * v * (1 - tanh_z ** 2).", fn=bv(dtanh="linear")),
        G.Mistake("dW_a transposed", "dW_a has W_a's shape (A, Hd): dW_a = dq.T @ s_prev, with "
                  "dq = dz summed over the source positions (N, A).", fn=bv(dW_T=True)),
        G.Mistake("dkeys summed over the source positions", "every source position has its own "
                  "key: dkeys = dz has shape (N, S, A); only the query's gradient dq sums over s.",
                  fn=bv(dkeys_sum=True)),
        G.Mistake("ds_prev computed with W_a.T", "the query term is s_prev @ W_a.T, so "
                  "ds_prev = dq @ W_a (A, Hd), without a transpose.", error=G.MATMUL_ERROR),
    ]

    def bwd_gradcheck(student_fn, c, out):
        """Central differences of L = sum(dcontext * context) + sum(dalpha * alpha)."""
        dcontext, dalpha, cache = c.args
        if cache.h.size > 40:
            return None
        s_prev, h, tanh_z, alpha, W_a, v = cache
        mask = alpha > 0
        # the keys the forward pass used: arctanh(tanh_z) minus the query term
        keys = np.arctanh(tanh_z) - (s_prev @ W_a.T)[:, None, :]
        p0 = AttentionParams(W_a, np.zeros((W_a.shape[0], h.shape[2])), v, np.zeros(v.shape[0]))

        def loss(s_prev, h, keys, W_a, v):
            ctx, al, _ = rc.attention.attention_step_forward(s_prev, h, keys, mask,
                                                             p0._replace(W_a=W_a, v=v))
            return float((dcontext * ctx).sum() + (0.0 if dalpha is None else (dalpha * al).sum()))

        g = out
        return G.gradient_check(loss, {"s_prev": s_prev, "h": h, "keys": keys, "W_a": W_a, "v": v},
                                {"s_prev": g.ds_prev, "h": g.dh, "keys": g.dkeys, "W_a": g.dW_a,
                                 "v": g.dv}, tol=1e-5)

    def bwd_visible():
        rng = np.random.default_rng(102)
        return [bwd_case(rng, "N=2, S=4, Hd=3, He=5, A=6, no mask", 2, 4, 3, 5, 6, core=True),
                bwd_case(rng, "N=3, S=5, Hd=4, He=3, A=2, with padding and dalpha", 3, 5, 4, 3, 2,
                         True, dalpha=True)]

    def bwd_hidden(rng):
        return [bwd_case(rng, "N=1, S=2, Hd=2, He=2, A=3 (gradient checked)", 1, 2, 2, 2, 3),
                bwd_case(rng, "N=2, S=3, Hd=2, He=3, A=2, with dalpha (gradient checked)",
                         2, 3, 2, 3, 2, dalpha=True),
                bwd_case(rng, "N=2, S=4, Hd=3, He=2, A=2, with padding (gradient checked)",
                         2, 4, 3, 2, 2, True),
                bwd_case(rng, "N=4, S=6, Hd=3, He=4, A=5, with padding and dalpha", 4, 6, 3, 4, 5,
                         True, dalpha=True),
                bwd_case(rng, "N=3, S=5, Hd=4, He=4, A=4 (Hd == He == A)", 3, 5, 4, 4, 4),
                bwd_case(rng, "N=2, S=7, Hd=2, He=3, A=4, large weights", 2, 7, 2, 3, 4, scale=3.0)]

    # ---------------------------------------------------------------- decoder_step_forward
    def model(rng, Ks, K, H, A, scale=0.5):
        p = rc.seq2seq.init_seq2seq(Ks, K, H, rng, "gru", attention=True, attention_size=A)
        return rc.tree.tree_map(lambda _l, x: None if x is None else
                                x + rng.normal(0, scale, x.shape), p)

    def encoded(rng, params, N, S, Ks, padded):
        src = rng.integers(1, Ks, size=(N, S))
        mask = mask_of(rng, N, S, padded)
        if mask is None:
            mask = np.ones((N, S), dtype=bool)
        enc, _ = rc.seq2seq.encode(params, src, mask, "gru")
        return enc

    def dec_inputs(rng, N, S, Ks, K, H, A, padded=False, scale=0.5, first=False):
        params = model(rng, Ks, K, H, A, scale)
        enc = encoded(rng, params, N, S, Ks, padded)
        y_prev = np.full(N, 0) if first else rng.integers(0, K, size=N)
        s_prev = enc.state[0] if first else np.tanh(rng.normal(size=(N, H)))
        return y_prev, s_prev, enc, params

    def dec_ref(y_prev, s_prev, enc, params):
        scores, state, alpha, _ = rc.seq2seq.decoder_step_forward(
            y_prev, (s_prev,), Encoded(*enc), as_rc(params), "gru")
        return scores, state[0], alpha

    def _dec(y_prev, s_prev, enc, params, *, in_order="xc", out_order="sc", out_state="s",
             use_mask=True, bias=True, return_prev=False):
        K = params.output.V.shape[0]
        x = np.eye(K)[y_prev]
        a = params.attention
        context, alpha, _ = rc.attention.attention_step_forward(
            s_prev, enc.h, enc.keys, enc.mask if use_mask else None, a)
        inp = np.concatenate([x, context] if in_order == "xc" else [context, x], axis=1)
        s, _ = rc.gru.gru_step_forward(inp, s_prev, params.decoder)
        first = s if out_state == "s" else s_prev
        o = np.concatenate([first, context] if out_order == "sc" else [context, first], axis=1)
        scores = o @ params.output.V.T + (params.output.b_y if bias else 0.0)
        return scores, s_prev if return_prev else s, alpha

    def dv_(**kw):
        return lambda y_prev, s_prev, enc, params: _dec(y_prev, s_prev, enc, params, **kw)

    dec_mistakes = [
        G.Mistake("the cell's input is [context; onehot(y_prev)]", "the decoder cell reads "
                  "[onehot(y_prev); context]: the K one-hot columns first (params.decoder.U's "
                  "first K columns), then the H context features.", fn=dv_(in_order="cx")),
        G.Mistake("the output layer reads [context; s]", "the scores are V [s; context] + b_y: the "
                  "new state first, then the context.", fn=dv_(out_order="cs")),
        G.Mistake("the output layer reads the previous state", "the scores come from the NEW "
                  "state s (after the GRU step) and the context: V [s; context] + b_y.",
                  fn=dv_(out_state="s_prev")),
        G.Mistake("enc.mask not passed to the attention", "pass enc.mask to attention_step_forward "
                  "so that the source's padding gets weight 0.", fn=dv_(use_mask=False)),
        G.Mistake("forgot the output bias b_y", "scores = o @ V.T + b_y.", fn=dv_(bias=False)),
        G.Mistake("the previous state returned", "return the new state s that the GRU step "
                  "computed (it is the next step's s_prev).", fn=dv_(return_prev=True)),
    ]

    def dec_visible():
        rng = np.random.default_rng(103)
        return [G.core("N=2, S=4, K=5, H=3, A=4, first step (y_prev = EOS, s_prev = enc.state)",
                       *dec_inputs(rng, 2, 4, 6, 5, 3, 4, first=True)),
                G.case("N=3, S=5, K=4, H=2, A=3, with padding",
                       *dec_inputs(rng, 3, 5, 5, 4, 2, 3, padded=True))]

    def dec_hidden(rng):
        return [G.case("N=1, S=1, K=3, H=2, A=2", *dec_inputs(rng, 1, 1, 4, 3, 2, 2)),
                G.case("N=4, S=6, K=6, H=3, A=5, with padding", *dec_inputs(rng, 4, 6, 7, 6, 3, 5, True)),
                G.case("N=2, S=3, K=4, H=4, A=4 (K == H == A)", *dec_inputs(rng, 2, 3, 5, 4, 4, 4)),
                G.case("N=3, S=5, K=7, H=3, A=2, large weights",
                       *dec_inputs(rng, 3, 5, 6, 7, 3, 2, scale=2.0)),
                G.case("N=2, S=6, K=5, H=2, A=3, first step, with padding",
                       *dec_inputs(rng, 2, 6, 4, 5, 2, 3, padded=True, first=True))]

    # ---------------------------------------------------------------- beam_search
    def beam_ref(params, src, eos, max_len, beam_width=4, alpha=0.0):
        best = rc.decoding.beam_search(as_rc(params), src, eos, max_len, beam_width, alpha,
                                       "gru")[0]
        return best.tokens, best.log_prob

    def _beam(params, src, eos, max_len, k, alpha, *, accumulate=True, log_probs=True, axis=1,
              norm="power", width=True):
        """An independent beam search (rnncourse.decoding's algorithm), configurable."""
        enc, _ = rc.seq2seq.encode(params, src[None, :], None, "gru")
        K = params.output.V.shape[0]
        k = k if width else 1
        live, s, finished = [([], 0.0)], enc.state[0], []
        for t in range(max_len):
            B = len(live)
            encB = Encoded(np.repeat(enc.h, B, 0), np.repeat(enc.keys, B, 0),
                           np.repeat(enc.mask, B, 0), None)
            y_prev = np.array([tk[-1] if tk else eos for tk, _ in live], dtype=np.int64)
            scores, (s_new,), _, _ = rc.seq2seq.decoder_step_forward(y_prev, (s,), encB, params, "gru")
            if log_probs:
                z = scores - scores.max(axis=axis, keepdims=True)
                lp = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
            else:
                lp = scores
            before = np.array([p for _, p in live])[:, None] if accumulate else 0.0
            total = (before + lp).ravel()
            keep, rows = [], []
            for idx in np.argsort(-total, kind="stable")[:k]:
                b, tok = divmod(int(idx), K)
                toks = live[b][0] + [tok]
                if tok == eos or t == max_len - 1:
                    finished.append((toks, float(total[idx])))
                else:
                    keep.append((toks, float(total[idx])))
                    rows.append(b)
            if not keep:
                break
            live, s = keep, s_new[rows]
        power = {"power": alpha, "none": 0.0, "one": 1.0}[norm]
        best = max(finished, key=lambda f: f[1] / len(f[0]) ** power)
        return np.array(best[0], dtype=np.int64), best[1]

    def bmv(**kw):
        def fn(params, src, eos, max_len, beam_width=4, alpha=0.0):
            return _beam(params, src, eos, max_len, beam_width, alpha, **kw)
        return fn

    # sources: no length normalisation, batra-mlp-lab/visdial#5; log_prob / L where L ** alpha
    # was meant, OpenNMT/OpenNMT-py#2201
    beam_mistakes = [
        G.Mistake("length normalisation ignored", "pick the finished hypothesis with the largest "
                  "log_prob / L ** alpha (L counts its symbols, EOS included), not the largest "
                  "log_prob.", fn=bmv(norm="none")),
        G.Mistake("divided by L instead of L ** alpha", "the score is log_prob / L ** alpha: "
                  "alpha = 0 means no normalisation, alpha = 1 the mean per symbol.",
                  fn=bmv(norm="one")),
        G.Mistake("log-probabilities not accumulated", "a prefix's score is the SUM of the "
                  "log-probabilities of all its symbols: add the parent's log_prob to this step's "
                  "log-probabilities before choosing the best k.", fn=bmv(accumulate=False)),
        G.Mistake("raw scores used instead of log-probabilities", "turn the decoder's scores into "
                  "log-probabilities (log-softmax over the K symbols) before adding them up.",
                  fn=bmv(log_probs=False)),
        G.Mistake("log-softmax over the wrong axis", "the scores are (B, K), one row per live "
                  "prefix: normalise each row over its K symbols (axis=1).", fn=bmv(axis=0)),
        G.Mistake("beam_width ignored (greedy search)", "keep the beam_width best extensions at "
                  "every step, over all live prefixes, not only the single best one.",
                  fn=bmv(width=False)),
    ]

    def tokens_of(params, src, eos, max_len, k, alpha, **kw):
        return tuple(_beam(params, src, eos, max_len, k, alpha, **kw)[0])

    def bcase(rng, label, S, Ks, K, H, A, max_len, k, alpha=None, scale=1.5, eos=0, core=False,
              wider=False):
        """A random model and source; with ``alpha`` (or ``wider``) the first of up to 200 draws
        on which length normalisation (or a beam wider than 1) changes the answer."""
        for _ in range(200):
            params = model(rng, Ks, K, H, A, scale)
            src = rng.integers(1, Ks, size=S)
            a = 0.0 if alpha is None else alpha
            best = tokens_of(params, src, eos, max_len, k, a)
            ok = not wider or best != tokens_of(params, src, eos, max_len, 1, a)
            if alpha is not None:
                ok = ok and best != tokens_of(params, src, eos, max_len, k, a, norm="none")
                if alpha != 1.0:
                    ok = ok and best != tokens_of(params, src, eos, max_len, k, a, norm="one")
            if ok:
                break
        args = (params, src, eos, max_len, k) + (() if alpha is None else (alpha,))
        return (G.core if core else G.case)(label, *args)

    def beam_visible():
        rng = np.random.default_rng(104)
        return [bcase(rng, "S=4, K=4, H=3, beam_width=3, max_len=5", 4, 5, 4, 3, 3, 5, 3, core=True,
                      wider=True),
                bcase(rng, "S=3, K=5, H=3, beam_width=2, max_len=4, alpha=1.0", 3, 5, 5, 3, 2, 4, 2,
                      1.0, eos=2)]

    def beam_hidden(rng):
        return [bcase(rng, "beam_width=1 (greedy), S=5, K=4, max_len=6", 5, 6, 4, 3, 3, 6, 1),
                bcase(rng, "beam_width=4, alpha=0.7, S=4, K=5, max_len=6", 4, 5, 5, 4, 3, 6, 4, 0.7),
                bcase(rng, "beam_width=64 >= K**max_len (exhaustive), S=3, K=4, max_len=3", 3, 4, 4,
                      3, 2, 3, 64, eos=1, wider=True),
                bcase(rng, "beam_width=3, alpha=1.0, S=6, K=6, max_len=7", 6, 7, 6, 3, 4, 7, 3, 1.0,
                      eos=3),
                bcase(rng, "max_len=1 (one symbol), beam_width=2", 2, 4, 4, 2, 2, 1, 2),
                bcase(rng, "beam_width=2, alpha=0.5, S=2, K=3, max_len=8, small weights", 2, 3, 3, 2,
                      2, 8, 2, 0.5, scale=0.8),
                bcase(rng, "beam_width=5, S=5, K=5, max_len=6 (better than greedy)", 5, 6, 5, 3, 3, 6,
                      5, wider=True)]

    # ---------------------------------------------------------------- train_step
    Adam = rc.optim
    src_vocab, tgt_vocab = rc.dates.date_vocabularies()

    def date_batch(g, n=TRAIN_BATCH, split="train"):
        return rc.seqpairs.encode_pairs(*rc.dates.date_pairs(n, g, split=split), src_vocab, tgt_vocab)

    def train_ref(params, state, batch, lr=0.01, clip=5.0):
        loss, grads = rc.seq2seq.seq2seq_loss(as_rc(params), batch, "gru")
        grads, _ = rc.clipping.clip_by_global_norm(grads, clip)
        new, st = Adam.adam_step(params, grads, state, lr)
        return new, st, loss * batch.y_mask.shape[0] / batch.y_mask.sum()

    def _train(params, state, batch, lr, clip, *, do_clip=True, pass_lr=True, per="symbol",
               reset=False):
        loss, grads = rc.seq2seq.seq2seq_loss(params, batch, "gru")
        if reset:
            state = Adam.adam_init(params)
        if do_clip:
            grads, _ = rc.clipping.clip_by_global_norm(grads, clip)
        new, st = Adam.adam_step(params, grads, state, lr) if pass_lr else \
            Adam.adam_step(params, grads, state)
        scale = {"symbol": batch.y_mask.shape[0] / batch.y_mask.sum(), "sequence": 1.0}[per]
        return new, st, loss * scale

    def tv(**kw):
        def fn(params, state, batch, lr=0.01, clip=5.0):
            return _train(params, state, batch, lr, clip, **kw)
        return fn

    train_mistakes = [
        G.Mistake("the gradient is not clipped", "clip the gradients' global norm before the "
                  "update: grads, norm = clip_by_global_norm(grads, clip).", fn=tv(do_clip=False)),
        G.Mistake("lr not passed to adam_step", "adam_step(params, grads, state, lr): its default "
                  "learning rate 1e-3 is not this function's lr.", fn=tv(pass_lr=False)),
        G.Mistake("the loss is per sequence, not per target symbol", "seq2seq_loss sums over a "
                  "sequence's target symbols and averages over N: multiply by N and divide by "
                  "the number of target symbols that count, batch.y_mask.sum().",
                  fn=tv(per="sequence")),
        G.Mistake("the Adam state is started afresh", "pass the state you are given to adam_step "
                  "and return the new one: adam_init belongs before the first step only, or the "
                  "moments and the step count t never build up.", fn=tv(reset=True)),
    ]

    def small_model(rng, H=4, scale=0.3):
        return model(rng, src_vocab.size, tgt_vocab.size, H, H, scale)

    def tcase(rng, label, n, H=4, t=0, core=False, **kw):
        params = small_model(rng, H)
        state = Adam.adam_init(params)
        if t:
            state = state._replace(t=t, m=rc.tree.tree_map(
                lambda _l, x: None if x is None else 0.01 * rng.normal(size=x.shape), state.m),
                v=rc.tree.tree_map(lambda _l, x: None if x is None else
                                   1e-4 * rng.normal(size=x.shape) ** 2, state.v))
        batch = date_batch(rng, n)
        return (G.core if core else G.case)(label, params, state, batch, **kw)

    RUN_LABEL = (f"training run: {TRAIN_STEPS} steps of {TRAIN_BATCH} dates (H={TRAIN_HIDDEN}, seed "
                 f"{TRAIN_SEED}), held-out exact match >= {REQUIRED_EXACT_MATCH:.2f}")

    def run_case():
        params = rc.seq2seq.init_seq2seq(src_vocab.size, tgt_vocab.size, TRAIN_HIDDEN, 0, "gru")
        g = np.random.default_rng(TRAIN_SEED)
        return G.case(RUN_LABEL, params, Adam.adam_init(params), date_batch(g), TRAIN_LR, 5.0)

    #: steps of the run compared with the course's step, besides the last (drawn by train_hidden
    #: from the hidden seed, so a notebook cannot tell which): the model the run ends with must be
    #: the student's own steps', not one made elsewhere and returned along the way
    run_checks = {"steps": range(2, TRAIN_STEPS + 1)}

    def layout(tree):
        return [(lab, path, None if x is None else np.shape(x), isinstance(x, np.ndarray) or x is None)
                for lab, path, x in rc.tree.tree_leaves(tree, "new")]

    def same_step(got, want):
        """None when got == want (params, state[, loss]) within the case tolerances, else which
        part differs."""
        for name, a, b in zip(("new_params", "new_state", "loss"), got, want):
            la, lb = rc.tree.tree_leaves(a), rc.tree.tree_leaves(b)
            if len(la) != len(lb) or not all(
                    (x is None) == (y is None) and (x is None or np.shape(x) == np.shape(y) and
                                                    np.allclose(x, y, rtol=1e-7, atol=1e-9))
                    for (_, _, x), (_, _, y) in zip(la, lb)):
                return name
        return None

    def training_run(student_fn, c, out):
        """After the first step (compared above): the other steps with the student's function,
        fresh batches from the same generator, then greedy exact match on held-out dates; when
        that is reached, the last step and the secret steps of ``run_checks`` compared with the
        course's step (or a catalogued mistake's) on the same inputs."""
        if c.label != RUN_LABEL:
            return None
        g = np.random.default_rng(TRAIN_SEED)
        date_batch(g)                                    # the first batch, already used
        params, state = out[0], out[1]
        want, kept = layout((params, state)), []
        for step in range(2, TRAIN_STEPS + 1):
            batch = date_batch(g)
            try:
                new = student_fn(params, state, batch, TRAIN_LR, 5.0)
            except (Exception, G._TimeLimit) as err:  # noqa: BLE001 - the student's error
                late = isinstance(err, G._TimeLimit)
                return (f"step {step} of the training run " + ("took longer than the time limit"
                        if late else f"raised {type(err).__name__}: {str(err)[:300]}"))
            if not (isinstance(new, tuple) and len(new) == 3) or layout(new[:2]) != want:
                return (f"step {step} of the training run returned {G.describe(new)}, not "
                        f"(new_params, new_state, loss) shaped like the parameters and state it "
                        f"was given")
            if step in run_checks["steps"] or step == TRAIN_STEPS:
                kept.append((step, (params, state, batch), new))
            params, state = new[0], new[1]
        held_out = date_batch(HELD_OUT_SEED, HELD_OUT_N, "test")
        em = rc.decoding.exact_match(as_rc(params), held_out, "gru", eos=tgt_vocab.eos_index)
        if em < REQUIRED_EXACT_MATCH:
            return (f"after {TRAIN_STEPS} steps your model writes {em:.1%} of {HELD_OUT_N} held-out "
                    f"dates exactly; at least {REQUIRED_EXACT_MATCH:.0%} was required (the course's "
                    f"train_step reaches 93.8% on this run)")
        # a real step: the course's, or one with a catalogued mistake (a run without clipping
        # that still learns keeps its points, as before); the loss does not steer the run
        real = [train_ref] + [m.fn for m in train_mistakes if m.fn is not None]
        for step, inputs, new in kept:
            part = same_step(new[:2], train_ref(*inputs, TRAIN_LR, 5.0)[:2])
            if part is not None and all(same_step(new[:2], fn(*inputs, TRAIN_LR, 5.0)[:2])
                                        for fn in real[1:]):
                return (f"your model writes {em:.1%} of the held-out dates exactly, but step {step} "
                        f"of the training run is not one step of train_step on what it was given: "
                        f"its {part} differs from the course's (in the steps checked, a few of the "
                        f"run's and the last). Every step of the run must be a real step.")
        return None

    def train_visible():
        rng = np.random.default_rng(105)
        return [tcase(rng, "first step from adam_init, N=3 dates, H=4", 3, core=True),
                tcase(rng, "step t=6, N=2 dates, H=3, lr=0.05, clip=0.5 (the clipping bites)", 2,
                      H=3, t=5, lr=0.05, clip=0.5)]

    def train_hidden(rng):
        cases = [tcase(rng, "N=1 date, H=2, first step", 1, H=2),
                 tcase(rng, "N=4 dates, H=3, t=10, clip=1.0", 4, H=3, t=10, clip=1.0),
                 tcase(rng, "N=2 dates, H=4, lr=0.002, clip=100 (no clipping)", 2, lr=0.002,
                       clip=100.0),
                 G.as_core(run_case())]
        run_checks["steps"] = set((rng.permutation(TRAIN_STEPS - 2)[:RUN_CHECKED] + 2).tolist())
        return cases

    return {
        "attention_step_forward": G.Spec(fwd_ref, fwd_visible, fwd_hidden, fwd_mistakes,
                                         output_names=("context", "alpha")),
        "attention_step_backward": G.Spec(bwd_ref, bwd_visible, bwd_hidden, bwd_mistakes,
                                          extra=[bwd_gradcheck],
                                          shared="de, the gradient of the scores (softmax backward)"),
        "decoder_step_forward": G.Spec(dec_ref, dec_visible, dec_hidden, dec_mistakes,
                                       allow=("rnncourse.gru.gru_step_forward",),
                                       output_names=("scores", "s", "alpha"),
                                       depends=("attention_step_forward",)),
        "beam_search": G.Spec(beam_ref, beam_visible, beam_hidden, beam_mistakes,
                              allow=("rnncourse.seq2seq.encode",),
                              output_names=("tokens", "log_prob"),
                              depends=("decoder_step_forward",)),
        "train_step": G.Spec(train_ref, train_visible, train_hidden, train_mistakes,
                             allow=("rnncourse.seq2seq.seq2seq_loss",
                                    "rnncourse.clipping.clip_by_global_norm",
                                    "rnncourse.optim.adam_step", "rnncourse.optim.adam_init"),
                             extra=[training_run], output_names=("new_params", "new_state", "loss")),
    }
