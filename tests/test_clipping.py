"""Gradient clipping: containers, None, no mutation, and agreement with torch's clip_grad_norm_."""
from collections import OrderedDict

import numpy as np
import pytest

from rnncourse.clipping import clip_by_global_norm, clip_by_value, global_norm
from rnncourse.output import OutputParams
from rnncourse.rnn import RNNParams


def params(scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    return RNNParams(scale * rng.normal(size=(4, 3)), scale * rng.normal(size=(4, 4)),
                     scale * rng.normal(size=4))


def flat(tree):
    if tree is None:
        return []
    if isinstance(tree, dict):
        tree = list(tree.values())
    if isinstance(tree, (list, tuple)):
        return [a for t in tree for a in flat(t)]
    return [tree]


@pytest.mark.parametrize("max_norm", [0.1, 1.0, 5.0, 1e3])
def test_global_norm_matches_torch(max_norm):
    import torch

    g = params(scale=2.0)
    snapshot = [a.copy() for a in g]
    clipped, total = clip_by_global_norm(g, max_norm)
    tensors = [torch.nn.Parameter(torch.zeros(a.shape, dtype=torch.float64)) for a in g]
    for t, a in zip(tensors, g):
        t.grad = torch.tensor(a)
    torch_total = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
    assert total == pytest.approx(float(torch_total), rel=1e-12)
    for t, a in zip(tensors, clipped):
        np.testing.assert_allclose(a, t.grad.numpy(), rtol=1e-12, atol=1e-15)
    for a, b in zip(snapshot, g):                    # inputs untouched
        np.testing.assert_array_equal(a, b)


def test_global_norm_value_and_direction():
    g = params(scale=3.0)
    expected = np.sqrt(sum((a ** 2).sum() for a in g))
    clipped, total = clip_by_global_norm(g, 1.0)
    assert total == pytest.approx(expected, rel=1e-14)
    assert global_norm(g) == pytest.approx(expected, rel=1e-14)
    assert global_norm(clipped) == pytest.approx(1.0, abs=1e-6)
    assert global_norm(clipped) <= 1.0
    for a, c in zip(g, clipped):                      # same direction: one common factor
        np.testing.assert_allclose(c, a * (1.0 / (expected + 1e-6)), rtol=1e-13)


def test_small_gradients_are_copied_unchanged():
    g = params(scale=1e-3)
    clipped, total = clip_by_global_norm(g, 1.0)
    assert total < 1.0
    for a, c in zip(g, clipped):
        np.testing.assert_array_equal(a, c)
        assert c is not a and not np.shares_memory(a, c)


@pytest.mark.parametrize("make", [
    lambda g: g,                                            # NamedTuple
    lambda g: g._asdict(),                                  # dict (OrderedDict on old Pythons)
    lambda g: {"U": g.U, "W": g.W, "b": g.b, "b_hn": None},  # dict with None
    lambda g: list(g) + [None],                             # list with None
    lambda g: tuple(g),                                     # plain tuple
    lambda g: (g, OutputParams(g.W, g.b), None),            # nested
    lambda g: OrderedDict(a=g.U, b=[g.W, None]),
    lambda g: g.W,                                          # a single array
])
@pytest.mark.parametrize("clip", ["norm", "value"])
def test_containers_keep_their_type_and_none(make, clip):
    g = make(params(scale=5.0))
    out = clip_by_global_norm(g, 1.0)[0] if clip == "norm" else clip_by_value(g, 0.5)

    def same_structure(a, b):
        assert type(a) is type(b)
        if a is None:
            return
        if isinstance(a, dict):
            assert list(a) == list(b)
            for k in a:
                same_structure(a[k], b[k])
        elif isinstance(a, (list, tuple)):
            assert len(a) == len(b)
            for x, y in zip(a, b):
                same_structure(x, y)
        else:
            assert a.shape == b.shape and not np.shares_memory(a, b)

    same_structure(g, out)
    arrays_in, arrays_out = flat(g), flat(out)
    if clip == "norm":
        assert global_norm(out) <= 1.0
        ratio = [c / a for a, c in zip(arrays_in, arrays_out)]
        np.testing.assert_allclose(np.concatenate([r.ravel() for r in ratio]), ratio[0].ravel()[0])
    else:
        for a, c in zip(arrays_in, arrays_out):
            np.testing.assert_array_equal(c, np.clip(a, -0.5, 0.5))


def test_clip_by_value_matches_torch():
    import torch

    g = params(scale=2.0)
    snapshot = [a.copy() for a in g]
    out = clip_by_value(g, 0.7)
    tensors = [torch.nn.Parameter(torch.zeros(a.shape, dtype=torch.float64)) for a in g]
    for t, a in zip(tensors, g):
        t.grad = torch.tensor(a)
    torch.nn.utils.clip_grad_value_(tensors, 0.7)
    for t, a in zip(tensors, out):
        np.testing.assert_array_equal(a, t.grad.numpy())
    assert np.abs(np.concatenate([a.ravel() for a in out])).max() == 0.7
    for a, b in zip(snapshot, g):
        np.testing.assert_array_equal(a, b)


def test_nonfinite_norm_is_reported_like_torch():
    g = [np.array([np.inf, 1.0])]
    clipped, total = clip_by_global_norm(g, 1.0)
    assert total == np.inf
    assert np.isnan(clipped[0][0]) and clipped[0][1] == 0.0


@pytest.mark.parametrize("call,match", [
    (lambda: clip_by_global_norm(params(), 0.0), r"clip_by_global_norm: max_norm must be a positive finite number, got 0.0"),
    (lambda: clip_by_global_norm(params(), np.inf), r"max_norm must be a positive finite number"),
    (lambda: clip_by_value(params(), -1), r"clip_by_value: clip_value must be a positive finite number, got -1"),
    (lambda: clip_by_value({"W": "abc"}, 1.0), r"clip_by_value: grads\['W'\] must be a floating-point array"),
    (lambda: clip_by_global_norm(params()._replace(b=np.arange(4)), 1.0), r"grads.b must be a floating-point array .*int"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
