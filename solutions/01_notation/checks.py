"""Tests of assignment 01_notation, read by ``rnncourse.grading`` (see its docstring).

``build(rc, G)`` returns one ``G.Spec`` per graded function.  The references come from
``rc.text`` (``one_hot`` and ``Vocabulary``); only NumPy is imported here.
"""
import numpy as np

#: The graded functions in notebook order: (points of the visible cell, of the hidden cell).
#: The notebook's test cells are generated from this table (rnncourse.grading.cells).
POINTS = {
    "one_hot": (1, 2),
    "vocabulary_from_text": (1, 2),
    "encode": (1, 1),
    "decode": (1, 1),
    "encode_batch": (1, 2),
}


TEXTS = ["hello world\n", "abracadabra", "to be, or not to be\n", "aaaa", "xyz\nzyx\n",
         "the cat sat on the mat\n"]


def build(rc, G):
    Vocabulary = rc.text.Vocabulary

    # ---------------------------------------------------------------- one_hot
    def one_hot_ref(indices, K):
        return rc.text.one_hot(indices, K)

    def oh_one_based(indices, K):                # as written: index K - 1 + 1 raises IndexError
        idx = np.asarray(indices)
        out = np.zeros(idx.shape + (K,))
        np.put_along_axis(out, idx[..., None] + 1, 1.0, axis=-1)
        return out

    def oh_size_from_data(indices, K):
        idx = np.asarray(indices)
        return np.eye(int(idx.max()) + 1)[idx]

    def oh_classes_first(indices, K):
        return np.moveaxis(rc.text.one_hot(indices, K), -1, 0)

    def oh_flattened(indices, K):
        return rc.text.one_hot(np.asarray(indices).reshape(-1), K)

    def oh_arange_rows(indices, K):              # out[np.arange(len(indices)), indices] = 1
        idx = np.asarray(indices)
        out = np.zeros(idx.shape + (K,))
        out[np.arange(len(idx)), idx] = 1.0
        return out

    one_hot_mistakes = [
        G.Mistake("the 1 is one position too far right (1-based indices)",
                  "index k must set entry k (Python counts from 0): out[..., k] = 1.", fn=oh_one_based),
        G.Mistake("the vector length comes from the data, not from K",
                  "every one-hot vector has length K, even when the largest index in this batch is "
                  "smaller than K - 1.", fn=oh_size_from_data),
        G.Mistake("the class axis comes first", "the K entries go on a NEW LAST axis: indices of "
                  "shape (N, T) give (N, T, K).", fn=oh_classes_first),
        G.Mistake("the input was flattened", "keep the shape of indices and add one axis: (N, T) "
                  "-> (N, T, K), not (N*T, K).", fn=oh_flattened),
        # the scores[np.arange(N), y] idiom of the CS231n softmax loss, right for 1-D y only
        G.Mistake("out[np.arange(len(indices)), indices] handles 1-D indices only", "for indices "
                  "of shape (N, T) that pair of index arrays cannot be broadcast; index every "
                  "position at once: np.put_along_axis(out, indices[..., None], 1.0, axis=-1), or "
                  "np.eye(K)[indices].", fn=oh_arange_rows),
    ]

    def one_hot_visible():
        return [G.core("indices [0, 2, 1], K=3", np.array([0, 2, 1]), 3),
                G.case("indices of shape (2, 3), K=5", np.array([[4, 0, 1], [1, 1, 3]]), 5)]

    def one_hot_hidden(rng):
        return [G.case("one index, K=1", np.array([0]), 1),
                G.case("largest index below K - 1 (K=10)", np.array([1, 2, 0]), 10),
                G.case("(N, T) = (3, 4), K=6", rng.integers(0, 6, size=(3, 4)), 6),
                G.case("(N, T) = (1, 1), K=4", np.array([[3]]), 4),
                G.case("(N, T) = (4, 2), K=2", rng.integers(0, 2, size=(4, 2)), 2)]

    # ---------------------------------------------------------------- vocabulary_from_text
    def vocab_ref(text, eos="\n"):
        return list(Vocabulary.from_text(text, eos).chars)

    def vocab_first_seen(text, eos="\n"):
        chars = list(dict.fromkeys(text))
        if eos is not None and eos not in chars:
            chars = [eos] + chars
        return chars

    def vocab_eos_last(text, eos="\n"):
        chars = sorted(set(text))
        if eos is not None and eos not in chars:
            chars = chars + [eos]
        return chars

    def vocab_no_eos(text, eos="\n"):
        return sorted(set(text))

    def vocab_duplicates(text, eos="\n"):
        chars = sorted(text)
        if eos is not None and eos not in chars:
            chars = [eos] + chars
        return chars

    def vocab_string(text, eos="\n"):
        return "".join(vocab_ref(text, eos))

    vocab_mistakes = [
        G.Mistake("characters in order of first appearance", "sort the distinct characters: "
                  "sorted(set(text)), so that the same text always gives the same indices.",
                  fn=vocab_first_seen),
        G.Mistake("the end-of-sequence symbol is added at the end", "an eos that does not occur in "
                  "the text is inserted at index 0, before the sorted characters.", fn=vocab_eos_last),
        G.Mistake("the end-of-sequence symbol is missing", "when eos is not None and does not occur "
                  "in the text, add it (at index 0).", fn=vocab_no_eos),
        G.Mistake("repeated characters are kept", "each character appears once: use set(text).",
                  fn=vocab_duplicates),
        G.Mistake("a string instead of a list of characters", "return the list itself: "
                  "sorted(set(text)) is already a list; \"\".join(...) makes one string of it.",
                  fn=vocab_string),
    ]

    def vocab_visible():
        return [G.core("'hello world\\n' (eos '\\n' occurs)", "hello world\n"),
                G.case("'abracadabra' (eos '\\n' added)", "abracadabra")]

    def vocab_hidden(rng):
        return [G.case("'aaaa'", "aaaa"),
                G.case("'cab' with eos='#'", "cab", eos="#"),
                G.case("'cab' without eos", "cab", eos=None),
                G.case("'to be, or not to be\\n'", "to be, or not to be\n"),
                G.case("'zyx' with eos='!'", "zyx", "!")]

    # ---------------------------------------------------------------- encode / decode
    def encode_ref(text, chars):
        return Vocabulary(tuple(chars), eos=None).encode(text)

    def decode_ref(indices, chars):
        return Vocabulary(tuple(chars), eos=None).decode(np.asarray(indices, dtype=np.int64))

    def enc_one_based(text, chars):
        return encode_ref(text, chars) + 1

    def enc_own_vocab(text, chars):
        own = sorted(set(text))
        return np.array([own.index(c) for c in text], dtype=np.int64)

    def enc_one_hot(text, chars):
        return rc.text.one_hot(encode_ref(text, chars), len(chars))

    def enc_float(text, chars):
        return encode_ref(text, chars).astype(np.float64)

    encode_mistakes = [
        G.Mistake("indices start at 1", "the first character of chars has index 0.", fn=enc_one_based),
        G.Mistake("indices come from the text's own characters, not from chars",
                  "look every character up in the chars you are given (chars.index(c), or a dict "
                  "built once from chars): the vocabulary may hold characters the text lacks.",
                  fn=enc_own_vocab),
        G.Mistake("one-hot vectors instead of indices", "encode returns one integer per character; "
                  "one_hot turns those into vectors later.", fn=enc_one_hot),
        G.Mistake("float indices", "indices are integers: np.array(..., dtype=np.int64).",
                  fn=enc_float),
    ]

    def dec_list(indices, chars):
        return [chars[i] for i in indices]

    def dec_spaces(indices, chars):
        return " ".join(chars[i] for i in indices)

    def dec_one_based(indices, chars):
        return "".join(chars[i - 1] for i in indices)

    def dec_reversed(indices, chars):
        return decode_ref(indices, chars)[::-1]

    decode_mistakes = [
        G.Mistake("a list of characters instead of a string", "join them: \"\".join(...).", fn=dec_list),
        G.Mistake("characters joined with spaces", "join with the empty string: \"\".join(...).",
                  fn=dec_spaces),
        G.Mistake("indices read as 1-based", "index i is chars[i], not chars[i - 1].", fn=dec_one_based),
        G.Mistake("the string comes out reversed", "keep the order of the indices.", fn=dec_reversed),
    ]

    def chars_of(text, eos="\n"):
        return list(Vocabulary.from_text(text, eos).chars)

    def encode_visible():
        chars = chars_of("hello world\n")
        return [G.core("'hello' with the vocabulary of 'hello world\\n'", "hello", chars),
                G.case("'world\\n'", "world\n", chars)]

    def encode_hidden(rng):
        big = chars_of("the cat sat on the mat\n")
        return [G.case("one character", "t", big),
                G.case("a text using few of the vocabulary's characters", "tat", big),
                G.case("the whole corpus", "the cat sat on the mat\n", big),
                G.case("'aaaa' with vocabulary ['\\n', 'a']", "aaaa", chars_of("aaaa")),
                G.case("the empty string", "", big)]

    def decode_visible():
        chars = chars_of("hello world\n")
        return [G.core("indices of 'hello'", np.array([4, 3, 5, 5, 6]), chars),
                G.case("a list of ints", [8, 6, 7, 5, 2, 0], chars)]

    def decode_hidden(rng):
        big = chars_of("the cat sat on the mat\n")
        seq = rng.integers(0, len(big), size=12)
        return [G.case("one index", np.array([3]), big),
                G.case("random indices", seq, big),
                G.case("index 0 (the newline) at the end", np.array([5, 1, 0]), big),
                G.case("a list of ints", [int(i) for i in seq[:5]], big)]

    # ---------------------------------------------------------------- encode_batch
    def batch_ref(texts, chars):
        idx = np.stack([Vocabulary(tuple(chars), eos=None).encode(t) for t in texts])
        return rc.text.one_hot(idx, len(chars))

    def batch_time_major(texts, chars):
        return batch_ref(texts, chars).transpose(1, 0, 2)

    def batch_classes_middle(texts, chars):
        return batch_ref(texts, chars).transpose(0, 2, 1)

    def batch_indices(texts, chars):
        return np.stack([Vocabulary(tuple(chars), eos=None).encode(t) for t in texts])

    def batch_k_from_data(texts, chars):          # one_hot(indices, indices.max() + 1)
        idx = np.stack([Vocabulary(tuple(chars), eos=None).encode(t) for t in texts])
        return rc.text.one_hot(idx, int(idx.max()) + 1)

    def batch_concatenated(texts, chars):         # one_hot(encode("".join(texts), chars))
        return batch_ref(texts, chars).reshape(-1, len(chars))

    batch_mistakes = [
        G.Mistake("time-major array (T, N, K)", "the course is batch-first: x[n, t] is the one-hot "
                  "vector of character t of text n, so x has shape (N, T, K).", fn=batch_time_major),
        G.Mistake("classes before time (N, K, T)", "the K one-hot entries are the LAST axis.",
                  fn=batch_classes_middle),
        G.Mistake("indices, not one-hot vectors", "turn the (N, T) indices into (N, T, K) one-hot "
                  "vectors (your one_hot does it).", fn=batch_indices),
        G.Mistake("the texts were joined into one sequence", "each text is one sequence of the batch: "
                  "encode each text on its own and stack the results, N = len(texts) rows of "
                  "T = len(text) indices, before one_hot.", fn=batch_concatenated),
        G.Mistake("K taken from the data (indices.max() + 1), not from chars", "the one-hot length "
                  "is the vocabulary's size, len(chars), even when these texts use only some of its "
                  "characters.", fn=batch_k_from_data),
    ]

    def batch_visible():
        chars = chars_of("hello world\n")
        return [G.core("N=2 texts of T=5 characters, K=9", ["hello", "world"], chars)]

    def batch_hidden(rng):
        big = chars_of("the cat sat on the mat\n")
        return [G.case("N=1, T=1", ["a"], big),
                G.case("N=3, T=3", ["cat", "sat", "mat"], big),
                G.case("N=1, T=23", ["the cat sat on the mat\n"], big),
                G.case("N=4, T=2, K=2", ["aa", "\na", "a\n", "\n\n"], chars_of("aaaa"))]

    return {
        "one_hot": G.Spec(reference=one_hot_ref, visible=one_hot_visible, hidden=one_hot_hidden,
                          mistakes=one_hot_mistakes),
        "vocabulary_from_text": G.Spec(reference=vocab_ref, visible=vocab_visible, hidden=vocab_hidden,
                                       mistakes=vocab_mistakes),
        "encode": G.Spec(reference=encode_ref, visible=encode_visible, hidden=encode_hidden,
                         mistakes=encode_mistakes),
        "decode": G.Spec(reference=decode_ref, visible=decode_visible, hidden=decode_hidden,
                         mistakes=decode_mistakes),
        "encode_batch": G.Spec(reference=batch_ref, visible=batch_visible, hidden=batch_hidden,
                               mistakes=batch_mistakes, depends=("one_hot", "encode")),
    }
