"""Mistakes of assignment 03_bptt written into the course's answers (see tests/test_mistakes_as_written.py)."""
_TANH = "dnet = dh_next * (1.0 - h_next * h_next)     # h_next = tanh(net)"
_BOTH = ('    if activation == "tanh":\n        ' + _TANH + "\n    else:\n"
         "        dnet = dh_next * (h_next > 0)                # h_next = max(net, 0)\n")
_BODY = ("dx = np.zeros((N, T, D))\n"
         "    dU, dW, db = np.zeros_like(params.U), np.zeros_like(params.W), np.zeros_like(params.b)\n"
         "    dh_prev = np.zeros((N, H))\n    for t in range(T - 1, -1, -1):\n"
         "        h_before = h0 if t == 0 else h_tm[t - 1]\n"
         "        step = RNNStepCache(x_tm[t], h_before, h_tm[t], params, activation)\n"
         "        g = rnn_step_backward(dh[:, t] + dh_prev, step)   # from the output AND from step t+1\n"
         "        dx[:, t] = g.dx")
_CALL = "g = rnn_step_backward(dh[:, t] + dh_prev, step)   # from the output AND from step t+1"


def _inline(fprime='(1.0 - h_tm[t] ** 2) if activation == "tanh" else d * (h_tm[t] > 0)', dh_prev="dnet @ params.W",
            db="dnet.sum(axis=0)", carry="dh[:, t] + dh_prev"):
    """rnn_backward's step written out inside the loop (as students who do not call rnn_step_backward do)."""
    return (f"d = {carry}\n        dnet = d * {fprime}\n"
            f"        g = StepGrads(dnet @ params.U, {dh_prev}, "
            f"RNNParams(dnet.T @ x_tm[t], dnet.T @ h_before, {db}))")


MISTAKES = [
    # rnn_step_backward
    ("rnn_step_backward", _TANH, "dnet = dh_next", "forgot the derivative of tanh"),
    ("rnn_step_backward", "(1.0 - h_next * h_next)", "(1.0 - h_prev * h_prev)", "tanh' computed from h_prev"),
    ("rnn_step_backward", "dh_prev = dnet @ W ", "dh_prev = dnet @ W.T ", "W transposed in dh_prev"),
    ("rnn_step_backward", "dW = dnet.T @ h_prev", "dW = dnet.T @ h_next", "dW uses h_next instead of h_prev"),
    ("rnn_step_backward", "db = dnet.sum(axis=0)", "db = dnet", "db not summed over the batch"),
    ("rnn_step_backward", _BOTH, "    " + _TANH + "\n", "the activation is ignored (tanh' used for relu)"),
    ("rnn_step_backward", "(1.0 - h_next * h_next)", "(1.0 - h_next)", "tanh' written as 1 - h"),
    ("rnn_step_backward", "(1.0 - h_next * h_next)", "(1.0 - np.tanh(h_next) ** 2)",
     "tanh applied again to h_next"),
    ("rnn_step_backward", "dU = dnet.T @ x\n    dW = dnet.T @ h_prev", "dU = x.T @ dnet\n    dW = h_prev.T @ dnet",
     "weight gradients transposed"),
    ("rnn_step_backward", "(h_next > 0)", "(h_next >= 0)", "the derivative of relu is missing"),
    # rnn_backward
    ("rnn_backward", "rnn_step_backward(dh[:, t] + dh_prev, step)", "rnn_step_backward(dh[:, t], step)",
     "the gradient from the next step is not added"),
    ("rnn_backward", "h_before = h0 if t == 0 else h_tm[t - 1]", "h_before = h_tm[t]",
     "dW uses h_t instead of h_{t-1}"),
    ("rnn_backward", _CALL, _inline(fprime="1.0"), "forgot the derivative of tanh"),
    ("rnn_backward", _CALL, _inline(dh_prev="dnet @ params.W.T"), "W transposed in the recurrence"),
    ("rnn_backward", _CALL + "\n        dx[:, t] = g.dx\n        dh_prev = g.dh_prev\n        dU += g.dparams.U\n"
     "        dW += g.dparams.W\n        db += g.dparams.b",
     _inline(db="dnet") + "\n        dx[:, t] = g.dx\n        dh_prev = g.dh_prev\n        dU += g.dparams.U\n"
     "        dW += g.dparams.W\n        db = db + g.dparams.b", "db not summed over the batch"),
    ("rnn_backward", "for t in range(T - 1, -1, -1):", "for t in range(T):", "the loop runs forwards in time"),
    ("rnn_backward", "SequenceGrads(dx, dh_prev,", "SequenceGrads(dx, np.zeros((N, H)),", "dh0 is zeros"),
    ("rnn_backward", "h_tm[t], params, activation)", 'h_tm[t], params, "tanh")',
     "the activation is ignored (tanh' used for relu)"),
    ("rnn_backward", _CALL, _inline(fprime='(1.0 - h_tm[t]) if activation == "tanh" else d * (h_tm[t] > 0)'), "tanh' written as 1 - h"),
    ("rnn_backward", _CALL, _inline(fprime='(1.0 - np.tanh(h_tm[t]) ** 2) if activation == "tanh" else d * (h_tm[t] > 0)'), "tanh applied again to h_t"),
    ("rnn_backward", "h_before = h0 if t == 0 else h_tm[t - 1]", "h_before = h_tm[t - 1]",
     "h_tm[t - 1] at t = 0 is the last state"),
    ("rnn_backward", _BODY, _BODY.replace("np.zeros((N, T, D))", "np.zeros((T, N, D))").replace("dx[:, t]", "dx[t]"),
     "dx returned time-major"),
    ("rnn_backward", "dU += g.dparams.U\n        dW += g.dparams.W\n        db += g.dparams.b",
     "dU = g.dparams.U\n        dW = g.dparams.W\n        db = g.dparams.b", "overwritten at every step"),
    ("rnn_backward", "h_tm[t - 1]\n        step = RNNStepCache(x_tm[t], h_before, h_tm[t],",
     "h_tm[:, t - 1]\n        step = RNNStepCache(x_tm[:, t], h_before, h_tm[:, t],", "indexed as batch-first"),
    # numerical_gradient
    ("numerical_gradient", "f_minus = f(x.copy())\n        x[i] = old ",
     "f_minus = f(x.copy())\n        x[i] = old \n        grad[i] = (f_plus - f(x.copy())) / eps\n        continue ",
     "forward difference"),
    ("numerical_gradient", "/ (2 * eps)", "/ eps", "divided by eps instead of 2 * eps"),
    ("numerical_gradient", "old = x[i]\n        x[i] = old + eps\n        f_plus = f(x.copy())\n        x[i] = old - eps\n"
     "        f_minus = f(x.copy())\n        x[i] = old                                   # restore before the next entry\n"
     "        grad[i] = (f_plus - f_minus) / (2 * eps)",
     "grad[i] = (f(x + eps) - f(x - eps)) / (2 * eps)", "every entry perturbed at once"),
    ("numerical_gradient", "        x[i] = old                                   # restore before the next entry\n",
     "", "the perturbed entry is not put back"),
    ("numerical_gradient", "x[i] = old - eps", "x[i] = x[i] - eps", "f_minus evaluated at x itself"),
    ("numerical_gradient", "for i in np.ndindex(x.shape):", "for i in range(len(x)):",
     "the loop runs over the first axis only"),
]
PARTIAL = [
    ("rnn_step_backward", 'if activation == "tanh":', "if True:"),
    ("rnn_backward", "h_tm[t], params, activation)", 'h_tm[t], params, "tanh")'),
    # the eps argument ignored: the step size hard-coded at the default
    ("numerical_gradient", "x = np.array(x, dtype=np.float64)", "eps = 1e-6\n    x = np.array(x, dtype=np.float64)"),
]
