"""The notebook entry points: :func:`check` (a graded function) and :func:`check_choice`.

A test cell calls ``check("rnn_step_forward", globals(), points=2)``.  With ``points`` the cell
scores per case: each case passed earns ``points * weight / total weight`` (weights: see
:data:`~.spec.CORE_WEIGHT`), the feedback lists every case (passed or failed, its points) and
the details of the failures, and ``check`` *returns* the score, the cell's last expression, which
nbgrader reads as partial credit.  A score of zero raises :class:`~.text.GradingFailure` (the
cell shows an error).  Without ``points``, the cell is all or nothing (the first failure raises).
When a notebook is graded, ``rnncourse_grader.harness`` calls these functions in the grader's
process and writes the returned score into the cell's output itself.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from .calls import as_substitute, substituting
from .grade import CaseResult, check_function, grade_cases, print_notes
from .spec import load_checks
from .text import GREEN, RED, RESET, GradingFailure, error_text, fmt_num, wrap


def _specs(checks_path: Optional[str]):
    try:
        specs = load_checks(checks_path)
    except GradingFailure:
        raise
    except Exception as err:  # noqa: BLE001 - a broken checks.py is the instructor's problem
        raise GradingFailure(f"could not load the tests in checks.py: {error_text(err)}") from None
    return specs


def _spec_and_function(name: str, namespace: Dict[str, Any], specs):
    if name not in specs:
        raise GradingFailure(f"checks.py has no tests for {name!r} (it has {', '.join(sorted(specs))}).")
    if name not in namespace:
        raise GradingFailure(
            f"{name} is not defined. Run the cell where you wrote it (and fix any error it shows) "
            f"before running its tests; keep the function's name exactly `{name}`.")
    return specs[name], namespace[name]


def case_points(results: Sequence[CaseResult], points: float) -> List[float]:
    """Points each case is worth: ``points`` shared in proportion to the cases' weights."""
    total = sum(r.weight for r in results) or 1.0
    return [points * r.weight / total for r in results]


def score_report(name: str, kind: str, results: Sequence[CaseResult], points: float) -> str:
    """The summary line, one line per case (passed/failed, points), then the failures' details."""
    worth = case_points(results, points)
    score = sum(w for w, r in zip(worth, results) if r.passed)
    n_ok = sum(r.passed for r in results)
    mark = f"{GREEN}\u2714{RESET}" if n_ok == len(results) else f"{RED}\u2718{RESET}"
    lines = [f"{mark} {name}: {n_ok} of {len(results)} {kind} test cases passed, "
             f"{fmt_num(round(score, 4))} of {fmt_num(points)} points"]
    for w, r in zip(worth, results):
        got = w if r.passed else 0.0
        lines.append(f"  {'passed' if r.passed else 'FAILED'}  {r.label}: "
                     f"{fmt_num(round(got, 4))} of {fmt_num(round(w, 4))} points")
    for r in results:
        if not r.passed:
            lines.append("")
            lines.append(r.message)
    return "\n".join(lines)


def check(name: str, namespace: Dict[str, Any], *, hidden: bool = False, seed: int = 0,
          checks_path: Optional[str] = None, time_limit: Optional[float] = None,
          points: Optional[float] = None) -> Optional[float]:
    """Run the visible (or, with ``hidden=True``, the hidden) checks of function ``name``.

    ``namespace`` is the notebook's ``globals()`` (or, when graded, ``rnncourse_grader``'s view of
    the sandboxed notebook); the function is looked up there by name, so a missing function is
    reported, not raised as a NameError.  ``time_limit``: seconds per call (see
    :func:`~.grade.check_function`).  ``points``: the cell's points, shared among the cases
    (see the module docstring); returns the score, or raises :class:`GradingFailure` when it is 0.
    Without ``points``: prints one line and returns None when every case passes, else raises.
    """
    specs = _specs(checks_path)
    spec, student_fn = _spec_and_function(name, namespace, specs)
    substitutes = {d: as_substitute(specs[d].reference, d) for d in spec.depends if d in specs}
    if hidden:
        if spec.hidden is None:
            raise GradingFailure(f"checks.py defines no hidden tests for {name!r}.")
        cases = list(spec.hidden(np.random.default_rng(seed)))
    else:
        cases = list(spec.visible())
    kind = "hidden" if hidden else "visible"
    options = dict(name=name, mistakes=spec.mistakes, rtol=spec.rtol, atol=spec.atol, allow=spec.allow,
                   extra=spec.extra, output_names=spec.output_names, time_limit=time_limit,
                   shared=spec.shared, judge=spec.judge)
    using = (f"\n  (graded with the course's {', '.join(substitutes)} in place of yours, which "
             f"{'is' if len(substitutes) == 1 else 'are'} graded on {'its' if len(substitutes) == 1 else 'their'} own)"
             if substitutes else "")
    if points is None:
        with substituting(namespace, substitutes):
            n = check_function(student_fn, spec.reference, cases, **options)
        labels = "; ".join(dict.fromkeys(c.label for c in cases))
        print(wrap(f"{GREEN}\u2714{RESET} {name}: all {n} {kind} test cases passed ({labels})"))
        return None
    notes: List[str] = []
    with substituting(namespace, substitutes):
        results = grade_cases(student_fn, spec.reference, cases, notes=notes, **options)
    score = round(sum(w for w, r in zip(case_points(results, points), results) if r.passed), 6)
    report = score_report(name, kind, results, float(points)).replace("\n", using + "\n", 1) if using \
        else score_report(name, kind, results, float(points))
    if score <= 0:
        raise GradingFailure(report)
    print(wrap(report))
    if score >= points - 1e-9:
        print_notes(name, notes)
    return score


def _normalise_choice(value) -> Optional[frozenset]:
    if value is None:
        return None
    if isinstance(value, str):
        letters = re.findall(r"[A-Za-z]", value.replace("and", " "))
        return frozenset(ch.lower() for ch in letters) if value.strip() else None
    if isinstance(value, (set, frozenset, list, tuple)):
        out = set()
        for v in value:
            n = _normalise_choice(v)
            if n is None:
                return frozenset({"?"})
            out |= n
        return frozenset(out)
    return frozenset({"?"})


def check_choice(name: str, namespace: Dict[str, Any], *, options: str = "abcd",
                 answer=None, explain: Optional[Dict[str, str]] = None, multiple: bool = False) -> None:
    """Check a multiple-choice answer stored in the notebook variable ``name``.

    Without ``answer`` only the format is checked (visible part); with it, correctness (hidden
    part).  ``explain`` maps a wrong option to the reason it is wrong, shown as feedback.
    ``multiple=True`` accepts several letters (a set or a string like ``"a, c"``).
    """
    opts = ", ".join(options[:-1]) + f" or {options[-1]}"
    if name not in namespace:
        raise GradingFailure(f"{name} is not defined: run your answer cell (`{name} = \"b\"`, for example).")
    given = _normalise_choice(namespace[name])
    if not given:
        raise GradingFailure(f"you have not answered {name} yet: set {name} to one of {opts}.")
    if any(len(ch) != 1 or ch not in options for ch in given) or (not multiple and len(given) != 1):
        shape = "one or more of the letters" if multiple else "one letter among"
        raise GradingFailure(f"{name} must be {shape} {opts}; got {namespace[name]!r}.")
    if answer is None:
        print(f"{GREEN}\u2714{RESET} {name}: answer {', '.join(sorted(given))!s} recorded "
              f"(its correctness is checked when the notebook is graded)")
        return
    right = _normalise_choice(answer)
    if given != right:
        reasons = [f"  ({ch}) {explain[ch]}" for ch in sorted(given - right) if explain and ch in explain]
        msg = f"{name}: {', '.join(sorted(given))} is not the right answer."
        if reasons:
            msg += "\n" + "\n".join(reasons)
        if multiple and given < right:
            msg += "\n  Some correct options are missing."
        raise GradingFailure(msg)
    print(f"{GREEN}\u2714{RESET} {name}: correct")
