"""Initialisers: shapes, seeded reproducibility, orthogonality, Xavier variance, IRNN, errors."""
import numpy as np
import pytest

from rnncourse.initializers import (IRNN_INPUT_STD, identity, init_output_params, init_rnn_params,
                                    orthogonal, xavier_normal, xavier_uniform)
from rnncourse.output import OutputParams
from rnncourse.rnn import RNNParams


@pytest.mark.parametrize("fn", [xavier_uniform, xavier_normal, orthogonal])
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (7, 3), (5, 5)])
def test_shape_dtype_and_seed(fn, shape):
    a = fn(shape, 3)
    assert a.shape == shape and a.dtype == np.float64
    np.testing.assert_array_equal(a, fn(shape, 3))
    np.testing.assert_array_equal(a, fn(shape, np.random.default_rng(3)))
    if shape != (1, 1) or fn is not orthogonal:      # a 1x1 orthogonal matrix is +-1
        assert not np.array_equal(a, fn(shape, 4))


def test_generator_is_advanced_not_reset():
    rng = np.random.default_rng(0)
    a, b = xavier_uniform((4, 4), rng), xavier_uniform((4, 4), rng)
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("shape", [(6, 6), (10, 4), (4, 10), (1, 5), (5, 1)])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_orthogonal_is_orthonormal(shape, gain):
    q = orthogonal(shape, 0, gain=gain)
    r, c = shape
    if r >= c:
        np.testing.assert_allclose(q.T @ q, gain ** 2 * np.eye(c), atol=1e-12)
    else:
        np.testing.assert_allclose(q @ q.T, gain ** 2 * np.eye(r), atol=1e-12)
    np.testing.assert_allclose(np.linalg.svd(q, compute_uv=False), gain, atol=1e-12)


def test_orthogonal_sign_fix_gives_unbiased_diagonal():
    # Without the sign fix, numpy's QR returns R with a negative diagonal, which
    # makes the Q's diagonal biased; with it, E[Q_00] = 0.
    diag = np.array([orthogonal((3, 3), s)[0, 0] for s in range(2000)])
    assert abs(diag.mean()) < 0.05


@pytest.mark.parametrize("fn,var", [
    (xavier_uniform, lambda i, o: 2.0 / (i + o)),
    (xavier_normal, lambda i, o: 2.0 / (i + o)),
])
def test_xavier_variance(fn, var):
    fan_out, fan_in = 200, 300
    w = fn((fan_out, fan_in), 1)
    assert abs(w.mean()) < 5 * np.sqrt(var(fan_in, fan_out) / w.size)
    np.testing.assert_allclose(w.var(), var(fan_in, fan_out), rtol=0.03)
    w2 = fn((fan_out, fan_in), 1, gain=2.0)
    np.testing.assert_allclose(w2.var(), 4 * var(fan_in, fan_out), rtol=0.03)


def test_xavier_uniform_bound():
    w = xavier_uniform((50, 30), 0)
    a = np.sqrt(6 / 80)
    assert np.abs(w).max() <= a and np.abs(w).max() > 0.95 * a


def test_identity():
    np.testing.assert_array_equal(identity(4), np.eye(4))
    np.testing.assert_array_equal(identity(3, 0.01), 0.01 * np.eye(3))


def test_irnn_recipe_exact():
    p = init_rnn_params(3, 50, 7, scheme="irnn")
    assert isinstance(p, RNNParams)
    np.testing.assert_array_equal(p.W, np.eye(50))
    np.testing.assert_array_equal(p.b, np.zeros(50))
    assert p.U.shape == (50, 3)
    np.testing.assert_allclose(p.U.std(), IRNN_INPUT_STD, rtol=0.15)
    assert IRNN_INPUT_STD == 1e-3


@pytest.mark.parametrize("scheme", ["xavier", "orthogonal", "irnn"])
def test_init_rnn_params_shapes_and_seed(scheme):
    p = init_rnn_params(2, 5, 11, scheme=scheme)
    assert [a.shape for a in p] == [(5, 2), (5, 5), (5,)]
    for a, b in zip(p, init_rnn_params(2, 5, 11, scheme=scheme)):
        np.testing.assert_array_equal(a, b)
    if scheme == "orthogonal":
        np.testing.assert_allclose(p.W.T @ p.W, np.eye(5), atol=1e-12)


def test_init_output_params():
    p = init_output_params(6, 4, 0)
    assert isinstance(p, OutputParams)
    assert p.V.shape == (4, 6) and p.b_y.shape == (4,)
    np.testing.assert_array_equal(p.b_y, 0)
    assert np.abs(p.V).max() <= np.sqrt(6 / 10)


@pytest.mark.parametrize("call,match", [
    (lambda: xavier_uniform((3,), 0), r"xavier_uniform: shape must have 2 entries"),
    (lambda: xavier_normal((3, 0), 0), r"xavier_normal: shape\[1\] must be a positive integer, got 0"),
    (lambda: orthogonal((3, 3), 0, gain=-1), r"orthogonal: gain must be a positive"),
    (lambda: orthogonal((3, 3), "seed"), r"orthogonal: rng must be an int seed or a numpy.random.Generator, got str"),
    (lambda: identity(0), r"identity: H must be a positive integer, got 0"),
    (lambda: init_rnn_params(3, 4, 0, scheme="he"), r"init_rnn_params: scheme must be one of 'xavier', 'orthogonal', 'irnn', got 'he'"),
    (lambda: init_rnn_params(3.5, 4, 0), r"init_rnn_params: D must be a positive integer, got 3.5"),
    (lambda: init_output_params(4, -2, 0), r"init_output_params: K must be a positive integer, got -2"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_uniform_bound_and_errors():
    from rnncourse.initializers import uniform
    a = uniform((400, 30), 0, 0.25)
    assert a.shape == (400, 30) and np.abs(a).max() <= 0.25
    assert abs(a.var() - 0.25 ** 2 / 3) < 0.02 * 0.25 ** 2          # Var U(-a, a) = a^2 / 3
    np.testing.assert_array_equal(a, np.random.default_rng(0).uniform(-0.25, 0.25, (400, 30)))
    with pytest.raises(ValueError, match=r"uniform: bound must be a positive finite number, got 0"):
        uniform((2, 2), 0, 0)


def test_gate_blocks_are_xavier_and_orthogonal_per_block():
    from rnncourse.initializers import gate_blocks
    D, H, k = 5, 4, 3
    U, W, b = gate_blocks(D, H, k, 7)
    assert U.shape == (k * H, D) and W.shape == (k * H, H) and b.shape == (k * H,)
    np.testing.assert_array_equal(b, 0)
    assert np.abs(U).max() <= np.sqrt(6 / (D + H))                    # Xavier bound of one block
    for j in range(k):
        Wj = W[j * H:(j + 1) * H]
        np.testing.assert_allclose(Wj.T @ Wj, np.eye(H), atol=1e-12)  # orthogonal block
    # the same draws as the GRU initialisers (one generator, U blocks first, then W blocks)
    from rnncourse.gru import init_gru_params
    p = init_gru_params(D, H, 7)
    np.testing.assert_array_equal(p.U, U)
    np.testing.assert_array_equal(p.W, W)
