"""Course commands around nbgrader (the Makefile's `exercises`, `check` and `grade` targets).

    python tools/course.py exercises [ASSIGNMENT ...]   regenerate exercises/ from solutions/
    python tools/course.py check NOTEBOOK                validate one notebook (exit 1 if it fails)
    python tools/course.py grade [ASSIGNMENT ...]        autograde new and changed submissions of
                                                         submitted/ in parallel, then feedback and
                                                         grades.csv
    python tools/course.py watch [ASSIGNMENT ...]        grade on submit: every --interval seconds,
                                                         collect new submissions from the exchange,
                                                         autograde them, release their feedback
    python tools/course.py nbgrader ARG ...              any nbgrader command, run in the course
                                                         directory by this environment's nbgrader
                                                         with its bin/ on PATH (nbgrader calls
                                                         `alembic`)

Every command runs nbgrader with the course's nbgrader_config.py (``--course DIR``, default: the
repository root).  ``grade`` uses rnncourse_grader.engine: one ``nbgrader autograde`` per
(assignment, student) in a scratch directory, ``--workers`` of them at a time (or on a Dask
``--scheduler``), the course gradebook written by this process only.  Submissions graded before
and unchanged since are skipped (``--force`` grades them again); hand grades survive.  It shows
a progress line and a table per assignment, keeps nbgrader's log in <course>/.nbgrader.log, and
a submission that cannot be graded is reported while the class run goes on.  ``--unsafe`` runs
student code without the sandbox (RNNCOURSE_UNSAFE=1).

Before any command touches it, the course gradebook is checked (:func:`check_gradebook`): one
left without an alembic version (by an nbgrader run that could not find `alembic`, which
`nbgrader db upgrade` cannot repair) is stamped when its tables are nbgrader's current schema,
otherwise the command stops and says what to do.
"""
from __future__ import annotations

import argparse
import contextlib
import glob
import logging
import os
import shutil
import subprocess
import sys
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STUDENT_CONFIG = os.path.join(ROOT, "tools", "student_nbgrader_config.py")
if ROOT not in sys.path:             # rnncourse_grader of this checkout
    sys.path.insert(0, ROOT)
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


# ----------------------------------------------------------------------------- gradebook
class GradebookError(RuntimeError):
    """A gradebook that nbgrader cannot use and this script cannot repair (message: what to do)."""


def _db_url(course: str, db_url=None) -> str:
    if db_url:
        return db_url
    from rnncourse_grader import engine
    coursedir, _ = engine.load_coursedir(course)
    return coursedir.db_url


def check_gradebook(course: str, db_url=None, out=sys.stderr):
    """Make sure the gradebook has an alembic version; return what was done (or None).

    nbgrader creates the gradebook's tables first and stamps their alembic version by running
    the ``alembic`` script; where that script is not on PATH the stamp fails and the tables
    stay, without a version, and every later nbgrader (``db upgrade`` included) takes them for
    an old gradebook and fails.  Such a gradebook is stamped with nbgrader's current revision
    when its tables and columns are exactly nbgrader's current schema; otherwise
    :class:`GradebookError` says which tables or columns differ and what to do.  A missing
    or empty gradebook, or one with a version, is left alone.
    """
    import sqlalchemy as sa
    url = _db_url(course, db_url)
    if url.startswith("sqlite:///") and not os.path.exists(url[len("sqlite:///"):]):
        return None
    engine_ = sa.create_engine(url)
    try:
        tables = set(sa.inspect(engine_).get_table_names())
        if not tables:
            return None
        if "alembic_version" in tables:
            with engine_.connect() as conn:
                if conn.execute(sa.text("SELECT version_num FROM alembic_version")).first():
                    return None
        from nbgrader.api import Base
        from nbgrader.dbutil import ALEMBIC_DIR
        from alembic.config import Config
        from alembic.script import ScriptDirectory
        inspector = sa.inspect(engine_)
        differences = []
        for name, table in Base.metadata.tables.items():
            if name not in tables:
                differences.append(f"table {name} missing")
                continue
            have = {c["name"] for c in inspector.get_columns(name)}
            want = {c.name for c in table.columns}
            if have != want:
                differences.append(f"table {name}: columns {sorted(have ^ want)} differ")
        extra = tables - set(Base.metadata.tables) - {"alembic_version"}
        differences += [f"table {name} is not nbgrader's" for name in sorted(extra)]
        where = url.replace("sqlite:///", "") if url.startswith("sqlite:///") else url
        if differences:
            raise GradebookError(
                f"the gradebook {where} has no alembic version (an nbgrader run that could not "
                f"find `alembic` leaves it so) and its tables are not nbgrader's current schema "
                f"({'; '.join(differences[:5])}), so it cannot be stamped and `nbgrader db "
                f"upgrade` cannot repair it. Move it aside (e.g. `mv gradebook.db "
                f"gradebook.db.broken`); `make grade` registers the assignments again in a new "
                f"one (or run `make exercises`), then `make nbgrader ARGS=\"db student import "
                f"roster.csv\"` and grade again: the grades are recomputed from submitted/")
        alembic_cfg = Config()
        alembic_cfg.set_main_option("script_location", ALEMBIC_DIR)
        head = ScriptDirectory.from_config(alembic_cfg).get_current_head()
        with engine_.begin() as conn:
            if "alembic_version" not in tables:
                conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            conn.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": head})
        done = (f"gradebook: {where} had no alembic version (left by an nbgrader run that could "
                f"not find `alembic`); its tables are nbgrader's current schema: stamped {head}")
        print(done, file=out, flush=True)
        return done
    finally:
        engine_.dispose()


def _checked_gradebook(course: str, db_url=None) -> bool:
    """check_gradebook, printing its error; False when the command must not go on."""
    try:
        check_gradebook(course, db_url)
    except GradebookError as err:
        print(f"gradebook: {err}", file=sys.stderr)
        return False
    return True


# ----------------------------------------------------------------------------- nbgrader
def cmd_nbgrader(course: str, args: list) -> int:
    """``nbgrader ARGS`` in the course directory, this environment's nbgrader, its bin/ on PATH."""
    urls = [a.split("=", 1)[1] for a in args if a.startswith("--CourseDirectory.db_url=")]
    if args[:1] not in (["--help"], ["-h"], ["--version"]) and not _checked_gradebook(
            course, urls[-1] if urls else None):
        return 2
    return subprocess.run(NBGRADER + list(args), cwd=course, check=False).returncode


# ----------------------------------------------------------------------------- exercises
def cmd_exercises(opts) -> int:
    if not _checked_gradebook(opts.course):
        return 2
    names = opts.assignments or assignments_in(opts.course)
    if not names:
        print("no assignments found in solutions/", file=sys.stderr)
        return 1
    status = 0
    from rnncourse.grading import cells
    for name in names:
        changed = cells.sync_notebook(os.path.join(opts.course, "solutions", name))   # table -> test cells
        if changed:
            print(f"solutions/{name}/{name}.ipynb: test cells {', '.join(changed)} written from checks.py's POINTS")
        res = nbgrader(opts.course, "generate_assignment", name, "--force", quiet=True)
        if res.returncode != 0:
            print(f"FAILED {name}:\n{res.stdout}{res.stderr}", file=sys.stderr)
            status = 1
        else:
            # the settings that make `nbgrader validate` in the assignment's own folder the
            # grader's check (tools/student_nbgrader_config.py), shipped with the release
            shutil.copyfile(STUDENT_CONFIG, os.path.join(opts.course, "exercises", name,
                                                         "nbgrader_config.py"))
            print(f"exercises/{name}/ regenerated from solutions/{name}/")
    return status


def _refuse_without_sandbox(command: str, unsafe: bool) -> bool:
    """True (and why, on stderr) when student code would run with no sandbox and no --unsafe."""
    from rnncourse_grader import sandbox
    why = None if unsafe or os.environ.get("RNNCOURSE_UNSAFE") == "1" else sandbox.check_available()
    if why:
        print(f"{command}: refusing to run student code without a sandbox: {why}.\n"
              f"Install bubblewrap (`make sandbox`), or pass --unsafe to run it with this "
              f"account's rights (its files, the network).", file=sys.stderr)
    return bool(why)


# ----------------------------------------------------------------------------- check
def validator(course: str):
    """nbgrader's ``Validator``, configured by the course's nbgrader_config.py.

    Loading that file makes the Validator's preprocessors the sandboxed ones (ClearOutput,
    SandboxedExecute): a notebook runs exactly as under ``nbgrader validate``.
    """
    from nbgrader.validator import Validator
    from rnncourse_grader import engine
    _, cfg = engine.load_coursedir(course)
    log = logging.getLogger("rnncourse.check")    # nbgrader's INFO lines say nothing to a student
    log.setLevel(logging.WARNING)
    return Validator(config=cfg, log=log)


def validate(course: str, path: str) -> dict:
    """:func:`validator`'s ``validate`` of one notebook: nbgrader's dict of lists ``type_changed``
    / ``changed`` / ``failed`` (absent when empty).  Raises what stops nbgrader from running the
    notebook (no sandbox, unreadable metadata...)."""
    return validator(course).validate(path)


def _report(width: int, title: str, source: str, error: str = None) -> str:
    """One cell of the check's report, laid out as nbgrader's: a rule, what happened, the cell,
    the error if any (whole lines: nothing is cut)."""
    from nbconvert.filters import strip_ansi

    def indent(text):
        return "\n".join("    " + line for line in strip_ansi(text).strip("\n").split("\n"))
    text = f"{'=' * width}\n{title}\n\n{indent(source)}\n"
    return text + (f"\nThe error was:\n\n{indent(error)}\n" if error is not None else "")


def cmd_check(opts) -> int:
    path = os.path.abspath(opts.notebook)
    if not os.path.exists(path):
        print(f"check: no notebook at {opts.notebook}", file=sys.stderr)
        return 2
    if _refuse_without_sandbox("check", opts.unsafe):
        return 2
    if opts.unsafe:
        os.environ["RNNCOURSE_UNSAFE"] = "1"
    print(f"Checking {os.path.relpath(path)} (runs every cell, as the grader will)...", flush=True)
    try:
        v = validator(opts.course)
        results = v.validate(path)
    except Exception as err:  # noqa: BLE001 - whatever it is, the notebook was not checked
        print(f"\nFAILED: nbgrader could not run the notebook: {type(err).__name__}: {err}")
        return 1
    w = v.width
    if results.get("summary"):       # per function: cases passed, points (as the Validate dialog)
        print(results["summary"] + "\n")
    type_changed, changed = results.get("type_changed", []), results.get("changed", [])
    if type_changed or changed:      # nbgrader's own warnings, then each cell
        warning = (v.type_changed_warning if type_changed else v.changed_warning).format(
            num_changed=len(type_changed or changed))
        print(textwrap.fill(warning, width=w))
        for c in type_changed:
            print(_report(w, f"The following {c['old_type']} cell has changed to a {c['new_type']} cell:",
                          c["source"]))
        for c in changed:
            print(_report(w, "The following cell has changed:", c["source"]))
        print("FAILED: a test cell was edited or a cell's type changed: restore the original cells.")
        return 1
    failed = [c for c in results.get("failed", []) if not c.get("summary")]
    if failed:
        print(textwrap.fill(v.failed_warning.format(num_failed=len(failed)), width=w))
        for c in failed:
            print(_report(w, "The following cell failed:", c["source"], c["raw_error"]))
        print("FAILED: some tests fail (see the messages above).")
        return 1
    print("PASSED: every test in this notebook passes. (Hidden tests run when it is graded; "
          "written answers are graded by hand.)")
    return 0


# ----------------------------------------------------------------------------- grade
@contextlib.contextmanager
def _quiet_fds(logfile: str):
    """Send everything written to fd 1 and 2 (nbgrader's log) to the log file meanwhile."""
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


def _api(coursedir, cfg, logfile):
    """nbgrader's NbGraderAPI (its apps in this process), logging to the course's log file."""
    from nbgrader.apps.api import NbGraderAPI
    logger = logging.getLogger("rnncourse.grade")
    logger.handlers[:] = []
    logger.propagate = False
    handler = logging.FileHandler(logfile)
    handler.setFormatter(logging.Formatter("[%(asctime)s %(levelname)s] %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    return NbGraderAPI(coursedir=coursedir, config=cfg, log=logger), logger


def _call(api, logger, logfile, method: str, *args, **kwargs) -> bool:
    """``api.<method>(*args)`` with nbgrader's output in the log file; True if it succeeded."""
    with _quiet_fds(logfile):
        res = getattr(api, method)(*args, **kwargs) or {}
    if res.get("log"):
        logger.info(res["log"])
    if not res.get("success"):
        logger.error(f"{method} {' '.join(map(str, args))}: {res.get('error', '')}")
    return bool(res.get("success"))


def db_args(opts) -> list:
    """nbgrader's option for the gradebook given with --db-url (none: the course's setting)."""
    return [f"--CourseDirectory.db_url={opts.db_url}"] if getattr(opts, "db_url", None) else []


def cmd_grade(opts) -> int:
    from rnncourse_grader import engine

    course = os.path.abspath(opts.course)
    logfile = os.path.join(course, ".nbgrader.log")
    env = {}
    if _refuse_without_sandbox("grade", opts.unsafe) or not _checked_gradebook(course, opts.db_url):
        return 2
    if opts.unsafe:
        env["RNNCOURSE_UNSAFE"] = os.environ["RNNCOURSE_UNSAFE"] = "1"
        print("--unsafe: student code runs WITHOUT a sandbox, with this account's rights "
              "(its files, the network)", flush=True)
    t0 = time.perf_counter()
    try:
        summary = engine.grade_class(course, assignments=opts.assignments or None, students=opts.students,
                                     workers=opts.workers, force=opts.force, scheduler=opts.scheduler,
                                     db_url=opts.db_url,
                                     env=env, logfile=logfile)
    except RuntimeError as err:
        print(f"grade: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: the submissions graded so far are recorded; the next run grades the rest",
              file=sys.stderr)
        return 130
    problems = [f"{a}/{s}" for a, s, _ in summary["failed"] + summary["not_graded"]]
    if not (summary["graded"] or summary["unchanged"] or problems):
        return 0

    coursedir, cfg = engine.load_coursedir(course)
    if opts.db_url:
        coursedir.db_url = opts.db_url
    if not opts.no_feedback:
        # the submissions graded now, and earlier ones whose report is missing
        todo = summary["graded"] + [(a, s) for a, s in summary["unchanged"] if not os.path.exists(
            os.path.join(coursedir.format_path(coursedir.feedback_directory, s, a), f"{a}.html"))]
        if todo:
            api, logger = _api(coursedir, cfg, logfile)
            n = 0
            for assignment, student in todo:
                ok = _call(api, logger, logfile, "generate_feedback", assignment, student, force=True)
                n += ok
                if not ok:
                    problems.append(f"feedback {assignment}/{student}")
            print(f"feedback: {n} report(s) in {coursedir.feedback_directory}/<student>/<assignment>/")
    if opts.csv:
        res = nbgrader(course, "export", "--to", opts.csv, *db_args(opts), quiet=True)
        if res.returncode == 0:
            print(f"grades: {opts.csv}")
        else:
            print(f"grade export failed:\n{res.stdout}{res.stderr}")
            problems.append("export")
    print(f"done in {time.perf_counter() - t0:.0f} s: {len(summary['graded'])} graded, "
          f"{len(summary['unchanged'])} unchanged, {len(summary['failed'])} failed, "
          f"{len(summary['not_graded'])} not graded" + (": " + ", ".join(problems) if problems else ""))
    return 1 if problems else 0


# ----------------------------------------------------------------------------- watch
def _inbound(root: str, course_id: str) -> dict:
    """{assignment: {submission folder name}} of the exchange's inbound folder
    (``<student>+<assignment>+<timestamp>[+<random>]``, nbgrader's naming)."""
    found: dict = {}
    inbound = os.path.join(root, course_id, "inbound")
    try:
        names = os.listdir(inbound)
    except OSError:
        return found
    for name in names:
        parts = name.split("+")
        if len(parts) >= 3 and not name.startswith("."):
            found.setdefault(parts[1], set()).add(name)
    return found


def cmd_watch(opts) -> int:
    """Grade on submit: collect, autograde, generate and release feedback, every few seconds."""
    import io
    import signal

    from rnncourse_grader import engine

    course = os.path.abspath(opts.course)
    logfile = os.path.join(course, ".nbgrader.log")
    env = {}
    if _refuse_without_sandbox("watch", opts.unsafe) or not _checked_gradebook(course, opts.db_url):
        return 2
    if opts.unsafe:
        env["RNNCOURSE_UNSAFE"] = os.environ["RNNCOURSE_UNSAFE"] = "1"
        print("--unsafe: student code runs WITHOUT a sandbox", flush=True)
    coursedir, cfg = engine.load_coursedir(course)
    if opts.db_url:
        coursedir.db_url = opts.db_url
    root = cfg.Exchange.root if "root" in cfg.Exchange else "/usr/local/share/nbgrader/exchange"
    wanted = set(opts.assignments or engine.assignments_in(os.path.join(coursedir.root,
                                                                        coursedir.source_directory)))
    api, logger = _api(coursedir, cfg, logfile)

    def stop(signum, frame):               # SIGTERM as Ctrl-C: finish cleanly
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)

    print(f"watching {os.path.join(root, coursedir.course_id, 'inbound')} every {opts.interval:g} s for "
          f"{', '.join(sorted(wanted)) or 'no assignment'}; Ctrl-C stops; nbgrader's log: "
          f"{logfile}", flush=True)
    seen: dict = {}
    graded_total = 0
    try:
        while True:
            inbound = _inbound(root, coursedir.course_id)
            new = sorted(a for a in wanted if inbound.get(a, set()) - seen.get(a, set()))
            for a in new:
                if not _call(api, logger, logfile, "collect", a, update=True):
                    print(f"{time.strftime('%H:%M:%S')} {a}: nbgrader collect failed (see the log)", flush=True)
                    continue
                seen[a] = inbound[a]
            if new:
                quiet = io.StringIO()
                summary = engine.grade_class(course, assignments=new, workers=opts.workers,
                                             scheduler=opts.scheduler, db_url=opts.db_url, env=env,
                                             logfile=logfile, progress=False, out=quiet)
                logger.info(quiet.getvalue())
                for a, s in summary["graded"]:
                    score, maximum = summary["scores"][(a, s)]
                    fed = (_call(api, logger, logfile, "generate_feedback", a, s, force=True)
                           and _call(api, logger, logfile, "release_feedback", a, s))
                    graded_total += 1
                    print(f"{time.strftime('%H:%M:%S')} {a} {s}: {score:g} / {maximum:g}, "
                          + ("feedback released" if fed else "FEEDBACK FAILED (see the log)"), flush=True)
                for a, s, error in summary["failed"]:
                    why = ((error or "").strip().splitlines() or ["see the log"])[-1][:200]
                    print(f"{time.strftime('%H:%M:%S')} {a} {s}: FAILED: {why}", flush=True)
                for a, s, error in summary["not_graded"]:
                    print(f"{time.strftime('%H:%M:%S')} {a} {s}: NOT GRADED ({error}); tried again when it "
                          "is submitted again, or with `make grade`", flush=True)
            time.sleep(opts.interval)
    except KeyboardInterrupt:
        print(f"\nwatch: stopped after grading {graded_total} submission(s); what was graded is "
              "recorded", flush=True)
        return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # `nbgrader ARG ...`: everything after the word goes to nbgrader as it is (its own options too)
    course, rest = ROOT, argv
    if argv[:1] == ["--course"] and len(argv) > 1:
        course, rest = argv[1], argv[2:]
    elif argv[:1] and argv[0].startswith("--course="):
        course, rest = argv[0].split("=", 1)[1], argv[1:]
    if rest[:1] == ["nbgrader"]:
        return cmd_nbgrader(os.path.abspath(course), rest[1:])
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", default=ROOT, help="course directory (default: the repository)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("exercises", help="regenerate exercises/ from solutions/")
    p.add_argument("assignments", nargs="*")
    p.set_defaults(func=cmd_exercises)
    p = sub.add_parser("check", help="validate a notebook like the grader")
    p.add_argument("notebook")
    p.add_argument("--unsafe", action="store_true", help="run the notebook WITHOUT the sandbox "
                   "(only where none can be had)")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("grade", help="autograde new and changed submissions, then feedback and CSV")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--students", type=lambda s: [x for x in s.split(",") if x], default=None,
                   help="comma-separated student ids (default: all)")
    p.add_argument("--workers", type=int, default=None, help="notebooks graded at the same time "
                   "(default: the number of CPUs)")
    p.add_argument("--force", action="store_true", help="grade every selected submission again, "
                   "changed or not")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS", help="run the autogrades on this "
                   "Dask scheduler (needs the package distributed; the course must be at the same path "
                   "on its workers)")
    p.add_argument("--db-url", default=None, metavar="URL", help="the course gradebook (nbgrader's "
                   "CourseDirectory.db_url), e.g. postgresql+psycopg://grader@dbhost/gradebook "
                   "(default: the course's, SQLite gradebook.db)")
    p.add_argument("--unsafe", action="store_true", help="run student code WITHOUT the sandbox "
                   "(sets RNNCOURSE_UNSAFE=1): only where bubblewrap cannot be had; student code then "
                   "has the grader's rights")
    p.add_argument("--no-feedback", action="store_true")
    p.add_argument("--csv", default="grades.csv", help="grades file, relative to the course ('' to skip)")
    p.set_defaults(func=cmd_grade)
    p = sub.add_parser("watch", help="grade on submit: collect new submissions from the exchange, "
                       "autograde them, release their feedback; every few seconds until Ctrl-C")
    p.add_argument("assignments", nargs="*", help="default: every assignment of the source folder")
    p.add_argument("--interval", type=float, default=5.0, help="seconds between looks at the exchange")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--scheduler", default=None, metavar="ADDRESS")
    p.add_argument("--db-url", default=None, metavar="URL")
    p.add_argument("--unsafe", action="store_true")
    p.set_defaults(func=cmd_watch)
    sub.add_parser("nbgrader", help="run `nbgrader ARG ...` in the course directory with this "
                   "environment's bin/ on PATH, e.g. `nbgrader db student import roster.csv`")
    opts = parser.parse_args(argv)
    opts.course = os.path.abspath(opts.course)
    return opts.func(opts)


if __name__ == "__main__":
    sys.exit(main())
