r"""An encoder-decoder (sequence-to-sequence) model over any registered cell.

The model (Sutskever, Vinyals & Le 2014; Cho et al. 2014; attention as in
Bahdanau, Cho & Bengio 2015)::

    encoder:  h_s = cell_enc(onehot(x_s), h_{s-1})          s = 1 .. S, h_0 = 0
    decoder:  s_0 = h_S                                     the encoder's final state
              c_t = attention(s_{t-1}, h_1..h_S)            (attention models only)
              s_t = cell_dec([onehot(y_{t-1}); c_t], s_{t-1})
              o_t = V [s_t; c_t] + b_y                      target scores

Where the context enters: as in Bahdanau et al., ``c_t`` is computed from the
*previous* decoder state and fed to the cell's input; as in Luong, Pham &
Manning (2015), it is also concatenated to the state the output layer reads
(``[s_t; c_t]``, without Luong's extra tanh layer).  Without attention
(``params.attention is None``) the decoder sees only ``onehot(y_{t-1})`` and
the output layer only ``s_t``: the whole source must pass through ``s_0``,
the bottleneck of one fixed vector.

For the LSTM the state is ``(h, c)`` and both parts initialise the decoder.
Padding (``src_mask`` False, after the end of a source) freezes the
encoder's state, so ``s_0`` is the state after each sequence's last real
symbol, and attention gives it weight 0.  Batches and their conventions:
:mod:`rnncourse.seqpairs`.  Decoding (greedy, beam search): :mod:`rnncourse.decoding`.

Shapes: src, src_mask (N, S); y_in, y_out, y_mask (N, T); encoder states
(N, S, H); scores (N, T, K); attention weights (N, T, S).  Ks and K are the
source and target vocabulary sizes, H the hidden size of both cells.
"""
from __future__ import annotations

from typing import Any, List, NamedTuple, Optional

import numpy as np

from . import attention as att
from ._validation import ShapeChecker, as_rng
from .cells import Cell, check_cell_params, get_cell
from .initializers import init_output_params
from .output import OutputParams, softmax_cross_entropy
from .tree import tree_map


class Seq2SeqParams(NamedTuple):
    """encoder, decoder: the cell's params (U (kH, Ks) / (kH, K [+ H])); attention:
    AttentionParams or None; output: OutputParams(V (K, H [+ H]), b_y (K,))."""

    encoder: Any
    decoder: Any
    attention: Optional[att.AttentionParams]
    output: OutputParams


class Encoded(NamedTuple):
    """The encoder's result: h (N, S, H), keys (N, S, A) or None, mask (N, S), state."""

    h: np.ndarray
    keys: Optional[np.ndarray]
    mask: np.ndarray
    state: tuple


class DecoderStepCache(NamedTuple):
    """The cell's and attention's caches; o (N, H [+ H]), the output layer's input."""

    cell_cache: Any
    attention_cache: Optional[att.AttentionStepCache]
    o: np.ndarray
    K: int
    params: Any
    cell: Cell


class DecoderStepGrads(NamedTuple):
    """dstate_prev (tuple of (N, H)), dh (N, S, H) through the contexts, dkeys (N, S, A)
    or None, dparams (Seq2SeqParams with encoder None and attention U_a, b None)."""

    dstate_prev: tuple
    dh: Optional[np.ndarray]
    dkeys: Optional[np.ndarray]
    dparams: Seq2SeqParams


class Seq2SeqCache(NamedTuple):
    """Everything :func:`seq2seq_backward` needs; ``alphas`` (N, T, S) for plots."""

    params: Seq2SeqParams
    cell: Cell
    enc_caches: list
    mask: np.ndarray
    keys_cache: Any
    dec_caches: list
    alphas: Optional[np.ndarray]


class Seq2SeqGrads(NamedTuple):
    dparams: Seq2SeqParams                      # a Seq2SeqParams of gradients


def _add(a, b):                     # a + b leaf by leaf; a None: nothing summed yet
    return b if a is None else tree_map(lambda _l, x, y: None if x is None else
                                        (x if y is None else x + y), a, b)


def init_seq2seq(src_size: int, tgt_size: int, hidden: int, rng, cell="gru",
                 attention: bool = True,
                 attention_size: Optional[int] = None) -> Seq2SeqParams:
    """Initial parameters, each part by its usual recipe (the cell's ``init``, Xavier).

    src_size, tgt_size : Ks and K; hidden : H; rng : int seed or Generator;
    attention_size : A (default H).  The decoder cell's input has K + H
    features with attention, K without.
    """
    chk = ShapeChecker("init_seq2seq")
    Ks, K, H = (chk.positive_int(n, v) for n, v in
                (("src_size", src_size), ("tgt_size", tgt_size), ("hidden", hidden)))
    A = H if attention_size is None else \
        chk.positive_int("attention_size", attention_size)
    c = _cell(chk, cell)
    g = as_rng(rng, "init_seq2seq")
    enc = c.init(Ks, H, g)
    dec = c.init(K + (H if attention else 0), H, g)
    a = att.init_attention_params(H, H, A, g) if attention else None
    out = init_output_params(H * (2 if attention else 1), K, g)
    return Seq2SeqParams(enc, dec, a, out)


def _cell(chk: ShapeChecker, cell) -> Cell:
    try:
        return get_cell(cell)
    except ValueError as err:
        chk.fail(str(err).partition(": ")[2])


def _check_params(chk: ShapeChecker, params, c: Cell):
    if not isinstance(params, tuple) or \
            not all(hasattr(params, f) for f in Seq2SeqParams._fields):     # any copy's
        chk.fail(f"params must be Seq2SeqParams (from init_seq2seq), "
                 f"got {type(params).__name__}")
    Ks, H = check_cell_params(chk, params.encoder, c, "params.encoder")
    Dd, Hd = check_cell_params(chk, params.decoder, c, "params.decoder")
    if Hd != H:
        chk.fail(f"params.decoder must have the encoder's hidden size {H}, got {Hd}")
    sub = ShapeChecker(chk.func, H=H)
    V = sub.array("params.output.V", params.output.V, "K Ho")
    sub.array("params.output.b_y", params.output.b_y, "K")
    K, Ho = V.shape
    has_att = params.attention is not None
    if has_att:
        att._check_params(ShapeChecker(chk.func, Hd=H, He=H), params.attention,
                          "params.attention")
    want_D, want_Ho = K + (H if has_att else 0), H * (2 if has_att else 1)
    if Dd != want_D or Ho != want_Ho:
        on = "on" if has_att else "off"
        chk.fail(f"params.decoder.U must have {want_D} columns and params.output.V "
                 f"{want_Ho} (K = {K}, H = {H}, attention {on}), got {Dd} and {Ho}")
    return Ks, K, H


def _check_src(chk: ShapeChecker, src, src_mask, Ks: int):
    src = chk.array("src", src, "N S", dtype="int")
    if src.size and (src.min() < 0 or src.max() >= Ks):
        chk.fail(f"src must hold indices in [0, {Ks}), got values in "
                 f"[{src.min()}, {src.max()}]")
    if src_mask is None:
        return src, np.ones(src.shape, dtype=bool)
    return src, att._check_mask(chk, src_mask, "src_mask")


def encode(params: Seq2SeqParams, src, src_mask, cell="gru"):
    """Run the encoder (and the attention keys, computed once per sequence).

    Returns ``(Encoded(h, keys or None, mask, state), cache)`` (see :class:`Encoded`).
    """
    chk = ShapeChecker("encode")
    c = _cell(chk, cell)
    Ks, _K, H = _check_params(chk, params, c)
    src, m = _check_src(chk, src, src_mask, Ks)
    return _encode(params, src, m, c, Ks, H)


def _encode(params, src, m, c: Cell, Ks: int, H: int):
    N, S = src.shape
    eye = np.eye(Ks)
    state = c.init_state(N, H)
    hs, caches = np.zeros((N, S, H)), []
    for s in range(S):
        h, new, cache = c.step_forward(eye[src[:, s]], state, params.encoder)
        keep = m[:, s, None]
        state = tuple(np.where(keep, a, b) for a, b in zip(new, state))
        hs[:, s] = h
        caches.append(cache)
    keys = kcache = None
    if params.attention is not None:
        keys, kcache = att.attention_keys(hs, params.attention)
    return Encoded(hs, keys, m, state), (caches, kcache)


def _decoder_step(y_prev, state, enc: Encoded, params: Seq2SeqParams, c: Cell, K: int):
    x = np.eye(K)[y_prev]
    acache, alpha, ctx = None, None, None
    if params.attention is not None:
        a = params.attention
        ctx, alpha, acache = att._step_forward(state[0], enc.h, enc.keys, enc.mask,
                                               a.W_a, a.v)
        x = np.concatenate([x, ctx], axis=1)
    h, new_state, ccache = c.step_forward(x, state, params.decoder)
    o = h if ctx is None else np.concatenate([h, ctx], axis=1)
    scores = o @ params.output.V.T + params.output.b_y
    return scores, new_state, alpha, DecoderStepCache(ccache, acache, o, K, params, c)


def _decoder_step_back(dscores, dstate, cache: DecoderStepCache):
    params, c = cache.params, cache.cell
    V = params.output.V
    H = dstate[0].shape[1]
    do = dscores @ V
    dout = OutputParams(dscores.T @ cache.o, dscores.sum(axis=0))
    dnew = (dstate[0] + do[:, :H],) + tuple(dstate[1:])
    dx, dprev, dcell = c.step_backward(dnew, cache.cell_cache)
    dh = dkeys = datt = None
    if cache.attention_cache is not None:
        g = att._step_backward(do[:, H:] + dx[:, cache.K:], None, cache.attention_cache)
        dprev = (dprev[0] + g.ds_prev,) + tuple(dprev[1:])
        dh, dkeys, datt = g.dh, g.dkeys, att.AttentionParams(g.dW_a, None, g.dv, None)
    return DecoderStepGrads(dprev, dh, dkeys, Seq2SeqParams(None, dcell, datt, dout))


def decoder_step_forward(y_prev, state, enc: Encoded, params: Seq2SeqParams,
                         cell="gru"):
    """One decoder step: attention (if any), the cell, the output layer.

    Parameters
    ----------
    y_prev : (N,) int, the previous target symbol (EOS at the first step).
    state : tuple of (N, H) arrays, the decoder's previous state (first ``enc.state``).
    enc : Encoded from :func:`encode` (h (N, S, H), keys (N, S, A), mask (N, S)).
    params : Seq2SeqParams.  cell : name or Cell.

    Returns
    -------
    scores : (N, K); state : tuple of (N, H); alpha : (N, S) or None; cache
    """
    chk = ShapeChecker("decoder_step_forward")
    c = _cell(chk, cell)
    _Ks, K, H = _check_params(chk, params, c)
    chk.dims["H"], chk.source["H"] = H, "params.decoder.W"
    y_prev = chk.array("y_prev", y_prev, "N", dtype="int")
    if y_prev.size and (y_prev.min() < 0 or y_prev.max() >= K):
        chk.fail(f"y_prev must hold indices in [0, {K}), got values in "
                 f"[{y_prev.min()}, {y_prev.max()}]")
    if not isinstance(state, (tuple, list)) or len(state) != len(c.state_names):
        chk.fail(f"state must be a tuple of {len(c.state_names)} arrays "
                 f"{c.state_names}, "
                 f"got {type(state).__name__}")
    state = tuple(chk.array(f"state[{i}]", s, "N H") for i, s in enumerate(state))
    if not isinstance(enc, tuple) or not all(hasattr(enc, f) for f in Encoded._fields):
        chk.fail(f"enc must be the Encoded that encode returns, "
                 f"got {type(enc).__name__}")
    h = chk.array("enc.h", enc.h, "N S H")
    m = att._check_mask(chk, enc.mask, "enc.mask")
    keys = None
    if params.attention is not None:
        keys = chk.array("enc.keys", enc.keys, f"N S {params.attention.v.shape[0]}")
    return _decoder_step(y_prev, state, Encoded(h, keys, m, enc.state), params, c, K)


def decoder_step_backward(dscores, dstate, cache: DecoderStepCache) -> DecoderStepGrads:
    """Backward of :func:`decoder_step_forward`.

    dscores : (N, K); dstate : tuple of (N, H), the gradient reaching the new
    state from later steps.  Returns DecoderStepGrads; its ``dkeys`` go to
    :func:`rnncourse.attention.attention_keys_backward`.
    """
    chk = ShapeChecker("decoder_step_backward")
    chk.cache("cache", cache, DecoderStepCache)
    N, H = cache.o.shape[0], cache.params.decoder.W.shape[1]
    chk = ShapeChecker("decoder_step_backward", N=N, H=H,
                       K=cache.params.output.V.shape[0])
    dscores = chk.array("dscores", dscores, "N K")
    n_state = len(cache.cell.state_names)
    if not isinstance(dstate, (tuple, list)) or len(dstate) != n_state:
        chk.fail(f"dstate must be a tuple of {n_state} arrays "
                 f"{cache.cell.state_names}, got {type(dstate).__name__}")
    dstate = tuple(chk.array(f"dstate[{i}]", s, "N H") for i, s in enumerate(dstate))
    return _decoder_step_back(dscores, dstate, cache)


def seq2seq_forward(params: Seq2SeqParams, src, src_mask, y_in, cell="gru"):
    """Scores of every target step with teacher forcing (the decoder reads ``y_in``).

    Parameters
    ----------
    params : Seq2SeqParams.  src, src_mask : (N, S) int / bool (None: no padding).
    y_in : (N, T) int decoder inputs (EOS, then the target shifted right).
    cell : the cell's name or Cell (the same as at :func:`init_seq2seq`).

    Returns
    -------
    scores : (N, T, K)
    cache : Seq2SeqCache (``cache.alphas`` (N, T, S), None without attention)
    """
    chk = ShapeChecker("seq2seq_forward")
    c = _cell(chk, cell)
    Ks, K, H = _check_params(chk, params, c)
    src, m = _check_src(chk, src, src_mask, Ks)
    y_in = chk.array("y_in", y_in, "N T", dtype="int")
    if y_in.size and (y_in.min() < 0 or y_in.max() >= K):
        chk.fail(f"y_in must hold indices in [0, {K}), got values in "
                 f"[{y_in.min()}, {y_in.max()}]")
    enc, (enc_caches, kcache) = _encode(params, src, m, c, Ks, H)
    N, T = y_in.shape
    scores = np.zeros((N, T, K))
    alphas = np.zeros((N, T, src.shape[1])) if params.attention is not None else None
    state, dec_caches = enc.state, []
    for t in range(T):
        scores[:, t], state, alpha, cache = _decoder_step(y_in[:, t], state, enc,
                                                          params, c, K)
        if alphas is not None:
            alphas[:, t] = alpha
        dec_caches.append(cache)
    return scores, Seq2SeqCache(params, c, enc_caches, m, kcache, dec_caches, alphas)


def seq2seq_backward(dscores, cache: Seq2SeqCache) -> Seq2SeqGrads:
    """Backward through the decoder, the attention and the encoder.

    dscores : (N, T, K).  Returns Seq2SeqGrads(dparams) (a Seq2SeqParams of gradients).
    """
    chk = ShapeChecker("seq2seq_backward")
    chk.cache("cache", cache, Seq2SeqCache)
    p, c = cache.params, cache.cell
    N, S = cache.mask.shape
    T = len(cache.dec_caches)
    dscores = chk.array("dscores", dscores, f"{N} {T} {p.output.V.shape[0]}")
    H = p.output.V.shape[1] // (2 if p.attention is not None else 1)
    dstate = tuple(np.zeros((N, H)) for _ in c.state_names)
    dh_enc = np.zeros((N, S, H))
    dkeys = None if p.attention is None else np.zeros((N, S, p.attention.v.shape[0]))
    dsum = None
    for t in reversed(range(T)):
        g = _decoder_step_back(dscores[:, t], dstate, cache.dec_caches[t])
        dstate, dsum = g.dstate_prev, _add(dsum, g.dparams)
        if g.dh is not None:
            dh_enc += g.dh
            dkeys += g.dkeys
    datt = None                         # the keys' gradients, summed over the steps:
    if p.attention is not None:
        k = att.attention_keys_backward(dkeys, cache.keys_cache)
        dh_enc += k.dh
        datt = dsum.attention._replace(U_a=k.dU_a, b=k.db)
    denc = None
    for s in reversed(range(S)):
        keep = cache.mask[:, s, None]
        dnew = tuple(np.where(keep, d, 0.0) for d in dstate)
        dnew = (dnew[0] + dh_enc[:, s],) + dnew[1:]
        _dx, dprev, dp = c.step_backward(dnew, cache.enc_caches[s])
        dstate = tuple(np.where(keep, 0.0, d) + dpv for d, dpv in zip(dstate, dprev))
        denc = _add(denc, dp)
    return Seq2SeqGrads(Seq2SeqParams(denc, dsum.decoder, datt, dsum.output))


def seq2seq_loss(params: Seq2SeqParams, batch, cell="gru"):
    """Teacher-forced cross-entropy of a :class:`~.seqpairs.Seq2SeqBatch`; its gradient.

    Returns
    -------
    loss : float, summed over the target steps that count (``y_mask``), mean over N
        (:func:`rnncourse.output.softmax_cross_entropy`).
    dparams : Seq2SeqParams of gradients.
    """
    scores, cache = seq2seq_forward(params, batch.src, batch.src_mask, batch.y_in, cell)
    loss, dscores = softmax_cross_entropy(scores, batch.y_out, batch.y_mask)
    return loss, seq2seq_backward(dscores, cache).dparams


# the training loop, in its own module; imported last, as it uses the definitions above
from .seq2seq_train import Seq2SeqHistory, train_seq2seq  # noqa: E402,F401
