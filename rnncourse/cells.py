r"""A registry of recurrent cells with one common interface.

Every consumer of a cell (the bidirectional and deep layers, the character
model's training and sampling, :func:`rnncourse.gradient_flow.hidden_gradient_norms`)
calls it through these fields, whatever the cell computes inside, so a new
cell type is one module plus one line in ``_FACTORIES`` (or a call of
:func:`register_cell`); a :class:`Cell` object can also be passed directly
wherever a cell name is accepted.

=====================  =========================================================
``Cell`` field         meaning
=====================  =========================================================
``name``               the registry key, e.g. ``"gru_reset_after"``
``forward``            ``forward(x (N, T, D), h0 (N, H) or None, params)``
                       ``-> (h (N, T, H), cache)``; cells with a cell state also
                       take the keyword ``c0=`` (N, H) or None
``backward``           ``backward(dh (N, T, H), cache) -> grads`` with ``grads.dx``
                       (N, T, D), ``grads.dh0`` (N, H), ``grads.dparams`` and, for
                       cells with a cell state, ``grads.dc0`` (N, H) (no gradient
                       arrives from the last cell state)
``init``               ``init(D, H, rng) -> params`` (``rng``: int seed or Generator)
``hidden_size``        ``hidden_size(params) -> H``
``input_size``         ``input_size(params) -> D``
``step_forward``       ``step_forward(x (N, D), state, params) -> (h (N, H), state, cache)``
``step_backward``      ``step_backward(dstate, cache) -> (dx (N, D), dstate_prev, dparams)``
``init_state``         ``init_state(N, H) -> state``, zeros
``state_names``        the names of the state's arrays: ``("h",)`` or ``("h", "c")``
=====================  =========================================================

A *state* is a tuple of (N, H) arrays named by ``state_names``: ``(h,)`` for
the RNN and GRUs, ``(h, c)`` for the LSTM; ``h`` (the first) is the output of
the step.  ``dstate`` has the same structure and holds the gradient of the
loss with respect to the state (everything that reaches it: from the output
layer and from the next step); ``dstate_prev`` is the gradient for the
previous state.

Registered cells:

=====================  =========================================================
name                   what it runs
=====================  =========================================================
``rnn``                vanilla RNN, ``h_t = tanh(U x_t + W h_{t-1} + b)``
``rnn_relu``           the same with ReLU
``simple_gru``         the notes' GRU with the update gate only
``gru``                full GRU, reset applied before ``W`` (the notes, Cho et al.)
``gru_reset_after``    full GRU, reset applied after ``W`` (PyTorch / cuDNN)
``lstm``               LSTM, state ``(h, c)``; ``c0`` defaults to zeros
=====================  =========================================================

Every cell's parameters are a NamedTuple whose ``U`` has shape (k H, D) and
whose ``W`` has shape (k H, H) (k = 1, 2, 3 or 4 gate blocks), which is how
``hidden_size`` and ``input_size`` read H and D.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable, NamedTuple, Optional, Tuple

import numpy as np

from ._validation import ShapeChecker
from .initializers import init_rnn_params
from .rnn import rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward


def _hidden_size(params) -> int:
    return int(np.shape(params.W)[1])                  # W: (k H, H)


def _input_size(params) -> int:
    return int(np.shape(params.U)[1])                  # U: (k H, D)


def _zeros_h(N: int, H: int):
    return (np.zeros((N, H)),)


class Cell(NamedTuple):
    """One recurrent cell behind a common interface (see the module docstring).

    The first four fields are required; the sizes default to reading
    ``params.U`` (kH, D) and ``params.W`` (kH, H), the state to ``(h,)``.
    """

    name: str
    forward: Callable
    backward: Callable
    init: Callable
    hidden_size: Callable = _hidden_size
    input_size: Callable = _input_size
    step_forward: Optional[Callable] = None
    step_backward: Optional[Callable] = None
    init_state: Callable = _zeros_h
    state_names: Tuple[str, ...] = ("h",)


def has_cell_state(cell: Cell) -> bool:
    """True when the cell's state is ``(h, c)``: forward takes ``c0``, the grads have ``dc0``."""
    return "c" in cell.state_names


@lru_cache(maxsize=None)
def _gate_blocks(cell: Cell) -> int:
    """k, the number of gate row blocks of the cell's U (1 for the RNN ... 4 for the LSTM)."""
    return int(np.shape(cell.init(1, 1, 0).U)[0])


@lru_cache(maxsize=None)
def params_type(cell: Cell) -> type:
    """The NamedTuple type of the cell's parameters (what ``cell.init`` returns)."""
    return type(cell.init(1, 1, 0))


def check_cell_params(chk: ShapeChecker, params, cell: "Cell", name: str = "params"):
    """Check ``params`` holds the cell's U (kH, D), W (kH, H) (and b (kH,)); return ``(D, H)``.

    Used by the layers built on the registry (bidirectional, deep, charlm) so
    that their messages name the parameter as the caller wrote it, e.g.
    ``layers[1].W``.  ``b`` is checked when the cell's params have one;
    further fields (``b_hn``, ``P``) are checked by the cell's own forward function.
    """
    fields = ("U", "W", "b") if "b" in getattr(params_type(cell), "_fields", ()) else ("U", "W")
    if not isinstance(params, tuple) or not all(hasattr(params, f) for f in fields):
        chk.fail(f"{name} must be the {cell.name!r} cell's params (a NamedTuple with "
                 f"{', '.join(fields)}), got {type(params).__name__}")
    k = _gate_blocks(cell)
    sub = ShapeChecker(chk.func)
    U = sub.array(f"{name}.U", params.U, "kH D")
    if U.shape[0] % k:
        sub.fail(f"{name}.U must have {k}*H rows for a {cell.name!r} cell, got shape "
                 f"{U.shape} whose {U.shape[0]} rows are not a multiple of {k}")
    sub.dims["H"], sub.source["H"] = U.shape[0] // k, f"{name}.U"
    sub.array(f"{name}.W", params.W, "kH H")
    if "b" in fields:
        sub.array(f"{name}.b", params.b, "kH")
    return U.shape[1], U.shape[0] // k


def h_only_steps(step_forward: Callable, step_backward: Callable):
    """``(step_forward, step_backward)`` of the interface for a cell whose state is ``(h,)``.

    ``step_forward(x, h_prev, params) -> (h, cache)`` and
    ``step_backward(dh, cache) -> StepGrads(dx, dh_prev, dparams)`` (the
    package's step convention) become the state-tuple functions of :class:`Cell`.
    """
    def forward(x, state, params):
        h, cache = step_forward(x, state[0], params)
        return h, (h,), cache

    def backward(dstate, cache):
        g = step_backward(dstate[0], cache)
        return g.dx, (g.dh_prev,), g.dparams

    return forward, backward


# --- vanilla RNN --------------------------------------------------------------

def _rnn_cell(activation: str, name: str) -> Cell:
    def forward(x, h0, params):
        return rnn_forward(x, h0, params, activation)

    def init(D, H, rng):
        return init_rnn_params(D, H, rng)             # Xavier U, W; b = 0

    steps = h_only_steps(lambda x, h, p: rnn_step_forward(x, h, p, activation), rnn_step_backward)
    return Cell(name, forward, rnn_backward, init, _hidden_size, _input_size, *steps)


# --- GRUs (rnncourse.simple_gru, rnncourse.gru, imported when requested) -----

def _simple_gru_cell() -> Cell:
    from . import simple_gru as sg

    def init(D, H, rng):
        return sg.init_simple_gru_params(D, H, rng)

    steps = h_only_steps(sg.simple_gru_step_forward, sg.simple_gru_step_backward)
    return Cell("simple_gru", sg.simple_gru_forward, sg.simple_gru_backward, init,
                _hidden_size, _input_size, *steps)


def _gru_cell(reset_after: bool, name: str) -> Cell:
    from . import gru

    def forward(x, h0, params):
        return gru.gru_forward(x, h0, params, reset_after=reset_after)

    def init(D, H, rng):
        return gru.init_gru_params(D, H, rng, reset_after=reset_after)

    steps = h_only_steps(lambda x, h, p: gru.gru_step_forward(x, h, p, reset_after=reset_after),
                         gru.gru_step_backward)
    return Cell(name, forward, gru.gru_backward, init, _hidden_size, _input_size, *steps)


# --- LSTM -------------------------------------------------------------------

def _lstm_cell() -> Cell:
    from . import lstm

    def forward(x, h0, params, *, c0=None):            # (h, cache), cell states cache.c
        return lstm.lstm_forward(x, h0, params, c0=c0)

    def backward(dh, cache):
        return lstm.lstm_backward(dh, cache)           # (dx, dh0, dparams, dc0)

    def init(D, H, rng):
        return lstm.init_lstm_params(D, H, rng)

    def step_forward(x, state, params):
        h, c, cache = lstm.lstm_step_forward(x, state[0], state[1], params)
        return h, (h, c), cache

    def step_backward(dstate, cache):
        g = lstm.lstm_step_backward(dstate[0], dstate[1], cache)
        return g.dx, (g.dh_prev, g.dc_prev), g.dparams

    def init_state(N, H):
        return np.zeros((N, H)), np.zeros((N, H))

    return Cell("lstm", forward, backward, init, _hidden_size, _input_size, step_forward,
                step_backward, init_state, ("h", "c"))


_FACTORIES = {
    "rnn": lambda: _rnn_cell("tanh", "rnn"),
    "rnn_relu": lambda: _rnn_cell("relu", "rnn_relu"),
    "simple_gru": _simple_gru_cell,
    "gru": lambda: _gru_cell(False, "gru"),
    "gru_reset_after": lambda: _gru_cell(True, "gru_reset_after"),
    "lstm": _lstm_cell,
}

CELL_NAMES = tuple(_FACTORIES)                          # the built-in cells


def cell_names() -> tuple:
    """The names registered now: :data:`CELL_NAMES` plus any :func:`register_cell` added."""
    return tuple(_FACTORIES)


def register_cell(cell: Cell) -> Cell:
    """Register ``cell`` under ``cell.name`` so that :func:`get_cell` (and every layer) finds it.

    Raises ``ValueError`` if the name is taken or the cell lacks the step functions.
    """
    if not isinstance(cell, Cell):
        raise ValueError(f"register_cell: cell must be a Cell, got {type(cell).__name__}")
    if cell.name in _FACTORIES:
        raise ValueError(f"register_cell: a cell named {cell.name!r} is already registered")
    if cell.step_forward is None or cell.step_backward is None:
        raise ValueError(f"register_cell: cell {cell.name!r} must have step_forward and "
                         f"step_backward (got None)")
    _FACTORIES[cell.name] = lambda: cell
    return cell


def get_cell(name) -> Cell:
    """Return the :class:`Cell` registered under ``name``.

    Parameters
    ----------
    name : str or Cell
        One of ``"rnn"``, ``"rnn_relu"``, ``"simple_gru"``, ``"gru"``,
        ``"gru_reset_after"``, ``"lstm"`` (or a name given to
        :func:`register_cell`).  A :class:`Cell` is returned as it is, and
        every layer then uses it without looking its name up again.

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
                         f"{', '.join(repr(n) for n in _FACTORIES)} or a Cell, got {name!r}")
    return _cached(name)


@lru_cache(maxsize=None)
def _cached(name: str) -> Cell:
    return _FACTORIES[name]()                          # one Cell object per name
