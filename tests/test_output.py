"""Output layer and loss: many-to-many (N, T, K) and many-to-one (N, K) outputs,
and a many-to-one RNN (loss on ``h[:, -1]`` only) checked end to end against
finite differences and against torch."""
import numpy as np
import pytest
import torch

from rnncourse import (OutputParams, RNNParams, output_backward, output_forward, rnn_backward,
                       rnn_forward, softmax_cross_entropy)
from rnncourse.gradcheck import numerical_gradient, relative_error


def _many_to_one_loss(x, h0, rnn_p, out_p, y, activation):
    """Forward: h = RNN(x); scores = V h[:, -1] + b_y; L = cross-entropy(scores, y)."""
    h, rnn_cache = rnn_forward(x, h0, rnn_p, activation)
    scores, out_cache = output_forward(h[:, -1], out_p)
    loss, dscores = softmax_cross_entropy(scores, y)
    return loss, dscores, h, rnn_cache, out_cache


def _many_to_one_grads(x, h0, rnn_p, out_p, y, activation):
    loss, dscores, h, rnn_cache, out_cache = _many_to_one_loss(x, h0, rnn_p, out_p, y, activation)
    dh_last, dout = output_backward(dscores, out_cache)
    dh = np.zeros_like(h)
    dh[:, -1] = dh_last                              # only the last step feeds the output
    g = rnn_backward(dh, rnn_cache)
    return {"x": g.dx, "h0": g.dh0, "U": g.dparams.U, "W": g.dparams.W, "b": g.dparams.b,
            "V": dout.V, "b_y": dout.b_y}


def _setup(N, T, D, H, K, seed=0):
    rng = np.random.default_rng(seed)
    rnn_p = RNNParams(rng.normal(0, .5, (H, D)), rng.normal(0, .5, (H, H)), rng.normal(0, .5, H))
    out_p = OutputParams(rng.normal(0, .5, (K, H)), rng.normal(0, .5, K))
    return (rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rnn_p, out_p,
            rng.integers(0, K, size=N))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("N,T,D,H,K", [(1, 1, 3, 4, 2), (3, 5, 2, 4, 3), (2, 4, 5, 3, 6)])
def test_many_to_one_rnn_gradients_match_finite_differences(N, T, D, H, K, activation):
    x, h0, rnn_p, out_p, y = _setup(N, T, D, H, K)
    got = _many_to_one_grads(x, h0, rnn_p, out_p, y, activation)
    args = {"x": x, "h0": h0, **rnn_p._asdict(), **out_p._asdict()}

    def loss_of(name):
        def f(v):
            a = {**args, name: v}
            return _many_to_one_loss(a["x"], a["h0"], RNNParams(a["U"], a["W"], a["b"]),
                                     OutputParams(a["V"], a["b_y"]), y, activation)[0]
        return f
    for name, value in args.items():
        num = numerical_gradient(loss_of(name), value)
        assert relative_error(got[name], num) < 1e-6, name
    assert np.abs(got["x"][:, :-1]).sum() > 0 or T == 1     # earlier steps do get a gradient


def test_many_to_one_rnn_matches_torch():
    x, h0, rnn_p, out_p, y = _setup(3, 6, 4, 5, 3, seed=1)
    got = _many_to_one_grads(x, h0, rnn_p, out_p, y, "tanh")
    rnn = torch.nn.RNN(4, 5, batch_first=True, dtype=torch.float64)
    lin = torch.nn.Linear(5, 3, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(rnn_p.U))
        rnn.weight_hh_l0.copy_(torch.from_numpy(rnn_p.W))
        rnn.bias_ih_l0.copy_(torch.from_numpy(rnn_p.b))
        rnn.bias_hh_l0.zero_()
        lin.weight.copy_(torch.from_numpy(out_p.V))
        lin.bias.copy_(torch.from_numpy(out_p.b_y))
    xt = torch.tensor(x, requires_grad=True)
    out, _ = rnn(xt, torch.tensor(h0)[None])
    # softmax_cross_entropy: mean over N (one step per sequence here)
    loss = torch.nn.functional.cross_entropy(lin(out[:, -1]), torch.from_numpy(y))
    loss.backward()
    ours = _many_to_one_loss(x, h0, rnn_p, out_p, y, "tanh")[0]
    assert abs(ours - loss.item()) < 1e-12
    for name, t in [("x", xt.grad), ("U", rnn.weight_ih_l0.grad), ("W", rnn.weight_hh_l0.grad),
                    ("b", rnn.bias_ih_l0.grad), ("V", lin.weight.grad), ("b_y", lin.bias.grad)]:
        np.testing.assert_allclose(got[name], t.numpy(), rtol=0, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (1, 1, 2)])
def test_output_layer_gradients_for_any_leading_shape(shape):
    rng = np.random.default_rng(2)
    *lead, H = shape
    K = 3
    h = rng.normal(size=shape)
    p = OutputParams(rng.normal(size=(K, H)), rng.normal(size=K))
    up = rng.normal(size=(*lead, K))
    scores, cache = output_forward(h, p)
    assert scores.shape == (*lead, K)
    dh, dp = output_backward(up, cache)
    assert relative_error(dh, numerical_gradient(lambda v: (output_forward(v, p)[0] * up).sum(),
                                                 h)) < 1e-6
    assert relative_error(dp.V, numerical_gradient(
        lambda v: (output_forward(h, OutputParams(v, p.b_y))[0] * up).sum(), p.V)) < 1e-6
    assert relative_error(dp.b_y, numerical_gradient(
        lambda v: (output_forward(h, OutputParams(p.V, v))[0] * up).sum(), p.b_y)) < 1e-6


@pytest.mark.parametrize("shape", [(4, 5), (3, 2, 5)])
@pytest.mark.parametrize("masked", [False, True])
def test_softmax_cross_entropy_gradient_many_to_one_and_many_to_many(shape, masked):
    rng = np.random.default_rng(3)
    scores = rng.normal(size=shape) * 3
    y = rng.integers(0, shape[-1], size=shape[:-1])
    mask = rng.integers(0, 2, size=shape[:-1]).astype(bool) if masked else None
    loss, d = softmax_cross_entropy(scores, y, mask)
    num = numerical_gradient(lambda s: softmax_cross_entropy(s, y, mask)[0], scores)
    assert relative_error(d, num) < 1e-6
    # the definition: -(1/N) sum of masked log-probabilities of the targets
    logp = scores - np.log(np.exp(scores).sum(-1, keepdims=True))
    picked = np.take_along_axis(logp, y[..., None], -1)[..., 0]
    m = np.ones(y.shape) if mask is None else mask
    assert loss == pytest.approx(-(picked * m).sum() / shape[0], rel=1e-12)


def test_targets_must_match_the_scores_rank():
    with pytest.raises(ValueError, match=r"y must have 1 dimension .*got shape \(4, 1\)"):
        softmax_cross_entropy(np.zeros((4, 3)), np.zeros((4, 1), dtype=int))
    with pytest.raises(ValueError, match=r"y must hold class indices in \[0, 3\)"):
        softmax_cross_entropy(np.zeros((4, 3)), np.array([0, 1, 2, 3]))
