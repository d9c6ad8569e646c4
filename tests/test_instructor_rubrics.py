"""The instructor guide's schedule and marking rubrics cover every assignment and written answer.

The written answers (nbgrader "manually graded answer" cells, markdown with ``solution`` and
``grade``) are read from the source notebooks in ``solutions/``, so a new assignment or question
without a rubric row fails here.
"""
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
GUIDE = ROOT / "book" / "instructor_guide.md"


def _section(text: str, label: str) -> str:
    start = text.index(f"({label})=")
    nxt = text.find("\n(sec-", start + 1)
    return text[start:] if nxt < 0 else text[start:nxt]


def _written_answers():
    found = {}
    for nb_path in sorted(ROOT.glob("solutions/*/*.ipynb")):
        nb = json.loads(nb_path.read_text())
        for cell in nb["cells"]:
            meta = cell["metadata"].get("nbgrader", {})
            if cell["cell_type"] == "markdown" and meta.get("solution") and meta.get("grade"):
                found[meta["grade_id"]] = (nb_path.parent.name, meta["points"])
    return found


def test_there_are_written_answers():
    assert len(_written_answers()) >= 9


def test_every_written_answer_has_a_rubric_row():
    rubrics = _section(GUIDE.read_text(), "sec-instructor-rubrics")
    rows = {m.group(2): m.group(1) for m in
            re.finditer(r"^\| (\d\d), `([a-z0-9_]+)` \|", rubrics, flags=re.M)}
    answers = _written_answers()
    assert set(rows) == set(answers), (set(answers) ^ set(rows))
    for grade_id, (assignment, points) in answers.items():
        assert assignment.startswith(rows[grade_id]), (grade_id, assignment, rows[grade_id])
        # The rubric grades out of 2: a question with other points needs its own scale.
        assert points == 2, (grade_id, points)


def test_schedule_releases_every_assignment_once():
    schedule = _section(GUIDE.read_text(), "sec-instructor-schedule")
    assignments = sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()
                         and any(p.glob("*.ipynb")))
    released = re.findall(r"^\| \d+ \|[^|]*\| `(\d\d_[a-z0-9_]+)` \|", schedule, flags=re.M)
    assert sorted(released) == assignments
