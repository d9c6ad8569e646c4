r"""Functional optimisers: plain gradient descent and Adam.

Both work on any *parameter container*: one array, or a NamedTuple (e.g.
``RNNParams``, ``CharLMParams``), dict, list or tuple of arrays, nested in any
way.  ``params`` and ``grads`` must have the same structure and shapes; a
``None`` parameter (an absent optional one such as ``b_hn=None``) stays
``None``, and a parameter whose gradient is ``None`` is left unchanged (as
PyTorch skips parameters whose ``.grad`` is ``None``).  Every call returns new
containers and new arrays; nothing passed in is modified.

Updates (for each parameter array θ with gradient g, step t = 1, 2, ...)::

    SGD   θ <- θ - lr g

    Adam  m <- β1 m + (1 - β1) g                 first moment (mean of g)
          v <- β2 v + (1 - β2) g²                second moment (mean of g²)
          m̂ = m / (1 - β1^t),  v̂ = v / (1 - β2^t)  bias corrections (m, v start at 0)
          θ <- θ - lr m̂ / (sqrt(v̂) + eps)

(Kingma & Ba 2015, Algorithm 1; the same arithmetic as ``torch.optim.Adam``.)
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple, Tuple

import numpy as np

from ._validation import ShapeChecker
from .tree import tree_map


def _tree_map(chk: ShapeChecker, fn: Callable, trees: Tuple, names: Tuple[str, ...], label: str):
    """:func:`rnncourse.tree.tree_map` with this function's error messages."""
    return tree_map(fn, *trees, label=label, names=names, fail=chk.fail)


def _lr(chk: ShapeChecker, lr) -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)) \
            or not np.isfinite(lr) or lr < 0:
        chk.fail(f"lr must be a non-negative finite number, got {lr!r}")
    return float(lr)


def _pair(chk: ShapeChecker, label: str, p, g):
    """Check one parameter array and its gradient; return them as float64 arrays."""
    p_arr = np.asarray(p)
    if p_arr.dtype == object or not np.issubdtype(p_arr.dtype, np.floating):
        chk.fail(f"params{label} must be a floating-point array or None, got dtype {p_arr.dtype}")
    g_arr = np.asarray(g)
    if g_arr.dtype == object or not np.issubdtype(g_arr.dtype, np.floating):
        chk.fail(f"grads{label} must be a floating-point array or None, got dtype {g_arr.dtype}")
    if g_arr.shape != p_arr.shape:
        chk.fail(f"grads{label} must have the shape of params{label} {p_arr.shape}, "
                 f"got {g_arr.shape}")
    return p_arr.astype(np.float64, copy=False), g_arr.astype(np.float64, copy=False)


def sgd_step(params, grads, lr: float):
    """One step of gradient descent, ``θ - lr * g`` for every parameter.

    Parameters
    ----------
    params : container of arrays (NamedTuple / dict / list / tuple, nested; None allowed).
    grads : the same structure and shapes (None: leave that parameter unchanged).
    lr : non-negative learning rate.

    Returns
    -------
    new_params : same container type, new float64 arrays.
    """
    chk = ShapeChecker("sgd_step")
    lr = _lr(chk, lr)

    def update(label, p, g):
        if p is None:
            return None
        if g is None:
            return np.array(p, dtype=np.float64)
        p, g = _pair(chk, label[len("params"):], p, g)
        return p - lr * g

    return _tree_map(chk, update, (params, grads), ("params", "grads"), "params")


class _Leaf:
    """(new param, new m, new v) of one parameter; not a container, so tree maps stop here."""

    __slots__ = ("items",)

    def __init__(self, *items):
        self.items = items

    def __getitem__(self, k):
        return self.items[k]


class AdamState(NamedTuple):
    """Adam's running state: ``t`` steps taken, moments ``m`` and ``v`` (same structure as params)."""

    t: int
    m: Any
    v: Any


def adam_init(params) -> AdamState:
    """Initial Adam state: ``t = 0`` and zero moments shaped like ``params`` (None stays None)."""
    chk = ShapeChecker("adam_init")

    def zeros(label, p):
        if p is None:
            return None
        arr = np.asarray(p)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.floating):
            chk.fail(f"{label} must be a floating-point array or None, got dtype {arr.dtype}")
        return np.zeros(arr.shape)

    m = _tree_map(chk, zeros, (params,), ("params",), "params")
    v = _tree_map(chk, zeros, (params,), ("params",), "params")
    return AdamState(0, m, v)


def adam_step(params, grads, state: AdamState, lr: float = 1e-3,
              betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
    """One Adam step (Kingma & Ba 2015), as ``torch.optim.Adam`` computes it.

    Parameters
    ----------
    params : container of arrays (NamedTuple / dict / list / tuple, nested; None allowed).
    grads : the same structure and shapes (None: that parameter and its moments unchanged).
    state : AdamState from :func:`adam_init` or the previous call.
    lr : learning rate (non-negative).
    betas : (β1, β2), each in [0, 1): decay rates of the two moment averages.
    eps : non-negative term added to ``sqrt(v̂)`` to avoid division by zero.

    Returns
    -------
    new_params : same container type as ``params``, new arrays.
    new_state : AdamState(t + 1, m, v) with new arrays.
    """
    chk = ShapeChecker("adam_step")
    lr = _lr(chk, lr)
    try:
        b1, b2 = (float(b) for b in betas)
    except (TypeError, ValueError):
        chk.fail(f"betas must be a pair of numbers in [0, 1), got {betas!r}")
    if not (0.0 <= b1 < 1.0 and 0.0 <= b2 < 1.0):
        chk.fail(f"betas must be a pair of numbers in [0, 1), got {betas!r}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)) \
            or not np.isfinite(eps) or eps < 0:
        chk.fail(f"eps must be a non-negative finite number, got {eps!r}")
    if not isinstance(state, tuple) or not all(hasattr(state, f) for f in AdamState._fields):
        chk.fail(f"state must be an AdamState (from adam_init), got {type(state).__name__}")
    t = state.t + 1
    bias1 = 1.0 - b1 ** t
    bias2_sqrt = np.sqrt(1.0 - b2 ** t)
    step_size = lr / bias1

    def update(label, p, g, m, v):
        if p is None:
            return None
        if g is None:
            return _Leaf(np.array(p, dtype=np.float64), np.array(m), np.array(v))
        sub = label[len("params"):]
        p, g = _pair(chk, sub, p, g)
        if m is None or v is None or np.shape(m) != p.shape or np.shape(v) != p.shape:
            chk.fail(f"state moments for params{sub} must have shape {p.shape}, got "
                     f"{None if m is None else np.shape(m)} and {None if v is None else np.shape(v)}")
        m_new = b1 * m + (1.0 - b1) * g                   # m <- β1 m + (1-β1) g
        v_new = b2 * v + (1.0 - b2) * (g * g)             # v <- β2 v + (1-β2) g²
        denom = np.sqrt(v_new) / bias2_sqrt + eps         # sqrt(v̂) + eps
        return _Leaf(p - step_size * (m_new / denom), m_new, v_new)  # θ - lr m̂ / (sqrt(v̂)+eps)

    triples = _tree_map(chk, update, (params, grads, state.m, state.v),
                        ("params", "grads", "state.m", "state.v"), "params")

    def unzip(k):
        return _tree_map(chk, lambda _label, leaf: None if leaf is None else leaf[k],
                         (triples,), ("params",), "params")

    return unzip(0), AdamState(t, unzip(1), unzip(2))
