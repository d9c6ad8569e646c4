"""The short summary that ``make check`` and the Validate button show first: per graded function,
the test cases passed and the points, read from a notebook the harness has run.

The rows come from the grade cells' outputs, which :mod:`rnncourse_grader.harness` wrote in the
grader's process (the report's first line ``✘ f: 3 of 6 hidden test cases passed, 1.5 of 3
points``, nbgrader's score of the cell), so they say what grading says::

    Summary (details of each failing cell below):
      rnn_step_forward    visible 1 of 2, hidden: when graded     1.33 of 5 points
      q1                  correct                                    1 of 1 point
      autograded                                                  2.33 of 6 points

Lines stay under 84 columns, so nbgrader's own width limit (``Validator.width``, 90 by default,
indent 4) never cuts one, whatever configuration the Validator was given.
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

from nbconvert.filters import strip_ansi

_REPORT = re.compile(r"[\u2714\u2718]\s+(\w+): (\d+) of (\d+) (visible|hidden) test cases passed")
_ALL = re.compile(r"[\u2714\u2718]\s+(\w+): all (\d+) (visible|hidden) test cases passed")
_KIND = re.compile(r"^(.*)_(visible|hidden)$")
NAME_WIDTH = 22


def _text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") == "error":
            parts.append(str(out.get("evalue", "")))
    return strip_ansi("\n".join(parts))


def _cases(text: str, kind: str) -> Optional[Tuple[int, int]]:
    for m in _REPORT.finditer(text):
        if m.group(4) == kind:
            return int(m.group(2)), int(m.group(3))
    for m in _ALL.finditer(text):
        if m.group(3) == kind:
            return int(m.group(2)), int(m.group(2))
    return None


def _num(x: float) -> str:
    return f"{round(x, 2):g}"


def summary_lines(nb) -> List[str]:
    """The summary of a notebook whose grade cells carry the harness's outputs (empty list when
    it has no autograded cell)."""
    from nbgrader import utils
    rows: Dict[str, dict] = {}
    for cell in nb.cells:
        nbg = (cell.get("metadata") or {}).get("nbgrader") or {}
        if cell.get("cell_type") != "code" or not nbg.get("grade") or nbg.get("solution"):
            continue
        gid = str(nbg.get("grade_id", ""))
        score, max_score = utils.determine_grade(cell)
        if score is None:
            continue
        m = _KIND.match(gid)
        name, kind = (m.group(1), m.group(2)) if m else (gid, None)
        row = rows.setdefault(name, {"score": 0.0, "max": 0.0, "visible": None, "hidden": None,
                                     "kind": kind})
        row["score"] += float(score)
        row["max"] += float(max_score)
        text = row["text"] = _text(cell)
        if kind:
            row[kind] = _cases(text, kind) or ("visible?" if kind == "visible" else
                                               "later" if _cases(text, "visible") or
                                               "Until then" in cell.get("source", "") else "?")
    if not rows:
        return []
    width = min(max(len(n) for n in list(rows) + ["autograded"]), NAME_WIDTH)
    lines = []
    total = maximum = 0.0
    for name, r in rows.items():
        total, maximum = total + r["score"], maximum + r["max"]
        if r["kind"] is None:               # a multiple-choice question
            what = ("answered (checked when graded)" if "recorded" in r["text"] else
                    "correct" if r["score"] >= r["max"] else
                    "not answered" if "not answered" in r["text"] or "not defined" in r["text"]
                    else "wrong")
        else:
            parts = []
            for kind in ("visible", "hidden"):
                c = r[kind]
                if isinstance(c, tuple):
                    parts.append(f"{kind} {c[0]} of {c[1]}")
                elif c == "later":
                    parts.append(f"{kind}: when graded")
                elif c is not None:
                    parts.append(f"{kind}: failed")
            what = ", ".join(parts)
        pts = f"{_num(r['score'])} of {_num(r['max'])} point{'' if r['max'] == 1 else 's'}"
        lines.append(f"  {name[:width]:<{width}}  {what:<36} {pts:>16}")
    pts = f"{_num(total)} of {_num(maximum)} points"
    lines.append(f"  {'autograded':<{width}}  {'':<36} {pts:>16}")
    head = "Summary (details of each failing cell below):" if total < maximum else "Summary:"
    return [head] + lines


# ---------------------------------------------------------------------------- nbgrader's Validator
#: The entry put first in the Validate dialog's list of failed cells (that dialog shows only the
#: ``failed`` list): its "source" is the summary, its "error" says what follows.
SUMMARY_NOTE = "(a summary of the whole check, not a cell: the failing cells follow)"


def install(validator_class) -> None:
    """Make nbgrader's ``Validator`` put the summary first: as ``results["summary"]`` and as the
    first entry of ``results["failed"]`` (for the Validate dialog; marked ``"summary": True``),
    and, when it prints (``nbgrader validate``), before its own lines.  Idempotent."""
    if getattr(validator_class, "_rnncourse_summary", False):
        return
    get_failed = validator_class._get_failed_cells
    validate = validator_class.validate
    print_num_failed = validator_class._print_num_failed
    validate_and_print = validator_class.validate_and_print

    def _get_failed_cells(self, nb):
        self._summary_lines = summary_lines(nb)
        return get_failed(self, nb)

    def validate_with_summary(self, filename):
        self._summary_lines = []
        results = validate(self, filename)
        lines = self._summary_lines
        if lines:
            results["summary"] = "\n".join(lines)
            if results.get("failed") and not getattr(self, "_printing", False):
                text = "\n".join(lines)
                results["failed"].insert(0, {"source": text, "error": SUMMARY_NOTE,
                                             "raw_error": SUMMARY_NOTE, "summary": True})
        return results

    def _print_num_failed_with_summary(self, num_failed):
        if getattr(self, "_summary_lines", None):
            self.stream.write("\n".join(self._summary_lines) + "\n\n")
        print_num_failed(self, num_failed)

    def validate_and_print_with_summary(self, filename):
        self._printing = True
        try:
            return validate_and_print(self, filename)
        finally:
            self._printing = False

    validator_class._get_failed_cells = _get_failed_cells
    validator_class.validate = validate_with_summary
    validator_class._print_num_failed = _print_num_failed_with_summary
    validator_class.validate_and_print = validate_and_print_with_summary
    validator_class._rnncourse_summary = True
