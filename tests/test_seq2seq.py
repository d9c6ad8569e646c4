"""Encoder-decoder: finite differences for every backward (all cells, with and without
attention, padded batches), a PyTorch-autograd oracle for the decoder step and the whole model,
beam search against exhaustive search, greedy = beam width 1, a small training run, input checks."""
import itertools
from typing import NamedTuple

import numpy as np
import pytest
import torch

from rnncourse.attention import attention_keys, attention_keys_backward
from rnncourse.cells import CELL_NAMES, Cell, h_only_steps
from rnncourse.decoding import beam_search, exact_match, greedy_decode
from rnncourse.gradcheck import check_gradients
from rnncourse.output import log_softmax
from rnncourse.rnn import StepGrads
from rnncourse.seq2seq import (Encoded, Seq2SeqParams, decoder_step_backward,
                               decoder_step_forward, encode, init_seq2seq, seq2seq_backward,
                               seq2seq_forward, seq2seq_loss, train_seq2seq)
from rnncourse.seqpairs import encode_pairs, reversal_task, reversal_vocabularies
from rnncourse.tree import tree_map


def noisy(params, seed, scale=0.4):
    """Parameters away from their initial values (non-zero biases, peaked attention)."""
    rng = np.random.default_rng(seed)
    return tree_map(lambda _l, a: None if a is None else a + rng.normal(0, scale, np.shape(a)),
                    params)


def small_batch(seed=0, n=3, n_symbols=3):
    sv, tv = reversal_vocabularies(n_symbols)
    return encode_pairs(*reversal_task(n, seed, 1, 4, n_symbols), sv, tv), sv, tv


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("attention", [True, False])
def test_seq2seq_backward_matches_finite_differences(cell, attention):
    b, sv, tv = small_batch(seed=len(cell))
    assert not b.src_mask.all()                              # padding is exercised
    p = noisy(init_seq2seq(sv.size, tv.size, 3, 1, cell, attention, attention_size=2), 2)
    r = check_gradients(lambda params: seq2seq_forward(params, b.src, b.src_mask, b.y_in, cell),
                        seq2seq_backward, {"params": p})
    assert r.ok, str(r)


def test_loss_gradient_matches_finite_differences():
    b, sv, tv = small_batch(seed=5)
    p = noisy(init_seq2seq(sv.size, tv.size, 4, 0, "lstm"), 1)
    loss, grads = seq2seq_loss(p, b, "lstm")
    r = check_gradients(lambda params: (np.array(seq2seq_loss(params, b, "lstm")[0]), None),
                        lambda d, _c: None, {"params": p}, dout=np.array(1.0),
                        grads_of=lambda _g: {"params": grads}, eps=1e-5, tol=1e-5)
    assert r.ok, str(r)         # eps 1e-5: one scalar loss of size ~5, round-off dominates at 1e-6


def step_inputs(cell, seed=0, N=2, S=4):
    rng = np.random.default_rng(seed)
    p = noisy(init_seq2seq(5, 4, 3, seed, cell, True, attention_size=2), seed + 1)
    h = rng.normal(size=(N, S, 3))
    mask = np.ones((N, S), dtype=bool)
    mask[0, 2:] = False
    state = tuple(rng.normal(size=(N, 3)) for _ in range(2 if cell == "lstm" else 1))
    y = rng.integers(0, 4, N)
    return p, h, mask, state, y


def step_fns(cell, mask, y):
    def forward(h, state, params):
        keys, kcache = attention_keys(h, params.attention)
        scores, new, _alpha, cache = decoder_step_forward(y, tuple(state), Encoded(h, keys, mask,
                                                                                   None), params,
                                                          cell)
        return (scores,) + tuple(new) + ((cache, kcache, params),)

    def backward(dscores, *rest):
        *dstate, (cache, kcache, params) = rest
        g = decoder_step_backward(dscores, tuple(dstate), cache)
        k = attention_keys_backward(g.dkeys, kcache)
        zeros = tree_map(lambda _l, a: None if a is None else np.zeros_like(a), params.encoder)
        dp = Seq2SeqParams(zeros, g.dparams.decoder,
                           g.dparams.attention._replace(U_a=k.dU_a, b=k.db), g.dparams.output)
        return {"h": g.dh + k.dh, "state": list(g.dstate_prev), "params": dp}

    return forward, backward


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_decoder_step_backward_matches_finite_differences(cell):
    p, h, mask, state, y = step_inputs(cell, seed=3)
    fwd, bwd = step_fns(cell, mask, y)
    r = check_gradients(fwd, bwd, {"h": h, "state": list(state), "params": p},
                        grads_of=lambda g: g)
    assert r.ok, str(r)


def T(a, grad=True):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def torch_cell(cell, tp):
    """The package's rnn and lstm cells written in torch (gate order i, f, g, o)."""
    def rnn(x, state):
        h = torch.tanh(x @ tp["U"].T + state[0] @ tp["W"].T + tp["b"])
        return (h,)

    def lstm(x, state):
        h, c = state
        a = x @ tp["U"].T + h @ tp["W"].T + tp["b"]
        i, f, g, o = a.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    return {"rnn": rnn, "lstm": lstm}[cell]


def torch_decoder_step(cell, t, y, mask, K):
    a = t["attention"]
    z = torch.tanh((t["state"][0] @ a["W_a"].T)[:, None, :] + t["h"] @ a["U_a"].T + a["b"])
    e = (z @ a["v"]).masked_fill(~torch.tensor(mask), float("-inf"))
    alpha = torch.softmax(e, dim=1)
    ctx = (alpha[:, :, None] * t["h"]).sum(dim=1)
    x = torch.cat([torch.nn.functional.one_hot(torch.tensor(y), K).double(), ctx], dim=1)
    new = torch_cell(cell, t["decoder"])(x, t["state"])
    o = torch.cat([new[0], ctx], dim=1)
    return o @ t["output"]["V"].T + t["output"]["b_y"], new, alpha


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_decoder_step_matches_torch_autograd(cell):
    p, h, mask, state, y = step_inputs(cell, seed=4)
    t = {"h": T(h), "state": [T(s) for s in state],
         "decoder": {f: T(getattr(p.decoder, f)) for f in ("U", "W", "b")},
         "attention": {f: T(getattr(p.attention, f)) for f in p.attention._fields},
         "output": {"V": T(p.output.V), "b_y": T(p.output.b_y)}}
    ts, tnew, talpha = torch_decoder_step(cell, t, y, mask, 4)
    fwd, bwd = step_fns(cell, mask, y)
    scores, *new, cache = fwd(h, state, p)
    np.testing.assert_allclose(scores, ts.detach().numpy(), rtol=1e-12, atol=1e-12)
    for a, b in zip(new, tnew):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-12, atol=1e-12)
    rng = np.random.default_rng(0)
    ds = rng.normal(size=scores.shape)
    dnew = [rng.normal(size=a.shape) for a in new]
    loss = (ts * T(ds, False)).sum() + sum((b * T(d, False)).sum() for b, d in zip(tnew, dnew))
    loss.backward()
    g = bwd(ds, *dnew, cache)
    np.testing.assert_allclose(g["h"], t["h"].grad.numpy(), rtol=1e-10, atol=1e-12)
    for a, b in zip(g["state"], t["state"]):
        np.testing.assert_allclose(a, b.grad.numpy(), rtol=1e-10, atol=1e-12)
    for part in ("decoder", "attention", "output"):
        for f, tv in t[part].items():
            np.testing.assert_allclose(getattr(getattr(g["params"], part), f), tv.grad.numpy(),
                                       rtol=1e-10, atol=1e-12, err_msg=f"{part}.{f}")


def test_whole_model_matches_torch_autograd_on_a_padded_batch():
    b, sv, tv = small_batch(seed=6, n=4)
    p = noisy(init_seq2seq(sv.size, tv.size, 3, 0, "rnn", True, attention_size=2), 1)
    t = {"encoder": {f: T(getattr(p.encoder, f)) for f in ("U", "W", "b")},
         "decoder": {f: T(getattr(p.decoder, f)) for f in ("U", "W", "b")},
         "attention": {f: T(getattr(p.attention, f)) for f in p.attention._fields},
         "output": {"V": T(p.output.V), "b_y": T(p.output.b_y)}}
    N, S = b.src.shape
    xs = torch.nn.functional.one_hot(torch.tensor(b.src), sv.size).double()
    h, hs = torch.zeros(N, 3, dtype=torch.float64), []
    for s in range(S):                                       # padding: keep the last real state
        new = torch_cell("rnn", t["encoder"])(xs[:, s], (h,))[0]
        hs.append(new)
        h = torch.where(torch.tensor(b.src_mask[:, s:s + 1]), new, h)
    t["h"], t["state"] = torch.stack(hs, dim=1), [h]
    all_scores = []
    for step in range(b.y_in.shape[1]):
        sc, new, _ = torch_decoder_step("rnn", t, b.y_in[:, step], b.src_mask, tv.size)
        t["state"] = list(new)
        all_scores.append(sc)
    ts = torch.stack(all_scores, dim=1)
    scores, cache = seq2seq_forward(p, b.src, b.src_mask, b.y_in, "rnn")
    np.testing.assert_allclose(scores, ts.detach().numpy(), rtol=1e-11, atol=1e-12)
    ds = np.random.default_rng(1).normal(size=scores.shape)
    (ts * T(ds, False)).sum().backward()
    g = seq2seq_backward(ds, cache).dparams
    for part in ("encoder", "decoder", "attention", "output"):
        for f, tv_ in t[part].items():
            np.testing.assert_allclose(getattr(getattr(g, part), f), tv_.grad.numpy(),
                                       rtol=1e-9, atol=1e-12, err_msg=f"{part}.{f}")


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_padding_changes_nothing(cell):
    b, sv, tv = small_batch(seed=7, n=4)
    p = noisy(init_seq2seq(sv.size, tv.size, 4, 0, cell), 3)
    scores, cache = seq2seq_forward(p, b.src, b.src_mask, b.y_in, cell)
    for n in range(4):
        L = int(b.src_mask[n].sum())
        alone, _ = seq2seq_forward(p, b.src[n:n + 1, :L], None, b.y_in[n:n + 1], cell)
        np.testing.assert_allclose(scores[n], alone[0], rtol=1e-12, atol=1e-13)
        np.testing.assert_allclose(cache.alphas[n, :, :L].sum(axis=1), 1.0, rtol=1e-13)
    enc, _ = encode(p, b.src, b.src_mask, cell)
    assert len(enc.state) == (2 if cell == "lstm" else 1)


def sequence_log_prob(p, src, seq, eos, cell):
    """log p(seq | src) by teacher forcing (independent of the decoders)."""
    y_in = np.array([[eos] + list(seq[:-1])])
    scores, _ = seq2seq_forward(p, src[None], None, y_in, cell)
    lp = log_softmax(scores[0])
    return float(sum(lp[i, s] for i, s in enumerate(seq)))


def exhaustive_best(p, src, K, eos, max_len, alpha, cell):
    best = None
    for L in range(1, max_len + 1):
        for seq in itertools.product(range(K), repeat=L):
            if eos in seq[:-1] or (L < max_len and seq[-1] != eos):
                continue                                     # not a complete hypothesis
            score = sequence_log_prob(p, src, seq, eos, cell) / L ** alpha
            if best is None or score > best[0]:
                best = (score, seq)
    return best


BEAM_CASES = [(alpha, seed) for alpha in (0.0, 0.7, 1.0) for seed in range(6)]


def beam_case(seed):
    sv, tv = reversal_vocabularies(2)                        # K = 3 target symbols
    p = noisy(init_seq2seq(sv.size, tv.size, 4, seed, "gru"), seed, scale=0.3)
    return p, sv.encode("abba"[: 2 + seed % 3]), tv.size, tv.eos_index


@pytest.mark.parametrize("alpha,seed", BEAM_CASES)
def test_beam_search_with_full_width_is_exhaustive_search(alpha, seed):
    p, src, K, eos = beam_case(seed)
    max_len = 4
    score, seq = exhaustive_best(p, src, K, eos, max_len, alpha, "gru")
    best = beam_search(p, src, eos, max_len, K ** max_len, alpha, "gru")[0]
    assert tuple(best.tokens) == seq
    assert best.score == pytest.approx(score, rel=1e-10)
    assert best.log_prob == pytest.approx(sequence_log_prob(p, src, seq, eos, "gru"), rel=1e-10)


def test_the_beam_cases_are_not_trivial():
    """Among the cases above greedy search misses the optimum, and alpha changes it."""
    greedy_wrong, alpha_matters = 0, 0
    for seed in range(6):
        p, src, K, eos = beam_case(seed)
        best = {a: exhaustive_best(p, src, K, eos, 4, a, "gru")[1] for a in (0.0, 1.0)}
        greedy = tuple(beam_search(p, src, eos, 4, 1, 0.0, "gru")[0].tokens)
        greedy_wrong += greedy != best[0.0]
        alpha_matters += best[0.0] != best[1.0]
    assert greedy_wrong >= 2 and alpha_matters >= 2


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_beam_width_one_is_greedy(cell):
    b, sv, tv = small_batch(seed=8, n=6, n_symbols=4)
    p = noisy(init_seq2seq(sv.size, tv.size, 5, 0, cell), 4, scale=0.8)
    tokens, lengths, alphas = greedy_decode(p, b.src, b.src_mask, tv.eos_index, 6, cell)
    for n in range(6):
        hyp = beam_search(p, b.src[n, b.src_mask[n]], tv.eos_index, 6, 1, 0.0, cell)[0]
        assert hyp.tokens.tolist() == tokens[n, :lengths[n]].tolist()
        L = int(b.src_mask[n].sum())
        np.testing.assert_allclose(hyp.alphas, alphas[n, :lengths[n], :L], rtol=1e-12)


def test_small_attention_model_learns_reversal():
    sv, tv = reversal_vocabularies(6)
    batches = lambda g: encode_pairs(*reversal_task(32, g, 3, 6, 6), sv, tv)   # noqa: E731
    p = init_seq2seq(sv.size, tv.size, 24, 0, "gru", attention=True)
    p, hist = train_seq2seq(p, batches, 150, "gru", lr=1e-2, seed=1)
    held_out = batches(np.random.default_rng(12345))
    print(f"reversal, attention GRU H=24, 150 steps: loss per symbol {hist.losses[0]:.3f} -> "
          f"{np.mean(hist.losses[-10:]):.4f}, exact match {exact_match(p, held_out, 'gru'):.3f}")
    assert np.mean(hist.losses[-10:]) < 0.1
    assert exact_match(p, held_out, "gru", eos=tv.eos_index) >= 0.9
    _, cache = seq2seq_forward(p, held_out.src, held_out.src_mask, held_out.y_in, "gru")
    lengths = held_out.src_mask.sum(axis=1)
    mirrored = [np.argmax(cache.alphas[n, t]) == L - 1 - t        # output t reads input L-1-t
                for n, L in enumerate(lengths) for t in range(L)]
    print(f"argmax of the attention on the mirrored position: {np.mean(mirrored):.3f}")
    assert np.mean(mirrored) >= 0.8                             # measured 0.95 on another batch


@pytest.mark.parametrize("call,words", [
    (lambda p, b: init_seq2seq(5, 4, 3, 0, "transformer"), ["init_seq2seq", "cell", "transformer"]),
    (lambda p, b: init_seq2seq(5, 0, 3, 0), ["init_seq2seq", "tgt_size"]),
    (lambda p, b: seq2seq_forward(p, b.src + 100, b.src_mask, b.y_in), ["seq2seq_forward", "src"]),
    (lambda p, b: seq2seq_forward(p, b.src, b.src_mask, b.y_in[:1]), ["seq2seq_forward", "y_in"]),
    (lambda p, b: seq2seq_forward(p, b.src, b.src_mask[:, :1], b.y_in), ["src_mask"]),
    (lambda p, b: seq2seq_forward(p, b.src, b.src_mask, b.y_in + 50), ["y_in", "[0, 4)"]),
    (lambda p, b: seq2seq_forward(p, b.src * 1.0, b.src_mask, b.y_in), ["src", "integer"]),
    (lambda p, b: seq2seq_forward(tuple(p), b.src, b.src_mask, b.y_in),
     ["params", "Seq2SeqParams"]),
    (lambda p, b: seq2seq_forward(p, b.src, b.src_mask, b.y_in, "lstm"),
     ["params.encoder", "lstm"]),
    (lambda p, b: seq2seq_forward(p._replace(attention=None), b.src, b.src_mask, b.y_in),
     ["params.decoder.U", "attention off"]),
    (lambda p, b: seq2seq_forward(p._replace(attention=p.attention._replace(v=p.attention.v[:1])),
                                  b.src, b.src_mask, b.y_in), ["params.attention.v"]),
    (lambda p, b: seq2seq_backward(np.zeros((1, 2, 3)),
                                   seq2seq_forward(p, b.src, b.src_mask, b.y_in)[1]),
     ["seq2seq_backward", "dscores"]),
    (lambda p, b: seq2seq_backward(np.zeros((1, 2, 3)), None), ["seq2seq_backward", "cache"]),
    (lambda p, b: beam_search(p, b.src[0], 0, 5, beam_width=0), ["beam_search", "beam_width"]),
    (lambda p, b: beam_search(p, b.src[0], 0, 5, alpha=-1.0), ["beam_search", "alpha"]),
    (lambda p, b: beam_search(p, b.src, 0, 5), ["beam_search", "src"]),
    (lambda p, b: beam_search(p, b.src[0], 9, 5), ["beam_search", "eos"]),
    (lambda p, b: greedy_decode(p, b.src, b.src_mask, 0, 0), ["greedy_decode", "max_len"]),
    (lambda p, b: train_seq2seq(p, None, 0), ["train_seq2seq", "steps"]),
])
def test_bad_input_names_the_argument(call, words):
    b, sv, tv = small_batch()
    p = init_seq2seq(sv.size, tv.size, 3, 0, "gru")
    with pytest.raises(ValueError) as err:
        call(p, b)
    for w in words:
        assert w in str(err.value), str(err.value)


class BiasFree(NamedTuple):
    U: np.ndarray      # (H, D)
    W: np.ndarray      # (H, H)


def _bias_free_cell():
    """A cell defined here, nothing from the package's cells: h_t = tanh(U x_t + W h_{t-1})."""
    def step_forward(x, h_prev, p):
        h = np.tanh(x @ p.U.T + h_prev @ p.W.T)
        return h, (x, h_prev, h, p)

    def step_backward(dh, cache):
        x, h_prev, h, p = cache
        da = dh * (1 - h ** 2)
        return StepGrads(da @ p.U, da @ p.W, BiasFree(da.T @ x, da.T @ h_prev))

    def forward(x, h0, p):                                   # unused by seq2seq
        raise AssertionError("seq2seq must go through the step functions")

    def init(D, H, rng):
        g = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        return BiasFree(g.normal(0, 0.5, (H, D)), g.normal(0, 0.5, (H, H)))

    return Cell("bias_free_test", forward, forward, init, _hidden, _input,
                *h_only_steps(step_forward, step_backward))


def _hidden(p):
    return p.W.shape[1]


def _input(p):
    return p.U.shape[1]


def test_a_cell_defined_outside_the_package_runs_through_the_model():
    c = _bias_free_cell()
    b, sv, tv = small_batch(seed=9)
    p = noisy(init_seq2seq(sv.size, tv.size, 3, 0, c, attention_size=2), 5)
    r = check_gradients(lambda params: seq2seq_forward(params, b.src, b.src_mask, b.y_in, c),
                        seq2seq_backward, {"params": p})
    assert r.ok, str(r)
    p, hist = train_seq2seq(p, lambda g: small_batch(int(g.integers(1 << 30)))[0], 5, c)
    tokens, lengths, _ = greedy_decode(p, b.src, b.src_mask, tv.eos_index, 5, c)
    assert tokens.shape == (b.src.shape[0], 5) and len(hist.losses) == 5
    assert beam_search(p, b.src[0, b.src_mask[0]], tv.eos_index, 5, 2, 0.5, c)[0].tokens.size
