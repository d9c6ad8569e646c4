r"""Pairs of sequences for sequence-to-sequence models: padding, batches, reversal task.

A sequence-to-sequence task maps a *source* string to a *target* string
(``"3rd of March 1987" -> "1987-03-03"``, ``"abcd" -> "dcba"``).
:func:`encode_pairs` turns a list of pairs into one :class:`Seq2SeqBatch`
of integer arrays with the conventions every function of
:mod:`rnncourse.seq2seq` relies on:

==========  ==========  ==================================================
field       shape       meaning
==========  ==========  ==================================================
src         (N, S) int  source symbols, padded *after* the end with
                        ``PAD`` (index 0 of every source vocabulary)
src_mask    (N, S) bool True on real symbols, False on padding; the
                        encoder freezes its state there and attention
                        gives padding zero weight
y_in        (N, T) int  decoder inputs: EOS (used as the start symbol,
                        as :func:`rnncourse.charlm.sample` does), then the
                        target without its last symbol (teacher forcing)
y_out       (N, T) int  decoder targets: the target followed by EOS
y_mask      (N, T) bool True on the ``len(target) + 1`` steps that count
==========  ==========  ==================================================

``T = max len(target) + 1`` and ``S = max len(source)`` over the batch.
Target padding uses the EOS index and is masked out of the loss.  The source
vocabulary has no EOS (the mask marks the end); the target vocabulary's EOS is
both the start and the end symbol.

The reversal task (:func:`reversal_task`) is the quick check of a model:
random strings over a small alphabet, reversed.  Without attention the
encoder must squeeze the whole string into its final state; with attention
target step t can look straight at source position ``L - 1 - t``.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence, Tuple

import numpy as np

from ._validation import ShapeChecker, as_rng
from .text import Vocabulary

PAD = "\x00"                 # padding symbol, index 0 of every source vocabulary
EOS = "\n"                   # end (and start) symbol of every target vocabulary


class Seq2SeqBatch(NamedTuple):
    """One padded batch (shapes in the module docstring)."""

    src: np.ndarray
    src_mask: np.ndarray
    y_in: np.ndarray
    y_out: np.ndarray
    y_mask: np.ndarray


def source_vocabulary(chars: str) -> Vocabulary:
    """``PAD`` at index 0, then the distinct characters of ``chars`` sorted; no EOS."""
    if PAD in chars:
        raise ValueError(f"source_vocabulary: chars must not contain PAD {PAD!r}")
    return Vocabulary((PAD,) + tuple(sorted(set(chars))), eos=None)


def target_vocabulary(chars: str) -> Vocabulary:
    """The distinct characters of ``chars`` sorted, with ``EOS`` (newline) at index 0.
    """
    return Vocabulary.from_text("".join(sorted(set(chars))), eos=EOS)


def encode_pairs(sources: Sequence[str], targets: Sequence[str], src_vocab: Vocabulary,
                 tgt_vocab: Vocabulary) -> Seq2SeqBatch:
    """Encode and pad N (source, target) string pairs into a :class:`Seq2SeqBatch`.

    Parameters
    ----------
    sources, targets : N strings each; sources non-empty, made of ``src_vocab``
        characters; targets made of ``tgt_vocab`` characters (EOS excluded).
    src_vocab : Vocabulary with ``PAD`` at index 0 (:func:`source_vocabulary`).
    tgt_vocab : Vocabulary with an EOS (:func:`target_vocabulary`).

    Returns
    -------
    Seq2SeqBatch with src, src_mask (N, S) and y_in, y_out, y_mask (N, T).
    """
    chk = ShapeChecker("encode_pairs")
    if isinstance(sources, str) or isinstance(targets, str):
        chk.fail("sources and targets must be sequences of strings, got a single str")
    if len(sources) != len(targets) or not len(sources):
        chk.fail(f"sources and targets must be two non-empty lists of the same length, "
                 f"got {len(sources)} and {len(targets)}")
    if src_vocab.chars[0] != PAD:
        chk.fail(f"src_vocab must have PAD {PAD!r} at index 0, "
                 f"got {src_vocab.chars[0]!r}")
    if tgt_vocab.eos is None:
        chk.fail("tgt_vocab must have an eos symbol, got eos=None")
    for i, s in enumerate(sources):
        if not isinstance(s, str) or not s or PAD in s:
            chk.fail(f"sources[{i}] must be a non-empty string without PAD, got {s!r}")
    for i, t in enumerate(targets):
        if not isinstance(t, str) or tgt_vocab.eos in t:
            chk.fail(f"targets[{i}] must be a string without the eos symbol, got {t!r}")
    N = len(sources)
    S = max(len(s) for s in sources)
    T = max(len(t) for t in targets) + 1
    eos = tgt_vocab.eos_index
    src = np.zeros((N, S), dtype=np.int64)
    src_mask = np.zeros((N, S), dtype=bool)
    y_in = np.full((N, T), eos, dtype=np.int64)
    y_out = np.full((N, T), eos, dtype=np.int64)
    y_mask = np.zeros((N, T), dtype=bool)
    for n, (s, t) in enumerate(zip(sources, targets)):
        src[n, :len(s)] = src_vocab.encode(s)
        src_mask[n, :len(s)] = True
        code = tgt_vocab.encode(t)
        y_in[n, 1:len(t) + 1] = code
        y_out[n, :len(t)] = code
        y_mask[n, :len(t) + 1] = True
    return Seq2SeqBatch(src, src_mask, y_in, y_out, y_mask)


REVERSAL_ALPHABET = "abcdefghijklmnopqrstuvwxyz"


def reversal_vocabularies(n_symbols: int = 8) -> Tuple[Vocabulary, Vocabulary]:
    """(source, target) vocabularies of :func:`reversal_task`, ``n_symbols`` letters."""
    letters = REVERSAL_ALPHABET[:n_symbols]
    return source_vocabulary(letters), target_vocabulary(letters)


def reversal_task(n: int, rng, min_len: int = 3, max_len: int = 8, n_symbols: int = 8):
    """n random strings and their reversals, e.g. ``"cabd" -> "dbac"``.

    Parameters
    ----------
    n : number of pairs.
    rng : int seed or ``numpy.random.Generator`` (a fresh batch per call).
    min_len, max_len : each length is drawn uniformly from ``min_len .. max_len``.
    n_symbols : alphabet size, the first ``n_symbols`` letters (1 .. 26).

    Returns
    -------
    sources, targets : lists of n strings; ``targets[i] == sources[i][::-1]``.
    Encode them with :func:`encode_pairs` and :func:`reversal_vocabularies`.
    """
    chk = ShapeChecker("reversal_task")
    n = chk.positive_int("n", n)
    min_len = chk.positive_int("min_len", min_len)
    max_len = chk.positive_int("max_len", max_len)
    n_symbols = chk.positive_int("n_symbols", n_symbols)
    if max_len < min_len:
        chk.fail(f"max_len must be >= min_len = {min_len}, got {max_len}")
    if n_symbols > len(REVERSAL_ALPHABET):
        chk.fail(f"n_symbols must be at most {len(REVERSAL_ALPHABET)}, got {n_symbols}")
    g = as_rng(rng, "reversal_task")
    lengths = g.integers(min_len, max_len + 1, size=n)
    letters = np.array(list(REVERSAL_ALPHABET[:n_symbols]))
    sources = ["".join(letters[g.integers(0, n_symbols, size=L)]) for L in lengths]
    return sources, [s[::-1] for s in sources]
