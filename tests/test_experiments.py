"""experiments/adding_problem.py at a tiny size: CLI, JSON structure, correct gradients, learning."""
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rnncourse.gradcheck import numerical_gradient, relative_error

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "adding_problem.py"


@pytest.fixture(scope="module")
def adding():
    spec = importlib.util.spec_from_file_location("adding_problem_experiment", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod          # so that worker processes (--jobs) can find train()
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop(spec.name, None)


def test_cli_writes_json_with_finite_curves(tmp_path, adding):
    out = tmp_path / "adding.json"
    cmd = [sys.executable, str(SCRIPT), "--T", "6", "--steps", "20", "--hidden", "4",
           "--seeds", "0", "1", "--log-every", "10", "--test-size", "50", "--quiet",
           "--out", str(out)]
    subprocess.run(cmd, check=True, cwd=ROOT, timeout=120)
    data = json.loads(out.read_text())
    assert set(data) == {"config", "baseline_mse", "models", "runs"}
    assert data["baseline_mse"] == pytest.approx(1 / 6)
    cfg = data["config"]
    assert (cfg["T"], cfg["steps"], cfg["hidden"], cfg["seeds"]) == (6, 20, 4, [0, 1])
    assert data["models"] == adding.default_models()
    assert data["models"][:2] == ["tanh", "irnn"]
    assert len(data["runs"]) == 2 * len(data["models"])
    seen = set()
    for run in data["runs"]:
        seen.add((run["model"], run["seed"]))
        assert run["step"] == [10, 20]
        assert len(run["mse"]) == len(run["grad_norm"]) == 2
        assert all(isinstance(v, float) and math.isfinite(v) and v >= 0
                   for v in run["mse"] + run["grad_norm"] + [run["test_mse"]])
        assert run["diverged"] is False
    assert seen == {(m, s) for m in data["models"] for s in (0, 1)}


def test_same_seed_same_curve(adding):
    a = adding.run(T=5, steps=6, hidden=3, seeds=[4], models=["tanh"], log_every=3, test_size=20)
    b = adding.run(T=5, steps=6, hidden=3, seeds=[4], models=["tanh"], log_every=3, test_size=20)
    assert a["runs"][0]["mse"] == b["runs"][0]["mse"]
    c = adding.run(T=5, steps=6, hidden=3, seeds=[5], models=["tanh"], log_every=3, test_size=20)
    assert a["runs"][0]["mse"] != c["runs"][0]["mse"]


def test_parallel_runs_give_the_same_curves(adding):
    """--jobs spreads the (model, seed) runs over processes: same runs, same order, same
    curves as one process (a book figure with several seeds may be computed either way)."""
    kw = dict(T=5, steps=6, hidden=3, seeds=[0, 1], models=["tanh", "irnn"], log_every=3,
              test_size=20)
    one, two = adding.run(**kw), adding.run(**kw, jobs=2)
    assert one["config"] == two["config"]
    assert [(r["model"], r["seed"]) for r in two["runs"]] == \
        [("tanh", 0), ("tanh", 1), ("irnn", 0), ("irnn", 1)]
    for a, b in zip(one["runs"], two["runs"]):
        assert {k: v for k, v in a.items() if k != "seconds"} == \
            {k: v for k, v in b.items() if k != "seconds"}


def _leaves(tree, path=()):
    if tree is None:
        return []
    if isinstance(tree, tuple):
        return [leaf for i, t in enumerate(tree) for leaf in _leaves(t, path + (i,))]
    return [(path, tree)]


def _replace(tree, path, new):
    if not path:
        return new
    items = list(tree)
    items[path[0]] = _replace(tree[path[0]], path[1:], new)
    return type(tree)(*items) if hasattr(tree, "_fields") else tuple(items)


@pytest.mark.parametrize("model", ["tanh", "irnn", "lstm"])
def test_loss_gradients_match_finite_differences(adding, model):
    if model not in adding.default_models():
        pytest.fail("rnncourse.lstm is expected to exist")
    rng = np.random.default_rng(0)
    params = adding.init_model(model, 3, rng)
    if model == "irnn":                                 # move off the identity/zero-bias kink
        cell, out = params
        params = (cell._replace(U=rng.normal(0, 0.5, cell.U.shape), b=rng.normal(0, 0.5, 3)), out)
    x, y = adding_batch(rng)
    loss, grads = adding.loss_and_grads(model, params, x, y)
    assert np.isfinite(loss)
    checked = 0
    for path, leaf in _leaves(params):
        num = numerical_gradient(
            lambda a: adding.loss_and_grads(model, _replace(params, path, a), x, y)[0], leaf)
        ana = grads
        for i in path:
            ana = ana[i]
        assert relative_error(num, ana) < 1e-6, (model, path)
        checked += 1
    assert checked >= 5


def adding_batch(rng):
    from rnncourse.tasks import adding_problem
    return adding_problem(4, 5, rng)


def test_irnn_learns_below_the_baseline_at_tiny_size(adding):
    # T=10, 16 units, Adam 1e-2, 400 steps: measured test MSE 0.024-0.11 over seeds 0-7
    # (seed 0: 0.043), against the 1/6 = 0.167 of always predicting 1.
    res = adding.run(T=10, steps=400, hidden=16, seeds=[0], models=["irnn"], lr=1e-2,
                     log_every=100, test_size=500)
    run = res["runs"][0]
    assert run["mse"][-1] < run["mse"][0]
    assert run["test_mse"] < 0.6 * res["baseline_mse"]


def test_seq2seq_experiment_small_writes_the_chapter_format(tmp_path):
    """experiments/seq2seq.py --small: the JSON chapter 10 reads, with the same keys as the
    stored book/data/seq2seq.json, valid exact-match fractions and normalised attention."""
    script = ROOT / "experiments" / "seq2seq.py"
    out = tmp_path / "s2s.json"
    subprocess.run([sys.executable, str(script), "--small", "--quiet", "--out", str(out)],
                   check=True, cwd=ROOT, timeout=120)
    data = json.loads(out.read_text())
    assert set(data) == {"config", "reversal", "dates", "beam", "total_seconds"}
    rev = data["reversal"]
    assert rev["lengths"] == [2, 3, 4]
    assert [r["attention"] for r in rev["runs"]] == [True, False]
    for r in rev["runs"]:
        assert len(r["exact_match"]) == 3 and all(0 <= e <= 1 for e in r["exact_match"])
        assert r["loss_step"] == [3, 6] and all(math.isfinite(v) for v in r["loss"])
    assert [(r["attention"], r["hidden"]) for r in data["dates"]["runs"]] == \
        [(True, 8), (False, 8)]
    for r in data["dates"]["runs"]:
        assert r["step"] == [3, 6] and len(r["exact_match"]) == len(r["seconds"]) == 2
    for ex in data["dates"]["examples"]:
        alphas = np.array(ex["alphas"])
        assert alphas.shape[1] == len(ex["source"])
        np.testing.assert_allclose(alphas.sum(axis=1), 1, atol=1e-3)
    assert [b["beam_width"] for b in data["beam"]["results"]] == [1, 3]
    stored = ROOT / "book" / "data" / "seq2seq.json"
    if stored.is_file():                      # the stored file has the same structure
        full = json.loads(stored.read_text())
        assert set(full) == set(data)
        for part in ("reversal", "dates", "beam"):
            assert set(full[part]) == set(data[part]), part
        assert set(full["config"]) == set(data["config"])
        for a, b in ((full["reversal"]["runs"][0], rev["runs"][0]),
                     (full["dates"]["runs"][0], data["dates"]["runs"][0]),
                     (full["dates"]["examples"][0], data["dates"]["examples"][0])):
            assert set(a) == set(b)


def test_seq2seq_experiment_is_seeded(tmp_path):
    script = ROOT / "experiments" / "seq2seq.py"
    outs = []
    for i in range(2):
        out = tmp_path / f"s{i}.json"
        subprocess.run([sys.executable, str(script), "--small", "--quiet", "--out", str(out)],
                       check=True, cwd=ROOT, timeout=120)
        d = json.loads(out.read_text())
        outs.append((d["reversal"]["runs"][1]["loss"], d["dates"]["examples"]))
    assert outs[0] == outs[1]
