"""Helpers shared by the sequence loops of the cells (RNN, GRUs, LSTM).

``check_stacked`` checks a cell's gate-stacked ``U (kH, D)``, ``W (kH, H)``,
``b (kH,)``; ``sigmoid_`` and ``tanh_`` are the in-place activations the
time loops use (the sigmoid built from ``exp``);
``mix_`` is the GRUs' update ``h_t = z n_t + (1 - z) h_{t-1}``, in place;
``dsigmoid_`` and ``dtanh_`` the activations' derivatives, into a buffer;
``outer_sum`` and ``tall_matmul`` the products over all T*N rows after a backward loop;
``chunk_steps`` and ``add_outer_`` the same products taken a chunk of steps at a time inside
the loop (while the chunk's gradients are still in the cache).
"""
from __future__ import annotations

import numpy as np

from ._validation import ShapeChecker


def check_stacked(chk: ShapeChecker, U, W, b, k: int, names: str):
    """Check ``U (kH, D)``, ``W (kH, H)``, ``b (kH,)``; ``H`` is fixed by ``U``."""
    kH = f"{k}H"
    U = chk.array("params.U", U, f"{kH} D")
    if U.shape[0] % k:
        chk.fail(f"params.U must have {k}*H rows (gate blocks {names}), got shape "
                 f"({U.shape[0]}, {U.shape[1]}) whose {U.shape[0]} rows are not a multiple of {k}")
    chk.dims["H"] = U.shape[0] // k
    chk.source["H"] = "params.U"
    W = chk.array("params.W", W, f"{kH} H")
    b = chk.array("params.b", b, kH)
    return U, W, b


def sigmoid_(a: np.ndarray) -> np.ndarray:
    """In place: ``a <- 1 / (1 + exp(-a))``.

    (About 20% faster than ``0.5 + 0.5 tanh(a / 2)`` with NumPy 2.)
    ``exp`` may overflow to ``inf`` for ``a < -709`` and the result is then
    the correct limit 0; callers run inside ``np.errstate(over="ignore")``.
    """
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1.0
    np.reciprocal(a, out=a)
    return a


def tanh_(a: np.ndarray) -> np.ndarray:
    """In place: ``a <- tanh(a)``.  NumPy 2's ``tanh`` is vectorised and about 25%
    faster than ``2 / (1 + exp(-2a)) - 1`` (measured at the sizes of bench_cells.py)."""
    return np.tanh(a, out=a)


def mix_(out: np.ndarray, n: np.ndarray, z: np.ndarray, h_prev: np.ndarray) -> np.ndarray:
    """Into ``out``: ``h_t = z * n + (1 - z) * h_{t-1}``, as ``h_{t-1} + z (n - h_{t-1})``."""
    np.subtract(n, h_prev, out=out)
    out *= z
    out += h_prev
    return out


def dsigmoid_(out: np.ndarray, s: np.ndarray, times) -> np.ndarray:
    """Into ``out``: ``times * s * (1 - s)``, the sigmoid's derivative from its output ``s``
    (as ``s - s^2``; no temporaries of the size of ``s``)."""
    np.multiply(s, s, out=out)
    np.subtract(s, out, out=out)
    out *= times
    return out


def dtanh_(out: np.ndarray, t: np.ndarray, times) -> np.ndarray:
    """Into ``out``: ``times * (1 - t^2)``, tanh's derivative from its output ``t``."""
    np.multiply(t, t, out=out)
    np.subtract(1.0, out, out=out)
    out *= times
    return out


def outer_sum(d: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``d.T @ v`` (P, Q) for d (M, P), v (M, Q): the sum over the M = T*N rows of the
    outer products ``d_m v_m^T``, i.e. a weight gradient of all steps in one product.

    Computed as the transpose of ``v.T @ d`` (the same sums): with OpenBLAS and M much
    larger than P and Q that order runs 10-30% faster (benchmarks/bench_cells.py).
    """
    return np.ascontiguousarray((v.T @ d).T)


def tall_matmul(d: np.ndarray, U: np.ndarray) -> np.ndarray:
    """``d @ U`` (M, Q) for a tall d (M, P) and U (P, Q), e.g. ``dx`` of all steps;
    computed as the transpose of ``U.T @ d.T``, faster as in :func:`outer_sum`."""
    return np.ascontiguousarray((U.T @ d.T).T)


#: Rows (steps x batch) per chunk of the backward loops' weight-gradient products: about
#: 1024 rows keep a chunk's (rows, kH) gradients in the L2/L3 cache and each product large
#: enough to run near the matrix-product peak (benchmarks/bench_cells.py: 10-20% faster
#: than one product over all T*N rows at T, N, H = 100, 128, 512, and no (T, N, kH) buffer).
CHUNK_ROWS = 1024


def chunk_steps(T: int, N: int) -> int:
    """Time steps per chunk, ``ceil(CHUNK_ROWS / N)`` capped at ``T`` (one chunk when T*N is
    small).  ``CHUNK_ROWS`` is read at each call, so a test can set it to force many chunks."""
    return max(1, min(T, -(-CHUNK_ROWS // N)))


def add_outer_(acc: np.ndarray, v: np.ndarray, d: np.ndarray, tmp: np.ndarray) -> np.ndarray:
    """In place: ``acc += v.T @ d`` for v (M, Q), d (M, P), acc and tmp (Q, P).

    The transposed accumulator (``dU.T``) is the faster order (see :func:`outer_sum`);
    ``tmp`` is the product's reused buffer."""
    np.matmul(v.T, d, out=tmp)
    acc += tmp
    return acc


def prev_rows(first: np.ndarray, seq_tm: np.ndarray, t0: int, t1: int) -> np.ndarray:
    """The previous states of steps t0..t1-1 as (rows, H): ``seq_tm[t0-1:t1-1]`` (T, N, H)
    time-major, with ``first`` (N, H) (``h_0`` or ``c_0``) standing for step -1."""
    prev = seq_tm[t0 - 1:t1 - 1] if t0 else np.concatenate([first[None], seq_tm[:t1 - 1]])
    return prev.reshape(-1, seq_tm.shape[2])
