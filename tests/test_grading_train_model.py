"""Assignment 9's graded training run: ``train_model`` judged by the held-out loss it reaches.

The judge in solutions/09_char_lm/checks.py evaluates the parameters a student's loop returns on
the 13,889 characters after the first 50,000 of the course's Shakespeare and passes them below
2.5 nats per character.  Here: the solution's loop passes; loops wrong in known ways fail with
the hint that names their mistake; the loss the feedback quotes equals the one computed here
with a NumPy forward pass of its own (not rnncourse's); and the same seed gives the same losses.
"""
from __future__ import annotations

import json
import os
import re
import textwrap

import numpy as np
import pytest

from rnncourse.corpus import load_corpus
from rnncourse.grading import GradingFailure, check
from rnncourse.text import Vocabulary

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
A = "09_char_lm"
CHECKS = os.path.join(REPO, "solutions", A, "checks.py")


def solution_source(cell_id):
    with open(os.path.join(REPO, "solutions", A, f"{A}.ipynb"), encoding="utf-8") as fh:
        nb = json.load(fh)
    return next("".join(c["source"]) for c in nb["cells"] if c["id"] == cell_id)


SOLUTION = solution_source("train_model_answer")
LOOP = "    for _ in range(steps):\n"


def namespace(source):
    """A notebook namespace: the solution's first code cell, charlm_loss and adam_step, then
    the given train_model cell."""
    ns = {"__name__": "__main__"}
    for cell in ("co-01", "charlm_loss_answer", "adam_step_answer"):
        exec(solution_source(cell), ns)
    exec(source, ns)
    return ns


def wrong(old, new):
    src = SOLUTION.replace(old, new)
    assert src != SOLUTION, old
    return src


VARIANTS = {
    # params, state = adam_step(...) forgotten: the parameters stay the initial ones
    "not_updated": (wrong("params, state = adam_step(", "_, state = adam_step("),
                    "Your parameters are the initial ones"),
    # a fresh generator in the loop: the same 16 windows at every step, learnt by heart
    "same_windows": (wrong("batches(data, batch, seq_len, rng)",
                           "batches(data, batch, seq_len, np.random.default_rng(seed))"),
                     "learnt the same windows by heart"),
    # lr ignored (Adam's usual 1e-3): too few steps to get below the bar
    "lr_ignored": (wrong("adam_step(params, grads, state, lr=lr)", "adam_step(params, grads, state)"),
                   "Follow the recipe"),
    # trained well, but the summed loss of the window reported
    "loss_not_per_char": (wrong("losses.append(loss / seq_len)", "losses.append(loss)"),
                          "charlm_loss sums over the T steps"),
    # one loss too few
    "losses_short": (wrong("return params, np.array(losses)", "return params, np.array(losses[1:])"),
                     r"losses must hold one loss per step, shape \(150,\)"),
}


def held_out_loss(params):
    """Loss per character of the held-out part, with a forward pass written here."""
    text = load_corpus("shakespeare")
    data = Vocabulary.from_text(text).encode(text)[50_000:]
    (U, W, b), (V, b_y) = params.cell, params.output
    T = 100                      # windows of 100 predictions from h = 0, as evaluate_charlm
    total, n = 0.0, 0
    for s in range(0, data.size - 1, T):
        x, y = data[s:s + T], data[s + 1:s + T + 1]
        x = x[:y.size]
        h = np.zeros(U.shape[0])
        for xt, yt in zip(x, y):
            h = np.tanh(U[:, xt] + W @ h + b)
            o = V @ h + b_y
            total += np.log(np.sum(np.exp(o - o.max()))) + o.max() - o[yt]
            n += 1
    return total / n


def test_the_solution_passes_both_cells_and_its_model_is_below_the_bar():
    ns = namespace(SOLUTION)
    assert check("train_model", ns, checks_path=CHECKS, points=2, time_limit=60) == 2
    assert check("train_model", ns, checks_path=CHECKS, points=2, hidden=True, seed=1903,
                 time_limit=60) == 2
    text = load_corpus("shakespeare")
    data = Vocabulary.from_text(text).encode(text)
    params, losses = ns["train_model"](data[:50_000], 59)
    assert losses.shape == (150,) and held_out_loss(params) < 2.5
    again = ns["train_model"](data[:50_000], 59)[1]
    np.testing.assert_array_equal(losses, again)        # no clock in it: the same seed, the same run


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_wrong_loop_fails_with_the_hint_that_names_it(variant):
    source, hint = VARIANTS[variant]
    ns = namespace(source)
    with pytest.raises(GradingFailure) as info:
        check("train_model", ns, checks_path=CHECKS, points=2, time_limit=60)
    message = re.sub(r"\s+", " ", str(info.value))        # the feedback is wrapped at 88
    assert re.search(hint, message), message
    assert "0 of 2 points" in message
    quoted = re.search(r"held-out characters is (\d+\.\d+) nats", message)
    if variant in ("not_updated", "same_windows", "lr_ignored"):
        text = load_corpus("shakespeare")
        data = Vocabulary.from_text(text).encode(text)
        from rnncourse.charlm import charlm_loss
        from rnncourse.optim import adam_step
        ns.update(charlm_loss=charlm_loss, adam_step=adam_step)    # what the check ran it with
        params, _ = ns["train_model"](data[:50_000], 59, seed=1)
        mine = held_out_loss(params)
        assert quoted and float(quoted.group(1)) == pytest.approx(mine, abs=6e-4), message
        assert mine >= 2.5


def test_a_mistake_in_charlm_loss_costs_train_model_nothing():
    """train_model is graded with the course's charlm_loss and adam_step (depends=)."""
    ns = namespace(SOLUTION)
    ns["charlm_loss"] = lambda *a, **k: (0.0, None, None)     # the student's, broken
    ns["adam_step"] = lambda params, grads, state, **k: (params, state)
    assert check("train_model", ns, checks_path=CHECKS, points=2, time_limit=60) == 2
    assert ns["charlm_loss"](1, 2, 3) == (0.0, None, None)     # the notebook's own again


def test_the_notebook_says_what_is_expected():
    with open(os.path.join(REPO, "solutions", A, f"{A}.ipynb"), encoding="utf-8") as fh:
        text = "".join("".join(c["source"]) for c in json.load(fh)["cells"] if c["cell_type"] == "markdown")
    from importlib.util import module_from_spec, spec_from_file_location
    spec = spec_from_file_location("_checks09", CHECKS)
    mod = module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert f"it must be below {mod.TRAIN_LOSS_BELOW} nats" in textwrap.dedent(text).replace("\n", " ")
    assert f"{mod.TRAIN_CHARS:,}" in text and "13,889" in text
    assert len(load_corpus("shakespeare")) - mod.TRAIN_CHARS == 13_889
