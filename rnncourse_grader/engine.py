"""Autograding a class: many (assignment, student) autogrades at once, one writer of the gradebook.

The unit of work is :func:`grade_one` (:mod:`rnncourse_grader.grade_task`): one submission
autograded by ``nbgrader autograde`` with the course's own configuration (whatever that
executes notebooks with), in a scratch course directory of its own, so that any number of them
can run at the same time, in other processes or on other machines.  Its arguments and its
result are plain, picklable data.  It starts nbgrader with
:func:`rnncourse_grader.nbgrader_process.run_nbgrader`.

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

One coordinator at a time per course directory and gradebook:
:class:`rnncourse_grader.run_lock.RunLock`.

Test hook: ``RNNCOURSE_TEST_CRASH="alice:1,bob:3"`` makes the task of student ``alice`` kill
its worker process (``os._exit``) on its first attempt, ``bob``'s on its first three.
"""
from __future__ import annotations

import glob
import os
import shutil
import sys
import time
from typing import Dict, List, Optional, Sequence

from . import gradebook_sync as gsync
from . import runner
from .grade_task import INFRASTRUCTURE_ERRORS, LOG_TAIL, grade_one, owned_tempdir, pack, tree_hash
from .progress import Progress, summary_table
from .run_lock import RunLock

__all__ = ["grade_class", "grade_one", "assignments_in", "load_coursedir", "tree_hash", "pack",
           "INFRASTRUCTURE_ERRORS", "LOG_TAIL", "FORWARDED"]

FORWARDED = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")   # and every RNNCOURSE_*


def assignments_in(source_dir: str) -> List[str]:
    """Folders of ``source_dir`` holding a notebook of the same name."""
    return [os.path.basename(os.path.dirname(p)) for p in sorted(glob.glob(os.path.join(source_dir, "*", "")))
            if os.path.exists(os.path.join(p, os.path.basename(os.path.dirname(p)) + ".ipynb"))]


def load_coursedir(course_root: str):
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader
    cfg = PyFileConfigLoader("nbgrader_config.py", path=course_root).load_config()
    return CourseDirectory(config=cfg), cfg


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

    lock = RunLock(os.path.join(coursedir.root, coursedir.autograded_directory), coursedir.db_url,
                   coursedir.course_id, out, on_wait=snapshot)
    own_workdir = workdir is None
    if own_workdir:
        workdir = owned_tempdir("rnncourse-grade-")
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
