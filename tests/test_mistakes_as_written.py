"""Every catalogued mistake, written into the solution as a student would write it, is named.

The catalogue of a graded function (``Spec.mistakes`` in ``solutions/<NN>/checks.py``) is a set
of wrong *variants* the grader compares a failing answer against.  A variant is only useful if it
computes what real code with that mistake computes.  This module checks exactly that: each table
in ``tests/as_written/<NN_name>.py`` lists **textual edits of the solution notebook's own answer
cell** (the course's solution, ``### BEGIN SOLUTION`` block and all), each edit one mistake a
student makes.  The edited cell is executed as the notebook would execute it and graded with the
function's visible and hidden cases; the test passes when the feedback names the expected mistake.

Tables (one module per assignment, no imports needed)::

    MISTAKES = [
        # (function, old text, new text, words the feedback must contain)
        ("rnn_step_backward", "(1.0 - h_next * h_next)", "(1.0 - h_next)", "tanh' written as 1 - h"),
    ]
    PARTIAL = [
        # (function, old text, new text): a solution missing one optional feature
        ("rnn_step_forward", 'if activation == "tanh"', "if True", ),
    ]

``old`` must occur exactly once in the answer cell (so a table cannot silently stop applying when
the solution is edited).  For ``PARTIAL`` rows the expected score is computed here, independently
of the grader's comparison: every case is run on the edited function and on the reference, the
outputs compared with ``np.allclose``, and the weights of the matching cases summed; the edit must
pass some cases and fail others, and the grader must award exactly that share of the points.

``test_every_catalogued_mistake_is_written_out`` requires one ``MISTAKES`` row per catalogued
mistake of every function, and ``test_functions_of_more_than_five_lines_know_six_mistakes`` the
size of the catalogue.
"""
import ast
import contextlib
import copy
import glob
import importlib.util
import io
import json
import os
import re

import numpy as np
import pytest

import rnncourse.grading as G
from rnncourse.grading import cells

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOLUTIONS = os.path.join(REPO, "solutions")
TABLES = os.path.join(REPO, "tests", "as_written")
ASSIGNMENTS = sorted(os.path.basename(os.path.dirname(p))
                     for p in glob.glob(os.path.join(SOLUTIONS, "*", "checks.py")))
MIN_MISTAKES = 6          # for every graded function whose answer is more than MIN_LINES lines
MIN_LINES = 5


def table(assignment):
    path = os.path.join(TABLES, assignment + ".py")
    if not os.path.exists(path):
        return {"MISTAKES": [], "PARTIAL": []}
    spec = importlib.util.spec_from_file_location("as_written_" + assignment, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {"MISTAKES": list(getattr(module, "MISTAKES", [])), "PARTIAL": list(getattr(module, "PARTIAL", []))}


def notebook_cells(assignment):
    nb = json.load(open(os.path.join(SOLUTIONS, assignment, assignment + ".ipynb"), encoding="utf-8"))
    return [(c.get("metadata", {}).get("nbgrader", {}), "".join(c["source"]))
            for c in nb["cells"] if c["cell_type"] == "code"]


def answer_cells(assignment):
    """``{function: source of the answer cell that defines it}``."""
    out = {}
    for meta, source in notebook_cells(assignment):
        if meta.get("solution"):
            for name in re.findall(r"^def (\w+)\(", source, re.M):
                out.setdefault(name, source)
    return out


def answer_lines(assignment, function):
    """Lines of the course's answer between BEGIN and END SOLUTION (blank and comment lines not counted)."""
    source = answer_cells(assignment)[function]
    body = source.split("### BEGIN SOLUTION", 1)[-1].split("### END SOLUTION", 1)[0]
    return sum(1 for line in body.splitlines() if line.strip() and not line.strip().startswith("#"))


def namespace(assignment, function=None, old=None, new=None):
    """What the notebook defines: its imports, definitions and answer cells, one cell edited."""
    ns = {"__name__": "__main__"}
    for meta, source in notebook_cells(assignment):
        if meta.get("grade"):
            continue
        if function is not None and meta.get("solution") and re.search(rf"^def {function}\(", source, re.M):
            assert source.count(old) == 1, \
                f"{assignment}: {old!r} occurs {source.count(old)} times in the answer cell of {function}"
            source = source.replace(old, new)
        if not meta.get("solution"):     # a given cell: keep its imports and definitions only
            tree = ast.parse(source)
            tree.body = [n for n in tree.body
                         if isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))]
            code = compile(tree, f"<{assignment} given cell>", "exec")
        else:
            code = compile(source, f"<{assignment} answer cell>", "exec")
        with contextlib.redirect_stdout(io.StringIO()):
            exec(code, ns)        # noqa: S102 - the course's own notebook
    return ns


def grade(assignment, function, ns):
    """(total score over both cells, everything the feedback said) for ``function`` in ``ns``."""
    path = os.path.join(SOLUTIONS, assignment, "checks.py")
    table_ = cells.points_table(path)
    position = list(table_).index(function) + 1
    visible, hidden = table_[function]
    said, total = [], 0.0
    for kw in (dict(points=visible), dict(points=hidden, hidden=True, seed=cells.hidden_seed(assignment, position))):
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                total += float(G.check(function, ns, checks_path=path, **kw) or 0.0)
        except G.GradingFailure as failure:
            said.append(str(failure))
        said.append(out.getvalue())
    return total, " ".join(" ".join(said).split())


def rows(kind):
    for a in ASSIGNMENTS:
        for i, row in enumerate(table(a)[kind]):
            yield pytest.param(a, *row, id=f"{a}-{row[0]}-{i}")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_course_solution_earns_full_points(assignment):
    path = os.path.join(SOLUTIONS, assignment, "checks.py")
    ns = namespace(assignment)
    for function, (visible, hidden) in cells.points_table(path).items():
        score, said = grade(assignment, function, ns)
        assert score == pytest.approx(visible + hidden), said


@pytest.mark.parametrize("assignment, function, old, new, words", list(rows("MISTAKES")))
def test_a_mistake_written_into_the_solution_is_named(assignment, function, old, new, words):
    score, said = grade(assignment, function, namespace(assignment, function, old, new))
    visible, hidden = cells.points_table(os.path.join(SOLUTIONS, assignment, "checks.py"))[function]
    assert score < visible + hidden - 1e-9, f"the edit {old!r} -> {new!r} is not a mistake: full points"
    assert " ".join(words.split()) in said, said


def _flat(value):
    if isinstance(value, (str, bytes)):
        return [value]
    if isinstance(value, np.ndarray) or np.isscalar(value):
        return [np.asarray(value, dtype=float)]
    if isinstance(value, dict):
        return [a for k in sorted(value) for a in _flat(value[k])]
    if isinstance(value, (tuple, list)):
        return [a for v in value for a in _flat(v)]
    if value is None:
        return [np.array(np.nan)]
    return _flat(tuple(vars(value).values())) if hasattr(value, "__dict__") else [np.asarray(value)]


def _same(a, b):
    fa, fb = _flat(a), _flat(b)
    if len(fa) != len(fb):
        return False
    for x, y in zip(fa, fb):
        if isinstance(x, (str, bytes)) or isinstance(y, (str, bytes)):
            if type(x) is not type(y) or x != y:
                return False
        elif not (x.shape == y.shape and np.allclose(x, y, rtol=1e-6, atol=1e-9, equal_nan=True)):
            return False
    return True


@pytest.mark.parametrize("assignment, function, old, new", list(rows("PARTIAL")))
def test_a_solution_missing_one_feature_earns_the_cases_it_passes(assignment, function, old, new):
    path = os.path.join(SOLUTIONS, assignment, "checks.py")
    spec = G.load_checks(path)[function]
    student = namespace(assignment, function, old, new)[function]
    table_ = cells.points_table(path)
    position = list(table_).index(function) + 1
    visible_pts, hidden_pts = table_[function]
    expected, all_passed, any_passed = 0.0, True, False
    for points, cases in ((visible_pts, list(spec.visible())),
                          (hidden_pts, list(spec.hidden(np.random.default_rng(cells.hidden_seed(assignment, position)))))):
        passed = []
        for c in cases:
            args, kwargs = copy.deepcopy((c.args, c.kwargs))
            want = spec.reference(*copy.deepcopy(args), **copy.deepcopy(kwargs))
            try:
                with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
                    got = student(*args, **kwargs)
                ok = _same(got, want)
            except Exception:      # noqa: BLE001 - a failing case
                ok = False
            passed.append(ok)
        expected += points * sum(c.weight for c, ok in zip(cases, passed) if ok) / sum(c.weight for c in cases)
        all_passed &= all(passed)
        any_passed |= any(passed)
    assert any_passed and not all_passed, f"the edit {old!r} -> {new!r} must pass some cases and fail others"
    score, said = grade(assignment, function, namespace(assignment, function, old, new))
    assert score == pytest.approx(expected, abs=1e-6), said


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_catalogued_mistake_is_written_out(assignment):
    specs = G.load_checks(os.path.join(SOLUTIONS, assignment, "checks.py"))
    written = {(f, " ".join(w.split())) for f, _old, _new, w in table(assignment)["MISTAKES"]}
    missing = [f"{name}: {m.name}" for name, spec in specs.items() for m in spec.mistakes
               if not any(f == name and (m.name in w or w in m.name) for f, w in written)]
    assert not missing, f"catalogued mistakes with no edit in tests/as_written/{assignment}.py:\n" + "\n".join(missing)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_functions_of_more_than_five_lines_know_six_mistakes(assignment):
    specs = G.load_checks(os.path.join(SOLUTIONS, assignment, "checks.py"))
    short = [f"{name}: {len(spec.mistakes)} mistakes, answer of {answer_lines(assignment, name)} lines"
             for name, spec in specs.items()
             if answer_lines(assignment, name) > MIN_LINES and len(spec.mistakes) < MIN_MISTAKES]
    assert not short, "\n".join(short)
