r"""Characters to integers and back, and one-hot vectors.

A character-level model sees text as a sequence of symbols drawn from a
fixed, finite set, the *vocabulary*.  Each symbol gets an index
``0 .. K-1``; the network's input at step t is the one-hot vector of the
index (notes' ``x_t``, Ng's ``x^<t>``), and its output is a distribution
over the same K symbols.

End-of-sequence convention
--------------------------
A :class:`Vocabulary` may name one of its symbols the *end-of-sequence*
(EOS) symbol, ``vocab.eos``, with index ``vocab.eos_index``:

* by default it is the newline ``"\n"``: a corpus made of lines (names,
  verses, dialogue) then ends every sequence with EOS without any change
  to the text, as in Ng's character-level name generator;
* a character that does not occur in the text (e.g. ``"\x03"``, ASCII
  "end of text") can be passed instead: it is added as a dedicated symbol
  and only appears where ``encode(..., add_eos=True)`` puts it;
* ``eos=None`` gives a vocabulary without EOS.

:func:`rnncourse.charlm.sample` starts generating from the EOS symbol (the
model's "a new sequence begins" context) and, with ``stop_at_eos=True``,
stops as soon as it draws EOS.  ``decode(encode(s)) == s`` for every string
made of vocabulary characters (EOS included: it is an ordinary character).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import numpy as np

from ._validation import ShapeChecker


def _describe(ch: str) -> str:
    return f"{ch!r} (U+{ord(ch):04X})"


@dataclass(frozen=True)
class Vocabulary:
    """An ordered set of characters, each with an integer index.

    Attributes
    ----------
    chars : tuple of str
        The K symbols; ``chars[i]`` has index i.  Each is a single character
        and no character appears twice.
    eos : str or None
        The end-of-sequence character (one of ``chars``), or ``None``.

    Build one with :meth:`from_text`; ``size`` is K, ``eos_index`` the index
    of ``eos`` (``None`` without EOS).
    """

    chars: Tuple[str, ...]
    eos: Optional[str] = "\n"
    _index: Dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        chars = self.chars
        if isinstance(chars, str) or not isinstance(chars, (tuple, list)):
            raise ValueError(f"Vocabulary: chars must be a tuple of single characters, "
                             f"got {type(chars).__name__}")
        chars = tuple(chars)
        for i, ch in enumerate(chars):
            if not isinstance(ch, str) or len(ch) != 1:
                raise ValueError(f"Vocabulary: chars[{i}] must be a single character, got {ch!r}")
        index: Dict[str, int] = {}
        for i, ch in enumerate(chars):
            if ch in index:
                raise ValueError(f"Vocabulary: character {_describe(ch)} appears twice "
                                 f"(at {index[ch]} and {i})")
            index[ch] = i
        if not chars:
            raise ValueError("Vocabulary: chars must not be empty")
        if self.eos is not None and self.eos not in index:
            raise ValueError(f"Vocabulary: eos {self.eos!r} must be one of chars")
        object.__setattr__(self, "chars", chars)
        object.__setattr__(self, "_index", index)

    @classmethod
    def from_text(cls, text: str, eos: Optional[str] = "\n") -> "Vocabulary":
        """The vocabulary of the characters of ``text``, sorted by code point.

        Parameters
        ----------
        text : str
            The corpus.
        eos : str or None
            End-of-sequence character.  If it does not occur in ``text`` it
            is added as a dedicated symbol at index 0; ``None``: no EOS.

        Returns
        -------
        Vocabulary
        """
        if not isinstance(text, str):
            raise ValueError(f"Vocabulary.from_text: text must be a str, got {type(text).__name__}")
        if eos is not None and (not isinstance(eos, str) or len(eos) != 1):
            raise ValueError(f"Vocabulary.from_text: eos must be a single character or None, "
                             f"got {eos!r}")
        chars = sorted(set(text))
        if eos is not None and eos not in chars:
            chars = [eos] + chars
        if not chars:
            raise ValueError("Vocabulary.from_text: text is empty and there is no eos symbol")
        return cls(tuple(chars), eos)

    @property
    def size(self) -> int:
        """K, the number of symbols."""
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def eos_index(self) -> Optional[int]:
        """Index of the EOS symbol, or ``None`` when the vocabulary has none."""
        return None if self.eos is None else self._index[self.eos]

    def index(self, ch: str) -> int:
        """Index of one character (ValueError naming it if unknown)."""
        try:
            return self._index[ch]
        except (KeyError, TypeError):
            raise ValueError(f"Vocabulary.index: character {ch!r} is not in the "
                             f"vocabulary") from None

    def encode(self, text: str, add_eos: bool = False) -> np.ndarray:
        """Indices of the characters of ``text``.

        Parameters
        ----------
        text : str
        add_eos : bool
            Append the EOS index (ValueError if the vocabulary has no EOS).

        Returns
        -------
        (L,) int64 array, ``L = len(text)`` (+1 with ``add_eos``).

        Raises
        ------
        ValueError
            Naming the first character that is not in the vocabulary and its position.
        """
        if not isinstance(text, str):
            raise ValueError(f"Vocabulary.encode: text must be a str, got {type(text).__name__}")
        index = self._index
        try:
            out = [index[ch] for ch in text]
        except KeyError:
            pos = next(i for i, ch in enumerate(text) if ch not in index)
            raise ValueError(f"Vocabulary.encode: character {_describe(text[pos])} at position "
                             f"{pos} is not in the vocabulary ({self.size} symbols)") from None
        if add_eos:
            if self.eos is None:
                raise ValueError("Vocabulary.encode: add_eos=True but the vocabulary has no eos")
            out.append(index[self.eos])
        return np.asarray(out, dtype=np.int64)

    def decode(self, indices) -> str:
        """The string of the characters with these indices.

        Parameters
        ----------
        indices : (L,) integer array, list of ints, or a single int.

        Returns
        -------
        str of length L.
        """
        arr = np.asarray(indices)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        chk = ShapeChecker("Vocabulary.decode")
        if arr.size == 0:
            return ""
        arr = chk.array("indices", arr, "L", dtype="int")
        bad = (arr < 0) | (arr >= self.size)
        if bad.any():
            i = int(np.argmax(bad))
            chk.fail(f"indices must lie in [0, {self.size}), got {int(arr[i])} at position {i}")
        chars = self.chars
        return "".join(chars[i] for i in arr.tolist())


def one_hot(indices, K: int) -> np.ndarray:
    """One-hot vectors: ``out[..., k] = 1.0 if indices[...] == k else 0.0``.

    Parameters
    ----------
    indices : (...) integer array with entries in ``[0, K)``, e.g. (N, T).
    K : int, number of classes (the vocabulary size).

    Returns
    -------
    (..., K) float64 array, e.g. (N, T, K): the inputs ``x`` of a character model.
    """
    chk = ShapeChecker("one_hot")
    K = chk.positive_int("K", K)
    arr = np.asarray(indices)
    if not np.issubdtype(arr.dtype, np.integer):
        chk.fail(f"indices must be an integer array, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= K):
        bad = tuple(int(i) for i in np.argwhere((arr < 0) | (arr >= K))[0])
        chk.fail(f"indices must lie in [0, {K}), got {int(arr[bad])} at index {bad}")
    out = np.zeros(arr.shape + (K,))
    np.put_along_axis(out, arr[..., None].astype(np.intp), 1.0, axis=-1)
    return out
