"""A function call in the worker: what its reply reports besides the value.

The traceback entries of an error (:func:`frames`), the first in-place change of an argument
(:func:`mutation`), and the exception a failed callback to the grader raises
(:func:`remote_error`); see :mod:`rnncourse_grader.worker` for their formats.
"""
from __future__ import annotations

import builtins
import inspect
import os
import traceback


def frames(error: BaseException, skip_files) -> list:
    """The last 4 traceback entries of ``error`` outside the grader's own files.

    ``skip_files`` is the set of absolute paths of those files (the worker's and the codec's
    modules, ``signal``).
    """
    entries = []
    for fs in traceback.extract_tb(error.__traceback__):
        if os.path.abspath(fs.filename) in skip_files:
            continue
        own = fs.filename.startswith("<") or "ipykernel" in fs.filename
        where = "your code" if own else os.path.basename(fs.filename)
        entries.append(f"  {where}, line {fs.lineno}, in {fs.name}: {(fs.line or '').strip()}"[:300])
    return entries[-4:]


def _bound(fn, args, kwargs) -> list:
    """[(name, value)] of the arguments: parameter names when the signature binds them."""
    try:
        return list(inspect.signature(fn).bind(*args, **kwargs).arguments.items())
    except (TypeError, ValueError):
        return [(f"argument {i + 1}", a) for i, a in enumerate(args)] + list(kwargs.items())


def _num(v) -> str:
    import numpy as np
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    try:
        f = float(v)
    except (TypeError, ValueError):
        return repr(v)[:60]
    return str(f) if f != f or f in (float("inf"), -float("inf")) else f"{f:.6g}"


def _changed(before, after, label: str):
    """How ``after`` differs from ``before`` (first array entry that changed), or None."""
    import numpy as np
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray) or after.shape != before.shape:
            return f"{label} was replaced"
        try:
            same = (after == before) | ((after != after) & (before != before))
        except TypeError:
            same = np.asarray(after == before)
        if not np.all(same):
            idx = tuple(int(i) for i in np.argwhere(~np.asarray(same))[0])
            return (f"{label}{list(idx)} was {_num(before[idx])} before the call and "
                    f"{_num(after[idx])} after it")
        return None
    if isinstance(before, (list, tuple)) and isinstance(after, (list, tuple)):
        fields = getattr(before, "_fields", None)
        if isinstance(before, list) and len(after) != len(before):
            return f"{label} had {len(before)} items before the call and {len(after)} after it"
        for i, (b, a) in enumerate(zip(before, after)):
            msg = _changed(b, a, f"{label}.{fields[i]}" if fields else f"{label}[{i}]")
            if msg:
                return msg
    if isinstance(before, dict) and isinstance(after, dict):
        for k in before:
            if k not in after:
                return f"{label}[{k!r}] was deleted"
            msg = _changed(before[k], after[k], f"{label}[{k!r}]")
            if msg:
                return msg
    return None


def mutation(fn, before, after):
    """The first in-place change between two (args, kwargs) pairs, or None."""
    for (name, b), (_, a) in zip(_bound(fn, *before), _bound(fn, *after)):
        msg = _changed(b, a, name)
        if msg:
            return msg
    return None


def remote_error(ename: str, evalue: str) -> BaseException:
    cls = getattr(builtins, ename, None) if isinstance(ename, str) and ename.isidentifier() else None
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(evalue)
        except Exception:  # noqa: BLE001 - exotic constructors (UnicodeDecodeError...)
            pass
    return RuntimeError(f"{ename}: {evalue}")
