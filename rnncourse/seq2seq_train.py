"""Training an encoder-decoder (:mod:`rnncourse.seq2seq`): Adam, fresh batches, clips.

:func:`train_seq2seq` draws a batch per step from ``batch_fn(rng)``, takes the
teacher-forced loss and its gradient (:func:`rnncourse.seq2seq.seq2seq_loss`),
clips the gradient's global norm and makes one Adam step.  Also reachable as
``rnncourse.seq2seq.train_seq2seq``.
"""
from __future__ import annotations

from typing import List, NamedTuple

from ._validation import ShapeChecker, as_rng
from .clipping import clip_by_global_norm
from .optim import adam_init, adam_step
from .seq2seq import Seq2SeqParams, _cell, seq2seq_loss


class Seq2SeqHistory(NamedTuple):
    losses: List[float]                         # loss per target symbol at every step


def train_seq2seq(params: Seq2SeqParams, batch_fn, steps: int, cell="gru",
                  lr: float = 1e-2, clip: float = 5.0, seed=0, log=None):
    """Train with Adam on fresh batches, clipping the gradient's global norm.

    Parameters
    ----------
    params : initial Seq2SeqParams.
    batch_fn : ``batch_fn(rng) -> Seq2SeqBatch``, called once per step with the
        Generator made from ``seed``, e.g.
        ``lambda g: encode_pairs(*date_pairs(64, g), sv, tv)``.
    steps : number of updates.  lr : Adam's learning rate.  clip : max global norm.
    seed : int or Generator.  log : optional ``log(step, loss_per_symbol)`` callback.

    Returns
    -------
    params : the trained Seq2SeqParams.
    history : Seq2SeqHistory(losses), the loss per target symbol at each step.
    """
    chk = ShapeChecker("train_seq2seq")
    steps = chk.positive_int("steps", steps)
    c = _cell(chk, cell)
    g = as_rng(seed, "train_seq2seq")
    state = adam_init(params)
    losses: List[float] = []
    for step in range(steps):
        batch = batch_fn(g)
        loss, grads = seq2seq_loss(params, batch, c)
        grads, _norm = clip_by_global_norm(grads, clip)
        params, state = adam_step(params, grads, state, lr)
        per_symbol = loss * batch.y_mask.shape[0] / max(1, int(batch.y_mask.sum()))
        losses.append(per_symbol)
        if log is not None:
            log(step, per_symbol)
    return params, Seq2SeqHistory(losses)
