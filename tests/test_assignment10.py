"""Assignment 10 (sequence to sequence with attention) through the real grader, end to end.

``tools/course.py grade`` (nbgrader autograde with rnncourse_grader: the notebook runs in the
bubblewrap sandbox, the test cells are scored in the grader's process) on three submissions of
one course: the course's solution (full points, every graded cell), the released exercise as
it is (zero everywhere, and the grade run does not fail), and the solution with one mistake in
``attention_step_forward`` (the mask ignored: that function loses exactly the points of its
padded cases, the functions that call it are graded with the course's version and keep theirs).

The hidden tests of ``train_step`` train the chapter's dates model for 250 steps with the
student's function, across the sandbox boundary, and score it on 500 held-out dates with the
grader's own greedy decoder; the time the whole grading of a notebook takes is measured here.

Also here, independently of the grader: the training run the hidden tests require (250 steps,
>= 90 % held-out exact match) is reached by the package's training loop, and the course's
solution of ``beam_search`` finds the most probable sequence by enumeration when the beam is
wide enough.
"""
import itertools
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from rnncourse_grader.testing import COURSE_PY, grade_id, notebooks, solved, submit

A = "10_seq2seq"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _checks():
    import importlib.util
    spec = importlib.util.spec_from_file_location("checks10", os.path.join(REPO, "solutions", A, "checks.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def graded(temp_course):
    course = temp_course([A])
    release, solution = notebooks(course, A)
    submit(course, "alice", A, solved(release, solution))
    submit(course, "bob", A, release)
    nb = solved(release, solution)
    for cell in nb.cells:
        if grade_id(cell) == "attention_step_forward_answer":
            assert cell.source.count("e = np.where(mask, e, -np.inf)") == 1
            cell.source = cell.source.replace("e = np.where(mask, e, -np.inf)", "e = e")
    submit(course, "carol", A, nb)
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
    start = time.perf_counter()
    res = subprocess.run([sys.executable, COURSE_PY, "--course", course, "grade", A, "--workers", "1"],
                         env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - start
    assert res.returncode == 0, res.stdout + res.stderr
    from nbgrader.api import Gradebook
    out = {}
    with Gradebook(f"sqlite:///{course}/gradebook.db", "rnncourse") as gb:
        for student in ("alice", "bob", "carol"):
            nb = gb.find_submission_notebook(A, A, student)
            out[student] = {g.name: (g.score, g.max_score) for g in nb.grades if g.cell.cell_type == "code"}
    print(f"grading 3 notebooks of {A} took {seconds:.0f} s")
    return course, out, seconds


def _outputs(course, student, gid):
    with open(os.path.join(course, "autograded", student, A, f"{A}.ipynb"), encoding="utf-8") as fh:
        cell = next(c for c in json.load(fh)["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid)
    return " ".join("".join(o.get("text", "")) + " ".join(o.get("traceback", [])) + o.get("evalue", "")
                    for o in cell["outputs"])


def test_the_solution_earns_every_point(graded):
    course, grades, _ = graded
    alice = grades["alice"]
    assert len(alice) == 2 * 5 + 4, alice
    assert all(score == max_score > 0 for score, max_score in alice.values()), alice
    text = _outputs(course, "alice", "train_step_hidden")
    assert "training run: 250 steps" in text and "4 of 4 hidden test cases passed" in text, text
    with open(os.path.join(course, "autograded", "alice", A, f"{A}.ipynb"), encoding="utf-8") as fh:
        run = next(c for c in json.load(fh)["cells"] if "train_rng" in "".join(c["source"]))
    printed = "".join("".join(o.get("text", "")) for o in run["outputs"])
    assert "held-out exact match 93.8%" in printed, run["outputs"]     # the notebook's own run


def test_the_released_exercise_earns_zero_without_breaking_the_run(graded):
    course, grades, _ = graded
    bob = grades["bob"]
    assert len(bob) == 2 * 5 + 4 and all(score == 0 for score, _m in bob.values()), bob
    text = _outputs(course, "bob", "beam_search_visible")
    assert "NotImplementedError" in text or "not implemented" in text.lower(), text


def test_one_mistake_costs_one_functions_points(graded):
    course, grades, _ = graded
    carol, alice = grades["carol"], grades["alice"]
    # the mask matters in 1 of 2 visible cases (weights 2 and 1) and 2 of 6 hidden ones
    assert carol["attention_step_forward_visible"][0] == pytest.approx(3 * 2 / 3, abs=1e-4)
    assert carol["attention_step_forward_hidden"][0] == pytest.approx(4 * 4 / 6, abs=1e-4)
    others = {k: v for k, v in carol.items() if not k.startswith("attention_step_forward")}
    assert others == {k: v for k, v in alice.items() if not k.startswith("attention_step_forward")}
    text = _outputs(course, "carol", "attention_step_forward_visible")
    assert "the mask is ignored" in text, text


def test_grading_stays_within_the_sandbox_limits(graded):
    """Three notebooks in one run (one worker), each with the 250-step training of the notebook's
    own cell and of train_step's hidden tests: well under the 900 s per notebook."""
    _, _, seconds = graded
    assert seconds < 3 * 300, seconds


def test_the_required_training_run_is_reached_by_the_package():
    from rnncourse.dates import date_pairs, date_vocabularies
    from rnncourse.decoding import exact_match
    from rnncourse.seq2seq import init_seq2seq, train_seq2seq
    from rnncourse.seqpairs import encode_pairs
    c = _checks()
    sv, tv = date_vocabularies()
    model = init_seq2seq(sv.size, tv.size, c.TRAIN_HIDDEN, 0, "gru", attention=True)
    model, _ = train_seq2seq(model, lambda g: encode_pairs(*date_pairs(c.TRAIN_BATCH, g), sv, tv),
                             c.TRAIN_STEPS, "gru", lr=c.TRAIN_LR, seed=c.TRAIN_SEED)
    held_out = encode_pairs(*date_pairs(c.HELD_OUT_N, c.HELD_OUT_SEED, split="test"), sv, tv)
    em = exact_match(model, held_out, "gru", eos=tv.eos_index)
    assert c.REQUIRED_EXACT_MATCH <= em
    assert em == pytest.approx(0.938)          # chapter 10's stored run at step 250


def test_the_solution_beam_search_is_exact_when_the_beam_is_wide():
    """The notebook's beam_search (course answer) against enumeration of every sequence."""
    from rnncourse.output import log_softmax
    from rnncourse.seq2seq import decoder_step_forward, encode, init_seq2seq
    nb = json.load(open(os.path.join(REPO, "solutions", A, f"{A}.ipynb"), encoding="utf-8"))
    ns = {}
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        if cell["cell_type"] == "code" and (gid in ("decoder_step_forward_answer", "beam_search_answer",
                                                    "attention_step_forward_answer") or
                                            "".join(cell["source"]).startswith("import numpy")):
            exec("".join(cell["source"]), ns)          # noqa: S102 - the course's own notebook
    rng = np.random.default_rng(5)
    K, max_len, eos = 3, 4, 1
    for trial in range(3):
        params = init_seq2seq(4, K, 3, rng, "gru", attention=True)
        src = rng.integers(1, 4, size=3)
        enc, _ = encode(params, src[None, :], None)
        best, best_lp = None, -np.inf
        for L in range(1, max_len + 1):
            for seq in itertools.product(range(K), repeat=L):
                if eos in seq[:-1] or (L < max_len and seq[-1] != eos):
                    continue                      # complete sequences only
                state, y, lp = enc.state, eos, 0.0
                for tok in seq:
                    scores, state, _, _ = decoder_step_forward(np.array([y]), state, enc, params)
                    lp += float(log_softmax(scores)[0, tok])
                    y = tok
                if lp > best_lp:
                    best, best_lp = seq, lp
        tokens, log_prob = ns["beam_search"](params, src, eos, max_len, beam_width=K ** max_len)
        assert tuple(tokens) == best and log_prob == pytest.approx(best_lp)


def test_the_training_run_check_fails_a_model_that_does_not_learn():
    """train_step's extra check with a function right on the first step (the case compared with
    the reference) that then stops learning: the held-out exact match is named and too low."""
    import rnncourse.grading as G
    spec = G.load_checks(os.path.join(REPO, "solutions", A, "checks.py"))["train_step"]
    run = next(c for c in spec.hidden(np.random.default_rng(0)) if c.label.startswith("training run"))
    first = spec.reference(*run.args)
    calls = []

    def frozen(params, state, batch, lr=0.01, clip=5.0):
        calls.append(1)
        return params, state, 0.0

    message = spec.extra[0](frozen, run, first)
    assert len(calls) == _checks().TRAIN_STEPS - 1
    assert message and "held-out dates exactly" in message and "at least 90%" in message, message
    assert spec.extra[0](frozen, spec.visible()[0], first) is None     # only the training case
