r"""Additive (Bahdanau) attention over the encoder's states, forward and backward.

Equations for one decoder step (column-vector form, Bahdanau, Cho & Bengio 2015)::

    e_{t,s}  = v . tanh(W_a s_{t-1} + U_a h_s + b)      score of source position s
    alpha_t  = softmax over s of e_{t,s}                 (padding gets weight 0)
    c_t      = sum_s alpha_{t,s} h_s                     the context vector

``s_{t-1}`` (N, Hd) is the decoder's previous hidden state (the *query*),
``h_s`` (N, S, He) the encoder's states (the *values*).  The term
``U_a h_s + b`` does not depend on t, so it is computed once per source
sequence by :func:`attention_keys` (the *keys*, (N, S, A)) and reused at every
decoder step: a step then costs O(S A) for the scores instead of O(S A He).

Parameters (one row per output unit, as everywhere in the package)::

    W_a (A, Hd)   query projection        U_a (A, He)   key projection
    v   (A,)      scoring vector          b   (A,)      bias

Functions
---------
* :func:`attention_keys` / :func:`attention_keys_backward`: ``U_a h + b``.
* :func:`attention_step_forward` / :func:`attention_step_backward`: one step
  given the keys (what a decoder calls T times).
* :func:`attention_forward` / :func:`attention_backward`: keys and one step in
  one call (one query per sequence), for checks and plots.

The mask ``mask`` (N, S), True on real source symbols, sets the scores of
padding to ``-inf`` before the softmax; every row needs one True entry.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from ._validation import ShapeChecker, as_rng
from .initializers import xavier_uniform


class AttentionParams(NamedTuple):
    """W_a (A, Hd), U_a (A, He), v (A,), b (A,)."""

    W_a: np.ndarray
    U_a: np.ndarray
    v: np.ndarray
    b: np.ndarray


class KeysCache(NamedTuple):
    """h (N, S, He) and U_a (A, He), for :func:`attention_keys_backward`."""

    h: np.ndarray
    U_a: np.ndarray


class KeysGrads(NamedTuple):
    """dh (N, S, He), dU_a (A, He), db (A,)."""

    dh: np.ndarray
    dU_a: np.ndarray
    db: np.ndarray


class AttentionStepCache(NamedTuple):
    """What :func:`attention_step_backward` needs: inputs, tanh(z) (N, S, A), alpha."""

    s_prev: np.ndarray
    h: np.ndarray
    tanh_z: np.ndarray
    alpha: np.ndarray
    W_a: np.ndarray
    v: np.ndarray


class AttentionStepGrads(NamedTuple):
    """ds_prev (N, Hd), dh (N, S, He) via the context only, dkeys (N, S, A), dW_a, dv.
    """

    ds_prev: np.ndarray
    dh: np.ndarray
    dkeys: np.ndarray
    dW_a: np.ndarray
    dv: np.ndarray


class AttentionCache(NamedTuple):
    """Caches of the keys and of the step, for :func:`attention_backward`."""

    keys: KeysCache
    step: AttentionStepCache


class AttentionGrads(NamedTuple):
    """ds_prev (N, Hd), dh (N, S, He) (both paths), dparams (an AttentionParams)."""

    ds_prev: np.ndarray
    dh: np.ndarray
    dparams: AttentionParams


def init_attention_params(Hd: int, He: int, A: int, rng) -> AttentionParams:
    """Xavier-uniform W_a (A, Hd), U_a (A, He) and v (as a (1, A) matrix); b = 0."""
    chk = ShapeChecker("init_attention_params")
    Hd, He, A = (chk.positive_int(n, x) for n, x in (("Hd", Hd), ("He", He), ("A", A)))
    g = as_rng(rng, "init_attention_params")
    return AttentionParams(xavier_uniform((A, Hd), g), xavier_uniform((A, He), g),
                           xavier_uniform((1, A), g)[0], np.zeros(A))


def _check_params(chk: ShapeChecker, params, name: str = "params") -> AttentionParams:
    if not isinstance(params, tuple) or \
            not all(hasattr(params, f) for f in AttentionParams._fields):
        chk.fail(f"{name} must be AttentionParams(W_a, U_a, v, b), "
                 f"got {type(params).__name__}")
    return AttentionParams(chk.array(f"{name}.W_a", params.W_a, "A Hd"),
                           chk.array(f"{name}.U_a", params.U_a, "A He"),
                           chk.array(f"{name}.v", params.v, "A"),
                           chk.array(f"{name}.b", params.b, "A"))


def _check_mask(chk: ShapeChecker, mask, name: str = "mask") -> np.ndarray:
    if mask is None:
        return np.ones((chk.dims["N"], chk.dims["S"]), dtype=bool)
    m = chk.array(name, mask, "N S", dtype="bool").astype(bool)
    empty = ~m.any(axis=1)
    if empty.any():
        chk.fail(f"{name} must have at least one True entry per row, "
                 f"row {int(np.argmax(empty))} has none")
    return m


def attention_keys(h, params: AttentionParams):
    """The keys ``U_a h_s + b`` of every source position, computed once per sequence.

    Parameters
    ----------
    h : (N, S, He) encoder states.
    params : AttentionParams (U_a (A, He) and b (A,) are used).

    Returns
    -------
    keys : (N, S, A)
    cache : KeysCache
    """
    chk = ShapeChecker("attention_keys")
    p = _check_params(chk, params)
    h = chk.array("h", h, "N S He")
    return h @ p.U_a.T + p.b, KeysCache(h, p.U_a)


def attention_keys_backward(dkeys, cache: KeysCache) -> KeysGrads:
    """Backward of :func:`attention_keys`: dkeys (N, S, A) -> KeysGrads(dh, dU_a, db).
    """
    chk = ShapeChecker("attention_keys_backward")
    chk.cache("cache", cache, KeysCache)
    N, S, He = cache.h.shape
    chk = ShapeChecker("attention_keys_backward", N=N, S=S, A=cache.U_a.shape[0])
    dkeys = chk.array("dkeys", dkeys, "N S A")
    flat = dkeys.reshape(-1, dkeys.shape[-1])
    return KeysGrads(dkeys @ cache.U_a, flat.T @ cache.h.reshape(-1, He),
                     flat.sum(axis=0))


def attention_step_forward(s_prev, h, keys, mask, params: AttentionParams):
    """One decoder step of attention: scores, masked softmax, context.

    Parameters
    ----------
    s_prev : (N, Hd) the decoder's previous hidden state (the query).
    h : (N, S, He) encoder states (the values).
    keys : (N, S, A) from :func:`attention_keys` (``U_a h + b``, precomputed once).
    mask : (N, S) bool, True on real source positions, or None (all True).
    params : AttentionParams (W_a and v are used here).

    Returns
    -------
    context : (N, He) ``sum_s alpha[:, s, None] * h[:, s]``
    alpha : (N, S) attention weights (rows sum to 1, 0 on padding), for plotting
    cache : AttentionStepCache
    """
    chk = ShapeChecker("attention_step_forward")
    p = _check_params(chk, params)
    s_prev = chk.array("s_prev", s_prev, "N Hd")
    h = chk.array("h", h, "N S He")
    keys = chk.array("keys", keys, "N S A")
    m = _check_mask(chk, mask)
    return _step_forward(s_prev, h, keys, m, p.W_a, p.v)


def _step_forward(s_prev, h, keys, m, W_a, v):
    """:func:`attention_step_forward` without the checks (the decoder's inner loop)."""
    tanh_z = np.tanh((s_prev @ W_a.T)[:, None, :] + keys)            # (N, S, A)
    e = np.where(m, tanh_z @ v, -np.inf)                              # (N, S)
    w = np.exp(e - e.max(axis=1, keepdims=True))
    alpha = w / w.sum(axis=1, keepdims=True)
    context = np.einsum("ns,nsh->nh", alpha, h)
    return context, alpha, AttentionStepCache(s_prev, h, tanh_z, alpha, W_a, v)


def attention_step_backward(dcontext, dalpha,
                            cache: AttentionStepCache) -> AttentionStepGrads:
    """Backward of :func:`attention_step_forward`.

    Parameters
    ----------
    dcontext : (N, He) gradient of the loss with respect to the context.
    dalpha : (N, S) gradient with respect to the weights (None: zero; only a
        loss on the weights themselves, e.g. a check, produces one).
    cache : AttentionStepCache

    Returns
    -------
    AttentionStepGrads(ds_prev (N, Hd), dh (N, S, He) through the context,
    dkeys (N, S, A), dW_a (A, Hd), dv (A,)); pass dkeys, summed over the steps,
    to :func:`attention_keys_backward` for the rest of dh, dU_a and db.
    """
    chk = ShapeChecker("attention_step_backward")
    chk.cache("cache", cache, AttentionStepCache)
    N, S, He = cache.h.shape
    chk = ShapeChecker("attention_step_backward", N=N, S=S, He=He)
    dcontext = chk.array("dcontext", dcontext, "N He")
    dalpha = None if dalpha is None else chk.array("dalpha", dalpha, "N S")
    return _step_backward(dcontext, dalpha, cache)


def _step_backward(dcontext, dalpha, cache: AttentionStepCache) -> AttentionStepGrads:
    """:func:`attention_step_backward` without the checks."""
    alpha = cache.alpha
    da = np.einsum("nh,nsh->ns", dcontext, cache.h)
    if dalpha is not None:
        da = da + dalpha
    dh = alpha[:, :, None] * dcontext[:, None, :]
    de = alpha * (da - (alpha * da).sum(axis=1, keepdims=True))   # softmax (0: padding)
    dv = np.einsum("ns,nsa->a", de, cache.tanh_z)
    dz = de[:, :, None] * cache.v * (1.0 - cache.tanh_z ** 2)        # (N, S, A)
    dq = dz.sum(axis=1)                                               # (N, A)
    return AttentionStepGrads(dq @ cache.W_a, dh, dz, dq.T @ cache.s_prev, dv)


def attention_forward(s_prev, h, mask, params: AttentionParams):
    """Keys and one attention step in one call (one query per sequence).

    Parameters
    ----------
    s_prev : (N, Hd) query.  h : (N, S, He) encoder states.
    mask : (N, S) bool or None.  params : AttentionParams.

    Returns
    -------
    context : (N, He), alpha : (N, S), cache : AttentionCache
    """
    chk = ShapeChecker("attention_forward")
    _check_params(chk, params)
    chk.array("s_prev", s_prev, "N Hd")
    chk.array("h", h, "N S He")
    _check_mask(chk, mask)
    keys, kcache = attention_keys(h, params)
    context, alpha, scache = attention_step_forward(s_prev, h, keys, mask, params)
    return context, alpha, AttentionCache(kcache, scache)


def attention_backward(dcontext, dalpha, cache: AttentionCache) -> AttentionGrads:
    """Backward of :func:`attention_forward`: AttentionGrads(ds_prev, dh, dparams).

    dcontext : (N, He); dalpha : (N, S) or None.
    """
    chk = ShapeChecker("attention_backward")
    chk.cache("cache", cache, AttentionCache)
    N, S, He = cache.step.h.shape
    chk = ShapeChecker("attention_backward", N=N, S=S, He=He)
    dcontext = chk.array("dcontext", dcontext, "N He")
    dalpha = None if dalpha is None else chk.array("dalpha", dalpha, "N S")
    g = _step_backward(dcontext, dalpha, cache.step)
    k = attention_keys_backward(g.dkeys, cache.keys)
    return AttentionGrads(g.ds_prev, g.dh + k.dh,
                          AttentionParams(g.dW_a, k.dU_a, g.dv, k.db))
