"""Vanilla RNN: step/sequence agreement, BPTT against finite differences, input checks."""
import numpy as np
import pytest

from rnncourse import RNNParams, rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward


def make(N, T, D, H, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    p = RNNParams(rng.normal(0, scale, (H, D)), rng.normal(0, scale, (H, H)), rng.normal(0, scale, H))
    return rng, p, rng.normal(size=(N, T, D)), rng.normal(size=(N, H))


def num_grad(f, a, eps=1e-6):
    a = np.array(a, dtype=float)
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        fp = f(a)
        a[i] = old - eps
        fm = f(a)
        a[i] = old
        g[i] = (fp - fm) / (2 * eps)
    return g


def rel(a, b):
    return np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("N,T,D,H", [(1, 1, 3, 4), (2, 5, 4, 3), (3, 4, 6, 6)])
def test_sequence_gradients_match_finite_differences(N, T, D, H, activation):
    rng, p, x, h0 = make(N, T, D, H)
    dh = rng.normal(size=(N, T, H))
    h, cache = rnn_forward(x, h0, p, activation)
    g = rnn_backward(dh, cache)

    def loss(x=x, h0=h0, p=p):
        return float((rnn_forward(x, h0, p, activation)[0] * dh).sum())

    assert rel(g.dx, num_grad(lambda a: loss(x=a), x)) < 1e-6
    assert rel(g.dh0, num_grad(lambda a: loss(h0=a), h0)) < 1e-6
    for name in RNNParams._fields:
        numeric = num_grad(lambda a: loss(p=p._replace(**{name: a})), getattr(p, name))
        assert rel(getattr(g.dparams, name), numeric) < 1e-6, name


def test_sequence_equals_loop_of_steps_and_inputs_untouched():
    rng, p, x, h0 = make(2, 6, 3, 5)
    snapshot = [a.copy() for a in (x, h0, *p)]
    h, cache = rnn_forward(x, h0, p)
    dh = rng.normal(size=h.shape)
    g = rnn_backward(dh, cache)
    hp, caches = h0, []
    for t in range(x.shape[1]):
        hp, c = rnn_step_forward(x[:, t], hp, p)
        caches.append(c)
        np.testing.assert_allclose(hp, h[:, t], rtol=1e-12, atol=1e-12)
    dprev = np.zeros_like(h0)
    dW = np.zeros_like(p.W)
    for t in reversed(range(x.shape[1])):
        sg = rnn_step_backward(dh[:, t] + dprev, caches[t])
        np.testing.assert_allclose(sg.dx, g.dx[:, t], rtol=1e-10, atol=1e-12)
        dprev = sg.dh_prev
        dW += sg.dparams.W
    np.testing.assert_allclose(dprev, g.dh0, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dW, g.dparams.W, rtol=1e-10, atol=1e-12)
    for a, b in zip(snapshot, (x, h0, *p)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("mutate,match", [
    (lambda x, h0, p: (x[0], h0, p), r"x must have 3 dimensions \(N, T, D\), got shape \(4, 3\)"),
    (lambda x, h0, p: (x, h0[:, :2], p), r"h0 must have shape \(N, H\) = \(2, 5\), got \(2, 2\)"),
    (lambda x, h0, p: (x, h0, p._replace(W=p.W[:, :4])), r"params.W must have shape \(H, H\) = \(5, 5\), got \(5, 4\)"),
    (lambda x, h0, p: (x, h0, p._replace(b=p.b[:3])), r"params.b must have shape \(H,\) = \(5,\), got \(3,\)"),
    (lambda x, h0, p: (x.astype(int), h0, p), r"x must be a floating-point array.*got dtype int"),
    (lambda x, h0, p: (np.where(x > 1, np.nan, x), h0, p), r"x must contain only finite values"),
])
def test_bad_input_names_argument_and_shapes(mutate, match):
    _, p, x, h0 = make(2, 4, 3, 5)
    with pytest.raises(ValueError, match=match):
        rnn_forward(*mutate(x, h0, p))


def test_unknown_activation_is_rejected():
    _, p, x, h0 = make(2, 4, 3, 5)
    with pytest.raises(ValueError, match=r"activation must be one of 'tanh', 'relu', got 'sigmoid'"):
        rnn_forward(x, h0, p, activation="sigmoid")
