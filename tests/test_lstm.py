"""LSTM: finite differences, torch.nn.LSTM oracle, peephole oracle, step/sequence agreement, input checks."""
import numpy as np
import pytest
import torch

from rnncourse.gradcheck import numerical_gradient as num_grad
from rnncourse.gradcheck import relative_error as rel
from rnncourse.lstm import (LSTMParams, init_lstm_params, lstm_backward, lstm_forward,
                            lstm_step_backward, lstm_step_forward)


def make(N, T, D, H, peepholes=False, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    p = LSTMParams(rng.normal(0, scale, (4 * H, D)), rng.normal(0, scale, (4 * H, H)),
                   rng.normal(0, scale, 4 * H),
                   rng.normal(0, scale, (3, H)) if peepholes else None)
    x = rng.normal(size=(N, T, D))
    return rng, p, x, rng.normal(size=(N, H)), rng.normal(size=(N, H))


def fields(p):
    return [n for n in LSTMParams._fields if getattr(p, n) is not None]


SHAPES = [(1, 1, 3, 4), (2, 5, 4, 3), (3, 4, 5, 5), (1, 6, 2, 3)]


@pytest.mark.parametrize("peepholes", [False, True])
@pytest.mark.parametrize("N,T,D,H", SHAPES)
def test_sequence_gradients_match_finite_differences(N, T, D, H, peepholes):
    rng, p, x, h0, c0 = make(N, T, D, H, peepholes)
    dh = rng.normal(size=(N, T, H))
    dc_last = rng.normal(size=(N, H))
    h, cache = lstm_forward(x, h0, p, c0=c0)
    g = lstm_backward(dh, cache, dc_last=dc_last)

    def loss(x=x, h0=h0, c0=c0, p=p):
        h, cache = lstm_forward(x, h0, p, c0=c0)
        return float((h * dh).sum() + (cache.c[:, -1] * dc_last).sum())

    assert rel(g.dx, num_grad(lambda a: loss(x=a), x)) < 1e-6
    assert rel(g.dh0, num_grad(lambda a: loss(h0=a), h0)) < 1e-6
    assert rel(g.dc0, num_grad(lambda a: loss(c0=a), c0)) < 1e-6
    for name in fields(p):
        numeric = num_grad(lambda a: loss(p=p._replace(**{name: a})), getattr(p, name))
        assert rel(getattr(g.dparams, name), numeric) < 1e-6, name
    assert (g.dparams.P is None) == (not peepholes)


@pytest.mark.parametrize("peepholes", [False, True])
@pytest.mark.parametrize("N,D,H", [(1, 3, 4), (3, 5, 2)])
def test_step_gradients_match_finite_differences(N, D, H, peepholes):
    rng, p, x, h0, c0 = make(N, 1, D, H, peepholes, seed=1)
    x = x[:, 0]
    dh, dc = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    _, _, cache = lstm_step_forward(x, h0, c0, p)
    g = lstm_step_backward(dh, dc, cache)

    def loss(x=x, h0=h0, c0=c0, p=p):
        h, c, _ = lstm_step_forward(x, h0, c0, p)
        return float((h * dh).sum() + (c * dc).sum())

    assert rel(g.dx, num_grad(lambda a: loss(x=a), x)) < 1e-6
    assert rel(g.dh_prev, num_grad(lambda a: loss(h0=a), h0)) < 1e-6
    assert rel(g.dc_prev, num_grad(lambda a: loss(c0=a), c0)) < 1e-6
    for name in fields(p):
        numeric = num_grad(lambda a: loss(p=p._replace(**{name: a})), getattr(p, name))
        assert rel(getattr(g.dparams, name), numeric) < 1e-6, name


@pytest.mark.parametrize("peepholes", [False, True])
def test_sequence_equals_loop_of_steps_and_inputs_untouched(peepholes):
    rng, p, x, h0, c0 = make(2, 6, 3, 5, peepholes)
    snapshot = [a.copy() for a in (x, h0, c0, *fields_arrays(p))]
    h, cache = lstm_forward(x, h0, p, c0=c0)
    c = cache.c
    assert c.shape == h.shape == (2, 6, 5)      # the cell states, laid out like h
    dh = rng.normal(size=h.shape)
    dc_last = rng.normal(size=c0.shape)
    g = lstm_backward(dh, cache, dc_last=dc_last)
    hp, cp, caches = h0, c0, []
    for t in range(x.shape[1]):
        hp, cp, sc = lstm_step_forward(x[:, t], hp, cp, p)
        caches.append(sc)
        np.testing.assert_allclose(hp, h[:, t], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(cp, c[:, t], rtol=1e-12, atol=1e-12)
        for gate in "ifgo":                    # the cache exposes the gates, time-major
            np.testing.assert_allclose(getattr(cache, gate)[t], getattr(sc, gate),
                                       rtol=1e-12, atol=1e-12)
    dh_next, dc_next = np.zeros_like(h0), dc_last
    total = [np.zeros_like(a) for a in fields_arrays(p)]
    for t in reversed(range(x.shape[1])):
        sg = lstm_step_backward(dh[:, t] + dh_next, dc_next, caches[t])
        np.testing.assert_allclose(sg.dx, g.dx[:, t], rtol=1e-10, atol=1e-12)
        dh_next, dc_next = sg.dh_prev, sg.dc_prev
        total = [s + d for s, d in zip(total, fields_arrays(sg.dparams))]
    np.testing.assert_allclose(dh_next, g.dh0, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dc_next, g.dc0, rtol=1e-10, atol=1e-12)
    for s, d in zip(total, fields_arrays(g.dparams)):
        np.testing.assert_allclose(s, d, rtol=1e-10, atol=1e-12)
    for a, b in zip(snapshot, (x, h0, c0, *fields_arrays(p))):
        np.testing.assert_array_equal(a, b)


def fields_arrays(p):
    return [a for a in p if a is not None]


def test_defaults_zero_states_and_zero_dc_last():
    rng, p, x, _, _ = make(2, 3, 4, 3)
    z = np.zeros((2, 3))
    h1, cache1 = lstm_forward(x, None, p)
    h2, cache2 = lstm_forward(x, z, p, c0=z)
    np.testing.assert_array_equal(h1, h2)
    np.testing.assert_array_equal(cache1.c, cache2.c)
    dh = rng.normal(size=h1.shape)
    g1, g2 = lstm_backward(dh, cache1), lstm_backward(dh, cache2, dc_last=z)
    np.testing.assert_array_equal(g1.dx, g2.dx)
    np.testing.assert_array_equal(g1.dc0, g2.dc0)


def test_zero_peepholes_equal_plain_lstm_and_nonzero_differ():
    rng, p, x, h0, c0 = make(2, 4, 3, 5)
    h, _ = lstm_forward(x, h0, p, c0=c0)
    hz, _ = lstm_forward(x, h0, p._replace(P=np.zeros((3, 5))), c0=c0)
    np.testing.assert_allclose(hz, h, rtol=1e-14, atol=1e-15)
    hp, _ = lstm_forward(x, h0, p._replace(P=np.ones((3, 5))), c0=c0)
    assert np.abs(hp - h).max() > 1e-3


def torch_lstm(p, D, H):
    m = torch.nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():                      # same gate order i, f, g, o as ours
        m.weight_ih_l0.copy_(torch.from_numpy(p.U))
        m.weight_hh_l0.copy_(torch.from_numpy(p.W))
        m.bias_ih_l0.copy_(torch.from_numpy(p.b))
        m.bias_hh_l0.zero_()
    return m


@pytest.mark.parametrize("N,T,D,H", [(1, 1, 3, 4), (4, 7, 5, 6), (2, 3, 6, 2)])
def test_matches_torch_lstm_forward_and_autograd(N, T, D, H):
    rng, p, x, h0, c0 = make(N, T, D, H, seed=3)
    dh, dc_last = rng.normal(size=(N, T, H)), rng.normal(size=(N, H))
    h, cache = lstm_forward(x, h0, p, c0=c0)
    c = cache.c
    g = lstm_backward(dh, cache, dc_last=dc_last)

    m = torch_lstm(p, D, H)
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    c0t = torch.tensor(c0[None], requires_grad=True)
    out, (hn, cn) = m(xt, (h0t, c0t))
    np.testing.assert_allclose(h, out.detach().numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(h[:, -1], hn[0].detach().numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(c[:, -1], cn[0].detach().numpy(), rtol=0, atol=1e-9)
    ((out * torch.from_numpy(dh)).sum() + (cn[0] * torch.from_numpy(dc_last)).sum()).backward()
    np.testing.assert_allclose(g.dx, xt.grad.numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(g.dh0, h0t.grad[0].numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(g.dc0, c0t.grad[0].numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(g.dparams.U, m.weight_ih_l0.grad.numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(g.dparams.W, m.weight_hh_l0.grad.numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(g.dparams.b, m.bias_ih_l0.grad.numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(g.dparams.b, m.bias_hh_l0.grad.numpy(), rtol=0, atol=1e-9)
    assert g.dparams.P is None


def torch_peephole_lstm(x, h, c, U, W, b, P):
    """Independent reference: the peephole LSTM written step by step with torch ops."""
    H = W.shape[1]
    outs, cs = [], []
    for t in range(x.shape[1]):
        a = x[:, t] @ U.T + h @ W.T + b
        i = torch.sigmoid(a[:, :H] + P[0] * c)
        f = torch.sigmoid(a[:, H:2 * H] + P[1] * c)
        g = torch.tanh(a[:, 2 * H:3 * H])
        o = torch.sigmoid(a[:, 3 * H:] + P[2] * c)
        c = f * c + i * g
        h = o * torch.tanh(c)
        outs.append(h)
        cs.append(c)
    return torch.stack(outs, 1), torch.stack(cs, 1)


@pytest.mark.parametrize("N,T,D,H", [(1, 1, 2, 3), (3, 6, 4, 5)])
def test_peephole_lstm_matches_torch_autograd_reference(N, T, D, H):
    rng, p, x, h0, c0 = make(N, T, D, H, peepholes=True, seed=4)
    dh, dc_last = rng.normal(size=(N, T, H)), rng.normal(size=(N, H))
    h, cache = lstm_forward(x, h0, p, c0=c0)
    c = cache.c
    g = lstm_backward(dh, cache, dc_last=dc_last)

    leaves = [torch.tensor(a, requires_grad=True) for a in (x, h0, c0, *p)]
    ht, ct = torch_peephole_lstm(*leaves)
    np.testing.assert_allclose(h, ht.detach().numpy(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(c, ct.detach().numpy(), rtol=0, atol=1e-9)
    ((ht * torch.from_numpy(dh)).sum() + (ct[:, -1] * torch.from_numpy(dc_last)).sum()).backward()
    ours = [g.dx, g.dh0, g.dc0, *g.dparams]
    for name, mine, leaf in zip(["x", "h0", "c0", "U", "W", "b", "P"], ours, leaves):
        np.testing.assert_allclose(mine, leaf.grad.numpy(), rtol=0, atol=1e-9, err_msg=name)


def test_gradient_along_cell_state_is_forget_gate():
    """With dh = 0 and no peepholes, dc_{t-1} = dc_t * f_t exactly (the LSTM's memory path)."""
    rng, p, x, h0, c0 = make(2, 1, 3, 4, seed=5)
    _, cache = lstm_forward(x, h0, p, c0=c0)
    dc_last = rng.normal(size=(2, 4))
    g = lstm_backward(np.zeros((2, 1, 4)), cache, dc_last=dc_last)
    # dc0 = dc_1 * f_1 plus nothing else (the gates do not see c_0 without peepholes)
    np.testing.assert_allclose(g.dc0, dc_last * cache.f[0], rtol=1e-14, atol=1e-15)


def test_init_lstm_params():
    p = init_lstm_params(3, 5, 0)
    assert p.U.shape == (20, 3) and p.W.shape == (20, 5) and p.b.shape == (20,) and p.P is None
    np.testing.assert_array_equal(p.b[5:10], 1.0)
    np.testing.assert_array_equal(np.delete(p.b, np.s_[5:10]), 0.0)
    assert np.abs(p.W).max() <= 1 / np.sqrt(5) and p.W.std() > 0.1
    q = init_lstm_params(3, 5, np.random.default_rng(0), peepholes=True, forget_bias=2.0)
    assert q.P.shape == (3, 5)
    np.testing.assert_array_equal(q.b[5:10], 2.0)
    np.testing.assert_array_equal(init_lstm_params(3, 5, 7).W, init_lstm_params(3, 5, 7).W)
    with pytest.raises(ValueError, match=r"init_lstm_params: H must be a positive integer, got 0"):
        init_lstm_params(3, 0, 0)
    with pytest.raises(ValueError, match=r"init_lstm_params: rng must be an int seed"):
        init_lstm_params(3, 2, "seed")


@pytest.mark.parametrize("mutate,match", [
    (lambda x, h0, c0, p: (x[0], h0, p, c0),
     r"lstm_forward: x must have 3 dimensions \(N, T, D\), got shape \(4, 3\)"),
    (lambda x, h0, c0, p: (x, h0[:, :2], p, c0),
     r"h0 must have shape \(N, H\) = \(2, 5\), got \(2, 2\)"),
    (lambda x, h0, c0, p: (x, h0, p, c0[:1]),
     r"c0 must have shape \(N, H\) = \(2, 5\), got \(1, 5\)"),
    (lambda x, h0, c0, p: (x[..., :2], h0, p, c0),
     r"x must have shape \(N, T, D\) = \(N, T, 3\), got \(2, 4, 2\)"),
    (lambda x, h0, c0, p: (x, h0, p._replace(W=p.W[:15]), c0),
     r"params.W must have shape \(4H, H\) = \(20, 5\).*got \(15, 5\)"),
    (lambda x, h0, c0, p: (x, h0, p._replace(U=p.U[:, :, None]), c0),
     r"params.U must have 2 dimensions \(4H, D\), got shape \(20, 3, 1\)"),
    (lambda x, h0, c0, p: (x, h0, p._replace(U=p.U[:16]), c0),
     r"params.U must have shape \(4H, D\) = \(20, D\), got \(16, 3\)"),
    (lambda x, h0, c0, p: (x, h0, p._replace(b=p.b[:5]), c0),
     r"params.b must have shape \(4H,\) = \(20,\), got \(5,\)"),
    (lambda x, h0, c0, p: (x, h0, p._replace(P=np.zeros((4, 5))), c0),
     r"params.P must have shape \(3, H\) = \(3, 5\), got \(4, 5\)"),
    (lambda x, h0, c0, p: (x, h0, p._replace(P=np.zeros(5)), c0),
     r"params.P must have 2 dimensions \(3, H\), got shape \(5,\)"),
    (lambda x, h0, c0, p: (x.astype(int), h0, p, c0),
     r"x must be a floating-point array.*got dtype int"),
    (lambda x, h0, c0, p: (np.where(x > 1, np.nan, x), h0, p, c0),
     r"x must contain only finite values"),
    (lambda x, h0, c0, p: (x, h0, p, np.full_like(c0, np.inf)),
     r"c0 must contain only finite values"),
    (lambda x, h0, c0, p: (x, h0, p._replace(W=np.where(p.W > 0.5, np.nan, p.W)), c0),
     r"params.W must contain only finite values"),
    (lambda x, h0, c0, p: (x, h0, (p.U, p.W), c0),
     r"params must be LSTMParams\(U, W, b, P=None\), got tuple"),
])
def test_bad_input_names_argument_and_shapes(mutate, match):
    _, p, x, h0, c0 = make(2, 4, 3, 5)
    with pytest.raises(ValueError, match=match):
        x_, h0_, p_, c0_ = mutate(x, h0, c0, p)
        lstm_forward(x_, h0_, p_, c0=c0_)


def test_bad_backward_and_step_inputs():
    rng, p, x, h0, c0 = make(2, 4, 3, 5)
    _, cache = lstm_forward(x, h0, p, c0=c0)
    with pytest.raises(ValueError, match=r"lstm_backward: dh must have shape \(N, T, H\) = "
                                         r"\(2, 4, 5\), got \(2, 3, 5\)"):
        lstm_backward(np.zeros((2, 3, 5)), cache)
    with pytest.raises(ValueError, match=r"lstm_backward: dc_last must have shape \(N, H\) = "
                                         r"\(2, 5\), got \(5, 2\)"):
        lstm_backward(np.zeros((2, 4, 5)), cache, dc_last=np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"lstm_step_forward: c_prev must have shape \(N, H\) = "
                                         r"\(2, 5\), got \(2, 4\)"):
        lstm_step_forward(x[:, 0], h0, c0[:, :4], p)
    _, _, sc = lstm_step_forward(x[:, 0], h0, c0, p)
    with pytest.raises(ValueError, match=r"lstm_step_backward: dc_next must have shape \(N, H\) = "
                                         r"\(2, 5\), got \(3, 5\)"):
        lstm_step_backward(np.zeros((2, 5)), np.zeros((3, 5)), sc)


def test_backward_leaves_its_inputs_untouched():
    """The backward pass reuses buffers: none of them may be the caller's dh or dc_last."""
    from rnncourse.lstm import init_lstm_params, lstm_backward, lstm_forward
    rng = np.random.default_rng(0)
    p = init_lstm_params(3, 4, 0, peepholes=True)
    x = rng.normal(size=(2, 5, 3))
    _, cache = lstm_forward(x, rng.normal(size=(2, 4)), p, c0=rng.normal(size=(2, 4)))
    dh, dc_last = rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 4))
    dh_copy, dc_copy = dh.copy(), dc_last.copy()
    g1 = lstm_backward(dh, cache, dc_last=dc_last)
    np.testing.assert_array_equal(dh, dh_copy)
    np.testing.assert_array_equal(dc_last, dc_copy)
    g2 = lstm_backward(dh, cache, dc_last=dc_last)         # same result when called again
    np.testing.assert_array_equal(g1.dc0, g2.dc0)
    np.testing.assert_array_equal(g1.dh0, g2.dh0)


def test_follows_the_package_convention():
    """(x, h0, params, *, c0) -> (h, cache) like every layer; the cell states are cache.c."""
    rng, p, x, h0, c0 = make(2, 3, 4, 5)
    out = lstm_forward(x, h0, p, c0=c0)
    assert len(out) == 2
    h, cache = out
    assert cache.c.shape == h.shape == (2, 3, 5)
    assert np.shares_memory(cache.c, cache.c_tm)
    with pytest.raises(TypeError, match="positional"):
        lstm_forward(x, h0, p, c0)                       # c0 is keyword only
    with pytest.raises(TypeError, match="positional"):
        lstm_backward(np.zeros((2, 3, 5)), cache, np.zeros((2, 5)))   # so is dc_last
    g = lstm_backward(np.zeros((2, 3, 5)), cache)
    assert type(g)._fields == ("dx", "dh0", "dparams", "dc0")   # the forward's argument order
