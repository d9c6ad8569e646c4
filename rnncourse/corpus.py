r"""Small text corpora shipped with the package, and training windows cut from them.

The texts live in ``rnncourse/data/<name>.txt``; ``rnncourse/data/README.md``
gives each one's source, licence and how it was cut.

A character language model is trained on windows of the encoded corpus: a
window of T + 1 consecutive indices ``c_s, ..., c_{s+T}`` gives the inputs
``x = c_s .. c_{s+T-1}`` and the targets ``y = c_{s+1} .. c_{s+T}`` (the
same text shifted by one: at every step the target is the next character).
"""
from __future__ import annotations

from importlib import resources
from typing import Tuple

import numpy as np

from ._validation import ShapeChecker, as_rng

_PACKAGE = "rnncourse"


def _data_dir():
    return resources.files(_PACKAGE).joinpath("data")


def available_corpora() -> Tuple[str, ...]:
    """Names accepted by :func:`load_corpus`, sorted (e.g. ``("shakespeare",)``)."""
    names = [p.name[:-4] for p in _data_dir().iterdir() if p.name.endswith(".txt")]
    return tuple(sorted(names))


def load_corpus(name: str = "shakespeare") -> str:
    """The text of a shipped corpus.

    Parameters
    ----------
    name : str
        One of :func:`available_corpora`; ``"shakespeare"`` is the opening of
        *Coriolanus* from the tiny-Shakespeare file (public domain, ~64 KB).

    Returns
    -------
    str, with Unix newlines.
    """
    names = available_corpora()
    if not isinstance(name, str) or name not in names:
        raise ValueError(f"load_corpus: name must be one of "
                         f"{', '.join(repr(n) for n in names)}, got {name!r}")
    return _data_dir().joinpath(name + ".txt").read_text(encoding="utf-8")


def batches(encoded, N: int, T: int, rng):
    """N random training windows of length T from an encoded corpus.

    Parameters
    ----------
    encoded : (L,) integer array, the corpus as vocabulary indices; L >= T + 1.
    N : int, number of windows (the batch size).
    T : int, window length (the number of time steps).
    rng : int seed or ``numpy.random.Generator`` (start positions are drawn
        uniformly from ``0 .. L - T - 1``).

    Returns
    -------
    x : (N, T) int64, ``x[n, t] = encoded[s_n + t]``
    y : (N, T) int64, ``y[n, t] = encoded[s_n + t + 1]`` (the next character)
    """
    chk = ShapeChecker("batches")
    N = chk.positive_int("N", N)
    T = chk.positive_int("T", T)
    data = chk.array("encoded", encoded, "L", dtype="int")
    if data.shape[0] < T + 1:
        chk.fail(f"encoded must hold at least T + 1 = {T + 1} indices, got shape ({data.shape[0]},)")
    gen = as_rng(rng, "batches")
    starts = gen.integers(0, data.shape[0] - T, size=N)          # s_n in [0, L - T - 1]
    idx = starts[:, None] + np.arange(T + 1)[None, :]           # (N, T + 1)
    window = data[idx].astype(np.int64)
    return window[:, :-1], window[:, 1:]


def split_corpus(encoded, valid_fraction: float = 0.1):
    """Split an encoded corpus into a training head and a validation tail.

    Parameters
    ----------
    encoded : (L,) integer array.
    valid_fraction : float in (0, 1), the share of the corpus kept for validation.

    Returns
    -------
    train : (L - V,) the first characters;  valid : (V,) the last
    ``V = round(valid_fraction * L)`` characters (both new arrays).
    """
    chk = ShapeChecker("split_corpus")
    data = chk.array("encoded", encoded, "L", dtype="int")
    if isinstance(valid_fraction, bool) or not isinstance(valid_fraction, (int, float, np.floating)) \
            or not 0.0 < float(valid_fraction) < 1.0:
        chk.fail(f"valid_fraction must be a number in (0, 1), got {valid_fraction!r}")
    V = int(round(float(valid_fraction) * data.shape[0]))
    if V < 1 or V >= data.shape[0]:
        chk.fail(f"valid_fraction={valid_fraction} leaves an empty part of a corpus of "
                 f"shape ({data.shape[0]},)")
    return data[:-V].copy(), data[-V:].copy()
