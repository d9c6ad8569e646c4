"""The course gradebook's side of class grading (used by :mod:`rnncourse_grader.engine`).

Only the coordinator (:func:`rnncourse_grader.engine.grade_class`) calls these functions, so
the course gradebook has one writer, whatever number of tasks run at the same time:

* :func:`build_template` copies one assignment of the course gradebook (its notebooks and
  grade, solution, task and source cells) into a new SQLite file with nothing graded; each
  task autogrades into a copy of it.
* :func:`apply_result` writes one task's result, in one transaction: the student, the
  submission (nbgrader's ``Gradebook.update_or_create_submission``), every grade's
  ``auto_score`` and ``needs_manual_grade``, every comment's ``auto_comment`` and each
  notebook's late penalty.  ``manual_score`` and ``manual_comment`` are never written, so
  hand grades entered in formgrader survive a regrade.
* :func:`install_autograded` puts a result's autograded folder in place: written beside it
  (``autograded/<student>/.<assignment>.rnncourse-new-*``), then renamed; :func:`sweep_temporary`
  removes what a killed run left of such folders.
* :func:`register_assignments` records missing assignments (``nbgrader generate_assignment``).
* The ledger, a table ``rnncourse_autograde_ledger`` inside the course gradebook: one row per
  (assignment, student) with the hash of the submission and of the instructor's files that were
  graded and the time.  A row is written only after the grades are committed and the
  autograded folder is in place, so a submission without a row (or with other hashes) is
  graded again by the next run, and one with a row is complete.  The ledger lives and dies
  with the grades: deleting gradebook.db deletes it too.
"""
from __future__ import annotations

import contextlib
import datetime
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from typing import Dict, Iterable, List, Optional, Tuple

LEDGER = "rnncourse_autograde_ledger"
NEW, OLD = ".rnncourse-new-", ".rnncourse-old-"       # temporary folders beside autograded/<s>/<a>


def sqlite_path(db_url: str) -> str:
    """The file of an ``sqlite:///...`` URL (a task's scratch gradebook)."""
    from sqlalchemy.engine import make_url
    url = make_url(db_url)
    if not url.drivername.startswith("sqlite") or not url.database or url.database == ":memory:":
        raise ValueError(f"not an SQLite file: {db_url!r}")
    return url.database


# ----------------------------------------------------------------------------- templates
def build_template(db_url: str, course_id: str, assignment: str, path: str) -> str:
    """Write ``path``: a new SQLite gradebook holding the course gradebook's ``assignment``
    (due date, notebooks, grade, solution, task and source cells) and nothing graded.

    Copied through nbgrader's API, so the course gradebook may be any database nbgrader
    supports (SQLite, PostgreSQL...).
    """
    import sqlite3
    from nbgrader.api import Gradebook
    from sqlalchemy import text
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".template-", suffix=".db", dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    with Gradebook(db_url, course_id) as src:
        a = src.find_assignment(assignment)
        if not a.notebooks:
            raise KeyError(f"assignment {assignment!r} has no notebooks in the gradebook")
        # The course gradebook's schema version, so that nbgrader does not ask `alembic` for it
        # (seconds per new gradebook); the tables are created by Gradebook() below.
        version = src.db.execute(text("SELECT version_num FROM alembic_version")).scalar()
        con = sqlite3.connect(tmp)
        with con:
            con.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            con.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (version,))
        con.close()
        dst = Gradebook(f"sqlite:///{tmp}", course_id)
        try:
            with one_transaction(dst):
                dst.add_assignment(assignment, duedate=a.duedate)
                for nb in a.notebooks:
                    dst.add_notebook(nb.name, assignment, kernelspec=nb.kernelspec)
                    for c in nb.grade_cells:
                        dst.add_grade_cell(c.name, nb.name, assignment, max_score=c.max_score, cell_type=c.cell_type)
                    for c in nb.solution_cells:
                        dst.add_solution_cell(c.name, nb.name, assignment)
                    for c in nb.task_cells:
                        dst.add_task_cell(c.name, nb.name, assignment, max_score=c.max_score, cell_type=c.cell_type)
                    for c in nb.source_cells:
                        dst.add_source_cell(c.name, nb.name, assignment, cell_type=c.cell_type,
                                            locked=c.locked, source=c.source, checksum=c.checksum)
        finally:
            dst.close()
            dst.engine.dispose()
    os.replace(tmp, path)
    return path


# ----------------------------------------------------------------------------- one transaction
@contextlib.contextmanager
def one_transaction(gb):
    """Make nbgrader's ``Gradebook`` methods, which commit after each change, share one
    transaction: inside the block ``commit`` only flushes; it is committed once at the end, or
    rolled back entirely if anything raises."""
    session = gb.db
    session.commit = session.flush
    try:
        yield gb
    except BaseException:
        del session.commit
        session.rollback()
        raise
    del session.commit
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise


def apply_result(gb, result: dict) -> Tuple[float, float, bool]:
    """Write a graded task's result into the course gradebook ``gb`` (one transaction).

    Returns the submission's ``(score, max_score, needs_manual_grade)`` after the write.
    Raises ``KeyError`` when the result names a notebook or cell the gradebook does not have
    (nothing is written then).
    """
    from nbgrader.api import MissingEntry
    assignment, student = result["assignment"], result["student"]
    with one_transaction(gb):
        try:
            gb.find_student(student)
        except MissingEntry:
            gb.add_student(student)
        kwargs = {"timestamp": result["timestamp"]} if result.get("timestamp") else {}
        with gb.db.no_autoflush:        # nbgrader builds the submission's rows before adding them
            sub = gb.update_or_create_submission(assignment, student, **kwargs)
        notebooks = {nb.name: nb for nb in sub.notebooks}
        for name, data in result["notebooks"].items():
            if name not in notebooks:
                raise KeyError(f"notebook {name!r} of {assignment} is not in the course gradebook")
            nb = notebooks[name]
            grades = {g.name: g for g in nb.grades}
            for g in data["grades"]:
                grade = grades.get(g["grade_id"])
                if grade is None:
                    raise KeyError(f"grade cell {g['grade_id']!r} of {name} is not in the course gradebook")
                grade.auto_score = g["auto_score"]
                # as nbgrader's SaveAutoGrades: a hand grade given before asks for a review
                grade.needs_manual_grade = bool(g["needs_manual_grade"]) or grade.manual_score is not None
            comments = {c.name: c for c in nb.comments}
            for c in data["comments"]:
                comment = comments.get(c["grade_id"])
                if comment is None:
                    raise KeyError(f"cell {c['grade_id']!r} of {name} is not in the course gradebook")
                comment.auto_comment = c["auto_comment"]
            nb.late_submission_penalty = data.get("late_submission_penalty")
    sub = gb.find_submission(assignment, student)
    return sub.score, sub.max_score, bool(sub.needs_manual_grade)


def extensions(gb, assignment: str) -> Dict[str, float]:
    """{student: extension in seconds} of the assignment's submissions that have one."""
    from nbgrader.api import MissingEntry
    try:
        subs = gb.find_assignment(assignment).submissions
    except MissingEntry:
        return {}
    return {s.student.id: s.extension.total_seconds() for s in subs if s.extension}


def submitted_pairs(gb) -> set:
    """{(assignment, student)} of every submission row in the gradebook."""
    from nbgrader.api import Assignment, Student, SubmittedAssignment
    rows = gb.db.query(Assignment.name, Student.id) \
        .join(SubmittedAssignment, SubmittedAssignment.assignment_id == Assignment.id) \
        .join(Student, Student.id == SubmittedAssignment.student_id).all()
    return {(a, s) for a, s in rows}


# ----------------------------------------------------------------------------- the ledger
def ensure_ledger(gb) -> None:
    from sqlalchemy import text
    gb.db.execute(text(
        f"CREATE TABLE IF NOT EXISTS {LEDGER} (assignment VARCHAR(128) NOT NULL, "
        "student VARCHAR(128) NOT NULL, submission_hash VARCHAR(80) NOT NULL, "
        "source_hash VARCHAR(80) NOT NULL, graded_at VARCHAR(40) NOT NULL, "
        "PRIMARY KEY (assignment, student))"))
    gb.db.commit()


def read_ledger(gb) -> Dict[Tuple[str, str], dict]:
    from sqlalchemy import text
    rows = gb.db.execute(text(f"SELECT assignment, student, submission_hash, source_hash, graded_at "
                              f"FROM {LEDGER}")).all()
    gb.db.commit()
    return {(a, s): {"submission_hash": h, "source_hash": src, "graded_at": t} for a, s, h, src, t in rows}


def peek_ledger(db_url: str) -> Dict[Tuple[str, str], dict]:
    """The ledger as :func:`read_ledger` gives it, read without creating anything ({} when the
    gradebook or its ledger does not exist yet): what another run had done before this one."""
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.pool import NullPool
    try:
        if db_url.startswith("sqlite") and not os.path.exists(sqlite_path(db_url)):
            return {}
    except ValueError:
        return {}
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as con:
            if not inspect(con).has_table(LEDGER):
                return {}
            rows = con.execute(text(f"SELECT assignment, student, submission_hash, source_hash, graded_at "
                                    f"FROM {LEDGER}")).all()
        return {(a, s): {"submission_hash": h, "source_hash": src, "graded_at": t} for a, s, h, src, t in rows}
    except Exception:  # noqa: BLE001 - only used to say what another run did
        return {}
    finally:
        engine.dispose()


def record(gb, assignment: str, student: str, submission_hash: str, source_hash: str,
           graded_at: Optional[str] = None) -> None:
    from sqlalchemy import text
    graded_at = graded_at or datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    key = {"a": assignment, "s": student}
    try:
        gb.db.execute(text(f"DELETE FROM {LEDGER} WHERE assignment = :a AND student = :s"), key)
        gb.db.execute(text(f"INSERT INTO {LEDGER} VALUES (:a, :s, :h, :src, :t)"),
                      dict(key, h=submission_hash, src=source_hash, t=graded_at))
        gb.db.commit()
    except BaseException:
        gb.db.rollback()
        raise


def forget(gb, pairs: Iterable[Tuple[str, str]]) -> None:
    """Delete the ledger rows of ``pairs`` (``force``: they are graded again, even by a later
    run if this one is interrupted)."""
    from sqlalchemy import text
    try:
        for a, s in pairs:
            gb.db.execute(text(f"DELETE FROM {LEDGER} WHERE assignment = :a AND student = :s"),
                          {"a": a, "s": s})
        gb.db.commit()
    except BaseException:
        gb.db.rollback()
        raise


# ----------------------------------------------------------------------------- course folders
def register_assignments(course_root: str, coursedir, assignments: Iterable[str], log=None,
                         out=sys.stdout) -> List[str]:
    """Make sure the gradebook knows every assignment (and its notebooks' grade cells).

    gradebook.db is git-ignored and only ``nbgrader generate_assignment`` records an assignment,
    its notebooks and their grade, solution and source cells, which autograde needs.  On a fresh
    clone (or after deleting gradebook.db) every missing assignment is generated once from the
    source folder into a temporary release directory, so exercises/ is left as it is.  Returns
    the assignments that could not be registered.
    """
    from nbgrader.api import Gradebook, MissingEntry
    missing = []
    with Gradebook(coursedir.db_url, coursedir.course_id) as gb:
        for name in assignments:
            try:
                known = bool(gb.find_assignment(name).notebooks)
            except MissingEntry:
                known = False
            if not known:
                missing.append(name)
    failed = []
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    for name in missing:
        with tempfile.TemporaryDirectory(prefix="rnncourse-release-") as tmp:
            res = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", name, "--force",
                                  f"--CourseDirectory.release_directory={tmp}",
                                  f"--CourseDirectory.db_url={coursedir.db_url}"], cwd=course_root, env=env,
                                 text=True, capture_output=True, check=False)
        if log:
            log(f"==== register {name} in the gradebook ====\n{res.stdout}{res.stderr}")
        if res.returncode == 0:
            print(f"gradebook: {name} registered from {coursedir.source_directory}/{name}/", file=out, flush=True)
        else:
            print(f"gradebook: could not register {name} (nbgrader generate_assignment failed, "
                  "see the log)", file=out, flush=True)
            failed.append(name)
    return failed


def install_autograded(result: dict, dest: str) -> None:
    """Put a result's autograded files at ``dest``: written beside it, then renamed into place."""
    parent, name = os.path.split(dest)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".{name}{NEW}{uuid.uuid4().hex[:8]}")
    if result.get("autograded_files") is not None:
        for rel, (data, mode) in result["autograded_files"].items():
            path = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as fh:
                fh.write(data)
            os.chmod(path, mode)
    else:
        shutil.move(result["autograded_dir"], tmp)
    for dirpath, _, files in os.walk(tmp):         # on disk before the rename that publishes it
        for f in files:
            fd = os.open(os.path.join(dirpath, f), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    old = None
    if os.path.lexists(dest):
        old = os.path.join(parent, f".{name}{OLD}{uuid.uuid4().hex[:8]}")
        os.rename(dest, old)
    os.rename(tmp, dest)
    if old:
        shutil.rmtree(old, ignore_errors=True)


def sweep_temporary(autograded_root: str) -> int:
    """Remove the temporary folders a killed run left in ``autograded/<student>/``."""
    n = 0
    for path in glob.glob(os.path.join(autograded_root, "*", ".*")):
        if NEW in os.path.basename(path) or OLD in os.path.basename(path):
            shutil.rmtree(path, ignore_errors=True)
            n += 1
    return n
