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
when bidirectional), the hidden size of the layer below.  This is PyTorch's
``nn.RNN(D, H, num_layers=L, batch_first=True, bidirectional=...)`` without
dropout: ``layers[l]`` holds ``weight_ih_l{l}``, ``weight_hh_l{l}`` (and the
``_reverse`` ones in ``.backward``).  Initial states are zero unless given,
stacked as PyTorch's ``h_0`` (and an LSTM's ``c_0``): (L * dirs, N, H) with
entry ``l * dirs + d`` for layer l and direction d (dirs = 2 when
bidirectional, else 1); their gradients come back in the same layout.

The backward pass goes down the stack: the gradient with respect to layer
l's input sequence is the gradient with respect to layer l-1's output, so
``dh[l-1] = dx[l]``; each layer runs its own backpropagation through time.
"""
from __future__ import annotations

from typing import Any, List, NamedTuple, Optional

import numpy as np

from ._validation import ShapeChecker, as_rng
from .bidirectional import (BidirectionalParams, bidirectional_backward,
                            bidirectional_forward, check_bidirectional_params)
from .cells import check_cell_params, get_cell, has_cell_state


class DeepCache(NamedTuple):
    """What :func:`deep_backward` needs: cell, bidirectional flag, one cache per layer,
    the top layer's output size (H or 2H), and whether ``h0`` / ``c0`` were given."""

    cell: Any
    bidirectional: bool
    caches: List[Any]
    out_size: int
    has_h0: bool = False
    has_c0: bool = False


class DeepGrads(NamedTuple):
    """Gradients of a deep RNN.

    dx : (N, T, D).  dlayers : list, same structure as layers.
    dh0, dc0 : (L * dirs, N, H) gradients for the ``h0`` / ``c0`` given to
        :func:`deep_forward` (PyTorch's layout), None when not given.
    """

    dx: np.ndarray
    dlayers: List[Any]
    dh0: Optional[np.ndarray] = None
    dc0: Optional[np.ndarray] = None


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


def _initial_states(chk: ShapeChecker, name: str, value, L: int, dirs: int, N: int, H_of):
    """Split a stacked (L * dirs, N, H) initial state into one entry per layer (None: zeros).

    A layer's entry is an (N, H) array, or a (2, N, H) stack when bidirectional.
    """
    if value is None:
        return [None] * L
    sizes = set(H_of)
    if len(sizes) != 1:
        chk.fail(f"{name} needs every layer to have the same hidden size H (PyTorch's layout "
                 f"(L * dirs, N, H)), got hidden sizes {list(H_of)}")
    chk.dims.update(LD=L * dirs, N=N, H=sizes.pop())
    chk.source.update(LD="layers (L * dirs)", N="x", H="layers")
    arr = chk.array(name, value, "LD N H")
    return [arr[l * dirs] if dirs == 1 else arr[l * dirs:(l + 1) * dirs] for l in range(L)]


def deep_forward(x, layers, cell="rnn", bidirectional: bool = False, *, h0=None, c0=None):
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
    h0 : (L * dirs, N, H) or None, keyword only: initial states, entry
        ``l * dirs + d`` for layer l, direction d (PyTorch's ``h_0``); zeros when None.
    c0 : (L * dirs, N, H) or None, keyword only: an LSTM's initial cell
        states, same layout (PyTorch's ``c_0``); zeros when None.

    Returns
    -------
    h_top : (N, T, H_L) or (N, T, 2 H_L)
        The top layer's states ``a^[L]<t>`` at every step (feed them to an
        output layer).
    cache : DeepCache for :func:`deep_backward`.

    Notes
    -----
    Without ``h0`` / ``c0`` the initial states are zero in every layer and direction.
    """
    chk = ShapeChecker("deep_forward")
    cell = get_cell(cell)
    if not isinstance(bidirectional, (bool, np.bool_)):
        chk.fail(f"bidirectional must be True or False, got {bidirectional!r}")
    x = chk.array("x", x, "N T D")
    out_sizes = _check_layers(chk, layers, cell, bool(bidirectional), x.shape[2])
    if c0 is not None and not has_cell_state(cell):
        chk.fail(f"c0 is only for cells with a cell state (such as 'lstm'); the {cell.name!r} "
                 f"cell's state is {cell.state_names}, got c0 of shape {np.shape(c0)}")
    dirs = 2 if bidirectional else 1
    hidden = [o // dirs for o in out_sizes]
    h0s = _initial_states(chk, "h0", h0, len(layers), dirs, x.shape[0], hidden)
    c0s = _initial_states(chk, "c0", c0, len(layers), dirs, x.shape[0], hidden)
    caches = []
    a = x                                                  # a^[0]<t> = x_t
    for l, p in enumerate(layers):
        kw = {} if c0s[l] is None else {"c0": c0s[l]}
        with chk.renamed("params", f"layers[{l}]"):
            if bidirectional:                              # a^[l] = [a->^[l] ; a<-^[l]]
                a, c = bidirectional_forward(a, h0s[l], p, cell, **kw)
            else:                                          # a^[l] = cell(a^[l-1], a^[l]<t-1>)
                a, c = cell.forward(a, h0s[l], p, **kw)
        caches.append(c)
    return a, DeepCache(cell, bool(bidirectional), caches, out_sizes[-1],
                        h0 is not None, c0 is not None)


def deep_backward(dh_top, cache: DeepCache) -> DeepGrads:
    """Backward pass of :func:`deep_forward`.

    Parameters
    ----------
    dh_top : (N, T, H_L) or (N, T, 2 H_L) gradient of the loss with respect
        to the top layer's states.
    cache : DeepCache from the forward pass.

    Returns
    -------
    DeepGrads(dx (N, T, D), dlayers, dh0, dc0) where ``dlayers[l]`` has the
    type and shapes of ``layers[l]``; ``dh0`` / ``dc0`` (L * dirs, N, H) when
    the forward pass was given ``h0`` / ``c0``, else None.
    """
    ShapeChecker("deep_backward").cache("cache", cache, DeepCache)
    chk = ShapeChecker("deep_backward", O=cache.out_size)
    da = chk.array("dh_top", dh_top, "N T O")
    L = len(cache.caches)
    dlayers, dh0s, dc0s = [None] * L, [None] * L, [None] * L
    for l in range(L - 1, -1, -1):
        if cache.bidirectional:
            g = bidirectional_backward(da, cache.caches[l])
        else:
            g = cache.cell.backward(da, cache.caches[l])
        dlayers[l], dh0s[l], dc0s[l] = g.dparams, g.dh0, getattr(g, "dc0", None)
        da = g.dx                                          # layer l's input = layer l-1's output

    def stacked(parts, given):                             # (L * dirs, N, H), PyTorch's layout
        if not given:
            return None
        return np.concatenate(parts) if cache.bidirectional else np.stack(parts)

    return DeepGrads(da, dlayers, stacked(dh0s, getattr(cache, "has_h0", False)),
                     stacked(dc0s, getattr(cache, "has_c0", False)))


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
