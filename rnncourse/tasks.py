r"""Synthetic long-memory tasks: the adding problem and the copy task.

Both are classic tests of whether a recurrent network can carry information
across many time steps.  The adding problem comes from Hochreiter &
Schmidhuber (1997, "Experiment 4"); the form implemented here is the simpler
variant of Arjovsky, Shah & Bengio (2016), which Le, Jaitly & Hinton (2015)
also used, in a similar form, to test the IRNN.  The copy task has the layout
of Arjovsky et al. (2016).  Each call draws a fresh batch from
``rng`` (an int seed or a ``numpy.random.Generator``), so a training loop can
pass one Generator and get a new batch each step.
"""
from __future__ import annotations

import numpy as np

from ._validation import ShapeChecker, as_rng


def adding_problem(n: int, T: int, rng):
    r"""A batch of the adding problem (many-to-one regression).

    Each sequence has ``T`` steps with two input channels:

    * channel 0: a value drawn from U[0, 1] at every step;
    * channel 1: a mask, 1 at exactly two steps and 0 elsewhere: one step
      drawn uniformly from the first half ``0 .. T//2 - 1`` and one from the
      second half ``T//2 .. T-1``.

    The target is the sum of the two marked values.  The network must
    remember the first value for up to ``T - 1`` steps.

    **Where it comes from.**  The task is Experiment 4 ("adding problem") of
    Hochreiter & Schmidhuber (1997), *Long short-term memory*, Neural
    Computation 9(8), section 5.4, in a harder form: values in [-1, 1],
    sequences of random length between ``T`` and ``T + T/10``, the first mark
    among the first ten steps and the second among the first ``T/2 - 1``, and
    the target rescaled to ``0.5 + (X1 + X2) / 4``.  This function implements
    the simplified variant of Arjovsky, Shah & Bengio (2016), *Unitary
    evolution recurrent neural networks*, ICML: values from U[0, 1], the plain
    sum as target, one mark in each half.  Le, Jaitly & Hinton (2015), *A
    simple way to initialize recurrent networks of rectified linear units*,
    test the IRNN on the same kind of U[0, 1], plain-sum version.

    Parameters
    ----------
    n : number of sequences.
    T : sequence length, at least 2.
    rng : int seed or ``numpy.random.Generator``.

    Returns
    -------
    x : (n, T, 2) float64, ``x[..., 0]`` values, ``x[..., 1]`` mask.
    y : (n,) float64, ``y = sum_t x[:, t, 0] * x[:, t, 1]``.

    Notes
    -----
    **Baseline MSE = 1/6.**  The marked values :math:`X_1, X_2` are
    independent U[0, 1], each with mean 1/2 and variance 1/12.  A model that
    ignores the input and always predicts a constant :math:`c` has

    .. math::

        \mathbb E[(X_1 + X_2 - c)^2]
            = \operatorname{Var}(X_1 + X_2) + (\mathbb E[X_1 + X_2] - c)^2
            = \tfrac{2}{12} + (1 - c)^2,

    which is smallest for :math:`c = 1` and equals :math:`1/6 \approx 0.167`.
    A training curve that stays near 0.167 has learned nothing; Le et al.
    (2015) quote "about 0.1767" for this baseline.
    """
    chk = ShapeChecker("adding_problem")
    n = chk.positive_int("n", n)
    T = chk.positive_int("T", T)
    if T < 2:
        chk.fail(f"T must be at least 2 (one mark in each half), got {T}")
    rng = as_rng(rng, "adding_problem")
    half = T // 2
    x = np.zeros((n, T, 2))
    x[..., 0] = rng.uniform(0.0, 1.0, size=(n, T))
    first = rng.integers(0, half, size=n)             # one mark in steps 0 .. T//2 - 1
    second = rng.integers(half, T, size=n)            # one mark in steps T//2 .. T - 1
    rows = np.arange(n)
    x[rows, first, 1] = 1.0
    x[rows, second, 1] = 1.0
    y = x[rows, first, 0] + x[rows, second, 0]
    return x, y


def copy_task(n: int, T: int, rng, n_symbols: int = 8, length: int = 10):
    r"""A batch of the copy (memory) task, many-to-many classification.

    A sequence of ``length`` random symbols is shown, followed by a delay of
    blanks, then a *go* marker; the network must then output the symbols in
    the same order.  With ``length = 10`` and ``n_symbols = 8`` this is the
    task of Arjovsky, Shah & Bengio (2016); ``T`` is the delay, as there.

    Layout of one sequence (``L = T + 2 * length`` steps)::

        step     0 .. length-1   length .. length+T-2   length+T-1   length+T .. L-1
        input    s_1 .. s_length blank (T-1 steps)      go           blank (length steps)
        target   blank           blank                  blank        s_1 .. s_length

    Classes: symbols are ``0 .. n_symbols-1``, ``blank = n_symbols``,
    ``go = n_symbols + 1`` (the go marker only appears in the input).

    Parameters
    ----------
    n : number of sequences.
    T : delay, at least 1 (the go marker comes ``T`` steps after the last symbol).
    rng : int seed or ``numpy.random.Generator``.
    n_symbols : number of distinct symbols (at least 2).
    length : number of symbols to remember.

    Returns
    -------
    x : (n, L, n_symbols + 2) float64 one-hot inputs.
    y : (n, L) int64 targets in ``0 .. n_symbols`` (``n_symbols`` = blank);
        the part to recall is ``y[:, -length:]``.

    Notes
    -----
    A memoryless model that outputs blank for the first ``T + length`` steps
    and a uniform guess over the symbols for the last ``length`` steps has a
    cross-entropy of ``length * log(n_symbols)`` per sequence, i.e.
    ``length * log(n_symbols) / L`` per step (Arjovsky et al.'s baseline
    ``10 log 8 / (T + 20)``).
    """
    chk = ShapeChecker("copy_task")
    n = chk.positive_int("n", n)
    T = chk.positive_int("T", T)
    n_symbols = chk.positive_int("n_symbols", n_symbols)
    if n_symbols < 2:
        chk.fail(f"n_symbols must be at least 2, got {n_symbols}")
    length = chk.positive_int("length", length)
    rng = as_rng(rng, "copy_task")
    blank, go = n_symbols, n_symbols + 1
    L = T + 2 * length
    symbols = rng.integers(0, n_symbols, size=(n, length))
    inputs = np.full((n, L), blank, dtype=np.int64)
    inputs[:, :length] = symbols
    inputs[:, length + T - 1] = go
    y = np.full((n, L), blank, dtype=np.int64)
    y[:, L - length:] = symbols
    x = np.zeros((n, L, n_symbols + 2))
    np.put_along_axis(x, inputs[..., None], 1.0, axis=-1)
    return x, y
