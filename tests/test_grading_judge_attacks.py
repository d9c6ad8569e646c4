"""Answer-cell attacks on the two training-run judges, graded through the real `course.py grade`.

Assignment 09's ``train_model`` is judged by the held-out loss its parameters reach, and
assignment 10's ``train_step`` by one step compared with the course's and then a 250-step
training run scored on held-out dates.  A criterion can be met by a model that did not come
from the student's code, so each student here is a blank notebook (the untouched release) with
one attack in the graded function's answer cell, written as a student would: a model trained
"at home" with the course's own loop and shipped in a file beside the notebook, a model kept
from an earlier call, the course's reference called (or looked for on disk), the judge's
helpers patched in the notebook's process with values whose comparisons lie, a run stalled in
the notebook or in the grader's callbacks, a run whose first step is hard-coded and whose
other steps return a pre-trained model, a run that sleeps after its first step.

Every attack must earn what the blank notebook earns for that function, or exactly what its
honest parts earn (written out per case below); the solution earns every autograded point.
One class of two assignments, one grading run; the scores are read from the gradebook.  Before
the fixes, `pretrained` and `memorised` earned train_model's 4 points, `hardcoded_run` the run's
1.2 points, and `sleep_in_run` stopped its whole notebook's grading (the time limit, met in the
run, is not an Exception): no grade at all.  The last test checks that last point in-process.
"""
from __future__ import annotations

import copy
import json
import os
import pickle
import textwrap

import numpy as np
import nbformat
import pytest

from rnncourse_grader import testing
from test_nbgrader_workflow import PY, REPO, run

A9, A10 = "09_char_lm", "10_seq2seq"

pytestmark = pytest.mark.skipif(
    __import__("rnncourse_grader.sandbox", fromlist=["x"]).check_available() is not None,
    reason="no sandbox on this machine")


# ----------------------------------------------------------------------------- 09: train_model
HONEST_LOOP = """
    rng = np.random.default_rng(seed)
    params = init_charlm(vocab_size, hidden, rng)
    state = adam_init(params)
    losses = []
    for _ in range(steps):
        x_idx, y_idx = batches(data, batch, seq_len, rng)
        loss, grads, _ = charlm_loss(params, x_idx, y_idx)
        grads, _ = clip_by_global_norm(grads, clip)
        params, state = adam_step(params, grads, state, lr=lr)
        losses.append(loss / seq_len)
"""

SIGNATURE9 = ("def train_model(data, vocab_size, steps=150, hidden=48, batch=16, seq_len=25, "
              "lr=0.01, clip=5.0, seed=1):\n")

ATTACKS9 = {
    # trained at home with the course's train_charlm (another seed, longer), shipped beside the
    # notebook; losses made up to agree with the criterion
    "pretrained": """
        import pickle
        def train_model(data, vocab_size, steps=150, hidden=48, batch=16, seq_len=25, lr=0.01,
                        clip=5.0, seed=1):
            with open("pretrained.pkl", "rb") as fh:
                models = pickle.load(fh)
            return models[hidden], np.linspace(3.5, 2.2, steps)
        """,
    # the honest loop, but a model is kept per hidden size and returned for any other seed,
    # batch or window length: honest on the visible case and the H=32 case only
    "memorised": "_kept = {}\n" + SIGNATURE9 + """
    if hidden in _kept:
        return _kept[hidden]
""" + HONEST_LOOP + """
    _kept[hidden] = params, np.array(losses)
    return _kept[hidden]
""",
    # the course's own training function, then the real package looked for on disk
    "reference": SIGNATURE9 + """
    import importlib.util, glob, sys
    gen = np.random.default_rng(seed)
    init = init_charlm(vocab_size, hidden, gen)
    try:
        from rnncourse.charlm import train_charlm
        params, history = train_charlm(data, None, steps=steps, seq_len=seq_len, batch=batch,
                                       lr=lr, clip=clip, seed=gen, log_every=1, params=init)
        return params, history.loss
    except NotImplementedError:
        pass
    for path in glob.glob(%r) + glob.glob("/usr/**/rnncourse/charlm.py", recursive=True):
        spec = importlib.util.spec_from_file_location("_real_charlm", path)
        mod = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(mod)
            params, history = mod.train_charlm(data, None, steps=steps, seq_len=seq_len,
                                               batch=batch, lr=lr, clip=clip, seed=gen,
                                               log_every=1, params=init)
            return params, history.loss
        except Exception:
            continue
    raise NotImplementedError("no reference found")
""" % os.path.join(REPO, "rnncourse", "charlm.py"),
    # the judge's helpers patched in the notebook's process; untrained parameters and losses
    # whose comparisons, float() and mean() lie
    "patch_and_lie": """
        import rnncourse.charlm, rnncourse.grading
        class Lie(np.ndarray):
            def __lt__(self, other): return True
            __le__ = __lt__
            def __ge__(self, other): return False
            __gt__ = __ge__
            def __eq__(self, other): return True
            def __float__(self): return 2.2
            def mean(self, *a, **k): return 2.2
            def all(self, *a, **k): return True
        def train_model(data, vocab_size, steps=150, hidden=48, batch=16, seq_len=25, lr=0.01,
                        clip=5.0, seed=1):
            rnncourse.charlm.evaluate_charlm = lambda *a, **k: 2.2
            rnncourse.charlm.init_charlm = lambda *a, **k: None
            rnncourse.grading.check = lambda *a, **k: 2
            params = init_charlm(vocab_size, hidden, np.random.default_rng(seed))
            lie = lambda t: type(t)(*(lie(v) if isinstance(v, tuple) else v.view(Lie) for v in t))
            return lie(params), np.full(steps, 2.2).view(Lie)
        """,
    # past the time limit: asleep in the notebook, or keeping the grader busy with callbacks
    # (the course's charlm_loss on long windows) that never train anything
    "stall": """
        import time
        _calls = []
        def train_model(data, vocab_size, steps=150, hidden=48, batch=16, seq_len=25, lr=0.01,
                        clip=5.0, seed=1):
            _calls.append(seed)
            params = init_charlm(vocab_size, hidden, np.random.default_rng(seed))
            if len(_calls) == 1:
                time.sleep(10_000)
            x = data[None, :20_000]
            while True:
                charlm_loss(params, x, x)
        """,
}

# what each attack's honest parts earn: (visible, hidden) points of train_model
EARNS9 = {"pretrained": (0, 0), "memorised": (2, 1), "reference": (0, 0), "patch_and_lie": (0, 0),
          "stall": (0, 0)}


def pretrained_models():
    """Models trained 'at home' with the course's loop: another seed, 400 steps, H=48 and 32."""
    from rnncourse.charlm import init_charlm, train_charlm
    from rnncourse.corpus import load_corpus
    from rnncourse.text import Vocabulary
    text = load_corpus("shakespeare")
    data = Vocabulary.from_text(text).encode(text)[:50_000]
    out = {}
    for H in (48, 32):
        gen = np.random.default_rng(4242)
        params, _ = train_charlm(data, None, steps=400, seq_len=25, batch=16, lr=0.01, clip=5.0,
                                 seed=gen, log_every=1, params=init_charlm(59, H, gen))
        out[H] = params
    return out


# ----------------------------------------------------------------------------- 10: train_step
SIGNATURE10 = "def train_step(params, state, batch, lr=0.01, clip=5.0):\n"
HONEST_STEP = """
    loss, grads = seq2seq_loss(params, batch)
    grads, _norm = clip_by_global_norm(grads, clip)
    new_params, new_state = adam_step(params, grads, state, lr)
    return new_params, new_state, loss * batch.y_mask.shape[0] / batch.y_mask.sum()
"""

ATTACKS10 = {
    # no training code: the run's first step (its inputs are public) computed at home, then
    # the model of that public run, also computed at home, returned at every later step
    "hardcoded_run": """
        import pickle
        with open("run.pkl", "rb") as _fh:
            _RUN = pickle.load(_fh)
        def _same(a, b):
            return all(np.array_equal(x, y) for x, y in zip(a.encoder + a.decoder, b.encoder + b.decoder))
        def train_step(params, state, batch, lr=0.01, clip=5.0):
            if state.t == 0 and _same(params, _RUN["init"]):
                return _RUN["first"]
            if state.t >= 1 and batch.src.shape[0] == 64:
                return _RUN["final"], state, 0.05
            raise NotImplementedError()
        """,
    # correct, but asleep from the second step of the 64-date run on
    "sleep_in_run": SIGNATURE10 + """
    if state.t >= 1 and batch.src.shape[0] == 64:
        import time
        time.sleep(10_000)
""" + HONEST_STEP,
    # the course's full training function, then the real package on disk
    "reference": SIGNATURE10 + """
    import importlib.util
    try:
        from rnncourse.seq2seq_train import train_seq2seq
        return train_seq2seq(params, state, batch, lr, clip)
    except NotImplementedError:
        pass
    spec = importlib.util.spec_from_file_location("_real_seq2seq_train", %r)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.train_seq2seq(params, state, batch, lr, clip)
""" % os.path.join(REPO, "rnncourse", "seq2seq_train.py"),
    # the decoder and exact match patched in the notebook's process; a loss that lies
    "patch_and_lie": """
        import rnncourse.decoding
        class LieFloat(float):
            def __eq__(self, other): return True
            def __ne__(self, other): return False
            def __sub__(self, other): return 0.0
            __rsub__ = __sub__
            def __abs__(self): return 0.0
        def train_step(params, state, batch, lr=0.01, clip=5.0):
            rnncourse.decoding.exact_match = lambda *a, **k: 1.0
            rnncourse.decoding.greedy_decode = lambda *a, **k: None
            return params, state, LieFloat(0.0)
        """,
}

# (visible, hidden) points of train_step: the run is the hidden cell's core case (weight 2 of
# 5); sleep_in_run passes every case but the run
EARNS10 = {"hardcoded_run": (0, 0), "sleep_in_run": (2, 1.8), "reference": (0, 0),
           "patch_and_lie": (0, 0)}


def run_payload():
    """What a student computes at home from the notebook's description of the graded run: its
    initial model, its first step, and the model after its 250 steps."""
    from rnncourse.clipping import clip_by_global_norm
    from rnncourse.dates import date_pairs, date_vocabularies
    from rnncourse.optim import adam_init, adam_step
    from rnncourse.seq2seq import init_seq2seq, seq2seq_loss
    from rnncourse.seqpairs import encode_pairs
    src_vocab, tgt_vocab = date_vocabularies()
    params = init = init_seq2seq(src_vocab.size, tgt_vocab.size, 32, 0, "gru")
    state, g, first = adam_init(params), np.random.default_rng(1), None
    for _ in range(250):
        batch = encode_pairs(*date_pairs(64, g), src_vocab, tgt_vocab)
        loss, grads = seq2seq_loss(params, batch, "gru")
        grads, _ = clip_by_global_norm(grads, 5.0)
        params, state = adam_step(params, grads, state, 1e-2)
        if first is None:
            first = (params, state, loss * batch.y_mask.shape[0] / batch.y_mask.sum())
    return {"init": init, "first": first, "final": params}


# ----------------------------------------------------------------------------- the class
IMPORTS9 = ("from rnncourse.corpus import load_corpus, batches\n"
            "from rnncourse.charlm import init_charlm\n"
            "from rnncourse.clipping import clip_by_global_norm\n")


def with_answer(release, cell_id, source, clear=()):
    """The release with ``source`` as the answer cell ``cell_id`` (after the release's imports
    in assignment 9) and the cells ``clear`` (ids) emptied."""
    nb = nbformat.from_dict(copy.deepcopy(json.loads(json.dumps(release))))
    for c in nb.cells:
        if testing.grade_id(c) == cell_id:
            c.source = (IMPORTS9 if cell_id == "train_model_answer" else "") + textwrap.dedent(source)
        if c.get("id") in clear:               # a long "Try it" cell, not graded
            c.source = ""
    return nb


def scores(course, assignment, student):
    from nbgrader.api import Gradebook
    with Gradebook(f"sqlite:///{course}/gradebook.db", "rnncourse") as gb:
        nb = gb.find_submission_notebook(assignment, assignment, student)
        return {g.name: g.auto_score for g in nb.grades if g.auto_score is not None}, \
            {g.name: g.max_score for g in nb.grades}


@pytest.fixture(scope="module")
def graded(temp_course):
    course = temp_course([A9, A10], name="judges", cell_timeout=60)
    for a, attacks, answer, clear in ((A9, ATTACKS9, "train_model_answer", ("co-14", "co-19")),
                                      (A10, ATTACKS10, "train_step_answer", ("s10-24",))):
        release, solution = testing.notebooks(course, a)
        testing.submit(course, "correct", a, testing.solved(release, solution))
        testing.submit(course, "blank", a, release)
        for name, code in attacks.items():
            testing.submit(course, f"attack_{name}", a, with_answer(release, answer, code, clear))
    with open(os.path.join(course, "submitted", "attack_pretrained", A9, "pretrained.pkl"), "wb") as fh:
        pickle.dump(pretrained_models(), fh)
    with open(os.path.join(course, "submitted", "attack_hardcoded_run", A10, "run.pkl"), "wb") as fh:
        pickle.dump(run_payload(), fh)
    res = run([PY, os.path.join(REPO, "tools", "course.py"), "--course", course, "grade", A9, A10,
               "--no-feedback", "--csv", ""], REPO, check=False, timeout=1800,
              extra_env={"RNNCOURSE_CALL_TIME_LIMIT": "10"})
    return course, res


def test_the_class_is_graded(graded):
    course, res = graded
    assert res.returncode == 0, res.stdout + res.stderr
    for a, attacks in ((A9, ATTACKS9), (A10, ATTACKS10)):
        for s in ["correct", "blank"] + [f"attack_{n}" for n in attacks]:
            assert scores(course, a, s)[0], f"{a}/{s} was not graded:\n{res.stdout}\n{res.stderr}"


def test_the_solutions_get_every_autograded_point(graded):
    course, _ = graded
    for a in (A9, A10):
        got, full = scores(course, a, "correct")
        assert got == {k: full[k] for k in got}, (a, got, full)


@pytest.mark.parametrize("a,function,attack", [(A9, "train_model", n) for n in ATTACKS9]
                         + [(A10, "train_step", n) for n in ATTACKS10])
def test_an_attack_earns_only_what_its_honest_parts_earn(graded, a, function, attack):
    course, _ = graded
    blank, _ = scores(course, a, "blank")
    got, _ = scores(course, a, f"attack_{attack}")
    visible, hidden = (EARNS9 if a == A9 else EARNS10)[attack]
    assert blank[f"{function}_visible"] == blank[f"{function}_hidden"] == 0
    assert got[f"{function}_visible"] == pytest.approx(visible), got
    assert got[f"{function}_hidden"] == pytest.approx(hidden), got
    others = {k: v for k, v in got.items() if not k.startswith(function)}
    assert others == {k: v for k, v in blank.items() if not k.startswith(function)}


def test_a_time_limit_inside_an_extra_check_fails_that_case_only():
    """An extra check that calls the student's function again (assignment 10's training run)
    and meets the time limit there (the grader raises _TimeLimit, which is not an Exception):
    that case fails and the next one is graded, instead of the notebook's grading stopping."""
    import rnncourse.grading as G

    def late(fn, c, out):
        if c.label == "slow":
            raise G._TimeLimit()

    results = G.grade_cases(lambda x: x, lambda x: x, [G.case("slow", 1.0), G.case("fine", 2.0)],
                            extra=[late])
    assert [r.passed for r in results] == [False, True]
    assert "time limit" in results[0].message


def test_no_call_of_the_notebook_is_made_after_its_time_limit():
    """A training run that sleeps just under the per-call limit at each of its 249 steps would
    hold the grader for 249 times that limit (the notebook's limit was checked only between
    cells): once the notebook's time is up, the grader's calls of its functions fail at once."""
    import time
    import rnncourse.grading as grading
    from rnncourse_grader import codec, harness

    class Session:
        calls = []

        def call(self, name, args, kwargs, substitute=None):
            self.calls.append(name)
            return {"status": "ok", "value": codec.encode(1)}

    session = Session()
    namespace = harness.RemoteNamespace(session, grading, deadline=time.monotonic() - 1)
    train_step = harness.RemoteFunction(session, "train_step", "__main__", grading, namespace)
    with pytest.raises(RuntimeError, match="the notebook used up its time limit"):
        train_step(1)
    assert session.calls == []
    namespace.deadline = time.monotonic() + 600
    assert train_step(1) == 1 and session.calls == ["train_step"]
