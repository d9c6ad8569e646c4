"""rnncourse_grader's trusted side: grade-cell parsing, edited metadata, the notebook time limit."""
from __future__ import annotations

import copy
import os
import shutil

import nbformat
import pytest

from rnncourse_grader import harness, nbgrader_plugin, sandbox
from test_nbgrader_workflow import REPO, gid, nbgrader, solved

A = "01_notation"


def test_grade_calls_reads_literal_checks_in_order_once():
    src = ('from rnncourse.grading import check\ncheck("f", globals())\n'
           '### BEGIN HIDDEN TESTS\nimport x as _g\n_g.check("f", globals())\n'
           '_g.check("f", globals(), hidden=True, seed=7)\n%time 1\n### END HIDDEN TESTS\n')
    assert harness.grade_calls(src) == [("check", "f", {}), ("check", "f", {"hidden": True, "seed": 7})]
    assert harness.grade_calls('check_choice("q1", globals(), options="abc", answer="b")') == \
        [("check_choice", "q1", {"options": "abc", "answer": "b"})]
    with pytest.raises(ValueError, match="string literal"):
        harness.grade_calls("check(name, globals())")
    with pytest.raises(ValueError, match="not a literal"):
        harness.grade_calls('check("f", globals(), seed=int("3"))')


def _notebooks():
    release = nbformat.read(os.path.join(REPO, "exercises", A, f"{A}.ipynb"), 4)
    source = nbformat.read(os.path.join(REPO, "solutions", A, f"{A}.ipynb"), 4)
    return release, source


def tampered(kind):
    release, source = _notebooks()
    nb = solved(release, source)
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
             and c.cell_type == "code"]
    if kind == "points":
        cells[0].metadata.nbgrader["points"] = 100
    elif kind == "schema":
        for c in nb.cells:
            if "nbgrader" in c.metadata:
                c.metadata.nbgrader["schema_version"] = 99
    elif kind == "extra_grade_cell":
        extra = nbformat.v4.new_code_cell("print('free points')")
        extra.metadata["nbgrader"] = {"grade": True, "grade_id": "free_points", "locked": False,
                                      "points": 50, "schema_version": 3, "solution": False,
                                      "task": False}
        nb.cells.append(extra)
    elif kind == "flags":
        cells[0].metadata.nbgrader["grade"] = False
    return nb


@pytest.mark.parametrize("kind", ["points", "schema", "extra_grade_cell", "flags"])
def test_metadata_problems_name_the_change(kind):
    _, source = _notebooks()
    problems = nbgrader_plugin.metadata_problems(tampered(kind), source)
    assert problems, kind
    text = "; ".join(problems)
    assert {"points": "points changed from", "schema": "schema_version changed",
            "extra_grade_cell": "free_points", "flags": "grade changed"}[kind] in text


def test_an_untouched_notebook_has_no_problems():
    release, source = _notebooks()
    assert nbgrader_plugin.metadata_problems(release, source) == []
    assert nbgrader_plugin.metadata_problems(solved(release, source), source) == []


@pytest.mark.skipif(sandbox.check_available() is not None, reason="no sandbox on this machine")
def test_an_edited_notebook_scores_zero_and_never_stops_the_class(temp_course):
    course = temp_course([A], cell_timeout=6)
    release, source = _notebooks()
    students = {"correct": solved(release, source)}
    for kind in ("points", "schema", "extra_grade_cell"):
        students[f"edited_{kind}"] = tampered(kind)
    students["zz_after"] = solved(release, source)        # graded after the edited ones
    for s, nb in students.items():
        d = os.path.join(course, "submitted", s, A)
        shutil.copytree(os.path.join(course, "exercises", A), d)
        nbformat.write(nb, os.path.join(d, f"{A}.ipynb"))
    nbgrader(["generate_assignment", A, "--force"], course)
    res = nbgrader(["autograde", A, "--force"], course, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course}/gradebook.db", "rnncourse") as gb:
        def auto(s):
            nb = gb.find_submission_notebook(A, A, s)
            return {g.name: g.auto_score for g in nb.grades if g.auto_score is not None}, \
                {g.name: g.max_score for g in nb.grades}
        full = auto("correct")
        assert sum(full[0].values()) > 0 and full == auto("zz_after")
        for s in students:
            if s.startswith("edited_"):
                scores, maxima = auto(s)
                assert sum(scores.values()) == 0, s
                assert maxima == full[1], f"{s}: the edited points reached the gradebook"
    graded = nbformat.read(os.path.join(course, "autograded", "edited_points", A, f"{A}.ipynb"), 4)
    errors = [o for c in graded.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors and all("cannot be graded" in o["evalue"] and "points changed from" in o["evalue"]
                          for o in errors if o["ename"] == "GradingFailure")


def test_the_notebook_time_limit_stops_the_rest(tmp_path):
    class Slow:
        limits = sandbox.Limits(notebook_seconds=0.5)

        def run_cell(self, code):
            import time
            time.sleep(0.4)
            return {"status": "ok", "outputs": [{"output_type": "stream", "name": "stdout", "text": "ran"}]}

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"x = {i}") for i in range(4)])
    harness.grade_notebook(nb, Slow(), {}, "checks.py")
    ran = [bool(c.outputs) and c.outputs[0].get("text") == "ran" for c in nb.cells]
    assert ran[:2] == [True, True] and ran[2:] == [False, False]
    assert "time limit" in nb.cells[3].outputs[0]["evalue"]


def test_without_a_sandbox_grading_refuses_unless_unsafe():
    """PATH without bubblewrap: `check` refuses and says why; with --unsafe it runs."""
    import subprocess
    import sys
    env = dict(os.environ, PATH=os.path.dirname(sys.executable))
    env.pop("RNNCOURSE_UNSAFE", None)
    course = [sys.executable, os.path.join(REPO, "tools", "course.py"), "check"]
    nb = os.path.join(REPO, "solutions", A, f"{A}.ipynb")
    res = subprocess.run(course + [nb], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    assert "refusing to run student code without a sandbox" in res.stderr and "bwrap" in res.stderr
    res = subprocess.run(course + ["--unsafe", nb], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "PASSED" in res.stdout, res.stdout + res.stderr
