"""Mistakes of assignment 04_vanishing_gradients written into the course's answers.

See tests/test_mistakes_as_written.py for the contract.
"""
CLIP = "np.clip(g, -clip_value, clip_value)"
NORM_LINE = "norms[t] = np.linalg.norm(dh, axis=1).mean()"
STEP_BACK = "dh = rnn_step_backward(dh, caches[t]).dh_prev"

MISTAKES = [
    # ------------------------------------------------------------ clip_by_value
    ("clip_by_value", "return map_arrays(lambda g: " + CLIP + ", grads)", "return grads",
     "the gradients come back unchanged"),
    ("clip_by_value", CLIP, "np.minimum(g, clip_value)", "only the upper bound is applied"),
    ("clip_by_value", CLIP, "np.clip(g, 0, clip_value)", "clamped to [0, clip_value]"),
    ("clip_by_value", CLIP, "np.sign(g) * clip_value", "every entry set to +-clip_value"),
    ("clip_by_value", "return map_arrays(lambda g: " + CLIP + ", grads)",
     "arrays = grads.values() if isinstance(grads, dict) else grads\n"
     "    total = np.sqrt(sum(np.sum(g ** 2) for g in arrays if g is not None))\n"
     "    return map_arrays(lambda g: g * min(1.0, clip_value / (total + 1e-6)), grads)",
     "rescaled by the global norm"),
    ("clip_by_value", CLIP,
     "(g * clip_value / np.abs(g).max() if np.abs(g).max() > clip_value else g)",
     "each array rescaled so that its largest entry is clip_value"),
    ("clip_by_value", CLIP, "np.clip(g, -clip_value, clip_value, out=g)",
     "the gradients were modified in place"),
    # ------------------------------------------------------------ clip_by_global_norm
    ("clip_by_global_norm", "return map_arrays(lambda g: g * scale, grads), total_norm",
     "return grads, total_norm", "the gradients come back unchanged"),
    ("clip_by_global_norm", "return map_arrays(lambda g: g * scale, grads), total_norm",
     "return map_arrays(lambda g: g * min(1.0, max_norm / (np.linalg.norm(g) + 1e-6)), grads), "
     "total_norm", "each array clipped by its own norm"),
    ("clip_by_global_norm", "scale = min(1.0, max_norm / (total_norm + 1e-6))",
     "scale = max_norm / (total_norm + 1e-6)", "the gradients are always rescaled to norm max_norm"),
    ("clip_by_global_norm", "scale = min(1.0, max_norm / (total_norm + 1e-6))",
     "scale = max_norm / (total_norm + 1e-6) if total_norm < max_norm else 1.0",
     "the condition is reversed"),
    ("clip_by_global_norm", "return map_arrays(lambda g: g * scale, grads), total_norm",
     "return map_arrays(lambda g: np.clip(g, -max_norm, max_norm), grads), total_norm",
     "clipped by value instead of by norm"),
    ("clip_by_global_norm", "float(np.sqrt(sum(", "float((sum(", "forgot the square root"),
    ("clip_by_global_norm", "return map_arrays(lambda g: g * scale, grads), total_norm",
     "return map_arrays(lambda g: g * scale, grads), total_norm * scale",
     "returned the norm after clipping"),
    ("clip_by_global_norm", "scale = min(1.0, max_norm / (total_norm + 1e-6))",
     "scale = min(1.0, total_norm / max_norm)", "the factor is upside down"),
    ("clip_by_global_norm", "return map_arrays(lambda g: g * scale, grads), total_norm",
     "for g in arrays:\n        if g is not None:\n            g *= scale\n"
     "    return grads, total_norm", "the gradients were modified in place"),
    # ------------------------------------------------------------ init_rnn_params
    ("init_rnn_params", "np.eye(H)", "np.zeros((H, H))", "W is all zeros"),
    ("init_rnn_params", "np.eye(H)", "rng.normal(0.0, 0.001, size=(H, H))", "W is random"),
    ("init_rnn_params", "np.eye(H)", "np.ones((H, H))", "W is all ones"),
    ("init_rnn_params", "rng.normal(0.0, 0.001, size=(H, D))", "rng.normal(size=(H, D))",
     "U drawn from N(0, 1)"),
    ("init_rnn_params", "rng.normal(0.0, 0.001, size=(H, D))",
     "rng.normal(0.0, np.sqrt(0.001), size=(H, D))", "0.001 used as the variance"),
    ("init_rnn_params", "rng.normal(0.0, 0.001, size=(H, D))",
     "rng.normal(0.0, 0.001, size=(D, H)).T", "U drawn with shape (D, H) and transposed"),
    ("init_rnn_params", "rng.normal(0.0, 0.001, size=(H, D))", "np.zeros((H, D))", "U is all zeros"),
    ("init_rnn_params", "rng.normal(0.0, 0.001, size=(H, D))",
     "rng.uniform(-0.001, 0.001, size=(H, D))", "U drawn from a uniform distribution"),
    ("init_rnn_params",
     "rng = np.random.default_rng(rng)\n    U = rng.normal(0.0, 0.001, size=(H, D))",
     "np.random.seed(rng)\n    U = 0.001 * np.random.randn(H, D)",
     "the legacy global generator (np.random.seed / np.random.randn) was used"),
    ("init_rnn_params", "np.zeros(H)", "np.ones(H)", "b is not zero"),
    # ------------------------------------------------------------ hidden_gradient_norms
    ("hidden_gradient_norms", "    return norms\n", "    return norms[::-1]\n",
     "the order of the norms is reversed"),
    ("hidden_gradient_norms", NORM_LINE + "\n        " + STEP_BACK,
     STEP_BACK + "\n        " + NORM_LINE, "off by one: each norm was recorded after stepping back"),
    ("hidden_gradient_norms", STEP_BACK, "dh = dh @ params.W",
     "forgot the derivative of the activation"),
    ("hidden_gradient_norms", STEP_BACK,
     "h_t = caches[t].h_next\n"
     "        dnet = dh * (1.0 - h_t * h_t) if cell == \"rnn\" else dh * (h_t > 0)\n"
     "        dh = dnet @ params.W.T", "W transposed in the step back"),
    ("hidden_gradient_norms", NORM_LINE, "norms[t] = np.linalg.norm(dh)",
     "one norm over the whole batch"),
    ("hidden_gradient_norms", NORM_LINE, "norms[t] = np.linalg.norm(dh, axis=1).sum()",
     "norms summed over the batch"),
    ("hidden_gradient_norms", "h = np.zeros((N, H)) if h0 is None else h0", "h = np.zeros((N, H))",
     "h0 is ignored"),
    ("hidden_gradient_norms", "rnn_step_forward(x[:, t], h, params, activation)",
     "rnn_step_forward(x[:, t], h, params)", "cell='rnn_relu' is computed with tanh"),
    ("hidden_gradient_norms", "dh = g / np.linalg.norm(g, axis=1, keepdims=True)", "dh = g",
     "the default direction is not normalised"),
]

PARTIAL = [
    # clip_by_value: no optional feature in its answer (the container is map_arrays' work).
    # clip_by_global_norm: the 1e-6 that keeps an all-zero gradient finite; None entries.
    ("clip_by_global_norm", "max_norm / (total_norm + 1e-6)", "max_norm / total_norm"),
    ("clip_by_global_norm", "for g in arrays if g is not None", "for g in arrays"),
    # init_rnn_params: rng given as a numpy Generator as well as an int seed.
    ("init_rnn_params", "np.random.default_rng(rng)", "np.random.default_rng(int(rng))"),
    # hidden_gradient_norms: relu cell, h0, dh_last, seed.
    ("hidden_gradient_norms", 'activation = "tanh" if cell == "rnn" else "relu"',
     'activation = "tanh"'),
    ("hidden_gradient_norms", "h = np.zeros((N, H)) if h0 is None else h0", "h = np.zeros((N, H))"),
    ("hidden_gradient_norms", "if dh_last is None:", "if True:"),
    ("hidden_gradient_norms", "np.random.default_rng(seed)", "np.random.default_rng(0)"),
]

MISTAKES += [
    ("clip_by_value", CLIP, "np.clip(g, clip_value, -clip_value)", "the bounds are in the wrong order"),
    ("clip_by_global_norm",
     "float(np.sqrt(sum(np.sum(g * g) for g in arrays if g is not None)))",
     "float(sum(np.linalg.norm(g) for g in arrays if g is not None))",
     "the norms of the arrays were added up"),
    ("hidden_gradient_norms", "dh = g / np.linalg.norm(g, axis=1, keepdims=True)",
     "dh = g / np.linalg.norm(g)", "each row divided by the norm of the whole matrix"),
    ("hidden_gradient_norms", "if dh_last is None:", "if True:", "dh_last is ignored"),
    ("hidden_gradient_norms", "g = np.random.default_rng(seed).normal(size=(N, H))",
     "np.random.seed(seed)\n        g = np.random.randn(N, H)",
     "the default direction drawn from the legacy global generator"),
]
