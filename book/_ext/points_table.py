"""Sphinx extension: the ``points-table`` directive, the points of every assignment.

Usage in a MyST page::

    ```{points-table}
    ```

renders a table with one row per assignment found in ``solutions/`` (a folder ``NN_name/``
with ``NN_name.ipynb``; no list to edit) and the columns

* Assignment (``NN_name``),
* Autograded points: the ``POINTS`` table of ``solutions/NN_name/checks.py`` (visible +
  hidden test cells of every graded function) plus the notebook's multiple-choice cells,
* Written answer (by hand): the notebook's manually graded written-answer cells,
* Total.

The rows are :func:`rnncourse.grading.cells.points_rows`, the same function the test cells
are generated with, so the table cannot drift from the tables.  The page depends on every
``checks.py`` and source notebook it read (an edit of ``POINTS`` rebuilds it), and on the set
of assignment folders (a new or removed assignment rebuilds it too).  A ``checks.py`` without
a ``POINTS`` table, or no assignment at all, is a build warning (an error under ``-W``).
"""
from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from rnncourse.grading.cells import points_rows

logger = logging.getLogger(__name__)

SOLUTIONS = "solutions"
HEADERS = ("Assignment", "Autograded points", "Written answer (by hand)", "Total")
_ASSIGNMENT = re.compile(r"^\d+_")


def assignments(solutions_dir: Path) -> tuple[str, ...]:
    """Names of the assignment folders of ``solutions_dir``, as ``points_rows`` finds them:
    ``NN_name/`` holding ``NN_name.ipynb``, sorted by name."""
    if not solutions_dir.is_dir():
        return ()
    return tuple(sorted(p.name for p in solutions_dir.iterdir()
                        if _ASSIGNMENT.match(p.name) and (p / f"{p.name}.ipynb").is_file()))


def _cell(text: str, literal: bool = False) -> nodes.entry:
    entry = nodes.entry()
    para = nodes.paragraph()
    para += nodes.literal(text, text) if literal else nodes.Text(text)
    entry += para
    return entry


def _row(*entries: nodes.entry) -> nodes.row:
    row = nodes.row()
    for entry in entries:
        row += entry
    return row


def build_table(rows: list[tuple[str, int, int]]) -> nodes.table:
    """A docutils table of ``rows`` = ``[(assignment, autograded, by hand), ...]``: one row
    each, the columns of :data:`HEADERS`."""
    table = nodes.table(classes=["points-table"])
    group = nodes.tgroup(cols=len(HEADERS))
    table += group
    for _ in HEADERS:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    head += _row(*(_cell(h) for h in HEADERS))
    group += head
    body = nodes.tbody()
    for name, auto, manual in rows:
        body += _row(_cell(name, literal=True), _cell(str(auto)), _cell(str(manual)),
                     _cell(str(auto + manual)))
    group += body
    return table


class PointsTable(SphinxDirective):
    required_arguments = 0
    optional_arguments = 0
    has_content = False

    def run(self):
        solutions = Path(self.env.srcdir) / SOLUTIONS
        found = assignments(solutions)
        # Rebuild this page when a table or a notebook changes ...
        for name in found:
            self.env.note_dependency(str(solutions / name / "checks.py"))
            self.env.note_dependency(str(solutions / name / f"{name}.ipynb"))
        # ... and when an assignment is added or removed (see outdated_pages).
        if not hasattr(self.env, "points_table_pages"):
            self.env.points_table_pages = {}
        self.env.points_table_pages[self.env.docname] = found

        if not found:
            logger.warning("points-table: no assignment in %s (folders NN_name/ with "
                           "NN_name.ipynb)", solutions, location=self.get_location())
            return []
        try:
            rows = points_rows(str(solutions))
        except (OSError, ValueError) as exc:
            logger.warning("points-table: %s", exc, location=self.get_location())
            return []
        table = build_table(rows)
        self.set_source_info(table)
        return [table]


def outdated_pages(app: Sphinx, env, added, changed, removed) -> list[str]:
    """Pages with a points table whose set of assignment folders has changed since it was read."""
    pages = getattr(env, "points_table_pages", {})
    now = assignments(Path(env.srcdir) / SOLUTIONS)
    return [doc for doc, seen in pages.items() if tuple(seen) != now and doc in env.found_docs]


def purge_page(app: Sphinx, env, docname: str) -> None:
    getattr(env, "points_table_pages", {}).pop(docname, None)


def merge_pages(app: Sphinx, env, docnames, other) -> None:
    if not hasattr(env, "points_table_pages"):
        env.points_table_pages = {}
    env.points_table_pages.update(getattr(other, "points_table_pages", {}))


def setup(app: Sphinx):
    app.add_directive("points-table", PointsTable)
    app.connect("env-get-outdated", outdated_pages)
    app.connect("env-purge-doc", purge_page)
    app.connect("env-merge-info", merge_pages)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
