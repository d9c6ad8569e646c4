"""Calling code under test: copies of the arguments, a time limit, frames, delegation, mutation.

:func:`call_student` runs the student's function on deep copies of a case's arguments under a
profiler hook (a call into the reference package is recorded as delegation), with warnings and
``sys.stderr`` collected as notes (nbgrader scores a cell that wrote to stderr zero), a time
limit (SIGALRM in the main thread) and a comparison of the arguments afterwards (in-place
changes are reported as a :class:`_Mutation`).  :func:`run_plain` runs trusted code (the
reference, the mistakes) the same way without the watching.
"""
from __future__ import annotations

import contextlib
import copy
import io
import linecache
import os
import signal
import sys
import threading
import traceback
import types
import warnings
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence

import numpy as np

from .spec import GRADING_DIR, PACKAGE_DIR, Case
from .text import fmt_num


def rnncourse_name(code: types.CodeType) -> Optional[str]:
    """``rnncourse.<module>.<qualname>`` if ``code`` belongs to the package (grading excluded)."""
    filename = os.path.abspath(code.co_filename)
    if not filename.startswith(PACKAGE_DIR + os.sep) or filename.startswith(GRADING_DIR + os.sep):
        return None
    module = os.path.splitext(os.path.relpath(filename, PACKAGE_DIR))[0].replace(os.sep, ".")
    qual = getattr(code, "co_qualname", code.co_name)
    return f"rnncourse.{module}.{qual}"


def as_substitute(fn: Callable, name: str) -> Callable:
    """``fn`` (a reference) wrapped to stand for the notebook's function ``name`` during a check.

    Calls into ``rnncourse`` made from inside the wrapper are not delegation by the student.
    """
    def substitute(*args, **kwargs):
        return fn(*args, **kwargs)
    substitute.__name__ = substitute.__qualname__ = name
    return substitute


_SUBSTITUTE_CODE = as_substitute(len, "len").__code__


@contextlib.contextmanager
def substituting(namespace, mapping: Dict[str, Callable]):
    """Replace the notebook's functions ``mapping`` names by the given ones, for the duration.

    ``namespace``: the notebook's ``globals()`` (a dict: items set, then restored) or an object
    with a ``substitute(mapping)`` context manager (``rnncourse_grader``'s remote namespace).
    """
    if not mapping:
        yield
        return
    if hasattr(namespace, "substitute"):
        with namespace.substitute(mapping):
            yield
        return
    missing = object()
    saved = {k: namespace.get(k, missing) for k in mapping}
    namespace.update(mapping)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is missing:
                namespace.pop(k, None)
            else:
                namespace[k] = v


def allowed(qualified: str, allow: Sequence[str]) -> bool:
    return any(qualified == a or qualified.startswith(a + ".") for a in allow)


def default_time_limit() -> float:
    """Seconds one call of a student's function may take (env RNNCOURSE_CALL_TIME_LIMIT, default 10)."""
    try:
        return float(os.environ.get("RNNCOURSE_CALL_TIME_LIMIT", "10"))
    except ValueError:
        return 10.0


class _TimeLimit(BaseException):
    """Raised inside a student's function that runs past the time limit (not an Exception, so a
    student's ``except Exception`` cannot swallow it)."""


class _Mutation(Exception):
    """The function changed an argument in place (the message says which entry)."""


@contextlib.contextmanager
def alarm(seconds: Optional[float]):
    """Raise :class:`_TimeLimit` in the main thread after ``seconds`` (no-op elsewhere)."""
    usable = (seconds and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise _TimeLimit()

    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)


class Outcome(NamedTuple):
    """What one call gave: a value or an error, and what was noticed while it ran."""

    value: Any
    error: Optional[BaseException]
    frames: List[str]
    delegated: List[str]
    tampered: bool
    notes: List[str] = []


def student_frames(tb, remote: Optional[List[str]] = None) -> List[str]:
    """The traceback entries of the student's own code (and below), formatted briefly.

    ``remote``: the entries the sandboxed worker reported (``rnncourse_grader``), used instead.
    """
    if remote is not None:
        return list(remote)[-4:]
    entries = []
    for frame, lineno in traceback.walk_tb(tb):
        code = frame.f_code
        if os.path.abspath(code.co_filename).startswith(GRADING_DIR + os.sep):
            continue
        line = linecache.getline(code.co_filename, lineno).strip()
        where = "your code" if ("ipykernel" in code.co_filename or code.co_filename.startswith("<")) \
            else os.path.basename(code.co_filename)
        entries.append(f"  {where}, line {lineno}, in {code.co_name}: {line}")
    return entries[-4:]


def call_student(fn: Callable, c: Case, allow: Sequence[str],
                 arg_names: Optional[Sequence[str]] = None, time_limit: Optional[float] = None) -> Outcome:
    """Call ``fn`` on deep copies of the case's arguments, watching for calls into rnncourse."""
    args = copy.deepcopy(c.args)
    kwargs = copy.deepcopy(c.kwargs)
    delegated: List[str] = []

    def profiler(frame, event, arg):
        if event != "call" or frame.f_code.co_name == "<module>":   # importing is not calling
            return
        name = rnncourse_name(frame.f_code)
        if name is None:
            return
        parent = frame.f_back
        while parent is not None:                       # only the outermost rnncourse call counts
            if parent.f_code is _SUBSTITUTE_CODE or rnncourse_name(parent.f_code) is not None:
                return
            parent = parent.f_back
        if not allowed(name, allow) and name not in delegated:
            delegated.append(name)

    err_stream = io.StringIO()
    error: Optional[BaseException] = None
    value = None
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err_stream):
        warnings.simplefilter("always")
        previous = sys.getprofile()
        tampered = False
        try:
            with alarm(time_limit):
                sys.setprofile(profiler)
                try:
                    value = fn(*args, **kwargs)
                finally:
                    tampered = sys.getprofile() is not profiler
                    sys.setprofile(previous)
        except BaseException as err:  # noqa: BLE001 - time limits, SystemExit, MemoryError...
            error = err
    notes = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    if err_stream.getvalue().strip():
        notes.append("wrote to stderr: " + err_stream.getvalue().strip()[:300])
    frames = (student_frames(error.__traceback__, getattr(error, "_remote_frames", None))
              if error is not None else [])
    mutated = find_mutation(c, args, kwargs, arg_names)
    if mutated and error is None:
        error = _Mutation(mutated)
    return Outcome(value, error, frames, delegated, tampered, notes)


def run_plain(fn: Callable, c: Case) -> Outcome:
    """Call trusted code (reference, mistake) on copies of the arguments, warnings silenced."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            value = fn(*copy.deepcopy(c.args), **copy.deepcopy(c.kwargs))
            return Outcome(value, None, [], [], False)
        except Exception as err:  # noqa: BLE001
            return Outcome(None, err, [], [], False)


def _walk_changes(before, after, name: str) -> Optional[str]:
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray) or after.shape != before.shape:
            return f"{name} was replaced"
        same = (after == before) | ((after != after) & (before != before))
        if not same.all():
            idx = tuple(int(i) for i in np.argwhere(~same)[0])
            return (f"{name}{list(idx)} was {fmt_num(before[idx])} before the call and "
                    f"{fmt_num(after[idx])} after it")
        return None
    if isinstance(before, (tuple, list)) and isinstance(after, (tuple, list)):
        fields = getattr(before, "_fields", None)
        for i, (b, a) in enumerate(zip(before, after)):
            msg = _walk_changes(b, a, f"{name}.{fields[i]}" if fields else f"{name}[{i}]")
            if msg:
                return msg
    if isinstance(before, dict) and isinstance(after, dict):
        for k in before:
            if k in after:
                msg = _walk_changes(before[k], after[k], f"{name}[{k!r}]")
                if msg:
                    return msg
    return None


def find_mutation(c: Case, args, kwargs, arg_names: Optional[Sequence[str]] = None) -> Optional[str]:
    """Describe the first argument the function changed in place, if any."""
    names = list(arg_names) if arg_names else [f"argument {i + 1}" for i in range(len(args))]
    for i, (b, a) in enumerate(zip(c.args, args)):
        msg = _walk_changes(b, a, names[i])
        if msg:
            return msg
    for k in c.kwargs:
        msg = _walk_changes(c.kwargs[k], kwargs[k], k)
        if msg:
            return msg
    return None
