r"""A synthetic translation task: dates in human formats to ISO 8601.

``"3rd of March 1987"``, ``"03/03/87"``, ``"Tuesday, March 3, 1987"`` and
``"1987 Mar 3"`` all translate to ``"1987-03-03"``.  The pairs are generated
on the fly from a seed, so the package ships no data file.  The task needs
what translation needs (reordering, copying digits, looking words up, and
dropping what carries no information, such as the weekday) on a scale that
trains in seconds on a CPU.

Formats (:data:`DATE_FORMATS`, all English; 3 March 1987 shown)
----------------------------------------------------------------
=================  ==========================  ===================================
name               example                     note
=================  ==========================  ===================================
``long``           ``3 March 1987``
``long_zero``      ``03 March 1987``
``ordinal_of``     ``3rd of March 1987``       1st 2nd 3rd 4th ... 11th 12th 13th 21st
``us_ordinal``     ``March 3rd, 1987``
``us_weekday``     ``Tuesday, March 3, 1987``  the true weekday (``datetime``)
``weekday_short``  ``Tue 3 Mar 1987``          the true weekday, abbreviated
``year_first``     ``1987 Mar 3``
``us_short``       ``Mar 3, 1987``
``upper``          ``3 MAR 1987``
``lower``          ``march 3 1987``
``us_slash``       ``03/03/87``                month first (US), two-digit year
``dotted``         ``3.3.1987``                day first (European)
``compact``        ``19870303``                year, month, day
=================  ==========================  ===================================

Numeric formats are unambiguous by their separator: a slash is always
month/day/year, a dot always day.month.year.  Years are drawn from
:data:`YEARS` = 1969 .. 2068, exactly the window in which a two-digit year
``yy`` means what ``datetime.strptime("%y")`` (POSIX) says it means
(69..99 -> 1969..1999, 00..68 -> 2000..2068), so ``"03/03/87"`` has one answer.

Held-out split: by date
-----------------------
A fixed 10 % of the 36 525 days in :data:`YEARS` (chosen by a permutation
with a constant seed, the same in every call and on every machine) is
*held out*: ``split="test"`` draws only those days, ``split="train"`` never
does, in any format.  Splitting by (format, date) instead would leak: a
held-out "3rd of March 1987" would have its exact target string
``1987-03-03`` in the training set under another format, so the test would
measure format recognition rather than generalisation to unseen dates.

Vocabularies and padding: :func:`date_vocabularies` returns the source
vocabulary (``PAD`` at index 0 and every character any format can produce)
and the target vocabulary (digits, ``-`` and EOS); encode pairs with
:func:`rnncourse.seqpairs.encode_pairs`, whose docstring gives the padding
and EOS conventions.
"""
from __future__ import annotations

import datetime as _dt
from functools import lru_cache
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ._validation import ShapeChecker, as_rng
from .seqpairs import source_vocabulary, target_vocabulary
from .text import Vocabulary

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
            "Sunday")
YEARS = (1969, 2068)                 # inclusive; see the module docstring for why
HELD_OUT_FRACTION = 0.1
_SPLIT_SEED = 20150519               # fixed: the held-out days never change


def ordinal(day: int) -> str:
    """``1 -> "1st"``, ``3 -> "3rd"``, ``11 -> "11th"``, ``22 -> "22nd"``."""
    if 10 <= day % 100 <= 20:
        return f"{day}th"
    return str(day) + {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def _month(d): return MONTHS[d.month - 1]
def _mon(d): return MONTHS[d.month - 1][:3]
def _weekday(d): return WEEKDAYS[d.weekday()]          # date.weekday(): Monday is 0


_FORMATTERS: Dict[str, Callable[[_dt.date], str]] = {
    "long": lambda d: f"{d.day} {_month(d)} {d.year}",
    "long_zero": lambda d: f"{d.day:02d} {_month(d)} {d.year}",
    "ordinal_of": lambda d: f"{ordinal(d.day)} of {_month(d)} {d.year}",
    "us_ordinal": lambda d: f"{_month(d)} {ordinal(d.day)}, {d.year}",
    "us_weekday": lambda d: f"{_weekday(d)}, {_month(d)} {d.day}, {d.year}",
    "weekday_short": lambda d: f"{_weekday(d)[:3]} {d.day} {_mon(d)} {d.year}",
    "year_first": lambda d: f"{d.year} {_mon(d)} {d.day}",
    "us_short": lambda d: f"{_mon(d)} {d.day}, {d.year}",
    "upper": lambda d: f"{d.day} {_mon(d).upper()} {d.year}",
    "lower": lambda d: f"{_month(d).lower()} {d.day} {d.year}",
    "us_slash": lambda d: f"{d.month:02d}/{d.day:02d}/{d.year % 100:02d}",
    "dotted": lambda d: f"{d.day}.{d.month}.{d.year}",
    "compact": lambda d: f"{d.year:04d}{d.month:02d}{d.day:02d}",
}
DATE_FORMATS: Tuple[str, ...] = tuple(_FORMATTERS)


def format_date(date: _dt.date, fmt: str) -> str:
    """``date`` written in the format named ``fmt`` (one of :data:`DATE_FORMATS`)."""
    chk = ShapeChecker("format_date")
    if not isinstance(date, _dt.date):
        chk.fail(f"date must be a datetime.date, got {type(date).__name__}")
    chk.choice("fmt", fmt, DATE_FORMATS)
    return _FORMATTERS[fmt](date)


def iso(date: _dt.date) -> str:
    """The target: ``YYYY-MM-DD``."""
    return date.isoformat()


@lru_cache(maxsize=1)
def _days() -> Tuple[np.ndarray, np.ndarray, frozenset]:
    first = _dt.date(YEARS[0], 1, 1).toordinal()
    last = _dt.date(YEARS[1], 12, 31).toordinal()
    days = np.arange(first, last + 1)
    perm = np.random.default_rng(_SPLIT_SEED).permutation(days.size)
    n_test = int(round(HELD_OUT_FRACTION * days.size))
    test = np.sort(days[perm[:n_test]])
    train = np.sort(days[perm[n_test:]])
    return train, test, frozenset(test.tolist())


def is_held_out(date: _dt.date) -> bool:
    """True when ``date`` belongs to the held-out (``split="test"``) days."""
    return date.toordinal() in _days()[2]


def split_days(split: str) -> List[_dt.date]:
    """Every day of the split (``"train"``: 32 873 days, ``"test"``: 3 652), in order.
    """
    ShapeChecker("split_days").choice("split", split, ("train", "test"))
    days = _days()[0 if split == "train" else 1]
    return [_dt.date.fromordinal(int(o)) for o in days]


def date_pairs(n: int, rng, split: str = "train",
               formats: Optional[Sequence[str]] = None):
    """n random (human-written date, ISO date) pairs.

    Parameters
    ----------
    n : number of pairs.
    rng : int seed or ``numpy.random.Generator``; the same seed gives the same pairs.
    split : ``"train"`` or ``"test"`` (the held-out days; see the module docstring).
    formats : names from :data:`DATE_FORMATS` to draw from uniformly (default all).

    Returns
    -------
    sources : list of n str, e.g. ``"Tuesday, March 3, 1987"``.
    targets : list of n str, e.g. ``"1987-03-03"``.
    """
    chk = ShapeChecker("date_pairs")
    n = chk.positive_int("n", n)
    chk.choice("split", split, ("train", "test"))
    if formats is None:
        formats = DATE_FORMATS
    if isinstance(formats, str) or not len(formats):
        chk.fail(f"formats must be a non-empty list of names from DATE_FORMATS, "
                 f"got {formats!r}")
    for f in formats:
        chk.choice("formats", f, DATE_FORMATS)
    g = as_rng(rng, "date_pairs")
    days = _days()[0 if split == "train" else 1]
    picked = days[g.integers(0, days.size, size=n)]
    which = g.integers(0, len(formats), size=n)
    dates = [_dt.date.fromordinal(int(o)) for o in picked]
    sources = [_FORMATTERS[formats[k]](d) for k, d in zip(which, dates)]
    return sources, [iso(d) for d in dates]


def _source_chars() -> str:
    words = MONTHS + WEEKDAYS + ("of", "st", "nd", "rd", "th")
    return ("".join(words) + "".join(m.upper()[:3] for m in MONTHS)
            + "".join(m.lower() for m in MONTHS) + "0123456789 ,./")


def date_vocabularies() -> Tuple[Vocabulary, Vocabulary]:
    """(source, target) vocabularies of the task.

    source: ``PAD`` at index 0 and every character of every format (letters of
    the month and weekday names in the cases used, digits, space, ``,./``);
    target: EOS at index 0, then ``-`` and the digits ``0..9`` (12 symbols).
    """
    return source_vocabulary(_source_chars()), target_vocabulary("0123456789-")
