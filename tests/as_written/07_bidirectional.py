"""Mistakes of assignment 07_bidirectional written into the course's answers (see tests/test_mistakes_as_written.py)."""
_BWD_DIR = "h_b_rev, _ = rnn_forward(x[:, ::-1], h0_b, params.backward)"
_CAT = "return np.concatenate([h_f, h_b_rev[:, ::-1]], axis=2)"
_G_F = "g_f = rnn_backward(dh[:, :, :H], cache.cache_forward)"
_G_B = "g_b = rnn_backward(dh[:, ::-1, H:], cache.cache_backward)"
_DX = "dx = g_f.dx + g_b.dx[:, ::-1]"

MISTAKES = [
    # bidirectional_forward
    ("bidirectional_forward", _CAT, "return np.concatenate([h_f, h_b_rev], axis=2)",
     "the backward direction's states are not flipped back"),
    ("bidirectional_forward", _CAT, "return np.concatenate([h_b_rev[:, ::-1], h_f], axis=2)",
     "the two halves are concatenated in the wrong order"),
    ("bidirectional_forward", _BWD_DIR + "    # right to left: reads x_T first\n    " + _CAT,
     "h_b, _ = rnn_forward(x, h0_b, params.backward)\n    return np.concatenate([h_f, h_b], axis=2)",
     "the backward direction reads the sequence from left to right"),
    ("bidirectional_forward", _BWD_DIR, "h_b_rev, _ = rnn_forward(x, h0_b, params.backward)",
     "only the backward direction's output is reversed, not its input"),
    ("bidirectional_forward", _CAT, "return h_f + h_b_rev[:, ::-1]",
     "the two directions are summed instead of concatenated"),
    ("bidirectional_forward", "(h0[0], h0[1])", "(h0[1], h0[0])", "h0[0] and h0[1] are swapped"),
    ("bidirectional_forward", "h0_b, params.backward)", "h0_b, params.forward)", "both directions use params.forward"),
    ("bidirectional_forward", "axis=2)", "axis=1)", "concatenated along the time axis"),
    ("bidirectional_forward", _BWD_DIR + "    # right to left: reads x_T first\n    " + _CAT,
     "h_b_rev, _ = rnn_forward(x[::-1], h0_b, params.backward)\n"
     "    return np.concatenate([h_f, h_b_rev[::-1]], axis=2)",
     "the batch axis is reversed instead of time"),
    # bidirectional_backward
    ("bidirectional_backward", _DX, "dx = g_f.dx + g_b.dx", "dx from the backward direction is not flipped back"),
    ("bidirectional_backward", _G_B, _G_B.replace("dh[:, ::-1, H:]", "dh[:, :, H:]"),
     "the backward direction's upstream gradient is not reversed"),
    ("bidirectional_backward", _G_B + "     # backward half, in its reading order\n    " + _DX,
     _G_B.replace("dh[:, ::-1, H:]", "dh[:, :, H:]") + "\n    dx = g_f.dx + g_b.dx",
     "nothing is reversed in the backward direction"),
    ("bidirectional_backward", _G_F + "         # forward half, as it is\n    " + _G_B,
     _G_F.replace(":H]", "H:]") + "\n    " + _G_B.replace("H:]", ":H]"), "the two halves of dh are swapped"),
    ("bidirectional_backward", _DX, "dx = g_f.dx", "dx only comes from the forward direction"),
    ("bidirectional_backward", "np.stack([g_f.dh0, g_b.dh0])", "np.stack([g_b.dh0, g_f.dh0])",
     "dh0[0] and dh0[1] are swapped"),
    ("bidirectional_backward", _DX, "dx = np.concatenate([g_f.dx, g_b.dx[:, ::-1]], axis=2)",
     "the two directions' dx are concatenated"),
    ("bidirectional_backward", _G_B + "     # backward half, in its reading order\n    " + _DX,
     "g_b = rnn_backward(dh[::-1, :, H:], cache.cache_backward)\n    dx = g_f.dx + g_b.dx[::-1]",
     "the batch axis is reversed instead of time"),
]

PARTIAL = [
    # h0=None (zeros for both directions) not handled; the cell option is "rnn" in every case
    ("bidirectional_forward", "(None, None) if h0 is None else (h0[0], h0[1])", "(h0[0], h0[1])"),
]
