"""nbgrader plug-ins of the course, loaded by ``nbgrader_config.py`` (not a student-facing module).

* :class:`TruncateOutput` -- caps the size of every output (a submission printing megabytes).
* :class:`GetGradesWithStatus` -- nbgrader's ``GetGrades`` that also records whether a grade
  still waits for the instructor (``needs_manual_grade``), so the feedback says "graded by hand"
  rather than "failed" for a written answer nobody has graded yet.
* :class:`AddSummary` -- for feedback: the summary of ``make check`` (per function: test cases
  passed, points), shown at the top of the report.
* :class:`HideHiddenTests` -- for feedback: removes hidden test regions from the cells and
  reduces the traceback of any error in a cell that had hidden tests to its one-line message,
  so hidden test code never reaches a student.
"""
from __future__ import annotations

import os

from traitlets import Integer

from nbgrader.preprocessors import ClearHiddenTests, GetGrades, NbGraderPreprocessor

HERE = os.path.dirname(os.path.abspath(__file__))
FEEDBACK_TEMPLATES = os.path.join(HERE, "feedback_templates")


class TruncateOutput(NbGraderPreprocessor):
    """Cap every text output at ``max_chars`` characters (after nbgrader's line limit)."""

    max_chars = Integer(20000, help="Largest text output kept per output").tag(config=True)

    def _cut(self, text: str) -> str:
        if len(text) <= self.max_chars:
            return text
        return (text[: self.max_chars]
                + f"\n... output truncated: {len(text):,} characters in all ...\n")

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                out["text"] = self._cut(out["text"])
            elif out.get("output_type") in ("execute_result", "display_data"):
                data = out.get("data", {})
                for mime in list(data):
                    if isinstance(data[mime], str) and len(data[mime]) > self.max_chars:
                        data[mime] = self._cut(data[mime])
            elif out.get("output_type") == "error":
                out["evalue"] = self._cut(str(out.get("evalue", "")))
        return cell, resources


def _is_message_only(out) -> bool:
    """An error output that is just a message (rnncourse.grading.GradingFailure, KernelDied)."""
    tb = list(out.get("traceback", []))
    return (out.get("ename") in ("GradingFailure", "KernelDied") and bool(tb)
            and tb[0].startswith(f"\x1b[0;31m{out.get('ename')}\x1b[0m: ")
            and not any("Cell In[" in line or "Traceback (most recent call last)" in line
                        or "---->" in line for line in tb))


class GetGradesWithStatus(GetGrades):
    """``GetGrades`` plus ``metadata.nbgrader.needs_manual_grade`` on every graded cell."""

    def _get_score(self, cell, resources):
        super()._get_score(cell, resources)
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                          self.assignment_id, self.student_id)
        cell.metadata.nbgrader["needs_manual_grade"] = bool(grade.needs_manual_grade)


class AddSummary(NbGraderPreprocessor):
    """Feedback preprocessor: ``resources["rnncourse"]["summary"]``, the summary `make check`
    and the Validate dialog start with (rnncourse_grader.summary), for the report's top."""

    def preprocess(self, nb, resources):
        from rnncourse_grader.summary import summary_lines
        resources.setdefault("rnncourse", {})["summary"] = "\n".join(summary_lines(nb))
        return nb, resources


class HideHiddenTests(ClearHiddenTests):
    """Feedback preprocessor: no hidden test code, neither in the cell nor in a traceback."""

    def preprocess_cell(self, cell, resources, index):
        had_hidden = self.begin_test_delimeter in cell.get("source", "")
        cell, resources = super().preprocess_cell(cell, resources, index)
        if had_hidden and cell.cell_type == "code":
            for out in cell.get("outputs", []):
                if out.get("output_type") != "error" or _is_message_only(out):
                    continue
                ename, evalue = out.get("ename", "Error"), str(out.get("evalue", ""))
                if ename == "CellTimeoutError":
                    evalue = evalue or "the cell did not finish within the time limit"
                out["traceback"] = [f"\x1b[0;31m{ename}\x1b[0m: {evalue}",
                                    "(no traceback: this cell contains hidden tests)"]
        return cell, resources
