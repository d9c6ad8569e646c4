"""Values across the sandbox boundary: JSON trees whose arrays are ``.npy`` bytes, never pickles.

:func:`encode` turns a value into a tree of JSON-safe dicts and :func:`decode` turns a tree back
into a value.  Both the grader and the sandboxed worker use them, in both directions.

Node types
----------
==============================================================  ===================================
``{"t": "none"}``                                               None
``{"t": "bool", "v": b}``, ``{"t": "int", "v": i}``             bool, int
``{"t": "float", "v": "nan"}``                                  float, as its ``repr`` (nan, inf)
``{"t": "str", "v": s}``                                        str
``{"t": "nd", "npy": base64}``                                  ndarray (``np.save``, no pickle)
``{"t": "npscalar", "npy": base64}``                            NumPy scalar (a 0-d ``.npy``)
``{"t": "list" | "tuple", "items": [tree]}``                    list, tuple
``{"t": "namedtuple", "cls", "fields", "items"}``               NamedTuple (``module.QualName``)
``{"t": "dict", "items": [[key, value]]}``                      dict; keys str/int/float/bool/None
                                                                or tuples of those
``{"t": "rng", "state": dict}``                                 ``np.random.Generator``
``{"t": "dataclass", "cls", "fields": {name: tree}}``           dataclass (its ``init`` fields)
``{"t": "callable", "id": n}``                                  a function, called back over the
                                                                channel (see ``callables`` and
                                                                ``callback``)
``{"t": "unsupported", "type", "repr"}``                        anything else: decoded as an
                                                                :class:`Unsupported` placeholder
==============================================================  ===================================

Decoding trusts nothing.  It never unpickles or evaluates; the only names it resolves are
classes of ``rnncourse`` modules (``rnncourse`` or ``rnncourse.*``, imported from whichever
``rnncourse`` is importable: the student view inside the sandbox, the real package in the
grader), and only NamedTuples with the same fields or dataclasses are accepted from there.  An
unresolvable NamedTuple becomes a ``collections.namedtuple`` of the same fields (a plain tuple if
the fields are not identifiers), an unresolvable dataclass an :class:`Unsupported`.  Depth, node
count and array bytes are bounded (:class:`Limits`); a malformed tree raises :class:`CodecError`.

Framing: :func:`write_message` / :func:`read_message`, 8 ASCII hex digits of length then UTF-8
JSON.
"""
from __future__ import annotations

import base64
import collections
import dataclasses
import functools
import importlib
import io
import json
import math
import re
from typing import Any, Callable, Dict, Iterator, NamedTuple, Optional

import numpy as np

__all__ = ["CodecError", "Limits", "Unsupported", "encode", "decode", "write_message",
           "read_message"]


class CodecError(ValueError):
    """A tree or a message that is not a well-formed encoding of a value (or is too large)."""


class Limits(NamedTuple):
    """Bounds on one tree.

    Attributes
    ----------
    depth : int
        Deepest nesting of containers (the root is depth 0).
    nodes : int
        Number of nodes in the tree.
    array_bytes : int
        Total bytes (and elements) of all its arrays.
    """

    depth: int = 32
    nodes: int = 200_000
    array_bytes: int = 256 * 2 ** 20


class Unsupported:
    """Stands for a value that cannot cross the boundary (a generator, an open file...).

    Parameters
    ----------
    type_name : str
        The type of the original value.
    text : str
        The start of its ``repr`` (at most 200 characters).

    Notes
    -----
    An ``Unsupported`` is equal only to itself, so comparing it with an expected value fails, and
    its ``repr`` says what the value was.
    """

    __slots__ = ("type_name", "text")

    def __init__(self, type_name: str, text: str = ""):
        self.type_name = str(type_name)[:100]
        self.text = str(text)[:200]

    def __repr__(self) -> str:
        what = f": {self.text}" if self.text else ""
        return (f"<a value of type {self.type_name} that cannot be passed between the notebook "
                f"and the grader{what}>")

    __str__ = __repr__


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PART = r"(?!__)[A-Za-z_][A-Za-z0-9_]*"
_CLASS_NAME = re.compile(rf"rnncourse(?:\.{_PART})*\.{_PART}\Z")
_HEADER = re.compile(rb"[0-9a-fA-F]{8}\Z")
_KEY_TYPES = (str, int, float, bool, type(None))
_BITGENS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


# ---------------------------------------------------------------------------- encoding
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
        What to encode.  Values of other types than those of the module docstring become
        ``unsupported`` nodes (so does a part nested deeper than ``limits.depth``).
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


# ---------------------------------------------------------------------------- decoding
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
    return collections.namedtuple(name, fields)


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


# ---------------------------------------------------------------------------- framing
def write_message(fileobj, obj) -> None:
    """Write ``obj`` as one message (8 hex digits of length, then UTF-8 JSON) and flush.

    Raises
    ------
    CodecError
        ``obj`` is not JSON-serialisable or is larger than 4 GiB.
    """
    try:
        data = json.dumps(obj, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError, RecursionError) as err:
        raise CodecError(f"not a JSON message: {err}") from None
    if len(data) > 0xFFFFFFFF:
        raise CodecError("message larger than 4 GiB")
    fileobj.write(b"%08x" % len(data) + data)
    fileobj.flush()


def _read_exact(fileobj, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = fileobj.read(n - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_message(fileobj, max_bytes: int = 64 * 2 ** 20):
    """Read one message written by :func:`write_message`.

    Parameters
    ----------
    fileobj : binary file
        Read with ``read(n)`` (short reads are retried).
    max_bytes : int
        Longest message accepted; a longer one raises before its body is read.

    Returns
    -------
    The decoded JSON value.

    Raises
    ------
    EOFError
        The stream ended before the first byte of a message.
    CodecError
        Bad length header, oversize message, truncated body or invalid UTF-8/JSON.
    """
    head = _read_exact(fileobj, 8)
    if not head:
        raise EOFError("end of the message stream")
    if not _HEADER.match(head):
        raise CodecError(f"bad message header {head[:8]!r} (8 hex digits expected)")
    size = int(head, 16)
    if size > max_bytes:
        raise CodecError(f"message of {size:,} bytes (at most {max_bytes:,})")
    body = _read_exact(fileobj, size)
    if len(body) != size:
        raise CodecError(f"message cut short ({len(body):,} of {size:,} bytes)")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise CodecError(f"message is not UTF-8 JSON ({type(err).__name__})") from None
