"""Autograding a class: many (assignment, student) autogrades at once, one writer of the gradebook.

The unit of work is :func:`grade_one`: one submission autograded by ``nbgrader autograde`` with
the course's own configuration (whatever that executes notebooks with), in a scratch course
directory of its own, so that any number of them can run at the same time, in other processes
or on other machines.  Its arguments and its result are plain, picklable data.

:func:`grade_class` is the coordinator:

1. registers missing assignments in the course gradebook (``generate_assignment`` into a
   temporary release folder) and builds one template gradebook per assignment;
2. decides what to grade: submissions that are new or changed (content hash of
   ``submitted/<student>/<assignment>/`` or of ``<source>/<assignment>/``) since the ledger's
   row for them (:mod:`rnncourse_grader.gradebook_sync`), or all of them with ``force``;
3. runs the tasks on a ``ProcessPoolExecutor`` (or a Dask scheduler), retrying a task whose
   result is ``not_graded`` or whose worker process died (``retries`` times; then NOT GRADED,
   never a zero);
4. for each graded result, as the only writer of the course gradebook: grades in one
   transaction, then the autograded folder (written beside its place, then renamed), then the
   ledger row.  A run killed at any point leaves complete submissions with a ledger row and the
   others without one, which the next run grades.

How the files reach a task.  On the local pool a task reads the submission and the template
gradebook from the disk and leaves its autograded folder in the run's work folder, which the
coordinator renames into ``autograded/``.  On Dask (``scheduler``) the coordinator ships with
each task what changes from task to task: the submission (a tar archive of
``submitted/<student>/<assignment>/``, hashed by the task as graded) and the assignment's
template gradebook (200 kB); the task returns the autograded files and
the grades as bytes, and writes nothing outside its temporary folder.  What is the same for
every task, the instructor's side (the course's ``nbgrader_config.py``, the source folder with
its ``checks.py``, the ``rnncourse`` package and the Python environment with nbgrader and
bubblewrap), must be on every worker at the same path: a shared file system (a SLURM cluster's
home or project file system), or a read-only volume or the worker image on Kubernetes.  Why:
the instructor's files are the ones nbgrader and the sandbox open by path (the course's
configuration loads the repository's, the sandbox hides the course directory by path), they
change only when the instructor changes them, and they must be trusted code, so they are
deployed like the environment rather than sent from the coordinator; the students' files are
small, change with every submission and are read by the coordinator anyway (it hashes them),
so shipping them costs little, and workers need no access to ``submitted/``, the gradebook or
any other student's files, and never write the course directory.  A task that finds no
course directory on its worker is NOT GRADED with a message saying so (a grader-side failure).

On a Dask worker, which runs tasks in threads, nbgrader is started by
:mod:`rnncourse_grader.launcher` (a single-threaded helper per worker process that imported
nbgrader once and forks per task), so a task costs no nbgrader start-up there either; a
worker that dies takes its tasks' nbgrader, kernels and sandboxes with it, and Dask runs the
task again elsewhere (one attempt here however many times Dask retried it).  The scratch
folder a killed worker leaves is removed by the next task on that machine.

Test hook: ``RNNCOURSE_TEST_CRASH="alice:1,bob:3"`` makes the task of student ``alice`` kill
its worker process (``os._exit``) on its first attempt, ``bob``'s on its first three.
"""
from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from typing import Dict, List, Optional, Sequence, Union

from . import gradebook_sync as gsync
from . import runner
from .progress import Progress, summary_table

# nbgrader's log text of failures that are the grading machine's, not the submission's
INFRASTRUCTURE_ERRORS = (
    "KernelStartError", "the kernel could not be started", "Kernel died before replying to kernel_info",
    "Kernel didn't respond", "Address already in use", "no sandbox for student code",
    "database is locked", "No space left on device", "Too many open files",
)
LOG_TAIL = 200_000
_EXCEPTION = re.compile(r"\s*[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt): ")   # a traceback's last line
FORWARDED = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")   # and every RNNCOURSE_*


# ============================================================================== the task
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
# Written by rnncourse_grader.engine.grade_one: the course's configuration, with this scratch
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


def _die_with_parent() -> None:
    """Linux: get SIGKILL when the parent dies (a killed coordinator leaves no grading behind)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: the orphan finishes its notebook
        pass


_LAUNCHER = """\
import os, sys
try:
    import ctypes
    ctypes.CDLL(None).prctl(1, 9)           # PR_SET_PDEATHSIG, SIGKILL
except Exception:
    pass
if os.getppid() != int(sys.argv[1]):        # the parent died before prctl
    os._exit(1)
os.execv(sys.executable, [sys.executable, "-m", "nbgrader"] + sys.argv[2:])
"""


def _run_nbgrader(args: List[str], cwd: str, env: dict, logpath: str, timeout: Optional[float],
                  warm: bool, die_with_parent: bool) -> Optional[int]:
    """Run ``nbgrader *args`` in ``cwd``, output to ``logpath``; exit status (negative: killed by
    that signal; None: killed after ``timeout`` seconds)."""
    if warm and threading.active_count() > 1:     # a Dask worker: fork from its launcher instead
        from . import launcher
        return launcher.run(args, cwd, env, logpath, timeout)
    if not warm:
        # `python -m nbgrader`, through a launcher that asks for SIGKILL when this thread's
        # process dies (kept across exec; no preexec_fn, which is unsafe in threaded workers)
        argv = ([sys.executable, "-c", _LAUNCHER, str(os.getpid())] if die_with_parent else
                [sys.executable, "-m", "nbgrader"]) + list(args)
        with open(logpath, "wb") as log:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            try:
                return proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc.pid)
                return None
            except BaseException:                 # interrupted: nbgrader must not run on
                _kill_group(proc.pid)
                raise
    from nbgrader.apps import nbgraderapp  # noqa: F401 - imported once per worker process
    from .launcher import nbgrader_main
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:                                          # the child: as `python -m nbgrader`
        try:
            os.setsid()
            if die_with_parent:
                _die_with_parent()
        finally:
            nbgrader_main(args, cwd, env, logpath)        # never returns
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            if deadline is not None and time.monotonic() > deadline:
                _kill_group(pid)
                return None
            time.sleep(0.05)
    except BaseException:                         # interrupted: nbgrader must not run on
        _kill_group(pid)
        raise


def _kill_group(pid: int) -> None:
    """SIGKILL nbgrader's process group (it leads one) and reap nbgrader."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


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


def _sweep_task_folders() -> None:
    """Remove the scratch folders of tasks whose process is gone (a killed Dask worker's)."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "rnncourse-task-*", "owner.pid")):
        try:
            with open(path) as fh:
                os.kill(int(fh.read().strip()), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
        except (OSError, ValueError):
            pass


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
        _sweep_task_folders()
        scratch = tempfile.mkdtemp(prefix="rnncourse-task-")
        with open(os.path.join(scratch, "owner.pid"), "w") as fh:
            fh.write(str(os.getpid()))
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
        rc = _run_nbgrader(args, scratch, run_env, logpath, timeout, warm, die_with_parent)
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


# ============================================================================== coordinator
def assignments_in(source_dir: str) -> List[str]:
    """Folders of ``source_dir`` holding a notebook of the same name."""
    return [os.path.basename(os.path.dirname(p)) for p in sorted(glob.glob(os.path.join(source_dir, "*", "")))
            if os.path.exists(os.path.join(p, os.path.basename(os.path.dirname(p)) + ".ipynb"))]


def load_coursedir(course_root: str):
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader
    cfg = PyFileConfigLoader("nbgrader_config.py", path=course_root).load_config()
    return CourseDirectory(config=cfg), cfg


def _sweep_workdirs() -> None:
    """Remove the temporary folders of coordinators that were killed (their process is gone)."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "rnncourse-grade-*", "owner.pid")):
        try:
            with open(path) as fh:
                os.kill(int(fh.read().strip()), 0)
        except ProcessLookupError:
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
        except (OSError, ValueError):
            pass


class _RunLock:
    """One coordinator per course directory and per gradebook at a time.

    A file lock (``flock``) on ``autograded/.rnncourse-grading.lock`` and, for a gradebook on a
    database server (PostgreSQL), a session advisory lock in that database, so that runs on
    other machines or from other course directories that share the gradebook take turns too.
    A second run waits for the first (``on_wait`` is called once, before it waits), then
    grades what is left.  Both locks go with the process, however it ends.
    """

    def __init__(self, directory: str, db_url: str, course_id: str, out, on_wait=lambda: None):
        self.waited = False
        self.fh = self.con = None
        os.makedirs(directory, exist_ok=True)
        self.fh = open(os.path.join(directory, ".rnncourse-grading.lock"), "a+")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.fh.seek(0)
            self._wait(on_wait, out, f"pid {self.fh.read().strip() or '?'}, {self.fh.name}")
            fcntl.flock(self.fh, fcntl.LOCK_EX)
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(str(os.getpid()))
        self.fh.flush()
        if db_url.startswith("postgresql"):
            try:
                self._advisory(db_url, course_id, out, on_wait)
            except BaseException:
                self.close()
                raise

    def _wait(self, on_wait, out, where: str) -> None:
        if not self.waited:
            on_wait()
        self.waited = True
        print(f"waiting for the other grading run of this gradebook to finish ({where})", file=out, flush=True)

    def _advisory(self, db_url: str, course_id: str, out, on_wait) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool
        key = int.from_bytes(hashlib.sha256(f"rnncourse-grading:{course_id}".encode()).digest()[:8],
                             "big", signed=True)
        from sqlalchemy.engine import make_url
        self.engine = create_engine(db_url, poolclass=NullPool)
        try:
            self.con = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except Exception as err:  # noqa: BLE001 - said in one line, not a traceback
            raise RuntimeError(f"cannot connect to the gradebook {make_url(db_url).render_as_string()}: "
                               f"{str(err).splitlines()[0]}") from err
        if not self.con.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            self._wait(on_wait, out, f"PostgreSQL advisory lock {key}")
            self.con.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})

    def close(self) -> None:
        if self.con is not None:
            self.con.close()            # ends the session, and its advisory lock
            self.engine.dispose()
            self.con = None
        if self.fh is not None:
            self.fh.close()
            self.fh = None


def grade_class(course_root: str, assignments: Optional[Sequence[str]] = None,
                students: Optional[Sequence[str]] = None, workers: Optional[int] = None,
                force: bool = False, scheduler: Optional[str] = None, progress: bool = True, *,
                retries: int = 2, env: Optional[dict] = None, workdir: Optional[str] = None,
                task_timeout: Optional[float] = None, logfile: Optional[str] = None, out=None,
                db_url: Optional[str] = None) -> dict:
    """Autograde the class's new and changed submissions (all of them with ``force``).

    ``assignments``/``students`` select (default: every assignment of the source folder and
    every student with a submission of it); ``workers`` local processes (default: the number
    of CPUs), or the Dask ``scheduler`` at that address; ``retries`` more attempts for a task
    that is not graded; ``env`` more environment variables for the tasks' nbgrader;
    ``db_url`` the course gradebook (nbgrader's ``CourseDirectory.db_url``, e.g.
    ``postgresql+psycopg://grader@host/gradebook``; default: the course's setting, SQLite
    ``gradebook.db``).  A run that finds another run of the same course or gradebook in
    progress waits for it, then skips what it graded and says so.

    Returns a dict: ``graded`` and ``unchanged`` [(assignment, student)], ``failed`` and
    ``not_graded`` [(assignment, student, error)], ``scores`` {(assignment, student):
    (score, max_score)}, ``notes`` [(assignment, student, text)], ``seconds``, ``workers``.
    """
    from nbgrader.api import Gradebook
    out = out or sys.stdout
    bindir = os.path.dirname(sys.executable)         # nbgrader runs `alembic` from PATH
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    course_root = os.path.abspath(course_root)
    coursedir, _ = load_coursedir(course_root)
    if db_url:
        coursedir.db_url = db_url
    # the grading settings of this run (limits, --unsafe...) reach tasks on other machines too
    env = dict({k: v for k, v in os.environ.items() if k.startswith("RNNCOURSE_") or k in FORWARDED},
               **(env or {}))
    logfile = logfile or os.path.join(course_root, ".nbgrader.log")
    bar = Progress(0, out, enabled=False)

    def log(text: str) -> None:
        with open(logfile, "a", encoding="utf-8") as fh:
            fh.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] {text.rstrip()}\n")

    def say(text: str) -> None:
        bar.clear()
        print(text, file=out, flush=True)
        bar.draw(force=bar.tty)

    def sub_path(s, a):
        return coursedir.format_path(coursedir.submitted_directory, s, a)

    def ag_path(s, a):
        return coursedir.format_path(coursedir.autograded_directory, s, a)

    source = os.path.join(coursedir.root, coursedir.source_directory)
    names = assignments_in(source)
    for a in assignments or ():
        if a not in names:
            print(f"no assignment {a} in {coursedir.source_directory}/", file=out, flush=True)
    jobs = [(a, os.path.basename(os.path.dirname(os.path.dirname(p))))
            for a in names if not assignments or a in assignments
            for p in sorted(glob.glob(os.path.join(sub_path("*", a), "")))]
    jobs = [(a, s) for a, s in jobs if students is None or s in students]
    summary = {"graded": [], "failed": [], "not_graded": [], "unchanged": [], "scores": {}, "notes": [],
               "seconds": 0.0, "workers": 0}
    if not jobs:
        print(f"nothing to grade: no submissions in {coursedir.submitted_directory}/<student>/<assignment>/",
              file=out, flush=True)
        return summary

    t0 = time.perf_counter()
    before: Dict[tuple, dict] = {}

    def snapshot() -> None:             # what the other run had done when this one started waiting
        before.update(gsync.peek_ledger(coursedir.db_url))

    lock = _RunLock(os.path.join(coursedir.root, coursedir.autograded_directory), coursedir.db_url,
                    coursedir.course_id, out, on_wait=snapshot)
    own_workdir = workdir is None
    if own_workdir:
        _sweep_workdirs()
        workdir = tempfile.mkdtemp(prefix="rnncourse-grade-")
        with open(os.path.join(workdir, "owner.pid"), "w") as fh:
            fh.write(str(os.getpid()))
    workdir = os.path.abspath(workdir)
    backend = gb = None
    try:
        unknown = set(gsync.register_assignments(course_root, coursedir, sorted({a for a, _ in jobs}), log, out))
        summary["failed"] += [(a, s, f"{a} could not be registered in the gradebook") for a, s in jobs if a in unknown]
        jobs = [(a, s) for a, s in jobs if a not in unknown]
        if gsync.sweep_temporary(os.path.join(coursedir.root, coursedir.autograded_directory)):
            log("removed temporary folders left in autograded/ by an interrupted run")
        src_hash = {a: tree_hash(os.path.join(source, a)) for a in sorted({a for a, _ in jobs})}
        gb = Gradebook(coursedir.db_url, coursedir.course_id)
        gsync.ensure_ledger(gb)
        if force:                       # forgotten first: an interrupted forced run still regrades
            gsync.forget(gb, jobs)
        ledger, present = gsync.read_ledger(gb), gsync.submitted_pairs(gb)
        todo = []
        for a, s in jobs:
            entry = ledger.get((a, s))
            same = (entry is not None and (a, s) in present and os.path.isdir(ag_path(s, a))
                    and entry["source_hash"] == src_hash[a] and entry["submission_hash"] == tree_hash(sub_path(s, a)))
            (summary["unchanged"] if same else todo).append((a, s))
        if lock.waited:
            by_other = [p for p in summary["unchanged"] if ledger.get(p) != before.get(p)]
            print(f"the other run is done: skipped {len(by_other)} graded by another run while this one "
                  "waited", file=out, flush=True)
        templates = {a: gsync.build_template(coursedir.db_url, coursedir.course_id, a,
                                             os.path.join(workdir, "templates", f"{a}.db"))
                     for a in sorted({a for a, _ in todo})}
        extension = {a: gsync.extensions(gb, a) for a in templates}
        gb.db.commit()
        if todo:
            backend = (runner.Dask(grade_one, scheduler) if scheduler else
                       runner.Pool(grade_one, max(1, min(workers or os.cpu_count() or 1, len(todo)))))
            summary["workers"] = backend.workers
        where = (f" in {len(templates)} assignment(s), {backend.workers} worker(s)"
                 + (f" at {scheduler}" if scheduler else "")) if todo else ""
        print(f"Autograding {len(todo)} new or changed submission(s) of {len(jobs)} "
              f"({len(summary['unchanged'])} unchanged){where}; "
              f"nbgrader's log: {os.path.relpath(logfile)}", file=out, flush=True)
        bar = Progress(len(todo), out, enabled=progress)
        blobs: Dict[str, bytes] = {}

        def kwargs_of(task: dict) -> dict:
            a, s = task["a"], task["s"]
            kw = dict(course_root=course_root, assignment=a, student=s, attempt=task["attempt"],
                      submitted_dir=sub_path(s, a), extension_seconds=extension[a].get(s), env=env,
                      timeout=task_timeout)
            if backend.remote:          # another machine: the template and the files travel as bytes
                if a not in blobs:
                    with open(templates[a], "rb") as fh:
                        blobs[a] = fh.read()
                return dict(kw, submitted_dir=None, submission=pack(sub_path(s, a)), template_db=blobs[a],
                            workdir=None, return_bytes=True, die_with_parent=True, warm=True)
            task["workdir"] = os.path.join(workdir, "tasks", a, s, f"run-{task['dispatch']}")
            return dict(kw, template_db=templates[a], workdir=task["workdir"], die_with_parent=True,
                        warm=True)

        def on_result(task: dict, res: dict) -> bool:
            a, s = task["a"], task["s"]
            status, error = res["status"], res.get("error")
            log(f"==== autograde {a} {s}, attempt {task['attempt']} ({res.get('host', '?')}, "
                f"{res.get('duration', 0):.1f} s): {status} {error or ''}\n{res.get('log', '')}")
            if status == "not_graded" and task["attempt"] <= retries:
                say(f"{a} {s}: not graded ({error}); trying again (attempt {task['attempt'] + 1} of {retries + 1})")
                task["attempt"] += 1
                return True
            if status == "graded":
                try:            # the one writer: grades (one transaction), files, then the ledger
                    score = gsync.apply_result(gb, res)
                    gsync.install_autograded(res, ag_path(s, a))
                    gsync.record(gb, a, s, res["submission_hash"], src_hash[a])
                except Exception as err:  # noqa: BLE001 - this submission only
                    status, error = "failed", f"could not record the grades: {type(err).__name__}: {err}"
                else:
                    summary["graded"].append((a, s))
                    summary["scores"][(a, s)] = score[:2]
                    bar.done(graded=1, notebooks=len(res["notebooks"]))
                    for note in res.get("notes") or []:
                        summary["notes"].append((a, s, note))
                        say(f"{a} {s}: {score[0]:g} / {score[1]:g}; note: {note}")
            if status == "failed":
                summary["failed"].append((a, s, error))
                bar.done(failed=1)
                why = ((error or "").strip().splitlines() or ["see the log"])[-1][:300]
                say(f"{a} {s}: FAILED: {why}")
            elif status == "not_graded":
                summary["not_graded"].append((a, s, error))
                bar.done(not_graded=1)
                say(f"{a} {s}: NOT GRADED after {task['attempt']} attempt(s): {error} (a grader-side "
                    f"failure, not the student's; grade again with `tools/course.py grade {a} --students {s}`)")
            if task.get("workdir"):
                shutil.rmtree(os.path.dirname(task["workdir"]), ignore_errors=True)
            return False

        if todo:
            runner.run_tasks(backend, [{"a": a, "s": s, "name": f"{a}-{s}", "attempt": 1, "dispatch": 0}
                                       for a, s in todo],
                             kwargs_of, on_result, tick=bar.draw,
                             on_suspects=lambda tasks: say(
                                 f"a worker process died while {len(tasks)} submissions were being graded: "
                                 "grading them again one at a time"))
        bar.finish()
        summary["seconds"] = time.perf_counter() - t0
        print(summary_table(gb, jobs, summary), file=out, flush=True)
    except BaseException:
        if backend is not None:
            backend.close(wait=False)     # its workers die with this process (PDEATHSIG)
            backend = None
        raise
    finally:
        if backend is not None:
            backend.close()
        if gb is not None:
            gb.close()
        if own_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        lock.close()
    print(f"autograded in {summary['seconds']:.0f} s: {len(summary['graded'])} graded, "
          f"{len(summary['failed'])} failed, {len(summary['not_graded'])} not graded, "
          f"{len(summary['unchanged'])} unchanged", file=out, flush=True)
    return summary
