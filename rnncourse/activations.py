"""Element-wise activations and their derivatives written in terms of the output.

Every function takes an array of any shape and returns a new array of the same
shape.  The derivatives are expressed through the activation's *output*
because that is what the forward pass caches:

====================  =====================  ==========================
activation            forward                derivative from the output
====================  =====================  ==========================
``tanh``              tanh(a)                1 - tanh(a)^2
``sigmoid``           1 / (1 + e^{-a})       s (1 - s)
``relu``              max(a, 0)              1 where the output > 0
====================  =====================  ==========================
"""
from __future__ import annotations

import numpy as np


def sigmoid(a: np.ndarray) -> np.ndarray:
    """Logistic sigmoid, numerically stable for large |a|.

    Uses ``0.5 * (1 + tanh(a / 2))``, which equals ``1 / (1 + exp(-a))``
    and never overflows.
    """
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def tanh(a: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent."""
    return np.tanh(a)


def relu(a: np.ndarray) -> np.ndarray:
    """Rectified linear unit ``max(a, 0)``."""
    return np.maximum(a, 0.0)


def sigmoid_grad_from_output(s: np.ndarray) -> np.ndarray:
    """d sigmoid / da written with s = sigmoid(a): ``s * (1 - s)``."""
    return s * (1.0 - s)


def tanh_grad_from_output(t: np.ndarray) -> np.ndarray:
    """d tanh / da written with t = tanh(a): ``1 - t**2``."""
    return 1.0 - t * t


def relu_grad_from_output(r: np.ndarray) -> np.ndarray:
    """d relu / da written with r = relu(a): 1 where r > 0, else 0."""
    return (r > 0).astype(r.dtype)


#: Name -> (forward, derivative from the output), for the vanilla RNN.
ACTIVATIONS = {
    "tanh": (tanh, tanh_grad_from_output),
    "relu": (relu, relu_grad_from_output),
}
