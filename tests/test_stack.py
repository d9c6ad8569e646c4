"""Cell registry, bidirectional and deep RNNs: finite differences, PyTorch oracle, input checks."""
import numpy as np
import pytest

from rnncourse.bidirectional import (BidirectionalGrads, BidirectionalParams,
                                     bidirectional_backward, bidirectional_forward)
from rnncourse.cells import CELL_NAMES, Cell, get_cell, has_cell_state
from rnncourse.deep import DeepGrads, deep_backward, deep_forward, init_deep_params
from rnncourse.gradcheck import numerical_gradient, relative_error
from rnncourse.lstm import LSTMSequenceGrads
from rnncourse.rnn import RNNParams, SequenceGrads, rnn_backward, rnn_forward

ALL_CELLS = ["rnn", "rnn_relu", "simple_gru", "gru", "gru_reset_after", "lstm"]


# --- helpers --------------------------------------------------------------------

def leaves(tree):
    """The arrays of a nested NamedTuple / list structure, in order (None skipped)."""
    if tree is None:
        return []
    if isinstance(tree, np.ndarray):
        return [tree]
    out = []
    for item in tree:
        out.extend(leaves(item))
    return out


def rebuild(tree, arrays):
    """The structure of ``tree`` with its arrays replaced, in order, by ``arrays``."""
    it = iter(arrays)

    def go(t):
        if t is None:
            return None
        if isinstance(t, np.ndarray):
            return next(it)
        items = [go(i) for i in t]
        return type(t)(*items) if hasattr(t, "_fields") else type(t)(items)

    return go(tree)


def randomize(tree, rng, scale=0.5):
    """Same structure, every array redrawn from N(0, scale^2) (nonzero biases too)."""
    return rebuild(tree, [rng.normal(0, scale, a.shape) for a in leaves(tree)])


num_grad = numerical_gradient
rel = relative_error


def tree_rel_errors(analytic, f, tree):
    """Relative error of every array of ``analytic`` against finite differences of f(tree)."""
    arrays = leaves(tree)
    grads = leaves(analytic)
    assert len(arrays) == len(grads)
    errors = []
    for k, (a, g) in enumerate(zip(arrays, grads)):
        assert g.shape == a.shape

        def f_k(v, k=k):
            new = list(arrays)
            new[k] = v
            return f(rebuild(tree, new))

        errors.append(rel(g, num_grad(f_k, a)))
    return errors


def cell_params(name, D, H, rng):
    return randomize(get_cell(name).init(D, H, rng), rng)


# --- registry ---------------------------------------------------------------------

def test_registry_names():
    assert CELL_NAMES == tuple(ALL_CELLS)


@pytest.mark.parametrize("name", ALL_CELLS)
def test_get_cell_interface(name):
    cell = get_cell(name)
    assert isinstance(cell, Cell) and cell.name == name
    p = cell.init(3, 4, 0)
    assert cell.hidden_size(p) == 4 and cell.input_size(p) == 3
    x = np.random.default_rng(1).normal(size=(2, 5, 3))
    h, cache = cell.forward(x, None, p)
    assert h.shape == (2, 5, 4)
    g = cell.backward(np.ones_like(h), cache)
    assert isinstance(g, LSTMSequenceGrads if name == "lstm" else SequenceGrads)
    assert g.dx.shape == x.shape and g.dh0.shape == (2, 4)
    assert type(g.dparams) is type(p)
    assert has_cell_state(cell) == (name == "lstm")
    if name == "lstm":
        assert g.dc0.shape == (2, 4)
    # the step interface: the sequence is the steps chained, gradients included
    state = cell.init_state(2, 4)
    assert len(state) == len(cell.state_names) and all(np.all(s == 0) for s in state)
    steps = []
    for t in range(5):
        h_t, state, c_t = cell.step_forward(x[:, t], state, p)
        np.testing.assert_allclose(h_t, h[:, t], rtol=0, atol=1e-12)
        steps.append(c_t)
    dstate = tuple(np.zeros((2, 4)) for _ in state)
    dparams = None
    for t in range(4, -1, -1):
        dstate = (dstate[0] + 1.0,) + dstate[1:]                    # dL/dh_t from above: ones
        dx_t, dstate, dp = cell.step_backward(dstate, steps[t])
        np.testing.assert_allclose(dx_t, g.dx[:, t], rtol=0, atol=1e-10)
        dparams = dp if dparams is None else [a + b for a, b in zip(leaves(dparams), leaves(dp))]
    np.testing.assert_allclose(dstate[0], g.dh0, rtol=0, atol=1e-10)
    for a, b in zip(dparams, leaves(g.dparams)):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
    # the same seed gives the same parameters
    for a, b in zip(leaves(p), leaves(cell.init(3, 4, 0))):
        np.testing.assert_array_equal(a, b)


def test_get_cell_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="get_cell") as err:
        get_cell("transformer")
    for name in ALL_CELLS:
        assert repr(name) in str(err.value)
    assert "'transformer'" in str(err.value)


def test_rnn_cells_are_rnn_forward():
    rng = np.random.default_rng(0)
    p = cell_params("rnn", 3, 4, rng)
    x, h0 = rng.normal(size=(2, 3, 3)), rng.normal(size=(2, 4))
    for name, act in (("rnn", "tanh"), ("rnn_relu", "relu")):
        np.testing.assert_array_equal(get_cell(name).forward(x, h0, p)[0],
                                      rnn_forward(x, h0, p, act)[0])


# --- bidirectional: finite differences ---------------------------------------------

SHAPES = [(1, 1, 3, 2), (2, 4, 3, 2), (3, 3, 2, 2)]


@pytest.mark.parametrize("name", ALL_CELLS)
@pytest.mark.parametrize("N,T,D,H", SHAPES)
def test_bidirectional_gradients_match_finite_differences(name, N, T, D, H):
    rng = np.random.default_rng(N * 100 + T * 10 + D)
    params = BidirectionalParams(cell_params(name, D, H, rng), cell_params(name, D, H, rng))
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(2, N, H))
    dh = rng.normal(size=(N, T, 2 * H))
    h, cache = bidirectional_forward(x, h0, params, name)
    assert h.shape == (N, T, 2 * H)
    g = bidirectional_backward(dh, cache)
    assert isinstance(g, BidirectionalGrads)

    def loss(x=x, h0=h0, params=params):
        return float((bidirectional_forward(x, h0, params, name)[0] * dh).sum())

    assert rel(g.dx, num_grad(lambda a: loss(x=a), x)) < 1e-6
    assert rel(g.dh0, num_grad(lambda a: loss(h0=a), h0)) < 1e-6
    errors = tree_rel_errors(g.dparams, lambda p: loss(params=p), params)
    assert max(errors) < 1e-6, errors


def test_bidirectional_halves_are_two_rnns_and_inputs_untouched():
    rng = np.random.default_rng(3)
    params = BidirectionalParams(cell_params("rnn", 3, 4, rng), cell_params("rnn", 3, 4, rng))
    x, h0 = rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 2, 4))
    dh = rng.normal(size=(2, 5, 8))
    snapshot = [a.copy() for a in [x, h0, dh, *leaves(params)]]
    h, cache = bidirectional_forward(x, h0, params, "rnn")
    g = bidirectional_backward(dh, cache)
    for a, b in zip([x, h0, dh, *leaves(params)], snapshot):
        np.testing.assert_array_equal(a, b)
    # forward half: an RNN reading left to right from h0[0]
    np.testing.assert_allclose(h[:, :, :4], rnn_forward(x, h0[0], params.forward)[0], atol=1e-14)
    # backward half at step t: an RNN that read x_T, ..., x_t starting from h0[1]
    for t in range(5):
        tail = x[:, t:][:, ::-1]
        expect = rnn_forward(tail, h0[1], params.backward)[0][:, -1]
        np.testing.assert_allclose(h[:, t, 4:], expect, atol=1e-14)
    # h0 = None means zeros for both directions
    np.testing.assert_allclose(bidirectional_forward(x, None, params)[0],
                               bidirectional_forward(x, np.zeros((2, 2, 4)), params, "rnn")[0],
                               atol=0)
    assert g.dh0.shape == (2, 2, 4)


def test_bidirectional_output_at_t_depends_on_the_future():
    rng = np.random.default_rng(4)
    params = BidirectionalParams(cell_params("rnn", 2, 3, rng), cell_params("rnn", 2, 3, rng))
    x = rng.normal(size=(1, 6, 2))
    h, cache = bidirectional_forward(x, None, params)
    dh = np.zeros_like(h)
    dh[:, 2] = 1.0                                          # loss on step t = 2 only
    dx = bidirectional_backward(dh, cache).dx
    assert np.all(np.abs(dx[0, 3:]).sum(axis=1) > 0)        # future inputs matter
    dh_fwd_only = dh.copy()
    dh_fwd_only[:, :, 3:] = 0
    dx_f = bidirectional_backward(dh_fwd_only, cache).dx
    np.testing.assert_array_equal(dx_f[0, 3:], 0.0)         # not for the forward half


# --- deep: finite differences -----------------------------------------------------

@pytest.mark.parametrize("name", ALL_CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("N,T,D,H,L", [(1, 1, 3, 2, 2), (2, 3, 3, 2, 3), (2, 3, 2, 2, 1)])
def test_deep_gradients_match_finite_differences(name, bidirectional, N, T, D, H, L):
    rng = np.random.default_rng(7 * N + T + L)
    layers = randomize(init_deep_params(D, H, L, rng, name, bidirectional), rng)
    x = rng.normal(size=(N, T, D))
    out = 2 * H if bidirectional else H
    dh = rng.normal(size=(N, T, out))
    h, cache = deep_forward(x, layers, name, bidirectional)
    assert h.shape == (N, T, out)
    g = deep_backward(dh, cache)
    assert isinstance(g, DeepGrads) and len(g.dlayers) == L

    def loss(x=x, layers=layers):
        return float((deep_forward(x, layers, name, bidirectional)[0] * dh).sum())

    assert rel(g.dx, num_grad(lambda a: loss(x=a), x)) < 1e-6
    errors = tree_rel_errors(g.dlayers, lambda p: loss(layers=p), layers)
    assert max(errors) < 1e-6, errors


def test_deep_is_layers_fed_into_each_other():
    rng = np.random.default_rng(5)
    layers = randomize(init_deep_params(3, 4, 3, rng), rng)
    x = rng.normal(size=(2, 4, 3))
    a = x
    for p in layers:
        a = rnn_forward(a, None, p)[0]
    np.testing.assert_allclose(deep_forward(x, layers)[0], a, atol=1e-14)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_init_deep_params_shapes(bidirectional):
    layers = init_deep_params(5, 3, 3, 0, "lstm", bidirectional)
    assert len(layers) == 3
    k = 2 if bidirectional else 1
    for l, p in enumerate(layers):
        ps = [p.forward, p.backward] if bidirectional else [p]
        for q in ps:
            assert q.U.shape == (12, 5 if l == 0 else 3 * k) and q.W.shape == (12, 3)
    if bidirectional:                                    # two directions, different draws
        assert not np.array_equal(layers[0].forward.U, layers[0].backward.U)
    again = init_deep_params(5, 3, 3, 0, "lstm", bidirectional)
    for a, b in zip(leaves(layers), leaves(again)):
        np.testing.assert_array_equal(a, b)


# --- PyTorch oracle ----------------------------------------------------------------

def _torch_module(name, D, H, L, bidirectional):
    import torch
    kw = dict(num_layers=L, bidirectional=bidirectional, batch_first=True, dtype=torch.float64)
    if name in ("rnn", "rnn_relu"):
        return torch.nn.RNN(D, H, nonlinearity="tanh" if name == "rnn" else "relu", **kw)
    if name == "gru_reset_after":
        return torch.nn.GRU(D, H, **kw)
    return torch.nn.LSTM(D, H, **kw)


def _directions(p, bidirectional):
    return [("", p.forward), ("_reverse", p.backward)] if bidirectional else [("", p)]


def _sign(name, H):
    """Our GRU update gate z is PyTorch's 1 - z': its rows (block 1 of r, z, n) are negated."""
    s = np.ones(3 * H if name == "gru_reset_after" else 1)
    if name == "gru_reset_after":
        s[H:2 * H] = -1.0
    return s


def _copy_into_torch(module, layers, name, H, bidirectional):
    import torch
    s = _sign(name, H)
    with torch.no_grad():
        for l, p in enumerate(layers):
            for suffix, q in _directions(p, bidirectional):
                tag = f"l{l}{suffix}"
                getattr(module, f"weight_ih_{tag}").copy_(torch.from_numpy(q.U * s[:, None]))
                getattr(module, f"weight_hh_{tag}").copy_(torch.from_numpy(q.W * s[:, None]))
                getattr(module, f"bias_ih_{tag}").copy_(torch.from_numpy(q.b * s))
                bias_hh = np.zeros_like(q.b)
                if name == "gru_reset_after":
                    bias_hh[2 * H:] = q.b_hn                    # bias_hh = [0, 0, b_hn]
                getattr(module, f"bias_hh_{tag}").copy_(torch.from_numpy(bias_hh))


@pytest.mark.parametrize("name", ["rnn", "rnn_relu", "gru_reset_after", "lstm"])
@pytest.mark.parametrize("bidirectional,L", [(True, 2), (False, 2), (True, 1)])
def test_deep_and_bidirectional_match_torch(name, bidirectional, L):
    import torch
    N, T, D, H = 3, 6, 4, 5
    rng = np.random.default_rng(11)
    layers = randomize(init_deep_params(D, H, L, rng, name, bidirectional), rng, scale=0.4)
    x = rng.normal(size=(N, T, D))
    dh = rng.normal(size=(N, T, 2 * H if bidirectional else H))

    module = _torch_module(name, D, H, L, bidirectional)
    _copy_into_torch(module, layers, name, H, bidirectional)
    xt = torch.tensor(x, requires_grad=True)
    out = module(xt)[0]
    (out * torch.from_numpy(dh)).sum().backward()

    h, cache = deep_forward(x, layers, name, bidirectional)
    np.testing.assert_allclose(h, out.detach().numpy(), rtol=0, atol=1e-9)
    if L == 1 and bidirectional:                            # the single bidirectional layer
        h1 = bidirectional_forward(x, None, layers[0], name)[0]
        np.testing.assert_allclose(h1, out.detach().numpy(), rtol=0, atol=1e-9)
    g = deep_backward(dh, cache)
    np.testing.assert_allclose(g.dx, xt.grad.numpy(), rtol=0, atol=1e-9)
    s = _sign(name, H)
    for l, (p, dp) in enumerate(zip(layers, g.dlayers)):
        for (suffix, q), (_, dq) in zip(_directions(p, bidirectional),
                                         _directions(dp, bidirectional)):
            tag = f"l{l}{suffix}"
            grad = {k: getattr(module, f"{k}_{tag}").grad.numpy()
                    for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
            np.testing.assert_allclose(dq.U, grad["weight_ih"] * s[:, None], atol=1e-9, rtol=0)
            np.testing.assert_allclose(dq.W, grad["weight_hh"] * s[:, None], atol=1e-9, rtol=0)
            np.testing.assert_allclose(dq.b, grad["bias_ih"] * s, atol=1e-9, rtol=0)
            if name == "gru_reset_after":
                np.testing.assert_allclose(dq.b_hn, grad["bias_hh"][2 * H:], atol=1e-9, rtol=0)
            else:
                np.testing.assert_allclose(dq.b, grad["bias_hh"], atol=1e-9, rtol=0)


# --- bad input ---------------------------------------------------------------------

def _rnn(D, H, seed=0):
    return get_cell("rnn").init(D, H, seed)


def test_bidirectional_bad_input():
    x = np.zeros((2, 5, 3))
    good = BidirectionalParams(_rnn(3, 4), _rnn(3, 4, 1))
    with pytest.raises(ValueError, match=r"bidirectional_forward: x must have shape "
                                         r"\(N, T, D\) = \(N, T, 3\), got \(2, 5, 6\)"):
        bidirectional_forward(np.zeros((2, 5, 6)), None, good)
    with pytest.raises(ValueError, match=r"x must have 3 dimensions .*got shape \(5, 3\)"):
        bidirectional_forward(np.zeros((5, 3)), None, good)
    with pytest.raises(ValueError, match=r"params.forward and params.backward .*"
                                         r"\(3, 4\).*\(3, 5\)"):
        bidirectional_forward(x, None, BidirectionalParams(_rnn(3, 4), _rnn(3, 5)))
    with pytest.raises(ValueError, match=r"params.forward and params.backward .*"
                                         r"\(3, 4\).*\(2, 4\)"):
        bidirectional_forward(x, None, BidirectionalParams(_rnn(3, 4), _rnn(2, 4)))
    with pytest.raises(ValueError, match=r"params must be BidirectionalParams.*RNNParams"):
        bidirectional_forward(x, None, _rnn(3, 4))
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, N, H\) = \(2, 2, 4\), "
                                         r"got \(2, 3, 4\)"):
        bidirectional_forward(x, np.zeros((2, 3, 4)), good, "rnn")
    with pytest.raises(ValueError, match=r"h0 must have 3 dimensions \(2, N, H\), "
                                         r"got shape \(2, 4\)"):
        bidirectional_forward(x, np.zeros((2, 4)), good, "rnn")
    with pytest.raises(ValueError, match="get_cell: cell must be one of"):
        bidirectional_forward(x, None, good, "rnn_sigmoid")
    with pytest.raises(ValueError, match=r"bidirectional_forward: h0 must be None or a \(2, N, H\) "
                                         r"array \(the arguments are x, h0, params, cell\), "
                                         r"got BidirectionalParams"):
        bidirectional_forward(x, good, "rnn")              # the order before the convention
    h, cache = bidirectional_forward(x, None, good)
    with pytest.raises(ValueError, match=r"bidirectional_backward: dh must have shape "
                                         r"\(N, T, H2\) = \(N, T, 8\), got \(2, 5, 4\)"):
        bidirectional_backward(np.zeros((2, 5, 4)), cache)


def test_deep_bad_input():
    x = np.zeros((2, 5, 3))
    with pytest.raises(ValueError, match=r"deep_forward: layers must contain at least one "
                                         r"layer, got an empty list"):
        deep_forward(x, [])
    with pytest.raises(ValueError, match=r"deep_forward: layers must be a list.*RNNParams"):
        deep_forward(x, _rnn(3, 4))
    with pytest.raises(ValueError, match=r"layers\[0\] must have input size 3 \(set by x.*\), "
                                         r"got input size 6 .*\(4, 6\)"):
        deep_forward(x, [_rnn(6, 4), _rnn(4, 4)])
    with pytest.raises(ValueError, match=r"layers\[1\] must have input size 4 \(set by the "
                                         r"output size of layers\[0\]\), got input size 3"):
        deep_forward(x, [_rnn(3, 4), _rnn(3, 4)])
    bi = [BidirectionalParams(_rnn(3, 4), _rnn(3, 4)), BidirectionalParams(_rnn(4, 4), _rnn(4, 4))]
    with pytest.raises(ValueError, match=r"layers\[1\] must have input size 8 \(set by the "
                                         r"output size of layers\[0\] \(2H\)\), got input size 4"):
        deep_forward(x, bi, "rnn", True)
    with pytest.raises(ValueError, match=r"layers\[0\] is BidirectionalParams but "
                                         r"bidirectional=False"):
        deep_forward(x, bi)
    with pytest.raises(ValueError, match=r"layers\[0\] must be BidirectionalParams.*"
                                         r"bidirectional=True, got RNNParams"):
        deep_forward(x, [_rnn(3, 4)], "rnn", True)
    mixed = [BidirectionalParams(_rnn(3, 4), _rnn(3, 5))]
    with pytest.raises(ValueError, match=r"layers\[0\].forward and layers\[0\].backward"):
        deep_forward(x, mixed, "rnn", True)
    h, cache = deep_forward(x, [_rnn(3, 4)])
    with pytest.raises(ValueError, match=r"deep_backward: dh_top must have shape \(N, T, O\) = "
                                         r"\(N, T, 4\), got \(2, 5, 8\)"):
        deep_backward(np.zeros((2, 5, 8)), cache)
    for arg, bad in (("D", 0), ("H", -1), ("L", 2.0)):
        kwargs = dict(D=3, H=4, L=2, rng=0)
        kwargs[arg] = bad
        with pytest.raises(ValueError, match=rf"init_deep_params: {arg} must be a positive"):
            init_deep_params(**kwargs)


# --- initial states through every layer (h0, c0 and their gradients) ------------------

@pytest.mark.parametrize("name", ["rnn", "rnn_relu", "gru_reset_after", "lstm"])
@pytest.mark.parametrize("bidirectional,L", [(True, 2), (False, 2), (True, 1)])
def test_initial_states_match_torch(name, bidirectional, L):
    """Non-zero PyTorch-style (h_0, c_0) of shape (L * dirs, N, H): outputs and all gradients."""
    import torch
    N, T, D, H = 3, 5, 4, 3
    dirs = 2 if bidirectional else 1
    rng = np.random.default_rng(23)
    layers = randomize(init_deep_params(D, H, L, rng, name, bidirectional), rng, scale=0.4)
    x = rng.normal(size=(N, T, D))
    h0, c0 = rng.normal(size=(L * dirs, N, H)), rng.normal(size=(L * dirs, N, H))
    dh = rng.normal(size=(N, T, dirs * H))
    lstm = name == "lstm"

    module = _torch_module(name, D, H, L, bidirectional)
    _copy_into_torch(module, layers, name, H, bidirectional)
    xt = torch.tensor(x, requires_grad=True)
    h0t, c0t = torch.tensor(h0, requires_grad=True), torch.tensor(c0, requires_grad=True)
    out = module(xt, (h0t, c0t) if lstm else h0t)[0]
    (out * torch.from_numpy(dh)).sum().backward()

    kw = {"h0": h0, "c0": c0} if lstm else {"h0": h0}
    h, cache = deep_forward(x, layers, name, bidirectional, **kw)
    np.testing.assert_allclose(h, out.detach().numpy(), rtol=0, atol=1e-9)
    g = deep_backward(dh, cache)
    np.testing.assert_allclose(g.dx, xt.grad.numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(g.dh0, h0t.grad.numpy(), rtol=0, atol=1e-9)
    if lstm:
        np.testing.assert_allclose(g.dc0, c0t.grad.numpy(), rtol=0, atol=1e-9)
    else:
        assert g.dc0 is None
    s = _sign(name, H)
    for l, dp in enumerate(g.dlayers):
        for suffix, dq in _directions(dp, bidirectional):
            w = getattr(module, f"weight_hh_l{l}{suffix}").grad.numpy()
            np.testing.assert_allclose(dq.W, w * s[:, None], atol=1e-9, rtol=0)
    if L == 1 and bidirectional:                     # the bidirectional layer on its own
        h1, c1 = bidirectional_forward(x, h0, layers[0], name, **({"c0": c0} if lstm else {}))
        np.testing.assert_allclose(h1, out.detach().numpy(), rtol=0, atol=1e-9)
        g1 = bidirectional_backward(dh, c1)
        np.testing.assert_allclose(g1.dh0, h0t.grad.numpy(), rtol=0, atol=1e-9)
        if lstm:
            np.testing.assert_allclose(g1.dc0, c0t.grad.numpy(), rtol=0, atol=1e-9)


@pytest.mark.parametrize("name", ALL_CELLS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_initial_state_gradients_match_finite_differences(name, bidirectional):
    N, T, D, H, L = 2, 3, 3, 2, 2
    dirs = 2 if bidirectional else 1
    rng = np.random.default_rng(31)
    layers = randomize(init_deep_params(D, H, L, rng, name, bidirectional), rng)
    x = rng.normal(size=(N, T, D))
    h0, c0 = rng.normal(size=(L * dirs, N, H)), rng.normal(size=(L * dirs, N, H))
    dh = rng.normal(size=(N, T, dirs * H))
    lstm = name == "lstm"

    def loss(h0=h0, c0=c0):
        kw = {"h0": h0, "c0": c0} if lstm else {"h0": h0}
        return float((deep_forward(x, layers, name, bidirectional, **kw)[0] * dh).sum())

    g = deep_backward(dh, deep_forward(x, layers, name, bidirectional, h0=h0,
                                       **({"c0": c0} if lstm else {}))[1])
    assert g.dh0.shape == (L * dirs, N, H)
    assert rel(g.dh0, num_grad(lambda a: loss(h0=a), h0)) < 1e-6
    if lstm:
        assert rel(g.dc0, num_grad(lambda a: loss(c0=a), c0)) < 1e-6
        if bidirectional:                            # one layer: BidirectionalGrads.dc0
            def loss1(c):
                return float((bidirectional_forward(x, h0[:2], layers[0], name, c0=c)[0]
                              * dh).sum())
            g1 = bidirectional_backward(dh, bidirectional_forward(x, h0[:2], layers[0], name,
                                                                  c0=c0[:2])[1])
            assert rel(g1.dc0, num_grad(loss1, c0[:2])) < 1e-6
    # without initial states nothing changes: zeros, and no gradient fields
    g0 = deep_backward(dh, deep_forward(x, layers, name, bidirectional)[1])
    assert g0.dh0 is None and g0.dc0 is None
    zeros = np.zeros_like(h0)
    h_zero = deep_forward(x, layers, name, bidirectional, h0=zeros,
                          **({"c0": zeros} if lstm else {}))[0]
    np.testing.assert_array_equal(h_zero, deep_forward(x, layers, name, bidirectional)[0])


def test_initial_state_errors():
    rng = np.random.default_rng(0)
    layers = init_deep_params(3, 2, 2, rng)
    x = rng.normal(size=(4, 5, 3))
    with pytest.raises(ValueError, match=r"deep_forward: h0 must have shape \(LD, N, H\) = "
                                         r"\(2, 4, 2\), got \(1, 4, 2\)"):
        deep_forward(x, layers, h0=np.zeros((1, 4, 2)))
    with pytest.raises(ValueError, match=r"deep_forward: c0 is only for cells with a cell state "
                                         r"\(such as 'lstm'\); the 'rnn' cell's state is \('h',\)"):
        deep_forward(x, layers, c0=np.zeros((2, 4, 2)))
    bi = BidirectionalParams(layers[0], layers[0])
    with pytest.raises(ValueError, match=r"bidirectional_forward: c0 is only for cells"):
        bidirectional_forward(x, None, bi, "rnn", c0=np.zeros((2, 4, 2)))
    lstm = init_deep_params(3, 2, 1, rng, "lstm", True)[0]
    with pytest.raises(ValueError, match=r"bidirectional_forward: c0 must have shape \(2, N, H\) = "
                                         r"\(2, 4, 2\), got \(2, 4, 3\)"):
        bidirectional_forward(x, None, lstm, "lstm", c0=np.zeros((2, 4, 3)))
    uneven = [init_deep_params(3, 2, 1, 0)[0], init_deep_params(2, 3, 1, 0)[0]]
    with pytest.raises(ValueError, match=r"deep_forward: h0 needs every layer to have the same "
                                         r"hidden size H .*got hidden sizes \[2, 3\]"):
        deep_forward(x, uneven, h0=np.zeros((2, 4, 2)))
