"""The table `course.py grade` ends with: answers still to grade by hand, counted from the gradebook.

A gradebook with one assignment (an autograded cell of 3 points, a written answer of 2) and two
submissions: before the written answers are graded the table says 2 submissions have answers to
grade by hand; after one is graded in formgrader (its manual score set, as formgrader does) it
says 1 and the mean score counts the hand grade; after both, 0.
"""
from __future__ import annotations

import os
import re
import sys

import pytest
from nbgrader.api import Gradebook

from rnncourse_grader.progress import summary_table

A = "01_x"


@pytest.fixture(autouse=True)
def venv_on_path(monkeypatch):
    """nbgrader's Gradebook runs `alembic` when it creates a database: this venv's, as
    `make test` does not put .venv/bin on PATH."""
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))


def build(path):
    gb = Gradebook(f"sqlite:///{path}", "rnncourse")
    gb.add_assignment(A)
    gb.add_notebook(A, A)
    gb.add_grade_cell("f_visible", A, A, max_score=3, cell_type="code")
    gb.add_grade_cell("free", A, A, max_score=2, cell_type="markdown")
    gb.add_solution_cell("free", A, A)
    for s in ("alice", "bob"):
        gb.add_student(s)
        gb.add_submission(A, s)
        auto = gb.find_grade("f_visible", A, A, s)
        auto.auto_score, auto.needs_manual_grade = 3.0, False
        free = gb.find_grade("free", A, A, s)
        free.auto_score, free.needs_manual_grade = None, True
    gb.db.commit()
    return gb


def row(gb):
    summary = {"graded": [(A, "alice"), (A, "bob")], "failed": [], "not_graded": [], "unchanged": []}
    table = summary_table(gb, [(A, "alice"), (A, "bob")], summary)
    header, line = table.splitlines()
    assert header.split() == ["assignment", "graded", "failed", "not", "graded", "unchanged", "by",
                              "hand", "mean", "score"]
    m = re.fullmatch(rf"{A}\s+2\s+0\s+0\s+0\s+(\d+)\s+([\d.]+) / ([\d.]+)", line)
    assert m, line
    return int(m.group(1)), float(m.group(2)), float(m.group(3))


def hand_grade(gb, student, score):
    grade = gb.find_grade("free", A, A, student)
    grade.manual_score, grade.needs_manual_grade = score, False      # what formgrader writes
    gb.db.commit()


def test_the_table_counts_answers_still_to_grade_by_hand(tmp_path):
    gb = build(tmp_path / "gradebook.db")
    try:
        assert row(gb) == (2, 3.0, 5.0)
        hand_grade(gb, "alice", 2.0)
        assert row(gb) == (1, 4.0, 5.0)            # (5 + 3) / 2: alice's hand grade counts
        hand_grade(gb, "bob", 1.0)
        assert row(gb) == (0, 4.5, 5.0)
    finally:
        gb.close()


# ----------------------------------------------------------------------------- check's summary
def graded_notebook():
    """A notebook as the harness leaves it: f partly right, g wrong, q1 answered."""
    from nbformat import v4

    def cell(gid, points, outputs, source="check(...)"):
        c = v4.new_code_cell(source, outputs=outputs)
        c.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": points,
                                  "grade_id": gid, "schema_version": 3}
        return c
    stream = lambda text: v4.new_output("stream", name="stdout", text=text)  # noqa: E731
    result = lambda x: v4.new_output("execute_result", data={"text/plain": repr(x)})  # noqa: E731
    error = lambda text: v4.new_output("error", ename="GradingFailure", evalue=text,  # noqa: E731
                                       traceback=["GradingFailure: " + text])
    nb = v4.new_notebook()
    nb.cells = [
        cell("f_visible", 2, [stream("\x1b[0;31m\u2718\x1b[0m f: 2 of 3 visible test cases passed, "
                                     "1.5 of 2 points\n  ...\n"), result(1.5)]),
        cell("f_hidden", 3, [stream("\u2714 f: all 3 visible test cases passed (a; b; c)\n")],
             source="# Hidden tests for f\n# Until then, this cell repeats the visible tests.\n"),
        cell("g_visible", 3, [error("\u2718 g: 0 of 2 visible test cases passed, 0 of 3 points\n"
                                    "  FAILED  N=1: 0 of 1 points")]),
        cell("q1", 1, [stream("\u2714 q1: answer b recorded (its correctness is checked when the "
                              "notebook is graded)\n")]),
    ]
    return nb


SUMMARY = [                     # 1.5 + 3 (the hidden cell repeats f's visible tests) of 2 + 3
    "Summary (details of each failing cell below):",
    "  f           visible 2 of 3, hidden: when graded   4.5 of 5 points",
    "  g           visible 0 of 2                          0 of 3 points",
    "  q1          answered (checked when graded)           1 of 1 point",
    "  autograded                                        5.5 of 9 points",
]


def test_the_summary_says_per_function_cases_and_points():
    from rnncourse_grader.summary import summary_lines
    lines = summary_lines(graded_notebook())
    assert lines == SUMMARY, "\n".join(lines)
    assert max(map(len, lines)) + 4 <= 90 - 3      # nbgrader's default width never cuts a line


def test_validate_and_the_validate_dialog_start_with_the_summary(tmp_path):
    """nbgrader's Validator with the course's hook: the summary is results["summary"], the first
    entry of the dialog's failed list, and what `nbgrader validate` prints first."""
    import io
    import nbformat
    from nbgrader.validator import Validator
    from traitlets.config import Config
    from rnncourse_grader import summary
    summary.install(Validator)
    summary.install(Validator)                       # twice: still one summary
    path = tmp_path / "a.ipynb"
    nbformat.write(graded_notebook(), str(path))
    v = Validator(config=Config())
    v.preprocessors = []                              # the outputs above are the graded ones
    results = v.validate(str(path))
    assert results["summary"] == "\n".join(SUMMARY)
    first, *cells = results["failed"]
    assert first["summary"] and first["source"] == "\n".join(SUMMARY)
    assert [c["source"] for c in cells] == ["check(...)", "check(...)"]     # f_visible, g_visible
    v.stream = io.StringIO()
    v.validate_and_print(str(path))
    out = v.stream.getvalue()
    assert out.startswith("\n".join(SUMMARY) + "\n\n"), out
    assert "VALIDATION FAILED ON 2 CELL(S)" in out and out.count("Summary") == 1, out


def test_a_hidden_cell_checked_before_grading_refers_to_the_visible_one():
    """Validate / make check run the release's hidden cells, which repeat the visible tests: a
    failure there is said in one line naming the visible cell, not the whole report again;
    when graded (hidden checks in the source) or when passing, the outputs are kept."""
    from rnncourse_grader.harness import _short_repeat
    release = ('# Hidden tests for f (3 points)\n# Until then, this cell repeats the visible tests.\n'
               'from rnncourse.grading import check\ncheck("f", globals())')
    graded = release + '\n### BEGIN HIDDEN TESTS\n_g.check("f", globals(), hidden=True, seed=3, points=3)'
    failure = [{"output_type": "error", "ename": "GradingFailure", "evalue": "f failed on ...",
                "traceback": ["GradingFailure: f failed on ..."]}]
    passing = [{"output_type": "stream", "name": "stdout", "text": "\u2714 f: all 2 visible test cases passed"}]
    short = _short_repeat("f_hidden", release, failure)
    assert len(short) == 1 and short[0]["output_type"] == "error"
    assert "f: its hidden tests run when the notebook is graded" in short[0]["evalue"]
    assert "see the test cell of f above" in " ".join(short[0]["evalue"].split())
    assert max(len(line) for line in short[0]["evalue"].split("\n")) <= 80
    assert _short_repeat("f_hidden", graded, failure) == failure
    assert _short_repeat("f_hidden", release, passing) == passing
    assert _short_repeat("f_visible", 'check("f", globals(), points=2)', failure) == failure
