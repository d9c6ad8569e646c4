"""Mistakes of assignment 09_char_lm written into the course's answers.

See tests/test_mistakes_as_written.py for the contract.
"""
LOSS = "loss = -np.take_along_axis(log_p, y_idx[..., None], axis=-1).sum() / N"
DSCORES = "dscores = (np.exp(log_p) - one_hot(y_idx, K)) / N"
LOG_P = ("z = scores - scores.max(axis=-1, keepdims=True)\n"
         "    log_p = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))")
CORR = "c1, c2 = 1 - beta1 ** t, 1 - beta2 ** t"
UPDATE = "new_params = tree_map(lambda p, m, v: p - lr * (m / c1) / (np.sqrt(v / c2) + eps), params, m, v)"
DRAW = """        if temperature == 0:
            k = int(np.argmax(scores))
        else:
            z = scores / temperature
            p = np.exp(z - z.max())
            k = int(rng.choice(K, p=p / p.sum()))
"""
EOS_STOP = "        if stop_at_eos and k == vocab.eos_index:\n            break\n"
TRAIN_STEP = "params, state = adam_step(params, grads, state, lr=lr)"
FEED = "        h = np.tanh(eye[k:k + 1] @ U.T + h @ W.T + b)\n    return"

MISTAKES = [
    # ------------------------------------------------------------ charlm_loss
    ("charlm_loss", LOSS + "\n    " + DSCORES,
     LOSS.replace("y_idx", "x_idx") + "\n    " + DSCORES.replace("y_idx", "x_idx"),
     "the targets are the inputs (y = x)"),
    ("charlm_loss", LOSS + "\n    " + DSCORES,
     LOSS[:-len(" / N")] + "\n    " + "dscores = np.exp(log_p) - one_hot(y_idx, K)",
     "the loss is not averaged over the N sequences"),
    ("charlm_loss", LOSS + "\n    " + DSCORES,
     LOSS + " / T\n    " + DSCORES + " / T", "averaged over the time steps too"),
    ("charlm_loss", LOG_P, LOG_P.replace("axis=-1", "axis=1"), "softmax over the wrong axis"),
    ("charlm_loss", DSCORES, "dscores = np.exp(log_p) - one_hot(y_idx, K)",
     "the gradient is not divided by N"),
    ("charlm_loss", "h[:, -1]\n", "h[:, 0]\n", "h_last is the first state"),
    ("charlm_loss", "OutputParams(dV, db_y)), h[:, -1]", "OutputParams(dV, db_y)), h",
     "h_last is every state"),
    ("charlm_loss", "rnn_forward(x, h0, params.cell)", "rnn_forward(x, None, params.cell)",
     "h0 is ignored"),
    ("charlm_loss", "db_y = dscores.sum(axis=(0, 1))", "db_y = dscores.sum(axis=0)",
     "db_y summed over the batch only"),
    ("charlm_loss", 'np.einsum("ntk,nth->kh", dscores, h)', 'np.einsum("ntk,nth->hk", dscores, h)',
     "dV transposed"),
    # ------------------------------------------------------------ adam_step
    ("adam_step", CORR, "c1, c2 = 1.0, 1.0", "no bias correction"),
    ("adam_step", CORR, "c1, c2 = 1 - beta1 ** t, 1.0", "bias correction of v missing"),
    ("adam_step", "AdamState(t, m, v)", "AdamState(t, v, m)", "m and v swapped in the returned state"),
    ("adam_step", "(np.sqrt(v / c2) + eps)", "np.sqrt(v / c2 + eps)", "eps inside the square root"),
    ("adam_step", "t = state.t + 1", "t = state.t", "the step count t is not incremented"),
    ("adam_step", "beta1, beta2 = betas", "beta2, beta1 = betas", "beta1 and beta2 swapped"),
    ("adam_step", "(1 - beta2) * g * g", "(1 - beta2) * g", "v averages g instead of g**2"),
    ("adam_step", UPDATE,
     "def update(p, m, v):\n"
     "        p -= lr * (m / c1) / (np.sqrt(v / c2) + eps)\n"
     "        return p\n"
     "    new_params = tree_map(update, params, m, v)", "params changed in place"),
    # ------------------------------------------------------------ train_model
    ("train_model", TRAIN_STEP, "new_params, state = adam_step(params, grads, state, lr=lr)",
     "the parameters are never updated"),
    ("train_model", "batches(data, batch, seq_len, rng)",
     "batches(data, batch, seq_len, np.random.default_rng(seed))", "the same windows at every step"),
    ("train_model", TRAIN_STEP, "params, state = adam_step(params, grads, state)",
     "lr is not passed to adam_step"),
    ("train_model", TRAIN_STEP, "params = tree_map(lambda p, g: p - lr * g, params, grads)",
     "a plain gradient step instead of adam_step"),
    ("train_model", "init_charlm(vocab_size, hidden, rng)", "init_charlm(vocab_size, 48, rng)",
     "the hidden argument is ignored"),
    ("train_model", "losses.append(loss / seq_len)", "losses.append(loss)",
     "the losses are not per character"),
    ("train_model", "init_charlm(vocab_size, hidden, rng)", "init_charlm(hidden, vocab_size, rng)",
     "init_charlm's arguments swapped"),
    # ------------------------------------------------------------ sample
    ("sample", "z = scores / temperature", "z = scores * temperature",
     "temperature multiplied instead of divided"),
    ("sample", "if temperature == 0:", "if True:", "always the most likely character (argmax)"),
    ("sample", DRAW,
     "        p = np.exp(scores - scores.max())\n"
     "        k = int(rng.choice(K, p=p / p.sum()))\n", "the temperature is ignored"),
    ("sample", FEED, "    return", "the sampled character is not fed back"),
    ("sample", EOS_STOP, "", "the end-of-sequence symbol is ignored"),
    ("sample", EOS_STOP + "        out.append(k)\n",
     "        out.append(k)\n" + EOS_STOP, "the end-of-sequence symbol is kept in the text"),
    ("sample", "    if vocab.eos_index is not None:\n        warm = [vocab.eos_index] + warm\n", "",
     "generation does not start from EOS"),
    ("sample", "return prefix + vocab.decode(", "return vocab.decode(", "the prefix is not returned"),
    ("sample", "warm = list(vocab.encode(prefix))", "warm = []", "the prefix is not fed to the model"),
    ("sample", "k = int(rng.choice(K, p=p / p.sum()))",
     "k = int(np.random.default_rng(seed).choice(K, p=p / p.sum()))",
     "a new generator made at every draw"),
    ("sample", "k = int(rng.choice(K, p=p / p.sum()))", "k = int(rng.choice(K, p=p))",
     "the probabilities are not normalised"),
]

PARTIAL = [
    # charlm_loss: h0.
    ("charlm_loss", "rnn_forward(x, h0, params.cell)", "rnn_forward(x, None, params.cell)"),
    # adam_step: eps and betas.
    ("adam_step", "(np.sqrt(v / c2) + eps)", "np.sqrt(v / c2)"),
    ("adam_step", "beta1, beta2 = betas", "beta1, beta2 = 0.9, 0.999"),
    # train_model: the hidden size (its other options do not decide whether the run trains).
    ("train_model", "init_charlm(vocab_size, hidden, rng)", "init_charlm(vocab_size, 48, rng)"),
]

#: sample's PARTIAL rows: stop_at_eos=False, temperature 0, an empty prefix (strings compared with ==).
PARTIAL += [
    ("sample", "if stop_at_eos and k == vocab.eos_index:", "if k == vocab.eos_index:"),
    ("sample", "if temperature == 0:", "if temperature == 0 and False:"),
    ("sample", "for k in warm] or [np.zeros((1, K))]", "for k in warm]"),
]
