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

This module is the codec's interface; the code is in :mod:`.codec_types` (:class:`CodecError`,
:class:`Limits`, :class:`Unsupported`), :mod:`.codec_encode`, :mod:`.codec_decode` and
:mod:`.codec_framing`.
"""
from __future__ import annotations

from .codec_decode import decode
from .codec_encode import encode
from .codec_framing import read_message, write_message
from .codec_types import CodecError, Limits, Unsupported

__all__ = ["CodecError", "Limits", "Unsupported", "encode", "decode", "write_message",
           "read_message"]
