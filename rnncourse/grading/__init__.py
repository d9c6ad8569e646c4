r"""Checking helpers for the graded notebooks (nbgrader): teaching feedback, points per case, tamper-resistant tests.

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
this package's public names (``G.Spec``, ``G.case``, ``G.core``, ``G.Mistake``,
``G.gradient_check``, the shared builders ``G.random_params``, ``G.sigmoid``,
``G.MATMUL_ERROR``...)::

    def build(rc, G):
        def ref(x, h_prev, params, activation="tanh"):
            return rc.rnn.rnn_step_forward(x, h_prev, params, activation)[0]

        def no_bias(x, h_prev, params, activation="tanh"):
            return np.tanh(x @ params.U.T + h_prev @ params.W.T)

        def visible():                    # a few small, fixed cases
            return [G.core("N=2, D=3, H=4", x, h, p)]

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
      check("rnn_step_forward", globals(), points=2)
      ### BEGIN HIDDEN TESTS
      import importlib.util as _iu; _gs = _iu.find_spec("rnncourse.grading"); _g = _iu.module_from_spec(_gs); _gs.loader.exec_module(_g)
      _g.check("rnn_step_forward", globals(), points=2)
      ### END HIDDEN TESTS

  The hidden part re-runs the same checks with a *fresh* copy of this module
  (the bootstrap line, :data:`HIDDEN_BOOTSTRAP`); when graded, the grader reads the
  checks' names and literal arguments from this source and runs them itself;
* hidden test cell, ``grade`` with points [``<function>_hidden``]: a visible
  comment saying what is tested, then only the bootstrap line and
  ``_g.check("rnn_step_forward", globals(), hidden=True, seed=<int>, points=<int>)`` inside
  the hidden region;
* multiple choice: an answer cell ``q1 = ...`` [``q1_answer``] and a test
  cell [``q1``]: ``check_choice("q1", globals(), options="abcd")`` visible,
  ``_g.check_choice("q1", globals(), options="abcd", answer="b", explain={...})``
  hidden;
* free text: a markdown cell that is both ``solution`` and ``grade``
  (manually graded) [``<topic>_free``].

Points per case: ``points=`` (the cell's nbgrader points) shares the cell's points among its
cases in proportion to their weights: a core case (``G.core``, weight
:data:`~rnncourse.grading.spec.CORE_WEIGHT` = 2: the function's main path, e.g. the tanh step)
counts twice as much as a variant (``G.case``, weight 1: relu, peepholes, N=1, D != H...).
``check`` returns the score as the cell's last expression, which nbgrader records as partial
credit, and prints one line per case (passed/failed, points); a score of zero raises.  When
graded, the score is computed and written into the cell by ``rnncourse_grader.harness``.
``tests/test_nbgrader_assignments.py`` checks these conventions for every notebook.

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
  reference implementation; this package excepted) fails the check with an explanation, unless the spec allows it
  (``allow=``).  When graded, the sandbox's ``rnncourse`` does not contain those functions.
* Comparisons use ndarray operators and methods only, after a self-test that notices a patched
  NumPy comparison.
* Inputs the function modified in place are reported.

Modules (one concern each)
--------------------------
=============  ================================================================================
``text``       message text: wrapping, :class:`GradingFailure`, one-line descriptions of values
``spec``       :class:`Case`, :class:`Mistake`, :class:`Spec`, ``load_checks``, the private copy
``compare``    expected against received, one small comparer per type
``calls``      calling student code: copies, time limit, frames, delegation, in-place changes
``feedback``   explaining errors, recognising known mistakes, hints
``grade``      one function on its cases: :func:`grade_cases`, :func:`check_function`
``gradients``  gradient checks through :mod:`rnncourse.gradcheck` (its relative error)
``builders``   what the ``checks.py`` files share: error patterns, ``sigmoid``, random parameters
``notebook``   the test cells' entry points: :func:`check`, :func:`check_choice`
``cells``      the notebooks' grade cells from ``checks.py``'s ``POINTS``, the points table's rows
=============  ================================================================================

Why a subpackage of ``rnncourse`` and not a sibling top-level package
---------------------------------------------------------------------
Students' notebooks must be able to ``check`` their work locally, in their own Jupyter, with
nothing but the course's environment: the test cells import ``rnncourse.grading``, and the
checks build their expected values from a private copy of ``rnncourse`` that this package
loads from the directory it lives in.  The trusted side, which decides scores, is already the
sibling package ``rnncourse_grader`` (sandbox, harness, codec); a third top-level package would
separate nothing more, while a grading package outside ``rnncourse`` would have to locate the
reference implementation by other means.  So grading stays here and the grader stays outside.
"""
from __future__ import annotations

import importlib as _importlib
import importlib.machinery as _machinery
import importlib.util as _util
import itertools as _itertools
import os as _os
import sys as _sys

#: The line every hidden test region starts with: a fresh copy of this package, loaded from its
#: files, so that an answer cell that patched ``rnncourse.grading`` changes nothing.
HIDDEN_BOOTSTRAP = ('import importlib.util as _iu; _gs = _iu.find_spec("rnncourse.grading"); '
                    '_g = _iu.module_from_spec(_gs); _gs.loader.exec_module(_g)')

_MODULES = ("text", "spec", "compare", "calls", "feedback", "grade", "gradients", "builders", "notebook")
_COPIES = _itertools.count()


def _fresh_copy() -> dict:
    """This package's public names from a private copy of all its modules (HIDDEN_BOOTSTRAP)."""
    name = f"_rnncourse_grading_{_os.getpid()}_{next(_COPIES)}"
    here = _os.path.dirname(_os.path.abspath(__file__))
    spec = _machinery.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [here]
    pkg = _util.module_from_spec(spec)
    pkg.__path__ = [here]
    _sys.modules[name] = pkg
    names = {}
    for mod in _MODULES:
        module = _importlib.import_module(f"{name}.{mod}")
        names.update({k: v for k, v in vars(module).items()
                      if k in __all__ or k in ("_TimeLimit", "_Mutation")})
    vars(pkg).update(names)
    return names


__all__ = [
    "HIDDEN_BOOTSTRAP", "GRADING_DIR", "PACKAGE_DIR",
    "GradingFailure", "describe",
    "CORE_WEIGHT", "Case", "Mistake", "Spec", "as_core", "case", "core", "load_checks", "private_rnncourse",
    "check_function", "grade_cases", "CaseResult",
    "numerical_gradient", "gradient_check",
    "MATMUL_ERROR", "MUTATION_ERROR", "sigmoid", "random_params", "map_flat", "flat_arrays",
    "global_norm",
    "check", "check_choice", "case_points", "score_report",
]

if getattr(_sys.modules.get(__name__), "__dict__", None) is globals():
    from .text import GradingFailure, describe
    from .spec import (CORE_WEIGHT, GRADING_DIR, PACKAGE_DIR, Case, Mistake, Spec, as_core, case,
                       core, load_checks, private_rnncourse)
    from .calls import _Mutation, _TimeLimit          # raised by rnncourse_grader.harness
    from .grade import CaseResult, check_function, grade_cases
    from .gradients import gradient_check, numerical_gradient
    from .builders import (MATMUL_ERROR, MUTATION_ERROR, flat_arrays, global_norm, map_flat,
                           random_params, sigmoid)
    from .notebook import case_points, check, check_choice, score_report
else:   # executed afresh by HIDDEN_BOOTSTRAP: every module is loaded again, privately
    globals().update(_fresh_copy())
