"""Encoding: a value as a codec tree (:func:`encode`; node types in :mod:`.codec`)."""
from __future__ import annotations

import base64
import dataclasses
import io
import re
from typing import Any, Callable, Dict, Iterator, Optional

import numpy as np

from .codec_types import KEY_TYPES as _KEY_TYPES
from .codec_types import CodecError, Limits

__all__ = ["encode"]


def _npy(arr: np.ndarray) -> str:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _type_name(obj) -> str:
    cls = type(obj)
    module = getattr(cls, "__module__", None)
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module in (None, "builtins") else f"{module}.{name}"


def _unsupported(value, type_name: Optional[str] = None) -> dict:
    try:
        text = repr(value)[:200]
    except Exception:  # noqa: BLE001 - a hostile or broken __repr__
        text = ""
    return {"t": "unsupported", "type": type_name or _type_name(value), "repr": text}


def _plain_key(key):
    """A dict key as a key type the codec allows (NumPy scalars become Python ones), or raise."""
    if isinstance(key, (np.bool_, np.integer, np.floating)):
        key = key.item()
    if type(key) in _KEY_TYPES or isinstance(key, _KEY_TYPES):
        return key
    if type(key) is tuple:
        return tuple(_plain_key(k) for k in key)
    raise TypeError(type(key).__name__)


def _plain_state(obj, depth: int = 0):
    """A bit generator's state with its arrays as lists (JSON-safe)."""
    if depth > 4:
        raise TypeError("bit generator state nested too deeply")
    if isinstance(obj, dict):
        return {str(k): _plain_state(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (str, int, list)) and not isinstance(obj, float):
        return obj
    raise TypeError(type(obj).__name__)


class _Encoder:
    def __init__(self, callables: Optional[Dict[int, Callable]], limits: Limits, ids=None):
        self.callables, self.limits, self.ids = callables, limits, ids
        self.nodes = 0
        self.array_bytes = 0

    def array(self, arr: np.ndarray, tag: str) -> dict:
        self.array_bytes += max(arr.nbytes, arr.size)
        if self.array_bytes > self.limits.array_bytes:
            raise CodecError(f"the value's arrays hold more than {self.limits.array_bytes:,} bytes")
        return {"t": tag, "npy": _npy(arr)}

    def __call__(self, value: Any, depth: int = 0) -> dict:
        self.nodes += 1
        if self.nodes > self.limits.nodes:
            raise CodecError(f"the value has more than {self.limits.nodes:,} parts")
        if value is None:
            return {"t": "none"}
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                return _unsupported(value, "numpy.ndarray of Python objects (dtype=object)")
            return self.array(value, "nd")
        if isinstance(value, np.generic):
            if np.asarray(value).dtype.hasobject:
                return _unsupported(value)
            return self.array(np.asarray(value), "npscalar")
        if isinstance(value, bool):
            return {"t": "bool", "v": bool(value)}
        if isinstance(value, int):
            return {"t": "int", "v": int(value)}
        if isinstance(value, float):
            return {"t": "float", "v": repr(float(value))}
        if isinstance(value, str):
            return {"t": "str", "v": str(value)}
        if isinstance(value, np.random.Generator):
            try:
                return {"t": "rng", "state": _plain_state(value.bit_generator.state)}
            except TypeError:
                return _unsupported(value)
        if isinstance(value, (list, tuple, dict)) or (
                dataclasses.is_dataclass(value) and not isinstance(value, type)):
            if depth >= self.limits.depth:
                return _unsupported(value, f"{_type_name(value)} nested deeper than "
                                           f"{self.limits.depth} levels")
            return self.container(value, depth + 1)
        if callable(value) and self.callables is not None:
            key = next(self.ids) if self.ids is not None else len(self.callables) + 1
            while key in self.callables:
                key += 1
            self.callables[key] = value
            return {"t": "callable", "id": key}
        return _unsupported(value)

    def container(self, value, depth: int) -> dict:
        if isinstance(value, tuple) and isinstance(getattr(value, "_fields", None), tuple):
            return {"t": "namedtuple", "cls": _course_name(type(value)),
                    "fields": [str(f) for f in value._fields],
                    "items": [self(v, depth) for v in value]}
        if isinstance(value, (list, tuple)):
            return {"t": "list" if isinstance(value, list) else "tuple",
                    "items": [self(v, depth) for v in value]}
        if isinstance(value, dict):
            try:
                keys = [_plain_key(k) for k in value]
            except TypeError as err:
                return _unsupported(value, f"dict with a key of type {err}")
            return {"t": "dict", "items": [[self(k, depth), self(v, depth)]
                                           for k, v in zip(keys, value.values())]}
        fields = {f.name: self(getattr(value, f.name), depth)
                  for f in dataclasses.fields(value) if f.init}
        return {"t": "dataclass", "cls": _course_name(type(value)),
                "fields": fields}


_PRIVATE_COPY = re.compile(r"^_rnncourse_private_\d+_\d+(?=\.|$)")


def _course_name(cls) -> str:
    """``module.QualName`` of a class; the grader's private copies of the package
    (``rnncourse.grading.private_rnncourse``, ``_rnncourse_private_<pid>_<n>.text``) are named
    as ``rnncourse`` so that the other side resolves them to its own classes."""
    return f"{_PRIVATE_COPY.sub('rnncourse', str(cls.__module__))}.{cls.__qualname__}"


def encode(value: Any, callables: Optional[Dict[int, Callable]] = None,
           limits: Limits = Limits(), ids: Optional[Iterator[int]] = None) -> dict:
    """The tree of ``value``.

    Parameters
    ----------
    value : any
        What to encode.  Values of other types than those of the table of
        :mod:`rnncourse_grader.codec` become ``unsupported`` nodes (so does a part nested deeper
        than ``limits.depth``).
    callables : dict or None
        If given, each callable found in ``value`` is stored in it under a new integer id and
        encoded as ``{"t": "callable", "id": id}``; if None, callables are ``unsupported``.
    ids : iterator of int or None
        Where the new ids come from (a session's counter, so that no id is ever used for two
        calls); default: the smallest free one from 1.
    limits : Limits
        ``nodes`` and ``array_bytes`` bound the tree.

    Returns
    -------
    dict
        A JSON-safe tree.

    Raises
    ------
    CodecError
        The value has more than ``limits.nodes`` parts or ``limits.array_bytes`` of arrays.
    """
    return _Encoder(callables, limits, ids)(value)
