r"""Gradient clipping: the standard remedy for exploding gradients in RNNs.

Two rules (Pascanu, Mikolov & Bengio 2013 use the first):

* **global-norm clipping** rescales *all* gradients together when their joint
  Euclidean norm exceeds ``max_norm``; the direction of the update is kept::

      total = sqrt(sum_k ||g_k||^2)
      g_k  <- g_k * min(1, max_norm / (total + 1e-6))

  (the same rule and the same ``1e-6`` as ``torch.nn.utils.clip_grad_norm_``);

* **value clipping** clamps each entry to ``[-clip_value, clip_value]``,
  which can change the direction of the update.

``grads`` may be one array or a container of arrays: a NamedTuple (e.g.
``RNNParams``), a dict, a list or a tuple, nested in any way.  ``None``
entries (absent parameters such as ``b_hn=None``) are passed through.  The
result has the same container type and holds new arrays; the inputs are not
modified.
"""
from __future__ import annotations

from typing import Any, Callable, List

import numpy as np

from ._validation import ShapeChecker
from .tree import tree_map

#: Added to the norm before dividing, as in PyTorch's ``clip_grad_norm_``.
NORM_EPS = 1e-6


def _map(chk: ShapeChecker, fn: Callable[[np.ndarray], Any], obj, label: str = "grads"):
    """Apply ``fn`` to every array in ``obj`` (None stays None), rebuilding the containers."""
    def leaf(lab, value):
        if value is None:
            return None
        arr = np.asarray(value)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.floating):
            chk.fail(f"{lab} must be a floating-point array (or None), got "
                     f"{type(value).__name__} with dtype {arr.dtype}")
        return fn(arr)

    return tree_map(leaf, obj, label=label, fail=chk.fail)


def _arrays(chk: ShapeChecker, grads) -> List[np.ndarray]:
    found: List[np.ndarray] = []
    _map(chk, found.append, grads)
    return found


def _positive(chk: ShapeChecker, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value <= 0:
        chk.fail(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def global_norm(grads) -> float:
    """Joint Euclidean norm ``sqrt(sum_k ||g_k||^2)`` of every array in ``grads``."""
    chk = ShapeChecker("global_norm")
    return float(np.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64)))
                             for a in _arrays(chk, grads))))


def clip_by_global_norm(grads, max_norm: float):
    """Rescale all gradients together so that their joint norm is at most ``max_norm``.

    Parameters
    ----------
    grads : an array, or a NamedTuple / dict / list / tuple (possibly nested)
        of arrays of any shapes; ``None`` entries are passed through.
    max_norm : positive threshold.

    Returns
    -------
    clipped : same container type as ``grads`` with new float64 arrays,
        ``g * min(1, max_norm / (total_norm + 1e-6))``.
    total_norm : float, the norm *before* clipping (worth logging: spikes
        are exploding gradients).  If some gradient is inf or NaN the norm is
        too and the clipped arrays contain NaN, as in PyTorch.
    """
    chk = ShapeChecker("clip_by_global_norm")
    max_norm = _positive(chk, "max_norm", max_norm)
    total = float(np.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64)))
                              for a in _arrays(chk, grads))))
    coef = min(1.0, max_norm / (total + NORM_EPS))
    with np.errstate(invalid="ignore"):                # inf * 0 -> NaN, reported via total
        clipped = _map(chk, lambda a: a.astype(np.float64) * coef, grads)   # always new arrays
    return clipped, total


def clip_by_value(grads, clip_value: float):
    """Clamp every gradient entry to ``[-clip_value, clip_value]``.

    Parameters
    ----------
    grads : an array, or a NamedTuple / dict / list / tuple (possibly nested)
        of arrays; ``None`` entries are passed through.
    clip_value : positive bound.

    Returns
    -------
    clipped : same container type as ``grads`` with new float64 arrays
        ``clip(g, -clip_value, clip_value)``.
    """
    chk = ShapeChecker("clip_by_value")
    clip_value = _positive(chk, "clip_value", clip_value)
    return _map(chk, lambda a: np.clip(a.astype(np.float64), -clip_value, clip_value), grads)
