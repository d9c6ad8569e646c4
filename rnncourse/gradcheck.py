r"""Gradient checking: compare a backward pass with central finite differences.

The central difference

.. math::

    \frac{\partial f}{\partial x_i} \approx \frac{f(x + \varepsilon e_i) - f(x - \varepsilon e_i)}{2 \varepsilon}

has an error of order :math:`\varepsilon^2` (plus round-off of order
:math:`10^{-16} / \varepsilon`), so with float64 and :math:`\varepsilon = 10^{-6}`
a correct backward pass agrees to about :math:`10^{-8}` or better, and a wrong
one is typically off by :math:`10^{-2}` or more.

:func:`check_gradients` turns any ``*_forward`` / ``*_backward`` pair of this
package into a scalar loss ``L = sum_k sum(out_k * dout_k)`` with random,
seeded upstream gradients ``dout_k``, so that ``dL/dout_k = dout_k`` is exactly
what the backward pass receives, and it compares every input array (including
every field of a parameter NamedTuple) with finite differences::

    >>> report = check_gradients(rnn_forward, rnn_backward,
    ...                          {"x": x, "h0": h0, "params": params})
    >>> report.ok
    True
    >>> print(report)            # one line per array, the failing ones marked
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ._validation import ShapeChecker, as_rng
from .tree import is_namedtuple, tree_get, tree_leaves, tree_replace

_TINY = 1e-300


def numerical_gradient(f: Callable[[np.ndarray], float], x, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of a scalar function.

    Parameters
    ----------
    f : callable taking an array shaped like ``x`` and returning a scalar.
        It receives a *read-only* private copy of ``x`` with one entry
        perturbed; it must not keep a reference to it between calls.
    x : array of any shape, the point at which to differentiate.
        It is never modified, nor aliased.
    eps : step size (default 1e-6, right for float64).

    Returns
    -------
    grad : array, same shape as ``x``,
        ``grad[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)``.
    """
    chk = ShapeChecker("numerical_gradient")
    if not callable(f):
        chk.fail(f"f must be callable, got {type(f).__name__}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.floating)) \
            or not np.isfinite(eps) or eps <= 0:
        chk.fail(f"eps must be a positive number, got {eps!r}")
    work = np.array(x, dtype=np.float64, copy=True)     # private copy: the caller's x is safe
    if work.dtype == object or not np.isfinite(work).all():
        chk.fail("x must be a finite floating-point array")
    view = work.view()
    view.flags.writeable = False                        # f cannot modify the point either
    grad = np.zeros_like(work)
    for i in np.ndindex(work.shape):
        old = work[i]
        work[i] = old + eps
        f_plus = _scalar(chk, f(view))
        work[i] = old - eps
        f_minus = _scalar(chk, f(view))
        work[i] = old
        grad[i] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def _scalar(chk: ShapeChecker, value) -> float:
    arr = np.asarray(value)
    if arr.size != 1:
        chk.fail(f"f must return a scalar, got an array of shape {arr.shape}")
    return float(arr.reshape(()))


def relative_error(a, b) -> float:
    """Relative error ``max|a - b| / max(max(|a| + |b|), tiny)``.

    Normalising by the largest magnitude of the whole array (not entry by
    entry) keeps entries whose true gradient is (nearly) zero from producing
    huge ratios out of round-off.  Two all-zero arrays give 0.

    Parameters
    ----------
    a, b : arrays of the same shape.

    Returns
    -------
    float
    """
    chk = ShapeChecker("relative_error")
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        chk.fail(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    num = np.max(np.abs(a - b))
    den = max(float(np.max(np.abs(a) + np.abs(b))), _TINY)
    return float(num / den)


# --- nested containers of arrays ("trees"): arrays, NamedTuples, tuples, lists, dicts, None --

def _is_checkable(obj) -> bool:
    return isinstance(obj, np.ndarray) and np.issubdtype(obj.dtype, np.floating)


def _leaves(obj, label: str) -> List[Tuple[str, Tuple, np.ndarray]]:
    """Floating-point arrays inside ``obj`` as (label, path, array); None and constants skipped."""
    return [leaf for leaf in tree_leaves(obj, label) if _is_checkable(leaf[2])]


def default_grads_of(grads, names: Sequence[str]) -> Dict[str, Any]:
    """Map the value returned by a backward function onto input names.

    The package's convention: the gradient of input ``name`` is the field
    ``"d" + name`` of the returned NamedTuple, e.g. ``StepGrads(dx, dh_prev,
    dparams)`` gives the gradients of ``x``, ``h_prev`` and ``params``;
    ``SequenceGrads(dx, dh0, dparams)`` those of ``x``, ``h0``, ``params``.
    A returned dict is taken as ``{input name: gradient}`` directly.
    """
    if isinstance(grads, dict):
        return {n: grads.get(n) for n in names}
    if is_namedtuple(grads):
        return {n: getattr(grads, "d" + n, None) for n in names}
    raise ValueError("check_gradients: backward returned a "
                     f"{type(grads).__name__}; expected a NamedTuple with fields 'd<name>' "
                     "or a dict {name: gradient}; pass grads_of= to map it")


@dataclass
class GradCheckReport:
    """Result of :func:`check_gradients`.

    Attributes
    ----------
    errors : {label: relative error}, one per checked array, e.g. ``"params.W"``.
    tol : the threshold; an array fails when its error exceeds ``tol``.
    numeric, analytic : {label: gradient array} (``analytic`` is None when
        the backward pass returned no gradient for that array).
    notes : {label: why it failed} for missing or wrongly shaped gradients.
    """

    errors: Dict[str, float]
    tol: float
    numeric: Dict[str, np.ndarray] = field(repr=False, default_factory=dict)
    analytic: Dict[str, Optional[np.ndarray]] = field(repr=False, default_factory=dict)
    notes: Dict[str, str] = field(repr=False, default_factory=dict)

    @property
    def failed(self) -> List[str]:
        """Labels whose error exceeds ``tol`` (or that have no analytic gradient)."""
        return [k for k, e in self.errors.items() if not e <= self.tol]

    @property
    def ok(self) -> bool:
        """True when every checked array passes."""
        return not self.failed

    @property
    def max_error(self) -> float:
        return max(self.errors.values(), default=0.0)

    def __str__(self) -> str:
        width = max([len(k) for k in self.errors] + [5])
        lines = [f"{'array':<{width}}  {'shape':<14}{'rel. error':>11}  result"]
        for k, e in self.errors.items():
            shape = str(self.numeric[k].shape) if k in self.numeric else "?"
            verdict = "ok" if e <= self.tol else "FAIL"
            if k in self.notes:
                verdict += f" ({self.notes[k]})"
            lines.append(f"{k:<{width}}  {shape:<14}{e:>11.2e}  {verdict}")
        if self.ok:
            head = f"gradient check passed: {len(self.errors)} arrays, max rel. error " \
                   f"{self.max_error:.2e} <= tol {self.tol:.0e}"
        else:
            worst = ", ".join(f"{k} ({self.errors[k]:.2e})" for k in self.failed)
            head = f"gradient check FAILED for {worst}; tol {self.tol:.0e}"
        return "\n".join([head] + lines)


def check_gradients(forward: Callable, backward: Callable, inputs: Dict[str, Any], *,
                    grads_of: Optional[Callable[[Any], Dict[str, Any]]] = None,
                    wrt: Optional[Sequence[str]] = None, seed=0, dout=None,
                    eps: float = 1e-6, tol: float = 1e-6) -> GradCheckReport:
    """Check a backward function against finite differences of its forward.

    Parameters
    ----------
    forward : callable, called as ``forward(**inputs)``; returns
        ``(out_1, ..., out_m, cache)``: the cache is the *last* element, e.g.
        ``(h, cache)`` for :func:`~rnncourse.rnn.rnn_forward` or
        ``(h_next, c_next, cache)`` for an LSTM step.  Fix non-array
        arguments with ``functools.partial`` (``partial(rnn_forward, activation="relu")``)
        or leave them in ``inputs`` (anything that is not a float array is
        passed through unchanged and not checked).
    backward : callable, called as ``backward(dout_1, ..., dout_m, cache)``.
    inputs : {argument name: value}.  Values may be float arrays, NamedTuples
        (e.g. ``RNNParams``; every field is checked, ``None`` fields skipped),
        lists/tuples/dicts of those, or constants.
    grads_of : callable mapping the value returned by ``backward`` to
        ``{input name: gradient with the same structure as the input}``.
        Default (:func:`default_grads_of`): field ``"d" + name`` of the
        returned NamedTuple, so ``StepGrads``/``SequenceGrads``/``LSTMStepGrads``
        work as they are.  E.g. for :func:`~rnncourse.output.output_backward`,
        which returns a plain tuple, ``grads_of=lambda g: {"h": g[0], "params": g[1]}``.
    wrt : names of the inputs to check (default: every input holding a float array).
    seed : int or Generator for the random upstream gradients ``dout_k ~ N(0, 1)``.
    dout : optional explicit upstream gradient (one array, or a tuple with one
        per output) instead of random ones.
    eps : finite-difference step.
    tol : maximum relative error (:func:`relative_error`) for a pass.

    Returns
    -------
    GradCheckReport
        ``report.ok``, ``report.errors`` (label -> relative error),
        ``report.failed`` (labels such as ``"params.W"``) and a readable ``str``.

    Notes
    -----
    The loss is ``L = sum_k sum(out_k * dout_k)``, so ``dL/dout_k = dout_k``.
    The caller's arrays are never modified: perturbations are made on copies.
    """
    chk = ShapeChecker("check_gradients")
    if not isinstance(inputs, dict):
        chk.fail(f"inputs must be a dict {{argument name: value}}, got {type(inputs).__name__}")
    names = list(inputs) if wrt is None else list(wrt)
    for n in names:
        if n not in inputs:
            chk.fail(f"wrt names {n!r}, which is not one of the inputs {list(inputs)}")

    def run(inp):
        result = forward(**inp)
        if not isinstance(result, tuple) or len(result) < 2:
            chk.fail("forward must return (out_1, ..., out_m, cache), got "
                     f"{type(result).__name__}")
        return result[:-1], result[-1]

    outs, cache = run(inputs)
    outs = tuple(None if o is None else np.asarray(o, dtype=np.float64) for o in outs)
    if dout is None:
        rng = as_rng(seed, "check_gradients")
        douts = tuple(None if o is None else rng.normal(size=o.shape) for o in outs)
    else:
        douts = tuple(dout) if isinstance(dout, (tuple, list)) else (dout,)
        if len(douts) != len(outs):
            chk.fail(f"dout must hold {len(outs)} array(s), one per output, got {len(douts)}")
        douts = tuple(None if d is None else np.asarray(d, dtype=np.float64) for d in douts)
        for k, (o, d) in enumerate(zip(outs, douts)):
            if (o is None) != (d is None) or (d is not None and d.shape != o.shape):
                chk.fail(f"dout[{k}] must have shape {None if o is None else o.shape}, "
                         f"got {None if d is None else d.shape}")

    def loss(inp) -> float:
        o, _ = run(inp)
        return float(sum(np.sum(np.asarray(a, dtype=np.float64) * d)
                         for a, d in zip(o, douts) if d is not None))

    grads = backward(*douts, cache)
    mapped = (grads_of or (lambda g: default_grads_of(g, names)))(grads)

    errors: Dict[str, float] = {}
    numeric: Dict[str, np.ndarray] = {}
    analytic: Dict[str, Optional[np.ndarray]] = {}
    notes: Dict[str, str] = {}
    for n in names:
        for label, path, arr in _leaves(inputs[n], n):
            full = (n,) + path

            def f(a, full=full):
                return loss(tree_replace(inputs, full, a))

            num = numerical_gradient(f, arr, eps=eps)
            ana = tree_get(mapped.get(n) if isinstance(mapped, dict) else None, path)
            numeric[label] = num
            if ana is None:
                analytic[label] = None
                errors[label] = float("inf")
                notes[label] = "backward returned no gradient"
                continue
            ana = np.asarray(ana, dtype=np.float64)
            analytic[label] = ana
            if ana.shape != num.shape:
                errors[label] = float("inf")
                notes[label] = f"analytic gradient has shape {ana.shape}, expected {num.shape}"
                continue
            errors[label] = relative_error(num, ana)
    return GradCheckReport(errors, float(tol), numeric, analytic, notes)
