r"""The simplified GRU of the notes: one update gate, no reset gate.

Equations (gate row blocks z, n)::

    z_t = sigmoid(U_z x_t + W_z h_{t-1} + b_z)            update gate
    n_t = tanh(U_n x_t + W_n h_{t-1} + b_n)               candidate state (Ng: c~)
    h_t = z_t * n_t + (1 - z_t) * h_{t-1}

``z`` near 0 copies the memory ``h_{t-1}`` forward unchanged, which is what
lets a GRU carry information (and gradients) across long gaps.  The full GRU,
with a reset gate, is :mod:`rnncourse.gru`.

Shapes: ``x`` (N, T, D), ``h0`` (N, H), ``h`` (N, T, H), ``U`` (2H, D),
``W`` (2H, H), ``b`` (2H,).  Inside the sequence functions everything is
time-major (T, N, ...); the input projection ``x @ U.T + b`` of all steps is
one matrix product before the time loop, and the weight gradients are one
matrix product after the loop.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._gates import (check_stacked, dsigmoid_, dtanh_, mix_, outer_sum, sigmoid_,
                     tall_matmul, tanh_)
from ._validation import ShapeChecker, as_rng
from .activations import sigmoid
from .initializers import gate_blocks
from .rnn import SequenceGrads, StepGrads


class SimpleGRUParams(NamedTuple):
    """Parameters of the simplified GRU (gate row blocks z, n).

    U : (2H, D)  input weights, rows ``[U_z; U_n]``
    W : (2H, H)  recurrent weights, rows ``[W_z; W_n]``
    b : (2H,)    biases ``[b_z, b_n]``
    """

    U: np.ndarray
    W: np.ndarray
    b: np.ndarray


class SimpleGRUStepCache(NamedTuple):
    """Saved by :func:`simple_gru_step_forward`: x (N, D), h_prev (N, H), gates z, n (N, H)."""

    x: np.ndarray
    h_prev: np.ndarray
    z: np.ndarray
    n: np.ndarray
    params: SimpleGRUParams


class SimpleGRUCache(NamedTuple):
    """Saved by :func:`simple_gru_forward`, time-major.

    x_tm : (T, N, D) inputs.  h0 : (N, H).  h_all : (T+1, N, H), ``h_all[0] = h0``.
    h_tm : (T, N, H) hidden states (a view ``h_all[1:]``).
    z, n : (T, N, H) update gate and candidate state at every step.
    """

    x_tm: np.ndarray
    h0: np.ndarray
    h_all: np.ndarray
    h_tm: np.ndarray
    z: np.ndarray
    n: np.ndarray
    params: SimpleGRUParams


def _check_simple_params(chk: ShapeChecker, params) -> SimpleGRUParams:
    if not isinstance(params, tuple) or len(params) != 3:
        chk.fail(f"params must be SimpleGRUParams(U, W, b), got {type(params).__name__}")
    return SimpleGRUParams(*check_stacked(chk, *params, k=2, names="z, n"))


def simple_gru_step_forward(x, h_prev, params: SimpleGRUParams):
    r"""One step of the simplified GRU.

    Parameters
    ----------
    x : (N, D) input at this step.
    h_prev : (N, H) previous hidden state :math:`h_{t-1}`.
    params : SimpleGRUParams with U (2H, D), W (2H, H), b (2H,), rows ``[z; n]``.

    Returns
    -------
    h_next : (N, H)
        .. math::
            z = \sigma(U_z x + W_z h_{t-1} + b_z),\quad
            n = \tanh(U_n x + W_n h_{t-1} + b_n),\quad
            h_t = z \odot n + (1 - z) \odot h_{t-1}
    cache : SimpleGRUStepCache (exposes ``z`` and ``n``, each (N, H)).
    """
    chk = ShapeChecker("simple_gru_step_forward")
    params = _check_simple_params(chk, params)
    x = chk.array("x", x, "N D")
    h_prev = chk.array("h_prev", h_prev, "N H")
    U, W, b = params
    H = W.shape[1]
    a = x @ U.T + h_prev @ W.T + b                   # a = U x + W h_{t-1} + b, blocks [a_z, a_n]
    z = sigmoid(a[:, :H])                           # z = sigmoid(a_z)
    n = np.tanh(a[:, H:])                            # n = tanh(a_n)
    h_next = h_prev + z * (n - h_prev)               # h_t = z n + (1 - z) h_{t-1}
    return h_next, SimpleGRUStepCache(x, h_prev, z, n, params)


def simple_gru_step_backward(dh_next, cache: SimpleGRUStepCache) -> StepGrads:
    """Backward pass of :func:`simple_gru_step_forward`.

    Parameters
    ----------
    dh_next : (N, H) gradient of the loss with respect to ``h_next``.
    cache : SimpleGRUStepCache.

    Returns
    -------
    StepGrads(dx (N, D), dh_prev (N, H), dparams SimpleGRUParams(dU (2H, D), dW (2H, H), db (2H,)))
    """
    chk = ShapeChecker("simple_gru_step_backward")
    chk.cache("cache", cache, SimpleGRUStepCache)
    chk.array("cache.h_prev", cache.h_prev, "N H")
    dh = chk.array("dh_next", dh_next, "N H")
    x, h_prev, z, n, (U, W, _) = cache
    H = W.shape[1]
    da = np.empty((x.shape[0], 2 * H))
    dh_prev = dh * (1.0 - z)                         # h_t = ... + (1 - z) h_{t-1}
    da[:, :H] = dh * (n - h_prev) * z * (1.0 - z)    # h_t = z n ...;  z = sigmoid(a_z)
    da[:, H:] = dh * z * (1.0 - n * n)               # h_t = z n ...;  n = tanh(a_n)
    dx = da @ U                                      # a = U x ...
    dh_prev += da @ W                                #     + W h_{t-1} ...
    dU = da.T @ x
    dW = da.T @ h_prev
    db = da.sum(axis=0)                              #     + b
    return StepGrads(dx, dh_prev, SimpleGRUParams(dU, dW, db))


def simple_gru_forward(x, h0, params: SimpleGRUParams):
    r"""Run the simplified GRU over a whole sequence.

    Parameters
    ----------
    x : (N, T, D) inputs.
    h0 : (N, H) initial state (``None`` means zeros).
    params : SimpleGRUParams with U (2H, D), W (2H, H), b (2H,), rows ``[z; n]``.

    Returns
    -------
    h : (N, T, H) hidden states, :math:`h_t = z_t \odot n_t + (1 - z_t) \odot h_{t-1}`.
    cache : SimpleGRUCache; ``cache.z`` and ``cache.n`` are the gate values (T, N, H).
    """
    chk = ShapeChecker("simple_gru_forward")
    params = _check_simple_params(chk, params)
    x = chk.array("x", x, "N T D")
    U, W, b = params
    H = W.shape[1]
    h0 = np.zeros((x.shape[0], H)) if h0 is None else chk.array("h0", h0, "N H")
    x_tm = np.ascontiguousarray(x.transpose(1, 0, 2))  # (T, N, D)
    T, N, _ = x_tm.shape
    gates = (x_tm.reshape(T * N, -1) @ U.T).reshape(T, N, 2 * H)  # U x_t for all t ...
    gates += b                                         #             + b
    h_all = np.empty((T + 1, N, H))
    h_all[0] = h0
    WT = W.T
    tmp = np.empty((N, 2 * H))
    with np.errstate(over="ignore"):  # exp(-a) -> inf gives the exact limit
        for t in range(T):
            g, h_prev, h = gates[t], h_all[t], h_all[t + 1]
            np.matmul(h_prev, WT, out=tmp)
            g += tmp                                   # a_t = U x_t + b + W h_{t-1}
            gz, gn = g[:, :H], g[:, H:]
            sigmoid_(gz)                               # z = sigmoid(a_z)
            tanh_(gn)                                  # n = tanh(a_n)
            mix_(h, gn, gz, h_prev)                    # h_t = h_{t-1} + z (n - h_{t-1})
    h_tm = h_all[1:]
    cache = SimpleGRUCache(x_tm, h0, h_all, h_tm, gates[:, :, :H], gates[:, :, H:], params)
    return h_tm.transpose(1, 0, 2), cache


def simple_gru_backward(dh, cache: SimpleGRUCache) -> SequenceGrads:
    """Backpropagation through time for :func:`simple_gru_forward`.

    Parameters
    ----------
    dh : (N, T, H) gradient of the loss with respect to every hidden state from
        above; the gradient along the recurrence is added inside.
    cache : SimpleGRUCache.

    Returns
    -------
    SequenceGrads(dx (N, T, D), dh0 (N, H), dparams SimpleGRUParams(dU, dW, db))
    """
    ShapeChecker("simple_gru_backward").cache("cache", cache, SimpleGRUCache)
    T, N, H = cache.h_tm.shape
    chk = ShapeChecker("simple_gru_backward", N=N, T=T, H=H)
    dh = chk.array("dh", dh, "N T H")
    U, W, _ = cache.params
    da = np.empty((T, N, 2 * H))                     # dL/da_t, blocks [z, n]
    carry = np.zeros((N, H))                         # dL/dh_t from step t+1
    d, zd, tmp = np.empty((N, H)), np.empty((N, H)), np.empty((N, H))
    for t in range(T - 1, -1, -1):
        z, n, h_prev = cache.z[t], cache.n[t], cache.h_all[t]
        np.add(dh[:, t], carry, out=d)               # dL/dh_t: from above + from t+1
        np.subtract(n, h_prev, out=tmp)              # h_t = h_{t-1} + z (n - h_{t-1})
        tmp *= d
        dsigmoid_(da[t, :, :H], z, tmp)              # z = sigmoid(a_z)
        np.multiply(d, z, out=zd)                    # h_t = z n ...
        dtanh_(da[t, :, H:], n, zd)                  # n = tanh(a_n)
        np.matmul(da[t], W, out=carry)               # a_t = ... + W h_{t-1}
        carry += d                                   # h_t = ... + (1 - z) h_{t-1}
        carry -= zd
    D = cache.x_tm.shape[2]
    flat = da.reshape(T * N, 2 * H)
    dU = outer_sum(flat, cache.x_tm.reshape(T * N, D))   # a_t = U x_t ...
    dW = outer_sum(flat, cache.h_all[:-1].reshape(-1, H))  #   + W h_{t-1} ...
    db = flat.sum(axis=0)                                #   + b
    dx = tall_matmul(flat, U).reshape(T, N, D).transpose(1, 0, 2)
    return SequenceGrads(dx, carry, SimpleGRUParams(dU, dW, db))


def init_simple_gru_params(D: int, H: int, rng) -> SimpleGRUParams:
    """Random simplified-GRU parameters.

    Parameters
    ----------
    D, H : input and hidden sizes.
    rng : int seed or ``numpy.random.Generator``.

    Returns
    -------
    SimpleGRUParams: U (2H, D) Xavier-uniform per gate block, W (2H, H) one
    random orthogonal (H, H) matrix per block, b (2H,) zeros.
    """
    chk = ShapeChecker("init_simple_gru_params")
    D, H = chk.positive_int("D", D), chk.positive_int("H", H)
    return SimpleGRUParams(*gate_blocks(D, H, 2, as_rng(rng, "init_simple_gru_params")))
