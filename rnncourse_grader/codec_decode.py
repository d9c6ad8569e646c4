"""Decoding, trusting nothing: a codec tree as a value (:func:`decode`; nodes: :mod:`.codec`)."""
from __future__ import annotations

import base64
import collections
import dataclasses
import functools
import importlib
import io
import math
import re
from typing import Any, Callable, Optional

import numpy as np

from .codec_types import KEY_TYPES as _KEY_TYPES
from .codec_types import PUBLIC_MODULE, CodecError, Limits, Unsupported

__all__ = ["decode"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PART = r"(?!__)[A-Za-z_][A-Za-z0-9_]*"
_CLASS_NAME = re.compile(rf"rnncourse(?:\.{_PART})*\.{_PART}\Z")
_BITGENS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def _resolve(name: Any) -> Optional[type]:
    """The class ``module.QualName`` of an ``rnncourse`` module, or None."""
    if not isinstance(name, str) or len(name) > 200 or not _CLASS_NAME.match(name):
        return None
    module, _, qual = name.rpartition(".")
    try:
        obj = importlib.import_module(module).__dict__.get(qual)
    except Exception:  # noqa: BLE001 - not importable here
        return None
    return obj if isinstance(obj, type) else None


@functools.lru_cache(maxsize=256)
def _namedtuple(name: str, fields: tuple) -> type:
    return collections.namedtuple(name, fields, module=PUBLIC_MODULE)


def _check_state(obj, depth: int = 0, count: list = None) -> None:
    """Raise CodecError unless ``obj`` is a small tree of dicts, lists, str and int."""
    count = [0] if count is None else count
    count[0] += 1
    if depth > 4 or count[0] > 5000:
        raise CodecError("random generator state too large")
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_state(v, depth + 1, count)
    elif isinstance(obj, list):
        for v in obj:
            _check_state(v, depth + 1, count)
    elif type(obj) not in (str, int):
        raise CodecError(f"random generator state holding a {type(obj).__name__}")


def _is_key(key) -> bool:
    if type(key) is tuple:
        return all(_is_key(k) for k in key)
    return type(key) in _KEY_TYPES


class _Decoder:
    def __init__(self, callback: Optional[Callable], limits: Limits):
        self.callback, self.limits = callback, limits
        self.nodes = 0
        self.array_bytes = 0

    def array(self, data: Any) -> np.ndarray:
        if not isinstance(data, str):
            raise CodecError("an array node must hold its .npy bytes as base64 text")
        left = self.limits.array_bytes - self.array_bytes
        if len(data) // 4 * 3 > left + 4096:
            raise CodecError(f"arrays larger than {self.limits.array_bytes:,} bytes in all")
        try:
            raw = base64.b64decode(data, validate=True)
        except ValueError:
            raise CodecError("an array node's data is not valid base64") from None
        fp = io.BytesIO(raw)
        fmt = np.lib.format
        try:
            version = fmt.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = fmt.read_array_header_1_0(fp)
            elif version == (2, 0):
                shape, fortran, dtype = fmt.read_array_header_2_0(fp)
            else:
                raise ValueError(f".npy version {version} is not accepted")
        except Exception as err:  # noqa: BLE001 - bad magic or header
            raise CodecError(f"an array node is not .npy data ({err})") from None
        if dtype.hasobject:
            raise CodecError("an array of Python objects (dtype=object) is refused: it would "
                             "need a pickle")
        if any(type(n) is not int or n < 0 for n in shape):
            raise CodecError(f"an array with the shape {shape!r}")
        count = math.prod(shape)
        nbytes = count * dtype.itemsize
        if max(nbytes, count) > left:
            raise CodecError(f"arrays larger than {self.limits.array_bytes:,} bytes in all")
        if len(raw) - fp.tell() != nbytes:
            raise CodecError(f"an array node's data has {len(raw) - fp.tell():,} bytes, its "
                             f"header announces {nbytes:,}")
        fp.seek(0)
        try:
            arr = fmt.read_array(fp, allow_pickle=False)
        except Exception as err:  # noqa: BLE001
            raise CodecError(f"an array node is not valid .npy data ({err})") from None
        self.array_bytes += max(nbytes, count)
        return arr

    def items(self, tree: dict) -> list:
        items = tree.get("items")
        if not isinstance(items, list):
            raise CodecError(f"a {tree['t']} node without a list of items")
        return items

    def __call__(self, tree: Any, depth: int = 0):
        self.nodes += 1
        if self.nodes > self.limits.nodes:
            raise CodecError(f"a value with more than {self.limits.nodes:,} parts")
        if depth > self.limits.depth:
            raise CodecError(f"a value nested deeper than {self.limits.depth} levels")
        if not isinstance(tree, dict) or not isinstance(tree.get("t"), str):
            raise CodecError("every node must be an object with a type tag 't'")
        method = getattr(self, "n_" + tree["t"], None) if _IDENT.match(tree["t"]) else None
        if method is None:
            raise CodecError(f"unknown node type {tree['t'][:40]!r}")
        return method(tree, depth)

    def n_none(self, tree, depth):
        return None

    def _plain(self, tree, kind):
        v = tree.get("v")
        if type(v) is not kind:
            raise CodecError(f"a {tree['t']} node whose value is a {type(v).__name__}")
        return v

    def n_bool(self, tree, depth):
        return self._plain(tree, bool)

    def n_int(self, tree, depth):
        return self._plain(tree, int)

    def n_str(self, tree, depth):
        return self._plain(tree, str)

    def n_float(self, tree, depth):
        v = tree.get("v")
        if not isinstance(v, str) or len(v) > 40:
            raise CodecError("a float node must hold the float's repr as text")
        try:
            return float(v)
        except ValueError:
            raise CodecError(f"not a float: {v!r}") from None

    def n_nd(self, tree, depth):
        return self.array(tree.get("npy"))

    def n_npscalar(self, tree, depth):
        arr = self.array(tree.get("npy"))
        if arr.ndim != 0:
            raise CodecError(f"an npscalar node holding an array of shape {arr.shape}")
        return arr[()]

    def n_list(self, tree, depth):
        return [self(v, depth + 1) for v in self.items(tree)]

    def n_tuple(self, tree, depth):
        return tuple(self(v, depth + 1) for v in self.items(tree))

    def n_namedtuple(self, tree, depth):
        values = [self(v, depth + 1) for v in self.items(tree)]
        fields = tree.get("fields")
        if not (isinstance(fields, list) and len(fields) == len(values)
                and all(isinstance(f, str) for f in fields)):
            raise CodecError("a namedtuple node needs one field name per item")
        cls = _resolve(tree.get("cls"))
        if (cls is not None and issubclass(cls, tuple)
                and tuple(getattr(cls, "_fields", ())) == tuple(fields)):
            try:
                return cls(*values)
            except Exception:  # noqa: BLE001 - a __new__ with extra checks: fall back
                pass
        name = str(tree.get("cls", "")).rpartition(".")[2]
        name = name if _IDENT.match(name) and not name.startswith("_") else "NamedTuple"
        try:
            return _namedtuple(name, tuple(fields))(*values)
        except (ValueError, TypeError):          # fields that are not identifiers
            return tuple(values)

    def n_dict(self, tree, depth):
        out = {}
        for pair in self.items(tree):
            if not isinstance(pair, list) or len(pair) != 2:
                raise CodecError("dict items must be [key, value] pairs")
            key = self(pair[0], depth + 1)
            if not _is_key(key):
                raise CodecError(f"a dict key of type {type(key).__name__} (keys are str, int, "
                                 "float, bool, None or tuples of those)")
            out[key] = self(pair[1], depth + 1)
        return out

    def n_rng(self, tree, depth):
        state = tree.get("state")
        name = state.get("bit_generator") if isinstance(state, dict) else None
        if name not in _BITGENS:
            raise CodecError(f"a random generator with the bit generator {str(name)[:40]!r}")
        _check_state(state)
        bitgen = getattr(np.random, name)()
        try:
            bitgen.state = state
        except Exception as err:  # noqa: BLE001 - NumPy's own validation
            raise CodecError(f"a bad {name} state ({err})") from None
        return np.random.Generator(bitgen)

    def n_dataclass(self, tree, depth):
        fields = tree.get("fields")
        if not isinstance(fields, dict):
            raise CodecError("a dataclass node needs a fields object")
        values = {str(k): self(v, depth + 1) for k, v in fields.items()}
        cls = _resolve(tree.get("cls"))
        if cls is None or not dataclasses.is_dataclass(cls):
            return Unsupported(str(tree.get("cls", "dataclass"))[:100],
                               "a dataclass that does not exist here")
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        if not set(values) <= names:
            raise CodecError(f"unknown fields {sorted(set(values) - names)} for {cls.__qualname__}")
        try:
            return cls(**values)
        except Exception as err:  # noqa: BLE001 - the class's own validation refused it
            raise CodecError(f"{cls.__qualname__}(...) refused the fields: {err}") from None

    def n_callable(self, tree, depth):
        key = tree.get("id")
        if type(key) is not int:
            raise CodecError("a callable node needs an integer id")
        if self.callback is None:
            raise CodecError("a function cannot be passed here (callable node without a callback)")
        callback = self.callback

        def grader_function(*args, **kwargs):
            return callback(key, args, kwargs)
        return grader_function

    def n_unsupported(self, tree, depth):
        return Unsupported(str(tree.get("type", "object")), str(tree.get("repr", "")))


def decode(tree: Any, callback: Optional[Callable] = None, limits: Limits = Limits()):
    """The value of ``tree``.

    Parameters
    ----------
    tree : JSON-like
        A tree made by :func:`encode` (or anything at all: it is checked).
    callback : callable or None
        ``callback(id, args, kwargs)`` is what a decoded callable node calls; without a
        callback a callable node is an error.
    limits : Limits
        Bounds on depth, node count and array bytes.

    Returns
    -------
    The value.

    Raises
    ------
    CodecError
        The tree is malformed, refers to something that is refused, or exceeds ``limits``.
    """
    return _Decoder(callback, limits)(tree)
