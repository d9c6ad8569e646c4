"""Feedback text: why a call failed, which known mistake a wrong result matches, and hints.

A :class:`~.spec.Mistake` matches when the student's result equals the mistake's on the failing
case (within the tolerances; for tuple outputs only on the parts that differ from the reference),
or when both raise the same exception, or when its ``error=`` pattern is found in the student's
``"TypeName: message"``.
"""
from __future__ import annotations

import re
from typing import List, Optional, Sequence

from .calls import Outcome, _Mutation, _TimeLimit, default_time_limit
from .compare import compare
from .spec import Mistake
from .text import error_text


def explain_error(name: str, out: Outcome) -> str:
    """What the student's exception (or time limit, exit, in-place change...) means."""
    err = out.error
    if isinstance(err, _Mutation):
        return (f"{name} modified its input in place: {err}.\nFunctions in this course never change "
                f"their arguments: compute into new arrays (e.g. `h = np.zeros(...)`) or copy first "
                f"(`x = x.copy()`).")
    if isinstance(err, _TimeLimit):
        return (f"{name} did not return within {default_time_limit():g} seconds on this small "
                f"input and was stopped.\nLook for a loop that never ends (a `while` whose "
                f"condition never changes?) or work that grows much faster than the input.")
    if isinstance(err, KeyboardInterrupt):
        return (f"{name} did not return within the time limit and was interrupted.\n"
                f"Look for a loop that never ends (a `while` whose condition never changes?).")
    if isinstance(err, SystemExit):
        return f"{name} called sys.exit() / exit(); a function must return its result instead."
    if isinstance(err, MemoryError):
        return (f"{name} ran out of memory (the grader limits each notebook's memory).\n"
                f"Look for an array or list that grows without bound, or a shape far larger than needed.")
    if isinstance(err, NotImplementedError) and "is withheld while this notebook is graded" in str(err):
        # rnncourse_grader's student view: the reference itself is not there while grading
        return (f"{name} calls the course's reference implementation, which is withheld while "
                f"grading ({str(err).split(' is withheld', 1)[0]}).\nThis exercise asks you to write "
                f"it yourself with NumPy, so this part scores zero while it calls rnncourse.")
    if isinstance(err, NotImplementedError):
        return f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code."
    if isinstance(err, RecursionError):
        return f"{name} recursed too deeply (a function calling itself without end?)."
    text = f"{name} raised {error_text(err)}"
    if out.frames:
        text += "\n" + "\n".join(out.frames)
    return text


def matches(mistake_out: Outcome, student_out: Outcome, reference, rtol: float, atol: float) -> bool:
    """Does the student's result look like the mistake's?

    For tuple outputs only the parts where the student differs from the reference are compared,
    so a mistake in the gradient is recognised even if the loss is right (and vice versa).
    """
    if student_out.error is not None or mistake_out.error is not None:
        return (student_out.error is not None and mistake_out.error is not None
                and type(student_out.error) is type(mistake_out.error)
                and str(student_out.error) == str(mistake_out.error))
    rt, at = max(rtol, 1e-6), max(atol, 1e-8)
    mv, sv = mistake_out.value, student_out.value
    if (isinstance(reference, tuple) and isinstance(sv, tuple) and isinstance(mv, tuple)
            and len(reference) == len(sv) == len(mv)):
        wrong = [i for i in range(len(reference)) if compare(reference[i], sv[i], "", rtol, atol) is not None]
        return bool(wrong) and all(compare(mv[i], sv[i], "", rt, at, equal_nan=True) is None for i in wrong)
    return compare(mv, sv, "", rt, at, equal_nan=True) is None


def recognised(mistakes: Sequence[Mistake], wrong: Sequence[Optional[Outcome]], out: Outcome,
               reference, rtol: float, atol: float) -> List[Mistake]:
    """The mistakes the student's outcome ``out`` matches (``wrong``: each mistake's outcome)."""
    hits = []
    for m, w in zip(mistakes, wrong):
        by_error = bool(m.error) and out.error is not None and re.search(m.error, error_text(out.error))
        if by_error or (w is not None and matches(w, out, reference, rtol, atol)):
            hits.append(m)
    return hits


def _leaves(value, prefix: str = ""):
    """``(name, value)`` of every non-container part of a tuple/NamedTuple output (None skipped)."""
    if isinstance(value, tuple):
        fields = getattr(value, "_fields", None)
        for i, v in enumerate(value):
            sub = fields[i] if fields else f"[{i}]"
            yield from _leaves(v, f"{prefix}.{sub}" if prefix and fields else (prefix + sub if not fields else sub))
    elif value is not None:
        yield prefix, value


def shared_cause(reference, got, rtol: float, atol: float, shared: Optional[str] = None) -> str:
    """When every part of a multi-part output is wrong, say so and point before them.

    ``shared``: what the parts have in common (the spec's words, e.g. ``"dnet, ..."``); the
    default names no variable.  ``""`` when fewer than three parts exist or some are right.
    """
    if not (isinstance(reference, tuple) and isinstance(got, tuple) and len(reference) == len(got)):
        return ""
    ref_parts, got_parts = list(_leaves(reference)), [v for _, v in _leaves(got)]   # by position
    if len(ref_parts) < 3 or len(got_parts) != len(ref_parts):
        return ""
    wrong = [name for (name, v), g in zip(ref_parts, got_parts) if compare(v, g, "", rtol, atol) is not None]
    if len(wrong) != len(ref_parts):
        return ""
    where = shared or "what they all depend on, computed before any of them"
    return (f"\n  all {len(wrong)} outputs differ ({', '.join(wrong)}): the error is before them, "
            f"in {where}.")


def hints(hits: Sequence[Mistake]) -> str:
    """``"\\nLikely mistake:\\n  - name. Hint: ..."`` (at most three), or ``""``."""
    if not hits:
        return ""
    title = "Likely mistake" if len(hits) == 1 else "Possible mistakes"
    lines = [f"{title}:"]
    for m in hits[:3]:
        lines.append(f"  - {m.name}. Hint: {m.hint}")
    return "\n" + "\n".join(lines)
