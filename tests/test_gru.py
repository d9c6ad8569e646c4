"""GRUs: finite differences, step/sequence agreement, torch.nn.GRU oracle, an
independent torch-autograd version of the notes' GRUs, and input checks."""
import warnings

import numpy as np
import pytest
import torch

from rnncourse.gradcheck import numerical_gradient as num_grad
from rnncourse.gradcheck import relative_error as rel
from rnncourse.gru import (GRUParams, SimpleGRUParams, gru_backward, gru_forward,
                           gru_step_backward, gru_step_forward, init_gru_params,
                           init_simple_gru_params, simple_gru_backward, simple_gru_forward,
                           simple_gru_step_backward, simple_gru_step_forward)

VARIANTS = ["simple", "gru", "gru_reset_after"]
SHAPES = [(1, 1, 3, 4), (2, 5, 4, 3), (3, 4, 6, 6), (1, 3, 2, 5)]


def make_params(variant, D, H, rng, scale=0.5):
    k = 2 if variant == "simple" else 3
    U = rng.normal(0, scale, (k * H, D))
    W = rng.normal(0, scale, (k * H, H))
    b = rng.normal(0, scale, k * H)
    if variant == "simple":
        return SimpleGRUParams(U, W, b)
    return GRUParams(U, W, b, rng.normal(0, scale, H) if variant == "gru_reset_after" else None)


def seq_fns(variant):
    if variant == "simple":
        return simple_gru_forward, simple_gru_backward
    ra = variant == "gru_reset_after"
    return (lambda x, h0, p: gru_forward(x, h0, p, reset_after=ra)), gru_backward


def step_fns(variant):
    if variant == "simple":
        return simple_gru_step_forward, simple_gru_step_backward
    ra = variant == "gru_reset_after"
    return (lambda x, h, p: gru_step_forward(x, h, p, reset_after=ra)), gru_step_backward


def param_names(p):
    return [f for f in p._fields if getattr(p, f) is not None]


# ----------------------------------------------------------------------------
# finite differences
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("N,T,D,H", SHAPES)
def test_sequence_backward_matches_finite_differences(variant, N, T, D, H):
    rng = np.random.default_rng(N * 100 + T * 10 + D)
    p = make_params(variant, D, H, rng)
    x, h0, dh = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, T, H))
    fwd, bwd = seq_fns(variant)
    g = bwd(dh, fwd(x, h0, p)[1])

    def loss(x=x, h0=h0, p=p):
        return float((fwd(x, h0, p)[0] * dh).sum())

    assert g.dx.shape == x.shape and g.dh0.shape == h0.shape
    assert rel(g.dx, num_grad(lambda a: loss(x=a), x)) < 1e-6
    assert rel(g.dh0, num_grad(lambda a: loss(h0=a), h0)) < 1e-6
    assert type(g.dparams) is type(p)
    for name in param_names(p):
        numeric = num_grad(lambda a: loss(p=p._replace(**{name: a})), getattr(p, name))
        assert getattr(g.dparams, name).shape == numeric.shape
        assert rel(getattr(g.dparams, name), numeric) < 1e-6, name
    if variant == "gru":
        assert g.dparams.b_hn is None


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("N,D,H", [(1, 3, 4), (3, 5, 2), (2, 4, 4)])
def test_step_backward_matches_finite_differences(variant, N, D, H):
    rng = np.random.default_rng(7 + N + D)
    p = make_params(variant, D, H, rng)
    x, h, dh = rng.normal(size=(N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    fwd, bwd = step_fns(variant)
    g = bwd(dh, fwd(x, h, p)[1])

    def loss(x=x, h=h, p=p):
        return float((fwd(x, h, p)[0] * dh).sum())

    assert rel(g.dx, num_grad(lambda a: loss(x=a), x)) < 1e-6
    assert rel(g.dh_prev, num_grad(lambda a: loss(h=a), h)) < 1e-6
    for name in param_names(p):
        numeric = num_grad(lambda a: loss(p=p._replace(**{name: a})), getattr(p, name))
        assert rel(getattr(g.dparams, name), numeric) < 1e-6, name


# ----------------------------------------------------------------------------
# sequence == loop of steps; inputs untouched; gate caches
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("variant", VARIANTS)
def test_sequence_equals_loop_of_steps_and_inputs_untouched(variant):
    rng = np.random.default_rng(3)
    N, T, D, H = 2, 6, 3, 5
    p = make_params(variant, D, H, rng)
    x, h0 = rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    snapshot = [a.copy() for a in (x, h0, *[getattr(p, f) for f in param_names(p)])]
    fwd, bwd = seq_fns(variant)
    sfwd, sbwd = step_fns(variant)
    h, cache = fwd(x, h0, p)
    dh = rng.normal(size=h.shape)
    g = bwd(dh, cache)
    hp, caches = h0, []
    for t in range(T):
        hp, c = sfwd(x[:, t], hp, p)
        caches.append(c)
        np.testing.assert_allclose(hp, h[:, t], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(c.z, cache.z[t], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(c.n, cache.n[t], rtol=1e-12, atol=1e-13)
        if variant != "simple":
            np.testing.assert_allclose(c.r, cache.r[t], rtol=1e-12, atol=1e-13)
    dprev = np.zeros_like(h0)
    acc = {name: 0.0 for name in param_names(p)}
    for t in reversed(range(T)):
        sg = sbwd(dh[:, t] + dprev, caches[t])
        np.testing.assert_allclose(sg.dx, g.dx[:, t], rtol=1e-10, atol=1e-12)
        dprev = sg.dh_prev
        for name in acc:
            acc[name] = acc[name] + getattr(sg.dparams, name)
    np.testing.assert_allclose(dprev, g.dh0, rtol=1e-10, atol=1e-12)
    for name in acc:
        np.testing.assert_allclose(acc[name], getattr(g.dparams, name), rtol=1e-10, atol=1e-12)
    after = [x, h0, *[getattr(p, f) for f in param_names(p)]]
    for a, b in zip(snapshot, after):
        np.testing.assert_array_equal(a, b)
    # the backward pass must not change the cache either (the book reuses it)
    h2, cache2 = fwd(x, h0, p)
    np.testing.assert_array_equal(cache.z, cache2.z)
    np.testing.assert_array_equal(h, h2)


@pytest.mark.parametrize("variant", VARIANTS)
def test_cache_exposes_gates_time_major_in_range(variant):
    rng = np.random.default_rng(4)
    p = make_params(variant, 3, 4, rng)
    x = rng.normal(size=(2, 7, 3))
    h, cache = seq_fns(variant)[0](x, None, p)
    gates = ["z", "n"] if variant == "simple" else ["r", "z", "n"]
    for name in gates:
        assert getattr(cache, name).shape == (7, 2, 4), name
    assert ((cache.z > 0) & (cache.z < 1)).all()
    assert (np.abs(cache.n) < 1).all()
    # h_t = z n + (1 - z) h_{t-1} with h0 = 0
    h_prev = np.concatenate([np.zeros((1, 2, 4)), h.transpose(1, 0, 2)[:-1]])
    np.testing.assert_allclose(h.transpose(1, 0, 2), cache.z * cache.n + (1 - cache.z) * h_prev,
                               rtol=1e-12, atol=1e-14)


def test_z_zero_copies_memory_and_z_one_overwrites_it():
    rng = np.random.default_rng(5)
    D, H = 3, 4
    p = make_params("gru", D, H, rng)
    x, h0 = rng.normal(size=(2, 6, D)), rng.normal(size=(2, H))
    b = p.b.copy()
    b[H:2 * H] = -800.0                                 # z = sigmoid(-800) = 0 exactly
    h, _ = gru_forward(x, h0, p._replace(b=b))
    np.testing.assert_array_equal(h[:, -1], h0)
    b[H:2 * H] = 800.0                                  # z = 1: h_t = n_t
    h, cache = gru_forward(x, h0, p._replace(b=b))
    np.testing.assert_allclose(h.transpose(1, 0, 2), cache.n, rtol=0, atol=1e-15)


@pytest.mark.parametrize("variant", VARIANTS)
def test_saturated_gates_give_no_warnings_and_match_steps(variant):
    rng = np.random.default_rng(6)
    p = make_params(variant, 3, 4, rng, scale=400.0)    # pre-activations of order 1e3
    x, h0 = rng.normal(size=(2, 5, 3)), rng.normal(size=(2, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h, cache = seq_fns(variant)[0](x, h0, p)
        g = seq_fns(variant)[1](np.ones_like(h), cache)
    assert np.isfinite(h).all() and np.isfinite(g.dx).all() and np.isfinite(g.dparams.W).all()
    hp = h0
    for t in range(5):
        hp, _ = step_fns(variant)[0](x[:, t], hp, p)
    np.testing.assert_allclose(hp, h[:, -1], rtol=1e-12, atol=1e-13)


# ----------------------------------------------------------------------------
# torch.nn.GRU oracle (reset_after=True is PyTorch's GRU)
# ----------------------------------------------------------------------------
def _ours_from_torch(gru, H):
    """Map nn.GRU weights to GRUParams: z' = 1 - z, so the z rows change sign."""
    sign = np.ones(3 * H)
    sign[H:2 * H] = -1.0
    U = gru.weight_ih_l0.detach().numpy() * sign[:, None]
    W = gru.weight_hh_l0.detach().numpy() * sign[:, None]
    bih, bhh = gru.bias_ih_l0.detach().numpy(), gru.bias_hh_l0.detach().numpy()
    b = (bih + np.concatenate([bhh[:2 * H], np.zeros(H)])) * sign
    return GRUParams(U, W, b, bhh[2 * H:].copy()), sign


@pytest.mark.parametrize("N,T,D,H", [(1, 1, 3, 4), (3, 7, 5, 4), (2, 4, 6, 6)])
def test_reset_after_matches_torch_gru(N, T, D, H):
    torch.manual_seed(N + T + D + H)
    gru = torch.nn.GRU(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():                               # make every bias matter
        for prm in gru.parameters():
            prm.uniform_(-0.8, 0.8)
    p, sign = _ours_from_torch(gru, H)
    rng = np.random.default_rng(N * T)
    x, h0, dh = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, T, H))

    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0[None], requires_grad=True)
    out, hn = gru(xt, h0t)
    out.backward(torch.tensor(dh))

    h, cache = gru_forward(x, h0, p, reset_after=True)
    g = gru_backward(dh, cache)
    np.testing.assert_allclose(h, out.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(h[:, -1], hn.detach().numpy()[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g.dx, xt.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g.dh0, h0t.grad.numpy()[0], rtol=1e-9, atol=1e-12)
    dp = g.dparams
    np.testing.assert_allclose(dp.U * sign[:, None], gru.weight_ih_l0.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dp.W * sign[:, None], gru.weight_hh_l0.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(dp.b * sign, gru.bias_ih_l0.grad.numpy(), rtol=1e-9, atol=1e-12)
    bhh_grad = np.concatenate([(dp.b * sign)[:2 * H], dp.b_hn])
    np.testing.assert_allclose(bhh_grad, gru.bias_hh_l0.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_reset_after_step_matches_torch_gru_cell():
    torch.manual_seed(0)
    N, D, H = 3, 4, 5
    gru = torch.nn.GRU(D, H, batch_first=True, dtype=torch.float64)
    p, _ = _ours_from_torch(gru, H)
    cell = torch.nn.GRUCell(D, H, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(gru.weight_ih_l0)
        cell.weight_hh.copy_(gru.weight_hh_l0)
        cell.bias_ih.copy_(gru.bias_ih_l0)
        cell.bias_hh.copy_(gru.bias_hh_l0)
    rng = np.random.default_rng(1)
    x, h = rng.normal(size=(N, D)), rng.normal(size=(N, H))
    ours, _ = gru_step_forward(x, h, p, reset_after=True)
    theirs = cell(torch.tensor(x), torch.tensor(h)).detach().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------
# the notes' GRUs against an independent torch-autograd implementation
# (written in Ng's concatenated form: W_gate [h_{t-1}, x_t] + b_gate)
# ----------------------------------------------------------------------------
def _torch_notes_gru(x, h0, U, W, b, simple):
    H = W.shape[1]
    k = 2 if simple else 3
    blocks = [torch.cat([W[i * H:(i + 1) * H], U[i * H:(i + 1) * H]], dim=1) for i in range(k)]
    biases = [b[i * H:(i + 1) * H] for i in range(k)]
    h, outs = h0, []
    for t in range(x.shape[1]):
        hx = torch.cat([h, x[:, t]], dim=1)
        if simple:
            Wz, Wc = blocks
            bz, bc = biases
            gamma_u = torch.sigmoid(hx @ Wz.T + bz)
            c_tilde = torch.tanh(hx @ Wc.T + bc)
        else:
            Wr, Wz, Wc = blocks
            br, bz, bc = biases
            gamma_r = torch.sigmoid(hx @ Wr.T + br)
            gamma_u = torch.sigmoid(hx @ Wz.T + bz)
            c_tilde = torch.tanh(torch.cat([gamma_r * h, x[:, t]], dim=1) @ Wc.T + bc)
        h = gamma_u * c_tilde + (1 - gamma_u) * h
        outs.append(h)
    return torch.stack(outs, dim=1)


@pytest.mark.parametrize("variant", ["simple", "gru"])
@pytest.mark.parametrize("N,T,D,H", [(1, 1, 2, 3), (3, 6, 4, 5), (2, 5, 5, 5)])
def test_notes_gru_matches_independent_torch_autograd(variant, N, T, D, H):
    rng = np.random.default_rng(11 + N + T)
    p = make_params(variant, D, H, rng)
    x, h0, dh = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, T, H))
    fwd, bwd = seq_fns(variant)
    h, cache = fwd(x, h0, p)
    g = bwd(dh, cache)

    tens = {k: torch.tensor(v, requires_grad=True)
            for k, v in dict(x=x, h0=h0, U=p.U, W=p.W, b=p.b).items()}
    out = _torch_notes_gru(tens["x"], tens["h0"], tens["U"], tens["W"], tens["b"],
                           simple=variant == "simple")
    out.backward(torch.tensor(dh))
    np.testing.assert_allclose(h, out.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g.dx, tens["x"].grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g.dh0, tens["h0"].grad.numpy(), rtol=1e-9, atol=1e-12)
    for name in ("U", "W", "b"):
        np.testing.assert_allclose(getattr(g.dparams, name), tens[name].grad.numpy(),
                                   rtol=1e-9, atol=1e-12, err_msg=name)


def test_reset_before_and_after_differ():
    """The two placements of r are different functions (guards against a mixed-up flag)."""
    rng = np.random.default_rng(8)
    p = make_params("gru", 3, 4, rng)
    x, h0 = rng.normal(size=(2, 3, 3)), rng.normal(size=(2, 4))
    h_before, _ = gru_forward(x, h0, p, reset_after=False)
    h_after, _ = gru_forward(x, h0, p._replace(b_hn=np.zeros(4)), reset_after=True)
    assert np.abs(h_before - h_after).max() > 1e-3


# ----------------------------------------------------------------------------
# initialisation
# ----------------------------------------------------------------------------
def test_init_shapes_orthogonal_blocks_and_seed():
    p = init_gru_params(5, 4, 0)
    assert p.U.shape == (12, 5) and p.W.shape == (12, 4) and p.b.shape == (12,) and p.b_hn is None
    for i in range(3):
        blk = p.W[4 * i:4 * (i + 1)]
        np.testing.assert_allclose(blk @ blk.T, np.eye(4), atol=1e-12)
    q = init_gru_params(5, 4, np.random.default_rng(0), reset_after=True)
    np.testing.assert_array_equal(p.U, q.U)
    assert q.b_hn.shape == (4,)
    s = init_simple_gru_params(3, 6, 1)
    assert s.U.shape == (12, 3) and s.W.shape == (12, 6) and s.b.shape == (12,)
    assert not np.array_equal(init_simple_gru_params(3, 6, 2).U, s.U)
    gru_forward(np.zeros((1, 2, 5)), None, q, reset_after=True)  # accepted as is


# ----------------------------------------------------------------------------
# bad input
# ----------------------------------------------------------------------------
def _base():
    rng = np.random.default_rng(9)
    return make_params("gru", 3, 5, rng), rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 5))


@pytest.mark.parametrize("call,match", [
    (lambda p, x, h0: gru_forward(x[0], h0, p),
     r"gru_forward: x must have 3 dimensions \(N, T, D\), got shape \(4, 3\)"),
    (lambda p, x, h0: gru_forward(x, h0[:, :2], p),
     r"gru_forward: h0 must have shape \(N, H\) = \(2, 5\), got \(2, 2\)"),
    (lambda p, x, h0: gru_forward(x, h0, p._replace(W=p.W[:, :4])),
     r"params.W must have shape \(3H, H\) = \(15, 5\), got \(15, 4\)"),
    (lambda p, x, h0: gru_forward(x, h0, p._replace(W=p.W[:10])),
     r"params.W must have shape \(3H, H\) = \(15, 5\), got \(10, 5\)"),
    (lambda p, x, h0: gru_forward(x, h0, p._replace(U=p.U[:14])),
     r"params.U must have 3\*H rows .* got shape \(14, 3\)"),
    (lambda p, x, h0: gru_forward(x, h0, p._replace(U=p.U[:, :2])),
     r"x must have shape \(N, T, D\) = \(N, T, 2\), got \(2, 4, 3\)"),
    (lambda p, x, h0: gru_forward(x, h0, p._replace(b=p.b[:5])),
     r"params.b must have shape \(3H,\) = \(15,\), got \(5,\)"),
    (lambda p, x, h0: gru_forward(x, h0, p._replace(U=p.U[0])),
     r"params.U must have 2 dimensions \(3H, D\), got shape \(3,\)"),
    (lambda p, x, h0: gru_forward(x, h0, p._replace(b_hn=np.zeros(5))),
     r"params.b_hn must be None when reset_after=False.*shape \(5,\)"),
    (lambda p, x, h0: gru_forward(x, h0, p, reset_after=True),
     r"params.b_hn is required when reset_after=True.*\(H,\) = \(5,\), got None"),
    (lambda p, x, h0: gru_forward(x, h0, p._replace(b_hn=np.zeros(4)), reset_after=True),
     r"params.b_hn must have shape \(H,\) = \(5,\), got \(4,\)"),
    (lambda p, x, h0: gru_forward(x, h0, p, reset_after="yes"),
     r"reset_after must be True or False, got 'yes'"),
    (lambda p, x, h0: gru_forward(np.where(x > 1, np.inf, x), h0, p),
     r"x must contain only finite values"),
    (lambda p, x, h0: gru_forward(x, h0, p._replace(W=np.full_like(p.W, np.nan))),
     r"params.W must contain only finite values"),
    (lambda p, x, h0: gru_forward(x.astype(int), h0, p),
     r"x must be a floating-point array.*got dtype int"),
    (lambda p, x, h0: gru_step_forward(x, h0, p),
     r"gru_step_forward: x must have 2 dimensions \(N, D\), got shape \(2, 4, 3\)"),
    (lambda p, x, h0: gru_step_forward(x[:, 0], h0[:1], p),
     r"gru_step_forward: h_prev must have shape \(N, H\) = \(2, 5\), got \(1, 5\)"),
    (lambda p, x, h0: gru_backward(np.zeros((2, 3, 5)), gru_forward(x, h0, p)[1]),
     r"gru_backward: dh must have shape \(N, T, H\) = \(2, 4, 5\), got \(2, 3, 5\)"),
    (lambda p, x, h0: gru_step_backward(np.zeros((2, 4)), gru_step_forward(x[:, 0], h0, p)[1]),
     r"gru_step_backward: dh_next must have shape \(N, H\) = \(2, 5\), got \(2, 4\)"),
    (lambda p, x, h0: simple_gru_forward(x, h0, SimpleGRUParams(p.U[:10], p.W[:10, :4], p.b[:10])),
     r"simple_gru_forward: params.W must have shape \(2H, H\) = \(10, 5\), got \(10, 4\)"),
    (lambda p, x, h0: simple_gru_forward(x, h0, SimpleGRUParams(p.U, p.W, p.b)),
     r"simple_gru_forward: params.U must have 2\*H rows \(gate blocks z, n\), got shape \(15, 3\)"),
    (lambda p, x, h0: simple_gru_forward(x, h0, p),
     r"simple_gru_forward: params must be SimpleGRUParams\(U, W, b\), got GRUParams"),
    (lambda p, x, h0: simple_gru_step_forward(x[:, 0], h0, SimpleGRUParams(p.U[:10], p.W[:10], p.b[:9])),
     r"simple_gru_step_forward: params.b must have shape \(2H,\) = \(10,\), got \(9,\)"),
    (lambda p, x, h0: simple_gru_backward(np.zeros((2, 4, 4)),
                                          simple_gru_forward(x, h0, SimpleGRUParams(p.U[:10], p.W[:10], p.b[:10]))[1]),
     r"simple_gru_backward: dh must have shape \(N, T, H\) = \(2, 4, 5\), got \(2, 4, 4\)"),
    (lambda p, x, h0: init_gru_params(0, 4, 0), r"init_gru_params: D must be a positive integer, got 0"),
    (lambda p, x, h0: init_simple_gru_params(3, 4, "seed"), r"rng must be an int seed or a numpy.random.Generator"),
])
def test_bad_input_names_argument_and_shapes(call, match):
    p, x, h0 = _base()
    with pytest.raises(ValueError, match=match):
        call(p, x, h0)
