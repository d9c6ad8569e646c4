"""The instructor guide's points table (the ``points-table`` directive) in the built book.

``book/_ext/points_table.py`` renders the table from ``rnncourse.grading.cells.points_rows``
when the book is built.  This module reads the built page (``make book`` first; this module
builds nothing) and compares it with points computed here, independently of ``points_rows``
and of ``checks.py``: straight from each source notebook's JSON, the nbgrader ``points`` of its
grade cells, code cells (autograder tests and autograded multiple-choice answers) on one side,
manually graded cells (written answers: markdown grade cells, and nbgrader "task" cells) on the
other.  Assignments are the folders ``solutions/NN_name/`` holding ``NN_name.ipynb``.
"""
from __future__ import annotations

import html as htmlmod
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
PAGE = ROOT / "_build" / "html" / "book" / "instructor_guide.html"
HEADERS = ["Assignment", "Autograded points", "Written answer (by hand)", "Total"]


def notebook_points(nb_path: Path) -> tuple[int, int]:
    """``(autograded, by hand)``: the sums of the nbgrader points of a notebook's grade cells."""
    auto = manual = 0
    for cell in json.loads(nb_path.read_text(encoding="utf-8"))["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        points = int(meta.get("points", 0) or 0)
        if meta.get("task") or (meta.get("grade") and cell["cell_type"] == "markdown"):
            manual += points
        elif meta.get("grade") and cell["cell_type"] == "code":
            auto += points
    return auto, manual


def expected_rows() -> list[list[str]]:
    rows = []
    for folder in sorted(p for p in SOLUTIONS.iterdir() if re.match(r"\d+_", p.name)):
        nb = folder / f"{folder.name}.ipynb"
        if nb.is_file():
            auto, manual = notebook_points(nb)
            rows.append([folder.name, str(auto), str(manual), str(auto + manual)])
    return rows


def _text(fragment: str) -> str:
    return htmlmod.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def built_table(page: str) -> tuple[list[str], list[list[str]]]:
    """Header and body rows (cell texts) of the page's ``points-table`` table."""
    tables = re.findall(r'<table class="[^"]*\bpoints-table\b[^"]*".*?</table>', page, re.S)
    assert len(tables) == 1, f"{PAGE.name}: expected one points table, found {len(tables)}"
    head = re.search(r"<thead>(.*?)</thead>", tables[0], re.S)
    body = re.search(r"<tbody>(.*?)</tbody>", tables[0], re.S)
    assert head and body, "the points table has no header or no body"

    def rows(part):
        return [[_text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)]
                for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", part, re.S)]
    header = rows(head.group(1))
    assert len(header) == 1, "the points table has one header row"
    return header[0], rows(body.group(1))


@pytest.fixture(scope="module")
def page() -> str:
    if not PAGE.is_file():
        pytest.fail(f"the book is not built ({PAGE} is missing): run `make book` first",
                    pytrace=False)
    return PAGE.read_text(encoding="utf-8")


def test_the_expected_points_are_found():
    """The independent count sees every assignment, each with autograded and written points."""
    rows = expected_rows()
    assert len(rows) >= 10, rows
    assert all(int(auto) > 0 and int(manual) > 0 for _, auto, manual, _ in rows), rows


def test_built_points_table_matches_the_notebooks(page):
    header, rows = built_table(page)
    assert header == HEADERS
    expected = expected_rows()
    assert [r[0] for r in rows] == [r[0] for r in expected], "assignments (rows) differ"
    for got, want in zip(rows, expected):
        assert got == want, f"{want[0]}: built {got[1:]}, the notebook gives {want[1:]} " \
                            f"({', '.join(HEADERS[1:])}); rebuild the book (`make book`)"


def test_the_typed_table_is_gone():
    """The guide's source holds the directive, not a hand-typed copy of the numbers."""
    source = (ROOT / "book" / "instructor_guide.md").read_text(encoding="utf-8")
    assert re.search(r"^```\{points-table\}\s*$", source, re.M)
    assert not re.search(r"^\| `\d\d_\w+` \| \d+ \|", source, re.M)
