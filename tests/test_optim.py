"""Functional SGD and Adam: containers, no mutation, agreement with torch.optim."""
from typing import NamedTuple, Optional

import numpy as np
import pytest

from rnncourse.optim import AdamState, adam_init, adam_step, sgd_step


class P(NamedTuple):
    A: np.ndarray
    b: np.ndarray
    extra: Optional[np.ndarray] = None


def make(seed=0):
    rng = np.random.default_rng(seed)
    return P(rng.normal(size=(3, 4)), rng.normal(size=4)), rng


def grads_for(params, rng):
    return P(rng.normal(size=params.A.shape), rng.normal(size=params.b.shape))


def test_sgd_namedtuple_dict_list_and_no_mutation():
    p, rng = make()
    g = grads_for(p, rng)
    snap = [a.copy() for a in (*p[:2], *g[:2])]
    new = sgd_step(p, g, 0.1)
    assert type(new) is P and new.extra is None
    np.testing.assert_allclose(new.A, p.A - 0.1 * g.A, rtol=0, atol=1e-15)
    np.testing.assert_allclose(new.b, p.b - 0.1 * g.b, rtol=0, atol=1e-15)
    for a, s in zip((*p[:2], *g[:2]), snap):
        np.testing.assert_array_equal(a, s)
    d = sgd_step({"w": p.A, "nested": [p.b]}, {"w": g.A, "nested": [g.b]}, 0.5)
    assert set(d) == {"w", "nested"} and isinstance(d["nested"], list)
    np.testing.assert_allclose(d["nested"][0], p.b - 0.5 * g.b)
    single = sgd_step(p.A, g.A, 1.0)
    np.testing.assert_allclose(single, p.A - g.A)


def test_sgd_gradient_none_leaves_parameter_unchanged_but_copied():
    p, rng = make()
    new = sgd_step(p, P(rng.normal(size=(3, 4)), None), 0.1)
    np.testing.assert_array_equal(new.b, p.b)
    assert new.b is not p.b


def test_errors_name_the_argument_and_shapes():
    p, rng = make()
    bad = P(np.zeros((3, 5)), np.zeros(4))
    with pytest.raises(ValueError, match=r"sgd_step: grads.A must have the shape of params.A \(3, 4\), got \(3, 5\)"):
        sgd_step(p, bad, 0.1)
    with pytest.raises(ValueError, match=r"adam_step: grads.A must have the shape of params.A \(3, 4\), got \(3, 5\)"):
        adam_step(p, bad, adam_init(p))
    with pytest.raises(ValueError, match="sgd_step: grads must have the same structure as params"):
        sgd_step(p, [np.zeros((3, 4))], 0.1)
    with pytest.raises(ValueError, match="sgd_step: lr must be a non-negative finite number, got -1"):
        sgd_step(p, p, -1)
    with pytest.raises(ValueError, match=r"adam_step: betas must be a pair of numbers in \[0, 1\), got \(0.9, 1.0\)"):
        adam_step(p, p, adam_init(p), betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="adam_step: eps must be a non-negative finite number"):
        adam_step(p, p, adam_init(p), eps=float("nan"))
    with pytest.raises(ValueError, match="adam_step: state must be an AdamState"):
        adam_step(p, p, (0, None, None))
    with pytest.raises(ValueError, match="sgd_step: grads.b must be a floating-point array"):
        sgd_step(p, P(p.A, np.array([1, 2, 3, 4])), 0.1)


def test_adam_init_and_no_mutation():
    p, rng = make()
    s = adam_init(p)
    assert isinstance(s, AdamState) and s.t == 0 and type(s.m) is P and s.m.extra is None
    np.testing.assert_array_equal(s.m.A, 0.0)
    g = grads_for(p, rng)
    snap = [a.copy() for a in (*p[:2], *g[:2], *s.m[:2], *s.v[:2])]
    new_p, new_s = adam_step(p, g, s, lr=0.01)
    for a, b in zip((*p[:2], *g[:2], *s.m[:2], *s.v[:2]), snap):
        np.testing.assert_array_equal(a, b)
    assert new_s.t == 1 and type(new_p) is P and new_p.extra is None
    # first step: m_hat = g, v_hat = g^2, so every entry moves by ~lr * sign(g)
    np.testing.assert_allclose(p.A - new_p.A, 0.01 * np.sign(g.A), rtol=1e-6)


def test_adam_none_gradient_freezes_parameter_and_moments():
    p, rng = make()
    s = adam_init(p)
    p1, s1 = adam_step(p, grads_for(p, rng), s, lr=0.1)
    p2, s2 = adam_step(p1, P(rng.normal(size=(3, 4)), None), s1, lr=0.1)
    np.testing.assert_array_equal(p2.b, p1.b)
    np.testing.assert_array_equal(s2.m.b, s1.m.b)
    np.testing.assert_array_equal(s2.v.b, s1.v.b)
    assert not np.array_equal(p2.A, p1.A)


@pytest.mark.parametrize("lr,betas,eps", [(1e-3, (0.9, 0.999), 1e-8), (0.05, (0.5, 0.9), 1e-3),
                                          (0.2, (0.0, 0.0), 1e-6)])
def test_adam_matches_torch(lr, betas, eps):
    import torch

    p, rng = make(1)
    tp = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in p[:2]]
    opt = torch.optim.Adam(tp, lr=lr, betas=betas, eps=eps)
    state = adam_init(p)
    params = p
    for step in range(6):
        g = grads_for(p, rng)
        if step == 2:                                   # a zero gradient entry block
            g = g._replace(b=np.zeros_like(g.b))
        params, state = adam_step(params, g, state, lr=lr, betas=betas, eps=eps)
        opt.zero_grad()
        for t, ga in zip(tp, g[:2]):
            t.grad = torch.tensor(ga, dtype=torch.float64)
        opt.step()
        for ours, theirs in zip(params[:2], tp):
            np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-12)
    assert state.t == 6
    for i, t in enumerate(tp):
        st = opt.state[t]
        np.testing.assert_allclose(state.m[i], st["exp_avg"].numpy(), rtol=0, atol=1e-12)
        np.testing.assert_allclose(state.v[i], st["exp_avg_sq"].numpy(), rtol=0, atol=1e-12)


def test_sgd_matches_torch():
    import torch

    p, rng = make(2)
    tp = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in p[:2]]
    opt = torch.optim.SGD(tp, lr=0.3)
    params = p
    for _ in range(3):
        g = grads_for(p, rng)
        params = sgd_step(params, g, 0.3)
        for t, ga in zip(tp, g[:2]):
            t.grad = torch.tensor(ga, dtype=torch.float64)
        opt.step()
    for ours, theirs in zip(params[:2], tp):
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-12)


def test_adam_minimises_a_quadratic():
    target = {"w": np.array([3.0, -2.0])}
    params = {"w": np.zeros(2)}
    state = adam_init(params)
    for _ in range(500):
        grads = {"w": 2 * (params["w"] - target["w"])}
        params, state = adam_step(params, grads, state, lr=0.05)
    np.testing.assert_allclose(params["w"], target["w"], atol=1e-3)
