r"""Checking helpers for the graded notebooks (nbgrader): teaching feedback and tamper-resistant tests.

Students never call this module directly; the test cells of the notebooks in
``solutions/`` (and the generated ``exercises/``) do.  Every failure is a
:class:`GradingFailure` whose message *is* the feedback: what was expected,
what came back (shape, first differing index, largest error) and, when the
wrong answer matches a known mistake, a hint.  It is displayed without a
traceback, so no line of a hidden test ever appears in a notebook, in
``nbgrader validate`` output or in the feedback HTML.

How to write an assignment (instructors)
----------------------------------------
One directory per assignment in ``solutions/<name>/`` holding ``<name>.ipynb``
and ``checks.py``.  ``checks.py`` imports nothing from ``rnncourse`` (only
NumPy and the standard library) and defines ``build(rc, G)``, which returns a
dict ``{function name: G.Spec(...)}``: ``rc`` is a private, freshly loaded
copy of the ``rnncourse`` package (``rc.rnn.rnn_step_forward``...) and ``G`` is
this module (``G.Spec``, ``G.case``, ``G.Mistake``, ``G.gradient_check``...)::

    def build(rc, G):
        def ref(x, h_prev, params, activation="tanh"):
            return rc.rnn.rnn_step_forward(x, h_prev, params, activation)[0]

        def no_bias(x, h_prev, params, activation="tanh"):
            return np.tanh(x @ params.U.T + h_prev @ params.W.T)

        def visible():                    # a few small, fixed cases
            return [G.case("N=2, D=3, H=4", x, h, p)]

        def hidden(rng):                  # more cases, drawn from rng
            return [G.case("N=1", ...), G.case("D != H", ...)]

        return {"rnn_step_forward": G.Spec(
            reference=ref, visible=visible, hidden=hidden,
            mistakes=[G.Mistake("forgot the bias b", "add + b", fn=no_bias)])}

The notebook's cells carry nbgrader metadata (``grade_id`` naming rule in
brackets):

* answer cell, ``solution`` [``<function>_answer``]: the function between
  ``### BEGIN SOLUTION`` / ``### END SOLUTION``;
* visible test cell, ``grade`` with points [``<function>_visible``]::

      from rnncourse.grading import check
      check("rnn_step_forward", globals())
      ### BEGIN HIDDEN TESTS
      import importlib.util as _iu; _gs = _iu.find_spec("rnncourse.grading"); _g = _iu.module_from_spec(_gs); _gs.loader.exec_module(_g)
      _g.check("rnn_step_forward", globals())
      ### END HIDDEN TESTS

  The hidden part re-runs the same checks with a *fresh* copy of this module
  (the bootstrap line, :data:`HIDDEN_BOOTSTRAP`); when graded, the grader reads the
  checks' names and literal arguments from this source and runs them itself;
* hidden test cell, ``grade`` with points [``<function>_hidden``]: a visible
  comment saying what is tested, then only the bootstrap line and
  ``_g.check("rnn_step_forward", globals(), hidden=True, seed=<int>)`` inside
  the hidden region;
* multiple choice: an answer cell ``q1 = ...`` [``q1_answer``] and a test
  cell [``q1``]: ``check_choice("q1", globals(), options="abcd")`` visible,
  ``_g.check_choice("q1", globals(), options="abcd", answer="b", explain={...})``
  hidden;
* free text: a markdown cell that is both ``solution`` and ``grade``
  (manually graded) [``<topic>_free``].

A test cell is all or nothing, so every function gets one visible and one
hidden cell.  ``tests/test_nbgrader_assignments.py`` checks these conventions
for every notebook.

Adding a mistake: write a function with the student function's signature that
returns what the wrong code would (``fn=``), or a regular expression matched
against the student's exception ``"TypeName: message"`` (``error=``).  When
the student's result equals the mistake's on the failing case (within the
tolerances), the feedback names the mistake and shows its hint.  A mistake
that raises on a case simply does not match there; if it raises the *same*
exception as the student's code, it matches.

Interactive checks and graded checks
------------------------------------
In a student's own Jupyter, the test cells run these checks in the student's kernel: quick
feedback, nothing more.  When a notebook is *graded* (``make grade``, formgrader, ``make check``,
the Validate button), no test cell runs in the student's process: ``rnncourse_grader`` runs the
code cells in a sandbox and calls :func:`check` / :func:`check_choice` in the grader's process,
with a namespace whose functions call the student's code across the process boundary.  The
defences below only matter interactively (they make honest mistakes visible); what decides a
score is out of the student's reach (see ``rnncourse_grader`` and the instructor guide).

* Expected outputs are computed from a private copy of the package *before* the student's
  function runs, on copies of the inputs.
* The student's function runs under a profiler hook: a call into any ``rnncourse`` module (the
  reference implementation) fails the check with an explanation, unless the spec allows it
  (``allow=``).  When graded, the sandbox's ``rnncourse`` does not contain those functions.
* Comparisons use ndarray operators and methods only, after a self-test that notices a patched
  NumPy comparison.
* Inputs the function modified in place are reported.
"""
from __future__ import annotations

import copy
import importlib
import importlib.machinery
import importlib.util
import inspect
import itertools
import linecache
import math
import os
import re
import signal
import sys
import threading
import textwrap
import traceback
import types
import warnings
import io
import contextlib
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence

import numpy as np

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_THIS_FILE = os.path.join(PACKAGE_DIR, "grading.py")

#: The line every hidden test region starts with: a fresh copy of this module, loaded from its
#: file, so that an answer cell that patched ``rnncourse.grading`` changes nothing.
HIDDEN_BOOTSTRAP = ('import importlib.util as _iu; _gs = _iu.find_spec("rnncourse.grading"); '
                    '_g = _iu.module_from_spec(_gs); _gs.loader.exec_module(_g)')

_RED, _GREEN, _BOLD, _RESET = "\x1b[0;31m", "\x1b[0;32m", "\x1b[1m", "\x1b[0m"


def _wrap(message: str, width: int = 88) -> str:
    """Wrap every line of a message to ``width`` columns, keeping its indentation."""
    out = []
    for line in message.split("\n"):
        indent = line[: len(line) - len(line.lstrip())]
        more = indent + "  "
        out.extend(textwrap.wrap(line, width, subsequent_indent=more, break_long_words=False,
                                 break_on_hyphens=False) or [""])
    return "\n".join(out)


class GradingFailure(AssertionError):
    """A failed check.  Its message is the student's feedback (wrapped to 88 columns).

    IPython shows it as the message alone (``_render_traceback_``), so the
    source lines of the test cell, hidden tests included, never appear.
    """

    def __init__(self, message: str = ""):
        super().__init__(_wrap(str(message)))

    def _render_traceback_(self) -> List[str]:
        lines = str(self).split("\n")
        return [f"{_RED}{type(self).__name__}{_RESET}: {lines[0]}"] + lines[1:]


# ---------------------------------------------------------------------------------------------
# Test specifications
# ---------------------------------------------------------------------------------------------

class Case(NamedTuple):
    """One set of arguments for the function under test, with a label for the feedback."""

    label: str
    args: tuple
    kwargs: dict


def case(label: str, *args, **kwargs) -> Case:
    """``case("N=1, T=1", x, h0, params)``: a :class:`Case` from positional and keyword args."""
    return Case(label, args, kwargs)


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
        outputs match (e.g. a gradient check); a message fails the check.
    output_names : names for the parts of a tuple output, e.g. ``("loss", "dscores")``.
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


# ---------------------------------------------------------------------------------------------
# Private copies of the package and of an assignment's checks.py
# ---------------------------------------------------------------------------------------------

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
    """This module's public helpers, as seen by checks.py (works for fresh copies too)."""
    return types.SimpleNamespace(**{k: v for k, v in globals().items() if not k.startswith("__")})


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


# ---------------------------------------------------------------------------------------------
# Describing and comparing values
# ---------------------------------------------------------------------------------------------

def _fmt_shape(shape) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _fmt_num(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    try:
        f = float(v)
    except (TypeError, ValueError):
        return repr(v)
    if math.isnan(f) or math.isinf(f):
        return str(f)
    return f"{f:.6g}"


def describe(value, name: str = "") -> str:
    """One-line description of a value: ``x: array (2, 3, 4) float64``."""
    prefix = f"{name}: " if name else ""
    if isinstance(value, np.ndarray):
        return f"{prefix}array {_fmt_shape(value.shape)} {value.dtype}"
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        inner = ", ".join(describe(v, f) for f, v in zip(value._fields, value))
        return f"{prefix}{type(value).__name__}({inner})"
    if isinstance(value, (list, tuple)):
        kind = type(value).__name__
        if len(value) <= 4:
            return f"{prefix}{kind} of {len(value)} [" + ", ".join(describe(v) for v in value) + "]"
        return f"{prefix}{kind} of {len(value)} items"
    if isinstance(value, str):
        return f"{prefix}{value!r}" if len(value) <= 40 else f"{prefix}str of length {len(value)}"
    if isinstance(value, dict):
        return f"{prefix}dict with {len(value)} keys"
    if value is None or isinstance(value, (bool, int, float, np.number)):
        return f"{prefix}{_fmt_num(value) if value is not None else None}"
    return f"{prefix}{type(value).__name__}"


def _arg_names(fn: Optional[Callable], n: int) -> List[str]:
    """Names of the first ``n`` positional parameters of ``fn`` (``argument 1``... if unknown)."""
    names: List[str] = []
    try:
        params = list(inspect.signature(fn).parameters.values())
        names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        pass
    return [names[i] if i < len(names) else f"argument {i + 1}" for i in range(n)]


def _describe_args(c: Case, names: Optional[Sequence[str]] = None) -> str:
    names = list(names) if names else [""] * len(c.args)
    parts = [describe(a, n) for a, n in zip(c.args, names)] + [describe(v, k) for k, v in c.kwargs.items()]
    return "; ".join(parts)


def _self_test() -> None:
    """Fail loudly if NumPy's comparison machinery was patched (e.g. ``np.allclose = ...``)."""
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 2.5, 3.0])
    ok = (_compare(a, a.copy(), "x", 1e-7, 1e-9) is None and _compare(a, b, "x", 1e-7, 1e-9) is not None
          and type(np.ndarray.__sub__).__name__ == "wrapper_descriptor")
    if not ok:
        raise GradingFailure(
            "the checking machinery no longer works: something in this notebook replaced a NumPy "
            "function used for comparisons.\nRestart the kernel, remove that code and run all cells again.")


def _as_array(got, expected: np.ndarray):
    """The student's output as a plain ndarray, or an explanation of why it is not one."""
    if isinstance(got, tuple) and not isinstance(expected, tuple):
        return None, (f"returned a tuple of {len(got)} items ({describe(got)}), but this function "
                      f"should return a single array of shape {_fmt_shape(expected.shape)}")
    if got is None:
        return None, ("returned None: did you forget the `return` statement, "
                      "or leave `raise NotImplementedError()` in place?")
    try:
        arr = np.array(got, copy=True, subok=False)
    except Exception as err:  # pragma: no cover - exotic objects
        return None, f"returned {describe(got)}, which is not an array ({err})"
    if arr.dtype == object:
        return None, f"returned {describe(got)}, which is not an array of numbers"
    if expected.dtype.kind == "f" and arr.dtype.kind not in "fiub":
        return None, f"returned an array of dtype {arr.dtype}; expected floating-point numbers"
    return arr, None


def _compare(expected, got, where: str, rtol: float, atol: float, equal_nan: bool = False) -> Optional[str]:
    """None when ``got`` matches ``expected``; otherwise a message explaining the first difference."""
    label = f"{where}: " if where else ""
    if expected is None:
        return None if got is None else f"{label}expected None, got {describe(got)}"
    if isinstance(expected, tuple):
        fields = getattr(expected, "_fields", None)
        if not isinstance(got, tuple):
            what = f"{type(expected).__name__}({', '.join(fields)})" if fields else f"a tuple of {len(expected)} items"
            return f"{label}expected {what}, got {describe(got)}"
        if len(got) != len(expected):
            return f"{label}expected {len(expected)} items, got {len(got)} ({describe(got)})"
        for i, (e, g) in enumerate(zip(expected, got)):
            sub = fields[i] if fields else f"item {i}"
            msg = _compare(e, g, f"{where}.{sub}" if where and fields else (sub if not where else f"{where}[{i}]"),
                           rtol, atol, equal_nan)
            if msg:
                return msg
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{label}expected a dict, got {describe(got)}"
        if set(expected) != set(got):
            missing = sorted(map(str, set(expected) - set(got)))
            extra = sorted(map(str, set(got) - set(expected)))
            return (f"{label}the keys differ: missing {missing or 'none'}, unexpected {extra or 'none'}")
        for k in expected:
            msg = _compare(expected[k], got[k], f"{where}[{k!r}]", rtol, atol, equal_nan)
            if msg:
                return msg
        return None
    if isinstance(expected, (str, bytes)):
        return None if (type(got) is type(expected) and got == expected) else \
            f"{label}expected {expected!r}, got {describe(got)}"
    if isinstance(expected, (list,)) and not all(isinstance(e, (int, float, np.number)) for e in expected):
        if not isinstance(got, list) or len(got) != len(expected):
            return f"{label}expected a list of {len(expected)} items, got {describe(got)}"
        for i, (e, g) in enumerate(zip(expected, got)):
            msg = _compare(e, g, f"{where}[{i}]", rtol, atol, equal_nan)
            if msg:
                return msg
        return None
    if isinstance(expected, (bool, np.bool_)):
        return None if isinstance(got, (bool, np.bool_)) and bool(got) == bool(expected) else \
            f"{label}expected {expected}, got {describe(got)}"
    if isinstance(expected, (int, np.integer)) and not isinstance(expected, bool):
        if isinstance(got, (float, np.floating)) and float(got).is_integer() and int(got) == int(expected):
            return None
        if not isinstance(got, (int, np.integer)) or isinstance(got, bool):
            return f"{label}expected the integer {int(expected)}, got {describe(got)}"
        return None if int(got) == int(expected) else f"{label}expected {int(expected)}, got {int(got)}"
    if isinstance(expected, (float, np.floating)):
        if isinstance(got, np.ndarray) and got.size == 1:
            got = got.reshape(())[()]
        if not isinstance(got, (int, float, np.integer, np.floating)) or isinstance(got, bool):
            return f"{label}expected a single number ({_fmt_num(expected)}), got {describe(got)}"
        e, g = float(expected), float(got)
        if equal_nan and math.isnan(e) and math.isnan(g):
            return None
        if math.isnan(g) or math.isinf(g):
            return (f"{label}expected {_fmt_num(e)}, got {g} (an overflow, a log of 0 or a division "
                    f"by zero somewhere?)")
        if abs(g - e) <= atol + rtol * abs(e):
            return None
        return f"{label}expected {_fmt_num(e)}, got {_fmt_num(g)} (difference {_fmt_num(abs(g - e))})"
    # arrays (and lists of numbers)
    exp = np.asarray(expected)
    arr, why = _as_array(got, exp)
    if why:
        return f"{label}{why}"
    if arr.shape != exp.shape:
        msg = f"{label}expected shape {_fmt_shape(exp.shape)}, got shape {_fmt_shape(arr.shape)}"
        if sorted(arr.shape) == sorted(exp.shape) and arr.ndim > 1:
            msg += " (the same sizes in another order: are the axes swapped or a matrix transposed?)"
        elif arr.size == exp.size:
            msg += " (the same number of entries: a reshape or a missing/extra axis?)"
        return msg
    if exp.dtype.kind in "iub":
        if arr.dtype.kind not in "iub":
            return f"{label}expected integers (dtype {exp.dtype}), got dtype {arr.dtype}"
        bad = arr != exp
    else:
        arrf = arr.astype(np.float64)
        expf = exp.astype(np.float64)
        diff = arrf - expf
        tol = atol + rtol * np.absolute(expf)
        finite_got = (arrf - arrf) == 0          # False for nan and inf, without np.isfinite
        finite_exp = (expf - expf) == 0
        close = (diff <= tol) & (-diff <= tol)
        if equal_nan:
            close |= (arrf != arrf) & (expf != expf)
        close |= (~finite_exp) & (arrf == expf)
        bad = ~close
        if not bad.any():
            if arr.dtype != np.float64 and exp.dtype == np.float64 and arr.dtype.kind == "f":
                return None
            return None
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        n_bad = int(bad.sum())
        msg = (f"{label}values differ at {n_bad} of {exp.size} entries; first at index {first}: "
               f"expected {_fmt_num(exp[first])}, got {_fmt_num(arr[first])}")
        if (~finite_got & finite_exp).any():
            where_nan = tuple(int(i) for i in np.argwhere(~finite_got & finite_exp)[0])
            msg += (f"\n  your result contains {_fmt_num(arrf[where_nan])} (at {where_nan}): an overflow "
                    f"in exp, a log of 0 or a division by zero?")
        else:
            both = finite_got & finite_exp
            if both.any():
                msg += f"\n  largest absolute error: {_fmt_num(np.absolute(diff[both]).max())}"
        if arr.dtype.kind == "f" and arr.dtype != np.float64:
            msg += f"\n  your array has dtype {arr.dtype}; the course computes in float64"
        return msg
    if not bad.any():
        return None
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    return (f"{label}values differ at {int(bad.sum())} of {exp.size} entries; first at index {first}: "
            f"expected {_fmt_num(exp[first])}, got {_fmt_num(arr[first])}")


# ---------------------------------------------------------------------------------------------
# Running the student's function
# ---------------------------------------------------------------------------------------------

def _rnncourse_name(code: types.CodeType) -> Optional[str]:
    """``rnncourse.<module>.<qualname>`` if ``code`` belongs to the package (this module excluded)."""
    filename = code.co_filename
    if not filename.startswith(PACKAGE_DIR + os.sep) or os.path.abspath(filename) == _THIS_FILE:
        return None
    module = os.path.splitext(os.path.relpath(filename, PACKAGE_DIR))[0].replace(os.sep, ".")
    qual = getattr(code, "co_qualname", code.co_name)
    return f"rnncourse.{module}.{qual}"


def _allowed(qualified: str, allow: Sequence[str]) -> bool:
    return any(qualified == a or qualified.startswith(a + ".") for a in allow)


def _default_time_limit() -> float:
    """Seconds one call of a student's function may take (env RNNCOURSE_CALL_TIME_LIMIT, default 10)."""
    try:
        return float(os.environ.get("RNNCOURSE_CALL_TIME_LIMIT", "10"))
    except ValueError:
        return 10.0


class _TimeLimit(BaseException):
    """Raised inside a student's function that runs past the time limit (not an Exception, so a
    student's ``except Exception`` cannot swallow it)."""


@contextlib.contextmanager
def _alarm(seconds: Optional[float]):
    """Raise :class:`_TimeLimit` in the main thread after ``seconds`` (no-op elsewhere)."""
    usable = (seconds and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def on_alarm(signum, frame):
        raise _TimeLimit()

    old_handler = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)


class _Outcome(NamedTuple):
    value: Any
    error: Optional[BaseException]
    frames: List[str]
    delegated: List[str]
    tampered: bool
    notes: List[str] = []


def _student_frames(tb, remote: Optional[List[str]] = None) -> List[str]:
    """The traceback entries of the student's own code (and below), formatted briefly.

    ``remote``: the entries the sandboxed worker reported (``rnncourse_grader``), used instead.
    """
    if remote is not None:
        return list(remote)[-4:]
    entries = []
    for frame, lineno in traceback.walk_tb(tb):
        code = frame.f_code
        if os.path.abspath(code.co_filename) == _THIS_FILE:
            continue
        line = linecache.getline(code.co_filename, lineno).strip()
        where = "your code" if ("ipykernel" in code.co_filename or code.co_filename.startswith("<")) \
            else os.path.basename(code.co_filename)
        entries.append(f"  {where}, line {lineno}, in {code.co_name}: {line}")
    return entries[-4:]


def _call_student(fn: Callable, c: Case, allow: Sequence[str],
                  arg_names: Optional[Sequence[str]] = None, time_limit: Optional[float] = None) -> _Outcome:
    """Call ``fn`` on deep copies of the case's arguments, watching for calls into rnncourse."""
    args = copy.deepcopy(c.args)
    kwargs = copy.deepcopy(c.kwargs)
    delegated: List[str] = []

    def profiler(frame, event, arg):
        if event != "call" or frame.f_code.co_name == "<module>":   # importing is not calling
            return
        name = _rnncourse_name(frame.f_code)
        if name is None:
            return
        parent = frame.f_back
        while parent is not None:                       # only the outermost rnncourse call counts
            if _rnncourse_name(parent.f_code) is not None:
                return
            parent = parent.f_back
        if not _allowed(name, allow) and name not in delegated:
            delegated.append(name)

    # Warnings and writes to sys.stderr are collected and reported as notes: nbgrader gives zero
    # points to a test cell that wrote anything to stderr.
    err_stream = io.StringIO()
    error: Optional[BaseException] = None
    value = None
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err_stream):
        warnings.simplefilter("always")
        previous = sys.getprofile()
        tampered = False
        try:
            with _alarm(time_limit):
                sys.setprofile(profiler)
                try:
                    value = fn(*args, **kwargs)
                finally:
                    tampered = sys.getprofile() is not profiler
                    sys.setprofile(previous)
        except BaseException as err:  # noqa: BLE001 - time limits, SystemExit, MemoryError...
            error = err
    notes = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    if err_stream.getvalue().strip():
        notes.append("wrote to stderr: " + err_stream.getvalue().strip()[:300])
    frames = (_student_frames(error.__traceback__, getattr(error, "_remote_frames", None))
              if error is not None else [])
    mutated = _find_mutation(c, args, kwargs, arg_names)
    if mutated and error is None:
        error = _Mutation(mutated)
    return _Outcome(value, error, frames, delegated, tampered, notes)


class _Mutation(Exception):
    pass


def _find_mutation(c: Case, args, kwargs, arg_names: Optional[Sequence[str]] = None) -> Optional[str]:
    """Describe the first argument the function changed in place, if any."""
    def walk(before, after, name):
        if isinstance(before, np.ndarray):
            if not isinstance(after, np.ndarray) or after.shape != before.shape:
                return f"{name} was replaced"
            same = (after == before) | ((after != after) & (before != before))
            if not same.all():
                idx = tuple(int(i) for i in np.argwhere(~same)[0])
                return (f"{name}{list(idx)} was {_fmt_num(before[idx])} before the call and "
                        f"{_fmt_num(after[idx])} after it")
            return None
        if isinstance(before, (tuple, list)) and isinstance(after, (tuple, list)):
            fields = getattr(before, "_fields", None)
            for i, (b, a) in enumerate(zip(before, after)):
                sub = f"{name}.{fields[i]}" if fields else f"{name}[{i}]"
                msg = walk(b, a, sub)
                if msg:
                    return msg
        if isinstance(before, dict) and isinstance(after, dict):
            for k in before:
                if k in after:
                    msg = walk(before[k], after[k], f"{name}[{k!r}]")
                    if msg:
                        return msg
        return None

    names = list(arg_names) if arg_names else [f"argument {i + 1}" for i in range(len(args))]
    for i, (b, a) in enumerate(zip(c.args, args)):
        msg = walk(b, a, names[i])
        if msg:
            return msg
    for k in c.kwargs:
        msg = walk(c.kwargs[k], kwargs[k], k)
        if msg:
            return msg
    return None


def _error_text(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def _explain_error(name: str, out: _Outcome) -> str:
    err = out.error
    if isinstance(err, _Mutation):
        return (f"{name} modified its input in place: {err}.\nFunctions in this course never change "
                f"their arguments: compute into new arrays (e.g. `h = np.zeros(...)`) or copy first "
                f"(`x = x.copy()`).")
    if isinstance(err, _TimeLimit):
        return (f"{name} did not return within {_default_time_limit():g} seconds on this small "
                f"input and was stopped.\nLook for a loop that never ends (a `while` whose "
                f"condition never changes?) or work that grows much faster than the input.")
    if isinstance(err, KeyboardInterrupt):
        return (f"{name} did not return within the time limit and was interrupted.\n"
                f"Look for a loop that never ends (a `while` whose condition never changes?).")
    if isinstance(err, SystemExit):
        return f"{name} called sys.exit() / exit(); a function must return its result instead."
    if isinstance(err, MemoryError):
        return (f"{name} ran out of memory (the grader limits each notebook's memory).\n"
                f"Look for an array or list that grows without bound, or a shape far larger than needed.")
    if isinstance(err, NotImplementedError) and "is withheld while this notebook is graded" in str(err):
        # rnncourse_grader's student view: the reference itself is not there while grading
        return (f"{name} calls the course's reference implementation, which is withheld while "
                f"grading ({str(err).split(' is withheld', 1)[0]}).\nThis exercise asks you to write "
                f"it yourself with NumPy, so this part scores zero while it calls rnncourse.")
    if isinstance(err, NotImplementedError):
        return f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code."
    if isinstance(err, RecursionError):
        return f"{name} recursed too deeply (a function calling itself without end?)."
    text = f"{name} raised {_error_text(err)}"
    if out.frames:
        text += "\n" + "\n".join(out.frames)
    return text


def _matches(mistake_out: _Outcome, student_out: _Outcome, reference, rtol: float, atol: float) -> bool:
    """Does the student's result look like the mistake's?

    For tuple outputs only the parts where the student differs from the reference are compared,
    so a mistake in the gradient is recognised even if the loss is right (and vice versa).
    """
    if student_out.error is not None or mistake_out.error is not None:
        return (student_out.error is not None and mistake_out.error is not None
                and type(student_out.error) is type(mistake_out.error)
                and str(student_out.error) == str(mistake_out.error))
    rt, at = max(rtol, 1e-6), max(atol, 1e-8)
    mv, sv = mistake_out.value, student_out.value
    if (isinstance(reference, tuple) and isinstance(sv, tuple) and isinstance(mv, tuple)
            and len(reference) == len(sv) == len(mv)):
        wrong = [i for i in range(len(reference)) if _compare(reference[i], sv[i], "", rtol, atol) is not None]
        return bool(wrong) and all(_compare(mv[i], sv[i], "", rt, at, equal_nan=True) is None for i in wrong)
    return _compare(mv, sv, "", rt, at, equal_nan=True) is None


def _run_plain(fn: Callable, c: Case) -> _Outcome:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            value = fn(*copy.deepcopy(c.args), **copy.deepcopy(c.kwargs))
            return _Outcome(value, None, [], [], False)
        except Exception as err:  # noqa: BLE001
            return _Outcome(None, err, [], [], False)


def check_function(student_fn: Callable, reference_fn: Callable, cases, *, name: Optional[str] = None,
                   mistakes: Sequence[Mistake] = (), rtol: float = 1e-7, atol: float = 1e-9,
                   allow: Sequence[str] = (), extra: Sequence[Callable] = (),
                   output_names: Optional[Sequence[str]] = None,
                   time_limit: Optional[float] = None) -> int:
    """Compare ``student_fn`` with ``reference_fn`` on every case; return the number of cases.

    Parameters
    ----------
    student_fn, reference_fn : callables with the same signature.
    cases : iterable of :class:`Case` (or a callable returning one).
    name : the function's name in messages (default ``student_fn.__name__``).
    mistakes : :class:`Mistake` list used to explain a wrong result.
    rtol, atol : comparison tolerances.
    allow : ``rnncourse`` names the student's code may call (everything else fails the check).
    extra : more checks ``(student_fn, case, output) -> message or None``.
    output_names : labels for the items of a tuple output.
    time_limit : seconds one call may take (default: env RNNCOURSE_CALL_TIME_LIMIT or 10).

    Raises
    ------
    GradingFailure
        On the first failing case, with a message that teaches: the case, what was expected and
        what came, and the matching mistake's hint if any.
    """
    _self_test()
    if time_limit is None:
        time_limit = _default_time_limit()
    name = name or getattr(student_fn, "__name__", "your function")
    if callable(cases):
        cases = cases()
    cases = list(cases)
    if not callable(student_fn):
        raise GradingFailure(f"{name} should be a function, but it is {describe(student_fn)}.")
    code = getattr(student_fn, "__code__", None)
    own = _rnncourse_name(code) if code is not None else None
    if own is not None or getattr(student_fn, "__module__", "") == "rnncourse" or \
            str(getattr(student_fn, "__module__", "") or "").startswith(("rnncourse.", "_rnncourse_private_")):
        raise GradingFailure(
            f"{name} is rnncourse's own implementation ({own or student_fn.__module__}), not yours.\n"
            f"This exercise asks you to write it with NumPy; this part scores zero until you do.")
    # Everything the checks need from the reference and the mistakes is computed first, before
    # any student code runs during this check.
    expected = []
    for c in cases:
        ref = _run_plain(reference_fn, c)
        if ref.error is not None:
            raise GradingFailure(f"internal error in the tests, not in your code: the reference "
                                 f"failed on case {c.label!r}: {_error_text(ref.error)}. "
                                 f"Please tell the instructors.")
        wrong = [(m, _run_plain(m.fn, c) if m.fn is not None else None) for m in mistakes]
        expected.append((ref.value, wrong))
    names = list(output_names) if output_names else None
    notes: List[str] = []

    for c, (ref_value, wrong) in zip(cases, expected):
        arg_names = _arg_names(reference_fn, len(c.args))
        out = _call_student(student_fn, c, allow, arg_names, time_limit)
        if out.delegated:
            raise GradingFailure(
                f"{name} calls the course's reference implementation ({', '.join(out.delegated)}).\n"
                f"This exercise asks you to write it yourself with NumPy, so this part scores zero "
                f"while it calls rnncourse. (Functions you wrote in this notebook are fine.)")
        if out.tampered:
            raise GradingFailure(f"{name} changed the Python profiler (sys.setprofile), which the "
                                 f"checks rely on; this part scores zero.")
        notes.extend(n for n in out.notes if n not in notes)
        header = f"{name} failed on test case \"{c.label}\"\n  inputs: {_describe_args(c, arg_names)}"
        if out.notes:
            header += "\n  warnings from your code: " + "; ".join(out.notes[:3])
        if out.error is not None:
            text = _explain_error(name, out)
            hits = [m for m, w in wrong if (m.error and re.search(m.error, _error_text(out.error)))
                    or (w is not None and _matches(w, out, ref_value, rtol, atol))]
            raise GradingFailure(header + "\n" + text + _hints(hits))
        value = out.value
        raw_ref = ref_value
        where = ""
        if names and isinstance(ref_value, tuple) and not hasattr(ref_value, "_fields"):
            ref_value = _named(ref_value, names)
            if isinstance(value, tuple) and len(value) == len(names):
                value = _named(value, names)
        problem = _compare(ref_value, value, where, rtol, atol)
        if problem is None:
            for check in extra:
                try:
                    problem = check(student_fn, c, out.value)
                except Exception as err:  # noqa: BLE001 - odd output the extra check did not expect
                    problem = f"an extra check could not use your result: {_error_text(err)}"
                if problem:
                    break
        if problem is not None:
            hits = [m for m, w in wrong if w is not None and _matches(w, out, raw_ref, rtol, atol)]
            raise GradingFailure(f"{header}\n  {problem}" + _hints(hits))
    for note in notes[:3]:
        print(f"note: {name} passed, but it emitted {note}")
    return len(cases)


def _named(values: tuple, names: Sequence[str]):
    cls = NamedTuple("Output", [(n, Any) for n in names])
    return cls(*values)


def _hints(hits: Sequence[Mistake]) -> str:
    if not hits:
        return ""
    title = "Likely mistake" if len(hits) == 1 else "Possible mistakes"
    lines = [f"{title}:"]
    for m in hits[:3]:
        lines.append(f"  - {m.name}. Hint: {m.hint}")
    return "\n" + "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Gradient checks
# ---------------------------------------------------------------------------------------------

def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar function ``f`` at ``x`` (``x`` is not modified)."""
    x = np.array(x, dtype=np.float64, copy=True)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + eps
        fp = float(f(x.copy()))
        x[idx] = old - eps
        fm = float(f(x.copy()))
        x[idx] = old
        grad[idx] = (fp - fm) / (2 * eps)
    return grad


def gradient_check(loss: Callable[..., float], inputs: Dict[str, np.ndarray], grads: Dict[str, Any],
                   *, eps: float = 1e-6, tol: float = 1e-6) -> Optional[str]:
    """Compare analytic gradients with central differences of ``loss(**inputs)``.

    Returns None when every ``grads[name]`` matches (relative error below ``tol``), otherwise a
    message naming the array, its worst relative error and the first entry that differs.
    """
    for key, analytic in grads.items():
        base = inputs[key]

        def f(v, key=key):
            return loss(**{**inputs, key: v})

        numeric = numerical_gradient(f, base, eps)
        arr, why = _as_array(analytic, numeric)
        if why:
            return f"gradient {key}: {why}"
        if arr.shape != numeric.shape:
            return (f"gradient {key}: expected shape {_fmt_shape(numeric.shape)} (the shape of {key}), "
                    f"got {_fmt_shape(arr.shape)}")
        arr = arr.astype(np.float64)
        denom = np.maximum(np.absolute(arr) + np.absolute(numeric), 1e-8)
        rel = np.absolute(arr - numeric) / denom
        if not (rel <= tol).all():
            idx = tuple(int(i) for i in np.argwhere(~(rel <= tol))[0])
            return (f"gradient check on {key}: relative error {_fmt_num(rel.max())} (allowed {tol:g}); "
                    f"first bad entry {idx}: finite differences give {_fmt_num(numeric[idx])}, "
                    f"your gradient {_fmt_num(arr[idx])}")
    return None


# ---------------------------------------------------------------------------------------------
# Notebook entry points
# ---------------------------------------------------------------------------------------------

def check(name: str, namespace: Dict[str, Any], *, hidden: bool = False, seed: int = 0,
          checks_path: Optional[str] = None, time_limit: Optional[float] = None) -> None:
    """Run the visible (or, with ``hidden=True``, the hidden) checks of function ``name``.

    ``namespace`` is the notebook's ``globals()`` (or, when graded, ``rnncourse_grader``'s view of
    the sandboxed notebook); the function is looked up there by name, so a missing function is
    reported, not raised as a NameError.  ``time_limit``: seconds per call (see check_function).  Prints one line on success
    (and returns None: nbgrader would read a number left as the cell's value as partial
    credit); raises :class:`GradingFailure` otherwise.
    """
    try:
        specs = load_checks(checks_path)
    except GradingFailure:
        raise
    except Exception as err:  # noqa: BLE001 - a broken checks.py is the instructor's problem
        raise GradingFailure(f"could not load the tests in checks.py: {_error_text(err)}") from None
    if name not in specs:
        raise GradingFailure(f"checks.py has no tests for {name!r} (it has {', '.join(sorted(specs))}).")
    spec = specs[name]
    if name not in namespace:
        raise GradingFailure(
            f"{name} is not defined. Run the cell where you wrote it (and fix any error it shows) "
            f"before running its tests; keep the function's name exactly `{name}`.")
    student_fn = namespace[name]
    if hidden:
        if spec.hidden is None:
            raise GradingFailure(f"checks.py defines no hidden tests for {name!r}.")
        cases = list(spec.hidden(np.random.default_rng(seed)))
    else:
        cases = list(spec.visible())
    n = check_function(student_fn, spec.reference, cases, name=name, mistakes=spec.mistakes,
                       rtol=spec.rtol, atol=spec.atol, allow=spec.allow, extra=spec.extra,
                       output_names=spec.output_names, time_limit=time_limit)
    kind = "hidden" if hidden else "visible"
    labels = "; ".join(dict.fromkeys(c.label for c in cases))
    print(_wrap(f"{_GREEN}\u2714{_RESET} {name}: all {n} {kind} test cases passed ({labels})"))


def _normalise_choice(value) -> Optional[frozenset]:
    if value is None:
        return None
    if isinstance(value, str):
        letters = re.findall(r"[A-Za-z]", value.replace("and", " "))
        return frozenset(ch.lower() for ch in letters) if value.strip() else None
    if isinstance(value, (set, frozenset, list, tuple)):
        out = set()
        for v in value:
            n = _normalise_choice(v)
            if n is None:
                return frozenset({"?"})
            out |= n
        return frozenset(out)
    return frozenset({"?"})


def check_choice(name: str, namespace: Dict[str, Any], *, options: str = "abcd",
                 answer=None, explain: Optional[Dict[str, str]] = None, multiple: bool = False) -> None:
    """Check a multiple-choice answer stored in the notebook variable ``name``.

    Without ``answer`` only the format is checked (visible part); with it, correctness (hidden
    part).  ``explain`` maps a wrong option to the reason it is wrong, shown as feedback.
    ``multiple=True`` accepts several letters (a set or a string like ``"a, c"``).
    """
    opts = ", ".join(options[:-1]) + f" or {options[-1]}"
    if name not in namespace:
        raise GradingFailure(f"{name} is not defined: run your answer cell (`{name} = \"b\"`, for example).")
    given = _normalise_choice(namespace[name])
    if not given:
        raise GradingFailure(f"you have not answered {name} yet: set {name} to one of {opts}.")
    if any(len(ch) != 1 or ch not in options for ch in given) or (not multiple and len(given) != 1):
        shape = "one or more of the letters" if multiple else "one letter among"
        raise GradingFailure(f"{name} must be {shape} {opts}; got {namespace[name]!r}.")
    if answer is None:
        print(f"{_GREEN}\u2714{_RESET} {name}: answer {', '.join(sorted(given))!s} recorded "
              f"(its correctness is checked when the notebook is graded)")
        return
    right = _normalise_choice(answer)
    if given != right:
        reasons = [f"  ({ch}) {explain[ch]}" for ch in sorted(given - right) if explain and ch in explain]
        msg = f"{name}: {', '.join(sorted(given))} is not the right answer."
        if reasons:
            msg += "\n" + "\n".join(reasons)
        if multiple and given < right:
            msg += "\n  Some correct options are missing."
        raise GradingFailure(msg)
    print(f"{_GREEN}\u2714{_RESET} {name}: correct")
