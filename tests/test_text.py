"""Vocabulary, one-hot vectors and the shipped corpora."""
import hashlib

import numpy as np
import pytest

from rnncourse.corpus import available_corpora, batches, load_corpus, split_corpus
from rnncourse.text import Vocabulary, one_hot


# --- Vocabulary ----------------------------------------------------------------

def test_from_text_sorts_characters_and_uses_newline_as_default_eos():
    v = Vocabulary.from_text("hello\nworld\n")
    assert v.chars == ("\n", "d", "e", "h", "l", "o", "r", "w")
    assert v.size == len(v) == 8
    assert v.eos == "\n" and v.eos_index == 0


def test_dedicated_eos_symbol_is_added_when_absent_from_text():
    v = Vocabulary.from_text("abca", eos="\x03")
    assert v.chars == ("\x03", "a", "b", "c")
    assert v.eos_index == 0
    np.testing.assert_array_equal(v.encode("ab", add_eos=True), [1, 2, 0])
    assert v.decode(v.encode("cab", add_eos=True)) == "cab\x03"


def test_no_eos():
    v = Vocabulary.from_text("ab", eos=None)
    assert v.eos is None and v.eos_index is None and v.chars == ("a", "b")
    with pytest.raises(ValueError, match="no eos"):
        v.encode("a", add_eos=True)


@pytest.mark.parametrize("text", ["", "a", "To be, or not to be:\nthat is the question.\n"])
def test_encode_decode_round_trip(text):
    v = Vocabulary.from_text("To be, or not to be:\nthat is the question.\n")
    idx = v.encode(text)
    assert idx.dtype == np.int64 and idx.shape == (len(text),)
    assert v.decode(idx) == text
    assert v.decode(list(idx)) == text
    # indices are positions in the sorted character tuple
    assert all(v.chars[i] == ch for i, ch in zip(idx, text))


def test_decode_single_int():
    v = Vocabulary.from_text("xyz")
    assert v.decode(v.index("y")) == "y"
    assert v.decode(np.int64(1)) == v.chars[1]


def test_unknown_character_error_names_character_and_position():
    v = Vocabulary.from_text("abc")
    with pytest.raises(ValueError, match=r"Vocabulary.encode: character 'Z' \(U\+005A\) at position 2"):
        v.encode("abZc")
    with pytest.raises(ValueError, match=r"Vocabulary.index: character 'q'"):
        v.index("q")


def test_decode_rejects_out_of_range_and_non_integers():
    v = Vocabulary.from_text("abc")
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 4\), got 4 at position 1"):
        v.decode([0, 4])
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 4\), got -1"):
        v.decode([-1])
    with pytest.raises(ValueError, match="integer array"):
        v.decode(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"indices must have 1 dimension .* got shape \(1, 2\)"):
        v.decode(np.array([[0, 1]]))


def test_vocabulary_constructor_checks():
    with pytest.raises(ValueError, match="appears twice"):
        Vocabulary(("a", "b", "a"), eos=None)
    with pytest.raises(ValueError, match="single character"):
        Vocabulary(("a", "bc"), eos=None)
    with pytest.raises(ValueError, match="eos '\\\\n' must be one of chars"):
        Vocabulary(("a", "b"))
    with pytest.raises(ValueError, match="eos must be a single character"):
        Vocabulary.from_text("ab", eos="<eos>")
    with pytest.raises(ValueError, match="text must be a str"):
        Vocabulary.from_text(["a", "b"])


def test_vocabulary_is_immutable_and_comparable():
    v = Vocabulary.from_text("abc")
    with pytest.raises(Exception):
        v.chars = ("x",)
    assert v == Vocabulary.from_text("cba")
    assert v != Vocabulary.from_text("abc", eos=None)


# --- one-hot -------------------------------------------------------------------

def test_one_hot_values_and_shape():
    idx = np.array([[0, 2, 1], [2, 2, 0]])
    x = one_hot(idx, 4)
    assert x.shape == (2, 3, 4) and x.dtype == np.float64
    np.testing.assert_array_equal(x.sum(-1), 1.0)
    np.testing.assert_array_equal(x.argmax(-1), idx)
    np.testing.assert_array_equal(x[0, 1], [0, 0, 1, 0])
    assert one_hot(np.array(3), 5).tolist() == [0, 0, 0, 1, 0]
    assert one_hot(np.zeros((0, 2), dtype=int), 3).shape == (0, 2, 3)


def test_one_hot_errors():
    with pytest.raises(ValueError, match=r"one_hot: indices must lie in \[0, 3\), got 3 at index \(1,\)"):
        one_hot([0, 3], 3)
    with pytest.raises(ValueError, match=r"one_hot: indices must lie in \[0, 3\), got -1"):
        one_hot([-1], 3)
    with pytest.raises(ValueError, match="one_hot: indices must be an integer array, got dtype float64"):
        one_hot([0.0, 1.0], 3)
    with pytest.raises(ValueError, match="one_hot: K must be a positive integer, got 0"):
        one_hot([0], 0)


# --- corpus --------------------------------------------------------------------

def test_shakespeare_corpus_is_shipped_and_intact():
    assert "shakespeare" in available_corpora()
    text = load_corpus("shakespeare")
    assert text == load_corpus()
    assert len(text) == 63889
    assert text.startswith("First Citizen:\nBefore we proceed any further, hear me speak.\n")
    assert text.endswith("And pass'd him unelected.\n")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert digest == "7593fb74629b4bb6939079850d43f8b7e05d9466c199fe03f3bc1ee5d30263c1"
    v = Vocabulary.from_text(text)
    assert v.size == 59 and v.eos_index == 0 and v.decode(v.encode(text)) == text


def test_load_corpus_unknown_name():
    with pytest.raises(ValueError, match=r"load_corpus: name must be one of 'shakespeare'.*got 'nope'"):
        load_corpus("nope")


def test_batches_are_shifted_windows_of_the_corpus():
    data = np.arange(50, 150)
    x, y = batches(data, 8, 5, rng=3)
    assert x.shape == y.shape == (8, 5) and x.dtype == np.int64
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    np.testing.assert_array_equal(y, x + 1)                  # data is consecutive integers
    assert x.min() >= 50 and y.max() <= 149
    x2, y2 = batches(data, 8, 5, rng=3)
    np.testing.assert_array_equal(x, x2)
    x3, _ = batches(data, 8, 5, rng=4)
    assert not np.array_equal(x, x3)


def test_batches_cover_the_last_window_and_check_inputs():
    data = np.arange(6)
    x, y = batches(data, 200, 5, rng=0)                      # only one window fits
    np.testing.assert_array_equal(x, np.tile(np.arange(5), (200, 1)))
    np.testing.assert_array_equal(y, np.tile(np.arange(1, 6), (200, 1)))
    with pytest.raises(ValueError, match=r"batches: encoded must hold at least T \+ 1 = 7 indices, got shape \(6,\)"):
        batches(data, 1, 6, rng=0)
    with pytest.raises(ValueError, match="batches: encoded must be an integer array"):
        batches(np.arange(10.0), 1, 3, rng=0)
    with pytest.raises(ValueError, match="batches: T must be a positive integer"):
        batches(data, 1, 0, rng=0)


def test_split_corpus():
    train, valid = split_corpus(np.arange(100), 0.1)
    np.testing.assert_array_equal(train, np.arange(90))
    np.testing.assert_array_equal(valid, np.arange(90, 100))
    with pytest.raises(ValueError, match=r"valid_fraction must be a number in \(0, 1\), got 1.5"):
        split_corpus(np.arange(100), 1.5)
    with pytest.raises(ValueError, match="leaves an empty part"):
        split_corpus(np.arange(3), 0.01)
