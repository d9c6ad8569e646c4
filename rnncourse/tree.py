r"""Nested parameter containers ("trees"), walked in one place.

Parameters and gradients in this package are *trees*: NamedTuples of arrays
(``RNNParams(U, W, b)``), lists or tuples of them (the layers of a deep
network), dicts, nested to any depth, with ``None`` for an absent parameter
(``GRUParams.b_hn`` when ``reset_after=False``).  Everything that is not a
NamedTuple, list, tuple or dict is a *leaf* (an array, ``None``, a number).

Every module that walks such a container (the optimisers, gradient clipping,
the gradient check, the character model) goes through the functions here:

==================  ==========================================================
function            what it does
==================  ==========================================================
``tree_map``        ``fn(label, *leaves)`` leaf by leaf over trees of one
                    structure; rebuilds the container types; a mismatch in
                    structure raises ``ValueError`` naming both labels
``tree_leaves``     ``[(label, path, leaf), ...]`` in order, e.g.
                    ``("params.cell.W", ("cell", "W"), array)``
``tree_get``        the leaf at a path (``None`` where the path is missing)
``tree_replace``    a copy with the leaf at a path replaced (arrays shared)
==================  ==========================================================

A *label* is the Python expression that reaches a leaf from the root's name
(``params.layers[1].W``, ``grads['V']``), so error messages name the entry as
the caller would write it.  A *path* is the tuple of keys on the way: field
names for NamedTuples, indices for lists and tuples, keys for dicts.
"""
from __future__ import annotations

from typing import Any, Callable, List, Optional, Sequence, Tuple

__all__ = ["is_namedtuple", "is_container", "tree_map", "tree_leaves", "tree_get", "tree_replace"]


def is_namedtuple(obj) -> bool:
    """True for an instance of a ``typing.NamedTuple`` / ``collections.namedtuple``."""
    return isinstance(obj, tuple) and hasattr(obj, "_fields")


def is_container(obj) -> bool:
    """True for the containers a tree is made of: NamedTuple, list, tuple, dict."""
    return isinstance(obj, (list, tuple, dict))


def _children(obj) -> List[Tuple[Any, str, Any]]:
    """``[(key, label suffix, child), ...]`` of a container, in order."""
    if is_namedtuple(obj):
        return [(f, f".{f}", v) for f, v in zip(obj._fields, obj)]
    if isinstance(obj, dict):
        return [(k, f"[{k!r}]", v) for k, v in obj.items()]
    return [(i, f"[{i}]", v) for i, v in enumerate(obj)]


def _rebuild(like, values: Sequence):
    if is_namedtuple(like):
        return type(like)(*values)
    if isinstance(like, dict):
        return type(like)(zip(like, values))
    return type(like)(values)


def _fail(func: str, message: str):
    raise ValueError(f"{func}: {message}")


def tree_map(fn: Callable, *trees, label: str = "tree", names: Optional[Sequence[str]] = None,
             func: str = "tree_map", fail: Optional[Callable[[str], Any]] = None):
    """Apply ``fn(label, *leaves)`` leaf by leaf over trees of the same structure.

    Parameters
    ----------
    fn : called as ``fn(label, leaf_0, leaf_1, ...)`` wherever the *first*
        tree has a leaf; the other trees must have the same structure down
        to there (what they hold at that place is passed as it is).
    *trees : one or more trees.
    label : the first tree's name, the start of every label (``"params"``).
    names : the names of all trees for error messages (default ``label``,
        ``tree1``, ...).
    func : the public function to name in error messages.
    fail : called with the message instead of raising ``ValueError``
        (e.g. ``ShapeChecker.fail``).

    Returns
    -------
    A tree of the first tree's structure and container types holding the
    values ``fn`` returned.
    """
    if names is None:
        names = [label] + [f"tree{i}" for i in range(1, len(trees))]
    fail = fail or (lambda msg: _fail(func, msg))

    def walk(lab: str, nodes):
        first = nodes[0]
        if not is_container(first):
            return fn(lab, *nodes)
        for other, name in zip(nodes[1:], names[1:]):
            if is_namedtuple(first):     # the same class, or its copy from another import
                same_kind = is_namedtuple(other) and other._fields == first._fields and \
                    type(other).__qualname__ == type(first).__qualname__
            else:
                same_kind = isinstance(other, dict if isinstance(first, dict) else (list, tuple))
            if not same_kind or len(other) != len(first) or \
                    (isinstance(first, dict) and set(other) != set(first)):
                size = f" of {len(other)}" if hasattr(other, "__len__") else ""
                fail(f"{name}{lab[len(names[0]):]} must have the same structure as {lab} "
                     f"({type(first).__name__} of {len(first)}), got {type(other).__name__}{size}")
        out = []
        for i, (key, suffix, child) in enumerate(_children(first)):
            rest = [o[key] if isinstance(o, dict) else o[i] for o in nodes[1:]]
            out.append(walk(lab + suffix, [child] + rest))
        return _rebuild(first, out)

    return walk(label, list(trees))


def tree_leaves(tree, label: str = "tree") -> List[Tuple[str, Tuple, Any]]:
    """Every leaf of ``tree`` in order, as ``(label, path, leaf)`` (``None`` leaves included)."""
    out: List[Tuple[str, Tuple, Any]] = []

    def walk(obj, lab, path):
        if is_container(obj):
            for key, suffix, child in _children(obj):
                walk(child, lab + suffix, path + (key,))
        else:
            out.append((lab, path, obj))

    walk(tree, label, ())
    return out


def tree_get(tree, path: Tuple):
    """The entry of ``tree`` at ``path`` (``None`` when the path leads nowhere)."""
    obj = tree
    for key in path:
        if obj is None:
            return None
        if is_namedtuple(obj) and isinstance(key, str):
            obj = getattr(obj, key, None)
        elif isinstance(obj, dict):
            obj = obj.get(key)
        elif isinstance(obj, (list, tuple)) and isinstance(key, int) and key < len(obj):
            obj = obj[key]
        else:
            return None
    return obj


def tree_replace(tree, path: Tuple, new):
    """A copy of ``tree`` with the entry at ``path`` replaced by ``new``.

    Containers on the path are rebuilt (same types); everything else, arrays
    included, is shared with ``tree``.
    """
    if not path:
        return new
    key, rest = path[0], path[1:]
    if is_namedtuple(tree):
        return tree._replace(**{key: tree_replace(getattr(tree, key), rest, new)})
    if isinstance(tree, dict):
        out = dict(tree)
        out[key] = tree_replace(tree[key], rest, new)
        return type(tree)(out) if type(tree) is not dict else out
    items = list(tree)
    items[key] = tree_replace(tree[key], rest, new)
    return items if isinstance(tree, list) else tuple(items)
