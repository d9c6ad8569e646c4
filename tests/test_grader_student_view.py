"""rnncourse_grader.student_view: the copy of rnncourse that graded student code sees.

For every assignment in solutions/ the view is built and probed in a fresh Python process whose
PYTHONPATH is the view (cwd elsewhere, so the real package is not found first): it imports, the
graded functions raise NotImplementedError naming themselves, what the notebook imports is there
and works, and the notebook's own (non-grade) code cells run against it.
"""
import glob
import importlib
import inspect
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import rnncourse
from rnncourse.grading import load_checks
from rnncourse_grader import student_view as sv

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOLUTIONS = os.path.join(REPO, "solutions")
ASSIGNMENTS = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(SOLUTIONS, "*", ""))
                     if os.path.exists(os.path.join(p, os.path.basename(os.path.dirname(p)) + ".ipynb")))
REAL_DIR = os.path.dirname(os.path.abspath(rnncourse.__file__))
STUB_MARK = "is withheld while this notebook is graded"


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("views"))


@pytest.fixture(scope="module")
def views(cache):
    return {a: sv.view_for_assignment(SOLUTIONS, a, cache) for a in ASSIGNMENTS}


def run_in_view(view, code, stdin="", timeout=300, cwd=None):
    """Run ``code`` in a fresh interpreter that finds rnncourse in ``view`` only."""
    env = dict(os.environ, PYTHONPATH=view, OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
    env.pop("PYTHONHOME", None)
    return subprocess.run([sys.executable, "-s", "-c", code], input=stdin, env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=cwd or os.path.dirname(view))


def specs_of(a):
    specs = load_checks(os.path.join(SOLUTIONS, a, "checks.py"))
    return set(specs), sorted({x for s in specs.values() for x in s.allow})


def real_functions(names):
    """Qualified names of the real package's module-level functions called one of ``names``."""
    found = set()
    for f in sorted(os.listdir(REAL_DIR)):
        if f.endswith(".py") and f != "__init__.py":
            m = importlib.import_module(f"rnncourse.{f[:-3]}")
            found |= {f"{m.__name__}.{k}" for k, v in vars(m).items()
                      if inspect.isfunction(v) and v.__module__ == m.__name__ and k in names}
    return found


PROBE = r'''
import importlib, inspect, json, os, pkgutil, sys
args = json.load(sys.stdin)
import rnncourse
out = {"file": rnncourse.__file__, "modules": {}, "graded": {}, "given": {}}
for info in pkgutil.iter_modules(rnncourse.__path__):
    m = importlib.import_module("rnncourse." + info.name)
    out["modules"][m.__name__] = m.__file__
    for name, fn in vars(m).items():
        if inspect.isfunction(fn) and fn.__module__ == m.__name__ and name in args["graded"]:
            required = [p for p in inspect.signature(fn).parameters.values()
                        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            try:
                fn(*[None] * len(required))
                res = "returned"
            except NotImplementedError as e:
                res = "NotImplementedError: " + str(e)
            except Exception as e:
                res = f"{type(e).__name__}: {e}"
            out["graded"][f"{m.__name__}.{name}"] = {"call": res, "signature": str(inspect.signature(fn)),
                                                     "doc": fn.__doc__}
for q in args["given"]:
    parts, obj = q.split("."), None
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
            break
        except ImportError:
            continue
    try:
        for p in parts[i:]:
            obj = getattr(obj, p)
    except AttributeError as e:
        out["given"][q] = {"ok": False, "error": str(e)}
        continue
    fn = inspect.isfunction(obj)
    out["given"][q] = {"ok": True, "function": fn, "qual": f"{obj.__module__}.{obj.__name__}" if fn else None,
                       "stub": fn and "is withheld while this notebook is graded" in inspect.getsource(obj)}
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def probes(views):
    out = {}
    for a, view in views.items():
        graded, _ = specs_of(a)
        given = sorted(sv.given_names(os.path.join(SOLUTIONS, a, f"{a}.ipynb")))
        res = run_in_view(view, PROBE, json.dumps({"graded": sorted(graded), "given": given}))
        assert res.returncode == 0, f"{a}: the view does not import:\n{res.stderr[-3000:]}"
        out[a] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def manifest(view):
    with open(os.path.join(view, "withheld.json"), encoding="utf-8") as f:
        return json.load(f)


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_view_imports_from_itself(a, views, probes):
    view = os.path.realpath(views[a])
    files = [probes[a]["file"]] + list(probes[a]["modules"].values())
    assert all(os.path.realpath(f).startswith(view + os.sep) for f in files), files
    assert sorted(probes[a]["modules"]) == sorted(
        f"rnncourse.{f[:-3] if f.endswith('.py') else f}" for f in os.listdir(REAL_DIR)
        if f.endswith(".py") and f != "__init__.py" or os.path.isfile(os.path.join(REAL_DIR, f, "__init__.py")))
    assert os.path.isfile(os.path.join(view, "rnncourse", "data", "shakespeare.txt"))


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_graded_functions_raise_naming_themselves(a, probes):
    graded, _ = specs_of(a)
    expected = real_functions(graded)
    assert sorted(probes[a]["graded"]) == sorted(expected)
    number = a.split("_")[0]
    for q, info in probes[a]["graded"].items():
        assert info["call"].startswith(f"NotImplementedError: {q} {STUB_MARK}: it is what assignment {number} "
                                       "asks you to write. Use your own function"), (q, info["call"])
        real = getattr(importlib.import_module(q.rpartition(".")[0]), q.rpartition(".")[2])
        assert info["doc"] == real.__doc__, q
        assert info["signature"].replace(" = ", "=") == str(inspect.signature(real)).replace(" = ", "="), q


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_what_the_notebook_imports_is_there_and_not_withheld(a, views, probes):
    info = manifest(views[a])
    for q, g in probes[a]["given"].items():
        assert g["ok"], f"{a}: {q} is not importable from the view: {g.get('error')}"
        if g["function"]:
            conflict = any(c.startswith(g["qual"] + " ") for c in info["conflicts"])
            assert conflict or not g["stub"], f"{a}: the notebook imports {q}, but the view withholds it"
            assert conflict or g["qual"] not in info["withheld"], q


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_no_notebook_gives_a_function_it_grades(a, views):
    assert manifest(views[a])["conflicts"] == []


GIVEN_WORK = {
    "03_bptt": """
        from rnncourse.rnn import RNNParams, rnn_forward, rnn_step_forward
        rng = np.random.default_rng(0)
        p = RNNParams(rng.normal(size=(4, 3)), rng.normal(size=(4, 4)), rng.normal(size=4))
        result = {"h": rnn_forward(rng.normal(size=(2, 5, 3)), None, p)[0],
                  "h1": rnn_step_forward(rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), p)[0]}
    """,
    "07_bidirectional": """
        from rnncourse.rnn import RNNParams, rnn_forward, rnn_backward
        from rnncourse.cells import get_cell
        rng = np.random.default_rng(0)
        p = RNNParams(rng.normal(size=(4, 3)), rng.normal(size=(4, 4)), rng.normal(size=4))
        h, cache = rnn_forward(rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 4)), p)
        g = rnn_backward(np.ones_like(h), cache)
        hg, _ = get_cell("gru").forward(rng.normal(size=(2, 3, 3)), None, get_cell("gru").init(3, 2, 0))
        result = {"h": h, "dx": g.dx, "dU": g.dparams.U, "dh0": g.dh0, "gru": hg}
    """,
    "08_deep_rnn": """
        from rnncourse.rnn import RNNParams
        from rnncourse.bidirectional import BidirectionalParams, bidirectional_forward, bidirectional_backward
        rng = np.random.default_rng(0)
        mk = lambda: RNNParams(rng.normal(size=(4, 3)), rng.normal(size=(4, 4)), rng.normal(size=4))
        h, cache = bidirectional_forward(rng.normal(size=(2, 5, 3)), None, BidirectionalParams(mk(), mk()))
        result = {"h": h, "dx": bidirectional_backward(np.ones_like(h), cache).dx}
    """,
    "09_char_lm": """
        from rnncourse.charlm import init_charlm
        from rnncourse.corpus import load_corpus, batches
        from rnncourse.clipping import clip_by_global_norm
        from rnncourse.optim import adam_init
        from rnncourse.text import Vocabulary, one_hot
        text = load_corpus("shakespeare")
        vocab = Vocabulary.from_text(text)
        model = init_charlm(vocab.size, 6, np.random.default_rng(1))
        clipped, norm = clip_by_global_norm(model, 0.5)
        x, y = batches(vocab.encode(text[:500]), 4, 7, np.random.default_rng(2))
        result = {"chars": np.array(len(text)), "U": model.cell.U, "V": clipped.output.V, "norm": np.array(norm),
                  "x": x, "y": y, "m": adam_init(model).m.output.V, "oh": one_hot(x, vocab.size)}
    """,
}


@pytest.mark.parametrize("a", sorted(GIVEN_WORK))
def test_given_functions_work_as_in_the_real_package(a, views):
    code = "import json\nimport numpy as np\n" + textwrap.dedent(GIVEN_WORK[a]) + \
        "\nprint(json.dumps({k: np.asarray(v).tolist() for k, v in result.items()}))"
    res = run_in_view(views[a], code)
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    space = {"np": np}                          # the same code against the real package
    exec(compile(textwrap.dedent(GIVEN_WORK[a]), "<given>", "exec"), space)
    assert sorted(got) == sorted(space["result"])
    for k, v in space["result"].items():
        np.testing.assert_allclose(np.asarray(got[k], dtype=float), np.asarray(v, dtype=float), err_msg=k)


def test_numerical_gradients_are_withheld_in_06_lstm(views):
    code = textwrap.dedent("""
        import numpy as np, rnncourse, rnncourse.gradcheck as gc, rnncourse.grading as gr
        assert rnncourse.numerical_gradient is gc.numerical_gradient
        for fn, args in [(gc.numerical_gradient, (lambda x: 0.0, np.zeros(2))),
                         (gc.check_gradients, (None, None, None)), (gr.numerical_gradient, (None, None)),
                         (gr.gradient_check, (None, None, None))]:
            try:
                fn(*args)
            except NotImplementedError as e:
                print(e)
            else:
                raise SystemExit(f"{fn.__name__} ran")
    """)
    res = run_in_view(views["06_lstm"], code)
    assert res.returncode == 0, res.stdout + res.stderr[-2000:]
    lines = res.stdout.strip().splitlines()
    assert len(lines) == 4 and lines[0].startswith("rnncourse.gradcheck.numerical_gradient " + STUB_MARK)
    assert all("numerical gradients" in ln for ln in lines), lines


def notebook_code(a):
    """The solution notebook's code cells that are not grade cells, IPython magics left out."""
    with open(os.path.join(SOLUTIONS, a, f"{a}.ipynb"), encoding="utf-8") as f:
        cells = json.load(f)["cells"]
    chunks = []
    for c in cells:
        if c["cell_type"] == "code" and not c.get("metadata", {}).get("nbgrader", {}).get("grade"):
            src = "".join(c["source"]).splitlines()
            chunks.append("\n".join(ln for ln in src if not ln.lstrip().startswith(("%", "!"))))
    return "\n\n".join(chunks)


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_solution_code_cells_run_against_the_view(a, views, tmp_path):
    res = run_in_view(views[a], notebook_code(a), timeout=600, cwd=str(tmp_path))
    assert res.returncode == 0, f"{a}:\n{res.stdout[-1500:]}\n{res.stderr[-3000:]}"


def test_views_are_cached_and_built_atomically(views, cache):
    a = ASSIGNMENTS[0]
    stamp = os.stat(os.path.join(views[a], "withheld.json")).st_mtime_ns
    assert sv.view_for_assignment(SOLUTIONS, a, cache) == views[a]
    assert os.stat(os.path.join(views[a], "withheld.json")).st_mtime_ns == stamp
    assert sorted(os.listdir(cache)) == sorted(os.path.basename(v) for v in views.values())   # no temp dirs
    assert len(set(views.values())) == len(views)


def test_rules_on_a_small_package(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from .a import f, g\n")
    (pkg / "a.py").write_text(textwrap.dedent('''
        from .b import h
        TABLE = {"x": None}

        def _only_for_g(x):
            return x + 1

        def _shared(x):
            return 2 * x

        def f(x):
            """f's doc."""
            return _shared(x) + TABLE_LEN

        TABLE_LEN = len(TABLE)

        def g(x): return _only_for_g(_shared(x))

        @staticmethod
        def k(x, *, y=1):
            # a comment about the answer
            return h(x) + y
    '''))
    (pkg / "b.py").write_text("def h(x):\n    return x\n\n\ndef unused(x):\n    return x\n")
    (pkg / "gradcheck.py").write_text("def numerical_gradient(f, x):\n    return x\n\n\n"
                                      "def relative_error(a, b):\n    return 0.0\n")
    w = sv.withheld_functions({"g", "h"}, ["rnncourse.a.k"], {"rnncourse.f", "rnncourse.a.g"},
                              assignment="02_x", package_dir=str(pkg))
    assert "rnncourse.a.f" not in w and "rnncourse.a._shared" not in w and "rnncourse.a.k" not in w
    assert w["rnncourse.a.g"] == w["rnncourse.b.h"] == "it is what assignment 02 asks you to write"
    assert w["rnncourse.a._only_for_g"] == "only withheld functions use it"
    assert w["rnncourse.b.unused"] == "assignment 02 does not give it to you"
    assert "numerical gradients" in w["rnncourse.gradcheck.numerical_gradient"]
    assert sorted(w.conflicts) == ["rnncourse.a.g is graded but given to the student: withheld anyway",
                                   "rnncourse.b.h is graded but needed by rnncourse.a.k: withheld anyway"]
    view = sv.build_student_view(str(tmp_path / "view"), w, package_dir=str(pkg))
    code = textwrap.dedent("""
        import rnncourse, rnncourse.a as a
        assert a.f(1) == 3 and a.f.__doc__ == "f's doc."
        for fn in (a.g, a.k, rnncourse.g):
            try:
                fn(1)
            except NotImplementedError as e:
                print(e)
    """)
    res = run_in_view(view, code)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == lines[2] == ("rnncourse.a.g is withheld while this notebook is graded: it is what "
                                    "assignment 02 asks you to write. Use your own function (or the ones "
                                    "the notebook imports for you).")
    assert lines[1].startswith("rnncourse.b.h is withheld")          # k is kept, h is not
    text = (tmp_path / "view" / "rnncourse" / "a.py").read_text()
    assert "_only_for_g(_shared" not in text and "comment about the answer" in text


def test_given_names_parses_cells_like_the_notebook(tmp_path):
    def cell(src, grade=False):
        return {"cell_type": "code", "source": src, "metadata": {"nbgrader": {"grade": grade}}, "outputs": []}
    nb = {"cells": [cell("%matplotlib inline\nfrom rnncourse.rnn import RNNParams, rnn_forward as fwd\n!ls"),
                    cell(["import rnncourse.gru\n", "rnncourse.gru.gru_forward(1).shape\n"]),
                    cell("import rnncourse.deep as d\nd.deep_forward.__doc__\nfrom rnncourse import lstm\n"
                         "lstm.lstm_forward"),
                    cell("from rnncourse.grading import check\nimport rnncourse.cells as c; c.get_cell", True),
                    cell("this is not python (\nfrom rnncourse.text import one_hot"),
                    {"cell_type": "markdown", "source": "from rnncourse.optim import adam_step", "metadata": {}}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    assert sv.given_names(str(path)) == {"rnncourse.rnn.RNNParams", "rnncourse.rnn.rnn_forward",
                                         "rnncourse.gru.gru_forward", "rnncourse.deep.deep_forward",
                                         "rnncourse.lstm.lstm_forward"}
