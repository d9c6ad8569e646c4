r"""How far back does the gradient reach?  Norms of dL/dh_k for a loss on the last step.

For a loss that depends on the last hidden state only, backpropagation through
time multiplies the gradient by one Jacobian per step:

.. math::

    \frac{\partial L}{\partial h_k}
      = \frac{\partial L}{\partial h_T}\,
        \frac{\partial h_T}{\partial h_{T-1}} \cdots \frac{\partial h_{k+1}}{\partial h_k},
    \qquad
    \frac{\partial h_t}{\partial h_{t-1}} = \operatorname{diag}(f'(\mathrm{net}_t))\, W
    \ \text{(vanilla RNN)}.

If these Jacobians shrink vectors the norm decays geometrically with the
distance ``T - k`` (vanishing gradients); if they stretch them it grows
(exploding gradients).  :func:`hidden_gradient_norms` measures exactly this
curve for the package's cells by running their step functions.

The loss is ``L = sum_n g_n . h_T[n]`` with a fixed random direction
``g_n`` of unit norm for each sequence (seeded), so ``||dL/dh_T|| = 1`` and
every other value reads as an amplification factor of a unit gradient.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ._validation import ShapeChecker, as_rng

#: Cells understood by :func:`hidden_gradient_norms`.
CELLS = ("rnn", "rnn_relu", "simple_gru", "gru", "lstm")


def _step_functions(cell: str, params):
    """(forward(x_t, state, params) -> (state, cache), backward(dstate, cache) -> dstate_prev)."""
    if cell in ("rnn", "rnn_relu"):
        from .rnn import rnn_step_backward, rnn_step_forward
        act = "tanh" if cell == "rnn" else "relu"
        return (lambda x, h, p: rnn_step_forward(x, h, p, act),
                lambda dh, cache: rnn_step_backward(dh, cache).dh_prev)
    if cell == "simple_gru":
        from .gru import simple_gru_step_backward, simple_gru_step_forward
        return simple_gru_step_forward, lambda dh, cache: simple_gru_step_backward(dh, cache).dh_prev
    if cell == "gru":
        from .gru import gru_step_backward, gru_step_forward
        reset_after = getattr(params, "b_hn", None) is not None
        return (lambda x, h, p: gru_step_forward(x, h, p, reset_after=reset_after),
                lambda dh, cache: gru_step_backward(dh, cache).dh_prev)
    raise AssertionError(cell)  # pragma: no cover - lstm is handled separately


def hidden_gradient_norms(cell: str, x, params, h0=None, *, c0=None, seed=0,
                          dh_last=None, return_cell: bool = False):
    r"""Mean norm of :math:`\partial L / \partial h_k` for every step k, for a loss on h_T.

    Parameters
    ----------
    cell : ``"rnn"`` (tanh), ``"rnn_relu"``, ``"simple_gru"``, ``"gru"`` or ``"lstm"``.
        For ``"gru"`` the variant follows the parameters: ``reset_after=True``
        when ``params.b_hn`` is given, else the notes' ``reset_after=False``.
    x : (N, T, D) inputs.
    params : the cell's parameters (``RNNParams``, ``SimpleGRUParams``,
        ``GRUParams`` or ``LSTMParams``).
    h0 : (N, H) initial hidden state (``None`` means zeros).
    c0 : (N, H) initial LSTM cell state (``None`` means zeros; LSTM only).
    seed : int or Generator for the direction ``g`` (ignored if ``dh_last`` is given).
    dh_last : (N, H) optional explicit :math:`\partial L / \partial h_T` instead of
        the random unit direction (e.g. ``h_T`` itself for ``L = 0.5 ||h_T||^2``).
    return_cell : LSTM only: also return the norms of :math:`\partial L / \partial c_k`.

    Returns
    -------
    norms : (T,) ``norms[k - 1] = mean_n ||dL/dh_k[n]||`` for k = 1..T
        (index ``T - 1`` is the last step; with the default direction it is 1).
    cell_norms : (T,), only when ``return_cell=True``: ``mean_n ||dL/dc_k[n]||``,
        the total derivative with respect to the cell state, counting both
        paths out of :math:`c_k`: into :math:`c_{k+1}` and into
        :math:`h_k = o_k \odot \tanh(c_k)` (with the gates of step k held fixed).

    Notes
    -----
    Here :math:`\partial L / \partial h_k` is the gradient with respect to the
    *state* h_k (what ``*_step_backward`` returns as ``dh_prev`` of step k+1);
    for the LSTM the cell state :math:`c_k` is held fixed, since (h_k, c_k)
    together are the state.  The loss is
    :math:`L = \sum_n g_n \cdot h_T[n]` with :math:`g_n` drawn from N(0, I)
    and scaled to unit norm.
    """
    chk = ShapeChecker("hidden_gradient_norms")
    chk.choice("cell", cell, CELLS)
    if not isinstance(params, tuple) or not hasattr(params, "W"):
        chk.fail(f"params must be the cell's parameter NamedTuple, got {type(params).__name__}")
    W = np.asarray(params.W)
    if W.ndim != 2:
        chk.fail(f"params.W must be a matrix, got shape {W.shape}")
    x = chk.array("x", x, "N T D")
    chk.array("params.U", getattr(params, "U", None), "rows D")   # rows = H or 2H/3H/4H (gates)
    N, T, _ = x.shape
    H = W.shape[1]
    chk.dims["H"], chk.source["H"] = H, "params.W"
    h = np.zeros((N, H)) if h0 is None else chk.array("h0", h0, "N H")
    if cell != "lstm" and (c0 is not None or return_cell):
        chk.fail(f"c0 and return_cell are for cell='lstm' only, got cell={cell!r}")
    if dh_last is None:
        g = as_rng(seed, "hidden_gradient_norms").normal(size=(N, H))
        g /= np.linalg.norm(g, axis=1, keepdims=True)
    else:
        g = chk.array("dh_last", dh_last, "N H")
    norms = np.empty(T)

    if cell == "lstm":
        from .lstm import lstm_step_backward, lstm_step_forward
        c = np.zeros((N, H)) if c0 is None else chk.array("c0", c0, "N H")
        caches = []
        for t in range(T):
            h, c, cache = lstm_step_forward(x[:, t], h, c, params)
            caches.append(cache)
        cell_norms = np.empty(T)
        dh, dc = g, np.zeros((N, H))
        for t in range(T - 1, -1, -1):
            norms[t] = np.linalg.norm(dh, axis=1).mean()               # dL/dh_{t+1}, c fixed
            cache = caches[t]
            dc_total = dc + dh * cache.o * (1.0 - cache.tanh_c ** 2)     # h_t = o_t * tanh(c_t)
            cell_norms[t] = np.linalg.norm(dc_total, axis=1).mean()
            if t:
                grads = lstm_step_backward(dh, dc, cache)
                dh, dc = grads.dh_prev, grads.dc_prev
        return (norms, cell_norms) if return_cell else norms

    forward, backward = _step_functions(cell, params)
    caches = []
    for t in range(T):
        h, cache = forward(x[:, t], h, params)
        caches.append(cache)
    dh = g
    for t in range(T - 1, -1, -1):
        norms[t] = np.linalg.norm(dh, axis=1).mean()                  # ||dL/dh_{t+1}||
        if t:
            dh = backward(dh, caches[t])                               # through h_{t+1} = F(h_t)
    return norms
