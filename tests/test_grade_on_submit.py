"""Grade on submit: `tools/course.py watch` on a temporary course with its own exchange.

The course releases 01_notation; `watch --interval 1` is started as a subprocess; then two
students, each in a home of their own whose ~/.jupyter/nbgrader_config.py names the exchange
(as the instructor guide tells students elsewhere on the machine to do) and sharing this OS
account (so `--student`, as the guide documents), fetch, and submit while it runs: "alice" the
completed notebook, "bob" the untouched release, a few seconds apart.  Within a bounded time
each has a score in the gradebook and a feedback report that `nbgrader fetch_feedback` brings
to their home; Ctrl-C (SIGINT) then stops the watcher cleanly, with nothing left running.
"""
from __future__ import annotations

import glob
import os
import re
import signal
import subprocess
import textwrap
import time

import nbformat
import psutil
import pytest

from rnncourse_grader.testing import solved
from test_class_grading import PY, COURSE_PY, REPO, env, run

A = "01_notation"
BOUND = 300          # seconds from a submission to its released feedback, at most (loaded 2-core machine)

pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(REPO, "solutions", A, f"{A}.ipynb")),
                                reason="assignment missing")


def nbgrader(args, cwd, extra_env=None, check=True):
    return run([PY, "-m", "nbgrader", *args], cwd, check=check, extra_env=extra_env)


def student_home(tmp_path, name, exchange):
    home = tmp_path / name
    (home / ".jupyter").mkdir(parents=True)
    (home / ".jupyter" / "nbgrader_config.py").write_text(textwrap.dedent(f"""
        c = get_config()
        c.CourseDirectory.course_id = "rnncourse"
        c.Exchange.root = {exchange!r}
        """))
    return str(home), {"HOME": str(home), "JUPYTER_DATA_DIR": str(home / "data"),
                       "JUPYTER_CONFIG_DIR": str(home / ".jupyter")}


def test_watch_grades_two_submissions_and_releases_their_feedback(tmp_path, temp_course):
    from nbgrader.api import Gradebook
    course = temp_course([A], cell_timeout=30)
    exchange = os.path.join(course, "exchange")
    nbgrader(["release_assignment", A], course)

    out_path = tmp_path / "watch.out"
    with open(out_path, "w") as out:
        watch = subprocess.Popen([PY, COURSE_PY, "--course", course, "watch", "--interval", "1"], cwd=REPO,
                                 env=env(), stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        submitted = {}
        solution = nbformat.read(os.path.join(course, "solutions", A, f"{A}.ipynb"), 4)
        homes = {}
        for student in ("alice", "bob"):
            home, extra = student_home(tmp_path, student, exchange)
            homes[student] = (home, extra)
            nbgrader(["fetch_assignment", A, f"--student={student}"], home, extra_env=extra)
            path = os.path.join(home, A, f"{A}.ipynb")
            if student == "alice":
                nbformat.write(solved(nbformat.read(path, 4), solution), path)
            nbgrader(["submit", A, f"--student={student}"], home, extra_env=extra)
            submitted[student] = time.monotonic()
            time.sleep(3)                      # bob submits while alice's submission is being graded
        lines = {}
        deadline = max(submitted.values()) + BOUND
        while len(lines) < 2 and time.monotonic() < deadline and watch.poll() is None:
            time.sleep(1)
            text = out_path.read_text()
            for student in submitted:
                m = re.search(rf"^\d\d:\d\d:\d\d {A} {student}: ([\d.]+) / ([\d.]+), feedback released$",
                              text, re.M)
                if m and student not in lines:
                    lines[student] = (m, time.monotonic() - submitted[student])
        text = out_path.read_text()
        assert watch.poll() is None, "watch ended on its own:\n" + text
        assert set(lines) == {"alice", "bob"}, f"not both graded within {BOUND} s:\n{text}"
        assert float(lines["alice"][0].group(1)) > 0 and float(lines["bob"][0].group(1)) == 0, text
        assert "Traceback" not in text, text

        with Gradebook(f"sqlite:///{course}/gradebook.db", "rnncourse") as gb:
            scores = {s: gb.find_submission(A, s).score for s in ("alice", "bob")}
            maximum = gb.find_submission(A, "alice").max_score
        assert scores["bob"] == 0 and 0 < scores["alice"] <= maximum, scores
        assert scores["alice"] == float(lines["alice"][0].group(1))
        for student, (home, extra) in homes.items():
            nbgrader(["fetch_feedback", A, f"--student={student}"], home, extra_env=extra)
            fetched = glob.glob(os.path.join(home, A, "feedback", "*", f"{A}.html"))
            assert fetched, (student, os.listdir(os.path.join(home, A)))
            with open(fetched[0]) as fh:
                assert "<html" in fh.read(2000).lower()
    finally:
        children = []
        if watch.poll() is None:
            children = psutil.Process(watch.pid).children(recursive=True)
            watch.send_signal(signal.SIGINT)
        try:
            watch.wait(timeout=60)
        except subprocess.TimeoutExpired:
            watch.kill()
            watch.wait()
            raise AssertionError("watch did not stop on Ctrl-C")
    text = out_path.read_text()
    assert watch.returncode == 0, text
    assert re.search(r"watch: stopped after grading 2 submission\(s\)", text), text
    time.sleep(2)
    assert not [p for p in children if p.is_running() and p.status() != psutil.STATUS_ZOMBIE], \
        "processes of the watcher are left"
