"""Assignment 9's training run graded for real: ``course.py grade`` in the sandbox.

``train_model`` runs in the sandboxed worker and calls the grader's ``charlm_loss`` and
``adam_step`` back over the channel (checks.py's ``depends``); the held-out loss is measured in
the grader's process.  Three submissions: the solution (every autograded point), one whose
``charlm_loss`` is wrong (loses charlm_loss's points only: train_model still trains with the
course's), one whose loop never keeps adam_step's parameters (loses train_model's 4 points only).
Run with the grader's default call limit (10 s): the workflow tests' 2 s is too tight for a
150-step training run on a loaded machine, since the call's deadline also covers the grader's
time serving its 300 callbacks (it failed so once at load 4).
"""
from __future__ import annotations

import os

import pytest

from rnncourse_grader import testing
from test_nbgrader_workflow import PY, REPO, run

A = "09_char_lm"

pytestmark = pytest.mark.skipif(
    __import__("rnncourse_grader.sandbox", fromlist=["x"]).check_available() is not None,
    reason="no sandbox on this machine")


def scores(course, student):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course}/gradebook.db", "rnncourse") as gb:
        nb = gb.find_submission_notebook(A, A, student)
        return {g.name: g.auto_score for g in nb.grades if g.auto_score is not None}, \
            {g.name: g.max_score for g in nb.grades}


@pytest.fixture(scope="module")
def graded(temp_course):
    course = temp_course([A], name="train", cell_timeout=60)
    release, solution = testing.notebooks(course, A)
    good = testing.solved(release, solution)
    testing.submit(course, "perfect", A, good)
    bad_loss = testing.solved(release, solution)
    cell = next(c for c in bad_loss.cells if testing.grade_id(c) == "charlm_loss_answer")
    cell.source = cell.source.replace(".sum() / N", ".sum()")          # not averaged over N
    testing.submit(course, "bad_loss", A, bad_loss)
    stuck = testing.solved(release, solution)
    cell = next(c for c in stuck.cells if testing.grade_id(c) == "train_model_answer")
    cell.source = cell.source.replace("params, state = adam_step(", "_, state = adam_step(")
    testing.submit(course, "stuck", A, stuck)
    res = run([PY, os.path.join(REPO, "tools", "course.py"), "--course", course, "grade", A,
               "--csv", ""], REPO, check=False, timeout=1800,
              extra_env={"RNNCOURSE_CALL_TIME_LIMIT": "10"})
    assert res.returncode == 0, res.stdout + res.stderr
    return course


def test_the_solution_gets_every_point_hidden_training_runs_included(graded):
    got, full = scores(graded, "perfect")
    assert got["train_model_visible"] == full["train_model_visible"] == 2
    assert got["train_model_hidden"] == full["train_model_hidden"] == 2
    assert sum(got.values()) == sum(v for k, v in full.items() if k != "seq2seq_free") == 28


def test_a_wrong_loss_costs_its_own_points_and_not_the_training_run(graded):
    got, full = scores(graded, "bad_loss")
    assert got["charlm_loss_visible"] < full["charlm_loss_visible"]
    assert got["train_model_visible"] == 2 and got["train_model_hidden"] == 2


def test_a_loop_that_never_updates_loses_the_training_run_only(graded):
    got, full = scores(graded, "stuck")
    perfect, _ = scores(graded, "perfect")
    assert got["train_model_visible"] == 0 and got["train_model_hidden"] == 0
    assert {k: v for k, v in got.items() if not k.startswith("train_model")} == \
        {k: v for k, v in perfect.items() if not k.startswith("train_model")}


def test_the_feedback_starts_with_the_summary_of_make_check(graded):
    import html
    import re
    with open(os.path.join(graded, "feedback", "stuck", A, f"{A}.html"), encoding="utf-8") as fh:
        page = html.unescape(fh.read())
    summary = re.search(r'<pre class="rnn-summary-text">(.*?)</pre>', page, re.S).group(1)
    rows = {line.split()[0]: line for line in summary.splitlines()[1:]}
    assert re.search(r"visible 0 of 1, hidden 0 of 2\s+0 of 4 points$", rows["train_model"]), summary
    assert re.search(r"visible 2 of 2, hidden 6 of 6\s+7 of 7 points$", rows["charlm_loss"]), summary
    assert re.search(r"24 of 28 points$", rows["autograded"]), summary
    assert page.index("rnn-summary-text") < page.index('id="toc"')      # first, then the cells
