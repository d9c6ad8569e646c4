"""Mistakes of assignment 06_lstm written into the course's answers (see tests/test_mistakes_as_written.py)."""
_GATES = "i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)"
_BLOCKS = "a_i, a_f, a_g, a_o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]"
_DA = ("da = np.concatenate([di * i * (1.0 - i), df * f * (1.0 - f), dg * (1.0 - g ** 2),\n"
       "                         do * o * (1.0 - o)], axis=1)")
_LOOP = ("    for t in range(T):\n"
         "        h_prev, c_prev = lstm_step_forward(x[:, t], h_prev, c_prev, params)\n"
         "        h[:, t] = h_prev\n"
         "        c[:, t] = c_prev\n")
_ALLOC = "    h = np.zeros((N, T, H))\n    c = np.zeros((N, T, H))\n"

MISTAKES = [
    # lstm_step_forward
    ("lstm_step_forward", "h_next = o * np.tanh(c_next)", "h_next = o * np.tanh(c_prev)",
     "c_prev used where c_next belongs"),
    ("lstm_step_forward", _GATES, "i, f, g, o = np.tanh(a_i), np.tanh(a_f), np.tanh(a_g), np.tanh(a_o)",
     "tanh used for the gates"),
    ("lstm_step_forward", _GATES, "i, f, g, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_g), sigmoid(a_o)",
     "sigmoid used for the candidate g"),
    ("lstm_step_forward", _BLOCKS, _BLOCKS.replace("a_i, a_f,", "a_f, a_i,"), "input and forget gates swapped"),
    ("lstm_step_forward", _BLOCKS, _BLOCKS.replace("a_g, a_o =", "a_o, a_g ="), "gate blocks g and o swapped"),
    ("lstm_step_forward", "c_next = f * c_prev + i * g", "c_next = c_prev + i * g", "forgot the forget gate"),
    ("lstm_step_forward", "h_next = o * np.tanh(c_next)", "h_next = o * c_next", "no tanh on the cell state"),
    ("lstm_step_forward", "a = x @ U.T + h_prev @ W.T + b", "a = x @ U.T + h_prev @ W.T", "forgot the bias b"),
    ("lstm_step_forward",
     "        a_o = a_o + P[2] * c_prev\n    " + _GATES + "\n    c_next = f * c_prev + i * g\n",
     "    i, f, g = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g)\n    c_next = f * c_prev + i * g\n"
     "    if P is not None:\n        a_o = a_o + P[2] * c_next\n    o = sigmoid(a_o)\n",
     "output-gate peephole on c_next"),
    ("lstm_step_forward", "    if P is not None:\n        a_i = a_i", "    if False:\n        a_i = a_i",
     "peepholes ignored"),
    ("lstm_step_forward", "a = x @ U.T + h_prev @ W.T + b", "a = x @ U + h_prev @ W + b",
     "weights used without transposing"),
    # lstm_step_backward
    ("lstm_step_backward", "dc_prev = dc * f", "dc_prev = dc", "dc_prev not multiplied by f"),
    ("lstm_step_backward", "dc = dc_next + dh_next * o * (1.0 - tanh_c ** 2)",
     "dc = dh_next * o * (1.0 - tanh_c ** 2)", "dc_next is ignored"),
    ("lstm_step_backward", "dc = dc_next + dh_next * o * (1.0 - tanh_c ** 2)", "dc = dc_next",
     "the path from h_next to c_next is missing"),
    ("lstm_step_backward", "dc = dc_next + dh_next * o * (1.0 - tanh_c ** 2)", "dc = dc_next + dh_next * o",
     "tanh derivative missing on the cell state"),
    ("lstm_step_backward", "dg * (1.0 - g ** 2)", "dg * g * (1.0 - g)",
     "sigmoid derivative used for the candidate g"),
    ("lstm_step_backward", "do = dh_next * tanh_c", "do = dh_next * c_next",
     "do computed from c_next instead of tanh(c_next)"),
    ("lstm_step_backward", "        dc_prev = dc_prev + da_i * P[0] + da_f * P[1] + da_o * P[2]\n", "",
     "peephole paths missing from dc_prev"),
    ("lstm_step_backward", _DA,
     "da = np.concatenate([di * i * (1.0 - i), df * f * (1.0 - f), do * o * (1.0 - o),\n"
     "                         dg * (1.0 - g ** 2)], axis=1)",
     "gate gradients stacked in CS231n's order [i, f, o, g]"),
    ("lstm_step_backward", "    dP = None\n    if P is not None:\n",
     "    dP = None if P is None else np.zeros_like(P)\n    if False:\n", "the peepholes are ignored"),
    ("lstm_step_backward", "    if dc_next is None:\n        dc_next = np.zeros_like(dh_next)\n", "",
     "dc_next=None is not handled"),
    ("lstm_step_backward", "    dP = None\n    if P is not None:\n", "    dP = None\n    if False:\n",
     "dP is None although params.P is given"),
    # lstm_forward
    ("lstm_forward", _LOOP, _LOOP.replace("h_prev, c_prev = lstm", "h_prev, c_t = lstm")
     .replace("c[:, t] = c_prev", "c[:, t] = c_t"), "the cell state is not carried from step to step"),
    ("lstm_forward", _LOOP, _LOOP.replace("h_prev, c_prev = lstm", "h_t, c_prev = lstm")
     .replace("h[:, t] = h_prev", "h[:, t] = h_t"), "the hidden state is not carried from step to step"),
    ("lstm_forward", "c_prev = np.zeros((N, H)) if c0 is None else c0", "c_prev = np.zeros((N, H))",
     "c0 is ignored (the loop starts from zeros)"),
    ("lstm_forward", "h_prev = np.zeros((N, H)) if h0 is None else h0", "h_prev = np.zeros((N, H))",
     "h0 is ignored (the loop starts from zeros)"),
    ("lstm_forward", _LOOP,
     "    for t in range(T):\n        h[:, t] = h_prev\n        c[:, t] = c_prev\n"
     "        h_prev, c_prev = lstm_step_forward(x[:, t], h_prev, c_prev, params)\n",
     "off by one: h[:, t] holds the state from before step t"),
    ("lstm_forward", _ALLOC + _LOOP,
     (_ALLOC + _LOOP).replace("(N, T, H)", "(T, N, H)").replace("[:, t]", "[t]")
     .replace("lstm_step_forward(x[t]", "lstm_step_forward(x[:, t]"), "time-major outputs (T, N, H)"),
    ("lstm_forward", "    return h, c\n", "    return h[:, -1], c[:, -1]\n", "only the last states are returned"),
    ("lstm_forward", "h_prev = np.zeros((N, H)) if h0 is None else h0", "h_prev = h0 or np.zeros((N, H))",
     "`h0 or zeros` tests the truth value of an array"),
    ("lstm_forward", _ALLOC, "    h = np.zeros_like(x)\n    c = np.zeros_like(x)\n",
     "h and c allocated with the shape of x"),
]

PARTIAL = [
    # the optional peepholes left out
    ("lstm_step_forward", "    if P is not None:\n        a_i = a_i", "    if False:\n        a_i = a_i"),
    ("lstm_step_backward", "    dP = None\n    if P is not None:\n", "    dP = None\n    if False:\n"),
    # dc_next=None (no gradient from the next step) not handled
    ("lstm_step_backward", "    if dc_next is None:\n        dc_next = np.zeros_like(dh_next)\n", ""),
    # c0=None / h0=None (zeros) not handled
    ("lstm_forward", "c_prev = np.zeros((N, H)) if c0 is None else c0", "c_prev = c0"),
    ("lstm_forward", "h_prev = np.zeros((N, H)) if h0 is None else h0", "h_prev = h0"),
]
