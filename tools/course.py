"""Course commands around nbgrader (the Makefile's `exercises`, `check` and `grade` targets).

    python tools/course.py exercises [ASSIGNMENT ...]   regenerate exercises/ from solutions/
    python tools/course.py check NOTEBOOK                validate one notebook (exit 1 if it fails)
    python tools/course.py grade [ASSIGNMENT ...]        autograde submitted/, student by student,
                                                         then feedback and grades.csv

Every command runs nbgrader with the course's nbgrader_config.py (``--course DIR``, default: the
repository root).  ``grade`` prints one line per submission ("[k/n] assignment student: score")
and keeps nbgrader's log in <course>/.nbgrader.log; a submission that nbgrader cannot grade is
reported and the class run goes on.
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import logging
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NBGRADER = [sys.executable, "-m", "nbgrader"]
# nbgrader runs the `alembic` script of its environment: make the venv's bin/ visible even when
# the venv is not activated (e.g. `.venv/bin/python tools/course.py ...`).
_BIN = os.path.dirname(sys.executable)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")


def assignments_in(course: str, directory: str = "solutions") -> list:
    """Assignment names: folders of ``directory`` holding a notebook of the same name."""
    found = []
    for path in sorted(glob.glob(os.path.join(course, directory, "*", ""))):
        name = os.path.basename(os.path.dirname(path))
        if os.path.exists(os.path.join(path, name + ".ipynb")):
            found.append(name)
    return found


def nbgrader(course: str, *args: str, quiet: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(NBGRADER + list(args), cwd=course, text=True,
                          capture_output=quiet, check=False)


# ----------------------------------------------------------------------------- exercises
def cmd_exercises(opts) -> int:
    names = opts.assignments or assignments_in(opts.course)
    if not names:
        print("no assignments found in solutions/", file=sys.stderr)
        return 1
    status = 0
    for name in names:
        res = nbgrader(opts.course, "generate_assignment", name, "--force", quiet=True)
        if res.returncode != 0:
            print(f"FAILED {name}:\n{res.stdout}{res.stderr}", file=sys.stderr)
            status = 1
        else:
            print(f"exercises/{name}/ regenerated from solutions/{name}/")
    return status


# ----------------------------------------------------------------------------- check
def cmd_check(opts) -> int:
    path = os.path.abspath(opts.notebook)
    if not os.path.exists(path):
        print(f"check: no notebook at {opts.notebook}", file=sys.stderr)
        return 2
    print(f"Checking {os.path.relpath(path)} (runs every cell, as the grader will)...", flush=True)
    res = nbgrader(opts.course, "validate", path, quiet=True)
    # nbgrader's own log lines (which notebook it validates, the kernel's TCP warning) say nothing
    # to a student; real errors on stderr are kept.
    noise = ("[ValidateApp | INFO] Validating", "[IPKernelApp] WARNING | Kernel is running over TCP")
    err = "\n".join(line for line in (res.stderr or "").splitlines() if not line.startswith(noise))
    out = (res.stdout or "") + err
    body = out.strip()
    if "Success! Your notebook passes all the tests." in out and res.returncode == 0:
        print("PASSED: every test in this notebook passes. (Hidden tests run when it is graded; "
              "written answers are graded by hand.)")
        return 0
    print(body)
    if "HAVE CHANGED" in out:
        why = "a test cell was edited or a cell's type changed: restore the original cells"
    elif "VALIDATION FAILED" in out:
        why = "some tests fail (see the messages above)"
    else:
        why = "nbgrader could not run the notebook (see above)"
    print(f"\nFAILED: {why}.")
    return 1


# ----------------------------------------------------------------------------- grade
def _load_config(course: str):
    from traitlets.config.loader import PyFileConfigLoader
    return PyFileConfigLoader("nbgrader_config.py", path=course).load_config()


@contextlib.contextmanager
def _quiet_fds(logfile: str):
    """Send everything written to fd 1 and 2 (kernels, nbgrader) to the log file meanwhile."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(logfile, "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _score(api, assignment: str, student: str):
    from nbgrader.api import Gradebook, MissingEntry
    with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
        try:
            sub = gb.find_submission(assignment, student)
        except MissingEntry:
            return None
        return sub.score, sub.max_score, sub.needs_manual_grade


def _register_assignments(course: str, coursedir, assignments, logger) -> list:
    """Make sure the gradebook knows every assignment (and its notebooks' grade cells).

    gradebook.db is git-ignored and only ``nbgrader generate_assignment`` records an assignment,
    its notebooks and their grade, solution and source cells, which autograde needs.  On a fresh
    clone (or after deleting gradebook.db) every missing assignment is generated once from
    solutions/ into a temporary release directory, so exercises/ is left as it is.  Returns the
    assignments that could not be registered.
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
    for name in missing:
        with tempfile.TemporaryDirectory(prefix="rnncourse-release-") as tmp:
            res = nbgrader(course, "generate_assignment", name, "--force",
                           f"--CourseDirectory.release_directory={tmp}", quiet=True)
        logger.info("==== register %s in the gradebook ====\n%s%s", name, res.stdout, res.stderr)
        if res.returncode == 0:
            print(f"gradebook: {name} registered from {coursedir.source_directory}/{name}/", flush=True)
        else:
            print(f"gradebook: could not register {name} (nbgrader generate_assignment failed, "
                  "see the log)", flush=True)
            failed.append(name)
    return failed


def cmd_grade(opts) -> int:
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    course = os.path.abspath(opts.course)
    cfg = _load_config(course)
    logfile = os.path.join(course, ".nbgrader.log")
    logger = logging.getLogger("rnncourse.grade")
    logger.handlers[:] = []
    logger.propagate = False
    handler = logging.FileHandler(logfile)
    handler.setFormatter(logging.Formatter("[%(asctime)s %(levelname)s] %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    coursedir = CourseDirectory(config=cfg)
    api = NbGraderAPI(coursedir=coursedir, config=cfg, log=logger)

    submitted = os.path.join(course, coursedir.submitted_directory)
    wanted = opts.assignments or assignments_in(course)
    jobs = []
    for assignment in wanted:
        students = sorted(os.path.basename(os.path.dirname(os.path.dirname(p))) for p in
                          glob.glob(os.path.join(submitted, "*", assignment, "")))
        if opts.students:
            students = [s for s in students if s in opts.students]
        jobs += [(assignment, s) for s in students]
    if not jobs:
        print("nothing to grade: no submissions in submitted/<student>/<assignment>/")
        return 0
    print(f"Autograding {len(jobs)} submission(s) of {len(set(a for a, _ in jobs))} assignment(s); "
          f"nbgrader's log: {os.path.relpath(logfile)}", flush=True)
    unknown = _register_assignments(course, coursedir, sorted(set(a for a, _ in jobs)), logger)
    n_all = len(jobs)
    failures = [(a, s) for a, s in jobs if a in unknown]
    jobs = [(a, s) for a, s in jobs if a not in unknown]
    t_all = time.perf_counter()
    width = len(str(len(jobs)))
    # tools/nbgrader_ext.py as loaded by nbgrader_config.py: it records failed kernel starts
    starts = getattr(sys.modules.get("rnncourse_nbgrader_ext"), "KERNEL_START_FAILURES", None)
    for k, (assignment, student) in enumerate(jobs, 1):
        if starts is not None:
            del starts[:]
        t0 = time.perf_counter()
        logger.info("==== autograde %s %s ====", assignment, student)
        with _quiet_fds(logfile):
            try:
                result = api.autograde(assignment, student, force=True, create=True)
            except Exception as err:  # noqa: BLE001 - keep grading the others
                result = {"success": False, "error": repr(err)}
        dt = time.perf_counter() - t0
        if result.get("log"):
            logger.info(result["log"])
        score = _score(api, assignment, student)
        last = re.match(r"attempt (\d+) of (\d+):", starts[-1]) if starts else None
        gave_up = bool(last) and last.group(1) == last.group(2) and not result.get("success")
        if not result.get("success"):
            logger.error(result.get("error", ""))
            failures.append((assignment, student))
            if gave_up:
                line = (f"NOT GRADED: no kernel could be started ({len(starts or [])} attempts; a "
                        f"grader-side failure, not the student's): run `.venv/bin/python tools/course.py grade "
                        f"{assignment} --students {student}` again")
            else:
                line = "FAILED (nbgrader error, see the log)"
        elif score is None:
            failures.append((assignment, student))
            line = "FAILED (no grade recorded)"
        else:
            pts, maxpts, manual = score
            line = f"{pts:g} / {maxpts:g}" + ("  (+ answers to grade by hand)" if manual else "")
        if starts and not gave_up:
            line += (f"  [kernel start failed {len(starts)} time(s), retried: "
                     f"{starts[-1].split(': ', 1)[-1][:80]}]")
        print(f"[{k:>{width}}/{len(jobs)}] {assignment} {student}: {line}  ({dt:.1f} s)", flush=True)

    if not opts.no_feedback:
        n = 0
        for assignment, student in jobs:
            if (assignment, student) in failures:
                continue
            with _quiet_fds(logfile):
                res = api.generate_feedback(assignment, student, force=True)
            n += bool(res.get("success"))
            if not res.get("success"):
                logger.error(res.get("error", ""))
        print(f"feedback: {n} report(s) in {coursedir.feedback_directory}/<student>/<assignment>/")
    if opts.csv:
        res = nbgrader(course, "export", "--to", opts.csv, quiet=True)
        if res.returncode == 0:
            print(f"grades: {opts.csv}")
        else:
            print(f"grade export failed:\n{res.stdout}{res.stderr}")
            failures.append(("export", ""))
    total = time.perf_counter() - t_all
    print(f"done in {total:.0f} s: {n_all - len(failures)} graded, {len(failures)} failed"
          + (": " + ", ".join(f"{a}/{s}" for a, s in failures) if failures else ""))
    return 1 if failures else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", default=ROOT, help="course directory (default: the repository)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("exercises", help="regenerate exercises/ from solutions/")
    p.add_argument("assignments", nargs="*")
    p.set_defaults(func=cmd_exercises)
    p = sub.add_parser("check", help="validate a notebook like the grader")
    p.add_argument("notebook")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("grade", help="autograde every submission, then feedback and CSV")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--students", type=lambda s: [x for x in s.split(",") if x], default=None,
                   help="comma-separated student ids (default: all)")
    p.add_argument("--no-feedback", action="store_true")
    p.add_argument("--csv", default="grades.csv", help="grades file, relative to the course ('' to skip)")
    p.set_defaults(func=cmd_grade)
    opts = parser.parse_args(argv)
    opts.course = os.path.abspath(opts.course)
    return opts.func(opts)


if __name__ == "__main__":
    sys.exit(main())
