"""Class-scale grading (rnncourse_grader.engine via `tools/course.py grade`), real nbgrader CLI.

A small class in a temporary course (the pattern of test_nbgrader_workflow.py: its
nbgrader_config.py loads the repository's and points the course root elsewhere): the two
cheapest assignments x three students, "correct" (the instructor's notebook), "blank" (the
release) and "partly" (the release with every answer but the first filled in).  The grades the
engine writes into the course gradebook are compared with those of stock, sequential
`nbgrader autograde` of the same class; then re-runs, a forced regrade over hand grades, a
coordinator killed with SIGKILL and worker processes that die.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from rnncourse_grader import testing

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
BIN = os.path.dirname(PY)
COURSE_PY = os.path.join(REPO, "tools", "course.py")
ASSIGNMENTS = ["01_notation", "02_forward_pass"]
STUDENTS = ["correct", "blank", "partly"]
TIMESTAMP = "2026-03-01 12:00:00.000000 UTC"
LEDGER = "rnncourse_autograde_ledger"
WALL = {}                                   # wall times, printed at the end (pytest -s)

pytestmark = pytest.mark.skipif(
    not all(os.path.exists(os.path.join(REPO, "solutions", a, f"{a}.ipynb")) for a in ASSIGNMENTS),
    reason="assignments missing")


def env(**extra):
    e = dict(os.environ)
    e["PATH"] = BIN + os.pathsep + e.get("PATH", "")
    e["RNNCOURSE_CALL_TIME_LIMIT"] = "5"
    e["RNNCOURSE_KERNEL_MEMORY_MB"] = "2048"
    e["PYTHONWARNINGS"] = "ignore"
    e.update(extra)
    return e


def run(args, cwd, check=True, extra_env=None, timeout=900):
    res = subprocess.run(args, cwd=cwd, env=env(**(extra_env or {})), text=True, capture_output=True,
                         timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"{args} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res


def grade(course, *args, check=True, extra_env=None):
    return run([PY, COURSE_PY, "--course", course, "grade", *args], REPO, check=check, extra_env=extra_env)


def write_config(course):
    testing.write_config(course, cell_timeout=30)


def clone(src, dest):
    return testing.clone(src, dest, cell_timeout=30)


partly = testing.partly


@pytest.fixture(scope="module")
def base(temp_course):
    """A course with the class's submissions, assignments registered, nothing graded."""
    course = temp_course(ASSIGNMENTS, name="base", cell_timeout=30)
    for a in ASSIGNMENTS:
        release, solution = testing.notebooks(course, a)
        for student, nb in (("correct", solution), ("blank", release), ("partly", partly(release, solution))):
            testing.submit(course, student, a, nb, timestamp=TIMESTAMP if student == "correct" else None)
    return course


def gradebook(course):
    """{(assignment, student): {timestamp, cells: {id: (auto, manual, needs_manual, max)},
    comments: {id: auto_comment}, penalty: {notebook: penalty}}} and the submission rows."""
    from nbgrader.api import Gradebook
    out = {}
    with Gradebook(f"sqlite:///{course}/gradebook.db", "rnncourse") as gb:
        for a in gb.assignments:
            for sub in a.submissions:
                cells, comments, penalty = {}, {}, {}
                for nb in sub.notebooks:
                    penalty[nb.name] = nb.late_submission_penalty
                    for g in nb.grades:
                        cells[g.name] = (g.auto_score, g.manual_score, g.needs_manual_grade, g.max_score)
                    for c in nb.comments:
                        comments[c.name] = c.auto_comment
                out[(a.name, sub.student.id)] = {"timestamp": sub.timestamp, "cells": cells,
                                                 "comments": comments, "penalty": penalty}
    rows = sqlite3.connect(os.path.join(course, "gradebook.db")).execute(
        "SELECT a.name, s.student_id, COUNT(*) FROM submitted_assignment s JOIN assignment a "
        "ON a.id = s.assignment_id GROUP BY a.name, s.student_id").fetchall()
    return out, {(a, s): n for a, s, n in rows}


def ledger(course):
    try:
        con = sqlite3.connect(f"file:{course}/gradebook.db?mode=ro", uri=True, timeout=10)
        return {(a, s): t for a, s, t in con.execute(f"SELECT assignment, student, graded_at FROM {LEDGER}")}
    except sqlite3.OperationalError:        # no gradebook or no ledger yet
        return {}


def temporary_folders(course):
    root = os.path.join(course, "autograded")
    return [os.path.join(s, f) for s in os.listdir(root) if os.path.isdir(os.path.join(root, s))
            for f in os.listdir(os.path.join(root, s)) if f.startswith(".")]


def assert_like_stock(course, stock_grades, pairs=None):
    grades, rows = gradebook(course)
    pairs = pairs or list(stock_grades)
    for key in pairs:
        assert rows.get(key) == 1, f"{key}: {rows.get(key)} submission rows"
        assert grades[key] == stock_grades[key], f"{key}:\n{grades[key]}\n!=\n{stock_grades[key]}"
        a, s = key
        assert os.path.exists(os.path.join(course, "autograded", s, a, f"{a}.ipynb")), key
    assert not temporary_folders(course)


@pytest.fixture(scope="module")
def stock(base, tmp_path_factory):
    """Stock nbgrader: `nbgrader autograde <assignment>` for every assignment, one after the other."""
    course = clone(base, tmp_path_factory.mktemp("stock") / "course")
    t0 = time.perf_counter()
    for a in ASSIGNMENTS:
        run([PY, "-m", "nbgrader", "autograde", a, "--force"], course)
    WALL["stock nbgrader autograde, sequential"] = time.perf_counter() - t0
    grades, rows = gradebook(course)
    assert set(grades) == {(a, s) for a in ASSIGNMENTS for s in STUDENTS}
    return grades


def engine_run(base, tmp_path_factory, workers):
    course = clone(base, tmp_path_factory.mktemp(f"engine{workers}") / "course")
    t0 = time.perf_counter()
    res = grade(course, "--workers", str(workers), "--no-feedback", "--csv", "")
    WALL[f"tools/course.py grade --workers {workers}"] = time.perf_counter() - t0
    return course, res


@pytest.fixture(scope="module")
def engine1(base, tmp_path_factory):
    return engine_run(base, tmp_path_factory, 1)


@pytest.fixture(scope="module")
def engine2(base, tmp_path_factory):
    return engine_run(base, tmp_path_factory, 2)


@pytest.fixture(scope="module", autouse=True)
def report_wall_times():
    yield
    for what, seconds in WALL.items():
        print(f"\n{what}: {seconds:.1f} s", end="")


# ----------------------------------------------------------------------------- tests
def test_the_class_is_not_degenerate(stock):
    for a in ASSIGNMENTS:
        totals = {s: sum(auto or 0 for auto, _, _, _ in stock[(a, s)]["cells"].values()) for s in STUDENTS}
        assert totals["correct"] > totals["partly"] > totals["blank"] == 0, (a, totals)
    assert str(stock[(ASSIGNMENTS[0], "correct")]["timestamp"]).startswith("2026-03-01 12:00:00")


@pytest.mark.parametrize("which", ["engine1", "engine2"])
def test_grades_equal_stock_sequential_nbgrader(request, stock, which):
    course, res = request.getfixturevalue(which)
    assert "Autograding 6 new or changed submission(s) of 6 (0 unchanged)" in res.stdout, res.stdout
    assert_like_stock(course, stock)
    assert set(ledger(course)) == set(stock)
    table = res.stdout[res.stdout.index("assignment "):]
    for a in ASSIGNMENTS:
        assert re.search(rf"^{a}\s+3\s+0\s+0\s+0\s+\d+\s+[\d.]+ / [\d.]+$", table, re.M), table
    assert re.search(r"graded 6/6  failed 0  [\d.]+ nb/min", res.stdout), res.stdout
    assert "Traceback" not in res.stdout + res.stderr


def test_rerun_grades_nothing_then_only_what_changed(engine2, stock, tmp_path):
    course = clone(engine2[0], tmp_path / "course")
    before = ledger(course)
    res = grade(course, "--workers", "2", "--no-feedback", "--csv", "")
    assert "Autograding 0 new or changed submission(s) of 6 (6 unchanged)" in res.stdout, res.stdout
    assert ledger(course) == before
    # "partly" completes 02_forward_pass (the instructor's notebook): only that one is graded again
    a = ASSIGNMENTS[1]
    shutil.copy(os.path.join(course, "solutions", a, f"{a}.ipynb"), os.path.join(course, "submitted", "partly", a))
    res = grade(course, "--workers", "2", "--no-feedback", "--csv", "")
    assert "Autograding 1 new or changed submission(s) of 6 (5 unchanged)" in res.stdout, res.stdout
    after = ledger(course)
    assert {k for k in after if after[k] != before[k]} <= {(a, "partly")}
    grades, rows = gradebook(course)
    assert rows[(a, "partly")] == 1
    want = {k: v for k, v in stock[(a, "correct")]["cells"].items()}
    assert grades[(a, "partly")]["cells"] == want
    assert_like_stock(course, stock, [k for k in stock if k != (a, "partly")])


def test_hand_grades_survive_a_forced_regrade(engine2, stock, tmp_path):
    from nbgrader.api import Gradebook
    course = clone(engine2[0], tmp_path / "course")
    a = ASSIGNMENTS[0]
    url = f"sqlite:///{course}/gradebook.db"
    with Gradebook(url, "rnncourse") as gb:
        nb = gb.find_submission_notebook(a, a, "correct")
        manual = [g for g in nb.grades if g.needs_manual_grade]
        assert manual, "the assignment has a written answer graded by hand"
        for g in manual:
            g.manual_score = g.max_score
        comment = next(c for c in nb.comments if c.name == manual[0].name)
        comment.manual_comment = "well argued"
        gb.db.commit()
        names = [g.name for g in manual]
    res = grade(course, a, "--force", "--workers", "2", "--no-feedback", "--csv", "")
    assert "Autograding 3 new or changed submission(s) of 3 (0 unchanged)" in res.stdout, res.stdout
    grades, rows = gradebook(course)
    assert all(n == 1 for n in rows.values()) and len(rows) == 6
    with Gradebook(url, "rnncourse") as gb:
        nb = gb.find_submission_notebook(a, a, "correct")
        for g in nb.grades:
            auto, _, needs, maximum = stock[(a, "correct")]["cells"][g.name]
            assert g.auto_score == auto
            if g.name in names:
                assert g.manual_score == g.max_score and g.score == g.max_score
                assert g.needs_manual_grade            # as stock nbgrader: a hand grade is reviewed
            else:
                assert g.manual_score is None and g.needs_manual_grade == needs
        assert next(c for c in nb.comments if c.name == names[0]).manual_comment == "well argued"
    assert_like_stock(course, stock, [k for k in stock if k[0] != a or k[1] != "correct"])


def _processes_in(directory):
    """Processes working in ``directory`` or started with TMPDIR=``directory`` (a run's workers)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                environ = fh.read().split(b"\0")
            if os.readlink(f"/proc/{pid}/cwd").startswith(directory) or \
                    f"TMPDIR={directory}".encode() in environ:
                found.append(pid)
        except OSError:
            pass
    return found


def test_a_killed_coordinator_loses_nothing_and_duplicates_nothing(base, stock, tmp_path):
    course = clone(base, tmp_path / "course")
    tmp = str(tmp_path / "tmp")
    os.makedirs(tmp)
    proc = subprocess.Popen([PY, COURSE_PY, "--course", course, "grade", "--workers", "1", "--no-feedback",
                             "--csv", ""], cwd=REPO, env=env(TMPDIR=tmp), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 600
        while not ledger(course) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, "the run ended before it could be killed:\n" + proc.stdout.read()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    done = ledger(course)
    assert 1 <= len(done) < 6
    deadline = time.monotonic() + 30          # its workers, nbgrader and kernels die with it
    while _processes_in(tmp) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not _processes_in(tmp), "processes of the killed run are still running"
    res = grade(course, "--workers", "2", "--no-feedback", "--csv", "", extra_env={"TMPDIR": tmp})
    assert not [f for f in os.listdir(tmp) if f.startswith("rnncourse-grade-")], \
        "the killed run's temporary folder is left"
    assert f"Autograding {6 - len(done)} new or changed submission(s) of 6 ({len(done)} unchanged)" \
        in res.stdout, res.stdout
    assert_like_stock(course, stock)
    after = ledger(course)
    assert set(after) == set(stock)
    assert all(after[k] == t for k, t in done.items()), "a recorded submission was graded twice"


def test_a_dead_worker_is_retried_and_never_gives_a_zero(base, stock, tmp_path):
    course = clone(base, tmp_path / "course")
    a = ASSIGNMENTS[0]
    res = grade(course, a, "--workers", "2", "--csv", "grades.csv", check=False,
                extra_env={"RNNCOURSE_TEST_CRASH": "blank:1,partly:3"})
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"{a} blank: not graded (the worker process died); trying again (attempt 2 of 3)" in res.stdout
    assert f"{a} partly: NOT GRADED after 3 attempt(s): the worker process died" in res.stdout, res.stdout
    grades, rows = gradebook(course)
    assert (a, "partly") not in rows and (a, "partly") not in ledger(course), "NOT GRADED must write nothing"
    assert_like_stock(course, stock, [(a, "correct"), (a, "blank")])
    assert os.path.exists(os.path.join(course, "feedback", "blank", a, f"{a}.html"))
    assert not os.path.exists(os.path.join(course, "feedback", "partly", a))
    res = grade(course, a, "--workers", "2", "--csv", "grades.csv")
    assert "Autograding 1 new or changed submission(s) of 3 (2 unchanged)" in res.stdout, res.stdout
    assert_like_stock(course, stock, [(a, s) for s in STUDENTS])
    assert os.path.exists(os.path.join(course, "feedback", "partly", a, f"{a}.html"))
    with open(os.path.join(course, "grades.csv")) as fh:
        assert sum(1 for line in fh if line.startswith(a + ",")) == 3
