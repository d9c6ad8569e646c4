"""Mistakes of assignment 05_gru written into the course's answers.

See tests/test_mistakes_as_written.py for the contract.
"""
MIX = "return z * n + (1.0 - z) * h_prev"
ZN = "z = sigmoid(a[:, :H])\n    n = np.tanh(a[:, H:])"
RZ = "r = sigmoid(a_rz[:, :H])\n    z = sigmoid(a_rz[:, H:])"
DH_PREV = "dh_prev = dh_next * (1.0 - z) + da @ W"

MISTAKES = [
    # ------------------------------------------------------------ simple_gru_step_forward
    ("simple_gru_step_forward", MIX, "return (1.0 - z) * n + z * h_prev", "z and (1 - z) swapped"),
    ("simple_gru_step_forward", "z = sigmoid(a[:, :H])", "z = np.tanh(a[:, :H])",
     "tanh used for the update gate"),
    ("simple_gru_step_forward", "n = np.tanh(a[:, H:])", "n = sigmoid(a[:, H:])",
     "sigmoid used for the candidate"),
    ("simple_gru_step_forward", ZN, "z = sigmoid(a[:, H:])\n    n = np.tanh(a[:, :H])",
     "gate blocks in the wrong order"),
    ("simple_gru_step_forward", "h_prev @ W.T + b", "h_prev @ W.T", "forgot the bias b"),
    ("simple_gru_step_forward", "x @ U.T + h_prev @ W.T", "x @ U + h_prev @ W",
     "weights used without transposing"),
    ("simple_gru_step_forward", MIX, "return n", "returned the candidate instead of the new state"),
    ("simple_gru_step_forward", MIX, "return z * n + h_prev", "old state added instead of interpolated"),
    # ------------------------------------------------------------ gru_step_forward
    ("gru_step_forward", "(r * h_prev) @ W_n.T", "r * (h_prev @ W_n.T)",
     "reset applied after the matrix product"),
    ("gru_step_forward", "(r * h_prev) @ W_n.T", "h_prev @ W_n.T", "the reset gate is not used"),
    ("gru_step_forward", RZ, "z = sigmoid(a_rz[:, :H])\n    r = sigmoid(a_rz[:, H:])",
     "r and z blocks swapped"),
    ("gru_step_forward", MIX, "return (1.0 - z) * n + z * h_prev", "z and (1 - z) swapped"),
    ("gru_step_forward", RZ, "r = np.tanh(a_rz[:, :H])\n    z = np.tanh(a_rz[:, H:])",
     "tanh used for the gates"),
    ("gru_step_forward", "ax = x @ U.T + b", "ax = x @ U.T", "forgot the bias b"),
    ("gru_step_forward", "if reset_after:", "if False:", "the reset_after argument is ignored"),
    ("gru_step_forward", "r * (h_prev @ W_n.T + b_hn)", "r * (h_prev @ W_n.T)",
     "forgot b_hn (reset_after=True)"),
    # ------------------------------------------------------------ simple_gru_step_backward
    ("simple_gru_step_backward", DH_PREV, "dh_prev = da @ W", "dh_prev misses the direct path"),
    ("simple_gru_step_backward", DH_PREV, "dh_prev = dh_next * (1.0 - z)",
     "dh_prev misses the path through the gates"),
    ("simple_gru_step_backward", "dz * z * (1.0 - z)", "dz", "sigmoid derivative missing"),
    ("simple_gru_step_backward", "dn * (1.0 - n * n)", "dn", "tanh derivative missing"),
    ("simple_gru_step_backward", "dn * (1.0 - n * n)", "dn * (1.0 - n)",
     "wrong tanh derivative (1 - n)"),
    ("simple_gru_step_backward", "dz = dh_next * (n - h_prev)", "dz = dh_next * (h_prev - n)",
     "wrong sign in the update-gate gradient"),
    ("simple_gru_step_backward", "dU = da.T @ x", "dU = x.T @ da", "dU transposed"),
    ("simple_gru_step_backward", "db = da.sum(axis=0)", "db = da.sum(axis=1)",
     "db summed over the wrong axis"),
]

PARTIAL = [
    # simple_gru_step_forward and simple_gru_step_backward: no optional feature.
    # gru_step_forward: reset_after=True (PyTorch's form) and its bias b_hn.
    ("gru_step_forward", "if reset_after:", "if False:"),
    ("gru_step_forward", "r * (h_prev @ W_n.T + b_hn)", "r * (h_prev @ W_n.T)"),
]

MISTAKES += [
    ("gru_step_forward", "r * (h_prev @ W_n.T + b_hn)", "r * (h_prev @ W_n.T) + b_hn",
     "b_hn added outside the reset product"),
    ("simple_gru_step_backward", "db = da.sum(axis=0)", "db = da", "db not summed over the batch"),
    ("simple_gru_step_backward", "dU = da.T @ x\n    dW = da.T @ h_prev",
     "dU = da.T @ h_prev\n    dW = da.T @ x", "dU and dW swapped"),
    ("simple_gru_step_backward", DH_PREV, "dh_prev = dh_next * z + da @ W",
     "the direct path weighted by z instead of (1 - z)"),
    ("simple_gru_step_backward", "dx = da @ U", "dx = da @ U.T", "weights transposed in dx or dh_prev"),
    ("simple_gru_step_backward", DH_PREV, "dh_prev = dh_next * (1.0 - z) + da @ W.T",
     "weights transposed in dx or dh_prev"),
]
