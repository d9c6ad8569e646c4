r"""A bidirectional recurrent layer over any registered cell.

Two independent cells read the same sequence, one from left to right and one
from right to left (column-vector form, 1-based time as in the book)::

    forward direction:   h->_t = cell(x_t, h->_{t-1}; params.forward),   t = 1, ..., T
    backward direction:  h<-_t = cell(x_t, h<-_{t+1}; params.backward),  t = T, ..., 1
    output:              h_t   = [h->_t ; h<-_t]                         (2H numbers)
    an output layer:     y_t   = g(V [h->_t ; h<-_t] + c)

So the state at step t summarises the past (``h->_t``: x_1 .. x_t) *and* the
future (``h<-_t``: x_t .. x_T).  Both directions have their own parameters;
nothing is shared between them.

In the code ``h[:, t, :H]`` is the forward direction's state after reading
``x[:, :t+1]`` and ``h[:, t, H:]`` the backward direction's state after
reading ``x[:, t:]`` (from the end), aligned at the same time step, which is
PyTorch's ``nn.RNN(..., bidirectional=True)`` layout.  The backward direction
is the forward cell run on the time-reversed sequence, its states reversed
back::

    h<- = reverse_t(cell(reverse_t(x)))

and its gradient is the cell's backward pass on the reversed upstream
gradient, reversed back.  ``h0`` and ``dh0`` are stacked (2, N, H): index 0
is the forward direction's initial state (before x_1), index 1 the backward
direction's (after x_T), as in PyTorch's ``h_0`` for one layer; an LSTM's
``c0`` and ``dc0`` are stacked the same way (PyTorch's ``c_0``).

Notation: Ng writes ``a->^<t>`` and ``a<-^<t>`` and
``y^<t> = g(W_y [a->^<t>, a<-^<t>] + b_y)``.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

import numpy as np

from ._validation import ShapeChecker
from .cells import check_cell_params, get_cell, has_cell_state


class BidirectionalParams(NamedTuple):
    """Parameters of a bidirectional layer.

    forward : the left-to-right cell's params (e.g. RNNParams), PyTorch ``*_l0``.
    backward : the right-to-left cell's params, same type and shapes,
        PyTorch ``*_l0_reverse``.
    """

    forward: Any
    backward: Any


class BidirectionalCache(NamedTuple):
    """What :func:`bidirectional_backward` needs: the cell, H, both directions' caches,
    and whether the forward pass was given a cell state ``c0`` (then ``dc0`` is returned)."""

    cell: Any
    H: int
    cache_forward: Any
    cache_backward: Any
    has_c0: bool = False


class BidirectionalGrads(NamedTuple):
    """Gradients of a bidirectional layer.

    dx : (N, T, D)  sum of both directions' input gradients.
    dh0 : (2, N, H)  gradient for h0 (index 0 forward, 1 backward direction).
    dparams : BidirectionalParams of gradients (same structure as params).
    dc0 : (2, N, H) gradient for an LSTM's c0, or None when no c0 was given.
    """

    dx: np.ndarray
    dh0: np.ndarray
    dparams: BidirectionalParams
    dc0: Optional[np.ndarray] = None


def check_bidirectional_params(chk: ShapeChecker, params, cell, name: str = "params"):
    """Check a BidirectionalParams and set the checker's D and H.

    Returns ``(D, H)``.  Both directions must be parameters of ``cell`` with the
    same input size D and hidden size H.
    """
    if not isinstance(params, tuple) or len(params) != 2:
        chk.fail(f"{name} must be BidirectionalParams(forward, backward), "
                 f"got {type(params).__name__}")
    fwd, bwd = params
    sizes = [check_cell_params(chk, p, cell, f"{name}.{direction}")
             for direction, p in (("forward", fwd), ("backward", bwd))]
    if sizes[0] != sizes[1] or type(fwd) is not type(bwd):
        chk.fail(f"{name}.forward and {name}.backward must have the same type and "
                 f"(input size D, hidden size H), got {type(fwd).__name__} "
                 f"(D, H) = {sizes[0]} and {type(bwd).__name__} (D, H) = {sizes[1]}")
    return sizes[0]


def bidirectional_forward(x, h0, params: BidirectionalParams, cell="rnn", *, c0=None):
    r"""Run a bidirectional layer over a whole sequence.

    .. math::

        \overrightarrow{h}_t = \mathrm{cell}(x_t, \overrightarrow{h}_{t-1}), \quad
        \overleftarrow{h}_t = \mathrm{cell}(x_t, \overleftarrow{h}_{t+1}), \quad
        h_t = [\overrightarrow{h}_t ; \overleftarrow{h}_t]

    and an output layer on top computes ``y_t = g(V [h->_t ; h<-_t] + c)``.

    Parameters
    ----------
    x : (N, T, D) inputs.
    h0 : (2, N, H) or None
        Initial states: ``h0[0]`` for the forward direction (before x_1),
        ``h0[1]`` for the backward direction (after x_T).  ``None``: zeros.
    params : BidirectionalParams(forward, backward), each the cell's params
        with input size D and hidden size H.
    cell : str or Cell
        Registry name (see :func:`rnncourse.cells.get_cell`), default ``"rnn"``.
    c0 : (2, N, H) or None, keyword only
        Initial cell states of a cell with one (the LSTM), stacked like ``h0``
        (PyTorch's ``c_0``).  ``None``: zeros.

    Returns
    -------
    h : (N, T, 2H)
        ``h[:, t, :H]`` forward-direction state after x_1..x_{t+1} (0-based t),
        ``h[:, t, H:]`` backward-direction state after x_T..x_{t+1}.
    cache : BidirectionalCache for :func:`bidirectional_backward`.
    """
    chk = ShapeChecker("bidirectional_forward")
    if isinstance(h0, tuple):                   # params passed where h0 belongs
        chk.fail(f"h0 must be None or a (2, N, H) array (the arguments are x, h0, "
                 f"params, cell), got {type(h0).__name__}")
    cell = get_cell(cell)
    D, H = check_bidirectional_params(chk, params, cell)
    chk.dims.update(D=D, H=H)
    chk.source.update(D="params.forward.U", H="params.forward.W")
    x = chk.array("x", x, "N T D")
    h0 = (None, None) if h0 is None else chk.array("h0", h0, "2 N H")
    if c0 is not None and not has_cell_state(cell):
        chk.fail(f"c0 is only for cells with a cell state (such as 'lstm'); the {cell.name!r} "
                 f"cell's state is {cell.state_names}, got c0 of shape {np.shape(c0)}")
    kw = [{}, {}] if c0 is None else [{"c0": c} for c in chk.array("c0", c0, "2 N H")]
    with chk.renamed("params", "params.forward"):
        h_f, cache_f = cell.forward(x, h0[0], params.forward, **kw[0])          # left to right
    x_rev = np.ascontiguousarray(x[:, ::-1])                                     # x_T, ..., x_1
    with chk.renamed("params", "params.backward"):
        h_b_rev, cache_b = cell.forward(x_rev, h0[1], params.backward, **kw[1])  # right to left
    h = np.concatenate([h_f, h_b_rev[:, ::-1]], axis=2)                          # [h->_t ; h<-_t]
    return h, BidirectionalCache(cell, H, cache_f, cache_b, c0 is not None)


def bidirectional_backward(dh, cache: BidirectionalCache) -> BidirectionalGrads:
    """Backward pass of :func:`bidirectional_forward`.

    Parameters
    ----------
    dh : (N, T, 2H) gradient of the loss with respect to ``h``.
    cache : BidirectionalCache from the forward pass.

    Returns
    -------
    BidirectionalGrads(dx (N, T, D), dh0 (2, N, H), dparams BidirectionalParams,
    dc0 (2, N, H) when the forward pass was given ``c0``, else None)
    """
    ShapeChecker("bidirectional_backward").cache("cache", cache, BidirectionalCache)
    H = cache.H
    chk = ShapeChecker("bidirectional_backward", H2=2 * H)
    dh = chk.array("dh", dh, "N T H2")
    cell = cache.cell
    # h = [h_f ; reverse(h_b_rev)]: split the gradient, reverse the second half
    g_f = cell.backward(np.ascontiguousarray(dh[:, :, :H]), cache.cache_forward)
    g_b = cell.backward(np.ascontiguousarray(dh[:, ::-1, H:]), cache.cache_backward)
    dx = g_f.dx + g_b.dx[:, ::-1]                # x feeds both directions (x_rev = reverse(x))
    dh0 = np.stack([g_f.dh0, g_b.dh0])
    dc0 = np.stack([g_f.dc0, g_b.dc0]) if getattr(cache, "has_c0", False) else None
    return BidirectionalGrads(dx, dh0, BidirectionalParams(g_f.dparams, g_b.dparams), dc0)
