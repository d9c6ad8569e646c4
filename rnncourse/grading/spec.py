"""What an assignment's ``checks.py`` declares: :class:`Case`, :class:`Mistake`, :class:`Spec`.

Also how it is loaded (:func:`load_checks`, executed afresh each time) and the private copy of
the ``rnncourse`` package that the references are built from (:func:`private_rnncourse`), so that
patching the imported package in a notebook changes no expected value.
"""
from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import itertools
import os
import sys
import types
from typing import Callable, Dict, NamedTuple, Optional, Sequence

import numpy as np

from .text import GradingFailure

#: The ``rnncourse`` package directory (the reference implementation) and this package's.
GRADING_DIR = os.path.dirname(os.path.abspath(__file__))
PACKAGE_DIR = os.path.dirname(GRADING_DIR)

#: Weight of a core case (:func:`core`): the function's main path counts twice as much as a
#: variant (another activation, an optional feature, an edge size), whose weight is 1.
CORE_WEIGHT = 2.0


class Case(NamedTuple):
    """One set of arguments for the function under test, with a label for the feedback.

    weight : its share of the function's points (see :data:`CORE_WEIGHT`); a test cell worth
        ``P`` points gives ``P * weight / (sum of its cases' weights)`` for each case passed.
    """

    label: str
    args: tuple
    kwargs: dict
    weight: float = 1.0


def case(label: str, *args, **kwargs) -> Case:
    """``case("N=1, T=1", x, h0, params)``: a :class:`Case` of weight 1 (a variant)."""
    return Case(label, args, kwargs)


def core(label: str, *args, **kwargs) -> Case:
    """Like :func:`case`, for a core case: weight :data:`CORE_WEIGHT`."""
    return Case(label, args, kwargs, CORE_WEIGHT)


def as_core(c: Case) -> Case:
    """The same case as a core case (for cases made by a helper of ``checks.py``)."""
    return c._replace(weight=CORE_WEIGHT)


class Mistake(NamedTuple):
    """A known wrong variant of a function and the hint to give when a student's code matches it.

    name : short description shown to the student ("forgot the bias b").
    hint : what to change.
    fn : callable with the graded function's signature returning what the wrong code returns.
    error : regular expression searched in ``"ExceptionType: message"`` when the student's
        function raises.
    """

    name: str
    hint: str
    fn: Optional[Callable] = None
    error: Optional[str] = None


class Spec(NamedTuple):
    """How to grade one function.

    reference : the correct function (usually an adapter around ``rc.<module>.<function>``).
    visible : ``() -> list of Case``, the cases of the visible test cell.
    hidden : ``(rng) -> list of Case``, the cases of the hidden test cell (seeded).
    mistakes : known wrong variants, see :class:`Mistake`.
    rtol, atol : tolerances of the comparison (float64 everywhere).
    allow : ``rnncourse`` modules or functions the student may call, e.g.
        ``("rnncourse.activations", "rnncourse.rnn.rnn_forward")``.
    extra : callables ``(student_fn, case, student_output) -> message or None`` run after the
        outputs match (e.g. a gradient check); a message fails the case.
    output_names : names for the parts of a tuple output, e.g. ``("loss", "dscores")``.
    shared : what every part of a multi-part output depends on, named when all parts are wrong
        (``"dnet = dh * (1 - h**2), the gradient before the activation"``).
    depends : graded functions of the same assignment that this one calls (``rnn_forward`` calls
        ``rnn_step_forward``): while it is graded, the notebook's own versions are replaced by
        those functions' references, so that one mistake costs one function's points.
    judge : ``(case, student_output, reference_output) -> message or None``, for a
        function whose result is judged by a criterion, not by equality with the
        reference's (a training run: the loss its parameters reach on held-out text);
        it replaces the comparison (``extra`` checks still run after it passes).
    """

    reference: Callable
    visible: Callable[[], Sequence[Case]]
    hidden: Optional[Callable[[np.random.Generator], Sequence[Case]]] = None
    mistakes: Sequence[Mistake] = ()
    rtol: float = 1e-7
    atol: float = 1e-9
    allow: Sequence[str] = ()
    extra: Sequence[Callable] = ()
    output_names: Optional[Sequence[str]] = None
    depends: Sequence[str] = ()
    shared: Optional[str] = None
    judge: Optional[Callable] = None


_COUNTER = itertools.count()


def private_rnncourse() -> types.ModuleType:
    """A fresh copy of the ``rnncourse`` package, loaded from its files under a private name.

    Submodules load on first attribute access (``rc.rnn``, ``rc.output``...).  Patching the
    imported ``rnncourse`` modules does not affect this copy.
    """
    name = f"_rnncourse_private_{os.getpid()}_{next(_COUNTER)}"
    spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [PACKAGE_DIR]
    pkg = importlib.util.module_from_spec(spec)
    pkg.__path__ = [PACKAGE_DIR]
    sys.modules[name] = pkg

    def __getattr__(attr: str):
        if attr.startswith("__"):
            raise AttributeError(attr)
        if not os.path.exists(os.path.join(PACKAGE_DIR, attr + ".py")):
            raise AttributeError(f"rnncourse has no module {attr!r}")
        return importlib.import_module(f"{name}.{attr}")

    pkg.__getattr__ = __getattr__
    return pkg


def _namespace() -> types.SimpleNamespace:
    """The grading package's helpers, as ``checks.py`` sees them (``G``; fresh copies too)."""
    package = sys.modules[__name__.rpartition(".")[0]]
    return types.SimpleNamespace(**{k: v for k, v in vars(package).items() if not k.startswith("__")})


def load_checks(path: Optional[str] = None, rc: Optional[types.ModuleType] = None) -> Dict[str, Spec]:
    """Load an assignment's ``checks.py`` (default: in the current directory) and build its specs.

    The file is executed afresh under a private module name on every call.
    """
    path = os.path.abspath(path or os.path.join(os.getcwd(), "checks.py"))
    if not os.path.exists(path):
        raise GradingFailure(
            f"the tests could not find checks.py next to this notebook (looked for {path}).\n"
            "Keep the notebook in its assignment folder, with the files that came with it, "
            "and start Jupyter so that this folder is the notebook's working directory.")
    mod_name = f"_rnncourse_checks_{next(_COUNTER)}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    specs = module.build(rc if rc is not None else private_rnncourse(), _namespace())
    return dict(specs)
