"""The instructor guide's commands, run as written, in its order, in a fresh copy of the course.

book/instructor_guide.md marks the fenced blocks meant to run with a MyST comment line just
before the fence (not rendered in the book):

    % guide-test: instructor       bash, run in the course directory
    % guide-test: student          bash, run by each student in their own home
    % guide-test: student-config   Python, each student's ~/.jupyter/nbgrader_config.py

Every ```bash block of the guide must carry a mark (so none is skipped silently), and at least
MIN_INSTRUCTOR instructor blocks must be found.  The course is a copy of the repository tree
without .venv, .git and the teaching folders (gradebook, exchange, submissions), whose .venv
is a symlink to this venv, in a temporary folder; the instructor's commands run with a PATH
that does NOT contain the venv's bin/ (a real user who has not activated it) and a home of
their own.  Two students, alice and bob, share one OS account (the guide's `--student` case):
each has a home whose ~/.jupyter/nbgrader_config.py is the guide's, with its exchange folder
(/srv/nbgrader/exchange) replaced by the copy's local exchange; the one substitution in the
student blocks is the guide's `STUDENT=alice` line, which becomes `STUDENT=bob` for bob.
Before the first block that submits, alice's fetched notebook gets the solution's answers; bob
submits the release untouched.  Afterwards the gradebook holds alice's full autograded points
(the sum of the points of the solution's autograder test cells, counted here from the notebook)
and 0 for bob, grades.csv has both with the names of the guide's roster, each student has
fetched a feedback report, and nothing was written to the repository's own teaching folders.

A second test makes the gradebook nbgrader leaves when it cannot find `alembic`, shows that
`nbgrader db upgrade` then fails, and that `tools/course.py nbgrader ...` stamps it (tables as
nbgrader's schema) or refuses, naming what differs and what to do.
"""
from __future__ import annotations

import csv
import glob
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap

import nbformat
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUIDE = os.path.join(REPO, "book", "instructor_guide.md")
PY = sys.executable
VENV = os.path.dirname(os.path.dirname(os.path.abspath(PY)))
A = "02_forward_pass"
STUDENTS = ("alice", "bob")
MIN_INSTRUCTOR = 6
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# the repository's files that are not the course (and the folders of teaching it)
SKIP_TOP = {".venv", ".git", "_build", ".pytest_cache", ".hypothesis", ".bench", ".grader-cache",
            "gradebook.db", "exchange", "submitted", "autograded", "feedback", "grades.csv",
            ".nbgrader.log", "roster.csv"}


def guide_blocks(path=GUIDE):
    """[(kind, language, text)] of the marked blocks, in the guide's order."""
    lines = open(path).read().split("\n")
    blocks, k = [], 0
    while k < len(lines):
        m = re.match(r"^% guide-test: (\S+)\s*$", lines[k])
        if m:
            fence = re.match(r"^```(\w+)\s*$", lines[k + 1] if k + 1 < len(lines) else "")
            assert fence, f"{path}:{k + 1}: '% guide-test' must be followed by a fenced block"
            end = lines.index("```", k + 2)
            blocks.append((m.group(1), fence.group(1), "\n".join(lines[k + 2:end]) + "\n"))
            k = end
        elif lines[k].startswith("```bash"):
            raise AssertionError(f"{path}:{k + 1}: a bash block without a '% guide-test' mark")
        k += 1
    return blocks


def fenced_blocks(path=GUIDE):
    """The text of every fenced block of the guide (marked or not)."""
    found, fence, body = [], None, []
    for line in open(path).read().split("\n"):
        if fence is None:
            m = re.match(r"^(`{3,})", line)
            if m:
                fence, body = m.group(1), []
        elif line.strip() == fence:
            found.append("\n".join(body))
            fence = None
        else:
            body.append(line)
    return found


def test_the_guide_marks_its_blocks():
    blocks = guide_blocks()
    kinds = [kind for kind, _, _ in blocks]
    assert set(kinds) <= {"instructor", "student", "student-config"}, kinds
    assert kinds.count("instructor") >= MIN_INSTRUCTOR, kinds
    assert kinds.count("student") >= 3 and kinds.count("student-config") == 1, kinds
    text = "".join(t for kind, _, t in blocks if kind == "instructor")
    for command in ("make release", "make collect", "make grade", "make feedback", "make export",
                    "make nbgrader"):
        assert command in text, command
    # `.venv/bin/nbgrader` fails without .venv/bin on PATH: no block may show it
    for block in fenced_blocks():
        assert ".venv/bin/nbgrader" not in block and ".venv/bin/jupyter" not in block, block


def copy_course(dest):
    def ignore(directory, names):
        top = os.path.abspath(directory) == REPO
        return [n for n in names if n == "__pycache__" or (top and n in SKIP_TOP)]
    shutil.copytree(REPO, dest, ignore=ignore, symlinks=True)      # copy2: times kept
    os.symlink(VENV, os.path.join(dest, ".venv"))
    # this venv is installed: the copy's requirements must not look newer than its stamps, or
    # make would reinstall (pip install -e of the copy) into it
    stamps = [os.path.getmtime(p) for p in glob.glob(os.path.join(VENV, ".installed-*"))]
    if stamps:
        for name in ("requirements.txt", "requirements-test.txt", "pyproject.toml"):
            if os.path.exists(os.path.join(dest, name)):
                os.utime(os.path.join(dest, name), (min(stamps) - 60, min(stamps) - 60))
    return dest


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "VIRTUAL_ENV", "PYTHON", "MAKE", "MFLAGS", "RNNCOURSE_"))}
    env.update(PATH=SYSTEM_PATH, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore",
               RNNCOURSE_CALL_TIME_LIMIT="5", RNNCOURSE_KERNEL_MEMORY_MB="2048")
    env.update(extra)
    return env


def bash(script, cwd, env, what):
    res = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=cwd, env=env, text=True,
                         capture_output=True, timeout=1200)
    assert res.returncode == 0, f"{what} failed ({res.returncode}):\n{script}\n{res.stdout}\n{res.stderr}"
    return res.stdout + res.stderr


def solved(release, solution):
    gid = lambda c: c.get("metadata", {}).get("nbgrader", {}).get("grade_id")  # noqa: E731
    answers = {gid(c): c.source for c in solution.cells if gid(c)}
    nb = nbformat.from_dict(release)
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("solution") and gid(c) in answers:
            c.source = "\n".join(line for line in answers[gid(c)].split("\n")
                                 if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    return nb


def autograded_points(notebook):
    """Points of the autograder test cells (grade, not solution): a complete notebook's score."""
    return sum(c.metadata["nbgrader"].get("points", 0) for c in notebook.cells
               if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution"))


def teaching_state():
    """What of the repository's own teaching folders this test could change: the files of the
    exchange and the grading folders, and the gradebook's students (others may regenerate
    exercises meanwhile, which rewrites gradebook.db but adds no student)."""
    found = {}
    for name in ("exchange", "submitted", "autograded", "feedback"):
        path = os.path.join(REPO, name)
        found[name] = sorted(os.path.relpath(os.path.join(d, f), path) for d, _, fs in os.walk(path) for f in fs)
    for name in ("roster.csv",):
        found[name] = os.path.exists(os.path.join(REPO, name))
    db = os.path.join(REPO, "gradebook.db")
    if os.path.exists(db):
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
        try:
            found["students"] = sorted(con.execute("SELECT id, last_name FROM student").fetchall())
        except sqlite3.OperationalError:            # no tables yet
            found["students"] = []
        finally:
            con.close()
    return found


@pytest.mark.skipif(shutil.which("make") is None, reason="make is missing")
def test_the_guides_commands_work_as_written(tmp_path):
    from rnncourse_grader import sandbox
    if sandbox.check_available() is not None:
        pytest.skip("no sandbox on this machine")
    before = teaching_state()
    blocks = guide_blocks()
    course = copy_course(str(tmp_path / "course"))
    exchange = os.path.join(course, "exchange")
    instructor = clean_env(HOME=str(tmp_path / "instructor"))
    os.makedirs(instructor["HOME"])
    # make must not (re)install anything into this venv from the copy
    dry = subprocess.run(["make", "-n", "release", f"A={A}"], cwd=course, env=instructor, text=True,
                         capture_output=True)
    assert dry.returncode == 0 and " pip " not in dry.stdout and "-m venv" not in dry.stdout, dry.stdout + dry.stderr

    homes = {s: str(tmp_path / "students" / s) for s in STUDENTS}
    student_env = {s: clean_env(HOME=h, PATH=os.path.join(VENV, "bin") + os.pathsep + SYSTEM_PATH, STUDENT=s)
                   for s, h in homes.items()}
    solution = nbformat.read(os.path.join(REPO, "solutions", A, f"{A}.ipynb"), 4)
    transcript = []
    solved_alice = False
    for kind, language, text in blocks:
        if kind == "student-config":
            assert language == "python" and "/srv/nbgrader/exchange" in text, text
            for s, home in homes.items():
                os.makedirs(os.path.join(home, ".jupyter"), exist_ok=True)
                with open(os.path.join(home, ".jupyter", "nbgrader_config.py"), "w") as fh:
                    fh.write(text.replace("/srv/nbgrader/exchange", exchange))
        elif kind == "instructor":
            transcript.append(bash(text, course, instructor, f"instructor block\n{text}"))
        else:
            if "nbgrader submit" in text and not solved_alice:
                path = os.path.join(homes["alice"], A, f"{A}.ipynb")
                nbformat.write(solved(nbformat.read(path, 4), solution), path)
                solved_alice = True
            for s in STUDENTS:
                script = re.sub(r"^STUDENT=alice\b", f"STUDENT={s}", text, flags=re.M)
                transcript.append(bash(script, homes[s], student_env[s], f"student {s}"))
    assert solved_alice, "no student block submits"
    out = "\n".join(transcript)
    assert "Traceback" not in out, out

    from nbgrader.api import Gradebook
    full = autograded_points(solution)
    assert full > 0
    with Gradebook(f"sqlite:///{course}/gradebook.db", "rnncourse") as gb:
        scores = {s: gb.find_submission(A, s).score for s in STUDENTS}
        names = {s: (gb.find_student(s).last_name, gb.find_student(s).first_name) for s in STUDENTS}
    assert scores == {"alice": full, "bob": 0}, (scores, out)
    assert names == {"alice": ("Lovelace", "Ada"), "bob": ("Babbage", "Charles")}   # not "None, None"
    with open(os.path.join(course, "grades.csv")) as fh:
        rows = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(fh)}
    assert float(rows[(A, "alice")]["score"]) == full and rows[(A, "alice")]["last_name"] == "Lovelace"
    assert float(rows[(A, "bob")]["score"]) == 0
    for s, home in homes.items():
        fetched = glob.glob(os.path.join(home, A, "feedback", "*", f"{A}.html"))
        assert fetched, (s, os.listdir(os.path.join(home, A)))
        with open(fetched[0]) as fh:
            report = fh.read()
        assert "<html" in report[:2000].lower() and A in report
    assert teaching_state() == before, "the repository's teaching folders changed"


def _stamp_less_gradebook(course, env):
    """The gradebook nbgrader leaves when `alembic` is not on PATH: tables, no version."""
    res = subprocess.run([PY, "-c", "import sys; from nbgrader.api import Gradebook; "
                          f"Gradebook('sqlite:///{course}/gradebook.db')"], cwd=course, env=env,
                         capture_output=True, text=True)
    assert res.returncode != 0 and "alembic" in res.stderr, res.stderr
    tables = {r[0] for r in sqlite3.connect(os.path.join(course, "gradebook.db")).execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert "student" in tables and "alembic_version" not in tables, tables


def test_a_gradebook_without_alembic_version_is_stamped_or_refused(tmp_path):
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR
    cfg = Config()
    cfg.set_main_option("script_location", ALEMBIC_DIR)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    course = tmp_path / "course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text(textwrap.dedent(f"""
        c = get_config()
        c.CourseDirectory.root = {str(course)!r}
        c.CourseDirectory.course_id = "rnncourse"
        """))
    no_venv = clean_env(HOME=str(tmp_path))
    venv = clean_env(HOME=str(tmp_path), PATH=os.path.join(VENV, "bin") + os.pathsep + SYSTEM_PATH)
    _stamp_less_gradebook(str(course), no_venv)
    db = course / "gradebook.db"
    shutil.copy(db, tmp_path / "broken.db")

    # what nbgrader does with it: `db upgrade` replays every migration and fails
    res = subprocess.run([PY, "-m", "nbgrader", "db", "upgrade"], cwd=course, env=venv, capture_output=True, text=True)
    assert res.returncode != 0, res.stdout + res.stderr
    shutil.copy(tmp_path / "broken.db", db)

    course_py = [PY, os.path.join(REPO, "tools", "course.py"), "--course", str(course), "nbgrader"]
    res = subprocess.run(course_py + ["db", "student", "add", "alice", "--last-name=Lovelace"], cwd=tmp_path,
                         env=no_venv, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"stamped {head}" in res.stderr and "had no alembic version" in res.stderr, res.stderr
    version = sqlite3.connect(db).execute("SELECT version_num FROM alembic_version").fetchall()
    assert version == [(head,)]
    res = subprocess.run([PY, "-m", "nbgrader", "db", "upgrade"], cwd=course, env=venv, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    res = subprocess.run(course_py + ["db", "student", "list"], cwd=tmp_path, env=no_venv, capture_output=True, text=True)
    assert res.returncode == 0 and "alice (Lovelace" in res.stdout and "stamped" not in res.stderr, res.stdout + res.stderr

    # tables that are not nbgrader's current schema: refused, naming the difference and the way out
    shutil.copy(tmp_path / "broken.db", db)
    con = sqlite3.connect(db)
    con.execute("ALTER TABLE student ADD COLUMN nickname TEXT")
    con.commit()
    con.close()
    res = subprocess.run(course_py + ["db", "student", "list"], cwd=tmp_path, env=no_venv, capture_output=True, text=True)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "no alembic version" in res.stderr and "table student" in res.stderr and "nickname" in res.stderr
    assert "Move it aside" in res.stderr and "db upgrade` cannot repair" in res.stderr, res.stderr
    assert "There are" not in res.stdout                        # nbgrader did not run on it


def test_the_guides_slurm_cluster_writes_the_job_script_it_describes():
    """The guide's SLURMCluster snippet, up to `cluster.scale` (no SLURM here: nothing is submitted),
    builds the batch script the guide describes: 8 single-threaded workers per job, the course's
    venv, the walltime, the prologue."""
    pytest.importorskip("dask_jobqueue")
    blocks = [b for b in fenced_blocks() if "SLURMCluster(" in b]
    assert len(blocks) == 1, blocks
    code = blocks[0].split("cluster.scale(")[0]
    code = code.replace('scheduler_options={"port": 8786}', 'scheduler_options={"port": 0}')
    assert 'scheduler_options={"port": 0}' in code          # no fixed port in a test
    namespace = {}
    import contextlib
    import io
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "instructor_guide.md (SLURM)", "exec"), namespace)
    cluster = namespace["cluster"]
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert script in out.getvalue()                           # what the snippet prints
    worker = [line for line in script.splitlines() if "distributed.cli.dask_worker" in line]
    assert len(worker) == 1, script
    assert worker[0].startswith("/project/rnncourse/.venv/bin/python -m distributed.cli.dask_worker tcp://")
    assert "--nthreads 1 " in worker[0] and "--nworkers 8 " in worker[0], worker[0]
    for line in ("#SBATCH -t 02:00:00", "#SBATCH -p normal", "#SBATCH -A my-course", "#SBATCH --cpus-per-task=8",
                 "cd /project/rnncourse", "export PATH=/project/rnncourse/.venv/bin:$PATH",
                 "export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1"):
        assert line in script.splitlines(), (line, script)
