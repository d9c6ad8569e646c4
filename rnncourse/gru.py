r"""The full gated recurrent unit (GRU), with either placement of the reset gate.

Equations (gate row blocks r, z, n, in PyTorch's order)::

    r_t = sigmoid(U_r x_t + W_r h_{t-1} + b_r)            reset ("relevance") gate
    z_t = sigmoid(U_z x_t + W_z h_{t-1} + b_z)            update gate
    n_t = tanh(U_n x_t + W_n (r_t * h_{t-1}) + b_n)       reset_after=False (notes, Cho et al. 2014)
    n_t = tanh(U_n x_t + b_n + r_t * (W_n h_{t-1} + b_hn))  reset_after=True (PyTorch, cuDNN)
    h_t = z_t * n_t + (1 - z_t) * h_{t-1}

``z`` near 0 copies the memory ``h_{t-1}`` forward unchanged, which is what
lets a GRU carry information (and gradients) across long gaps.  PyTorch writes
``h_t = (1 - z') * n_t + z' * h_{t-1}`` with ``z' = 1 - z``: its update-gate
rows (``weight_ih_l0[H:2H]``, ``weight_hh_l0[H:2H]`` and the matching bias
entries) are the negatives of ours.  The notes' simplified GRU is
:mod:`rnncourse.simple_gru` (its names are re-exported here for the notebooks).

Shapes: ``x`` (N, T, D), ``h0`` (N, H), ``h`` (N, T, H), ``U`` (3H, D), ``W`` (3H, H),
``b`` (3H,), ``b_hn`` (H,).  The sequence functions work time-major (T, N, ...): the input
projection ``x @ U.T + b`` of all steps is one matrix product before the time loop, the
weight gradients one after it.
"""
from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np

from ._gates import (add_outer_, check_stacked, chunk_steps, dsigmoid_, dtanh_, mix_,
                     sigmoid_, tanh_)
from ._validation import ShapeChecker, as_rng
from .activations import sigmoid
from .initializers import gate_blocks
from .rnn import SequenceGrads, StepGrads
from .simple_gru import (SimpleGRUCache, SimpleGRUParams, SimpleGRUStepCache,  # noqa: F401
                         init_simple_gru_params, simple_gru_backward, simple_gru_forward,
                         simple_gru_step_backward, simple_gru_step_forward)


class GRUParams(NamedTuple):
    """Parameters of the full GRU (gate row blocks r, z, n; PyTorch's order).

    U : (3H, D)  input weights ``[U_r; U_z; U_n]`` (PyTorch ``weight_ih_l0`` with rows H:2H negated)
    W : (3H, H)  recurrent weights ``[W_r; W_z; W_n]`` (PyTorch ``weight_hh_l0``, rows H:2H negated)
    b : (3H,)    biases ``[b_r, b_z, b_n]`` (PyTorch: ``bias_ih_l0`` plus the r, z part of
                 ``bias_hh_l0``, z part negated)
    b_hn : (H,) or None  hidden bias inside the reset product; required when
                 ``reset_after=True`` (PyTorch ``bias_hh_l0[2H:3H]``), must be
                 ``None`` when ``reset_after=False``.
    """

    U: np.ndarray
    W: np.ndarray
    b: np.ndarray
    b_hn: Optional[np.ndarray] = None


class GRUStepCache(NamedTuple):
    """Saved by :func:`gru_step_forward`.

    x (N, D), h_prev (N, H); gates r, z, n (N, H); ``hn`` (N, H) is
    ``W_n h_prev + b_hn`` (reset_after=True) and ``rh`` (N, H) is ``r * h_prev``
    (reset_after=False); the other one is ``None``.
    """

    x: np.ndarray
    h_prev: np.ndarray
    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    hn: Optional[np.ndarray]
    rh: Optional[np.ndarray]
    params: GRUParams
    reset_after: bool


class GRUCache(NamedTuple):
    """Saved by :func:`gru_forward`, time-major.

    x_tm : (T, N, D).  h0 : (N, H).  h_all : (T+1, N, H), ``h_all[0] = h0``.
    h_tm : (T, N, H) hidden states.  r, z, n : (T, N, H) gate values.
    hn : (T, N, H) ``W_n h_{t-1} + b_hn`` (reset_after=True, else None).
    rh : (T, N, H) ``r_t * h_{t-1}`` (reset_after=False, else None).
    """

    x_tm: np.ndarray
    h0: np.ndarray
    h_all: np.ndarray
    h_tm: np.ndarray
    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    hn: Optional[np.ndarray]
    rh: Optional[np.ndarray]
    params: GRUParams
    reset_after: bool


def _check_gru_params(chk: ShapeChecker, params, reset_after) -> GRUParams:
    if reset_after is not True and reset_after is not False:
        chk.fail(f"reset_after must be True or False, got {reset_after!r}")
    if not isinstance(params, tuple) or len(params) not in (3, 4):
        chk.fail(f"params must be GRUParams(U, W, b, b_hn), got {type(params).__name__}")
    U, W, b = check_stacked(chk, *params[:3], k=3, names="r, z, n")
    b_hn = params[3] if len(params) == 4 else None
    H = chk.dims["H"]
    if reset_after:
        if b_hn is None:
            chk.fail(f"params.b_hn is required when reset_after=True "
                     f"(n = tanh(U_n x + b_n + r * (W_n h_prev + b_hn))), "
                     f"expected an array of shape (H,) = ({H},), got None")
        b_hn = chk.array("params.b_hn", b_hn, "H")
    elif b_hn is not None:
        chk.fail(f"params.b_hn must be None when reset_after=False (the notes' GRU has no "
                 f"separate hidden bias), got an array of shape {np.shape(b_hn)}")
    return GRUParams(U, W, b, b_hn)


def gru_step_forward(x, h_prev, params: GRUParams, reset_after: bool = False):
    r"""One step of the full GRU.

    Parameters
    ----------
    x : (N, D) input at this step.
    h_prev : (N, H) previous hidden state :math:`h_{t-1}`.
    params : GRUParams with U (3H, D), W (3H, H), b (3H,) (rows ``[r; z; n]``)
        and b_hn (H,) when ``reset_after=True`` (else ``None``).
    reset_after : where the reset gate acts on the candidate (see Returns).

    Returns
    -------
    h_next : (N, H)
        .. math::
            r = \sigma(U_r x + W_r h_{t-1} + b_r),\quad
            z = \sigma(U_z x + W_z h_{t-1} + b_z)

            n = \tanh(U_n x + W_n (r \odot h_{t-1}) + b_n)
            \quad\text{(reset_after=False, the notes and Cho et al.)}

            n = \tanh(U_n x + b_n + r \odot (W_n h_{t-1} + b_{hn}))
            \quad\text{(reset_after=True, PyTorch and cuDNN)}

            h_t = z \odot n + (1 - z) \odot h_{t-1}
    cache : GRUStepCache (exposes ``r``, ``z``, ``n``, each (N, H)).
    """
    chk = ShapeChecker("gru_step_forward")
    params = _check_gru_params(chk, params, reset_after)
    x = chk.array("x", x, "N D")
    h_prev = chk.array("h_prev", h_prev, "N H")
    U, W, b, b_hn = params
    H = W.shape[1]
    ax = x @ U.T + b                                 # U x + b, blocks [r, z, n]
    arz = ax[:, :2 * H] + h_prev @ W[:2 * H].T       # a_rz = U_rz x + W_rz h_{t-1} + b_rz
    r = sigmoid(arz[:, :H])                         # r = sigmoid(a_r)
    z = sigmoid(arz[:, H:])                         # z = sigmoid(a_z)
    if reset_after:
        hn = h_prev @ W[2 * H:].T + b_hn             # W_n h_{t-1} + b_hn
        rh = None
        n = np.tanh(ax[:, 2 * H:] + r * hn)          # n = tanh(U_n x + b_n + r (W_n h + b_hn))
    else:
        hn = None
        rh = r * h_prev                              # r h_{t-1}
        n = np.tanh(ax[:, 2 * H:] + rh @ W[2 * H:].T)  # n = tanh(U_n x + b_n + W_n (r h))
    h_next = h_prev + z * (n - h_prev)               # h_t = z n + (1 - z) h_{t-1}
    return h_next, GRUStepCache(x, h_prev, r, z, n, hn, rh, params, reset_after)


def gru_step_backward(dh_next, cache: GRUStepCache) -> StepGrads:
    """Backward pass of :func:`gru_step_forward` (either ``reset_after``).

    Parameters
    ----------
    dh_next : (N, H) gradient of the loss with respect to ``h_next``.
    cache : GRUStepCache.

    Returns
    -------
    StepGrads(dx (N, D), dh_prev (N, H), dparams GRUParams(dU (3H, D), dW (3H, H), db (3H,),
    db_hn (H,) or None))
    """
    chk = ShapeChecker("gru_step_backward")
    chk.cache("cache", cache, GRUStepCache)
    chk.array("cache.h_prev", cache.h_prev, "N H")
    dh = chk.array("dh_next", dh_next, "N H")
    x, h_prev, r, z, n = cache.x, cache.h_prev, cache.r, cache.z, cache.n
    U, W, _, b_hn = cache.params
    H = W.shape[1]
    Wrz, Wn = W[:2 * H], W[2 * H:]
    dax = np.empty((x.shape[0], 3 * H))               # dL/d(input-side pre-activations) [r, z, n]
    dh_prev = dh * (1.0 - z)                         # h_t = ... + (1 - z) h_{t-1}
    dax[:, H:2 * H] = dh * (n - h_prev) * z * (1.0 - z)  # h_t = z n ...; z = sigmoid(a_z)
    dan = dh * z * (1.0 - n * n)                     # h_t = z n ...; n = tanh(a_n)
    dax[:, 2 * H:] = dan
    if cache.reset_after:
        dhn = dan * r                                # a_n = ... + r (W_n h_{t-1} + b_hn)
        dax[:, :H] = dan * cache.hn * r * (1.0 - r)  # same line;  r = sigmoid(a_r)
        dah = dax.copy()                             # hidden-side pre-activations [r, z, hn]
        dah[:, 2 * H:] = dhn
        dh_prev += dah @ W                           # W h_{t-1} (all three blocks)
        dW = dah.T @ h_prev
        db_hn = dhn.sum(axis=0)                      # ... + b_hn
    else:
        drh = dan @ Wn                               # a_n = ... + W_n (r h_{t-1})
        dax[:, :H] = drh * h_prev * r * (1.0 - r)    # r h_{t-1};  r = sigmoid(a_r)
        dh_prev += drh * r                           # r h_{t-1}
        dh_prev += dax[:, :2 * H] @ Wrz              # a_rz = ... + W_rz h_{t-1}
        dW = np.concatenate([dax[:, :2 * H].T @ h_prev, dan.T @ cache.rh])
        db_hn = None
    dx = dax @ U                                     # a = U x ...
    dU = dax.T @ x
    db = dax.sum(axis=0)                             #     + b
    return StepGrads(dx, dh_prev, GRUParams(dU, dW, db, db_hn))


def gru_forward(x, h0, params: GRUParams, reset_after: bool = False):
    r"""Run the full GRU over a whole sequence.

    Parameters
    ----------
    x : (N, T, D) inputs.
    h0 : (N, H) initial state (``None`` means zeros).
    params : GRUParams with U (3H, D), W (3H, H), b (3H,) (rows ``[r; z; n]``)
        and b_hn (H,) when ``reset_after=True`` (else ``None``).
    reset_after : ``False`` for the notes' (Cho et al.) candidate
        :math:`n_t = \tanh(U_n x_t + W_n (r_t \odot h_{t-1}) + b_n)`,
        ``True`` for PyTorch's
        :math:`n_t = \tanh(U_n x_t + b_n + r_t \odot (W_n h_{t-1} + b_{hn}))`.

    Returns
    -------
    h : (N, T, H) hidden states, :math:`h_t = z_t \odot n_t + (1 - z_t) \odot h_{t-1}`.
    cache : GRUCache; ``cache.r``, ``cache.z``, ``cache.n`` are the gate values (T, N, H).

    Notes
    -----
    ``x @ U.T + b`` for all steps is one matrix product before the loop; the
    array it fills is overwritten in place, step by step, with ``[r, z, n]``.
    """
    chk = ShapeChecker("gru_forward")
    params = _check_gru_params(chk, params, reset_after)
    x = chk.array("x", x, "N T D")
    U, W, b, b_hn = params
    H = W.shape[1]
    h0 = np.zeros((x.shape[0], H)) if h0 is None else chk.array("h0", h0, "N H")
    x_tm = np.ascontiguousarray(x.transpose(1, 0, 2))  # (T, N, D)
    T, N, _ = x_tm.shape
    H2 = 2 * H
    gates = (x_tm.reshape(T * N, -1) @ U.T).reshape(T, N, 3 * H)  # U x_t for all t ...
    gates += b                                         #             + b
    h_all = np.empty((T + 1, N, H))
    h_all[0] = h0
    tmpH = np.empty((N, H))
    if reset_after:
        hn_tm, rh_tm = np.empty((T, N, H)), None
        WT = W.T
        tmp3 = np.empty((N, 3 * H))
        with np.errstate(over="ignore"):  # exp(-a) -> inf gives the exact limit
            for t in range(T):
                g, h_prev, h = gates[t], h_all[t], h_all[t + 1]
                np.matmul(h_prev, WT, out=tmp3)        # W h_{t-1}, blocks [r, z, n]
                grz, gn = g[:, :H2], g[:, H2:]
                grz += tmp3[:, :H2]                    # a_rz = U_rz x_t + b_rz + W_rz h_{t-1}
                sigmoid_(grz)                          # r, z = sigmoid(a_rz)
                hn = hn_tm[t]
                np.add(tmp3[:, H2:], b_hn, out=hn)     # W_n h_{t-1} + b_hn
                np.multiply(g[:, :H], hn, out=tmpH)
                gn += tmpH                             # a_n = U_n x_t + b_n + r (W_n h + b_hn)
                tanh_(gn)                              # n = tanh(a_n)
                mix_(h, gn, g[:, H:H2], h_prev)        # h_t = h_{t-1} + z (n - h_{t-1})
    else:
        hn_tm, rh_tm = None, np.empty((T, N, H))
        WrzT, WnT = W[:H2].T, W[H2:].T
        tmp2 = np.empty((N, H2))
        with np.errstate(over="ignore"):  # exp(-a) -> inf gives the exact limit
            for t in range(T):
                g, h_prev, h = gates[t], h_all[t], h_all[t + 1]
                grz, gn = g[:, :H2], g[:, H2:]
                np.matmul(h_prev, WrzT, out=tmp2)
                grz += tmp2                            # a_rz = U_rz x_t + b_rz + W_rz h_{t-1}
                sigmoid_(grz)                          # r, z = sigmoid(a_rz)
                rh = rh_tm[t]
                np.multiply(g[:, :H], h_prev, out=rh)  # r h_{t-1}
                np.matmul(rh, WnT, out=tmpH)
                gn += tmpH                             # a_n = U_n x_t + b_n + W_n (r h_{t-1})
                tanh_(gn)                              # n = tanh(a_n)
                mix_(h, gn, g[:, H:H2], h_prev)        # h_t = h_{t-1} + z (n - h_{t-1})
    h_tm = h_all[1:]
    cache = GRUCache(x_tm, h0, h_all, h_tm, gates[:, :, :H], gates[:, :, H:H2], gates[:, :, H2:],
                     hn_tm, rh_tm, params, bool(reset_after))
    return h_tm.transpose(1, 0, 2), cache


def gru_backward(dh, cache: GRUCache) -> SequenceGrads:
    """Backpropagation through time for :func:`gru_forward` (either ``reset_after``).

    Parameters
    ----------
    dh : (N, T, H) gradient of the loss with respect to every hidden state from
        above; the gradient along the recurrence is added inside.
    cache : GRUCache.

    Returns
    -------
    SequenceGrads(dx (N, T, D), dh0 (N, H), dparams GRUParams(dU (3H, D), dW (3H, H),
    db (3H,), db_hn (H,) or None))

    Notes
    -----
    The loop propagates ``dL/dh_t`` and writes ``dL/da_t`` of each step into a buffer of
    one chunk of steps (about 1024 of the T*N rows), the gate derivatives formed in place
    on the step's (N, H) blocks; when a chunk is complete its weight gradients and dx are
    one matrix product each over its rows, added up over the chunks.
    """
    ShapeChecker("gru_backward").cache("cache", cache, GRUCache)
    T, N, H = cache.h_tm.shape
    chk = ShapeChecker("gru_backward", N=N, T=T, H=H)
    dh = chk.array("dh", dh, "N T H")
    U, W, _, _ = cache.params
    H2, H3, D = 2 * H, 3 * H, cache.x_tm.shape[2]
    carry = np.zeros((N, H))                         # dL/dh_t from step t+1
    d, zd, tmp = np.empty((N, H)), np.empty((N, H)), np.empty((N, H))
    K = chunk_steps(T, N)
    dax = np.empty((K, N, H3))                       # dL/da_t of a chunk, input side, [r, z, n]
    dUT, dWT, db = np.zeros((D, H3)), np.zeros((H, H3)), np.zeros(H3)   # dU.T, dW.T, db
    tmpU, tmpW = np.empty((D, H3)), np.empty((H, H3))
    dx_tm = np.empty((T, N, D))
    if cache.reset_after:
        dan = np.empty((K, N, H))                    # dL/da_n
        db_hn = np.zeros(H)
    else:
        Wrz, Wn = W[:H2], W[H2:]
        drh = np.empty((N, H))
        tmp_rz, tmp_n = np.empty((H, H2)), np.empty((H, H))
        db_hn = None
    for t in range(T - 1, -1, -1):
        t0 = t - t % K                               # this step's chunk: steps t0 .. t0+K-1
        j = t - t0
        r, z, n, h_prev = cache.r[t], cache.z[t], cache.n[t], cache.h_all[t]
        dr, dz = dax[j, :, :H], dax[j, :, H:H2]
        np.add(dh[:, t], carry, out=d)               # dL/dh_t: from above + from t+1
        np.subtract(n, h_prev, out=tmp)              # h_t = h_{t-1} + z (n - h_{t-1})
        tmp *= d
        dsigmoid_(dz, z, tmp)                        # z = sigmoid(a_z)
        np.multiply(d, z, out=zd)                    # h_t = z n ...
        dn = dan[j] if cache.reset_after else dax[j, :, H2:]
        dtanh_(dn, n, zd)                            # n = tanh(a_n)
        if cache.reset_after:                        # a_n = ... + r (W_n h + b_hn)
            np.multiply(dn, cache.hn[t], out=tmp)
            dsigmoid_(dr, r, tmp)                    # r = sigmoid(a_r)
            np.multiply(dn, r, out=dax[j, :, H2:])   # hidden side's hn block (n: later)
            np.matmul(dax[j], W, out=carry)          # W h_{t-1}, all three blocks
        else:
            np.matmul(dn, Wn, out=drh)               # a_n = ... + W_n (r h_{t-1})
            np.multiply(drh, h_prev, out=tmp)
            dsigmoid_(dr, r, tmp)                    # r h_{t-1};  r = sigmoid(a_r)
            np.matmul(dax[j, :, :H2], Wrz, out=carry)  # a_rz = ... + W_rz h_{t-1}
            np.multiply(drh, r, out=tmp)             # r h_{t-1}
            carry += tmp
        carry += d                                   # h_t = ... + (1 - z) h_{t-1}
        carry -= zd
        if t == t0:                                  # chunk complete: its products
            t1 = min(t0 + K, T)
            rows = (t1 - t0) * N
            flat = dax[:t1 - t0].reshape(rows, H3)
            hb = cache.h_all[t0:t1].reshape(rows, H)  # h_{t-1} of the chunk's steps
            if cache.reset_after:
                add_outer_(dWT, hb, flat, tmpW)      # W h_{t-1}: blocks [r, z, hn]
                db_hn += flat[:, H2:].sum(axis=0)    # ... + b_hn
                dax[:t1 - t0, :, H2:] = dan[:t1 - t0]  # input side: n block is dL/da_n
            else:
                add_outer_(dWT[:, :H2], hb, flat[:, :H2], tmp_rz)   # W_rz h_{t-1}
                add_outer_(dWT[:, H2:], cache.rh[t0:t1].reshape(rows, H),  # W_n (r h_{t-1})
                           flat[:, H2:], tmp_n)
            add_outer_(dUT, cache.x_tm[t0:t1].reshape(rows, D), flat, tmpU)  # a_t = U x_t
            db += flat.sum(axis=0)                   #     + b
            np.matmul(flat, U, out=dx_tm[t0:t1].reshape(rows, D))
    dU, dW = np.ascontiguousarray(dUT.T), np.ascontiguousarray(dWT.T)
    return SequenceGrads(dx_tm.transpose(1, 0, 2), carry, GRUParams(dU, dW, db, db_hn))


def init_gru_params(D: int, H: int, rng, reset_after: bool = False) -> GRUParams:
    """Random full-GRU parameters.

    Parameters
    ----------
    D, H : input and hidden sizes.
    rng : int seed or ``numpy.random.Generator``.
    reset_after : if True, also create ``b_hn`` (H,) zeros (PyTorch form).

    Returns
    -------
    GRUParams: U (3H, D) Xavier-uniform per gate block, W (3H, H) one random
    orthogonal (H, H) matrix per block, b (3H,) zeros, b_hn zeros or None.
    """
    chk = ShapeChecker("init_gru_params")
    D, H = chk.positive_int("D", D), chk.positive_int("H", H)
    if reset_after is not True and reset_after is not False:
        chk.fail(f"reset_after must be True or False, got {reset_after!r}")
    U, W, b = gate_blocks(D, H, 3, as_rng(rng, "init_gru_params"))
    return GRUParams(U, W, b, np.zeros(H) if reset_after else None)
