"""One grading task: :func:`grade_one` autogrades one submission in a scratch course directory.

The task of :func:`rnncourse_grader.engine.grade_class` (see there how tasks are distributed and
how their files travel): ``nbgrader autograde`` with the course's own configuration, in a course
directory of its own, so that any number of tasks can run at the same time, in other processes
or on other machines.  Its arguments and its result are plain, picklable data; it never writes
the course directory.

Test hook: ``RNNCOURSE_TEST_CRASH="alice:1,bob:3"`` makes the task of student ``alice`` kill
its worker process (``os._exit``) on its first attempt, ``bob``'s on its first three.
"""
from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import socket
import sqlite3
import sys
import tarfile
import tempfile
import time
from typing import Dict, Optional, Union

from . import gradebook_sync as gsync
from .nbgrader_process import run_nbgrader

__all__ = ["INFRASTRUCTURE_ERRORS", "LOG_TAIL", "tree_hash", "pack", "grade_one"]

# nbgrader's log text of failures that are the grading machine's, not the submission's
INFRASTRUCTURE_ERRORS = (
    "KernelStartError", "the kernel could not be started", "Kernel died before replying to kernel_info",
    "Kernel didn't respond", "Address already in use", "no sandbox for student code",
    "database is locked", "No space left on device", "Too many open files",
)
LOG_TAIL = 200_000
_EXCEPTION = re.compile(r"\s*[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt): ")   # a traceback's last line


def tree_hash(directory: str) -> str:
    """sha256 of a folder's files: relative paths, contents and symlink targets."""
    digest = hashlib.sha256()
    for dirpath, dirnames, files in os.walk(directory):
        dirnames.sort()
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            digest.update(os.path.relpath(path, directory).encode() + b"\0")
            if os.path.islink(path):
                digest.update(b"->" + os.readlink(path).encode())
            else:
                with open(path, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(block)
            digest.update(b"\0")
    return "sha256:" + digest.hexdigest()


_SCRATCH_CONFIG = '''\
# Written by rnncourse_grader.grade_task.grade_one: the course's configuration, with this scratch
# folder as course directory (its own submitted/, autograded/ and gradebook) and the course's
# source folder.
import os
c = get_config()
load_subconfig("nbgrader_config.py", path={course!r})
_root = c.CourseDirectory.root if "root" in c.CourseDirectory else {course!r}
_source = c.CourseDirectory.source_directory if "source_directory" in c.CourseDirectory else "source"
c.CourseDirectory.source_directory = os.path.join(_root, _source)
c.CourseDirectory.root = {scratch!r}
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.db_url = {db_url!r}
'''


def _crash_hook(student: str, attempt: int) -> None:
    for item in filter(None, os.environ.get("RNNCOURSE_TEST_CRASH", "").split(",")):
        name, _, times = item.partition(":")
        if name == student and attempt <= int(times or 1):
            os._exit(70)



def _read_scratch(db_url: str, assignment: str, student: str) -> dict:
    """The submission's grades in the task's scratch gradebook ({} if it has none)."""
    from nbgrader.api import Gradebook, MissingEntry
    con = sqlite3.connect(gsync.sqlite_path(db_url))
    try:
        course_id = con.execute("SELECT id FROM course").fetchone()[0]
    finally:
        con.close()
    gb = Gradebook(db_url, course_id)
    try:
        sub = gb.find_submission(assignment, student)
        notebooks = {nb.name: {
            "grades": [{"grade_id": g.name, "auto_score": g.auto_score, "max_score": g.max_score,
                        "needs_manual_grade": bool(g.needs_manual_grade)} for g in nb.grades],
            "comments": [{"grade_id": c.name, "auto_comment": c.auto_comment} for c in nb.comments],
            "late_submission_penalty": nb.late_submission_penalty} for nb in sub.notebooks}
        return {"timestamp": sub.timestamp.isoformat() if sub.timestamp else None, "notebooks": notebooks,
                "score": sub.score, "max_score": sub.max_score}
    except MissingEntry:
        return {}
    finally:
        gb.close()
        gb.engine.dispose()             # no connection left open in this (forking) worker process


def pack(directory: str) -> bytes:
    """A folder as an uncompressed tar archive (symlinks kept as links, not followed)."""
    import io
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name in sorted(os.listdir(directory)):
            tar.add(os.path.join(directory, name), arcname=name, recursive=True)
    return buf.getvalue()


def _unpack(data: bytes, dest: str) -> None:
    import io
    os.makedirs(dest, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r") as tar:
        tar.extractall(dest, filter="tar")


def owned_tempdir(prefix: str) -> str:
    """A new temporary folder ``<tmp>/<prefix>*`` holding ``owner.pid`` (this process), after
    removing the folders of that prefix whose owner is gone (a killed coordinator's or Dask
    worker's).  Used for the coordinator's work folder and each task's scratch folder."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), prefix + "*", "owner.pid")):
        try:
            with open(path) as fh:
                os.kill(int(fh.read().strip()), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
        except (OSError, ValueError):
            pass
    folder = tempfile.mkdtemp(prefix=prefix)
    with open(os.path.join(folder, "owner.pid"), "w") as fh:
        fh.write(str(os.getpid()))
    return folder


def _files(directory: str) -> Dict[str, tuple]:
    out = {}
    for dirpath, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as fh:
                out[os.path.relpath(path, directory)] = (fh.read(), os.stat(path).st_mode & 0o777)
    return out


def grade_one(course_root: str, assignment: str, student: str, template_db: Union[str, bytes],
              workdir: Optional[str] = None, *, submitted_dir: Optional[str] = None, attempt: int = 1,
              extension_seconds: Optional[float] = None, return_bytes: bool = False,
              env: Optional[dict] = None, timeout: Optional[float] = None,
              die_with_parent: bool = False, warm: bool = False,
              submission: Optional[bytes] = None) -> dict:
    """Autograde one submission in a scratch course directory; return plain data.

    Parameters
    ----------
    course_root : the course directory (its ``nbgrader_config.py`` and source folder are used;
        nothing in it is written).  On another machine it must exist at the same path.
    template_db : a gradebook file (path, or its bytes) in which the assignment is registered.
    workdir : a folder to work in, created here (its existence tells the coordinator that the
        task started); default: a new temporary folder, removed when ``return_bytes``.
    submitted_dir : the submission (default ``<course_root>/submitted/<student>/<assignment>``).
    submission : the submission as a tar archive (:func:`pack`), instead of ``submitted_dir``
        (shipped to another machine).
    attempt : 1 for the first try (retries count up; only the test hook reads it).
    extension_seconds : the student's extension, for nbgrader's late-submission check.
    return_bytes : return the autograded files as ``{relative path: (bytes, mode)}`` instead of
        the path of the autograded folder inside ``workdir`` (for another machine).
    env : more environment variables for nbgrader (e.g. ``RNNCOURSE_UNSAFE``).
    timeout : seconds after which nbgrader is killed (``not_graded``).
    die_with_parent : (Linux) nbgrader is killed when the process calling this dies.
    warm : run nbgrader's command line in a forked child of a process that has imported
        nbgrader once (saves its 3-8 s of imports per task): this process when it has one
        thread (a ProcessPoolExecutor worker), else its :mod:`rnncourse_grader.launcher` (a
        Dask worker); otherwise ``python -m nbgrader`` is started.

    Returns
    -------
    dict with ``assignment, student, attempt, status`` (``graded``, ``failed`` or
    ``not_graded``), ``error`` (text or None), ``timestamp`` (ISO text or None),
    ``submission_hash``, ``notebooks`` ({notebook: {grades: [{grade_id, auto_score, max_score,
    needs_manual_grade}], comments: [{grade_id, auto_comment}], late_submission_penalty}}),
    ``score``, ``max_score``, ``autograded_dir`` or ``autograded_files``, ``duration`` (s),
    ``log`` (nbgrader's output, last 200 kB), ``notes`` (retried kernel starts), ``host``, ``pid``.
    """
    t0 = time.perf_counter()
    course_root = os.path.abspath(course_root)
    made_temp = workdir is None
    if made_temp:
        scratch = owned_tempdir("rnncourse-task-")
    else:
        scratch = os.path.abspath(workdir)
        os.makedirs(scratch, exist_ok=True)
    _crash_hook(student, attempt)
    result = {"assignment": assignment, "student": student, "attempt": attempt, "status": "failed",
              "error": None, "timestamp": None, "submission_hash": None, "notebooks": {}, "score": None,
              "max_score": None, "autograded_dir": None, "autograded_files": None, "log": "", "notes": [],
              "host": socket.gethostname(), "pid": os.getpid()}
    try:
        if not os.path.exists(os.path.join(course_root, "nbgrader_config.py")):
            raise FileNotFoundError(
                f"the course directory {course_root} (its nbgrader_config.py) is not on this machine "
                f"({socket.gethostname()}): the instructor's files must be at the same path on every "
                "grading machine (a shared file system, or the workers' image or volume)")
        dst = os.path.join(scratch, "submitted", student, assignment)
        if submission is not None:
            _unpack(submission, dst)
        else:
            src = submitted_dir or os.path.join(course_root, "submitted", student, assignment)
            shutil.copytree(src, dst, symlinks=True)
        result["submission_hash"] = tree_hash(dst)
        db = os.path.join(scratch, "gradebook.db")
        if isinstance(template_db, (bytes, bytearray)):
            with open(db, "wb") as fh:
                fh.write(template_db)
        else:
            shutil.copyfile(template_db, db)
        db_url = f"sqlite:///{db}"
        if extension_seconds:
            import datetime
            from nbgrader.api import Gradebook
            con = sqlite3.connect(db)
            course_id = con.execute("SELECT id FROM course").fetchone()[0]
            con.close()
            with Gradebook(db_url, course_id) as gb:
                gb.update_or_create_student(student)
                gb.update_or_create_submission(assignment, student,
                                               extension=datetime.timedelta(seconds=extension_seconds))
                gb.engine.dispose()
        with open(os.path.join(scratch, "nbgrader_config.py"), "w") as fh:
            fh.write(_SCRATCH_CONFIG.format(course=course_root, scratch=scratch, db_url=db_url))
        bindir = os.path.dirname(sys.executable)
        run_env = dict(os.environ, **(env or {}))
        run_env["PATH"] = bindir + os.pathsep + run_env.get("PATH", "")   # nbgrader runs `alembic`
        logpath = os.path.join(scratch, "nbgrader.log")
        args = ["autograde", assignment, "--student", student, "--force"]
        rc = run_nbgrader(args, scratch, run_env, logpath, timeout, warm, die_with_parent)
        with open(logpath, "rb") as fh:
            text = fh.read().decode("utf-8", "replace")
        result["log"] = text[-LOG_TAIL:]
        result["notes"] = [line.split("] ", 1)[-1] for line in text.splitlines() if "Kernel start failed" in line]
        if rc is None:
            result.update(status="not_graded", error=f"nbgrader autograde did not finish within {timeout:g} s")
        elif rc < 0:
            result.update(status="not_graded", error=f"nbgrader autograde was killed by signal {-rc}")
        elif rc != 0:
            infra = [m for m in INFRASTRUCTURE_ERRORS if m in text]
            lines = text.splitlines()
            errors = [line for line in lines if "| ERROR]" in line][-6:]
            errors += [line.strip() for line in lines if _EXCEPTION.match(line)][-1:]   # the cause, last
            result.update(status="not_graded" if infra else "failed",
                          error="\n".join(errors) or text[-2000:] or f"exit status {rc}")
        else:
            graded = _read_scratch(db_url, assignment, student)
            out = os.path.join(scratch, "autograded", student, assignment)
            if not graded or not os.path.isdir(out):
                result.update(status="failed", error="nbgrader autograde recorded no grades")
            else:
                result.update(graded, status="graded")
                if return_bytes:
                    result["autograded_files"] = _files(out)
                else:
                    result["autograded_dir"] = out
    except Exception as err:  # noqa: BLE001 - reported to the coordinator, which retries
        result.update(status="not_graded", error=f"{type(err).__name__}: {err}")
    finally:
        if made_temp and (return_bytes or result["status"] != "graded"):
            shutil.rmtree(scratch, ignore_errors=True)
    result["duration"] = time.perf_counter() - t0
    return result
