"""Comparing a student's output with the expected one: ``None`` when they match, else why not.

:func:`compare` dispatches on the type of the *expected* value to one small comparer per kind
(None, tuples and NamedTuples, dicts, strings, lists of non-numbers, booleans, integers, floats,
arrays); containers recurse with a path (``grads.dW``, ``[2]``, ``['U']``) so the message names
the part that differs.  Only ndarray operators and methods are used, and :func:`self_test`
notices a patched NumPy comparison before any check relies on it.
"""
from __future__ import annotations

import math
from typing import Callable, List, Optional, Tuple

import numpy as np

from .text import GradingFailure, describe, fmt_num, fmt_shape


class _Tol:
    """The tolerances of one comparison: ``|got - expected| <= atol + rtol * |expected|``."""

    __slots__ = ("rtol", "atol", "equal_nan")

    def __init__(self, rtol: float, atol: float, equal_nan: bool):
        self.rtol, self.atol, self.equal_nan = rtol, atol, equal_nan


def as_array(got, expected: np.ndarray) -> Tuple[Optional[np.ndarray], Optional[str]]:
    """The student's output as a plain ndarray, or an explanation of why it is not one."""
    if isinstance(got, tuple) and not isinstance(expected, tuple):
        return None, (f"returned a tuple of {len(got)} items ({describe(got)}), but this function "
                      f"should return a single array of shape {fmt_shape(expected.shape)}")
    if got is None:
        return None, ("returned None: did you forget the `return` statement, "
                      "or leave `raise NotImplementedError()` in place?")
    try:
        arr = np.array(got, copy=True, subok=False)
    except Exception as err:  # pragma: no cover - exotic objects
        return None, f"returned {describe(got)}, which is not an array ({err})"
    if arr.dtype == object:
        return None, f"returned {describe(got)}, which is not an array of numbers"
    if expected.dtype.kind == "f" and arr.dtype.kind not in "fiub":
        return None, f"returned an array of dtype {arr.dtype}; expected floating-point numbers"
    return arr, None


def _none(expected, got, where, label, tol) -> Optional[str]:
    return None if got is None else f"{label}expected None, got {describe(got)}"


def _tuple(expected, got, where, label, tol) -> Optional[str]:
    fields = getattr(expected, "_fields", None)
    if not isinstance(got, tuple):
        what = f"{type(expected).__name__}({', '.join(fields)})" if fields else f"a tuple of {len(expected)} items"
        return f"{label}expected {what}, got {describe(got)}"
    if len(got) != len(expected):
        return f"{label}expected {len(expected)} items, got {len(got)} ({describe(got)})"
    for i, (e, g) in enumerate(zip(expected, got)):
        sub = fields[i] if fields else f"item {i}"
        path = f"{where}.{sub}" if where and fields else (sub if not where else f"{where}[{i}]")
        msg = _compare(e, g, path, tol)
        if msg:
            return msg
    return None


def _dict(expected, got, where, label, tol) -> Optional[str]:
    if not isinstance(got, dict):
        return f"{label}expected a dict, got {describe(got)}"
    if set(expected) != set(got):
        missing = sorted(map(str, set(expected) - set(got)))
        extra = sorted(map(str, set(got) - set(expected)))
        return f"{label}the keys differ: missing {missing or 'none'}, unexpected {extra or 'none'}"
    for k in expected:
        msg = _compare(expected[k], got[k], f"{where}[{k!r}]", tol)
        if msg:
            return msg
    return None


def _text(expected, got, where, label, tol) -> Optional[str]:
    if type(got) is type(expected) and got == expected:
        return None
    return f"{label}expected {expected!r}, got {describe(got)}"


def _list(expected, got, where, label, tol) -> Optional[str]:
    if not isinstance(got, list) or len(got) != len(expected):
        return f"{label}expected a list of {len(expected)} items, got {describe(got)}"
    for i, (e, g) in enumerate(zip(expected, got)):
        msg = _compare(e, g, f"{where}[{i}]", tol)
        if msg:
            return msg
    return None


def _bool(expected, got, where, label, tol) -> Optional[str]:
    if isinstance(got, (bool, np.bool_)) and bool(got) == bool(expected):
        return None
    return f"{label}expected {expected}, got {describe(got)}"


def _int(expected, got, where, label, tol) -> Optional[str]:
    if isinstance(got, (float, np.floating)) and float(got).is_integer() and int(got) == int(expected):
        return None
    if not isinstance(got, (int, np.integer)) or isinstance(got, bool):
        return f"{label}expected the integer {int(expected)}, got {describe(got)}"
    return None if int(got) == int(expected) else f"{label}expected {int(expected)}, got {int(got)}"


def _float(expected, got, where, label, tol) -> Optional[str]:
    if isinstance(got, np.ndarray) and got.size == 1:
        got = got.reshape(())[()]
    if not isinstance(got, (int, float, np.integer, np.floating)) or isinstance(got, bool):
        return f"{label}expected a single number ({fmt_num(expected)}), got {describe(got)}"
    e, g = float(expected), float(got)
    if (tol.equal_nan and math.isnan(e) and math.isnan(g)) or (math.isinf(e) and e == g):
        return None
    if math.isinf(e):                     # no tolerance admits a finite value for an infinite one
        return f"{label}expected {e}, got {fmt_num(g)}"
    if math.isnan(g) or math.isinf(g):
        return f"{label}expected {fmt_num(e)}, got {g} (an overflow, a log of 0 or a division by zero somewhere?)"
    if abs(g - e) <= tol.atol + tol.rtol * abs(e):
        return None
    return f"{label}expected {fmt_num(e)}, got {fmt_num(g)} (difference {fmt_num(abs(g - e))})"


def _shape_message(exp: np.ndarray, arr: np.ndarray, label: str) -> str:
    msg = f"{label}expected shape {fmt_shape(exp.shape)}, got shape {fmt_shape(arr.shape)}"
    if sorted(arr.shape) == sorted(exp.shape) and arr.ndim > 1:
        msg += " (the same sizes in another order: are the axes swapped or a matrix transposed?)"
    elif arr.size == exp.size:
        msg += " (the same number of entries: a reshape or a missing/extra axis?)"
    return msg


def _first_difference(label: str, bad: np.ndarray, exp: np.ndarray, arr: np.ndarray) -> str:
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    return (f"{label}values differ at {int(bad.sum())} of {exp.size} entries; first at index {first}: "
            f"expected {fmt_num(exp[first])}, got {fmt_num(arr[first])}")


def _array(expected, got, where, label, tol) -> Optional[str]:
    """Arrays and lists of numbers: shape, dtype kind, then entries within the tolerances."""
    exp = np.asarray(expected)
    arr, why = as_array(got, exp)
    if why:
        return f"{label}{why}"
    if arr.shape != exp.shape:
        return _shape_message(exp, arr, label)
    if exp.dtype.kind in "iub":
        if arr.dtype.kind not in "iub":
            return f"{label}expected integers (dtype {exp.dtype}), got dtype {arr.dtype}"
        bad = arr != exp
        return _first_difference(label, bad, exp, arr) if bad.any() else None
    arrf, expf = arr.astype(np.float64), exp.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):      # inf - inf is nan: not close
        diff = arrf - expf
        limit = tol.atol + tol.rtol * np.absolute(expf)
        finite_got = (arrf - arrf) == 0          # False for nan and inf, without np.isfinite
        finite_exp = (expf - expf) == 0
        close = (diff <= limit) & (-diff <= limit) & finite_exp   # inf - 5 <= inf: not close
    if tol.equal_nan:
        close |= (arrf != arrf) & (expf != expf)
    close |= (~finite_exp) & (arrf == expf)
    bad = ~close
    if not bad.any():
        return None
    msg = _first_difference(label, bad, exp, arr)
    if (~finite_got & finite_exp).any():
        where_nan = tuple(int(i) for i in np.argwhere(~finite_got & finite_exp)[0])
        msg += (f"\n  your result contains {fmt_num(arrf[where_nan])} (at {where_nan}): an overflow "
                f"in exp, a log of 0 or a division by zero?")
    else:
        both = finite_got & finite_exp
        if both.any():
            msg += f"\n  largest absolute error: {fmt_num(np.absolute(diff[both]).max())}"
    if arr.dtype.kind == "f" and arr.dtype != np.float64:
        msg += f"\n  your array has dtype {arr.dtype}; the course computes in float64"
    return msg


def _is_number_list(expected) -> bool:
    return all(isinstance(e, (int, float, np.number)) for e in expected)


#: ``(test on the expected value, comparer)``, first match wins; arrays are the fallback.
_COMPARERS: List[Tuple[Callable[[object], bool], Callable]] = [
    (lambda e: e is None, _none),
    (lambda e: isinstance(e, tuple), _tuple),
    (lambda e: isinstance(e, dict), _dict),
    (lambda e: isinstance(e, (str, bytes)), _text),
    (lambda e: isinstance(e, list) and not _is_number_list(e), _list),
    (lambda e: isinstance(e, (bool, np.bool_)), _bool),
    (lambda e: isinstance(e, (int, np.integer)), _int),
    (lambda e: isinstance(e, (float, np.floating)), _float),
]


def _compare(expected, got, where: str, tol: _Tol) -> Optional[str]:
    label = f"{where}: " if where else ""
    for test, comparer in _COMPARERS:
        if test(expected):
            return comparer(expected, got, where, label, tol)
    return _array(expected, got, where, label, tol)


def compare(expected, got, where: str, rtol: float, atol: float, equal_nan: bool = False) -> Optional[str]:
    """None when ``got`` matches ``expected``; otherwise a message explaining the first difference.

    where : the name of the value in the message (``""``: none).
    rtol, atol : ``|got - expected| <= atol + rtol * |expected|`` entry by entry.
    equal_nan : NaN matches NaN (used to compare with a mistake's output).
    """
    return _compare(expected, got, where, _Tol(rtol, atol, equal_nan))


def self_test() -> None:
    """Fail loudly if NumPy's comparison machinery was patched (e.g. ``np.allclose = ...``)."""
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 2.5, 3.0])
    ok = (compare(a, a.copy(), "x", 1e-7, 1e-9) is None and compare(a, b, "x", 1e-7, 1e-9) is not None
          and type(np.ndarray.__sub__).__name__ == "wrapper_descriptor")
    if not ok:
        raise GradingFailure(
            "the checking machinery no longer works: something in this notebook replaced a NumPy "
            "function used for comparisons.\nRestart the kernel, remove that code and run all cells again.")
