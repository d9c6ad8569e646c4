"""Every assignment follows the conventions of rnncourse.grading, and exercises/ is up to date.

These checks are fast (no kernel): they read the notebooks and checks.py files.  The workflow
with the real nbgrader CLI is in test_nbgrader_workflow.py.
"""
import ast
import filecmp
import glob
import json
import os
import pathlib
import re
import subprocess

import nbformat
import pytest

import rnncourse.grading as G

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOLUTIONS = os.path.join(REPO, "solutions")
EXERCISES = os.path.join(REPO, "exercises")
ASSIGNMENTS = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(SOLUTIONS, "*", ""))
                     if os.path.exists(os.path.join(p, os.path.basename(os.path.dirname(p)) + ".ipynb")))


def notebook(a, root=SOLUTIONS):
    return nbformat.read(os.path.join(root, a, f"{a}.ipynb"), 4)


def meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def split_hidden(src):
    lines = src.split("\n")
    if "### BEGIN HIDDEN TESTS" not in src:
        return src, ""
    i = next(k for k, l in enumerate(lines) if "BEGIN HIDDEN TESTS" in l)
    j = next(k for k, l in enumerate(lines) if "END HIDDEN TESTS" in l)
    return "\n".join(lines[:i] + lines[j + 1:]), "\n".join(lines[i + 1:j])


def test_assignments_are_discovered_from_solutions():
    """An assignment is a folder solutions/NN_name/ with NN_name.ipynb and checks.py (no list to edit)."""
    assert ASSIGNMENTS, "no assignment in solutions/"
    for a in ASSIGNMENTS:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+", a), f"{a}: assignment folders are named NN_name"
        assert os.path.isfile(os.path.join(SOLUTIONS, a, "checks.py")), f"{a}: no checks.py"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_test_cells_are_generated_from_the_points_table(a):
    """The grade cells of every graded function are what rnncourse.grading.cells writes from POINTS."""
    from rnncourse.grading import cells
    table = cells.points_table(os.path.join(SOLUTIONS, a, "checks.py"))
    assert sorted(table) == sorted(G.load_checks(os.path.join(SOLUTIONS, a, "checks.py"))), \
        f"{a}: POINTS must list every function build() grades"
    assert cells.sync_notebook(os.path.join(SOLUTIONS, a), write=False) == [], \
        f"{a}: test cells differ from checks.py's POINTS: run `make exercises`"
    nb = notebook(a)
    for name, (visible, hidden) in table.items():
        for kind, pts in (("visible", visible), ("hidden", hidden)):
            cell = next(c for c in nb.cells if meta(c).get("grade_id") == f"{name}_{kind}")
            assert meta(cell)["points"] == pts
            graded = [c for c in G_calls(cell.source) if c[1] == name and (kind == "visible") != bool(c[2].get("hidden"))]
            assert graded and all(c[2].get("points") == pts for c in graded), f"{name}_{kind}: points= {pts}"


def G_calls(source):
    from rnncourse_grader.harness import grade_calls
    return grade_calls(source)


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_notebooks_are_stored_without_outputs(a):
    for root in (SOLUTIONS, EXERCISES):
        path = os.path.join(root, a, f"{a}.ipynb")
        if not os.path.exists(path):
            continue
        for cell in nbformat.read(path, 4).cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, \
                    f"{os.path.relpath(path, REPO)} has outputs: clear them before committing"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_cells_follow_the_grading_conventions(a):
    nb = notebook(a)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    cells = {meta(c)["grade_id"]: c for c in nb.cells if meta(c)}
    assert len(cells) == sum(1 for c in nb.cells if meta(c)), "duplicate grade_id"
    functions = []
    for gid, cell in cells.items():
        m = meta(cell)
        if m.get("solution") and cell.cell_type == "code":
            assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source, gid
            assert gid.endswith("_answer"), f"{gid}: answer cells are named <function>_answer"
            defined = re.findall(r"^def (\w+)\(", cell.source, re.M)
            if defined:
                assert gid == f"{defined[0]}_answer", gid
                functions.append(defined[0])
        if m.get("grade") and cell.cell_type == "code":
            assert m.get("points", 0) > 0 and m.get("locked"), f"{gid}: test cells are locked and have points"
            visible, hidden = split_hidden(cell.source)
            assert hidden, f"{gid}: every test cell has a hidden part (a fresh checker)"
            assert hidden.split("\n")[0] == G.HIDDEN_BOOTSTRAP, f"{gid}: hidden part must start with HIDDEN_BOOTSTRAP"
            last = [l for l in visible.split("\n") if l.strip() and not l.strip().startswith("#")]
            assert last and re.match(r"(check|check_choice)\(", last[-1].strip()), \
                f"{gid}: the visible part ends with check(...) or check_choice(...)"
        if m.get("grade") and cell.cell_type == "markdown":
            assert m.get("solution") and m.get("points", 0) > 0, f"{gid}: written answers are solution+grade"
    for f in functions:
        for kind in ("visible", "hidden"):
            assert f"{f}_{kind}" in cells, f"{f} needs a {kind} test cell named {f}_{kind}"
        assert f'"{f}", globals(), hidden=True' in cells[f"{f}_hidden"].source
    choices = [g for g in cells if re.fullmatch(r"q\d+", g)]
    assert choices, "concept questions: at least one multiple-choice question"
    for q in choices:
        assert f"{q}_answer" in cells and "answer=" in split_hidden(cells[q].source)[1]
    assert any(c.cell_type == "markdown" and meta(c).get("grade") for c in cells.values()), \
        "concept questions: at least one written (manually graded) answer"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_checks_file_builds_sound_specs(a):
    path = os.path.join(SOLUTIONS, a, "checks.py")
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [n.name for n in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            assert not any(n.startswith("rnncourse") for n in names), \
                "checks.py must not import rnncourse: use the rc and G arguments of build()"
    specs = G.load_checks(path)
    nb = notebook(a)
    functions = [re.findall(r"^def (\w+)\(", c.source, re.M)[0] for c in nb.cells
                 if meta(c).get("solution") and c.cell_type == "code" and re.search(r"^def ", c.source, re.M)]
    assert set(functions) == set(specs), "one spec per graded function"
    for name, spec in specs.items():
        visible = list(spec.visible())
        hidden = list(spec.hidden(__import__("numpy").random.default_rng(0)))
        # a judged spec (a training run, judged by the loss it reaches): every case is a whole
        # run, so two hidden ones; its wrong loops are named by the judge, not by Mistakes
        # (tests/test_grading_train_model.py grades them)
        judged = spec.judge is not None
        assert visible and len(hidden) >= (2 if judged else 3), \
            f"{name}: visible cases and at least {2 if judged else 3} hidden cases"
        assert G.check_function(spec.reference, spec.reference, visible + hidden, name=name,
                                allow=("rnncourse",), judge=spec.judge) == len(visible) + len(hidden)
        if judged:
            continue
        assert len(spec.mistakes) >= 3, f"{name}: at least three recognised mistakes"
        for mistake in spec.mistakes:
            if mistake.fn is None:
                continue
            with pytest.raises(G.GradingFailure) as info:
                G.check_function(mistake.fn, spec.reference, visible + hidden, name=name,
                                 mistakes=spec.mistakes, rtol=spec.rtol, atol=spec.atol,
                                 allow=("rnncourse",), output_names=spec.output_names, extra=spec.extra)
            assert mistake.name in str(info.value), \
                f"{name}: the mistake {mistake.name!r} is never recognised:\n{info.value}"


def _cells_without_volatile_fields(path):
    nb = json.load(open(path))
    out = []
    for cell in nb["cells"]:
        cell = dict(cell)
        cell.pop("outputs", None)
        cell.pop("execution_count", None)
        out.append(cell)
    return out, nb["metadata"]


def test_exercises_are_generated_from_solutions(temp_course):
    # every assignment's solutions/ folder and `tools/course.py exercises` run on them (it raises
    # with nbgrader's output when that fails)
    course = pathlib.Path(temp_course(ASSIGNMENTS, cell_timeout=None))
    hint = "exercises/ is out of date: run `make exercises` and commit the result"
    assert sorted(os.listdir(course / "exercises")) == sorted(
        d for d in os.listdir(EXERCISES) if not d.startswith(".")), hint
    for a in ASSIGNMENTS:
        fresh, mine = course / "exercises" / a, os.path.join(EXERCISES, a)
        files = sorted(f for f in os.listdir(fresh))
        assert files == sorted(f for f in os.listdir(mine) if f not in ("__pycache__", ".ipynb_checkpoints")), hint
        for f in files:
            if f.endswith(".ipynb"):
                assert _cells_without_volatile_fields(fresh / f) == \
                    _cells_without_volatile_fields(os.path.join(mine, f)), f"{a}/{f}: {hint}"
            else:
                assert filecmp.cmp(fresh / f, os.path.join(mine, f), shallow=False), f"{a}/{f}: {hint}"


def test_grading_outputs_are_git_ignored():
    def ignored(path):
        return subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=REPO).returncode == 0

    for path in ("submitted/s/a/a.ipynb", "autograded/s/a/a.ipynb", "feedback/s/a/a.html", "gradebook.db",
                 "exchange/rnncourse/outbound/a/a.ipynb", "grades.csv", ".nbgrader.log"):
        assert ignored(path), f"{path} should be git-ignored"
    # ...but only at the course root: the feedback template of the same name is part of the repo
    assert not ignored("tools/feedback_templates/feedback/index.html.j2")


def test_make_targets_exist():
    res = subprocess.run(["make", "-n", "exercises", "grade", "lab", "check", "NB=x.ipynb"], cwd=REPO,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "tools/course.py exercises" in res.stdout and "tools/course.py grade" in res.stdout
    assert "tools/course.py check" in res.stdout and "jupyter lab" in res.stdout
