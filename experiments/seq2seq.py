"""Chapter 10's slow measurements: the bottleneck of one fixed vector, attention, beam search.

Three experiments, each seeded, written to one JSON file (``book/data/seq2seq.json``):

* ``reversal``: a GRU encoder-decoder with and without attention trained on
  the reversal task (strings of ``--rev-min``..``--rev-max`` letters), then
  scored (exact match) on ``--rev-eval`` fresh strings of each length.  Without
  attention the whole source must pass through the encoder's final state.
* ``dates``: the human-date -> ISO task (:mod:`rnncourse.dates`) for each
  model of ``--date-models`` (``att`` or ``noatt``, with a hidden size), the
  held-out exact match logged every ``--eval-every`` steps, plus the attention
  weights of the last attention model on a few held-out dates (for the heatmap).
* ``beam``: the attention dates model trained for ``--beam-steps`` steps, the
  held-out exact match of greedy search and of beam search of several widths.

Usage (``--small`` runs everything tiny in seconds, for the test)::

    python experiments/seq2seq.py --out book/data/seq2seq.json
    python experiments/seq2seq.py --small --out /tmp/s.json

Output JSON::

    {"config": {...},
     "reversal": {"lengths": [2, ...], "runs": [{"attention": true, "steps": 1500,
                  "seconds": 118.4, "final_loss": 0.0002, "exact_match": [1.0, ...],
                  "loss_step": [...], "loss": [...]}, ...]},
     "dates": {"runs": [{"attention": true, "hidden": 32, "step": [50, ...],
               "seconds": [...], "exact_match": [...], "loss": [...]}, ...],
               "examples": [{"source": "...", "target": "...", "output": "...",
                             "alphas": [[...], ...]}, ...]},
     "beam": {"steps": 150, "hidden": 32, "n_test": 300,
              "results": [{"beam_width": 1, "alpha": 0.0, "exact_match": 0.837}, ...]}}

``seconds`` are training seconds on one thread (machine-dependent, shown only
as a rough scale); ``loss`` is the training loss per target symbol (mean over
the logging window).  ``alphas[t][s]`` is the weight of source character s
when the model emitted output symbol t (EOS included).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Dict, List, Sequence

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from rnncourse.clipping import clip_by_global_norm  # noqa: E402
from rnncourse.dates import date_pairs, date_vocabularies  # noqa: E402
from rnncourse.decoding import exact_match, greedy_decode  # noqa: E402
from rnncourse.optim import adam_init, adam_step  # noqa: E402
from rnncourse.seq2seq import init_seq2seq, seq2seq_loss  # noqa: E402
from rnncourse.seqpairs import encode_pairs, reversal_task, reversal_vocabularies  # noqa: E402

CELL = "gru"


def _train(params, batch_fn, steps: int, lr: float, seed, every: int, on_eval=None):
    """Adam on fresh batches with global-norm clipping at 5.

    Every ``every`` steps (and at the last) logs the mean loss per target
    symbol over the window and the training seconds so far, and calls
    ``on_eval(params)`` (its value is logged too, time not counted).
    Returns (params, log dict with step, seconds, loss, eval).
    """
    g = np.random.default_rng(seed)
    state = adam_init(params)
    log: Dict[str, List] = {"step": [], "seconds": [], "loss": [], "eval": []}
    window: List[float] = []
    train_s = 0.0
    for step in range(1, steps + 1):
        t0 = time.perf_counter()
        batch = batch_fn(g)
        loss, grads = seq2seq_loss(params, batch, CELL)
        grads, _ = clip_by_global_norm(grads, 5.0)
        params, state = adam_step(params, grads, state, lr)
        train_s += time.perf_counter() - t0
        window.append(loss * batch.y_mask.shape[0] / max(1, int(batch.y_mask.sum())))
        if step % every == 0 or step == steps:
            log["step"].append(step)
            log["seconds"].append(round(train_s, 2))
            log["loss"].append(float(np.mean(window)))
            log["eval"].append(on_eval(params) if on_eval is not None else None)
            window = []
    return params, log


def reversal(hidden: int, steps: int, lmin: int, lmax: int, n_eval: int, every: int,
             n_symbols: int = 8, batch: int = 64) -> Dict:
    """Exact match against length, with and without attention (module docstring)."""
    sv, tv = reversal_vocabularies(n_symbols)

    def batch_fn(g):
        return encode_pairs(*reversal_task(batch, g, lmin, lmax, n_symbols), sv, tv)

    lengths = list(range(lmin, lmax + 1))
    runs = []
    for attention in (True, False):
        p = init_seq2seq(sv.size, tv.size, hidden, 0, CELL, attention)
        p, log = _train(p, batch_fn, steps, 5e-3, 1, every)
        em = [exact_match(p, encode_pairs(*reversal_task(n_eval, 1000 + L, L, L, n_symbols),
                                          sv, tv), CELL, eos=tv.eos_index)
              for L in lengths]
        runs.append({"attention": attention, "hidden": hidden, "steps": steps,
                     "seconds": log["seconds"][-1], "final_loss": log["loss"][-1],
                     "exact_match": em, "loss_step": log["step"], "loss": log["loss"]})
    return {"lengths": lengths, "n_eval": n_eval, "n_symbols": n_symbols, "runs": runs}


def _attention_examples(p, sv, tv, n: int) -> List[Dict]:
    """Greedy outputs and attention weights of ``p`` on n held-out dates."""
    sources, targets = date_pairs(n, 77, split="test")
    out = []
    for src, tgt in zip(sources, targets):
        b = encode_pairs([src], [tgt], sv, tv)
        tokens, lengths, alphas = greedy_decode(p, b.src, b.src_mask, tv.eos_index,
                                                len(tgt) + 1, CELL)
        L = int(lengths[0])
        text = "".join(tv.chars[i] for i in tokens[0, :L] if i != tv.eos_index)
        out.append({"source": src, "target": tgt, "output": text,
                    "alphas": np.round(alphas[0, :L], 4).tolist()})
    return out


def dates(models: Sequence[str], steps: Sequence[int], n_test: int, every: int,
          n_examples: int, batch: int = 64) -> Dict:
    """Held-out exact match during training for each model ``att32``, ``noatt64``..."""
    sv, tv = date_vocabularies()
    test = encode_pairs(*date_pairs(n_test, 2024, split="test"), sv, tv)

    def batch_fn(g):
        return encode_pairs(*date_pairs(batch, g), sv, tv)

    runs, examples = [], []
    for name, n_steps in zip(models, steps):
        attention = name.startswith("att")
        hidden = int(name[3 if attention else 5:])
        p = init_seq2seq(sv.size, tv.size, hidden, 0, CELL, attention)
        p, log = _train(p, batch_fn, n_steps, 1e-2, 1, every,
                        lambda q: exact_match(q, test, CELL, eos=tv.eos_index))
        runs.append({"attention": attention, "hidden": hidden, "step": log["step"],
                     "seconds": log["seconds"], "loss": log["loss"],
                     "exact_match": log["eval"]})
        if attention:
            examples = _attention_examples(p, sv, tv, n_examples)
    return {"n_test": n_test, "batch": batch, "runs": runs, "examples": examples}


def beam(hidden: int, steps: int, n_test: int, widths: Sequence[int], alpha: float) -> Dict:
    """Greedy against beam search on one attention dates model, briefly trained."""
    sv, tv = date_vocabularies()
    test = encode_pairs(*date_pairs(n_test, 2024, split="test"), sv, tv)
    p = init_seq2seq(sv.size, tv.size, hidden, 0, CELL, True)
    p, _ = _train(p, lambda g: encode_pairs(*date_pairs(64, g), sv, tv), steps, 1e-2, 1,
                  steps)
    results = []
    for k in widths:
        a = 0.0 if k == 1 else alpha
        t0 = time.perf_counter()
        em = exact_match(p, test, CELL, eos=tv.eos_index, beam_width=k, alpha=a)
        results.append({"beam_width": k, "alpha": a, "exact_match": em,
                        "seconds": round(time.perf_counter() - t0, 2)})
    return {"steps": steps, "hidden": hidden, "n_test": n_test, "results": results}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--small", action="store_true", help="everything tiny (seconds)")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.small:
        cfg = dict(rev_hidden=8, rev_steps=6, rev_min=2, rev_max=4, rev_eval=10, every=3,
                   date_models=["att8", "noatt8"], date_steps=[6, 6], date_test=10,
                   n_examples=2, beam_hidden=8, beam_steps=4, beam_test=5,
                   beam_widths=[1, 3], beam_alpha=0.7)
    else:
        cfg = dict(rev_hidden=32, rev_steps=1500, rev_min=2, rev_max=16, rev_eval=200,
                   every=50, date_models=["att32", "noatt32"], date_steps=[400, 1500],
                   date_test=500, n_examples=4, beam_hidden=32, beam_steps=150,
                   beam_test=300, beam_widths=[1, 3, 5], beam_alpha=0.7)
    cfg["cell"] = CELL
    t0 = time.perf_counter()
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    rev = reversal(cfg["rev_hidden"], cfg["rev_steps"], cfg["rev_min"], cfg["rev_max"],
                   cfg["rev_eval"], cfg["every"])
    say("reversal", [(r["attention"], r["exact_match"]) for r in rev["runs"]],
        f"{time.perf_counter() - t0:.0f}s")
    dat = dates(cfg["date_models"], cfg["date_steps"], cfg["date_test"], cfg["every"],
                cfg["n_examples"])
    say("dates", [(r["hidden"], r["attention"], r["exact_match"][-1]) for r in dat["runs"]],
        f"{time.perf_counter() - t0:.0f}s")
    bm = beam(cfg["beam_hidden"], cfg["beam_steps"], cfg["beam_test"], cfg["beam_widths"],
              cfg["beam_alpha"])
    say("beam", bm["results"], f"{time.perf_counter() - t0:.0f}s")
    data = {"config": cfg, "reversal": rev, "dates": dat, "beam": bm,
            "total_seconds": round(time.perf_counter() - t0, 1)}
    with open(args.out, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
