r"""Weight initialisation schemes for recurrent layers.

Weights use PyTorch's layout (one row per output unit), so a matrix of shape
``(fan_out, fan_in)`` maps ``fan_in`` inputs to ``fan_out`` units:

==================  ==========================================  ============================
scheme              distribution                                why
==================  ==========================================  ============================
Xavier / Glorot     U(-a, a), a = gain * sqrt(6 / (in + out))   keeps the variance of
uniform             (variance 2 / (in + out) for gain 1)        activations and gradients
                                                                roughly constant per layer
Xavier normal       N(0, gain^2 * 2 / (in + out))               same variance, Gaussian
orthogonal          Q from the QR decomposition of a Gaussian   all singular values are
                    matrix (Saxe et al. 2014)                   ``gain``: W^k neither
                                                                explodes nor vanishes
identity (IRNN)     W = scale * I                               Le, Jaitly & Hinton 2015
uniform             U(-a, a), PyTorch's RNN/GRU/LSTM default    PyTorch's ``reset_parameters``
                    ``a = 1 / sqrt(H)``
gate blocks         k blocks: U Xavier uniform per block, W     one recipe for every gate of
                    orthogonal per block, b = 0                 a GRU
==================  ==========================================  ============================

Every function takes ``rng``, an int seed or a ``numpy.random.Generator``
(the same seed always gives the same arrays), and returns new float64 arrays.
"""
from __future__ import annotations

import numpy as np

from ._validation import ShapeChecker, as_rng
from .output import OutputParams
from .rnn import RNNParams

#: Names accepted by :func:`init_rnn_params`.
RNN_SCHEMES = ("xavier", "orthogonal", "irnn")

#: Standard deviation of the input weights in the IRNN recipe.
IRNN_INPUT_STD = 1e-3


def _check_shape(chk: ShapeChecker, shape) -> tuple:
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        shape = tuple(shape)
    except TypeError:
        chk.fail(f"shape must be a tuple (fan_out, fan_in) of positive integers, got {shape!r}")
    if len(shape) != 2:
        chk.fail(f"shape must have 2 entries (fan_out, fan_in), got {shape!r}")
    return tuple(chk.positive_int(f"shape[{i}]", s) for i, s in enumerate(shape))


def _check_gain(chk: ShapeChecker, gain) -> float:
    if isinstance(gain, bool) or not isinstance(gain, (int, float, np.integer, np.floating)) \
            or not np.isfinite(gain) or gain <= 0:
        chk.fail(f"gain must be a positive finite number, got {gain!r}")
    return float(gain)


def xavier_uniform(shape, rng, gain: float = 1.0) -> np.ndarray:
    """Glorot/Xavier uniform initialisation.

    Parameters
    ----------
    shape : (fan_out, fan_in) tuple, e.g. ``(H, D)`` for ``U``.
    rng : int seed or ``numpy.random.Generator``.
    gain : scale factor (1 for tanh).

    Returns
    -------
    W : (fan_out, fan_in) with entries ``U(-a, a)``, ``a = gain * sqrt(6 / (fan_in + fan_out))``,
        so ``Var(W_ij) = gain^2 * 2 / (fan_in + fan_out)``.
    """
    chk = ShapeChecker("xavier_uniform")
    fan_out, fan_in = _check_shape(chk, shape)
    gain = _check_gain(chk, gain)
    rng = as_rng(rng, "xavier_uniform")
    a = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=(fan_out, fan_in))


def xavier_normal(shape, rng, gain: float = 1.0) -> np.ndarray:
    """Glorot/Xavier normal initialisation.

    Parameters
    ----------
    shape : (fan_out, fan_in) tuple.
    rng : int seed or ``numpy.random.Generator``.
    gain : scale factor.

    Returns
    -------
    W : (fan_out, fan_in) with entries ``N(0, gain^2 * 2 / (fan_in + fan_out))``.
    """
    chk = ShapeChecker("xavier_normal")
    fan_out, fan_in = _check_shape(chk, shape)
    gain = _check_gain(chk, gain)
    rng = as_rng(rng, "xavier_normal")
    std = gain * np.sqrt(2.0 / (fan_in + fan_out))
    return rng.normal(0.0, std, size=(fan_out, fan_in))


def orthogonal(shape, rng, gain: float = 1.0) -> np.ndarray:
    """A random (semi-)orthogonal matrix, uniformly distributed (Haar measure).

    Draw ``A`` with i.i.d. N(0, 1) entries of shape (max, min), factor
    ``A = Q R`` and multiply each column of ``Q`` by ``sign(R_ii)`` (without
    this sign fix the distribution of ``Q`` is not uniform).  For a wide shape
    the result is transposed.

    Parameters
    ----------
    shape : (rows, cols) tuple; need not be square.
    rng : int seed or ``numpy.random.Generator``.
    gain : multiplies the result; every singular value equals ``gain``.

    Returns
    -------
    Q : (rows, cols).  If rows >= cols the columns are orthonormal
        (``Q.T @ Q = gain^2 I``), otherwise the rows are (``Q @ Q.T = gain^2 I``).
    """
    chk = ShapeChecker("orthogonal")
    rows, cols = _check_shape(chk, shape)
    gain = _check_gain(chk, gain)
    rng = as_rng(rng, "orthogonal")
    a = rng.normal(size=(max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)                             # q (max, min), orthonormal columns
    d = np.sign(np.diag(r))
    d[d == 0] = 1.0
    q = q * d                                          # sign fix: Haar-distributed q
    if rows < cols:
        q = q.T
    return gain * q


def identity(H: int, scale: float = 1.0) -> np.ndarray:
    """``scale * I`` of shape (H, H): the IRNN recurrent matrix.

    With ``W = I``, ``b = 0`` and ReLU the hidden state is copied unchanged
    when the input is zero, so gradients pass back through time undamped
    (Le, Jaitly & Hinton 2015).  A scale below 1 (e.g. 0.01) was used for speech.
    """
    chk = ShapeChecker("identity")
    H = chk.positive_int("H", H)
    if isinstance(scale, bool) or not isinstance(scale, (int, float, np.integer, np.floating)) \
            or not np.isfinite(scale):
        chk.fail(f"scale must be a finite number, got {scale!r}")
    return float(scale) * np.eye(H)


def uniform(shape, rng, bound: float) -> np.ndarray:
    """Entries drawn from U(-bound, bound): PyTorch's default for recurrent layers.

    Parameters
    ----------
    shape : (fan_out, fan_in) tuple, or (rows, H) for peepholes.
    rng : int seed or ``numpy.random.Generator``.
    bound : positive half-width, ``1 / sqrt(H)`` in PyTorch's ``nn.RNN/GRU/LSTM``.

    Returns
    -------
    (fan_out, fan_in) array.
    """
    chk = ShapeChecker("uniform")
    shape = _check_shape(chk, shape)
    if isinstance(bound, bool) or not isinstance(bound, (int, float, np.integer, np.floating)) \
            or not np.isfinite(bound) or bound <= 0:
        chk.fail(f"bound must be a positive finite number, got {bound!r}")
    return as_rng(rng, "uniform").uniform(-bound, bound, size=shape)


def gate_blocks(D: int, H: int, k: int, rng):
    """``(U (kH, D), W (kH, H), b (kH,))`` for a cell with k gate row blocks (the GRUs).

    ``U``: each (H, D) block Xavier uniform (:func:`xavier_uniform`);
    ``W``: each (H, H) block a random orthogonal matrix (:func:`orthogonal`);
    ``b``: zeros.  The blocks are drawn in order from one generator (all of
    U's, then W's), so a seed gives the same arrays as one (kH, D) draw for U.
    """
    chk = ShapeChecker("gate_blocks")
    D, H, k = chk.positive_int("D", D), chk.positive_int("H", H), chk.positive_int("k", k)
    rng = as_rng(rng, "gate_blocks")
    U = np.concatenate([xavier_uniform((H, D), rng) for _ in range(k)], axis=0)
    W = np.concatenate([orthogonal((H, H), rng) for _ in range(k)], axis=0)
    return U, W, np.zeros(k * H)


def init_rnn_params(D: int, H: int, rng, scheme: str = "xavier") -> RNNParams:
    """Initial parameters of a vanilla RNN layer.

    Parameters
    ----------
    D : input size.
    H : hidden size.
    rng : int seed or ``numpy.random.Generator``.
    scheme : one of

        ``"xavier"``      U (H, D) and W (H, H) Xavier uniform, b = 0 (for tanh);
        ``"orthogonal"``  U Xavier uniform, W orthogonal, b = 0;
        ``"irnn"``        U ~ N(0, 0.001^2), W = I, b = 0 (use with ``activation="relu"``;
                          Le, Jaitly & Hinton 2015).

    Returns
    -------
    RNNParams(U (H, D), W (H, H), b (H,))
    """
    chk = ShapeChecker("init_rnn_params")
    D = chk.positive_int("D", D)
    H = chk.positive_int("H", H)
    chk.choice("scheme", scheme, RNN_SCHEMES)
    rng = as_rng(rng, "init_rnn_params")
    if scheme == "irnn":
        U = rng.normal(0.0, IRNN_INPUT_STD, size=(H, D))
        W = identity(H)
    else:
        U = xavier_uniform((H, D), rng)
        W = xavier_uniform((H, H), rng) if scheme == "xavier" else orthogonal((H, H), rng)
    return RNNParams(U, W, np.zeros(H))


def init_output_params(H: int, K: int, rng) -> OutputParams:
    """Initial output layer: V (K, H) Xavier uniform, b_y (K,) zeros.

    Parameters
    ----------
    H : hidden size.
    K : number of outputs (classes, or 1 for a regression readout).
    rng : int seed or ``numpy.random.Generator``.

    Returns
    -------
    OutputParams(V (K, H), b_y (K,))
    """
    chk = ShapeChecker("init_output_params")
    H = chk.positive_int("H", H)
    K = chk.positive_int("K", K)
    rng = as_rng(rng, "init_output_params")
    return OutputParams(xavier_uniform((K, H), rng), np.zeros(K))
