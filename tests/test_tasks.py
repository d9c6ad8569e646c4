"""Adding problem and copy task: shapes, seeds, marks, targets, baselines."""
import numpy as np
import pytest

from rnncourse.output import softmax_cross_entropy
from rnncourse.tasks import adding_problem, copy_task


@pytest.mark.parametrize("n,T", [(1, 2), (5, 3), (7, 10), (4, 51)])
def test_adding_shapes_marks_and_targets(n, T):
    x, y = adding_problem(n, T, 0)
    assert x.shape == (n, T, 2) and y.shape == (n,)
    assert x.dtype == np.float64 and y.dtype == np.float64
    values, mask = x[..., 0], x[..., 1]
    assert ((values >= 0) & (values < 1)).all()
    assert set(np.unique(mask)) <= {0.0, 1.0}
    half = T // 2
    np.testing.assert_array_equal(mask[:, :half].sum(1), 1)    # exactly one mark per half
    np.testing.assert_array_equal(mask[:, half:].sum(1), 1)
    np.testing.assert_allclose(y, (values * mask).sum(1), rtol=0, atol=1e-15)


def test_adding_seeds():
    a, b = adding_problem(3, 8, 42), adding_problem(3, 8, np.random.default_rng(42))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], adding_problem(3, 8, 43)[0])
    g = np.random.default_rng(0)
    assert not np.array_equal(adding_problem(3, 8, g)[0], adding_problem(3, 8, g)[0])


def test_adding_marks_uniform_within_halves():
    T = 10
    x, _ = adding_problem(20000, T, 1)
    counts = x[..., 1].sum(0)                                # marks per position
    np.testing.assert_allclose(counts[:5] / 20000, 1 / 5, atol=0.015)
    np.testing.assert_allclose(counts[5:] / 20000, 1 / 5, atol=0.015)


def test_adding_baseline_mse_is_one_sixth():
    _, y = adding_problem(200_000, 6, 7)
    mse_of_one = np.mean((y - 1.0) ** 2)
    assert mse_of_one == pytest.approx(1 / 6, abs=0.003)
    # 1 is the best constant: predicting the mean 1 beats 0.9 and 1.1 by (0.1)^2
    assert np.mean((y - 1.1) ** 2) == pytest.approx(1 / 6 + 0.01, abs=0.003)
    assert np.mean(y) == pytest.approx(1.0, abs=0.005)


@pytest.mark.parametrize("n,T,K,length", [(1, 1, 2, 1), (4, 5, 8, 10), (3, 20, 3, 4)])
def test_copy_task_layout(n, T, K, length):
    x, y = copy_task(n, T, 0, n_symbols=K, length=length)
    L = T + 2 * length
    blank, go = K, K + 1
    assert x.shape == (n, L, K + 2) and y.shape == (n, L)
    assert x.dtype == np.float64 and np.issubdtype(y.dtype, np.integer)
    np.testing.assert_array_equal(x.sum(-1), 1.0)            # one-hot
    inp = x.argmax(-1)
    symbols = inp[:, :length]
    assert (symbols < K).all()
    np.testing.assert_array_equal(inp[:, length:length + T - 1], blank)
    np.testing.assert_array_equal(inp[:, length + T - 1], go)
    np.testing.assert_array_equal(inp[:, length + T:], blank)
    np.testing.assert_array_equal(y[:, :L - length], blank)
    np.testing.assert_array_equal(y[:, L - length:], symbols)   # recall in order
    assert y.max() <= K and (y != go).all()


def test_copy_task_memoryless_baseline():
    T, K, length = 30, 8, 10
    x, y = copy_task(64, T, 3, n_symbols=K, length=length)
    L = T + 2 * length
    scores = np.full((64, L, K + 1), -np.inf)
    scores[:, :L - length, K] = 0.0                          # certain blank
    scores[:, L - length:, :K] = 0.0                         # uniform over the symbols
    scores = np.where(np.isinf(scores), -1e9, scores)
    loss, _ = softmax_cross_entropy(scores, y)
    assert loss == pytest.approx(length * np.log(K), rel=1e-9)


def test_copy_task_seeds_and_symbol_frequencies():
    a, b = copy_task(3, 4, 5), copy_task(3, 4, np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    _, y = copy_task(2000, 2, 9, n_symbols=4, length=5)
    freq = np.bincount(y[:, -5:].ravel(), minlength=4) / y[:, -5:].size
    np.testing.assert_allclose(freq, 0.25, atol=0.02)


@pytest.mark.parametrize("call,match", [
    (lambda: adding_problem(0, 5, 0), r"adding_problem: n must be a positive integer, got 0"),
    (lambda: adding_problem(3, 1, 0), r"adding_problem: T must be at least 2 \(one mark in each half\), got 1"),
    (lambda: adding_problem(3, 5.0, 0), r"adding_problem: T must be a positive integer, got 5.0"),
    (lambda: adding_problem(3, 5, None), r"adding_problem: rng must be an int seed"),
    (lambda: copy_task(3, 0, 0), r"copy_task: T must be a positive integer, got 0"),
    (lambda: copy_task(3, 4, 0, n_symbols=1), r"copy_task: n_symbols must be at least 2, got 1"),
    (lambda: copy_task(3, 4, 0, length=0), r"copy_task: length must be a positive integer, got 0"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
