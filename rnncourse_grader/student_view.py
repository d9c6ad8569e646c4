"""The copy of ``rnncourse`` that a student's code sees in the grading sandbox (the *student view*).

Each module-level function the assignment does not give keeps its signature and docstring but
raises ``NotImplementedError`` saying why, so delegating to the reference fails where it happens.
Given (kept): what the notebook imports outside grade cells (:func:`given_names`), what the specs
allow, and all they need (the package's call graph).  Always withheld: the graded functions (any of
that name) and, unless given explicitly, the :data:`NUMERICAL` ones.  Private helpers are kept
unless only withheld functions use them; classes, methods and constants are never changed.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
from typing import Dict, Iterable, List, Optional, Set

log = logging.getLogger(__name__)

PACKAGE = "rnncourse"
#: Rule 3: what the tests check gradients with; withheld unless given or allowed explicitly.
NUMERICAL = frozenset({"rnncourse.grading.gradients.numerical_gradient",
                       "rnncourse.grading.gradients.gradient_check",
                       "rnncourse.gradcheck.numerical_gradient", "rnncourse.gradcheck.check_gradients"})
_HELP = "Use your own function (or the ones the notebook imports for you)."
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


class Withheld(dict):
    """``{qualified name: reason}``; ``conflicts``: graded functions that were given or needed."""
    conflicts: List[str] = []


def _package_dir() -> str:
    return list(importlib.util.find_spec(PACKAGE).submodule_search_locations)[0]


def _package_files(pkg_dir: str):
    """``(relative path, path)`` of the package's files (no byte code), sorted."""
    for root, dirs, files in os.walk(pkg_dir):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for f in sorted(x for x in files if not x.endswith((".pyc", ".pyo"))):
            yield os.path.relpath(os.path.join(root, f), pkg_dir), os.path.join(root, f)


def _aliases(nodes: Iterable[ast.AST], here: str = PACKAGE) -> Dict[str, str]:
    """``{bound name: qualified target}`` of the ``rnncourse`` imports among ``nodes``.

    ``here``: the package that relative imports start from (``rnncourse``, ``rnncourse.grading``).
    """
    al = {}
    for n in nodes:
        if isinstance(n, ast.ImportFrom):
            up = here.split(".")[:len(here.split(".")) - n.level + 1] if n.level else []
            base = ".".join(up + ([n.module] if n.module else [])) if n.level else n.module or ""
            if up or n.level == 0 and base.split(".")[0] == PACKAGE:
                al.update({a.asname or a.name: f"{base}.{a.name}" for a in n.names if a.name != "*"})
        elif isinstance(n, ast.Import):
            al.update({a.asname or PACKAGE: a.name if a.asname else PACKAGE
                       for a in n.names if a.name.split(".")[0] == PACKAGE})
    return al


def _module_name(rel: str) -> str:
    """``rnncourse.grading.spec`` for ``grading/spec.py``, ``rnncourse.grading`` for its ``__init__``."""
    parts = [PACKAGE] + rel[:-3].split(os.sep)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _reach(refs: Dict[str, Set[str]], start: Iterable[str], follow) -> Set[str]:
    """What ``start`` reaches through the edges ``u -> v`` of ``refs`` for which ``follow(u, v)``."""
    queue = sorted(seen := set(start))
    while queue:
        u = queue.pop()
        for v in sorted(refs[u] - seen):
            if follow(u, v):
                seen.add(v)
                queue.append(v)
    return seen


def given_names(notebook_path: str) -> Set[str]:
    """The ``rnncourse`` names that the notebook's code cells, grade cells excepted, give the student.

    Parameters
    ----------
    notebook_path : str, the instructor's notebook (``solutions/<a>/<a>.ipynb``).

    Returns
    -------
    set of str, qualified names (``"rnncourse.rnn.rnn_forward"``): every ``from rnncourse.X import
        a``, every ``y.f`` after ``import rnncourse.X as y`` (or ``rnncourse.X.f``).  IPython lines
        (``%``, ``!``) are ignored; a cell that still does not parse is skipped.
    """
    with open(notebook_path, encoding="utf-8") as f:
        cells, trees = json.load(f).get("cells", []), []
    for cell in cells:
        if cell.get("cell_type") == "code" and not cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
            lines = "".join(cell.get("source", "")).splitlines()
            try:
                trees.append(ast.parse("\n".join("" if s.lstrip()[:1] in ("%", "!") else s for s in lines)))
            except SyntaxError:
                continue
    nodes, modules = [n for t in trees for n in ast.walk(t)], _Graph(_package_dir()).trees
    alias = _aliases(n for n in nodes if getattr(n, "level", 0) == 0)
    names = {t for t in alias.values() if t not in modules}         # from rnncourse.X import a
    dotted = lambda e: alias.get(e.id) if isinstance(e, ast.Name) else (  # noqa: E731
        isinstance(e, ast.Attribute) and (b := dotted(e.value)) and f"{b}.{e.attr}" or None)
    names |= {dotted(n) for n in nodes if isinstance(n, ast.Attribute) and dotted(n.value) in modules}
    return names - set(modules)


class _Graph:
    """The package's module-level definitions (``kind``) and the definitions each one references."""

    def __init__(self, pkg_dir: str):
        self.trees, self.alias, self.kind, code = {}, {}, {}, {}
        self.package_of = {}
        for rel, path in _package_files(pkg_dir):
            if rel.endswith(".py") and rel.count(os.sep) <= 1:     # the package and its subpackages
                with open(path, encoding="utf-8") as fh:
                    mod = _module_name(rel)
                    self.trees[mod] = ast.parse(fh.read())
                    self.package_of[mod] = mod if rel.endswith("__init__.py") else mod.rpartition(".")[0]
        for mod, tree in self.trees.items():
            self.alias[mod] = _aliases(ast.walk(tree), self.package_of[mod])  # imports anywhere
            for st in tree.body:
                if isinstance(st, _FUNCS + (ast.ClassDef,)):
                    self.kind[f"{mod}.{st.name}"] = "class" if isinstance(st, ast.ClassDef) else "function"
                    code[f"{mod}.{st.name}"] = [st]
                for t in getattr(st, "targets", [getattr(st, "target", None)]) if isinstance(
                        st, (ast.Assign, ast.AnnAssign, ast.AugAssign)) else ():
                    for nm in (x for x in ast.walk(t) if isinstance(x, ast.Name)):
                        self.kind.setdefault(f"{mod}.{nm.id}", "variable")
                        code.setdefault(f"{mod}.{nm.id}", []).append(st)
        self.refs = {q: set().union(*(self._refs(q.rpartition(".")[0], n) for n in nodes))
                     for q, nodes in code.items()}
        found = set()                           # functions called or applied while importing
        for mod, tree in self.trees.items():
            stack = list(tree.body)             # not into function bodies and lambdas
            while stack and (n := stack.pop()):
                if isinstance(n, _FUNCS):
                    found.update(self._expr(mod, d) for d in n.decorator_list)
                    stack += n.decorator_list + n.args.defaults + [k for k in n.args.kw_defaults if k]
                elif not isinstance(n, ast.Lambda):
                    found.add(self._expr(mod, n.func) if isinstance(n, ast.Call) else None)
                    stack += ast.iter_child_nodes(n)
        self.import_time = {q for q in found if self.kind.get(q) == "function"}

    def resolve(self, qual: str, depth: int = 0) -> Optional[str]:
        """The definition or module a dotted name stands for (re-exports followed), else None."""
        if qual in self.trees or qual in self.kind:
            return qual
        mod, _, name = qual.rpartition(".")
        ok = depth < 20 and mod in self.trees and name in self.alias[mod]
        return self.resolve(self.alias[mod][name], depth + 1) if ok else None

    def _expr(self, mod: str, e: ast.AST) -> Optional[str]:
        if isinstance(e, ast.Name):
            q = f"{mod}.{e.id}"
            return q if q in self.kind else self.resolve(self.alias[mod][e.id]) if e.id in self.alias[mod] else None
        base = self._expr(mod, e.value) if isinstance(e, ast.Attribute) else None
        return self.resolve(f"{base}.{e.attr}") if base in self.trees else None

    def _refs(self, mod: str, node: ast.AST) -> Set[str]:
        local = set()                           # arguments and assigned names shadow module names
        if isinstance(node, _FUNCS):
            local = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
            local |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        found = {self._expr(mod, n) for n in ast.walk(node) if isinstance(n, ast.Attribute) or
                 isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in local}
        return {q for q in found if q in self.kind}


def withheld_functions(graded: Iterable[str], allow: Iterable[str], given: Iterable[str], *,
                       assignment: Optional[str] = None, package_dir: Optional[str] = None) -> Withheld:
    """Decide which module-level functions of ``rnncourse`` the student view stubs.

    Parameters
    ----------
    graded : bare names of the graded functions (``{"rnn_forward", ...}``).
    allow : ``Spec.allow`` entries: modules (every function in them) or functions.
    given : qualified names the notebook gives (:func:`given_names`).
    assignment : e.g. ``"02_forward_pass"``, named in the reasons as "assignment 02".
    package_dir : the package to analyse (default: the installed ``rnncourse``).

    Returns
    -------
    Withheld, ``{qualified name: reason}``; its ``conflicts`` (also logged) name the graded functions
        that were given, or needed by a given function: they are withheld anyway.
    """
    g, graded = _Graph(package_dir or _package_dir()), set(graded)
    private = lambda q: any(p.startswith("_") for p in q.split(".")[1:])  # noqa: E731
    label = "assignment " + re.sub(r"^(\d+)_.*", r"\1", assignment) if assignment else "this assignment"
    allowed = [g.resolve(a) or a for a in allow]
    explicit = {q for q in g.kind if any(q == a or q.startswith(a + ".") for a in allowed)}
    explicit |= {r for r in map(g.resolve, given) if r in g.kind}
    is_graded = lambda q: g.kind[q] == "function" and q.rpartition(".")[2] in graded  # noqa: E731
    roots = explicit | {q for q, k in g.kind.items() if k == "class"} | g.import_time
    # what the given code needs (a graded function's body becomes a stub: nothing below it is)
    needed = _reach(g.refs, roots, lambda u, v: not is_graded(u) and
                    (v not in NUMERICAL or v in explicit or u in NUMERICAL))
    out = Withheld()
    out.conflicts = [f"{q} is graded but " + ("given to the student" if q in explicit else "needed by " + next(
        (u for u in sorted(needed) if q in g.refs[u] and not is_graded(u)), "the package's imports"))
        + ": withheld anyway" for q in sorted(needed) if is_graded(q)]
    for c in out.conflicts:
        log.warning("student view for %s: %s", label, c)
    for q in sorted(q for q, k in g.kind.items() if k == "function"):
        if is_graded(q):
            out[q] = f"it is what {label} asks you to write"
        elif q not in needed and not private(q):
            out[q] = ("it computes numerical gradients, which the tests use to check yours"
                      if q in NUMERICAL else f"{label} does not give it to you")
    kept = {q for q in g.kind if q not in out and not (private(q) and g.kind[q] == "function")}
    live = _reach(g.refs, kept | (g.import_time - out.keys()), lambda u, v: v not in out)
    helpers = _reach(g.refs, out, lambda u, v: v not in live and g.kind[v] == "function")
    out.update(dict.fromkeys(sorted(helpers - out.keys()), "only withheld functions use it"))
    return out


def _stub_source(text: str, messages: Dict[str, str]) -> str:
    """``text`` with each named top-level function rewritten (``ast.unparse``) to ``raise ...(message)``."""
    tree, lines = ast.parse(text), text.splitlines(keepends=True)
    defs = [n for n in tree.body if isinstance(n, _FUNCS) and n.name in messages]
    if set(messages) - {d.name for d in defs}:
        raise ValueError(f"no top-level function {sorted(set(messages) - {d.name for d in defs})}")
    for f in sorted(defs, key=lambda n: n.lineno, reverse=True):   # decorators, signature, docstring
        start = min([f.lineno] + [d.lineno for d in f.decorator_list])
        doc = f.body[:1] if ast.get_docstring(f, clean=False) is not None else []
        f.body = doc + ast.parse(f"raise NotImplementedError({messages[f.name]!r})").body
        lines[start - 1:f.end_lineno] = [ast.unparse(f) + "\n"]
    return "".join(lines)


def build_student_view(dest_dir: str, withheld: Dict[str, str], *, package_dir: Optional[str] = None) -> str:
    """Write ``dest_dir/rnncourse/``, the package with the ``withheld`` functions stubbed.

    Parameters
    ----------
    dest_dir : directory to write into (created if needed); ``withheld.json`` records the choice.
    withheld : ``{qualified name: reason}`` (:func:`withheld_functions`).
    package_dir : the package to copy (default: the installed ``rnncourse``).

    Returns
    -------
    str, ``dest_dir``: put it first on the sandbox's ``PYTHONPATH``.
    """
    src, pkg, by_module = package_dir or _package_dir(), os.path.join(dest_dir, PACKAGE), {}
    for qual, reason in withheld.items():
        mod, _, name = qual.rpartition(".")
        by_module.setdefault(mod, {})[name] = f"{qual} is withheld while this notebook is graded: {reason}. {_HELP}"
    for rel, path in _package_files(src):
        out, mod = os.path.join(pkg, rel), _module_name(rel) if rel.endswith(".py") else None
        os.makedirs(os.path.dirname(out), exist_ok=True)
        if rel.endswith(".py") and mod in by_module:
            with open(path, encoding="utf-8") as fh, open(out, "w", encoding="utf-8") as fo:
                fo.write(_stub_source(fh.read(), by_module.pop(mod)))
        else:
            shutil.copyfile(path, out)
    if by_module:
        raise ValueError(f"no module {sorted(by_module)} in {src}")
    with open(os.path.join(dest_dir, "withheld.json"), "w", encoding="utf-8") as fh:
        json.dump({"withheld": dict(sorted(withheld.items())),
                   "conflicts": list(getattr(withheld, "conflicts", []))}, fh, indent=1)
    for root, _, files in os.walk(dest_dir):    # readable by the sandbox's own user id
        for p in [root] + [os.path.join(root, f) for f in files]:
            os.chmod(p, 0o755 if p == root else 0o644)
    return dest_dir


def view_for_assignment(source_dir: str, assignment: str, cache_dir: str) -> str:
    """Build once, and return, the student view of one assignment.

    Parameters
    ----------
    source_dir : the directory holding ``<assignment>/<assignment>.ipynb`` and ``checks.py``.
    assignment : e.g. ``"05_gru"``.
    cache_dir : where views are kept, as ``<assignment>-<hash>/`` (a hash of the package's files,
        of this module and of the inputs); built in a temporary directory, then renamed.

    Returns
    -------
    str, the directory to put first on ``PYTHONPATH`` (it holds ``rnncourse/``).
    """
    from rnncourse.grading import load_checks
    specs = load_checks(os.path.join(source_dir, assignment, "checks.py"))
    graded, allow = sorted(specs), sorted({a for s in specs.values() for a in s.allow})
    given = sorted(given_names(os.path.join(source_dir, assignment, f"{assignment}.ipynb")))
    digest = hashlib.sha256(json.dumps([assignment, graded, allow, given]).encode())
    for rel, path in list(_package_files(_package_dir())) + [("student_view.py", __file__)]:
        with open(path, "rb") as fh:
            digest.update(rel.encode() + b"\0" + fh.read())
    final = os.path.join(cache_dir, f"{assignment}-{digest.hexdigest()[:16]}")
    if not os.path.isfile(manifest := os.path.join(final, "withheld.json")):
        os.makedirs(cache_dir, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{assignment}-", dir=cache_dir)
        try:
            build_student_view(tmp, withheld_functions(graded, allow, given, assignment=assignment))
            os.rename(tmp, final)
        except OSError:
            if not os.path.isfile(manifest):    # else another process finished first
                raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return final
