"""Message text of the checks: wrapping, :class:`GradingFailure`, and one-line descriptions of values.

Everything a student reads goes through these helpers, so that shapes print as ``(2, 3)``,
numbers with six significant digits, and lines wrap to 88 columns keeping their indentation.
"""
from __future__ import annotations

import inspect
import math
import textwrap
from typing import Callable, List, Optional, Sequence

import numpy as np

RED, GREEN, BOLD, RESET = "\x1b[0;31m", "\x1b[0;32m", "\x1b[1m", "\x1b[0m"


def wrap(message: str, width: int = 88) -> str:
    """Wrap every line of a message to ``width`` columns, keeping its indentation."""
    out = []
    for line in message.split("\n"):
        indent = line[: len(line) - len(line.lstrip())]
        more = indent + "  "
        out.extend(textwrap.wrap(line, width, subsequent_indent=more, break_long_words=False,
                                 break_on_hyphens=False) or [""])
    return "\n".join(out)


class GradingFailure(AssertionError):
    """A failed check.  Its message is the student's feedback (wrapped to 88 columns).

    IPython shows it as the message alone (``_render_traceback_``), so the
    source lines of the test cell, hidden tests included, never appear.
    """

    def __init__(self, message: str = ""):
        super().__init__(wrap(str(message)))

    def _render_traceback_(self) -> List[str]:
        lines = str(self).split("\n")
        return [f"{RED}{type(self).__name__}{RESET}: {lines[0]}"] + lines[1:]


def fmt_shape(shape) -> str:
    """``(2, 3)``, ``(4,)``, ``()``."""
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def fmt_num(v) -> str:
    """A number for a message: integers as they are, floats with 6 significant digits."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    try:
        f = float(v)
    except (TypeError, ValueError):
        return repr(v)
    if math.isnan(f) or math.isinf(f):
        return str(f)
    return f"{f:.6g}"


def describe(value, name: str = "") -> str:
    """One-line description of a value: ``x: array (2, 3, 4) float64``."""
    prefix = f"{name}: " if name else ""
    if isinstance(value, np.ndarray):
        return f"{prefix}array {fmt_shape(value.shape)} {value.dtype}"
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        inner = ", ".join(describe(v, f) for f, v in zip(value._fields, value))
        return f"{prefix}{type(value).__name__}({inner})"
    if isinstance(value, (list, tuple)):
        kind = type(value).__name__
        if len(value) <= 4:
            return f"{prefix}{kind} of {len(value)} [" + ", ".join(describe(v) for v in value) + "]"
        return f"{prefix}{kind} of {len(value)} items"
    if isinstance(value, str):
        return f"{prefix}{value!r}" if len(value) <= 40 else f"{prefix}str of length {len(value)}"
    if isinstance(value, dict):
        return f"{prefix}dict with {len(value)} keys"
    if value is None or isinstance(value, (bool, int, float, np.number)):
        return f"{prefix}{fmt_num(value) if value is not None else None}"
    return f"{prefix}{type(value).__name__}"


def arg_names(fn: Optional[Callable], n: int) -> List[str]:
    """Names of the first ``n`` positional parameters of ``fn`` (``argument 1``... if unknown)."""
    names: List[str] = []
    try:
        params = list(inspect.signature(fn).parameters.values())
        names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        pass
    return [names[i] if i < len(names) else f"argument {i + 1}" for i in range(n)]


def describe_args(args: tuple, kwargs: dict, names: Optional[Sequence[str]] = None) -> str:
    """``x: array (2, 3) float64; h_prev: ...`` for the arguments of one call."""
    names = list(names) if names else [""] * len(args)
    parts = [describe(a, n) for a, n in zip(args, names)] + [describe(v, k) for k, v in kwargs.items()]
    return "; ".join(parts)


def error_text(err: BaseException) -> str:
    """``"TypeName: message"``, the form :class:`~.spec.Mistake` ``error=`` patterns match."""
    return f"{type(err).__name__}: {err}"
