r"""A registry of recurrent cells with one common interface.

The bidirectional and deep layers (:mod:`rnncourse.bidirectional`,
:mod:`rnncourse.deep`) work with any cell.  They look the cell up by name and
call it through the same five functions, whatever the cell computes inside:

=====================  =========================================================
``Cell`` field         meaning
=====================  =========================================================
``name``               the registry key, e.g. ``"gru_reset_after"``
``forward``            ``forward(x (N, T, D), h0 (N, H) or None, params)``
                       ``-> (h (N, T, H), cache)``
``backward``           ``backward(dh (N, T, H), cache) -> SequenceGrads(dx, dh0, dparams)``
``init``               ``init(D, H, rng) -> params`` (``rng``: int seed or Generator)
``hidden_size``        ``hidden_size(params) -> H``
``input_size``         ``input_size(params) -> D``
=====================  =========================================================

Registered cells:

=====================  =========================================================
name                   what it runs
=====================  =========================================================
``rnn``                vanilla RNN, ``h_t = tanh(U x_t + W h_{t-1} + b)``
``rnn_relu``           the same with ReLU
``simple_gru``         the notes' GRU with the update gate only
``gru``                full GRU, reset applied before ``W`` (the notes, Cho et al.)
``gru_reset_after``    full GRU, reset applied after ``W`` (PyTorch / cuDNN)
``lstm``               LSTM started from ``c_0 = 0``; the gradient for ``c_0`` is dropped
=====================  =========================================================

Every cell's parameters are a NamedTuple whose ``U`` has shape (k H, D) and
whose ``W`` has shape (k H, H) (k = 1, 2, 3 or 4 gate blocks), which is how
``hidden_size`` and ``input_size`` read H and D.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable, NamedTuple

import numpy as np

from ._validation import ShapeChecker
from .initializers import init_rnn_params
from .rnn import SequenceGrads, rnn_backward, rnn_forward


class Cell(NamedTuple):
    """One recurrent cell behind a common interface (see the module docstring)."""

    name: str
    forward: Callable
    backward: Callable
    init: Callable
    hidden_size: Callable
    input_size: Callable


def _hidden_size(params) -> int:
    return int(np.shape(params.W)[1])                  # W: (k H, H)


def _input_size(params) -> int:
    return int(np.shape(params.U)[1])                  # U: (k H, D)


@lru_cache(maxsize=None)
def _gate_blocks(name: str) -> int:
    """k, the number of gate row blocks of the cell's U (1 for the RNN ... 4 for the LSTM)."""
    return int(np.shape(get_cell(name).init(1, 1, 0).U)[0])


def check_cell_params(chk: ShapeChecker, params, cell: "Cell", name: str = "params"):
    """Check ``params`` holds the cell's U (kH, D), W (kH, H), b (kH,); return ``(D, H)``.

    Used by the layers built on the registry (bidirectional, deep, charlm) so
    that their messages name the parameter as the caller wrote it, e.g.
    ``layers[1].W``.  Further fields (``b_hn``, ``P``) are checked by the
    cell's own forward function.
    """
    if not isinstance(params, tuple) or not all(hasattr(params, f) for f in ("U", "W", "b")):
        chk.fail(f"{name} must be the {cell.name!r} cell's params (a NamedTuple with U, W, b), "
                 f"got {type(params).__name__}")
    k = _gate_blocks(cell.name)
    sub = ShapeChecker(chk.func)
    U = sub.array(f"{name}.U", params.U, "kH D")
    if U.shape[0] % k:
        sub.fail(f"{name}.U must have {k}*H rows for a {cell.name!r} cell, got shape "
                 f"{U.shape} whose {U.shape[0]} rows are not a multiple of {k}")
    sub.dims["H"], sub.source["H"] = U.shape[0] // k, f"{name}.U"
    sub.array(f"{name}.W", params.W, "kH H")
    sub.array(f"{name}.b", params.b, "kH")
    return U.shape[1], U.shape[0] // k


# --- vanilla RNN --------------------------------------------------------------

def _init_rnn(D, H, rng):
    return init_rnn_params(D, H, rng)                 # Xavier U, W; b = 0


def _rnn_cell(activation: str, name: str) -> Cell:
    def forward(x, h0, params):
        return rnn_forward(x, h0, params, activation)

    return Cell(name, forward, rnn_backward, _init_rnn, _hidden_size, _input_size)


# --- GRUs (rnncourse.gru, imported when the cell is requested) ----------------

def _simple_gru_cell() -> Cell:
    from . import simple_gru as sg

    def init(D, H, rng):
        return sg.init_simple_gru_params(D, H, rng)

    return Cell("simple_gru", sg.simple_gru_forward, sg.simple_gru_backward, init,
                _hidden_size, _input_size)


def _gru_cell(reset_after: bool, name: str) -> Cell:
    from . import gru

    def forward(x, h0, params):
        return gru.gru_forward(x, h0, params, reset_after=reset_after)

    def init(D, H, rng):
        return gru.init_gru_params(D, H, rng, reset_after=reset_after)

    return Cell(name, forward, gru.gru_backward, init, _hidden_size, _input_size)


# --- LSTM -------------------------------------------------------------------

def _lstm_cell() -> Cell:
    from . import lstm

    def forward(x, h0, params):
        h, _c, cache = lstm.lstm_forward(x, h0, params)   # c_0 = 0
        return h, cache

    def backward(dh, cache):
        g = lstm.lstm_backward(dh, cache)                  # no gradient from c_T
        return SequenceGrads(g.dx, g.dh0, g.dparams)       # dc0 dropped

    def init(D, H, rng):
        return lstm.init_lstm_params(D, H, rng)

    return Cell("lstm", forward, backward, init, _hidden_size, _input_size)


_FACTORIES = {
    "rnn": lambda: _rnn_cell("tanh", "rnn"),
    "rnn_relu": lambda: _rnn_cell("relu", "rnn_relu"),
    "simple_gru": _simple_gru_cell,
    "gru": lambda: _gru_cell(False, "gru"),
    "gru_reset_after": lambda: _gru_cell(True, "gru_reset_after"),
    "lstm": _lstm_cell,
}

CELL_NAMES = tuple(_FACTORIES)


def get_cell(name) -> Cell:
    """Return the :class:`Cell` registered under ``name``.

    Parameters
    ----------
    name : str or Cell
        One of ``"rnn"``, ``"rnn_relu"``, ``"simple_gru"``, ``"gru"``,
        ``"gru_reset_after"``, ``"lstm"``.  A :class:`Cell` is returned as it is.

    Returns
    -------
    Cell

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid names.
    """
    if isinstance(name, Cell):
        return name
    if not isinstance(name, str) or name not in _FACTORIES:
        raise ValueError(f"get_cell: cell must be one of "
                         f"{', '.join(repr(n) for n in CELL_NAMES)}, got {name!r}")
    return _FACTORIES[name]()
