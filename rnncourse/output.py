r"""The output layer, softmax and the sequence cross-entropy loss.

Equations (column-vector form)::

    o_t  = V h_t + b_y              scores, one per class
    yhat_t = softmax(o_t)
    L    = (1/N) sum_n sum_t -log yhat_t[y_t]      summed over time, mean over the batch

The layer works on any leading shape: ``h`` (N, T, H) gives scores (N, T, K)
for a many-to-many model, ``h[:, -1]`` (N, H) gives (N, K) for many-to-one.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from ._validation import ShapeChecker


class OutputParams(NamedTuple):
    """Output layer parameters.

    V : (K, H)  hidden-to-output weights (notes: V; Ng: W_ya; PyTorch: nn.Linear.weight)
    b_y : (K,)  output bias (Ng: b_y; PyTorch: nn.Linear.bias)
    """

    V: np.ndarray
    b_y: np.ndarray


class OutputCache(NamedTuple):
    """h (..., H) and the parameters, for :func:`output_backward`."""

    h: np.ndarray
    params: OutputParams


def output_forward(h, params: OutputParams):
    """Scores ``o = h @ V.T + b_y``.

    Parameters
    ----------
    h : (..., H) hidden states, e.g. (N, T, H) or (N, H).
    params : OutputParams with V (K, H) and b_y (K,).

    Returns
    -------
    scores : (..., K)
    cache : OutputCache
    """
    chk = ShapeChecker("output_forward")
    if not isinstance(params, tuple) or len(params) != 2:
        chk.fail(f"params must be OutputParams(V, b_y), got {type(params).__name__}")
    V = chk.array("params.V", params.V if hasattr(params, "V") else params[0], "K H")
    b_y = chk.array("params.b_y", params[1], "K")
    h = np.asarray(h)
    if h.ndim < 1:
        chk.fail(f"h must have shape (..., H), got a scalar")
    lead = " ".join(f"L{i}" for i in range(h.ndim - 1))
    h = chk.array("h", h, (lead + " H").strip())
    return h @ V.T + b_y, OutputCache(h, OutputParams(V, b_y))


def output_backward(dscores, cache: OutputCache):
    """Backward pass of :func:`output_forward`.

    Parameters
    ----------
    dscores : (..., K) gradient of the loss with respect to the scores.
    cache : OutputCache

    Returns
    -------
    dh : (..., H)
    dparams : OutputParams(dV (K, H), db_y (K,))
    """
    ShapeChecker("output_backward").cache("cache", cache, OutputCache)
    V, _ = cache.params
    K, H = V.shape
    chk = ShapeChecker("output_backward", K=K)
    dscores = np.asarray(dscores)
    if dscores.shape != cache.h.shape[:-1] + (K,):
        chk.fail(f"dscores must have shape {cache.h.shape[:-1] + (K,)}, got {dscores.shape}")
    dscores = chk.array("dscores", dscores, " ".join(["L"] * 0 + [f"L{i}" for i in range(dscores.ndim - 1)] + ["K"]))
    flat = dscores.reshape(-1, K)
    dV = flat.T @ cache.h.reshape(-1, H)
    db_y = flat.sum(axis=0)
    return dscores @ V, OutputParams(dV, db_y)


def softmax(scores, axis: int = -1) -> np.ndarray:
    """Numerically stable softmax along ``axis`` (any shape in, same shape out)."""
    z = np.asarray(scores, dtype=np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(scores, axis: int = -1) -> np.ndarray:
    """``log(softmax(scores))`` computed without forming tiny probabilities."""
    z = np.asarray(scores, dtype=np.float64)
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def softmax_cross_entropy(scores, y, mask: Optional[np.ndarray] = None):
    """Cross-entropy of softmax(scores) against integer targets, and its gradient.

    Parameters
    ----------
    scores : (N, T, K) or (N, K) unnormalised scores.
    y : (N, T) or (N,) integer class indices in ``[0, K)``.
    mask : optional, same shape as ``y``; 1/True where the step counts
        (e.g. 0 after an end-of-sequence or on padding).

    Returns
    -------
    loss : float, ``-(1/N) * sum over n and t of mask * log softmax(scores)[y]``
        (summed over time, averaged over the N sequences).
    dscores : same shape as ``scores``: ``(softmax(scores) - onehot(y)) * mask / N``.
    """
    chk = ShapeChecker("softmax_cross_entropy")
    scores = np.asarray(scores)
    if scores.ndim not in (2, 3):
        chk.fail(f"scores must have shape (N, T, K) or (N, K), got {scores.shape}")
    spec = "N T K" if scores.ndim == 3 else "N K"
    scores = chk.array("scores", scores, spec)
    y = chk.array("y", y, spec[:-2], dtype="int")
    K = scores.shape[-1]
    if y.size and (y.min() < 0 or y.max() >= K):
        bad = tuple(int(i) for i in np.argwhere((y < 0) | (y >= K))[0])
        chk.fail(f"y must hold class indices in [0, {K}), got {y[bad]} at index {bad}")
    if mask is None:
        m = np.ones(y.shape)
    else:
        m = chk.array("mask", mask, spec[:-2], dtype="bool").astype(np.float64)
    N = scores.shape[0]
    logp = log_softmax(scores)
    picked = np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]
    loss = -(picked * m).sum() / N
    dscores = np.exp(logp)
    np.put_along_axis(dscores, y[..., None], np.take_along_axis(dscores, y[..., None], -1) - 1.0, -1)
    dscores *= (m / N)[..., None]
    return float(loss), dscores
