r"""Deep (stacked) recurrent networks of any registered cell.

Layer 1 reads the inputs; every higher layer reads the hidden states of the
layer below as its input sequence (column-vector form, 1-based time and
layers as in the book; Ng writes the state of layer l at step t as
``a^[l]<t>``)::

    a^[0]<t> = x_t
    a^[l]<t> = cell(a^[l-1]<t>, a^[l]<t-1>; params of layer l),   l = 1, ..., L
             = tanh(U^[l] a^[l-1]<t> + W^[l] a^[l]<t-1> + b^[l])  for the vanilla RNN
    y_t      = g(V a^[L]<t> + c)           an output layer on the top layer

Each layer has its own parameters (shared over time, not over layers).  With
``bidirectional=True`` every layer is a bidirectional layer and its output
``[a->^[l]<t> ; a<-^[l]<t>]`` (2H numbers) is the next layer's input.

In the code ``h[l][:, t]`` (0-based l and t) is ``a^[l+1]<t+1>``: ``layers[0]``
has input size D, ``layers[l]`` for l > 0 has input size H_{l-1} (or 2 H_{l-1}
when bidirectional), the hidden size of the layer below.  All initial states
are zero.  This is PyTorch's ``nn.RNN(D, H, num_layers=L, batch_first=True,
bidirectional=...)`` without dropout: ``layers[l]`` holds ``weight_ih_l{l}``,
``weight_hh_l{l}`` (and the ``_reverse`` ones in ``.backward``).

The backward pass goes down the stack: the gradient with respect to layer
l's input sequence is the gradient with respect to layer l-1's output, so
``dh[l-1] = dx[l]``; each layer runs its own backpropagation through time.
"""
from __future__ import annotations

from typing import Any, List, NamedTuple

import numpy as np

from ._validation import ShapeChecker, as_rng
from .bidirectional import (BidirectionalParams, bidirectional_backward,
                            bidirectional_forward, check_bidirectional_params)
from .cells import check_cell_params, get_cell


class DeepCache(NamedTuple):
    """What :func:`deep_backward` needs: cell, bidirectional flag, one cache per layer,
    and the top layer's output size (H or 2H)."""

    cell: Any
    bidirectional: bool
    caches: List[Any]
    out_size: int


class DeepGrads(NamedTuple):
    """Gradients of a deep RNN: dx (N, T, D) and dlayers (list, same structure as layers)."""

    dx: np.ndarray
    dlayers: List[Any]


def _check_layers(chk: ShapeChecker, layers, cell, bidirectional: bool, D: int):
    """Check the stack's sizes; return the output size of each layer."""
    if not isinstance(layers, (list, tuple)) or hasattr(layers, "_fields"):
        chk.fail(f"layers must be a list of per-layer params, got {type(layers).__name__}")
    if len(layers) == 0:
        chk.fail("layers must contain at least one layer, got an empty list")
    out_sizes = []
    in_size, source = D, "x (its last axis)"
    for l, p in enumerate(layers):
        name = f"layers[{l}]"
        if bidirectional:
            if not isinstance(p, BidirectionalParams):
                chk.fail(f"{name} must be BidirectionalParams(forward, backward) since "
                         f"bidirectional=True, got {type(p).__name__}")
            d, h = check_bidirectional_params(chk, p, cell, name)
        else:
            if isinstance(p, BidirectionalParams):
                chk.fail(f"{name} is BidirectionalParams but bidirectional=False; "
                         f"pass bidirectional=True or one cell's params per layer")
            d, h = check_cell_params(chk, p, cell, name)
        if d != in_size:
            chk.fail(f"{name} must have input size {in_size} (set by {source}), got input "
                     f"size {d} (its U has shape {np.shape((p.forward if bidirectional else p).U)})")
        out = 2 * h if bidirectional else h
        out_sizes.append(out)
        in_size, source = out, f"the output size of layers[{l}]" + (" (2H)" if bidirectional else "")
    return out_sizes


def deep_forward(x, layers, cell="rnn", bidirectional: bool = False):
    r"""Run a stack of recurrent layers over a whole sequence.

    .. math::

        a^{[0]\langle t\rangle} = x_t, \qquad
        a^{[l]\langle t\rangle} = \mathrm{cell}\big(a^{[l-1]\langle t\rangle},
        a^{[l]\langle t-1\rangle}\big), \quad l = 1, \dots, L

    Parameters
    ----------
    x : (N, T, D) inputs.
    layers : list of L layer params, bottom first.  Each entry is the cell's
        params (``bidirectional=False``) or a
        :class:`~rnncourse.bidirectional.BidirectionalParams` (``True``).
        ``layers[0]`` has input size D, ``layers[l]`` the output size of
        ``layers[l-1]`` (H, or 2H when bidirectional).
    cell : str or Cell, registry name (default ``"rnn"``), same for every layer.
    bidirectional : bool, every layer bidirectional or none.

    Returns
    -------
    h_top : (N, T, H_L) or (N, T, 2 H_L)
        The top layer's states ``a^[L]<t>`` at every step (feed them to an
        output layer).
    cache : DeepCache for :func:`deep_backward`.

    Notes
    -----
    Initial states are zero in every layer and direction.
    """
    chk = ShapeChecker("deep_forward")
    cell = get_cell(cell)
    if not isinstance(bidirectional, (bool, np.bool_)):
        chk.fail(f"bidirectional must be True or False, got {bidirectional!r}")
    x = chk.array("x", x, "N T D")
    out_sizes = _check_layers(chk, layers, cell, bool(bidirectional), x.shape[2])
    caches = []
    a = x                                                  # a^[0]<t> = x_t
    for l, p in enumerate(layers):
        with chk.renamed("params", f"layers[{l}]"):
            if bidirectional:
                a, c = bidirectional_forward(a, p, cell)   # a^[l] = [a->^[l] ; a<-^[l]]
            else:
                a, c = cell.forward(a, None, p)            # a^[l] = cell(a^[l-1], a^[l]<t-1>)
        caches.append(c)
    return a, DeepCache(cell, bool(bidirectional), caches, out_sizes[-1])


def deep_backward(dh_top, cache: DeepCache) -> DeepGrads:
    """Backward pass of :func:`deep_forward`.

    Parameters
    ----------
    dh_top : (N, T, H_L) or (N, T, 2 H_L) gradient of the loss with respect
        to the top layer's states.
    cache : DeepCache from the forward pass.

    Returns
    -------
    DeepGrads(dx (N, T, D), dlayers) where ``dlayers[l]`` has the type and
    shapes of ``layers[l]``.
    """
    ShapeChecker("deep_backward").cache("cache", cache, DeepCache)
    chk = ShapeChecker("deep_backward", O=cache.out_size)
    da = chk.array("dh_top", dh_top, "N T O")
    dlayers = [None] * len(cache.caches)
    for l in range(len(cache.caches) - 1, -1, -1):
        if cache.bidirectional:
            g = bidirectional_backward(da, cache.caches[l])
        else:
            g = cache.cell.backward(da, cache.caches[l])
        dlayers[l] = g.dparams
        da = g.dx                                          # layer l's input = layer l-1's output
    return DeepGrads(da, dlayers)


def init_deep_params(D, H, L, rng, cell="rnn", bidirectional: bool = False):
    """Initialise a stack of L layers with the cell's own initialiser.

    Parameters
    ----------
    D : int, input size.
    H : int, hidden size of every layer (and direction).
    L : int, number of layers.
    rng : int seed or numpy Generator.
    cell : str or Cell, registry name.
    bidirectional : bool.

    Returns
    -------
    list of L params: layer 0 with input size D, layer l > 0 with input size
    H (or 2H when bidirectional).  Each entry is the cell's params or a
    BidirectionalParams(forward, backward).
    """
    chk = ShapeChecker("init_deep_params")
    D = chk.positive_int("D", D)
    H = chk.positive_int("H", H)
    L = chk.positive_int("L", L)
    cell = get_cell(cell)
    gen = as_rng(rng, "init_deep_params")
    layers = []
    for l in range(L):
        d = D if l == 0 else (2 * H if bidirectional else H)
        if bidirectional:
            layers.append(BidirectionalParams(cell.init(d, H, gen), cell.init(d, H, gen)))
        else:
            layers.append(cell.init(d, H, gen))
    return layers
