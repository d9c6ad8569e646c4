"""Mistakes of assignment 02_forward_pass written into the course's answers (see tests/test_mistakes_as_written.py)."""
_FWD_LOOP = ("h_prev = rnn_step_forward(x[:, t], h_prev, params, activation)\n"
             "        h[:, t] = h_prev")
_SM = ("z = scores - scores.max(axis=-1, keepdims=True)\n"
       "    e = np.exp(z)\n"
       "    return e / e.sum(axis=-1, keepdims=True)")
_LOG_P = ("z = scores - scores.max(axis=-1, keepdims=True)\n"
          "    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))")
MISTAKES = [
    # rnn_step_forward
    ("rnn_step_forward", "net = x @ U.T + h_prev @ W.T + b", "net = x @ U.T + h_prev @ W.T", "forgot the bias b"),
    ("rnn_step_forward", "net = x @ U.T + h_prev @ W.T", "net = x @ U + h_prev @ W", "weights used without transposing"),
    ("rnn_step_forward", "net = x @ U.T + h_prev @ W.T", "net = x @ W.T + h_prev @ U.T", "U and W swapped"),
    ("rnn_step_forward", "return np.tanh(net)", "return 1.0 / (1.0 + np.exp(-net))", "sigmoid instead of tanh"),
    ("rnn_step_forward", '    if activation == "relu":\n        return np.maximum(net, 0.0)\n', "",
     "the activation argument is ignored"),
    ("rnn_step_forward", "return np.tanh(net)", "return net", "no activation function"),
    ("rnn_step_forward", "net = x @ U.T + h_prev @ W.T + b", "net = x @ U.T + b", "h_prev is not used"),
    ("rnn_step_forward", "np.maximum(net, 0.0)", "np.max(net, 0)", "np.max instead of np.maximum"),
    # rnn_forward
    ("rnn_forward", "np.zeros((N, H)) if h0 is None else h0", "np.zeros((N, H))", "h0 is ignored"),
    ("rnn_forward", _FWD_LOOP,
     "h[:, t] = h_prev\n        h_prev = rnn_step_forward(x[:, t], h_prev, params, activation)",
     "off by one: h[:, t] holds the state from before step t"),
    ("rnn_forward", _FWD_LOOP, "h[:, t] = rnn_step_forward(x[:, t], h_prev, params, activation)",
     "the state is not carried from step to step"),
    ("rnn_forward", "h = np.zeros((N, T, H))\n    for t in range(T):\n        " + _FWD_LOOP,
     "h = []\n    for t in range(T):\n        h_prev = rnn_step_forward(x[:, t], h_prev, params, activation)\n"
     "        h.append(h_prev)\n    h = np.array(h)", "time-major output (T, N, H)"),
    ("rnn_forward", "x[:, t]", "x[t]", "x indexed along the wrong axis"),
    ("rnn_forward", "rnn_step_forward(x[:, t], h_prev, params, activation)",
     "np.tanh(x[:, t] @ params.U.T + h_prev @ params.W.T)", "forgot the bias b"),
    ("rnn_forward", "rnn_step_forward(x[:, t], h_prev, params, activation)",
     "rnn_step_forward(x[:, t], h_prev, params)", "the activation argument is not passed on"),
    ("rnn_forward", "h = np.zeros((N, T, H))", "h = np.zeros_like(x)", "an array shaped like x"),
    # output_forward
    ("output_forward", "return h @ V.T + b_y", "return h @ V + b_y", "V used without transposing"),
    ("output_forward", "return h @ V.T + b_y", "return h @ V.T", "forgot the bias b_y"),
    ("output_forward", "return h @ V.T + b_y", "return softmax(h @ V.T + b_y)", "returned probabilities"),
    # softmax
    ("softmax", "z = scores - scores.max(axis=-1, keepdims=True)", "z = scores",
     "exp of large scores overflows"),
    ("softmax", _SM, _SM.replace("axis=-1", "axis=0"), "normalised along the wrong axis"),
    ("softmax", _SM, _SM.replace("(axis=-1, keepdims=True)", "()"), "normalised over the whole array"),
    ("softmax", _SM, "return scores / scores.sum(axis=-1, keepdims=True)", "forgot the exponential"),
    ("softmax", "scores.max(axis=-1, keepdims=True)", "scores.max()", "shifted by the maximum of the whole array"),
    ("softmax", "return e / e.sum(axis=-1, keepdims=True)", "return e", "not normalised"),
    ("softmax", "e.sum(axis=-1, keepdims=True)", "e.sum(axis=-1)", "broadcasting without keepdims"),
    ("softmax", "e.sum(axis=-1, keepdims=True)", "e.sum()", "divided by the sum of the whole array"),
    ("softmax", _SM, _SM.replace("axis=-1", "axis=1"), "normalised along axis 1"),
    # softmax_cross_entropy
    ("softmax_cross_entropy", "loss = -picked.sum() / N", "loss = -picked.mean()", "averaged over time steps too"),
    ("softmax_cross_entropy", "loss = -picked.sum() / N", "loss = -picked.sum()", "not averaged over the batch"),
    ("softmax_cross_entropy", "loss = -picked.sum() / N", "loss = picked.sum() / N", "wrong sign"),
    ("softmax_cross_entropy", "    np.put_along_axis(dscores", "    pass  # np.put_along_axis(dscores",
     "gradient without subtracting the one-hot targets"),
    ("softmax_cross_entropy", "dscores / N", "dscores", "gradient not divided by N"),
    ("softmax_cross_entropy", _LOG_P,
     "p = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)\n    log_p = np.log(p)",
     "log of a naive softmax"),
    ("softmax_cross_entropy", _LOG_P,
     "z = scores - scores.max(axis=-1, keepdims=True)\n"
     "    p = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)\n    log_p = np.log(p)",
     "log of a (stable) softmax"),
    ("softmax_cross_entropy", "z = scores - scores.max(axis=-1, keepdims=True)", "z = scores",
     "log-sum-exp without subtracting the maximum"),
    ("softmax_cross_entropy", "picked = np.take_along_axis(log_p, y[..., None], axis=-1)",
     "picked = log_p[np.arange(N), y]", "[np.arange(N), y] picks the correct classes"),
    ("softmax_cross_entropy", "    np.put_along_axis(dscores, y[..., None], np.take_along_axis(dscores, y[..., None], axis=-1) - 1.0, axis=-1)",
     "    dscores[np.arange(N), y] -= 1.0", "[np.arange(N), y] picks the correct classes"),
    ("output_forward", "return h @ V.T + b_y", "return V @ h + b_y", "V used without transposing"),
]
PARTIAL = [
    # many-to-one (scores (N, K), y (N,)) is an option of the loss: written for (N, T, K) only
    ("softmax_cross_entropy", "picked = np.take_along_axis(log_p, y[..., None], axis=-1)",
     "picked = log_p[np.arange(N)[:, None], np.arange(y.shape[1]), y]"),
    ("rnn_step_forward", 'if activation == "relu":', "if False:"),
    ("rnn_forward", "np.zeros((N, H)) if h0 is None else h0", "h0"),
    ("rnn_forward", "rnn_step_forward(x[:, t], h_prev, params, activation)",
     "rnn_step_forward(x[:, t], h_prev, params)"),
]
