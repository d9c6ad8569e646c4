"""The trusted side of grading one notebook: cells run in the sandbox, tests run here.

:func:`grade_notebook` walks a notebook's cells in order.  A code cell that is not a grade cell
runs in the sandboxed worker (:class:`rnncourse_grader.session.Session`) and gets the outputs the
worker reports.  A grade cell never runs there: its source, taken from the instructor's copy,
names the checks (``check("rnn_forward", globals(), hidden=True, seed=3)``,
``check_choice("q1", globals(), options="abcd", answer="b")``); they run in this process with
``rnncourse.grading``, whose ``namespace`` is a :class:`RemoteNamespace` and whose student
function is a :class:`RemoteFunction`.  So the inputs, the expected values (from the reference),
the comparison, the hints and the cell's output (hence its score, read by nbgrader's
``SaveAutoGrades``) are all decided here; the worker only ever sees the inputs of a call.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import copy
import io
import re
import sys
import textwrap
import time
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import codec
from .session import Session, WorkerLost

CHECK_FUNCTIONS = ("check", "check_choice")
_RED, _RESET = "\x1b[0;31m", "\x1b[0m"


# ---------------------------------------------------------------------------- grade cell sources
def _strip_magics(source: str) -> str:
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                     for line in source.split("\n"))


def grade_calls(source: str) -> List[Tuple[str, str, Dict[str, Any]]]:
    """The checks a grade cell asks for: ``[(function, name, keyword arguments)]``, in order.

    Only calls of ``check``/``check_choice`` (bare or as an attribute, e.g. ``_g.check``) with a
    literal name and literal keyword arguments count; the same call twice counts once (the
    visible part and the hidden part of a cell both re-run the visible checks).

    Raises ValueError when the source does not parse or a check's arguments are not literals.
    """
    try:
        tree = ast.parse(_strip_magics(source))
    except SyntaxError as err:
        raise ValueError(f"the grade cell does not parse: {err}") from None
    calls, seen = [], set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        fn = node.func
        fname = fn.id if isinstance(fn, ast.Name) else fn.attr if isinstance(fn, ast.Attribute) else None
        if fname not in CHECK_FUNCTIONS:
            continue
        if not node.args or not isinstance(node.args[0], ast.Constant) or not isinstance(node.args[0].value, str):
            raise ValueError(f"{fname}(...) in a grade cell must name its target as a string literal")
        try:
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg is not None}
        except ValueError:
            raise ValueError(f"{fname}({node.args[0].value!r}, ...) has a keyword argument that is "
                             "not a literal") from None
        key = (fname, node.args[0].value, repr(sorted(kwargs.items())))
        if key not in seen:
            seen.add(key)
            calls.append((node.lineno, node.col_offset, fname, node.args[0].value, kwargs))
    return [c[2:] for c in sorted(calls, key=lambda c: c[:2])]


# ---------------------------------------------------------------------------- remote values
_DYNAMIC_ERRORS: Dict[str, type] = {}
_DYNAMIC_WARNINGS: Dict[str, type] = {}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,80}$")


def _exception(ename: str, evalue: str, grading) -> BaseException:
    """An exception standing for the one the student's code raised in the worker."""
    if ename == "TimeLimit":
        return grading._TimeLimit()
    cls = getattr(builtins, ename, None) if _IDENT.match(ename or "") else None
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        name = ename if _IDENT.match(ename or "") else "Error"
        cls = _DYNAMIC_ERRORS.setdefault(name, type(name, (Exception,), {"__module__": "builtins"}))
    try:
        return cls(evalue)
    except Exception:  # noqa: BLE001 - exotic constructor signatures
        return Exception(evalue)


def _warn(note: str) -> None:
    """Re-issue a note from the worker as a warning (rnncourse.grading collects them)."""
    name, _, text = str(note).partition(": ")
    if not text or not _IDENT.match(name):
        name, text = "UserWarning", str(note)
    cls = getattr(builtins, name, None)
    if not (isinstance(cls, type) and issubclass(cls, Warning)):
        cls = _DYNAMIC_WARNINGS.setdefault(name, type(name, (UserWarning,), {}))
    warnings.warn(text[:300], cls, stacklevel=2)


class RemoteFunction:
    """Calls the notebook's function ``name`` in the sandboxed worker, like a local function."""

    def __init__(self, session: Session, name: str, module: Optional[str], grading, namespace=None):
        self._session, self.__name__, self.__qualname__ = session, name, name
        self.__module__ = module if isinstance(module, str) else "__main__"
        self._grading, self._namespace = grading, namespace

    def __call__(self, *args, **kwargs):
        deadline = getattr(self._namespace, "deadline", None)
        if deadline is not None and time.monotonic() > deadline:
            # a check that calls the notebook many times (a training run) stops here, not after
            # every call has used its own time limit
            exc = RuntimeError("not run: the notebook used up its time limit")
            exc._remote_frames = []
            raise exc
        previous = sys.getprofile()      # rebuilding the course's containers is not delegation
        sys.setprofile(None)
        try:
            try:
                subs = getattr(self._namespace, "substitutes", None)
                reply = (self._session.call(self.__name__, args, kwargs, substitute=subs) if subs
                         else self._session.call(self.__name__, args, kwargs))
            except WorkerLost as err:
                exc = RuntimeError(f"{err}; grading went on in a fresh process")
                exc._remote_frames = []
                raise exc from None
            for note in reply.get("notes") or []:
                _warn(note)
            if reply.get("status") == "ok":
                if reply.get("mutated"):
                    raise self._grading._Mutation(str(reply["mutated"])[:500])
                try:
                    return codec.decode(reply.get("value"))
                except Exception as err:  # noqa: BLE001 - a malformed answer costs this case
                    exc = TypeError(f"returned a value the grader could not read ({err})")
                    exc._remote_frames = []
                    raise exc from None
            exc = _exception(str(reply.get("ename", "Error")), str(reply.get("evalue", ""))[:2000],
                             self._grading)
            exc._remote_frames = [str(f)[:300] for f in (reply.get("frames") or [])][:4]
            raise exc
        finally:
            sys.setprofile(previous)


class RemoteNamespace:
    """The notebook's globals as ``rnncourse.grading.check`` sees them (read-only, by lookup).

    deadline : ``time.monotonic()`` after which calls of the notebook's functions fail at once
        (the notebook's time limit), or None.
    """

    def __init__(self, session: Session, grading, deadline: Optional[float] = None):
        self._session, self._grading, self._cache = session, grading, {}
        self.substitutes: Dict[str, Any] = {}
        self.deadline = deadline

    @contextlib.contextmanager
    def substitute(self, mapping: Dict[str, Any]):
        """While it lasts, calls of notebook functions see ``mapping``'s functions (the grader's,
        called back over the channel) under those names instead of the notebook's own."""
        previous, self.substitutes = self.substitutes, {**self.substitutes, **mapping}
        try:
            yield
        finally:
            self.substitutes = previous

    def _lookup(self, name: str) -> dict:
        if name not in self._cache:
            try:
                self._cache[name] = self._session.lookup(name)
            except WorkerLost:
                self._cache[name] = {"defined": False}
        return self._cache[name]

    def __contains__(self, name) -> bool:
        return bool(self._lookup(name).get("defined"))

    def __getitem__(self, name):
        info = self._lookup(name)
        if not info.get("defined"):
            raise KeyError(name)
        if info.get("callable"):
            return RemoteFunction(self._session, name, info.get("module"), self._grading, self)
        try:
            return codec.decode(info.get("value"))
        except Exception:  # noqa: BLE001
            return codec.Unsupported(str(info.get("type", "object")), "")

    def get(self, name, default=None):
        return self[name] if name in self else default


# ---------------------------------------------------------------------------- outputs
def _message_error(ename: str, message: str) -> dict:
    lines = str(message).split("\n")
    return {"output_type": "error", "ename": ename, "evalue": str(message),
            "traceback": [f"{_RED}{ename}{_RESET}: {lines[0]}"] + lines[1:]}


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _score_result(score: float) -> dict:
    """The cell's value: nbgrader's SaveAutoGrades reads a number here as the cell's score."""
    return {"output_type": "execute_result", "execution_count": None, "metadata": {},
            "data": {"text/plain": repr(round(float(score), 6))}}


def evaluate_grade_cell(session: Session, source: str, checks_path: str,
                        deadline: Optional[float] = None) -> List[dict]:
    """Outputs of one grade cell, computed in this process (an error output scores zero).

    ``deadline``: the notebook's (``time.monotonic()``); calls of the notebook's functions after
    it fail at once.

    A check with ``points=`` returns the score of its cases; the cell's last output is then an
    ``execute_result`` holding the sum of those scores, written here (nbgrader reads it as
    partial credit, capped at the cell's points), never taken from the student's kernel.
    """
    import rnncourse.grading as grading   # the grader's own copy, never the student's
    try:
        calls = grade_calls(source)
    except ValueError as err:
        return [_message_error("GradingError", f"internal error in the tests, not in your code: "
                               f"{err}. Please tell the instructors.")]
    # a hidden test cell repeats the visible checks for the student until it is graded: only
    # its hidden checks count
    hidden = {name for fname, name, kw in calls if fname == "check" and kw.get("hidden")}
    calls = [c for c in calls if not (c[0] == "check" and c[1] in hidden and not c[2].get("hidden"))]
    outputs: List[dict] = []
    scores: List[float] = []
    namespace = RemoteNamespace(session, grading, deadline)
    for fname, name, kwargs in calls:
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                if fname == "check":
                    allowed = {k: kwargs[k] for k in ("hidden", "seed", "points") if k in kwargs}
                    score = grading.check(name, namespace, checks_path=checks_path,
                                          time_limit=session.limits.call_seconds + 30, **allowed)
                    if isinstance(score, (int, float)) and not isinstance(score, bool):
                        scores.append(float(score))
                else:
                    allowed = {k: kwargs[k] for k in ("options", "answer", "explain", "multiple")
                               if k in kwargs}
                    grading.check_choice(name, namespace, **allowed)
        except grading.GradingFailure as failure:
            if out.getvalue():
                outputs.append(_stream(out.getvalue()))
            outputs.append(_message_error("GradingFailure", str(failure)))
            return outputs
        except Exception as err:  # noqa: BLE001 - a bug in the tests must not crash the class
            outputs.append(_message_error("GradingError", f"internal error in the tests, not in your "
                                          f"code: {type(err).__name__}: {err}. Please tell the instructors."))
            return outputs
        if out.getvalue():
            outputs.append(_stream(out.getvalue()))
    if scores:
        outputs.append(_score_result(sum(scores)))
    return outputs


def _worker_outputs(reply: dict) -> List[dict]:
    """The worker's outputs of a cell, keeping only well-formed nbformat output dicts."""
    keep = []
    for o in reply.get("outputs", [])[:100]:
        if not isinstance(o, dict):
            continue
        kind = o.get("output_type")
        if kind == "stream" and isinstance(o.get("text"), str):
            keep.append({"output_type": "stream", "name": "stderr" if o.get("name") == "stderr" else "stdout",
                         "text": o["text"]})
        elif kind == "error":
            tb = o.get("traceback") if isinstance(o.get("traceback"), list) else []
            keep.append({"output_type": "error", "ename": str(o.get("ename", "Error")),
                         "evalue": str(o.get("evalue", "")), "traceback": [str(t) for t in tb]})
        elif kind in ("execute_result", "display_data") and isinstance(o.get("data"), dict):
            data = {k: v for k, v in o["data"].items()
                    if k in ("text/plain", "image/png", "text/html") and isinstance(v, str)}
            item = {"output_type": kind, "data": data, "metadata": {}}
            if kind == "execute_result":
                item["execution_count"] = None
            keep.append(item)
    return keep


def _short_repeat(grade_id: str, source: str, outputs: List[dict]) -> List[dict]:
    """A hidden test cell checked before grading (the release's copy: no hidden checks) repeats
    its function's visible tests; when they fail, say so in one line instead of repeating the
    visible cell's whole report (``make check`` and the Validate dialog list every failing cell)."""
    if not grade_id.endswith("_hidden") or not any(o.get("output_type") == "error" for o in outputs):
        return outputs
    try:
        calls = grade_calls(source)
    except ValueError:
        return outputs
    names = {name for fname, name, kw in calls if fname == "check"}
    if len(names) != 1 or any(kw.get("hidden") or "points" in kw for _, _, kw in calls):
        return outputs
    name = names.pop()
    text = (f"{name}: its hidden tests run when the notebook is graded; until then this cell "
            f"repeats the visible tests, which fail (see the test cell of {name} above).")
    return [_message_error("GradingFailure", textwrap.fill(text, 80, break_long_words=False))]


def is_grade_cell(cell) -> bool:
    nbg = (cell.get("metadata") or {}).get("nbgrader") or {}
    return cell.get("cell_type") == "code" and bool(nbg.get("grade")) and not nbg.get("solution")


def grade_notebook(nb, session: Session, trusted_sources: Dict[str, str], checks_path: str,
                   problems: Sequence[str] = ()) -> None:
    """Fill in the outputs of every code cell of ``nb`` (an nbformat notebook), in place.

    trusted_sources : ``grade_id -> source`` of the instructor's grade cells (the source of a
        grade cell in ``nb`` itself is never used).
    problems : why the notebook cannot be graded (edited metadata...): every grade cell then gets
        an error naming them, and no student code runs.
    """
    from nbformat import from_dict
    deadline = time.monotonic() + session.limits.notebook_seconds
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        grade_id = ((cell.metadata.get("nbgrader") or {}).get("grade_id"))
        if time.monotonic() > deadline and cell.source.strip():
            outputs = [_message_error("NotRun", "not run: the notebook used up its time limit "
                                      f"({session.limits.notebook_seconds:g} s in all)")]
        elif is_grade_cell(cell):
            if problems:
                outputs = [_message_error("GradingFailure", "this notebook cannot be graded: "
                                          + "; ".join(problems))]
            elif grade_id not in trusted_sources:
                outputs = [_message_error("GradingFailure", f"the grade cell {grade_id!r} is not in the "
                                          "instructor's copy of this notebook, so it scores zero.")]
            else:
                outputs = evaluate_grade_cell(session, trusted_sources[grade_id], checks_path,
                                              deadline)
                outputs = _short_repeat(grade_id, trusted_sources[grade_id], outputs)
        elif problems or not cell.source.strip():
            outputs = []
        else:
            try:
                outputs = _worker_outputs(session.run_cell(cell.source))
            except WorkerLost as err:
                outputs = [_message_error("KernelDied", f"{err}; grading went on in a fresh process "
                                          "that re-ran the cells before this one")]
        cell.outputs = [from_dict(copy.deepcopy(o)) for o in outputs]
