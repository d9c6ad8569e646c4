"""Argument checking shared by every public function of the package.

Errors are ``ValueError`` messages that name the function, the argument, the
shape or dtype expected and what was received, e.g.::

    rnn_forward: params.W must have shape (H, H) = (5, 5), got (5, 6)
    (H = 5 was set by params.U)
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Dict, Iterator, Optional, Tuple

import numpy as np


def _fmt(shape: Tuple) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


class ShapeChecker:
    """Check arrays against symbolic shapes such as ``"N T D"``.

    The first array that mentions a symbol fixes its size; every later array
    must agree.  ``ShapeChecker("rnn_forward").array("x", x, "N T D")``
    returns ``x`` as a float64 array (a copy only when a conversion is
    needed, never a mutation of the caller's array).
    """

    def __init__(self, func: str, **known: int):
        self.func = func
        self.dims: Dict[str, int] = dict(known)
        self.source: Dict[str, str] = {k: "the arguments" for k in known}

    def fail(self, message: str) -> None:
        raise ValueError(f"{self.func}: {message}")

    def array(self, name: str, value, spec: str, *, finite: bool = True,
              dtype: str = "float") -> np.ndarray:
        symbols = spec.split()
        if value is None:
            self.fail(f"{name} is required, expected an array of shape ({', '.join(symbols)})")
        if dtype == "float":
            arr = np.asarray(value)
            if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating)):
                self.fail(f"{name} must be a floating-point array (float64) of shape "
                          f"({', '.join(symbols)}), got dtype {arr.dtype}")
            if arr.dtype != np.float64:
                arr = arr.astype(np.float64)
        elif dtype == "int":
            arr = np.asarray(value)
            if not np.issubdtype(arr.dtype, np.integer):
                self.fail(f"{name} must be an integer array of shape "
                          f"({', '.join(symbols)}), got dtype {arr.dtype}")
        elif dtype == "bool":
            arr = np.asarray(value)
            if arr.dtype != bool and not np.issubdtype(arr.dtype, np.number):
                self.fail(f"{name} must be a boolean or 0/1 array, got dtype {arr.dtype}")
        else:  # pragma: no cover - programming error
            raise AssertionError(dtype)
        if arr.ndim != len(symbols):
            self.fail(f"{name} must have {len(symbols)} dimension{'' if len(symbols) == 1 else 's'} "
                      f"({', '.join(symbols)}), got shape {_fmt(arr.shape)}")
        expected = []
        mismatch = False
        for sym, size in zip(symbols, arr.shape):
            if sym.isdigit():
                want: Optional[int] = int(sym)
            else:
                want = self.dims.get(sym)
            expected.append(str(want) if want is not None else sym)
            if want is not None and want != size:
                mismatch = True
        if mismatch:
            fixed = sorted({s for s in symbols if s in self.source})
            why = "; ".join(f"{s} = {self.dims[s]} was set by {self.source[s]}" for s in fixed)
            self.fail(f"{name} must have shape {_fmt(symbols)} = "
                      f"{_fmt(expected)}, got {_fmt(arr.shape)}"
                      + (f" ({why})" if why else ""))
        for sym, size in zip(symbols, arr.shape):
            if not sym.isdigit() and sym not in self.dims:
                self.dims[sym] = size
                self.source[sym] = name
        if finite and dtype == "float" and arr.size and not np.isfinite(arr).all():
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
            self.fail(f"{name} must contain only finite values, got {arr[bad]} at index {bad}")
        return arr

    def cache(self, name: str, value, cls) -> None:
        """Check that ``value`` has the fields of the NamedTuple ``cls`` (a forward's cache)."""
        if not isinstance(value, tuple) or not all(hasattr(value, f) for f in cls._fields):
            self.fail(f"{name} must be the {cls.__name__} returned by the forward pass, "
                      f"got {type(value).__name__}")

    @contextmanager
    def renamed(self, inner: str, outer: str) -> Iterator[None]:
        """Report a nested call's ValueError as this function's, ``inner`` renamed ``outer``.

        ``with chk.renamed("params", "layers[1]"): rnn_forward(a, None, p)``
        turns ``rnn_forward: params.W must ...`` into
        ``deep_forward: layers[1].W must ... (found by rnn_forward)``.
        """
        try:
            yield
        except ValueError as err:
            func, sep, rest = str(err).partition(": ")
            if not sep or func == self.func:
                raise
            rest = re.sub(rf"(?<![\w.\[]){re.escape(inner)}\b", lambda _: outer, rest)
            raise ValueError(f"{self.func}: {rest} (found by {func})") from None

    def choice(self, name: str, value, options) -> None:
        if value not in options:
            self.fail(f"{name} must be one of {', '.join(repr(o) for o in options)}, got {value!r}")

    def positive_int(self, name: str, value) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            self.fail(f"{name} must be a positive integer, got {value!r}")
        return int(value)


def as_rng(seed_or_rng, func: str) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` from a seed (int) or a Generator."""
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    if isinstance(seed_or_rng, (int, np.integer)) and not isinstance(seed_or_rng, bool):
        return np.random.default_rng(int(seed_or_rng))
    raise ValueError(f"{func}: rng must be an int seed or a numpy.random.Generator, "
                     f"got {type(seed_or_rng).__name__}")
