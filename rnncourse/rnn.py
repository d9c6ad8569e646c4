r"""The vanilla (Elman) recurrent layer: one step and a whole sequence.

Equation (column-vector form, as in the book and the notes)::

    net_t = U x_t + W h_{t-1} + b
    h_t   = f(net_t),            f = tanh or relu

The code works on a batch of N rows at once, so every product is written
``x_t @ U.T`` (the row form of ``U x_t``).

Shapes: ``x`` (N, T, D), ``h0`` (N, H), ``h`` (N, T, H), ``U`` (H, D),
``W`` (H, H), ``b`` (H,).  ``h[:, t]`` is :math:`h_{t+1}` in the book's
1-based time index.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._gates import outer_sum, tall_matmul
from ._validation import ShapeChecker
from .activations import ACTIVATIONS


class RNNParams(NamedTuple):
    """Parameters of a vanilla RNN layer (PyTorch's ``weight_ih_l0`` layout).

    U : (H, D)  input-to-hidden weights (notes: U; Ng: W_ax; PyTorch: weight_ih_l0)
    W : (H, H)  hidden-to-hidden weights (notes: W; Ng: W_aa; PyTorch: weight_hh_l0)
    b : (H,)    bias (Ng: b_a; PyTorch: bias_ih_l0 + bias_hh_l0)
    """

    U: np.ndarray
    W: np.ndarray
    b: np.ndarray


class RNNStepCache(NamedTuple):
    """What :func:`rnn_step_backward` needs: x (N, D), h_prev (N, H), h_next (N, H)."""

    x: np.ndarray
    h_prev: np.ndarray
    h_next: np.ndarray
    params: RNNParams
    activation: str


class StepGrads(NamedTuple):
    """Gradients of one step: dx (N, D), dh_prev (N, H), dparams (same type as params)."""

    dx: np.ndarray
    dh_prev: np.ndarray
    dparams: NamedTuple


class RNNCache(NamedTuple):
    """What :func:`rnn_backward` needs, time-major for speed.

    x_tm : (T, N, D) inputs;  h0 : (N, H);  h_tm : (T, N, H) hidden states.
    """

    x_tm: np.ndarray
    h0: np.ndarray
    h_tm: np.ndarray
    params: RNNParams
    activation: str


class SequenceGrads(NamedTuple):
    """Gradients of a sequence layer: dx (N, T, D), dh0 (N, H), dparams."""

    dx: np.ndarray
    dh0: np.ndarray
    dparams: NamedTuple


def _check_params(chk: ShapeChecker, params) -> RNNParams:
    if not isinstance(params, tuple) or len(params) != 3:
        chk.fail(f"params must be RNNParams(U, W, b), got {type(params).__name__}")
    U, W, b = params
    return RNNParams(chk.array("params.U", U, "H D"),
                     chk.array("params.W", W, "H H"),
                     chk.array("params.b", b, "H"))


def rnn_step_forward(x, h_prev, params: RNNParams, activation: str = "tanh"):
    """One time step of a vanilla RNN.

    Parameters
    ----------
    x : (N, D) input at this step.
    h_prev : (N, H) hidden state of the previous step.
    params : RNNParams with U (H, D), W (H, H), b (H,).
    activation : ``"tanh"`` or ``"relu"``.

    Returns
    -------
    h_next : (N, H)  ``f(x @ U.T + h_prev @ W.T + b)``
    cache : RNNStepCache
    """
    chk = ShapeChecker("rnn_step_forward")
    chk.choice("activation", activation, tuple(ACTIVATIONS))
    params = _check_params(chk, params)
    x = chk.array("x", x, "N D")
    h_prev = chk.array("h_prev", h_prev, "N H")
    f, _ = ACTIVATIONS[activation]
    U, W, b = params
    h_next = f(x @ U.T + h_prev @ W.T + b)            # net_t = U x_t + W h_{t-1} + b
    return h_next, RNNStepCache(x, h_prev, h_next, params, activation)


def rnn_step_backward(dh_next, cache: RNNStepCache) -> StepGrads:
    """Backward pass of :func:`rnn_step_forward`.

    Parameters
    ----------
    dh_next : (N, H) gradient of the loss with respect to ``h_next``.
    cache : RNNStepCache from the forward step.

    Returns
    -------
    StepGrads(dx (N, D), dh_prev (N, H), dparams RNNParams(dU, dW, db))
    """
    chk = ShapeChecker("rnn_step_backward")
    chk.cache("cache", cache, RNNStepCache)
    chk.array("cache.h_next", cache.h_next, "N H")
    dh_next = chk.array("dh_next", dh_next, "N H")
    _, fprime = ACTIVATIONS[cache.activation]
    U, W, _ = cache.params
    dnet = dh_next * fprime(cache.h_next)             # h_t = f(net_t)
    dx = dnet @ U                                     # net_t = U x_t ...
    dh_prev = dnet @ W                                #       + W h_{t-1} ...
    dU = dnet.T @ cache.x
    dW = dnet.T @ cache.h_prev
    db = dnet.sum(axis=0)                             #       + b
    return StepGrads(dx, dh_prev, RNNParams(dU, dW, db))


def rnn_forward(x, h0, params: RNNParams, activation: str = "tanh"):
    """Run a vanilla RNN over a whole sequence.

    Parameters
    ----------
    x : (N, T, D) inputs.
    h0 : (N, H) initial hidden state (``None`` means zeros).
    params : RNNParams with U (H, D), W (H, H), b (H,).
    activation : ``"tanh"`` or ``"relu"``.

    Returns
    -------
    h : (N, T, H) hidden state at every step (``h[:, -1]`` is the last one).
    cache : RNNCache for :func:`rnn_backward`.

    Notes
    -----
    The input projection ``x @ U.T + b`` does not depend on the recurrence, so
    it is computed for all steps in one matrix product before the time loop.
    """
    chk = ShapeChecker("rnn_forward")
    chk.choice("activation", activation, tuple(ACTIVATIONS))
    params = _check_params(chk, params)
    x = chk.array("x", x, "N T D")
    h0 = np.zeros((x.shape[0], params.W.shape[0])) if h0 is None else chk.array("h0", h0, "N H")
    U, W, b = params
    x_tm = np.ascontiguousarray(x.transpose(1, 0, 2))  # (T, N, D)
    T = x_tm.shape[0]
    N, D = x_tm.shape[1:]
    h_tm = (x_tm.reshape(T * N, D) @ U.T).reshape(T, N, -1)  # U x_t for all t: one product
    h_tm += b
    WT = W.T
    h_prev, tmp = h0, np.empty_like(h0)
    for t in range(T):
        net = h_tm[t]
        np.matmul(h_prev, WT, out=tmp)
        net += tmp                                      # + W h_{t-1}
        if activation == "tanh":                        # h_t = f(net_t), in place
            np.tanh(net, out=net)
        else:
            np.maximum(net, 0.0, out=net)
        h_prev = net
    return h_tm.transpose(1, 0, 2), RNNCache(x_tm, h0, h_tm, params, activation)


def rnn_backward(dh, cache: RNNCache) -> SequenceGrads:
    """Backpropagation through time for :func:`rnn_forward`.

    Parameters
    ----------
    dh : (N, T, H) gradient of the loss with respect to every hidden state
        *from above* (the output layer); the gradient that flows back along
        the recurrence is added here.
    cache : RNNCache from the forward pass.

    Returns
    -------
    SequenceGrads(dx (N, T, D), dh0 (N, H), dparams RNNParams(dU, dW, db))
    """
    ShapeChecker("rnn_backward").cache("cache", cache, RNNCache)
    T, N, H = cache.h_tm.shape
    chk = ShapeChecker("rnn_backward", N=N, T=T, H=H)
    dh = chk.array("dh", dh, "N T H")
    U, W, _ = cache.params
    h_tm = cache.h_tm
    dnet = np.empty((T, N, H))                          # dL/dnet_t of every step
    dh_prev = np.zeros((N, H))                          # from step t+1, one buffer
    fprime = np.empty((N, H))
    for t in range(T - 1, -1, -1):
        d = dnet[t]
        np.add(dh[:, t], dh_prev, out=d)                # dL/dh_t: from above + from t+1
        if cache.activation == "tanh":                  # through h_t = f(net_t):
            np.multiply(h_tm[t], h_tm[t], out=fprime)
            np.subtract(1.0, fprime, out=fprime)        #   tanh' = 1 - h_t^2
        else:
            np.greater(h_tm[t], 0.0, out=fprime)        #   relu' = 1 where h_t > 0
        d *= fprime
        np.matmul(d, W, out=dh_prev)                    # net_t = ... + W h_{t-1}
    D = cache.x_tm.shape[2]
    flat = dnet.reshape(T * N, H)
    dU = outer_sum(flat, cache.x_tm.reshape(T * N, D))  # net_t = U x_t ...
    dW = outer_sum(flat[N:], h_tm[:-1].reshape(-1, H))  #   + W h_{t-1} (t > 1) ...
    dW += outer_sum(flat[:N], cache.h0)                 #   and W h_0 (t = 1)
    db = flat.sum(axis=0)                               #   + b
    dx = tall_matmul(flat, U).reshape(T, N, D).transpose(1, 0, 2)
    return SequenceGrads(dx, dh_prev, RNNParams(dU, dW, db))
