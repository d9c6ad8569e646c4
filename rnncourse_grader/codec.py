"""Values across the sandbox boundary: JSON trees whose arrays are ``.npy`` bytes, never pickles.

``encode(value) -> tree`` and ``decode(tree) -> value`` handle what the course's functions take
and return: None, bool, int, float (nan and inf included), str, NumPy arrays (not of dtype
object) and scalars, lists, tuples, dicts, the course's NamedTuples (``RNNParams``,
``RNNStepCache``...), dataclasses (``Vocabulary``), NumPy Generators (by their state) and, from
the grader to the worker only, callables (called back over the channel).  Anything else is
encoded as ``{"t": "unsupported"}`` and decoded as an :class:`Unsupported` placeholder, which
fails its comparison with a message saying what it was.

Decoding trusts nothing: the only classes it resolves are NamedTuples and dataclasses of
``rnncourse`` modules, by module and name; it never unpickles or evaluates; depth, node count and
array bytes are bounded (:class:`Limits`); a malformed tree raises :class:`CodecError`.
"""
from __future__ import annotations

import base64
import collections
import dataclasses
import importlib
import io
import json
import re
from typing import Any, Callable, Dict, NamedTuple, Optional

import numpy as np


class CodecError(ValueError):
    """A tree (or message) that is not a well-formed encoding of a value."""


class Limits(NamedTuple):
    depth: int = 32
    nodes: int = 200_000
    array_bytes: int = 256 * 1024 * 1024


class Unsupported:
    """Stands for a value that cannot cross the boundary (a function, an open file...)."""

    def __init__(self, type_name: str, text: str = ""):
        self.type_name, self.text = str(type_name)[:100], str(text)[:200]

    def __repr__(self):
        return f"<{self.type_name} (not an array, number, string or container)>"


_NAME = re.compile(r"^rnncourse(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _npy(arr: np.ndarray) -> str:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _class_name(obj) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def encode(value: Any, callables: Optional[Dict[int, Callable]] = None, _depth: int = 0) -> dict:
    """The tree of ``value``; callables are registered in ``callables`` (id -> function)."""
    if _depth > 64:
        return {"t": "unsupported", "type": "deeply nested value", "repr": ""}
    enc = lambda v: encode(v, callables, _depth + 1)  # noqa: E731
    if value is None:
        return {"t": "none"}
    if isinstance(value, (bool, np.bool_)) and not isinstance(value, np.ndarray):
        return {"t": "bool", "v": bool(value)}
    if isinstance(value, int) and not isinstance(value, bool):
        return {"t": "int", "v": int(value)}
    if isinstance(value, float):
        return {"t": "float", "v": repr(float(value))}
    if isinstance(value, str):
        return {"t": "str", "v": value}
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            return {"t": "unsupported", "type": "array of Python objects", "repr": repr(value)[:200]}
        return {"t": "nd", "npy": _npy(np.ascontiguousarray(value))}
    if isinstance(value, np.generic):
        arr = np.asarray(value)
        if arr.dtype.hasobject:
            return {"t": "unsupported", "type": type(value).__name__, "repr": repr(value)[:200]}
        return {"t": "npscalar", "npy": _npy(arr)}
    if isinstance(value, np.random.Generator):
        return {"t": "rng", "state": value.bit_generator.state}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {"t": "namedtuple", "cls": _class_name(value), "fields": list(value._fields),
                "items": [enc(v) for v in value]}
    if isinstance(value, (list, tuple)):
        return {"t": type(value).__name__, "items": [enc(v) for v in value]}
    if isinstance(value, dict):
        return {"t": "dict", "items": [[enc(k), enc(v)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return {"t": "set", "items": [enc(v) for v in value]}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: enc(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return {"t": "dataclass", "cls": _class_name(value), "fields": fields}
    if callable(value) and callables is not None:
        key = len(callables) + 1
        callables[key] = value
        return {"t": "callable", "id": key}
    try:
        text = repr(value)[:200]
    except Exception:  # noqa: BLE001 - a hostile __repr__
        text = ""
    return {"t": "unsupported", "type": type(value).__name__, "repr": text}


def _resolve(name: Any):
    """A class of an ``rnncourse`` module named ``module.Qual``, or None."""
    if not isinstance(name, str) or "." not in name:
        return None
    module, _, qual = name.rpartition(".")
    if not _NAME.match(module) or not _IDENT.match(qual):
        return None
    try:
        obj = getattr(importlib.import_module(module), qual, None)
    except Exception:  # noqa: BLE001 - not importable here
        return None
    return obj if isinstance(obj, type) else None


class _Decoder:
    def __init__(self, callback, limits: Limits):
        self.callback, self.limits = callback, limits
        self.nodes = 0
        self.array_bytes = 0

    def array(self, data: Any) -> np.ndarray:
        if not isinstance(data, str):
            raise CodecError("an array must be base64 text")
        if len(data) * 3 // 4 + self.array_bytes > self.limits.array_bytes:
            raise CodecError(f"arrays larger than {self.limits.array_bytes:,} bytes in all")
        try:
            raw = base64.b64decode(data, validate=True)
            arr = np.load(io.BytesIO(raw), allow_pickle=False)
        except Exception as err:  # noqa: BLE001 - bad base64, bad header, pickled data
            raise CodecError(f"not an .npy array without pickles ({type(err).__name__}: {err})") from None
        self.array_bytes += arr.nbytes
        return arr

    def items(self, tree, key="items") -> list:
        items = tree.get(key)
        if not isinstance(items, list):
            raise CodecError(f"{tree.get('t')} node without a list of items")
        return items

    def __call__(self, tree: Any, depth: int = 0):
        self.nodes += 1
        if self.nodes > self.limits.nodes:
            raise CodecError(f"more than {self.limits.nodes:,} values")
        if depth > self.limits.depth:
            raise CodecError(f"nested deeper than {self.limits.depth} levels")
        if not isinstance(tree, dict) or not isinstance(tree.get("t"), str):
            raise CodecError("every value must be an object with a type tag 't'")
        t = tree["t"]
        sub = lambda v: self(v, depth + 1)  # noqa: E731
        if t == "none":
            return None
        if t in ("bool", "int", "str"):
            v = tree.get("v")
            kind = {"bool": bool, "int": int, "str": str}[t]
            if type(v) is not kind:
                raise CodecError(f"{t} node with a value of type {type(v).__name__}")
            return v
        if t == "float":
            v = tree.get("v")
            if not isinstance(v, str) or len(v) > 40:
                raise CodecError("float node must hold its repr as text")
            try:
                return float(v)
            except ValueError:
                raise CodecError(f"not a float: {v[:40]!r}") from None
        if t == "nd":
            return self.array(tree.get("npy"))
        if t == "npscalar":
            arr = self.array(tree.get("npy"))
            if arr.ndim != 0:
                raise CodecError("npscalar node holding an array")
            return arr[()]
        if t == "list":
            return [sub(v) for v in self.items(tree)]
        if t == "tuple":
            return tuple(sub(v) for v in self.items(tree))
        if t == "set":
            return set(sub(v) for v in self.items(tree))
        if t == "namedtuple":
            values = [sub(v) for v in self.items(tree)]
            fields = tree.get("fields")
            if not (isinstance(fields, list) and len(fields) == len(values)
                    and all(isinstance(f, str) and _IDENT.match(f) for f in fields)):
                return tuple(values)
            cls = _resolve(tree.get("cls"))
            if cls is not None and issubclass(cls, tuple) and tuple(getattr(cls, "_fields", ())) == tuple(fields):
                return cls(*values)
            name = str(tree.get("cls", "")).rpartition(".")[2]
            try:
                return collections.namedtuple(name if _IDENT.match(name) else "Result", fields)(*values)
            except ValueError:
                return tuple(values)
        if t == "dict":
            out = {}
            for pair in self.items(tree):
                if not isinstance(pair, list) or len(pair) != 2:
                    raise CodecError("dict items must be [key, value] pairs")
                key = sub(pair[0])
                try:
                    hash(key)
                except TypeError:
                    raise CodecError("dict key that cannot be hashed") from None
                out[key] = sub(pair[1])
            return out
        if t == "rng":
            state = tree.get("state")
            name = state.get("bit_generator") if isinstance(state, dict) else None
            if name not in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"):
                raise CodecError(f"unknown bit generator {name!r}")
            bitgen = getattr(np.random, name)()
            try:
                bitgen.state = state
            except Exception as err:  # noqa: BLE001
                raise CodecError(f"bad generator state: {err}") from None
            return np.random.Generator(bitgen)
        if t == "dataclass":
            cls = _resolve(tree.get("cls"))
            fields = tree.get("fields")
            if cls is None or not dataclasses.is_dataclass(cls) or not isinstance(fields, dict):
                return Unsupported(str(tree.get("cls", "object")))
            names = {f.name for f in dataclasses.fields(cls) if f.init}
            if not set(fields) <= names:
                raise CodecError(f"unknown fields for {tree.get('cls')}")
            try:
                return cls(**{k: sub(v) for k, v in fields.items()})
            except CodecError:
                raise
            except Exception as err:  # noqa: BLE001 - the class's own validation refused it
                raise CodecError(f"{tree.get('cls')}: {err}") from None
        if t == "callable":
            key = tree.get("id")
            if self.callback is None or type(key) is not int:
                raise CodecError("a callable cannot be received here")
            callback = self.callback

            def proxy(*args, **kwargs):
                return callback(key, args, kwargs)
            return proxy
        if t == "unsupported":
            return Unsupported(str(tree.get("type", "object")), str(tree.get("repr", "")))
        raise CodecError(f"unknown type tag {t[:40]!r}")


def decode(tree: Any, callback: Optional[Callable] = None, limits: Limits = Limits()):
    """The value of ``tree``; ``callback(id, args, kwargs)`` serves callable nodes."""
    return _Decoder(callback, limits)(tree)


# ------------------------------------------------------------------ framing
def write_message(fileobj, obj) -> None:
    """Write one message: its length as 8 hex digits, then UTF-8 JSON."""
    data = json.dumps(obj).encode("utf-8")
    fileobj.write(b"%08x" % len(data) + data)
    fileobj.flush()


def read_message(fileobj, max_bytes: int = 64 * 2 ** 20):
    """Read one message (EOFError at a clean end of stream, CodecError when malformed)."""
    head = fileobj.read(8)
    if not head:
        raise EOFError
    try:
        size = int(head.decode("ascii"), 16)
    except (UnicodeDecodeError, ValueError):
        raise CodecError("bad message header") from None
    if len(head) != 8 or size > max_bytes:
        raise CodecError(f"message header {head[:8]!r}: too large or cut")
    body = fileobj.read(size)
    if len(body) != size:
        raise CodecError("message cut short")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise CodecError("message is not JSON") from None
