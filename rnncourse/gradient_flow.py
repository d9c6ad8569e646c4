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

import numpy as np

from ._validation import ShapeChecker, as_rng
from .cells import Cell, cell_names, check_cell_params, get_cell, has_cell_state


def _resolve(chk: ShapeChecker, cell, params):
    """The Cell for ``cell``; ``"gru"`` follows the parameters (``b_hn`` given: reset-after)."""
    if cell == "gru" and getattr(params, "b_hn", None) is not None:
        cell = "gru_reset_after"
    try:
        c = get_cell(cell)
    except ValueError:
        chk.fail(f"cell must be one of {', '.join(repr(n) for n in cell_names())} or a Cell, "
                 f"got {cell!r}")
    if c.step_forward is None or c.step_backward is None:
        chk.fail(f"cell {c.name!r} has no step functions (step_forward, step_backward)")
    return c


def hidden_gradient_norms(x, h0, params, cell="rnn", *, c0=None, seed=0,
                          dh_last=None, return_cell: bool = False):
    r"""Mean norm of :math:`\partial L / \partial h_k` for every step k, for a loss on h_T.

    The arguments follow the package's convention (inputs, state, parameters,
    then the cell), as in ``bidirectional_forward(x, h0, params, cell)``.

    Parameters
    ----------
    x : (N, T, D) inputs.
    h0 : (N, H) initial hidden state, or ``None`` for zeros.
    params : the cell's parameters (``RNNParams``, ``SimpleGRUParams``,
        ``GRUParams``, ``LSTMParams``, ...).
    cell : a registered cell name (:func:`rnncourse.cells.cell_names`: ``"rnn"`` (tanh,
        the default), ``"rnn_relu"``, ``"simple_gru"``, ``"gru"``, ``"gru_reset_after"``,
        ``"lstm"``, ...) or a :class:`~rnncourse.cells.Cell`.  For ``"gru"`` the variant
        follows the parameters: ``reset_after=True`` when ``params.b_hn`` is given, else
        the notes' ``reset_after=False``.
    c0 : (N, H) initial cell state, keyword only (``None`` means zeros; cells with one,
        the LSTM).
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
    The cell runs through its step functions (``Cell.step_forward`` and
    ``Cell.step_backward``).  Here :math:`\partial L / \partial h_k` is the
    gradient with respect to the *state* h_k (``dstate_prev`` of step k+1);
    for the LSTM the cell state :math:`c_k` is held fixed, since (h_k, c_k)
    together are the state.  The loss is
    :math:`L = \sum_n g_n \cdot h_T[n]` with :math:`g_n` drawn from N(0, I)
    and scaled to unit norm.
    """
    chk = ShapeChecker("hidden_gradient_norms")
    if isinstance(x, (str, Cell)):              # the old order, hidden_gradient_norms(cell, x, ...)
        name, arg = (x, repr(x)) if isinstance(x, str) else (x.name, "cell")
        chk.fail(f"x must be the (N, T, D) inputs, got the cell {name!r}; the cell comes after "
                 f"the parameters: hidden_gradient_norms(x, h0, params, {arg})")
    if isinstance(h0, tuple):                   # params passed where h0 belongs
        chk.fail(f"h0 must be None or an (N, H) array (the arguments are x, h0, params, cell), "
                 f"got {type(h0).__name__}")
    c = _resolve(chk, cell, params)
    if not isinstance(params, tuple) or not hasattr(params, "W"):
        chk.fail(f"params must be the cell's parameter NamedTuple, got {type(params).__name__}")
    x = chk.array("x", x, "N T D")
    chk.array("params.U", getattr(params, "U", None), "rows D")   # rows = H or 2H/3H/4H (gates)
    _, H = check_cell_params(chk, params, c)                      # U (kH, D), W (kH, H), b (kH,)
    N, T, _ = x.shape
    chk.dims["H"], chk.source["H"] = H, "params.W"
    if not has_cell_state(c) and (c0 is not None or return_cell):
        chk.fail(f"c0 and return_cell are for cells with a cell state (cell='lstm'), "
                 f"got cell={c.name!r}")
    state = list(c.init_state(N, H))
    if h0 is not None:
        state[0] = chk.array("h0", h0, "N H")
    if c0 is not None:
        state[1] = chk.array("c0", c0, "N H")
    state = tuple(state)
    if dh_last is None:
        g = as_rng(seed, "hidden_gradient_norms").normal(size=(N, H))
        g /= np.linalg.norm(g, axis=1, keepdims=True)
    else:
        g = chk.array("dh_last", dh_last, "N H")

    caches = []
    with chk.renamed("params", "params"):       # further fields (P, b_hn): the step checks them
        for t in range(T):
            _h, state, cache = c.step_forward(x[:, t], state, params)
            caches.append(cache)
    if return_cell and T and not all(hasattr(caches[0], a) for a in ("o", "tanh_c")):
        chk.fail(f"return_cell needs an LSTM step cache (with o and tanh_c: h_t = o_t tanh(c_t)), "
                 f"got {type(caches[0]).__name__} from cell {c.name!r}")
    norms, cell_norms = np.empty(T), np.empty(T)
    dstate = (g,) + tuple(np.zeros((N, H)) for _ in state[1:])     # dL/d(h_T, c_T, ...)
    for t in range(T - 1, -1, -1):
        norms[t] = np.linalg.norm(dstate[0], axis=1).mean()         # ||dL/dh_{t+1}||, c fixed
        if return_cell:                                             # h_t = o_t * tanh(c_t)
            cache = caches[t]
            dc_total = dstate[1] + dstate[0] * cache.o * (1.0 - cache.tanh_c ** 2)
            cell_norms[t] = np.linalg.norm(dc_total, axis=1).mean()
        if t:
            _dx, dstate, _dp = c.step_backward(dstate, caches[t])   # through h_{t+1} = F(h_t)
    return (norms, cell_norms) if return_cell else norms
