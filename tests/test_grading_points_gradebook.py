"""Partial credit read back from a real nbgrader gradebook (course.py grade, sandboxed harness).

One submission of 02_forward_pass: the solution's answers, except a tanh-only rnn_step_forward
(no relu); rnn_forward is the solution's, which calls the notebook's (tanh-only) step.
Expected, by hand:

* rnn_step_forward_visible (2 points): tanh core case (weight 2) passes, relu (1) fails: 2 * 2/3;
* rnn_step_forward_hidden (3 points): 6 cases of weight 1, one of them relu: 3 * 5/6 = 2.5;
* rnn_forward_* : graded with the course's step in place of the notebook's: full points;
* every other cell: full points.
"""
import json
import os
import subprocess
import sys

import pytest

from rnncourse_grader.testing import COURSE_PY, grade_id, notebooks, solved, submit

A = "02_forward_pass"

pytestmark = pytest.mark.skipif(
    __import__("rnncourse_grader.sandbox", fromlist=["x"]).check_available() is not None,
    reason="no sandbox on this machine")

TANH_ONLY = '''def rnn_step_forward(x, h_prev, params, activation="tanh"):
    return np.tanh(x @ params.U.T + h_prev @ params.W.T + params.b)
'''


def test_partial_credit_reaches_the_gradebook(temp_course):
    course = temp_course([A])
    release, solution = notebooks(course, A)
    nb = solved(release, solution)
    for cell in nb.cells:
        if grade_id(cell) == "rnn_step_forward_answer":
            cell.source = TANH_ONLY
    submit(course, "alice", A, nb)
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    course_py = [sys.executable, COURSE_PY, "--course", course]
    res = subprocess.run(course_py + ["grade", A, "--workers", "1"], env=env, capture_output=True,
                         text=True, timeout=900)
    assert res.returncode == 0, res.stdout + res.stderr
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course}/gradebook.db", "rnncourse") as gb:
        nb = gb.find_submission_notebook(A, A, "alice")
        grades = {g.name: (g.score, g.max_score) for g in nb.grades if g.cell.cell_type == "code"}
    assert grades["rnn_step_forward_visible"][0] == pytest.approx(4 / 3, abs=1e-4)
    assert grades["rnn_step_forward_hidden"][0] == pytest.approx(2.5, abs=1e-4)
    others = {k: v for k, v in grades.items() if not k.startswith("rnn_step_forward")}
    assert others and all(score == max_score for score, max_score in others.values()), others
    with open(os.path.join(course, "autograded", "alice", A, f"{A}.ipynb"), encoding="utf-8") as fh:
        cell = next(c for c in json.load(fh)["cells"]
                    if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "rnn_step_forward_hidden")
    text = "".join("".join(o.get("text", "")) for o in cell["outputs"] if o["output_type"] == "stream")
    assert "5 of 6 hidden test cases passed, 2.5 of 3 points" in text, cell["outputs"]
    assert "FAILED  N=2, D=2, H=6, relu: 0 of 0.5 points" in text
