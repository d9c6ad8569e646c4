"""The dates task and the sequence-pair batches: independent parsing with datetime.strptime,
weekdays, the held-out split, reproducibility, padding conventions, input checks."""
import datetime as dt
import re

import numpy as np
import pytest

from rnncourse.dates import (DATE_FORMATS, YEARS, date_pairs, date_vocabularies, format_date,
                             is_held_out, ordinal, split_days)
from rnncourse.seqpairs import (PAD, encode_pairs, reversal_task, reversal_vocabularies)

# format name -> strptime pattern applied after removing ordinal suffixes (C locale, English)
STRPTIME = {
    "long": "%d %B %Y", "long_zero": "%d %B %Y", "ordinal_of": "%d of %B %Y",
    "us_ordinal": "%B %d, %Y", "us_weekday": "%A, %B %d, %Y", "weekday_short": "%a %d %b %Y",
    "year_first": "%Y %b %d", "us_short": "%b %d, %Y", "upper": "%d %b %Y", "lower": "%B %d %Y",
    "us_slash": "%m/%d/%y", "dotted": "%d.%m.%Y", "compact": "%Y%m%d",
}


def parse(text, fmt):
    return dt.datetime.strptime(re.sub(r"(\d+)(st|nd|rd|th)\b", r"\1", text), STRPTIME[fmt]).date()


def zeller_weekday(d):
    """Monday = 0 .. Sunday = 6, by Zeller's congruence (no datetime)."""
    y, m = (d.year - 1, d.month + 12) if d.month < 3 else (d.year, d.month)
    K, J = y % 100, y // 100
    h = (d.day + 13 * (m + 1) // 5 + K + K // 4 + J // 4 + 5 * J) % 7
    return (h + 5) % 7                                   # Zeller: 0 = Saturday


def test_every_format_is_covered_by_the_independent_parser():
    assert set(STRPTIME) == set(DATE_FORMATS)


@pytest.mark.parametrize("fmt", DATE_FORMATS)
def test_every_format_parses_back_to_the_same_date(fmt):
    rng = np.random.default_rng(0)
    first, last = dt.date(YEARS[0], 1, 1).toordinal(), dt.date(YEARS[1], 12, 31).toordinal()
    days = [dt.date.fromordinal(int(o)) for o in rng.integers(first, last + 1, 400)]
    days += [dt.date(YEARS[0], 1, 1), dt.date(YEARS[1], 12, 31), dt.date(2000, 2, 29),
             dt.date(1987, 3, 3), dt.date(2011, 11, 11), dt.date(2023, 12, 22)]
    for d in days:
        text = format_date(d, fmt)
        assert parse(text, fmt) == d, (fmt, text)


def test_examples_from_the_issue():
    d = dt.date(1987, 3, 3)
    assert format_date(d, "ordinal_of") == "3rd of March 1987"
    assert format_date(d, "us_slash") == "03/03/87"
    assert format_date(d, "us_weekday") == "Tuesday, March 3, 1987"
    assert format_date(d, "year_first") == "1987 Mar 3"


def test_ordinals():
    want = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 11: "11th", 12: "12th", 13: "13th",
            21: "21st", 22: "22nd", 23: "23rd", 30: "30th", 31: "31st"}
    assert {k: ordinal(k) for k in want} == want


@pytest.mark.parametrize("fmt,width", [("us_weekday", None), ("weekday_short", 3)])
def test_weekday_is_the_true_weekday(fmt, width):
    names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    sources, targets = date_pairs(500, 3, formats=[fmt])
    for s, t in zip(sources, targets):
        d = dt.date.fromisoformat(t)
        name = names[zeller_weekday(d)]
        assert s.startswith(name if width is None else name[:width] + " "), (s, t)


def test_targets_are_iso_of_the_sources():
    for split in ("train", "test"):
        sources, targets = date_pairs(300, 1, split=split)
        for s, t in zip(sources, targets):
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", t)
            assert any(_parses_to(s, f, t) for f in DATE_FORMATS), (s, t)


def _parses_to(s, f, t):
    try:
        return parse(s, f).isoformat() == t
    except ValueError:
        return False


def test_seeded_reproducibility_and_fresh_batches():
    assert date_pairs(50, 7) == date_pairs(50, 7)
    assert date_pairs(50, 7) != date_pairs(50, 8)
    g = np.random.default_rng(7)
    assert date_pairs(50, g) != date_pairs(50, g)          # one Generator: a new batch per call
    assert reversal_task(20, 4) == reversal_task(20, 4)


def test_held_out_split_is_disjoint_by_date_and_covers_every_day():
    train, test = split_days("train"), split_days("test")
    assert not set(train) & set(test)
    first, last = dt.date(YEARS[0], 1, 1), dt.date(YEARS[1], 12, 31)
    assert len(train) + len(test) == (last - first).days + 1
    assert 0.09 < len(test) / (len(train) + len(test)) < 0.11
    assert all(is_held_out(d) for d in test[:200]) and not any(is_held_out(d) for d in train[:200])
    _, test_t = date_pairs(2000, 0, split="test")
    _, train_t = date_pairs(2000, 0, split="train")
    assert all(is_held_out(dt.date.fromisoformat(t)) for t in test_t)
    assert not set(test_t) & set(train_t)                 # no held-out target string is trained on


def test_every_format_is_drawn_and_fits_the_vocabularies():
    sv, tv = date_vocabularies()
    sources, targets = date_pairs(3000, 2)
    b = encode_pairs(sources, targets, sv, tv)             # raises on an unknown character
    seen = set()
    for s in sources:
        seen |= {f for f in DATE_FORMATS if _parses_to(s, f, targets[sources.index(s)])}
    assert seen == set(DATE_FORMATS)
    assert sv.chars[0] == PAD and sv.eos is None
    assert tv.chars == ("\n", "-") + tuple("0123456789") and tv.eos_index == 0
    assert b.y_out.shape[1] == 11


def test_encode_pairs_padding_and_eos_conventions():
    sv, tv = reversal_vocabularies(4)
    b = encode_pairs(["abc", "d"], ["cba", "d"], sv, tv)
    eos = tv.eos_index
    assert b.src.tolist() == [[sv.index("a"), sv.index("b"), sv.index("c")], [sv.index("d"), 0, 0]]
    assert b.src_mask.tolist() == [[True] * 3, [True, False, False]]
    c, bb, a, d = (tv.index(ch) for ch in "cbad")
    assert b.y_in.tolist() == [[eos, c, bb, a], [eos, d, eos, eos]]
    assert b.y_out.tolist() == [[c, bb, a, eos], [d, eos, eos, eos]]
    assert b.y_mask.tolist() == [[True] * 4, [True, True, False, False]]


def test_reversal_task():
    src, tgt = reversal_task(200, 0, min_len=2, max_len=5, n_symbols=3)
    assert all(t == s[::-1] for s, t in zip(src, tgt))
    assert {len(s) for s in src} == {2, 3, 4, 5}
    assert set("".join(src)) == set("abc")


@pytest.mark.parametrize("call,words", [
    (lambda: date_pairs(0, 0), ["date_pairs", "n"]),
    (lambda: date_pairs(5, 0, split="valid"), ["date_pairs", "split", "'valid'"]),
    (lambda: date_pairs(5, 0, formats=["rfc"]), ["date_pairs", "formats", "'rfc'"]),
    (lambda: date_pairs(5, "seed"), ["date_pairs", "rng"]),
    (lambda: format_date("1987-03-03", "long"), ["format_date", "date", "str"]),
    (lambda: reversal_task(5, 0, min_len=4, max_len=3), ["reversal_task", "max_len"]),
    (lambda: reversal_task(5, 0, n_symbols=27), ["reversal_task", "n_symbols"]),
    (lambda: encode_pairs(["ab"], ["ba", "x"], *reversal_vocabularies(2)),
     ["encode_pairs", "sources and targets"]),
    (lambda: encode_pairs([""], [""], *reversal_vocabularies(2)), ["encode_pairs", "sources[0]"]),
    (lambda: encode_pairs(["az"], ["za"], *reversal_vocabularies(2)), ["'z'"]),
])
def test_bad_input_names_the_argument(call, words):
    with pytest.raises(ValueError) as err:
        call()
    for w in words:
        assert w in str(err.value)
