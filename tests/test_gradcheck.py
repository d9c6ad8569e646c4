"""gradcheck: finite differences that never touch the caller's array, and reports that name failures."""
from functools import partial
from typing import NamedTuple, Optional

import numpy as np
import pytest

from rnncourse.gradcheck import (GradCheckReport, check_gradients, numerical_gradient,
                                 relative_error)
from rnncourse.output import OutputParams, output_backward, output_forward
from rnncourse.rnn import (RNNParams, SequenceGrads, StepGrads, rnn_backward, rnn_forward,
                           rnn_step_backward, rnn_step_forward)


def make(N, T, D, H, seed=0):
    rng = np.random.default_rng(seed)
    p = RNNParams(rng.normal(0, 0.5, (H, D)), rng.normal(0, 0.5, (H, H)), rng.normal(0, 0.5, H))
    return p, rng.normal(size=(N, T, D)), rng.normal(size=(N, H))


# --- numerical_gradient ---------------------------------------------------------------------

def test_numerical_gradient_of_known_function():
    x = np.random.default_rng(1).normal(size=(3, 4))
    g = numerical_gradient(lambda a: np.sum(np.sin(a) * a ** 2), x)
    np.testing.assert_allclose(g, np.cos(x) * x ** 2 + 2 * x * np.sin(x), rtol=1e-8, atol=1e-9)


def test_numerical_gradient_never_modifies_nor_aliases_the_callers_array():
    x = np.random.default_rng(2).normal(size=(2, 3))
    snapshot = x.copy()
    seen = []

    def f(a):
        assert a is not x and not np.shares_memory(a, x)
        np.testing.assert_array_equal(x, snapshot)       # unchanged *during* the evaluation
        seen.append(a.copy())
        return float((a ** 2).sum())

    g = numerical_gradient(f, x)
    np.testing.assert_array_equal(x, snapshot)
    np.testing.assert_allclose(g, 2 * x, rtol=1e-8)
    assert len(seen) == 2 * x.size
    # every evaluation differs from x in exactly one entry
    assert all(np.count_nonzero(s != snapshot) == 1 for s in seen)


def test_numerical_gradient_gives_f_a_read_only_array():
    def bad(a):
        a += 1.0
        return 0.0

    with pytest.raises(ValueError, match="read-only"):
        numerical_gradient(bad, np.zeros(3))


def test_numerical_gradient_of_a_function_closing_over_the_same_array():
    # f uses its argument, not the closed-over x: the result must not depend on
    # x having been perturbed in place (it is not).
    x = np.arange(4.0)
    g = numerical_gradient(lambda a: float(a @ x), x)
    np.testing.assert_allclose(g, x, atol=1e-8)


@pytest.mark.parametrize("call,match", [
    (lambda: numerical_gradient(lambda a: a, np.ones(3)), r"numerical_gradient: f must return a scalar, got an array of shape \(3,\)"),
    (lambda: numerical_gradient(lambda a: 0.0, np.ones(3), eps=0), r"numerical_gradient: eps must be a positive number"),
    (lambda: numerical_gradient(3, np.ones(3)), r"numerical_gradient: f must be callable"),
    (lambda: relative_error(np.ones(3), np.ones(4)), r"relative_error: a and b must have the same shape, got \(3,\) and \(4,\)"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_relative_error():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    # max|a-b| = 0.5, max(|a|+|b|) = 4 + 3.5
    assert relative_error([1.0, 4.0], [1.0, 3.5]) == pytest.approx(0.5 / 7.5)
    assert relative_error([1e-20], [-1e-20]) == pytest.approx(1.0)


# --- check_gradients --------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("N,D,H", [(1, 3, 4), (3, 5, 2)])
def test_rnn_step_passes(N, D, H, activation):
    p, x, h0 = make(N, 1, D, H)
    snapshot = [a.copy() for a in (x, h0, *p)]
    report = check_gradients(partial(rnn_step_forward, activation=activation), rnn_step_backward,
                             {"x": x[:, 0], "h_prev": h0, "params": p})
    assert isinstance(report, GradCheckReport)
    assert report.ok, str(report)
    assert set(report.errors) == {"x", "h_prev", "params.U", "params.W", "params.b"}
    assert report.max_error < 1e-7
    for a, b in zip(snapshot, (x, h0, *p)):
        np.testing.assert_array_equal(a, b)
    assert "passed" in str(report)


@pytest.mark.parametrize("N,T,D,H", [(1, 1, 2, 3), (2, 4, 3, 3), (3, 3, 4, 2)])
def test_rnn_sequence_passes_with_constant_argument_in_inputs(N, T, D, H):
    p, x, h0 = make(N, T, D, H)
    report = check_gradients(rnn_forward, rnn_backward,
                             {"x": x, "h0": h0, "params": p, "activation": "tanh"}, seed=3)
    assert report.ok, str(report)
    assert set(report.errors) == {"x", "h0", "params.U", "params.W", "params.b"}


def _wrong_dW(dh, cache):
    g = rnn_backward(dh, cache)
    return g._replace(dparams=g.dparams._replace(W=g.dparams.W * 1.01))


def _missing_dh0(dh, cache):
    return rnn_backward(dh, cache)._replace(dh0=None)


def _transposed_dU(dh, cache):
    g = rnn_backward(dh, cache)
    return g._replace(dparams=g.dparams._replace(U=g.dparams.U.T))


def test_wrong_backward_is_reported_with_the_parameter_named():
    p, x, h0 = make(2, 3, 3, 4)
    inputs = {"x": x, "h0": h0, "params": p}
    report = check_gradients(rnn_forward, _wrong_dW, inputs)
    assert not report.ok
    assert report.failed == ["params.W"]
    # a 1% error in dW shows up as a relative error of about 0.01 / 2
    assert 1e-3 < report.errors["params.W"] < 1e-2
    text = str(report)
    assert "FAILED for params.W" in text
    line = next(l for l in text.splitlines() if l.startswith("params.W "))
    assert "FAIL" in line
    assert all("FAIL" not in l for l in text.splitlines()[1:] if not l.startswith("params.W "))


def test_missing_and_misshaped_gradients_fail_with_a_reason():
    p, x, h0 = make(2, 3, 3, 4)
    report = check_gradients(rnn_forward, _missing_dh0, {"x": x, "h0": h0, "params": p})
    assert report.failed == ["h0"] and "no gradient" in str(report)
    report = check_gradients(rnn_forward, _transposed_dU, {"x": x, "h0": h0, "params": p})
    assert report.failed == ["params.U"] and "shape (3, 4), expected (4, 3)" in str(report)


def test_wrt_and_explicit_dout():
    p, x, h0 = make(2, 3, 3, 4)
    dh = np.ones((2, 3, 4))
    report = check_gradients(rnn_forward, _wrong_dW, {"x": x, "h0": h0, "params": p},
                             wrt=["x"], dout=dh)
    assert report.ok and list(report.errors) == ["x"]
    # dout really is used: the numeric gradient of sum(h) w.r.t. h0 equals rnn_backward(ones)
    report = check_gradients(rnn_forward, rnn_backward, {"x": x, "h0": h0, "params": p}, dout=dh)
    _, cache = rnn_forward(x, h0, p)
    np.testing.assert_allclose(report.numeric["h0"], rnn_backward(dh, cache).dh0, rtol=1e-7)
    with pytest.raises(ValueError, match=r"check_gradients: dout\[0\] must have shape \(2, 3, 4\), got \(2, 3\)"):
        check_gradients(rnn_forward, rnn_backward, {"x": x, "h0": h0, "params": p}, dout=dh[..., 0])


def test_grads_of_for_a_plain_tuple_backward():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(2, 3, 4))
    p = OutputParams(rng.normal(size=(5, 4)), rng.normal(size=5))
    report = check_gradients(output_forward, output_backward, {"h": h, "params": p},
                             grads_of=lambda g: {"h": g[0], "params": g[1]})
    assert report.ok and set(report.errors) == {"h", "params.V", "params.b_y"}
    with pytest.raises(ValueError, match="pass grads_of"):
        check_gradients(output_forward, output_backward, {"h": h, "params": p})


class Affine(NamedTuple):
    A: np.ndarray
    c: Optional[np.ndarray] = None


def _affine_forward(x, params):
    out = x @ params.A.T
    if params.c is not None:
        out = out + params.c
    return out, out ** 2, (x, params)               # two outputs, cache last


def _affine_backward(dout, dsq, cache):
    x, params = cache
    out = x @ params.A.T + (0 if params.c is None else params.c)
    dz = dout + 2 * out * dsq
    return {"x": dz @ params.A,
            "params": Affine(dz.T @ x, None if params.c is None else dz.sum(0))}


def test_several_outputs_dict_grads_and_none_fields_skipped():
    rng = np.random.default_rng(5)
    x, A = rng.normal(size=(3, 2)), rng.normal(size=(4, 2))
    report = check_gradients(_affine_forward, _affine_backward, {"x": x, "params": Affine(A)})
    assert report.ok and set(report.errors) == {"x", "params.A"}
    report = check_gradients(_affine_forward, _affine_backward,
                             {"x": x, "params": Affine(A, rng.normal(size=4))})
    assert report.ok and set(report.errors) == {"x", "params.A", "params.c"}


def test_list_of_parameter_tuples_two_layers():
    p1, x, _ = make(2, 3, 3, 4, seed=1)
    p2, _, _ = make(2, 3, 4, 2, seed=2)

    def fwd(x, layers):
        h1, c1 = rnn_forward(x, None, layers[0])
        h2, c2 = rnn_forward(h1, None, layers[1])
        return h2, (c1, c2)

    def bwd(dh2, cache):
        g2 = rnn_backward(dh2, cache[1])
        g1 = rnn_backward(g2.dx, cache[0])
        return {"x": g1.dx, "layers": [g1.dparams, g2.dparams]}

    report = check_gradients(fwd, bwd, {"x": x, "layers": [p1, p2]})
    assert report.ok, str(report)
    assert "layers[1].W" in report.errors and len(report.errors) == 7

    def bad(dh2, cache):
        g = bwd(dh2, cache)
        g["layers"][0] = g["layers"][0]._replace(b=2 * g["layers"][0].b)
        return g

    assert check_gradients(fwd, bad, {"x": x, "layers": [p1, p2]}).failed == ["layers[0].b"]
