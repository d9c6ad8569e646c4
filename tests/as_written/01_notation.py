"""Mistakes of assignment 01_notation written into the course's answers (see tests/test_mistakes_as_written.py)."""
MISTAKES = [
    # one_hot
    ("one_hot", "indices[..., None], 1.0", "indices[..., None] + 1, 1.0",
     "the 1 is one position too far right"),
    ("one_hot", "np.zeros(indices.shape + (K,))", "np.zeros(indices.shape + (indices.max() + 1,))",
     "the vector length comes from the data"),
    ("one_hot",
     "out = np.zeros(indices.shape + (K,))\n    np.put_along_axis(out, indices[..., None], 1.0, axis=-1)",
     "out = np.zeros((K,) + indices.shape)\n    np.put_along_axis(out, indices[None], 1.0, axis=0)",
     "the class axis comes first"),
    ("one_hot",
     "out = np.zeros(indices.shape + (K,))\n    np.put_along_axis(out, indices[..., None], 1.0, axis=-1)",
     "out = np.zeros((indices.size, K))\n    np.put_along_axis(out, indices.reshape(-1, 1), 1.0, axis=-1)",
     "the input was flattened"),
    ("one_hot", "np.put_along_axis(out, indices[..., None], 1.0, axis=-1)",
     "out[np.arange(len(indices)), indices] = 1.0", "handles 1-D indices only"),
    # vocabulary_from_text
    ("vocabulary_from_text", "chars = sorted(set(text))", "chars = list(dict.fromkeys(text))",
     "characters in order of first appearance"),
    ("vocabulary_from_text", "chars = [eos] + chars", "chars = chars + [eos]",
     "the end-of-sequence symbol is added at the end"),
    ("vocabulary_from_text", "    if eos is not None and eos not in chars:\n        chars = [eos] + chars\n", "",
     "the end-of-sequence symbol is missing"),
    ("vocabulary_from_text", "sorted(set(text))", "sorted(text)", "repeated characters are kept"),
    ("vocabulary_from_text", "return chars", 'return "".join(chars)', "a string instead of a list of characters"),
    # encode
    ("encode", "enumerate(chars)", "enumerate(chars, start=1)", "indices start at 1"),
    ("encode", "enumerate(chars)", "enumerate(sorted(set(text)))",
     "indices come from the text's own characters"),
    ("encode", "return np.array([index[c] for c in text], dtype=np.int64)",
     "return one_hot(np.array([index[c] for c in text], dtype=np.int64), len(chars))",
     "one-hot vectors instead of indices"),
    ("encode", "dtype=np.int64", "dtype=float", "float indices"),
    ("encode", ", dtype=np.int64)", ")", "float indices"),      # np.array([]) of the empty text is float
    # decode
    ("decode", 'return "".join(chars[int(i)] for i in indices)', "return [chars[int(i)] for i in indices]",
     "a list of characters instead of a string"),
    ("decode", '"".join', '" ".join', "characters joined with spaces"),
    ("decode", "chars[int(i)]", "chars[int(i) - 1]", "indices read as 1-based"),
    ("decode", "for i in indices)", "for i in indices[::-1])", "the string comes out reversed"),
    # encode_batch
    ("encode_batch", "np.stack([encode(t, chars) for t in texts])",
     "np.stack([encode(t, chars) for t in texts], axis=1)", "time-major array (T, N, K)"),
    ("encode_batch", "return one_hot(indices, len(chars))",
     "return one_hot(indices, len(chars)).transpose(0, 2, 1)", "classes before time (N, K, T)"),
    ("encode_batch", "return one_hot(indices, len(chars))", "return indices",
     "indices, not one-hot vectors"),
    ("encode_batch", "np.stack([encode(t, chars) for t in texts])", 'encode("".join(texts), chars)',
     "the texts were joined into one sequence"),
    ("encode_batch", "np.stack([encode(t, chars) for t in texts])",
     "np.concatenate([encode(t, chars) for t in texts])", "the texts were joined into one sequence"),
    ("encode_batch", "return one_hot(indices, len(chars))", "return one_hot(indices, indices.max() + 1)",
     "K taken from the data"),
]
# one_hot, encode, decode and encode_batch have no optional feature; vocabulary_from_text's
# eos=None (no end-of-sequence symbol) is the one to drop.
PARTIAL = [
    ("vocabulary_from_text", "if eos is not None and eos not in chars:", "if eos not in chars:"),
]
