"""The GRU's and the LSTM's backward passes take their weight-gradient products a chunk of
steps at a time (``rnncourse._gates.chunk_steps``).  The other tests run sizes small enough for
one chunk; here ``CHUNK_ROWS`` is lowered so that a short sequence spans several chunks, one of
them shorter than the rest, and every gradient is checked against finite differences (an
independent computation) and against the one-chunk result."""
import numpy as np
import pytest

from rnncourse import _gates
from rnncourse.gradcheck import numerical_gradient as num_grad
from rnncourse.gradcheck import relative_error as rel
from rnncourse.gru import GRUParams, gru_backward, gru_forward
from rnncourse.lstm import LSTMParams, lstm_backward, lstm_forward

N, T, D, H = 2, 7, 3, 4
#: CHUNK_ROWS -> steps per chunk with N = 2: 2 -> 1 (seven chunks), 6 -> 3 (chunks of 3, 3, 1),
#: 13 -> 7 (one chunk: what the small sizes of the other tests run).
CHUNKINGS = [2, 6, 13]


def _lstm(peepholes, rng):
    p = LSTMParams(rng.normal(0, .5, (4 * H, D)), rng.normal(0, .5, (4 * H, H)),
                   rng.normal(0, .5, 4 * H), rng.normal(0, .5, (3, H)) if peepholes else None)
    c0, dc_last = rng.normal(size=(N, H)), rng.normal(size=(N, H))

    def run(x, h0, p, dh):
        h, cache = lstm_forward(x, h0, p, c0=c0)
        loss = float((h * dh).sum() + (cache.c[:, -1] * dc_last).sum())
        return loss, lambda: lstm_backward(dh, cache, dc_last=dc_last)
    return p, run


def _gru(reset_after, rng):
    p = GRUParams(rng.normal(0, .5, (3 * H, D)), rng.normal(0, .5, (3 * H, H)),
                  rng.normal(0, .5, 3 * H), rng.normal(0, .5, H) if reset_after else None)

    def run(x, h0, p, dh):
        h, cache = gru_forward(x, h0, p, reset_after=reset_after)
        return float((h * dh).sum()), lambda: gru_backward(dh, cache)
    return p, run


MODELS = {"lstm": lambda rng: _lstm(False, rng), "lstm_peepholes": lambda rng: _lstm(True, rng),
          "gru": lambda rng: _gru(False, rng), "gru_reset_after": lambda rng: _gru(True, rng)}


def _grads(model, rows, monkeypatch):
    monkeypatch.setattr(_gates, "CHUNK_ROWS", rows)
    rng = np.random.default_rng(3)
    p, run = MODELS[model](rng)
    x, h0, dh = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, T, H))
    return p, run, x, h0, dh, run(x, h0, p, dh)[1]()


def test_the_chunkings_are_what_they_say(monkeypatch):
    steps = []
    for rows in CHUNKINGS:
        monkeypatch.setattr(_gates, "CHUNK_ROWS", rows)
        steps.append(_gates.chunk_steps(T, N))
    assert steps == [1, 3, 7]


@pytest.mark.parametrize("rows", CHUNKINGS)
@pytest.mark.parametrize("model", sorted(MODELS))
def test_chunked_gradients_match_finite_differences(model, rows, monkeypatch):
    p, run, x, h0, dh, g = _grads(model, rows, monkeypatch)
    loss = lambda x=x, h0=h0, p=p: run(x, h0, p, dh)[0]   # noqa: E731
    assert rel(g.dx, num_grad(lambda a: loss(x=a), x)) < 1e-6
    assert rel(g.dh0, num_grad(lambda a: loss(h0=a), h0)) < 1e-6
    for name, value in p._asdict().items():
        if value is not None:
            numeric = num_grad(lambda a: loss(p=p._replace(**{name: a})), value)
            assert rel(getattr(g.dparams, name), numeric) < 1e-6, name
    if model.startswith("lstm"):
        assert g.dc0.shape == (N, H)


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_chunking_gives_the_same_gradients(model, monkeypatch):
    results = [_grads(model, rows, monkeypatch)[-1] for rows in CHUNKINGS]
    one_chunk = results[-1]
    for g in results[:-1]:
        np.testing.assert_allclose(g.dx, one_chunk.dx, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(g.dh0, one_chunk.dh0, rtol=1e-12, atol=1e-14)
        for a, b in zip(g.dparams, one_chunk.dparams):
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
