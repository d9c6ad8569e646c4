r"""Decoding a trained encoder-decoder: greedy search, beam search, exact match.

Both searches are deterministic (no sampling; ties go to the lowest index).
Every hypothesis starts from EOS (the start symbol, see
:mod:`rnncourse.seqpairs`) and is *complete* when it emits EOS or reaches
``max_len`` symbols; its length L counts the symbols generated, EOS included.

Greedy search takes the most probable symbol at every step.

Beam search (beam width k) keeps the k most probable live prefixes.  At
every step it extends each live prefix by every symbol, keeps the k
extensions with the largest total log-probability, moves those ending in EOS
(or reaching ``max_len``) to the finished list and continues with the rest,
until none is live.  The answer is the finished hypothesis with the largest
length-normalised score::

    score(y) = log p(y | x) / L ** alpha

(``alpha = 0``: the plain log-probability, which favours short outputs;
``alpha = 1``: the mean log-probability per symbol; Wu et al. 2016 use a
smoothed ``((5 + L) / 6) ** alpha`` with alpha near 0.6).  With k = 1 it is
greedy search; with ``k >= K ** max_len`` nothing is ever pruned and it
returns the exact maximiser over all sequences (what the tests check).
"""
from __future__ import annotations

from typing import List, NamedTuple, Optional

import numpy as np

from ._validation import ShapeChecker
from .output import log_softmax
from .seq2seq import (Encoded, Seq2SeqParams, _cell, _check_params, _check_src,
                      _decoder_step, _encode)


class Hypothesis(NamedTuple):
    """tokens (L,) int (EOS included when emitted), log_prob (float), score
    (``log_prob / L ** alpha``), alphas (L, S) attention weights or None."""

    tokens: np.ndarray
    log_prob: float
    score: float
    alphas: Optional[np.ndarray]


def _prepare(func: str, params, src, src_mask, cell, eos, max_len):
    chk = ShapeChecker(func)
    c = _cell(chk, cell)
    Ks, K, H = _check_params(chk, params, c)
    src, m = _check_src(chk, src, src_mask, Ks)
    if isinstance(eos, bool) or not isinstance(eos, (int, np.integer)) or \
            not 0 <= eos < K:
        chk.fail(f"eos must be a target index in [0, {K}), got {eos!r}")
    max_len = chk.positive_int("max_len", max_len)
    enc, _ = _encode(params, src, m, c, Ks, H)
    return chk, c, K, enc, int(eos), max_len


def greedy_decode(params: Seq2SeqParams, src, src_mask, eos: int, max_len: int,
                  cell="gru"):
    """The most probable symbol at every step, for a whole batch.

    Parameters
    ----------
    params : Seq2SeqParams.  src, src_mask : (N, S) int / bool (None: no padding).
    eos : index of EOS in the target vocabulary (start and end symbol).
    max_len : most symbols generated per sequence.  cell : name or Cell.

    Returns
    -------
    tokens : (N, max_len) int, EOS repeated after the first EOS.
    lengths : (N,) int, symbols up to and including the first EOS (or max_len).
    alphas : (N, max_len, S) attention weights, or None without attention.
    """
    chk, c, K, enc, eos, max_len = _prepare("greedy_decode", params, src, src_mask,
                                            cell, eos, max_len)
    N, S = enc.mask.shape
    tokens = np.full((N, max_len), eos, dtype=np.int64)
    alphas = np.zeros((N, max_len, S)) if params.attention is not None else None
    done = np.zeros(N, dtype=bool)
    lengths = np.full(N, max_len, dtype=np.int64)
    y, state = np.full(N, eos, dtype=np.int64), enc.state
    for t in range(max_len):
        scores, state, alpha, _ = _decoder_step(y, state, enc, params, c, K)
        y = np.where(done, eos, np.argmax(scores, axis=1))
        tokens[:, t] = y
        if alphas is not None:
            alphas[:, t] = alpha
        newly = (y == eos) & ~done
        lengths[newly] = t + 1
        done |= newly
        if done.all():
            break
    return tokens, lengths, alphas


def beam_search(params: Seq2SeqParams, src, eos: int, max_len: int, beam_width: int = 4,
                alpha: float = 0.0, cell="gru", n_best: int = 1) -> List[Hypothesis]:
    """Beam search for one source sequence (module docstring for the algorithm).

    Parameters
    ----------
    params : Seq2SeqParams.  src : (S,) int, one unpadded source sequence.
    eos : EOS index in the target vocabulary.  max_len : most symbols per hypothesis.
    beam_width : k, the number of live prefixes kept.
    alpha : length-normalisation exponent (>= 0): score = log p / L ** alpha.
    cell : name or Cell.  n_best : how many finished hypotheses to return.

    Returns
    -------
    list of the ``n_best`` best Hypothesis (highest score first).
    """
    chk = ShapeChecker("beam_search")
    src = chk.array("src", src, "S", dtype="int")
    k = chk.positive_int("beam_width", beam_width)
    n_best = chk.positive_int("n_best", n_best)
    number = (int, float, np.integer, np.floating)
    if isinstance(alpha, bool) or not isinstance(alpha, number) \
            or not np.isfinite(alpha) or alpha < 0:
        chk.fail(f"alpha must be a finite number >= 0, got {alpha!r}")
    chk, c, K, enc1, eos, max_len = _prepare("beam_search", params, src[None, :], None,
                                             cell, eos, max_len)
    live_tokens: List[list] = [[]]
    live_alphas: List[list] = [[]]
    live_logp = np.zeros(1)
    state = enc1.state
    finished: List[Hypothesis] = []
    for t in range(max_len):
        B = len(live_tokens)
        rep = np.zeros(B, dtype=np.int64)
        keys = None if enc1.keys is None else enc1.keys[rep]
        enc = Encoded(enc1.h[rep], keys, enc1.mask[rep], None)
        y_prev = np.array([tk[-1] if tk else eos for tk in live_tokens], dtype=np.int64)
        scores, new_state, alpha_t, _ = _decoder_step(y_prev, state, enc, params, c, K)
        total = (live_logp[:, None] + log_softmax(scores)).ravel()
        order = np.argsort(-total, kind="stable")[:k]
        keep_b, keep_tok, keep_lp, keep_al = [], [], [], []
        for idx in order:
            b, tok = divmod(int(idx), K)
            toks = live_tokens[b] + [tok]
            als = live_alphas[b] + ([] if alpha_t is None else [alpha_t[b]])
            if tok == eos or t == max_len - 1:
                L = len(toks)
                lp = float(total[idx])
                finished.append(Hypothesis(np.array(toks, dtype=np.int64), lp,
                                           lp / L ** alpha,
                                           np.array(als) if als else None))
            else:
                keep_b.append(b)
                keep_tok.append(toks)
                keep_lp.append(total[idx])
                keep_al.append(als)
        if not keep_b:
            break
        live_tokens, live_alphas, live_logp = keep_tok, keep_al, np.array(keep_lp)
        state = tuple(s[np.array(keep_b)] for s in new_state)
    finished.sort(key=lambda h: -h.score)     # stable: earlier (more probable) first
    return finished[:n_best]


def exact_match(params: Seq2SeqParams, batch, cell="gru", eos: int = 0,
                beam_width: int = 1, alpha: float = 0.0) -> float:
    """Fraction of the batch's sequences decoded exactly (every symbol, the final EOS).

    batch : :class:`~rnncourse.seqpairs.Seq2SeqBatch`; decoding stops at ``T``
    symbols (the batch's longest target + EOS).  ``beam_width = 1``: greedy
    search on the whole batch; otherwise beam search sequence by sequence.
    """
    T = batch.y_out.shape[1]
    lens = batch.y_mask.sum(axis=1)
    correct = 0
    if beam_width == 1:
        tokens, lengths, _ = greedy_decode(params, batch.src, batch.src_mask, eos, T,
                                           cell)
        for n in range(len(lens)):
            L = int(lens[n])
            same = np.array_equal(tokens[n, :L], batch.y_out[n, :L])
            correct += int(lengths[n] == L and same)
    else:
        for n in range(len(lens)):
            L = int(lens[n])
            best = beam_search(params, batch.src[n, batch.src_mask[n]], eos, T,
                               beam_width, alpha, cell)[0]
            correct += int(np.array_equal(best.tokens, batch.y_out[n, :L]))
    return correct / len(lens)
