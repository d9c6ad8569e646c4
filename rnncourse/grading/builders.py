"""Helpers that the assignments' ``checks.py`` share (reached there as ``G.<name>``).

Error patterns for :class:`~.spec.Mistake` ``error=``, the logistic function for the mistakes'
gated cells, seeded random parameter containers, and maps over flat containers of arrays.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np

#: NumPy's message when the operands of ``@`` do not fit (weights not transposed, swapped).
MATMUL_ERROR = r"matmul: Input operand \d has a mismatch"
#: A student's function that changed its input is reported as this exception type.
MUTATION_ERROR = r"^_Mutation: "


def sigmoid(a: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-a))``, entry by entry (the mistakes' gates; same shape as ``a``)."""
    return 1.0 / (1.0 + np.exp(-a))


def random_params(rng: np.random.Generator, cls: Callable, *shapes: Optional[Sequence[int]],
                  scale: float = 0.5):
    """``cls(*arrays)`` with one ``N(0, scale^2)`` array per shape (``None``: the field is None).

    The arrays are drawn from ``rng`` in the order of ``shapes``: ``random_params(rng, RNNParams,
    (H, D), (H, H), (H,))`` draws U (H, D), then W (H, H), then b (H,).
    """
    return cls(*(None if s is None else rng.normal(0, scale, tuple(s)) for s in shapes))


def map_flat(grads, fn: Callable[[np.ndarray], np.ndarray]):
    """Apply ``fn`` to every array of a flat container (NamedTuple, tuple, list or dict), keeping
    its type; ``None`` entries pass through.  Arrays are given to ``fn`` as float64."""
    f = (lambda g: None if g is None else fn(np.asarray(g, dtype=np.float64)))
    if isinstance(grads, tuple) and hasattr(grads, "_fields"):
        return type(grads)(*(f(g) for g in grads))
    if isinstance(grads, dict):
        return {k: f(g) for k, g in grads.items()}
    return type(grads)(f(g) for g in grads)


def flat_arrays(grads) -> list:
    """The arrays of a flat container (values of a dict), as float64, ``None`` entries left out."""
    items = grads.values() if isinstance(grads, dict) else grads
    return [np.asarray(g, dtype=np.float64) for g in items if g is not None]


def global_norm(grads) -> float:
    """``sqrt(sum of squares)`` over every array of a flat container."""
    return float(np.sqrt(sum(float(np.sum(g * g)) for g in flat_arrays(grads))))
