"""Mistakes of assignment 03_bptt written into the course's answers (see tests/test_mistakes_as_written.py)."""
MISTAKES = [
    ("rnn_step_backward", "(1.0 - h_next * h_next)", "(1.0 - h_next)", "tanh' written as 1 - h"),
]
PARTIAL = [
    ("rnn_step_backward", 'if activation == "tanh":', "if True:"),
]
