"""Temporary nbgrader courses, for the tests and the benchmarks (the grader never uses this).

A temporary course is a folder holding copies of some of the repository's ``solutions/<assignment>/``
folders, an ``nbgrader_config.py`` that loads the repository's and points the course root and
the exchange at the folder (the pattern of nbgrader's own tests), and ``exercises/`` generated
from them by ``tools/course.py exercises``.  Submissions go where ``nbgrader collect`` leaves
them, ``submitted/<student>/<assignment>/``.

    course = make_course(tmp / "course", ["02_forward_pass"], cell_timeout=30)
    release, solution = notebooks(course, "02_forward_pass")
    submit(course, "alice", "02_forward_pass", solved(release, solution))
    other = clone(course, tmp / "copy", db_url="postgresql+psycopg://...")

In pytest, the ``temp_course`` fixture of tests/conftest.py calls :func:`make_course` in a fresh
temporary folder.
"""
from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from typing import Optional, Sequence

import nbformat

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COURSE_PY = os.path.join(REPO, "tools", "course.py")
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"


def write_config(course: str, *, cell_timeout: Optional[float] = 30, db_url: Optional[str] = None) -> str:
    """(Re)write ``<course>/nbgrader_config.py``: the repository's, with this course's root and exchange.

    cell_timeout : nbgrader's ``Execute.timeout`` in seconds (None: the repository's setting).
    db_url : the gradebook's URL (None: the course's SQLite ``gradebook.db``).
    """
    course = str(course)
    lines = ["c = get_config()",
             f"load_subconfig('nbgrader_config.py', path={REPO!r})",
             f"c.CourseDirectory.root = {course!r}",
             f"c.Exchange.root = {os.path.join(course, 'exchange')!r}"]
    if cell_timeout is not None:
        lines.append(f"c.Execute.timeout = {cell_timeout!r}")
    if db_url:
        lines.append(f"c.CourseDirectory.db_url = {db_url!r}")
    path = os.path.join(course, "nbgrader_config.py")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


def make_course(path, assignments: Sequence[str], *, cell_timeout: Optional[float] = 30,
                db_url: Optional[str] = None, python: str = sys.executable) -> str:
    """A new course at ``path`` (created) with ``assignments``' solutions and their generated exercises.

    Returns the course directory (str).  Raises RuntimeError with nbgrader's output if
    ``tools/course.py exercises`` fails, ValueError naming an assignment the repository lacks.
    """
    course = str(path)
    for a in assignments:
        src = os.path.join(REPO, "solutions", a)
        if not os.path.exists(os.path.join(src, f"{a}.ipynb")):
            raise ValueError(f"assignments: expected folders of {os.path.join(REPO, 'solutions')} "
                             f"holding a notebook of their name; received {a!r}")
        shutil.copytree(src, os.path.join(course, "solutions", a))
    write_config(course, cell_timeout=cell_timeout, db_url=db_url)
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(python) + os.pathsep + env.get("PATH", "")   # nbgrader runs alembic
    res = subprocess.run([python, COURSE_PY, "--course", course, "exercises"], cwd=REPO, env=env,
                         text=True, capture_output=True, timeout=900)
    if res.returncode != 0:
        raise RuntimeError(f"course.py exercises failed ({res.returncode}) in {course}:\n"
                           f"{res.stdout}\n{res.stderr}")
    return course


def clone(src, dest, *, cell_timeout: Optional[float] = 30, db_url: Optional[str] = None) -> str:
    """A copy of course ``src`` at ``dest`` (gradebook and submissions included) that names itself."""
    shutil.copytree(str(src), str(dest), symlinks=True)
    write_config(str(dest), cell_timeout=cell_timeout, db_url=db_url)
    return str(dest)


def notebooks(course: str, assignment: str) -> tuple:
    """(release notebook, solution notebook) of ``assignment`` in ``course``, as nbformat v4 nodes."""
    return (nbformat.read(os.path.join(course, "exercises", assignment, f"{assignment}.ipynb"), 4),
            nbformat.read(os.path.join(course, "solutions", assignment, f"{assignment}.ipynb"), 4))


def submit(course: str, student: str, assignment: str, nb, timestamp: Optional[str] = None) -> str:
    """Put ``nb`` in ``submitted/<student>/<assignment>/`` (with the release's other files on the
    first submission), and ``timestamp.txt`` if given.  Returns that folder."""
    d = os.path.join(course, "submitted", student, assignment)
    if not os.path.isdir(d):
        shutil.copytree(os.path.join(course, "exercises", assignment), d)
    nbformat.write(nb, os.path.join(d, f"{assignment}.ipynb"))
    if timestamp is not None:
        with open(os.path.join(d, "timestamp.txt"), "w") as fh:
            fh.write(timestamp)
    return d


def grade_id(cell) -> Optional[str]:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def solved(release, solution):
    """A copy of the release notebook with every answer cell filled in from the solution (no markers)."""
    answers = {grade_id(c): c.source for c in solution.cells if grade_id(c)}
    nb = copy.deepcopy(release)
    for c in nb.cells:
        if c.metadata.get("nbgrader", {}).get("solution") and grade_id(c) in answers:
            c.source = "\n".join(line for line in answers[grade_id(c)].split("\n")
                                 if line.strip() not in (BEGIN, END))
    return nb


def partly(release, solution):
    """A copy of the release with every answer code cell but the first filled in from the solution."""
    answers = {grade_id(c): c.source for c in solution.cells if grade_id(c)}
    nb = copy.deepcopy(release)
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"]
    for c in cells[1:]:
        c.source = answers[grade_id(c)]
    return nb


__all__ = ["REPO", "COURSE_PY", "write_config", "make_course", "clone", "notebooks", "submit",
           "grade_id", "solved", "partly"]
