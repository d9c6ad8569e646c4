"""The adding problem: tanh RNN vs IRNN vs LSTM, trained with Adam and global-norm clipping.

Many-to-one regression: the recurrent layer reads the (T, 2) sequence, a linear
readout of the last hidden state predicts the sum of the two marked values,
and the loss is the mean squared error.  Predicting the constant 1 scores
1/6 (see ``rnncourse.tasks.adding_problem``), so a curve that stays near 0.167
has learned nothing.

Every training step draws a fresh batch, so the training MSE (averaged over a
window of ``--log-every`` steps) is an unbiased estimate of the test error.
At the end each run is also scored on a fixed test set.

Usage (a tiny run takes seconds; T=100 with 64 units takes minutes per model)::

    python experiments/adding_problem.py --T 100 --steps 5000 --hidden 64 \\
        --seeds 0 1 2 --jobs 3 --out adding_T100.json

Output JSON::

    {"config": {...}, "baseline_mse": 0.1666..., "models": ["tanh", "irnn", "lstm"],
     "runs": [{"model": "irnn", "seed": 0, "step": [50, 100, ...], "mse": [...],
               "grad_norm": [...], "test_mse": 0.004, "diverged": false, "seconds": 12.3}, ...]}

``step[i]`` is the last step of a window, ``mse[i]`` the mean training MSE and
``grad_norm[i]`` the mean global gradient norm (before clipping) over it.
Non-finite values are written as ``null``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from typing import Dict, List, Optional

# One BLAS thread: the matrices here are small (batch x 4H), and OpenBLAS's
# threads only spin and compete on a shared machine (measured: a T=100, H=64
# LSTM forward+backward took 7.4 s with the default threads under load, 0.21 s
# with one).  Only effective when this file is run as a script, before numpy loads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from rnncourse.cells import get_cell  # noqa: E402
from rnncourse.clipping import clip_by_global_norm  # noqa: E402
from rnncourse.initializers import init_output_params, init_rnn_params  # noqa: E402
from rnncourse.output import output_backward, output_forward  # noqa: E402
from rnncourse.optim import adam_init, adam_step  # noqa: E402
from rnncourse.tasks import adding_problem  # noqa: E402

BASELINE_MSE = 1.0 / 6.0


def _has_lstm() -> bool:
    try:
        import rnncourse.lstm  # noqa: F401
    except ImportError:
        return False
    return True


#: model name -> (cell name in rnncourse.cells, initialiser(D, H, rng))
MODELS = {
    "tanh": ("rnn", lambda D, H, rng: init_rnn_params(D, H, rng, scheme="xavier")),
    "irnn": ("rnn_relu", lambda D, H, rng: init_rnn_params(D, H, rng, scheme="irnn")),
    "lstm": ("lstm", None),                    # None: the cell's own init (forget bias 1)
}


def default_models() -> List[str]:
    return [m for m in MODELS if m != "lstm" or _has_lstm()]


def init_model(model: str, H: int, rng):
    """(cell params, readout OutputParams (1, H)) for a model with D = 2 inputs."""
    cell_name, init = MODELS[model]
    cell = get_cell(cell_name)
    params = (init or cell.init)(2, H, rng)
    return params, init_output_params(H, 1, rng)


def loss_and_grads(model: str, params, x, y):
    """MSE of the readout of h_T and the gradients of both parameter sets.

    Parameters
    ----------
    params : (cell params, OutputParams)
    x : (N, T, 2) inputs;  y : (N,) targets.

    Returns
    -------
    loss : float, ``mean((pred - y)^2)``
    grads : (cell grads, OutputParams grads), same structure as ``params``.
    """
    cell = get_cell(MODELS[model][0])
    cell_params, out_params = params
    h, cache = cell.forward(x, None, cell_params)           # (N, T, H)
    scores, out_cache = output_forward(h[:, -1], out_params)  # (N, 1): linear readout of h_T
    pred = scores[:, 0]
    err = pred - y
    loss = float(np.mean(err ** 2))
    dscores = (2.0 / len(y)) * err[:, None]                 # d mean(err^2) / d pred
    dh_last, dout = output_backward(dscores, out_cache)
    dh = np.zeros_like(h)
    dh[:, -1] = dh_last                                     # only h_T feeds the loss
    grads = cell.backward(dh, cache)
    return loss, (grads.dparams, dout)


def _finite_or_none(v: float) -> Optional[float]:
    return float(v) if math.isfinite(v) else None


def train(model: str, seed: int, T: int, steps: int, hidden: int, batch: int = 32,
          lr: float = 1e-3, clip: float = 1.0, log_every: int = 50,
          test_size: int = 1000) -> Dict:
    """Train one model with one seed; return its logged curves (see the module docstring)."""
    rng = np.random.default_rng(seed)
    params = init_model(model, hidden, rng)
    state = adam_init(params)
    data_rng = np.random.default_rng([seed, 1])          # batches independent of the init draws
    log: Dict[str, List] = {"step": [], "mse": [], "grad_norm": []}
    window_loss, window_norm = [], []
    diverged = False
    start = time.perf_counter()
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, steps + 1):
            x, y = adding_problem(batch, T, data_rng)
            loss, grads = loss_and_grads(model, params, x, y)
            grads, norm = clip_by_global_norm(grads, clip)
            window_loss.append(loss)
            window_norm.append(norm)
            if not (math.isfinite(loss) and math.isfinite(norm)):
                diverged = True
            else:
                params, state = adam_step(params, grads, state, lr=lr)
            if step % log_every == 0 or step == steps or diverged:
                log["step"].append(step)
                log["mse"].append(_finite_or_none(float(np.mean(window_loss))))
                log["grad_norm"].append(_finite_or_none(float(np.mean(window_norm))))
                window_loss, window_norm = [], []
            if diverged:
                break
        x_test, y_test = adding_problem(test_size, T, np.random.default_rng([seed, 2]))
        test_mse = loss_and_grads(model, params, x_test, y_test)[0] if not diverged else math.nan
    return {"model": model, "seed": int(seed), **log, "test_mse": _finite_or_none(test_mse),
            "diverged": diverged, "seconds": round(time.perf_counter() - start, 3)}


def run(T: int, steps: int, hidden: int, seeds: List[int], models: Optional[List[str]] = None,
        batch: int = 32, lr: float = 1e-3, clip: float = 1.0, log_every: int = 50,
        test_size: int = 1000, verbose: bool = False, jobs: int = 1) -> Dict:
    """Train every model with every seed; return the JSON-ready result dict.

    A run depends only on its model and seed (its own generators), so with ``jobs > 1`` the
    runs are spread over that many processes and the curves are the same as with ``jobs=1``;
    only the wall-clock ``seconds`` differ.  The runs are listed model by model, seed by seed,
    whatever order they finish in.
    """
    models = default_models() if models is None else list(models)
    config = dict(T=T, steps=steps, hidden=hidden, seeds=list(seeds), models=models, batch=batch,
                  lr=lr, clip=clip, log_every=log_every, test_size=test_size,
                  optimizer="adam", readout="linear on h_T", loss="mse")
    tasks = [(model, seed) for model in models for seed in seeds]
    args = (T, steps, hidden, batch, lr, clip, log_every, test_size)

    def report(r):
        if verbose:
            print(f"{r['model']:5s} seed {r['seed']}: final window MSE {r['mse'][-1]}, "
                  f"test MSE {r['test_mse']}, {r['seconds']} s", file=sys.stderr)

    if jobs <= 1 or len(tasks) == 1:
        runs = []
        for model, seed in tasks:
            runs.append(train(model, seed, *args))
            report(runs[-1])
    else:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(max_workers=min(jobs, len(tasks))) as pool:
            futures = [pool.submit(train, model, seed, *args) for model, seed in tasks]
            runs = []
            for f in futures:
                runs.append(f.result())
                report(runs[-1])
    return {"config": config, "baseline_mse": BASELINE_MSE, "models": models, "runs": runs}


def main(argv=None) -> Dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--T", type=int, default=100, help="sequence length")
    ap.add_argument("--steps", type=int, default=2000, help="training steps (one fresh batch each)")
    ap.add_argument("--hidden", type=int, default=64, help="hidden units")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per seed")
    ap.add_argument("--models", nargs="+", choices=list(MODELS), default=None,
                    help="default: tanh irnn and lstm")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    ap.add_argument("--clip", type=float, default=1.0, help="global-norm clipping threshold")
    ap.add_argument("--log-every", type=int, default=50, help="steps per logged window")
    ap.add_argument("--test-size", type=int, default=1000)
    ap.add_argument("--out", required=True, help="output JSON file")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--jobs", type=int, default=1,
                    help="processes to spread the (model, seed) runs over (same curves)")
    a = ap.parse_args(argv)
    if a.T < 2 or a.steps < 1 or a.hidden < 1:
        ap.error("--T must be >= 2, --steps and --hidden >= 1")
    if a.models and "lstm" in a.models and not _has_lstm():
        ap.error("--models lstm needs rnncourse.lstm")
    if a.jobs < 1:
        ap.error(f"--jobs must be >= 1, got {a.jobs}")
    result = run(a.T, a.steps, a.hidden, a.seeds, a.models, a.batch, a.lr, a.clip, a.log_every,
                 a.test_size, verbose=not a.quiet, jobs=a.jobs)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1, allow_nan=False)
    return result


if __name__ == "__main__":
    main()
