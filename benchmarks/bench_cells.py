"""Time rnncourse's NumPy cells against PyTorch's on the CPU (float64, same process).

For each cell (rnn, gru with reset_after=True, lstm) one call is forward +
backward over a batch: NumPy ``*_forward`` + ``*_backward`` (gradients for x,
h0 and every parameter) versus ``torch.nn.RNN/GRU/LSTM`` forward +
``out.backward(dh)`` with an upstream gradient of the output's shape (x and h0
require gradients too, so both sides compute the same quantities).

The two sides run interleaved (numpy, torch, numpy, torch, ...) after a
warm-up, so load from other processes hits both alike; the table shows the
best and the median of the repeats, in milliseconds per call, the ratios
numpy / torch (< 1 means NumPy is faster) and the median of the per-repeat
ratios (numpy run i / torch run i, neighbours in time: the figure least
affected by other processes on a shared machine).  torch uses as many threads as
NumPy's BLAS (``--threads`` sets both).

Without size arguments it runs the grid :data:`GRID` (the sizes of issue 13 and
one larger), one table per size; under each table, the matrix-product FLOPs of
one call (forward ``2 T N (D + H) kH`` for k gate blocks, backward twice that:
``dx``, ``dh``, ``dU``, ``dW``) and the rate each side reaches as a fraction of its
library's measured float64 matrix-product peak (a (512, 512) x (512, 512) product:
NumPy's OpenBLAS, torch's MKL).
Last, one training step of the character model against the same model in
PyTorch (:func:`charlm_pairs`).

Usage::

    python benchmarks/bench_cells.py [--T 50 --N 32 --D 64 --H 128] [--repeats 30] [--threads 2]
"""
from __future__ import annotations

import argparse
import ctypes
import glob
import importlib
import os
import statistics
import time

import numpy as np


def _openblas():
    """numpy's bundled OpenBLAS as ctypes functions (get, set) or None."""
    libdir = os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs")
    for path in glob.glob(os.path.join(libdir, "*openblas*")):
        lib = ctypes.CDLL(path)
        for prefix, suffix in (("scipy_openblas_", "64_"), ("scipy_openblas_", ""),
                               ("openblas_", "64_"), ("openblas_", "")):
            get = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
            set_ = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
            if get is not None and set_ is not None:
                return get, set_
    return None


def numpy_threads(requested=None):
    """Set (if requested) and return the number of BLAS threads numpy uses."""
    ob = _openblas()
    if ob is None:
        env = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
        return int(env) if env else os.cpu_count(), "guessed from the environment"
    get, set_ = ob
    if requested:
        set_(int(requested))
    return int(get()), "OpenBLAS"


def cell_pairs(T, N, D, H, rng):
    """Yield (name, numpy_call, torch_call) for every available cell."""
    import torch

    from rnncourse import rnn as rnn_mod
    from rnncourse import lstm as lstm_mod

    x = rng.normal(size=(N, T, D))
    h0 = rng.normal(size=(N, H)) * 0.1
    dh = rng.normal(size=(N, T, H))
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    dht = torch.tensor(dh)

    def torch_call(module, state):
        def call():
            module.zero_grad(set_to_none=True)
            xt.grad = None
            out, _ = module(xt, state)
            out.backward(dht)
        return call

    def copy_into(module, U, W, b, b_hh=None):
        with torch.no_grad():
            module.weight_ih_l0.copy_(torch.from_numpy(U))
            module.weight_hh_l0.copy_(torch.from_numpy(W))
            module.bias_ih_l0.copy_(torch.from_numpy(b))
            module.bias_hh_l0.zero_()
            if b_hh is not None:
                module.bias_hh_l0.copy_(torch.from_numpy(b_hh))

    # --- vanilla RNN (tanh) ---
    k = 1 / np.sqrt(H)
    p = rnn_mod.RNNParams(rng.uniform(-k, k, (H, D)), rng.uniform(-k, k, (H, H)),
                          rng.uniform(-k, k, H))
    m = torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64)
    copy_into(m, *p)

    def np_rnn(p=p):
        h, cache = rnn_mod.rnn_forward(x, h0, p)
        rnn_mod.rnn_backward(dh, cache)
    yield "rnn", np_rnn, torch_call(m, h0t)

    # --- GRU, reset_after=True (PyTorch's form); written by another helper ---
    try:
        gru_mod = importlib.import_module("rnncourse.gru")
    except ImportError as err:
        print(f"[skip] gru: rnncourse.gru not importable ({err})")
    else:
        pg = gru_mod.init_gru_params(D, H, rng, reset_after=True)
        m = torch.nn.GRU(D, H, batch_first=True, dtype=torch.float64)
        # Timing only needs the same sizes; our update gate is PyTorch's negated.
        U, W, b = (np.array(a) for a in pg[:3])
        for a in (U, W, b):
            a[H:2 * H] *= -1
        b_hh = np.zeros(3 * H)
        b_hh[2 * H:] = pg.b_hn
        copy_into(m, U, W, b, b_hh)

        def np_gru(p=pg):
            h, cache = gru_mod.gru_forward(x, h0, p, reset_after=True)
            gru_mod.gru_backward(dh, cache)
        yield "gru", np_gru, torch_call(m, h0t)

    # --- LSTM ---
    pl = lstm_mod.init_lstm_params(D, H, rng)
    m = torch.nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
    copy_into(m, *pl[:3])
    c0 = np.zeros((N, H))
    c0t = torch.zeros((1, N, H), dtype=torch.float64, requires_grad=True)

    def np_lstm(p=pl):
        h, cache = lstm_mod.lstm_forward(x, h0, p, c0=c0)
        lstm_mod.lstm_backward(dh, cache)
    yield "lstm", np_lstm, torch_call(m, (h0t, c0t))


#: (T, N, D, H) run by default: issue 13's three sizes and a larger one.
GRID = [(50, 1, 16, 32), (50, 32, 64, 128), (200, 64, 128, 256), (100, 128, 256, 512)]
GATE_BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}


def flops(name, T, N, D, H):
    """Matrix-product FLOPs of one forward + backward call (3x the forward's)."""
    return 3 * 2 * T * N * (D + H) * GATE_BLOCKS[name] * H


def matmul_peak(n=512, repeats=30, library="numpy"):
    """Measured float64 matmul rate in FLOP/s (best of ``repeats`` (n, n) x (n, n) products).

    ``library``: ``"numpy"`` (its BLAS, OpenBLAS here) or ``"torch"`` (``torch.mm``, MKL
    in the CPU wheels).  On a loaded machine even the best of many can be below the true
    peak, so a cell may show more than 100%: read the fractions as rough.
    """
    a = np.random.default_rng(0).normal(size=(n, n))
    b = a.T.copy()
    out = np.empty((n, n))
    mm = lambda: np.matmul(a, b, out=out)  # noqa: E731
    if library == "torch":
        import torch
        at, bt, ot = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(out)
        mm = lambda: torch.mm(at, bt, out=ot)  # noqa: E731
    best = float("inf")
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        mm()
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best


def auto_repeats(T, N, D, H):
    """Fewer repeats for the large sizes (each call of the largest takes seconds)."""
    work = T * N * (D + H) * H
    return 30 if work < 5e7 else 10 if work < 1e9 else 5


def time_pair(f_np, f_torch, repeats, warmup):
    """Interleaved runs: wall-clock ms of each side per repeat, and the median of the
    per-repeat CPU-time ratios numpy_i / torch_i (``time.process_time``, user + system
    time of this process: not inflated by waiting for a core on a shared machine)."""
    for _ in range(warmup):
        f_np()
        f_torch()
    t_np, t_torch, cpu = [], [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        f_np()
        c1, t1 = time.process_time(), time.perf_counter()
        f_torch()
        c2, t2 = time.process_time(), time.perf_counter()
        t_np.append((t1 - t0) * 1e3)
        t_torch.append((t2 - t1) * 1e3)
        cpu.append((c1 - c0) / max(c2 - c1, 1e-9))
    return t_np, t_torch, statistics.median(cpu)


def charlm_pairs(K=65, H=128, T=32, N=16, seed=0):
    """Yield (cell, numpy_step, torch_step): one training step of the character model.

    NumPy: :func:`rnncourse.charlm.charlm_loss` (one-hot inputs, cell, output layer, summed
    cross-entropy over T averaged over N, BPTT), clipping to global norm 5, one Adam step.
    PyTorch: the same model (``nn.RNN``/``nn.LSTM`` on one-hot inputs, ``nn.Linear``,
    ``cross_entropy(reduction="sum") / N``, ``clip_grad_norm_(5)``, ``optim.Adam``).
    """
    import torch

    from rnncourse.charlm import charlm_loss, init_charlm
    from rnncourse.clipping import clip_by_global_norm
    from rnncourse.optim import adam_init, adam_step

    rng = np.random.default_rng(seed)
    x_idx, y_idx = rng.integers(0, K, (N, T)), rng.integers(0, K, (N, T))
    xt = torch.nn.functional.one_hot(torch.from_numpy(x_idx), K).double()
    yt = torch.from_numpy(y_idx)
    for cell, module in (("rnn", torch.nn.RNN), ("lstm", torch.nn.LSTM)):
        box = {"p": init_charlm(K, H, seed, cell)}
        box["s"] = adam_init(box["p"])

        def np_step(box=box, cell=cell):
            loss, grads, _ = charlm_loss(box["p"], x_idx, y_idx, cell)
            grads, _ = clip_by_global_norm(grads, 5.0)
            box["p"], box["s"] = adam_step(box["p"], grads, box["s"], lr=1e-3)

        rnn = module(K, H, batch_first=True, dtype=torch.float64)
        out = torch.nn.Linear(H, K, dtype=torch.float64)
        params = list(rnn.parameters()) + list(out.parameters())
        opt = torch.optim.Adam(params, lr=1e-3)

        def torch_step(rnn=rnn, out=out, params=params, opt=opt):
            opt.zero_grad(set_to_none=True)
            scores = out(rnn(xt)[0])
            loss = torch.nn.functional.cross_entropy(scores.reshape(N * T, K), yt.reshape(-1),
                                                     reduction="sum") / N
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()

        yield cell, np_step, torch_step


def run_charlm(repeats, warmup):
    """Print one table: a character-model training step, NumPy against PyTorch."""
    print("character model, one training step (K=65, H=128, T=32, N=16): loss, BPTT, "
          "clipping, Adam")
    print(f"{'cell':<6} {'numpy best':>11} {'torch best':>11} {'ratio':>7}   "
          f"{'paired':>7} {'cpu':>7}")
    for cell, f_np, f_torch in charlm_pairs():
        t_np, t_torch, cpu = time_pair(f_np, f_torch, repeats, warmup)
        paired = statistics.median(a / b for a, b in zip(t_np, t_torch))
        print(f"{cell:<6} {min(t_np):11.2f} {min(t_torch):11.2f} "
              f"{min(t_np) / min(t_torch):7.2f}   {paired:7.2f} {cpu:7.2f}")
    print()


def run_size(T, N, D, H, repeats, warmup, wanted, header, peak, torch_peak):
    """Time every wanted cell at one size and print its table; return the rows."""
    print(header)
    rng = np.random.default_rng(0)
    rows = []
    for name, f_np, f_torch in cell_pairs(T, N, D, H, rng):
        if name not in wanted:
            continue
        t_np, t_torch, cpu = time_pair(f_np, f_torch, repeats, warmup)
        paired = statistics.median(a / b for a, b in zip(t_np, t_torch))
        rows.append((name, min(t_np), min(t_torch), statistics.median(t_np),
                     statistics.median(t_torch), paired, cpu))
    print()
    print(f"{'cell':<6} {'numpy best':>11} {'torch best':>11} {'ratio':>7}   "
          f"{'numpy med':>10} {'torch med':>10} {'ratio':>7}   {'paired':>7} "
          f"{'cpu':>7}")
    for name, bn, bt, mn, mt, pr, cpu in rows:
        print(f"{name:<6} {bn:11.2f} {bt:11.2f} {bn / bt:7.2f}   {mn:10.2f} {mt:10.2f} "
              f"{mn / mt:7.2f}   {pr:7.2f} {cpu:7.2f}")
    print("ms per call (forward + backward); ratio = numpy / torch (< 1: numpy faster); "
          "paired = median over repeats of numpy_i / torch_i (load hits both alike); "
          "cpu = the same paired median of CPU time (process_time), not inflated by "
          "waiting for a core")
    for name, bn, bt, *_ in rows:
        f = flops(name, T, N, D, H)
        rate, rate_t = f / (bn * 1e-3), f / (bt * 1e-3)
        print(f"  {name}: {f / 1e9:.4g} GFLOP per call; numpy best {rate / 1e9:.3g} "
              f"GFLOP/s = {rate / peak:.1%} of numpy's matmul peak; torch best "
              f"{rate_t / 1e9:.3g} GFLOP/s = {rate_t / torch_peak:.1%} of torch's")
    print()
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--T", type=int, default=None)
    ap.add_argument("--N", type=int, default=None)
    ap.add_argument("--D", type=int, default=None)
    ap.add_argument("--H", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None,
                    help="repeats per cell (default: 30, fewer for the large sizes)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for both numpy's BLAS and torch (default: numpy's)")
    ap.add_argument("--cells", default="rnn,gru,lstm")
    ap.add_argument("--no-charlm", dest="charlm", action="store_false",
                    help="skip the character-model training step")
    args = ap.parse_args(argv)

    import torch

    n_threads, how = numpy_threads(args.threads)
    torch.set_num_threads(n_threads)
    given = [args.T, args.N, args.D, args.H]
    if any(v is not None for v in given):
        defaults = GRID[1]
        sizes = [tuple(d if v is None else v for v, d in zip(given, defaults))]
    else:
        sizes = GRID
    peak, torch_peak = matmul_peak(), matmul_peak(library="torch")
    print(f"measured float64 matmul peak ((512, 512) x (512, 512), {n_threads} "
          f"thread{'s' * (n_threads != 1)}): numpy {peak / 1e9:.2f} GFLOP/s, "
          f"torch {torch_peak / 1e9:.2f} GFLOP/s\n")
    wanted = set(args.cells.split(","))
    all_rows = {}
    for T, N, D, H in sizes:
        repeats = args.repeats or auto_repeats(T, N, D, H)
        header = (f"T={T} N={N} D={D} H={H} float64, CPU; threads: numpy {n_threads} "
                  f"({how}), torch {torch.get_num_threads()}; numpy {np.__version__}, "
                  f"torch {torch.__version__}; {repeats} repeats after {args.warmup} warm-up")
        all_rows[(T, N, D, H)] = run_size(T, N, D, H, repeats, args.warmup, wanted,
                                          header, peak, torch_peak)
    if args.charlm:
        run_charlm(args.repeats or 20, args.warmup)
    return all_rows


if __name__ == "__main__":
    main()
