"""The codec's shared types: :class:`CodecError`, :class:`Limits`, :class:`Unsupported`.

They are documented and imported as ``rnncourse_grader.codec.<name>`` (see :mod:`.codec`); their
``__module__`` says so, as it did when they were defined there, so that the type name an
:class:`Unsupported` carries across the boundary is unchanged.
"""
from __future__ import annotations

from typing import NamedTuple

#: the module the codec's names are imported from (``rnncourse_grader.codec``; run by path, the
#: worker's private copy of it)
PUBLIC_MODULE = __name__.rpartition(".")[0] + ".codec" if "." in __name__ else "codec"

# dict keys the codec carries (and tuples of them)
KEY_TYPES = (str, int, float, bool, type(None))


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



for _cls in (CodecError, Limits, Unsupported):
    _cls.__module__ = PUBLIC_MODULE
del _cls
