"""The test cells of the nbgrader source notebooks, generated from each assignment's table.

``solutions/<NN_name>/checks.py`` holds the table: ``POINTS = {function: (visible points,
hidden points)}``, in the notebook's order.  From it (and the hidden cases' labels of the specs)
this module writes every function's two grade cells, ``<function>_visible`` and
``<function>_hidden``, in ``solutions/<NN_name>/<NN_name>.ipynb`` (which stays the source nbgrader
reads): their source, their points and nbgrader's ``locked`` flag.  The hidden tests' seed is
``1000 + 100 * NN + position`` (1201 for the first function of assignment 02).  Multiple-choice and
written-answer cells are not generated.  ``make exercises`` (``tools/course.py exercises``) writes
the cells (:func:`sync_notebook`) before it generates ``exercises/``;
``tests/test_nbgrader_assignments.py`` fails when a notebook differs from its table.
"""
from __future__ import annotations

import json
import os
import re
import textwrap
from typing import Dict, List, Tuple

import numpy as np

from . import HIDDEN_BOOTSTRAP
from .spec import load_checks


def points_table(checks_path: str) -> Dict[str, Tuple[int, int]]:
    """``{function: (visible points, hidden points)}`` of an assignment (its ``POINTS``)."""
    namespace: dict = {}
    with open(checks_path, encoding="utf-8") as fh:
        code = compile(fh.read(), checks_path, "exec")
    exec(code, namespace)   # noqa: S102 - the instructor's own file
    table = namespace.get("POINTS")
    if not isinstance(table, dict) or not table:
        raise ValueError(f"{checks_path}: no POINTS table {{function: (visible, hidden)}}")
    return {str(k): (int(v[0]), int(v[1])) for k, v in table.items()}


def hidden_seed(assignment: str, position: int) -> int:
    """The seed of the ``position``-th (from 1) function's hidden tests."""
    return 1000 + 100 * int(assignment.split("_", 1)[0]) + position


def _plural(n: int) -> str:
    return f"{n} point" + ("" if n == 1 else "s")


def cell_sources(assignment_dir: str) -> Dict[str, Tuple[str, int]]:
    """``{grade_id: (source, points)}`` of the generated grade cells of one assignment."""
    assignment = os.path.basename(os.path.normpath(assignment_dir))
    checks = os.path.join(assignment_dir, "checks.py")
    table, specs = points_table(checks), load_checks(checks)
    out = {}
    for position, (name, (visible, hidden)) in enumerate(table.items(), start=1):
        if name not in specs:
            raise ValueError(f"{checks}: POINTS names {name!r}, which build() does not grade")
        seed = hidden_seed(assignment, position)
        labels = "; ".join(dict.fromkeys(c.label for c in specs[name].hidden(np.random.default_rng(seed))))
        what = textwrap.wrap(labels + ".", 86, break_long_words=False)
        out[f"{name}_visible"] = ("\n".join([
            f"# Tests for {name} ({_plural(visible)}, shared among its cases). Run this cell to check your function.",
            "from rnncourse.grading import check",
            f'check("{name}", globals(), points={visible})',
            "### BEGIN HIDDEN TESTS", HIDDEN_BOOTSTRAP,
            f'_g.check("{name}", globals(), points={visible})',
            "### END HIDDEN TESTS"]), visible)
        out[f"{name}_hidden"] = ("\n".join(
            [f"# Hidden tests for {name} ({_plural(hidden)}, shared among its cases), run when the notebook is graded:"]
            + [f"# {line}" for line in what] + [
                "# Until then, this cell repeats the visible tests.",
                "from rnncourse.grading import check",
                f'check("{name}", globals())',
                "### BEGIN HIDDEN TESTS", HIDDEN_BOOTSTRAP,
                f'_g.check("{name}", globals(), hidden=True, seed={seed}, points={hidden})',
                "### END HIDDEN TESTS"]), hidden)
    return out


def sync_notebook(assignment_dir: str, write: bool = True) -> List[str]:
    """Make the notebook's generated grade cells match the table; return the grade ids changed.

    The notebook is read and written as JSON (one space indent, as nbformat writes), so the
    other cells are left byte for byte.  A grade cell of the table missing from the notebook is
    an error: add the function's answer and test cells to the notebook first.
    """
    assignment = os.path.basename(os.path.normpath(assignment_dir))
    path = os.path.join(assignment_dir, f"{assignment}.ipynb")
    with open(path, encoding="utf-8") as fh:
        nb = json.load(fh)
    wanted, changed = cell_sources(assignment_dir), []
    found = set()
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id")
        if gid not in wanted or cell.get("cell_type") != "code":
            continue
        found.add(gid)
        source, points = wanted[gid]
        lines = source.splitlines(keepends=True)
        if "".join(cell.get("source", "")) != source or meta.get("points") != points or not meta.get("locked"):
            cell["source"] = lines
            meta.update(points=points, locked=True, grade=True, solution=False)
            changed.append(gid)
    missing = sorted(set(wanted) - found)
    if missing:
        raise ValueError(f"{path}: no code cells with grade_id {', '.join(missing)}")
    if changed and write:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return changed


def points_rows(solutions_dir: str) -> List[Tuple[str, int, int]]:
    """``(assignment, autograded points, hand-graded points)`` per assignment, from the tables and
    the notebooks' multiple-choice and written-answer cells."""
    rows = []
    for a in sorted(os.listdir(solutions_dir)):
        nb_path = os.path.join(solutions_dir, a, f"{a}.ipynb")
        if not os.path.isfile(nb_path) or not re.match(r"\d+_", a):
            continue
        auto = sum(v + h for v, h in points_table(os.path.join(solutions_dir, a, "checks.py")).values())
        manual = 0
        with open(nb_path, encoding="utf-8") as fh:
            for cell in json.load(fh)["cells"]:
                meta = cell.get("metadata", {}).get("nbgrader", {})
                if not meta.get("grade"):
                    continue
                gid = meta.get("grade_id", "")
                if cell.get("cell_type") == "markdown":
                    manual += int(meta.get("points", 0))
                elif re.fullmatch(r"q\d+", gid):
                    auto += int(meta.get("points", 0))
        rows.append((a, auto, manual))
    return rows
