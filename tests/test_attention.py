"""Additive attention: finite differences, a PyTorch-autograd oracle, masking, input checks."""
import numpy as np
import pytest
import torch

from rnncourse.attention import (AttentionParams, attention_backward, attention_forward,
                                 attention_keys, attention_keys_backward,
                                 attention_step_backward, attention_step_forward,
                                 init_attention_params)
from rnncourse.gradcheck import check_gradients

SHAPES = [(1, 1, 2, 3, 2), (2, 4, 3, 5, 4), (3, 6, 5, 2, 3)]     # N, S, Hd, He, A


def make(N, S, Hd, He, A, seed, pad=True):
    rng = np.random.default_rng(seed)
    p = AttentionParams(rng.normal(0, 0.7, (A, Hd)), rng.normal(0, 0.7, (A, He)),
                        rng.normal(0, 0.7, A), rng.normal(0, 0.7, A))
    s = rng.normal(size=(N, Hd))
    h = rng.normal(size=(N, S, He))
    mask = np.ones((N, S), dtype=bool)
    if pad:
        for n in range(N):
            mask[n, rng.integers(1, S + 1):] = False       # at least one real position
    return p, s, h, mask


def torch_attention(p, s, h, mask):
    t = {k: torch.tensor(np.asarray(v), dtype=torch.float64, requires_grad=True)
         for k, v in (("W_a", p.W_a), ("U_a", p.U_a), ("v", p.v), ("b", p.b), ("s", s), ("h", h))}
    z = torch.tanh((t["s"] @ t["W_a"].T)[:, None, :] + t["h"] @ t["U_a"].T + t["b"])
    e = (z @ t["v"]).masked_fill(~torch.tensor(mask), float("-inf"))
    alpha = torch.softmax(e, dim=1)
    ctx = (alpha[:, :, None] * t["h"]).sum(dim=1)
    return ctx, alpha, t


@pytest.mark.parametrize("N,S,Hd,He,A", SHAPES)
def test_forward_and_backward_match_torch_autograd(N, S, Hd, He, A):
    p, s, h, mask = make(N, S, Hd, He, A, seed=N + S)
    ctx, alpha, cache = attention_forward(s, h, mask, p)
    tctx, talpha, t = torch_attention(p, s, h, mask)
    np.testing.assert_allclose(ctx, tctx.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(alpha, talpha.detach().numpy(), rtol=1e-12, atol=1e-12)
    rng = np.random.default_rng(7)
    dctx, dalpha = rng.normal(size=ctx.shape), rng.normal(size=alpha.shape)
    (tctx * torch.tensor(dctx)).sum().add((talpha * torch.tensor(dalpha)).sum()).backward()
    g = attention_backward(dctx, dalpha, cache)
    np.testing.assert_allclose(g.ds_prev, t["s"].grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g.dh, t["h"].grad.numpy(), rtol=1e-10, atol=1e-12)
    for f in AttentionParams._fields:
        np.testing.assert_allclose(getattr(g.dparams, f), t[f].grad.numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=f)


@pytest.mark.parametrize("N,S,Hd,He,A", SHAPES)
def test_backward_matches_finite_differences(N, S, Hd, He, A):
    p, s, h, mask = make(N, S, Hd, He, A, seed=10 + N)
    r = check_gradients(lambda s_prev, h, params: attention_forward(s_prev, h, mask, params),
                        attention_backward, {"s_prev": s, "h": h, "params": p},
                        grads_of=lambda g: {"s_prev": g.ds_prev, "h": g.dh, "params": g.dparams})
    assert r.ok, str(r)


def test_keys_and_step_backward_match_finite_differences():
    p, s, h, mask = make(2, 5, 3, 4, 3, seed=3)
    r = check_gradients(attention_keys, attention_keys_backward, {"h": h, "params": p},
                        grads_of=lambda g: {"h": g.dh, "params": p._replace(
                            W_a=np.zeros_like(p.W_a), v=np.zeros_like(p.v), U_a=g.dU_a, b=g.db)})
    assert r.ok, str(r)
    keys, _ = attention_keys(h, p)
    r = check_gradients(lambda s_prev, h, keys, params: attention_step_forward(s_prev, h, keys,
                                                                               mask, params),
                        attention_step_backward, {"s_prev": s, "h": h, "keys": keys, "params": p},
                        grads_of=lambda g: {"s_prev": g.ds_prev, "h": g.dh, "keys": g.dkeys,
                                            "params": p._replace(W_a=g.dW_a, v=g.dv,
                                                                 U_a=np.zeros_like(p.U_a),
                                                                 b=np.zeros_like(p.b))})
    assert r.ok, str(r)


def test_mask_gives_padding_zero_weight_and_padding_values_do_not_matter():
    p, s, h, mask = make(3, 6, 3, 4, 5, seed=4)
    ctx, alpha, cache = attention_forward(s, h, mask, p)
    assert np.all(alpha[~mask] == 0.0)
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0, rtol=1e-14)
    h2 = h.copy()
    h2[~mask] = 1e3                                          # garbage on the padding
    ctx2, alpha2, _ = attention_forward(s, h2, mask, p)
    np.testing.assert_allclose(ctx2, ctx, rtol=1e-13, atol=1e-13)
    g = attention_backward(np.ones_like(ctx), None, cache)
    assert np.all(g.dh[~mask] == 0.0)


def test_hand_computed_example():
    # S = 2, every size 1: e_s = v tanh(w s + u h_s), alpha = softmax(e), c = sum alpha h
    p = AttentionParams(np.array([[0.5]]), np.array([[1.0]]), np.array([2.0]), np.array([0.0]))
    h = np.array([[[1.0], [-1.0]]])
    ctx, alpha, _ = attention_forward(np.array([[1.0]]), h, None, p)
    e = np.array([2 * np.tanh(1.5), 2 * np.tanh(-0.5)])
    a = np.exp(e) / np.exp(e).sum()
    np.testing.assert_allclose(alpha[0], a, rtol=1e-14)
    np.testing.assert_allclose(ctx[0, 0], a[0] - a[1], rtol=1e-14)


def test_init_shapes_and_seed():
    p = init_attention_params(3, 4, 5, 0)
    assert [a.shape for a in p] == [(5, 3), (5, 4), (5,), (5,)]
    q = init_attention_params(3, 4, 5, 0)
    assert all(np.array_equal(a, b) for a, b in zip(p, q))
    assert np.all(p.b == 0)


@pytest.mark.parametrize("call,words", [
    (lambda p, s, h, m: attention_forward(s[:, :2], h, m, p), ["attention_forward", "s_prev"]),
    (lambda p, s, h, m: attention_forward(s, h[:, :, :1], m, p), ["attention_forward", "h"]),
    (lambda p, s, h, m: attention_forward(s, h, m[:, :2], p), ["attention_forward", "mask"]),
    (lambda p, s, h, m: attention_forward(s, h, np.zeros_like(m), p), ["mask", "row 0"]),
    (lambda p, s, h, m: attention_forward(s, h, m, p._replace(v=p.v[:2])), ["params.v"]),
    (lambda p, s, h, m: attention_forward(s, h, m, (1, 2)), ["params", "AttentionParams"]),
    (lambda p, s, h, m: attention_step_forward(s, h, h, m, p), ["attention_step_forward", "keys"]),
    (lambda p, s, h, m: attention_step_backward(s, None, "cache"),
     ["attention_step_backward", "cache"]),
    (lambda p, s, h, m: attention_backward(s, None, attention_forward(s, h, m, p)[2]),
     ["attention_backward", "dcontext"]),
    (lambda p, s, h, m: attention_backward(h[:, 0], s, attention_forward(s, h, m, p)[2]),
     ["attention_backward", "dalpha"]),
])
def test_bad_input_names_the_argument(call, words):
    p, s, h, mask = make(2, 4, 3, 5, 4, seed=5)
    with pytest.raises(ValueError) as err:
        call(p, s, h, mask)
    for w in words:
        assert w in str(err.value)
