"""Class grading beyond one process: a real Dask cluster, a real PostgreSQL gradebook, two runs at once.

A small class in a temporary course, built as in test_class_grading.py: 01_notation x three
students, "correct" (the instructor's notebook), "blank" (the release) and "partly" (the release
with every answer but the first filled in).  The local process pool (`tools/course.py grade
--workers 2`) gives the reference grades; then

* the same class through `tools/course.py grade --scheduler tcp://127.0.0.1:PORT` on a
  `dask scheduler` with two `dask worker` processes that the test starts (tests/servers.py):
  identical grades; and again with one `dask worker` (its nanny and its worker process) killed
  with SIGKILL while it grades a submission: every submission graded exactly once, none NOT
  GRADED, nothing of the killed worker's grading left running (processes, scratch folders);
* the same class into a real PostgreSQL server (`--db-url`, tests/servers.py: initdb/pg_ctl in
  a temporary folder): the grades of the SQLite gradebook;
* two `tools/course.py grade` started at the same time on one gradebook, SQLite and PostgreSQL:
  one submission row per pair, every grade present, each submission graded by one run only,
  and the run that waited says that it skipped what the other graded.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import psutil
import pytest

import servers
from rnncourse_grader import testing
from test_class_grading import PY, COURSE_PY, REPO, TIMESTAMP, env, partly, run

A = "01_notation"
STUDENTS = ["correct", "blank", "partly"]
PAIRS = [(A, s) for s in STUDENTS]
LEDGER = "rnncourse_autograde_ledger"

pytestmark = pytest.mark.skipif(not os.path.exists(os.path.join(REPO, "solutions", A, f"{A}.ipynb")),
                                reason="assignment missing")


def clone(src, dest, db_url=None):
    return testing.clone(src, dest, cell_timeout=30, db_url=db_url)


def grade(course, *args, check=True, extra_env=None, timeout=900):
    return run([PY, COURSE_PY, "--course", course, "grade", "--no-feedback", "--csv", "", *args], REPO,
               check=check, extra_env=extra_env, timeout=timeout)


@pytest.fixture(scope="module")
def base(temp_course):
    """A course with the class's submissions, the assignment registered, nothing graded."""
    course = temp_course([A], name="base", cell_timeout=30)
    release, solution = testing.notebooks(course, A)
    for student, nb in (("correct", solution), ("blank", release), ("partly", partly(release, solution))):
        testing.submit(course, student, A, nb, timestamp=TIMESTAMP if student == "correct" else None)
    return course


def url_of(course):
    return f"sqlite:///{course}/gradebook.db"


def gradebook(db_url):
    """{(assignment, student): {timestamp, cells: {id: (auto, manual, needs_manual, max)},
    comments, penalty}}, {(assignment, student): number of submission rows}, and the ledger."""
    from nbgrader.api import Gradebook
    from sqlalchemy import text
    out = {}
    with Gradebook(db_url, "rnncourse") as gb:
        for a in gb.assignments:
            for sub in a.submissions:
                cells, comments, penalty = {}, {}, {}
                for nb in sub.notebooks:
                    penalty[nb.name] = nb.late_submission_penalty
                    for g in nb.grades:
                        cells[g.name] = (g.auto_score, g.manual_score, g.needs_manual_grade, g.max_score)
                    for c in nb.comments:
                        comments[c.name] = c.auto_comment
                ts = sub.timestamp.replace(tzinfo=None) if sub.timestamp else None
                out[(a.name, sub.student.id)] = {"timestamp": ts, "cells": cells, "comments": comments,
                                                 "penalty": penalty, "score": sub.score}
        rows = gb.db.execute(text(
            "SELECT a.name, s.student_id, COUNT(*) FROM submitted_assignment s JOIN assignment a "
            "ON a.id = s.assignment_id GROUP BY a.name, s.student_id")).all()
        try:
            ledger = {(a, s): t for a, s, t in gb.db.execute(
                text(f"SELECT assignment, student, graded_at FROM {LEDGER}")).all()}
        except Exception:  # noqa: BLE001 - no ledger yet
            gb.db.rollback()
            ledger = {}
        gb.engine.dispose()
    return out, {(a, s): n for a, s, n in rows}, ledger


def assert_graded_once_like(course, reference, db_url=None):
    """Every pair graded exactly once, with the reference's grades, and its autograded notebook."""
    grades, rows, ledger = gradebook(db_url or url_of(course))
    for key in PAIRS:
        assert rows.get(key) == 1, f"{key}: {rows.get(key)} submission rows"
        assert grades[key] == reference[key], f"{key}:\n{grades[key]}\n!=\n{reference[key]}"
        assert key in ledger, key
        assert os.path.exists(os.path.join(course, "autograded", key[1], A, f"{A}.ipynb")), key
    root = os.path.join(course, "autograded")
    assert not [f for s in os.listdir(root) if os.path.isdir(os.path.join(root, s))
                for f in os.listdir(os.path.join(root, s)) if f.startswith(".")], "temporary folders left"
    return grades, ledger


@pytest.fixture(scope="module")
def local(base, tmp_path_factory):
    """The reference: the local process pool, two workers."""
    course = clone(base, tmp_path_factory.mktemp("local") / "course")
    res = grade(course, "--workers", "2")
    assert "Autograding 3 new or changed submission(s) of 3 (0 unchanged)" in res.stdout, res.stdout
    grades, rows, ledger = gradebook(url_of(course))
    assert set(grades) == set(PAIRS) and all(rows[k] == 1 for k in PAIRS)
    totals = {s: grades[(A, s)]["score"] for s in STUDENTS}
    assert totals["correct"] > totals["partly"] > totals["blank"] == 0, totals
    return grades


def grading_processes(tmpdir):
    """Processes working in a task's scratch folder (``rnncourse-task-*``) under ``tmpdir``: the
    tasks' nbgrader, whose kernels and sandboxes die with it."""
    prefix = os.path.join(str(tmpdir), "rnncourse-task-")
    found = []
    for p in psutil.process_iter(["pid"]):
        try:
            if p.cwd().startswith(prefix):
                found.append(p)
        except (psutil.Error, OSError):
            pass
    return found


# ----------------------------------------------------------------------------- Dask
def test_dask_cluster_grades_like_the_local_pool(base, local, tmp_path):
    course = clone(base, tmp_path / "course")
    with servers.dask_cluster(2, env=env(TMPDIR=str(tmp_path))) as (address, procs):
        res = grade(course, "--scheduler", address)
    assert "Autograding 3 new or changed submission(s) of 3 (0 unchanged) in 1 assignment(s), " \
           f"2 worker(s) at {address}" in res.stdout, res.stdout
    assert "NOT GRADED" not in res.stdout and "FAILED" not in res.stdout, res.stdout
    assert_graded_once_like(course, local)


def test_a_dask_worker_killed_mid_grading_costs_nothing(base, local, tmp_path):
    """SIGKILL of one `dask worker` (nanny and worker process) while it grades: Dask moves its
    task to the other worker; the class ends graded exactly once, nothing NOT GRADED, and
    nothing of the killed worker's grading is left (processes, scratch folders)."""
    from distributed import Client
    course = clone(base, tmp_path / "course")
    tmp = str(tmp_path / "tmp")
    os.makedirs(tmp)
    with servers.dask_cluster(2, env=env(TMPDIR=tmp)) as (address, procs):
        proc = subprocess.Popen([PY, COURSE_PY, "--course", course, "grade", "--no-feedback", "--csv", "",
                                 "--scheduler", address], cwd=REPO, env=env(),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        killed = None
        try:
            with Client(address, timeout=60) as client:
                deadline = time.monotonic() + 300
                while killed is None and proc.poll() is None and time.monotonic() < deadline:
                    pids = client.run(os.getpid)
                    grading = {p.pid for p in grading_processes(tmp)}
                    for addr, keys in client.processing().items():
                        if not keys or addr not in pids:
                            continue
                        worker = psutil.Process(pids[addr])
                        try:
                            busy = grading & {p.pid for p in worker.children(recursive=True)}
                        except psutil.Error:
                            continue
                        if busy:                        # nbgrader is grading under this worker
                            nanny = worker.parent()
                            assert nanny.pid in [p.pid for p in procs], "a worker outside the cluster?"
                            nanny.send_signal(signal.SIGKILL)
                            worker.send_signal(signal.SIGKILL)
                            killed = (addr, list(keys))
                            break
                    time.sleep(0.2)
            assert killed, "no worker was caught grading"
            out, _ = proc.communicate(timeout=600)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, out
        deadline = time.monotonic() + 30      # the killed worker's nbgrader and kernels die with it
        while grading_processes(tmp) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not grading_processes(tmp), "grading processes of the killed worker are still running"
    assert "NOT GRADED" not in out and "FAILED" not in out, out
    assert "Autograding 3 new or changed submission(s) of 3 (0 unchanged)" in out, out
    assert_graded_once_like(course, local)
    assert not [f for f in os.listdir(tmp) if f.startswith("rnncourse-task-")], \
        "the killed worker's scratch folder is left"


# ----------------------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="module")
def postgres(tmp_path_factory):
    """A real PostgreSQL server (initdb/pg_ctl in a temporary folder); yields a function that
    creates a fresh database and returns its URL."""
    if servers.pg_bin() is None:
        pytest.skip("PostgreSQL's server binaries are missing (`make postgres`)")
    import psycopg
    with servers.postgres_server(str(tmp_path_factory.mktemp("pg"))) as url:
        names = iter(range(1, 1000))

        def new_database():
            name = f"gradebook{next(names)}"
            with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as con:
                con.execute(f"CREATE DATABASE {name}")
            return url.rsplit("/", 1)[0] + "/" + name
        yield new_database


def test_postgresql_gradebook_gets_the_grades_of_sqlite(base, local, postgres, tmp_path):
    url = postgres()
    course = clone(base, tmp_path / "course")
    res = grade(course, "--workers", "2", "--db-url", url)
    assert "Autograding 3 new or changed submission(s) of 3 (0 unchanged)" in res.stdout, res.stdout
    assert f"gradebook: {A} registered" in res.stdout, res.stdout     # the new database learns it
    assert_graded_once_like(course, local, db_url=url)
    sqlite_grades, _, _ = gradebook(url_of(course))
    assert not sqlite_grades, "--db-url must not write the course's SQLite gradebook"
    res = grade(course, "--workers", "2", "--db-url", url)
    assert "Autograding 0 new or changed submission(s) of 3 (3 unchanged)" in res.stdout, res.stdout


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_runs_at_once_lose_and_duplicate_nothing(base, local, postgres, tmp_path, database):
    """Two `course.py grade` started at the same time on one gradebook: the second waits for the
    first, then skips what it graded and says so."""
    course = clone(base, tmp_path / "course")
    extra = ["--db-url", postgres()] if database == "postgresql" else []
    db_url = extra[1] if extra else url_of(course)
    procs = [subprocess.Popen([PY, COURSE_PY, "--course", course, "grade", "--no-feedback", "--csv", "",
                               "--workers", "1", *extra], cwd=REPO, env=env(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=900)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert_graded_once_like(course, local, db_url=db_url)
    graded = [int(re.search(r"Autograding (\d+) new or changed", o).group(1)) for o in outs]
    assert sorted(graded) == [0, 3], outs          # every submission graded by exactly one run
    second = outs[graded.index(0)]
    assert "waiting for the other grading run of this gradebook" in second, second
    assert "skipped 3 graded by another run" in second, second
