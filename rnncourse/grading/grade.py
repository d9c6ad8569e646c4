"""Grading one function on a list of cases: :func:`grade_cases` (every case, with its weight)
and :func:`check_function` (stops at the first failure, raising it).

Everything the checks need from the reference and the mistakes is computed first, before any
student code runs, on copies of the inputs.  Problems of the whole function (not a function,
rnncourse's own implementation, a call into the reference, a replaced profiler) raise
:class:`~.text.GradingFailure` at once: no case scores.
"""
from __future__ import annotations

from typing import Any, Callable, List, NamedTuple, Optional, Sequence

from .calls import _TimeLimit, call_student, default_time_limit, rnncourse_name, run_plain
from .compare import compare, self_test
from .feedback import explain_error, hints, recognised, shared_cause
from .spec import Case, Mistake
from .text import GradingFailure, arg_names, describe, describe_args, error_text


class CaseResult(NamedTuple):
    """The verdict on one case: ``message`` is None when it passed, else the feedback."""

    label: str
    weight: float
    message: Optional[str]

    @property
    def passed(self) -> bool:
        return self.message is None


def _named(values: tuple, names: Sequence[str]):
    cls = NamedTuple("Output", [(n, Any) for n in names])
    return cls(*values)


def _refuse_own_implementation(student_fn: Callable, name: str) -> None:
    code = getattr(student_fn, "__code__", None)
    own = rnncourse_name(code) if code is not None else None
    module = str(getattr(student_fn, "__module__", "") or "")
    if own is not None or module == "rnncourse" or module.startswith(("rnncourse.", "_rnncourse_private_")):
        raise GradingFailure(
            f"{name} is rnncourse's own implementation ({own or module}), not yours.\n"
            f"This exercise asks you to write it with NumPy; this part scores zero until you do.")


def grade_cases(student_fn: Callable, reference_fn: Callable, cases, *, name: Optional[str] = None,
                mistakes: Sequence[Mistake] = (), rtol: float = 1e-7, atol: float = 1e-9,
                allow: Sequence[str] = (), extra: Sequence[Callable] = (),
                output_names: Optional[Sequence[str]] = None, time_limit: Optional[float] = None,
                stop_at_first: bool = False, notes: Optional[List[str]] = None,
                shared: Optional[str] = None,
                judge: Optional[Callable] = None) -> List[CaseResult]:
    """Run ``student_fn`` on every case (or up to the first failure) and judge each one.

    Parameters are those of :func:`check_function`; ``notes`` (a list) collects the warnings the
    student's code emitted; ``shared`` names what all the parts of the output depend on (said
    when every part is wrong, see :func:`~.feedback.shared_cause`).  Returns one
    :class:`CaseResult` per case run, in order.
    """
    self_test()
    if time_limit is None:
        time_limit = default_time_limit()
    name = name or getattr(student_fn, "__name__", "your function")
    cases = list(cases() if callable(cases) else cases)
    if not callable(student_fn):
        raise GradingFailure(f"{name} should be a function, but it is {describe(student_fn)}.")
    _refuse_own_implementation(student_fn, name)
    expected = []
    for c in cases:
        ref = run_plain(reference_fn, c)
        if ref.error is not None:
            raise GradingFailure(f"internal error in the tests, not in your code: the reference "
                                 f"failed on case {c.label!r}: {error_text(ref.error)}. "
                                 f"Please tell the instructors.")
        wrong = [run_plain(m.fn, c) if m.fn is not None else None for m in mistakes]
        expected.append((ref.value, wrong))
    names = list(output_names) if output_names else None
    notes = notes if notes is not None else []
    results: List[CaseResult] = []
    for c, (ref_value, wrong) in zip(cases, expected):
        message = _judge(student_fn, reference_fn, c, ref_value, wrong, name=name, mistakes=mistakes, rtol=rtol,
                         atol=atol, allow=allow, extra=extra, names=names, time_limit=time_limit,
                         notes=notes, shared=shared, judge=judge)
        results.append(CaseResult(c.label, float(getattr(c, "weight", 1.0)), message))
        if message is not None and stop_at_first:
            break
    return results


def _judge(student_fn, reference_fn, c: Case, ref_value, wrong, *, name, mistakes, rtol, atol, allow, extra,
           names, time_limit, notes: List[str], shared: Optional[str] = None,
           judge: Optional[Callable] = None) -> Optional[str]:
    """None when the student's function passes case ``c``; else the feedback for it."""
    argn = arg_names(reference_fn, len(c.args))
    out = call_student(student_fn, c, allow, argn, time_limit)
    if out.delegated:
        raise GradingFailure(
            f"{name} calls the course's reference implementation ({', '.join(out.delegated)}).\n"
            f"This exercise asks you to write it yourself with NumPy, so this part scores zero "
            f"while it calls rnncourse. (Functions you wrote in this notebook are fine.)")
    if out.tampered:
        raise GradingFailure(f"{name} changed the Python profiler (sys.setprofile), which the "
                             f"checks rely on; this part scores zero.")
    notes.extend(n for n in out.notes if n not in notes)
    header = f"{name} failed on test case \"{c.label}\"\n  inputs: {describe_args(c.args, c.kwargs, argn)}"
    if out.notes:
        header += "\n  warnings from your code: " + "; ".join(out.notes[:3])
    if out.error is not None:
        hits = recognised(mistakes, wrong, out, ref_value, rtol, atol)
        return header + "\n" + explain_error(name, out) + hints(hits)
    value, shown_ref = out.value, ref_value
    if names and isinstance(ref_value, tuple) and not hasattr(ref_value, "_fields"):
        shown_ref = _named(ref_value, names)
        if isinstance(value, tuple) and len(value) == len(names):
            value = _named(value, names)
    if judge is not None:
        try:
            problem = judge(c, out.value, ref_value)
        except Exception as err:  # noqa: BLE001 - odd output the judge did not expect
            problem = f"the tests could not use your result: {error_text(err)}"
        if problem:
            return f"{header}\n  {problem}"
    else:
        problem = compare(shown_ref, value, "", rtol, atol)
    if problem is None:
        for check in extra:
            try:
                problem = check(student_fn, c, out.value)
            except _TimeLimit:      # a check that calls the student's function again (a run)
                problem = ("an extra check that calls your function again stopped: a call "
                           "took longer than the time limit")
            except Exception as err:  # noqa: BLE001 - odd output the extra check did not expect
                problem = f"an extra check could not use your result: {error_text(err)}"
            if problem:
                break
    if problem is None:
        return None
    hits = recognised(mistakes, wrong, out, ref_value, rtol, atol)
    return f"{header}\n  {problem}" + shared_cause(shown_ref, value, rtol, atol, shared) + hints(hits)


def check_function(student_fn: Callable, reference_fn: Callable, cases, *, name: Optional[str] = None,
                   mistakes: Sequence[Mistake] = (), rtol: float = 1e-7, atol: float = 1e-9,
                   allow: Sequence[str] = (), extra: Sequence[Callable] = (),
                   output_names: Optional[Sequence[str]] = None,
                   time_limit: Optional[float] = None, shared: Optional[str] = None,
                   judge: Optional[Callable] = None) -> int:
    """Compare ``student_fn`` with ``reference_fn`` on every case; return the number of cases.

    Parameters
    ----------
    student_fn, reference_fn : callables with the same signature.
    cases : iterable of :class:`~.spec.Case` (or a callable returning one).
    name : the function's name in messages (default ``student_fn.__name__``).
    mistakes : :class:`~.spec.Mistake` list used to explain a wrong result.
    rtol, atol : comparison tolerances.
    allow : ``rnncourse`` names the student's code may call (everything else fails the check).
    extra : more checks ``(student_fn, case, output) -> message or None``.
    output_names : labels for the items of a tuple output.
    time_limit : seconds one call may take (default: env RNNCOURSE_CALL_TIME_LIMIT or 10).

    Raises
    ------
    GradingFailure
        On the first failing case, with a message that teaches: the case, what was expected and
        what came, and the matching mistake's hint if any.
    """
    cases = list(cases() if callable(cases) else cases)
    notes: List[str] = []
    results = grade_cases(student_fn, reference_fn, cases, name=name, mistakes=mistakes, rtol=rtol,
                          atol=atol, allow=allow, extra=extra, output_names=output_names,
                          time_limit=time_limit, stop_at_first=True, notes=notes,
                          shared=shared, judge=judge)
    for r in results:
        if not r.passed:
            raise GradingFailure(r.message)
    print_notes(name or getattr(student_fn, "__name__", "your function"), notes)
    return len(cases)


def print_notes(name: str, notes: Sequence[str]) -> None:
    for note in list(notes)[:3]:
        print(f"note: {name} passed, but it emitted {note}")
