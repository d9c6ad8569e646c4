"""The table `course.py grade` ends with: answers still to grade by hand, counted from the gradebook.

A gradebook with one assignment (an autograded cell of 3 points, a written answer of 2) and two
submissions: before the written answers are graded the table says 2 submissions have answers to
grade by hand; after one is graded in formgrader (its manual score set, as formgrader does) it
says 1 and the mean score counts the hand grade; after both, 0.
"""
from __future__ import annotations

import re

from nbgrader.api import Gradebook

from rnncourse_grader.progress import summary_table

A = "01_x"


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
