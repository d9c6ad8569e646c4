"""A new cell type is one module plus one registry line.

The test defines a "minimal RNN" without bias, ``h_t = tanh(U x_t + W h_{t-1})``
(its own step and sequence functions, nothing from the package's cells), and
runs it through every consumer of the cell interface: the bidirectional and
deep layers, ``hidden_gradient_norms`` and the character model (loss,
training, sampling), both as an unregistered ``Cell`` object and by name once
registered.  Gradients are checked against finite differences.
"""
from typing import NamedTuple

import numpy as np
import pytest

from rnncourse import cells
from rnncourse.bidirectional import BidirectionalParams, bidirectional_backward, bidirectional_forward
from rnncourse.cells import Cell, get_cell, register_cell
from rnncourse.charlm import CharLMParams, charlm_loss, init_charlm, sample, train_charlm
from rnncourse.deep import deep_backward, deep_forward, init_deep_params
from rnncourse.gradcheck import numerical_gradient, relative_error
from rnncourse.gradient_flow import hidden_gradient_norms
from rnncourse.rnn import SequenceGrads, StepGrads
from rnncourse.text import Vocabulary
from rnncourse.tree import tree_leaves, tree_replace


# --- the "module": a minimal RNN without bias -------------------------------------------

class MinimalParams(NamedTuple):
    U: np.ndarray      # (H, D)
    W: np.ndarray      # (H, H)


def minimal_step_forward(x, h_prev, p):
    h = np.tanh(x @ p.U.T + h_prev @ p.W.T)
    return h, (x, h_prev, h, p)


def minimal_step_backward(dh, cache):
    x, h_prev, h, p = cache
    dnet = dh * (1.0 - h * h)
    return StepGrads(dnet @ p.U, dnet @ p.W, MinimalParams(dnet.T @ x, dnet.T @ h_prev))


def minimal_forward(x, h0, p):
    N, T, _ = x.shape
    h = np.zeros((N, p.W.shape[0])) if h0 is None else h0
    hs, caches = [], []
    for t in range(T):
        h, c = minimal_step_forward(x[:, t], h, p)
        hs.append(h)
        caches.append(c)
    return np.stack(hs, axis=1), caches


def minimal_backward(dh, caches):
    dh_next, dxs = np.zeros_like(dh[:, 0]), []
    dU, dW = 0.0, 0.0
    for t in range(len(caches) - 1, -1, -1):
        g = minimal_step_backward(dh[:, t] + dh_next, caches[t])
        dxs.append(g.dx)
        dh_next = g.dh_prev
        dU, dW = dU + g.dparams.U, dW + g.dparams.W
    return SequenceGrads(np.stack(dxs[::-1], axis=1), dh_next, MinimalParams(dU, dW))


def minimal_init(D, H, rng):
    rng = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    return MinimalParams(rng.normal(0, 0.6, (H, D)), rng.normal(0, 0.6, (H, H)))


def _minimal_cell(name="minimal_rnn"):
    steps = cells.h_only_steps(minimal_step_forward, minimal_step_backward)
    return Cell(name, minimal_forward, minimal_backward, minimal_init,
                step_forward=steps[0], step_backward=steps[1])


MINIMAL = _minimal_cell()


@pytest.fixture
def registered():
    """The registry line: ``register_cell``; removed again after the test."""
    cell = register_cell(_minimal_cell("minimal_rnn_registered"))
    yield cell.name
    del cells._FACTORIES[cell.name]
    cells._cached.cache_clear()


def _fd_errors(analytic, loss, tree, label):
    """Relative error of every array in ``analytic`` against central differences of ``loss``."""
    errors = {}
    for lab, path, arr in tree_leaves(tree, label):
        if arr is None:
            continue
        num = numerical_gradient(lambda a, path=path: loss(tree_replace(tree, path, a)), arr)
        ana = dict((p, a) for _, p, a in tree_leaves(analytic, label))[path]
        errors[lab] = relative_error(ana, num)
    return errors


# --- registry ------------------------------------------------------------------------------

def test_register_and_look_up(registered):
    assert registered in cells.cell_names() and registered not in cells.CELL_NAMES
    assert get_cell(registered).name == registered
    with pytest.raises(ValueError, match="register_cell: a cell named 'minimal_rnn_registered' is "
                                         "already registered"):
        register_cell(_minimal_cell("minimal_rnn_registered"))
    with pytest.raises(ValueError, match="register_cell: cell 'nosteps' must have step_forward"):
        register_cell(Cell("nosteps", minimal_forward, minimal_backward, minimal_init))


# --- layers ------------------------------------------------------------------------------

@pytest.mark.parametrize("by_name", [False, True])
def test_bidirectional_layer(by_name, registered):
    cell = registered if by_name else MINIMAL            # a Cell object is not looked up again
    rng = np.random.default_rng(0)
    N, T, D, H = 2, 4, 3, 2
    params = BidirectionalParams(minimal_init(D, H, rng), minimal_init(D, H, rng))
    x, h0, dh = rng.normal(size=(N, T, D)), rng.normal(size=(2, N, H)), rng.normal(size=(N, T, 2 * H))
    h, cache = bidirectional_forward(x, h0, params, cell)
    g = bidirectional_backward(dh, cache)
    # the forward half is the cell itself; the backward half reads the reversed sequence
    np.testing.assert_allclose(h[:, :, :H], minimal_forward(x, h0[0], params.forward)[0], atol=1e-14)
    np.testing.assert_allclose(h[:, ::-1, H:], minimal_forward(x[:, ::-1], h0[1], params.backward)[0],
                               atol=1e-14)

    def loss(x=x, h0=h0, params=params):
        return float((bidirectional_forward(x, h0, params, cell)[0] * dh).sum())

    assert relative_error(g.dx, numerical_gradient(lambda a: loss(x=a), x)) < 1e-7
    assert relative_error(g.dh0, numerical_gradient(lambda a: loss(h0=a), h0)) < 1e-7
    errors = _fd_errors(g.dparams, lambda p: loss(params=p), params, "params")
    assert set(errors) == {"params.forward.U", "params.forward.W", "params.backward.U",
                           "params.backward.W"} and max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("by_name", [False, True])
def test_deep_layers(bidirectional, by_name, registered):
    cell = registered if by_name else MINIMAL
    rng = np.random.default_rng(1)
    N, T, D, H, L = 2, 3, 3, 2, 2
    dirs = 2 if bidirectional else 1
    layers = init_deep_params(D, H, L, rng, cell, bidirectional)
    assert isinstance(layers[0].forward if bidirectional else layers[0], MinimalParams)
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(L * dirs, N, H))
    dh = rng.normal(size=(N, T, dirs * H))
    h, cache = deep_forward(x, layers, cell, bidirectional, h0=h0)
    g = deep_backward(dh, cache)

    def loss(x=x, h0=h0, layers=layers):
        return float((deep_forward(x, layers, cell, bidirectional, h0=h0)[0] * dh).sum())

    assert relative_error(g.dx, numerical_gradient(lambda a: loss(x=a), x)) < 1e-7
    assert relative_error(g.dh0, numerical_gradient(lambda a: loss(h0=a), h0)) < 1e-7
    errors = _fd_errors(g.dlayers, lambda p: loss(layers=p), layers, "layers")
    assert len(errors) == 2 * L * dirs and max(errors.values()) < 1e-7, errors


def test_layer_errors_name_the_custom_cell():
    rng = np.random.default_rng(0)
    p = minimal_init(3, 2, rng)
    with pytest.raises(ValueError, match=r"deep_forward: layers\[0\] must be the 'minimal_rnn' "
                                         r"cell's params \(a NamedTuple with U, W\), got tuple"):
        deep_forward(rng.normal(size=(1, 2, 3)), [(1, 2)], MINIMAL)
    with pytest.raises(ValueError, match=r"deep_forward: layers\[1\] must have input size 2"):
        deep_forward(rng.normal(size=(1, 2, 3)), [p, p], MINIMAL)


# --- gradient flow -------------------------------------------------------------------------

@pytest.mark.parametrize("by_name", [False, True])
def test_hidden_gradient_norms(by_name, registered):
    cell = registered if by_name else MINIMAL
    rng = np.random.default_rng(2)
    N, T, D, H = 2, 5, 3, 3
    p = minimal_init(D, H, rng)
    x, h0, gT = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    norms = hidden_gradient_norms(x, h0, p, cell, dh_last=gT)
    hs = minimal_forward(x, h0, p)[0]
    for k in range(1, T):                              # perturb h_k, re-run steps k+1..T
        def L(hk, k=k):
            return float(np.sum(gT * minimal_forward(x[:, k:], hk, p)[0][:, -1]))
        grad = numerical_gradient(L, hs[:, k - 1])
        np.testing.assert_allclose(norms[k - 1], np.linalg.norm(grad, axis=1).mean(), rtol=1e-7)
    np.testing.assert_allclose(norms[-1], np.linalg.norm(gT, axis=1).mean(), rtol=1e-12)


# --- character model -----------------------------------------------------------------------

@pytest.mark.parametrize("by_name", [False, True])
def test_char_model_loss_training_and_sampling(by_name, registered):
    cell = registered if by_name else MINIMAL
    text = "abcabcabd " * 20
    vocab = Vocabulary.from_text(text)
    K, H = vocab.size, 4
    params = init_charlm(K, H, 3, cell)
    assert isinstance(params.cell, MinimalParams)
    rng = np.random.default_rng(4)
    x_idx, y_idx = rng.integers(0, K, (2, 6)), rng.integers(0, K, (2, 6))
    loss, grads, _ = charlm_loss(params, x_idx, y_idx, cell)

    def f(p):
        return charlm_loss(p, x_idx, y_idx, cell)[0]

    errors = _fd_errors(grads, f, params, "params")
    assert max(errors.values()) < 1e-7, errors
    # sampling runs the cell's step_forward: greedy text equals a hand-written step loop
    text_greedy = sample(params, vocab, n=15, temperature=0.0, cell=cell, stop_at_eos=False)
    h = np.zeros((1, H))
    eye = np.eye(K)
    h = minimal_step_forward(eye[vocab.eos_index:vocab.eos_index + 1], h, params.cell)[0]
    out = []
    for _ in range(15):
        k = int(np.argmax(h @ params.output.V.T + params.output.b_y))
        out.append(k)
        h = minimal_step_forward(eye[k:k + 1], h, params.cell)[0]
    assert text_greedy == vocab.decode(np.array(out))
    trained, history = train_charlm(text, vocab, steps=30, seq_len=8, batch=4, lr=0.05,
                                    cell=cell, params=params, log_every=10)
    assert isinstance(trained, CharLMParams) and history.loss[-1] < history.loss[0]
