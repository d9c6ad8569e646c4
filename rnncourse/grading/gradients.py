"""Gradient checks for ``checks.py``: central differences and the relative error of
:mod:`rnncourse.gradcheck` (normalised by the whole array, not entry by entry, so entries whose
true gradient is nearly zero do not turn round-off into huge ratios).

Both come from the grading's private copy of the package (:func:`~.spec.private_rnncourse`), so a
notebook that patched ``rnncourse.gradcheck`` changes no verdict.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Optional

import numpy as np

from .compare import as_array
from .spec import private_rnncourse
from .text import fmt_num, fmt_shape

_PRIVATE: list = []


def _gradcheck():
    """The private copy's ``gradcheck`` module (loaded once per copy of this package)."""
    if not _PRIVATE:
        _PRIVATE.append(private_rnncourse().gradcheck)
    return _PRIVATE[0]


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar function ``f`` at ``x`` (same shape as ``x``;
    ``x`` is not modified): :func:`rnncourse.gradcheck.numerical_gradient`."""
    return _gradcheck().numerical_gradient(f, x, eps)


def gradient_check(loss: Callable[..., float], inputs: Dict[str, np.ndarray], grads: Dict[str, Any],
                   *, eps: float = 1e-6, tol: float = 1e-6) -> Optional[str]:
    """Compare analytic gradients with central differences of ``loss(**inputs)``.

    inputs : ``{name: array}``, the point; grads : ``{name: the student's gradient}`` (same shapes).

    Returns None when every ``grads[name]`` matches (:func:`rnncourse.gradcheck.relative_error`
    at most ``tol``), otherwise a message naming the array, its relative error and the entry
    that differs most.
    """
    gc = _gradcheck()
    for key, analytic in grads.items():
        base = inputs[key]
        numeric = gc.numerical_gradient(lambda v, key=key: loss(**{**inputs, key: v}), base, eps)
        arr, why = as_array(analytic, numeric)
        if why:
            return f"gradient {key}: {why}"
        if arr.shape != numeric.shape:
            return (f"gradient {key}: expected shape {fmt_shape(numeric.shape)} (the shape of {key}), "
                    f"got {fmt_shape(arr.shape)}")
        arr = arr.astype(np.float64)
        finite = bool(((arr - arr) == 0).all())
        err = gc.relative_error(arr, numeric) if finite else float("inf")
        if not err <= tol:
            diff = np.absolute(arr - numeric)
            diff = np.where(diff == diff, diff, np.inf)
            idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape))
            return (f"gradient check on {key}: relative error {fmt_num(err)} (allowed {tol:g}); "
                    f"largest difference at {idx}: finite differences give {fmt_num(numeric[idx])}, "
                    f"your gradient {fmt_num(arr[idx])}")
    return None
