"""nbgrader preprocessors that grade through the sandbox (configured in ``nbgrader_config.py``).

* :class:`CheckAgainstInstructor` (first of ``Autograde.sanitize_preprocessors``): compares the
  submission's nbgrader metadata with the instructor's notebook (cell ids, grade and solution
  flags, points, schema version).  Differences are recorded in the notebook's metadata
  (``rnncourse.metadata_problems``) and the metadata is reset to the instructor's, so nbgrader
  never refuses or aborts on an edited notebook: that submission scores zero on its autograded
  cells, with a message, and the class goes on.
* :class:`SandboxedExecute` (instead of nbgrader's ``Execute``, in ``autograde`` and
  ``validate``): runs the notebook through :func:`rnncourse_grader.harness.grade_notebook`: code
  cells in the sandbox, grade cells here, from the instructor's sources.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional

import nbformat
from traitlets import Bool, Unicode

from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import NbGraderPreprocessor

from . import harness, sandbox, student_view
from .session import Session

FLAGS = ("grade", "solution", "locked", "task", "points", "schema_version")


def _nbgrader_cells(nb) -> List[dict]:
    return [c for c in nb.cells if (c.get("metadata") or {}).get("nbgrader")]


def metadata_problems(nb, instructor) -> List[str]:
    """What the student changed in the grading metadata of ``nb`` (empty when nothing)."""
    theirs = {c.metadata.nbgrader.get("grade_id"): c for c in _nbgrader_cells(instructor)}
    problems, seen = [], set()
    for cell in _nbgrader_cells(nb):
        md = cell.metadata.nbgrader
        gid = md.get("grade_id")
        if not md.get("grade") and not md.get("solution") and not md.get("locked") and not md.get("task"):
            continue                                   # nbgrader ignores such metadata
        if gid in seen:
            problems.append(f"the cell id {gid!r} appears twice")
            continue
        seen.add(gid)
        ref = theirs.get(gid)
        if ref is None:
            problems.append(f"a cell carries grading metadata ({gid!r}) that the instructor's "
                            "notebook does not have")
            continue
        if cell.cell_type != ref.cell_type:
            problems.append(f"cell {gid!r} was changed from {ref.cell_type} to {cell.cell_type}")
        for key in FLAGS:
            want, got = ref.metadata.nbgrader.get(key), md.get(key)
            if key == "points" and not ref.metadata.nbgrader.get("grade"):
                continue
            if want != got and not (want in (None, False) and got in (None, False)):
                problems.append(f"cell {gid!r}: {key} changed from {want!r} to {got!r}")
    return problems


def _restore_metadata(nb, instructor) -> None:
    """Reset every cell's nbgrader metadata to the instructor's (drop what it does not know)."""
    theirs = {c.metadata.nbgrader.get("grade_id"): c for c in _nbgrader_cells(instructor)}
    seen = set()
    for cell in nb.cells:
        md = (cell.get("metadata") or {}).get("nbgrader")
        if not md:
            continue
        gid = md.get("grade_id")
        ref = theirs.get(gid)
        if ref is None or gid in seen or cell.cell_type != ref.cell_type:
            del cell.metadata["nbgrader"]
            continue
        seen.add(gid)
        cell.metadata["nbgrader"] = nbformat.from_dict(dict(ref.metadata.nbgrader))


class _CourseFiles(NbGraderPreprocessor):
    """Where the instructor's notebook and checks.py of a notebook are."""

    course_root = Unicode("", help="The course directory (default: CourseDirectory.root)").tag(config=True)

    def _coursedir(self) -> CourseDirectory:
        return CourseDirectory(config=self.config)

    def _root(self) -> str:
        return os.path.abspath(self.course_root or self._coursedir().root)

    def _names(self, resources) -> tuple:
        info = (resources or {}).get("nbgrader") or {}
        assignment = info.get("assignment") or os.path.basename(os.getcwd())
        notebook = info.get("notebook") or assignment
        return assignment, notebook

    def _instructor(self, directory: str, assignment: str, notebook: str) -> Optional[str]:
        path = os.path.join(self._root(), directory, assignment, notebook + ".ipynb")
        return path if os.path.exists(path) else None


class CheckAgainstInstructor(_CourseFiles):
    """Sanitize step: record edited grading metadata, then restore the instructor's."""

    def preprocess(self, nb, resources):
        assignment, notebook = self._names(resources)
        path = self._instructor(self._coursedir().source_directory, assignment, notebook)
        meta = nb.metadata.setdefault("rnncourse", {})
        meta.pop("metadata_problems", None)             # only this step may write it
        if path is None:
            return nb, resources
        instructor = nbformat.read(path, as_version=4)
        problems = metadata_problems(nb, instructor)
        if problems:
            self.log.warning("%s: edited grading metadata: %s", notebook, "; ".join(problems))
            meta["metadata_problems"] = problems
            _restore_metadata(nb, instructor)
        return nb, resources


class SandboxedExecute(_CourseFiles):
    """Grade a notebook: its code in the sandbox, its tests in this process."""

    unsafe = Bool(os.environ.get("RNNCOURSE_UNSAFE") == "1",
                  help="Run student code without a sandbox (only where none can be had; student "
                       "code then runs with the grader's rights)").tag(config=True)

    def preprocess(self, nb, resources):
        coursedir = self._coursedir()
        root = self._root()
        assignment, notebook = self._names(resources)
        autograding = os.environ.get("NBGRADER_EXECUTION") == "autograde"
        source_nb = self._instructor(coursedir.source_directory, assignment, notebook)
        trusted_nb = source_nb if autograding else (
            self._instructor(coursedir.release_directory, assignment, notebook) or source_nb)
        if source_nb is None or trusted_nb is None:
            raise RuntimeError(f"no instructor's notebook for {assignment}/{notebook} in "
                               f"{os.path.join(root, coursedir.source_directory)}")
        instructor = nbformat.read(source_nb, as_version=4)
        trusted = nbformat.read(trusted_nb, as_version=4)
        sources: Dict[str, str] = {c.metadata.nbgrader["grade_id"]: c.source
                                   for c in _nbgrader_cells(trusted) if harness.is_grade_cell(c)}
        problems = list((nb.metadata.get("rnncourse") or {}).get("metadata_problems") or []) \
            if autograding else []
        problems += [p for p in metadata_problems(nb, instructor) if p not in problems]
        why = None if self.unsafe else sandbox.check_available()
        if why:
            raise RuntimeError(f"no sandbox for student code: {why}. Install bubblewrap, or pass "
                               f"--unsafe to run student code with the grader's own rights")
        checks = os.path.join(root, coursedir.source_directory, assignment, "checks.py")
        view = student_view.view_for_assignment(os.path.join(root, coursedir.source_directory),
                                                assignment, os.path.join(root, ".grader-cache"))
        if autograding:
            submission = coursedir.format_path(coursedir.autograded_directory,
                                               (resources.get("nbgrader") or {}).get("student", "."),
                                               assignment)
        else:
            submission = os.getcwd()
        hide = [root, os.path.dirname(os.path.abspath(submission))]
        limits = sandbox.limits_from_env()
        if "RNNCOURSE_CELL_TIMEOUT" not in os.environ and "timeout" in self.config.Execute:
            limits = limits._replace(cell_seconds=float(self.config.Execute.timeout))
        with Session(view, submission, limits, hide=hide,
                     unsafe=self.unsafe) as session:
            harness.grade_notebook(nb, session, sources, checks, problems)
        return nb, resources
