"""Points per test case: a function that passes some of its cases earns their share of the points.

For every graded function of every assignment (and both of its test cells), a stand-in student
that returns the reference's answer on some cases and raises on the others earns exactly
``points * (weights of the passed cases) / (all weights)``, computed here from the case list.
Hand-written feature-incomplete implementations (tanh-only rnn_step_forward, peephole-free
lstm_step_backward, rnn_backward ignoring relu) earn the points of the cases they pass, the
expected figures worked out by hand in each test.
"""
import copy
import types
import glob
import os

import numpy as np
import pytest

import rnncourse.grading as G
from rnncourse.grading import cells

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOLUTIONS = os.path.join(REPO, "solutions")
ASSIGNMENTS = sorted(os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(SOLUTIONS, "*", "checks.py")))


def fingerprint(obj):
    """A hashable summary of a case's arguments (deep copies of them give the same one)."""
    if isinstance(obj, np.ndarray):
        return ("array", obj.shape, obj.dtype.str, obj.tobytes())
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__,) + tuple(fingerprint(v) for v in obj)
    if isinstance(obj, dict):
        return ("dict",) + tuple(sorted((str(k), fingerprint(v)) for k, v in obj.items()))
    if isinstance(obj, (int, float, str, bool, type(None), np.number)):
        return repr(obj)
    if isinstance(obj, np.random.Generator):
        return ("rng", repr(obj.bit_generator.state))
    if callable(obj):
        return ("callable", getattr(obj, "__name__", type(obj).__name__))
    return (type(obj).__name__, fingerprint(vars(obj)) if hasattr(obj, "__dict__") else repr(obj))


def stand_in(spec, cases, failing):
    """A "student" function: the reference's answers, precomputed, except on the ``failing`` cases."""
    answers = {}
    for i, c in enumerate(cases):
        key = fingerprint((c.args, c.kwargs))
        args, kwargs = copy.deepcopy((c.args, c.kwargs))
        answers[key] = None if i in failing else spec.reference(*args, **kwargs)

    def student(*args, **kwargs):
        key = fingerprint((args, kwargs))
        if key not in answers:      # a call no case lists (train_step's training run): right
            return spec.reference(*copy.deepcopy(args), **copy.deepcopy(kwargs))
        if answers[key] is None:
            raise ValueError("this feature is not written yet")
        return answers[key]
    return student


def graded_cells():
    for a in ASSIGNMENTS:
        path = os.path.join(SOLUTIONS, a, "checks.py")
        for pos, (name, (visible, hidden)) in enumerate(cells.points_table(path).items(), start=1):
            yield a, name, "visible", visible, None
            yield a, name, "hidden", hidden, cells.hidden_seed(a, pos)


@pytest.mark.parametrize("a, name, kind, points, seed", list(graded_cells()),
                         ids=lambda v: v if isinstance(v, str) else None)
def test_every_function_earns_the_points_of_the_cases_it_passes(a, name, kind, points, seed, capsys):
    path = os.path.join(SOLUTIONS, a, "checks.py")
    spec = G.load_checks(path)[name]
    cases = list(spec.hidden(np.random.default_rng(seed)) if seed is not None else spec.visible())
    if len(cases) < 2:
        pytest.skip("one case only: all or nothing")
    kw = dict(checks_path=path, points=points, **({"hidden": True, "seed": seed} if seed is not None else {}))
    failing = set(range(1, len(cases), 2))             # the second, fourth... case fails
    weights = [c.weight for c in cases]
    expected = points * sum(w for i, w in enumerate(weights) if i not in failing) / sum(weights)
    score = G.check(name, {name: stand_in(spec, cases, failing)}, **kw)
    assert score == pytest.approx(expected, abs=1e-6)
    out = capsys.readouterr().out
    assert f"{len(cases) - len(failing)} of {len(cases)} {kind} test cases passed" in out
    assert out.count("FAILED  ") == len(failing) and out.count("passed  ") == len(cases) - len(failing)
    assert G.check(name, {name: stand_in(spec, cases, set())}, **kw) == pytest.approx(points)
    with pytest.raises(G.GradingFailure, match=f"0 of {len(cases)} {kind} test cases passed"):
        G.check(name, {name: stand_in(spec, cases, set(range(len(cases))))}, **kw)


def test_core_cases_weigh_twice_a_variant():
    spec = G.load_checks(os.path.join(SOLUTIONS, "02_forward_pass", "checks.py"))["rnn_step_forward"]
    assert [c.weight for c in spec.visible()] == [2.0, 1.0]
    assert G.CORE_WEIGHT == 2.0


# ---------------------------------------------------------------- feature-incomplete students
def tanh_only_step(x, h_prev, params, activation="tanh"):
    return np.tanh(x @ params.U.T + h_prev @ params.W.T + params.b)


def test_tanh_only_rnn_step_forward():
    """Visible: tanh core (2) passes, relu (1) fails: 2 * 2/3.  Hidden: 6 cases of weight 1, one relu: 3 * 5/6."""
    path = os.path.join(SOLUTIONS, "02_forward_pass", "checks.py")
    ns = {"rnn_step_forward": tanh_only_step}
    assert G.check("rnn_step_forward", ns, checks_path=path, points=2) == pytest.approx(4 / 3, abs=1e-6)
    assert G.check("rnn_step_forward", ns, checks_path=path, points=3, hidden=True, seed=1201) == \
        pytest.approx(2.5, abs=1e-6)


def peephole_free_lstm_step_backward(dh_next, dc_next, cache):
    """A correct LSTM step backward that ignores the peepholes (dP zeros, dc_prev without them)."""
    x, h_prev, c_prev, i, f, g, o, c_next, tanh_c, params = cache
    U, W, _, P = params
    dc = (np.zeros_like(dh_next) if dc_next is None else dc_next) + dh_next * o * (1 - tanh_c ** 2)
    do = dh_next * tanh_c
    da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g ** 2),
                         do * o * (1 - o)], axis=1)
    dP = None if P is None else np.zeros_like(P)
    return (da @ U, da @ W, dc * f, (da.T @ x, da.T @ h_prev, da.sum(axis=0), dP))


def test_peephole_free_lstm_step_backward():
    """Visible: core (2) + dc_next=None (1) pass, peepholes (1) fails: 4 * 3/4 = 3.
    Hidden (seed 1602): every case without peepholes passes."""
    path = os.path.join(SOLUTIONS, "06_lstm", "checks.py")
    ns = {"lstm_step_backward": peephole_free_lstm_step_backward}
    assert G.check("lstm_step_backward", ns, checks_path=path, points=4) == pytest.approx(3.0, abs=1e-6)
    hidden = G.load_checks(path)["lstm_step_backward"].hidden(np.random.default_rng(1602))
    passing = [c.args[2].params.P is None for c in hidden]
    expected = 4 * sum(passing) / len(hidden)
    assert 0 < sum(passing) < len(hidden)
    assert G.check("lstm_step_backward", ns, checks_path=path, points=4, hidden=True, seed=1602) == \
        pytest.approx(expected, abs=1e-6)


def relu_ignored_rnn_backward(dh, cache):
    """BPTT written for tanh only: the relu cases get tanh's derivative 1 - h**2."""
    x_tm, h0, h_tm, params, _ = cache           # time-major (T, N, D), (T, N, H); the activation unread
    T, N, D = x_tm.shape
    H = params.W.shape[0]
    dx, dU, dW, db = np.zeros((N, T, D)), np.zeros_like(params.U), np.zeros_like(params.W), np.zeros(H)
    dh_next = np.zeros((N, H))
    h_start = np.zeros((N, H)) if h0 is None else h0
    for t in reversed(range(T)):
        h_prev = h_tm[t - 1] if t > 0 else h_start
        dnet = (dh[:, t] + dh_next) * (1 - h_tm[t] ** 2)
        dx[:, t] = dnet @ params.U
        dU += dnet.T @ x_tm[t]
        dW += dnet.T @ h_prev
        db += dnet.sum(axis=0)
        dh_next = dnet @ params.W
    return (dx, dh_next, (dU, dW, db))


def test_rnn_backward_ignoring_relu():
    """Visible: tanh core (2) passes, relu (1) fails: 3 * 2/3 = 2."""
    path = os.path.join(SOLUTIONS, "03_bptt", "checks.py")
    ns = {"rnn_backward": relu_ignored_rnn_backward}
    assert G.check("rnn_backward", ns, checks_path=path, points=3) == pytest.approx(2.0, abs=1e-6)


# ---------------------------------------------------------------- one bug charged once
def no_bias_step(x, h_prev, params, activation="tanh"):
    return np.tanh(x @ params.U.T + h_prev @ params.W.T)


def rnn_forward_calling_the_step(x, h0, params, activation="tanh"):
    h_prev = np.zeros((x.shape[0], params.W.shape[0])) if h0 is None else h0
    out = []
    for t in range(x.shape[1]):
        h_prev = rnn_step_forward(x[:, t], h_prev, params, activation)   # noqa: F821 - the notebook's
        out.append(h_prev)
    return np.stack(out, axis=1)


@pytest.mark.parametrize("hidden", [False, True])
def test_a_wrong_step_costs_only_the_step(hidden, capsys):
    """rnn_forward calls the notebook's rnn_step_forward (here without the bias): while rnn_forward
    is graded the course's step stands in, so rnn_forward earns every point and the step none."""
    path = os.path.join(SOLUTIONS, "02_forward_pass", "checks.py")
    ns = {"rnn_step_forward": no_bias_step, "np": np}
    fwd = types.FunctionType(rnn_forward_calling_the_step.__code__, ns, "rnn_forward",
                             rnn_forward_calling_the_step.__defaults__)
    ns["rnn_forward"] = fwd
    kw = dict(checks_path=path, **({"hidden": True, "seed": 1202} if hidden else {}))
    assert G.check("rnn_forward", ns, points=3, **kw) == pytest.approx(3)
    assert "in place of yours" in capsys.readouterr().out
    assert ns["rnn_step_forward"] is no_bias_step, "the notebook's own step is back afterwards"
    with pytest.raises(G.GradingFailure, match="forgot the bias"):
        G.check("rnn_step_forward", ns, points=3, **kw)
    with pytest.raises(G.GradingFailure):        # without the substitution it would fail
        G.check_function(fwd, G.load_checks(path)["rnn_forward"].reference,
                         G.load_checks(path)["rnn_forward"].visible())


def test_every_dependency_is_declared():
    """A graded function whose solution calls another graded function declares it (depends=)."""
    import json
    import re
    for a in ASSIGNMENTS:
        with open(os.path.join(SOLUTIONS, a, f"{a}.ipynb"), encoding="utf-8") as fh:
            cells_ = json.load(fh)["cells"]
        sources = {}
        for c in cells_:
            m = c.get("metadata", {}).get("nbgrader", {})
            src = "".join(c["source"])
            names = re.findall(r"^def (\w+)\(", src, re.M)
            if m.get("solution") and c["cell_type"] == "code" and names:
                sources[names[0]] = src.split("\n", 1)[-1]
        specs = G.load_checks(os.path.join(SOLUTIONS, a, "checks.py"))
        for f, body in sources.items():
            calls = {g for g in specs if g != f and re.search(rf"\b{g}\(", body)}
            if f in specs:
                assert set(specs[f].depends) == calls, f"{a}: {f} calls {sorted(calls)}"


# ---------------------------------------------------------------- the wrong place named
def one_minus_h_step_backward(dh_next, cache):
    """dnet with 1 - h instead of 1 - h**2: every gradient is wrong, the mistake is in dnet."""
    x, h_prev, h_next, params, activation = cache
    dnet = dh_next * (1 - h_next)
    return (dnet @ params.U, dnet @ params.W, (dnet.T @ x, dnet.T @ h_prev, dnet.sum(axis=0)))


def test_all_gradients_wrong_points_before_them():
    path = os.path.join(SOLUTIONS, "03_bptt", "checks.py")
    with pytest.raises(G.GradingFailure) as info:
        G.check("rnn_step_backward", {"rnn_step_backward": one_minus_h_step_backward}, checks_path=path)
    msg = " ".join(str(info.value).split())
    assert "all 5 outputs differ (dx, dh_prev, dparams.U, dparams.W, dparams.b): the error is before them, in dnet" \
        in msg, msg


def test_one_wrong_gradient_is_not_blamed_on_dnet():
    path = os.path.join(SOLUTIONS, "03_bptt", "checks.py")
    ref = G.load_checks(path)["rnn_step_backward"].reference

    def wrong_db(dh_next, cache):
        dx, dh_prev, (dU, dW, db) = ref(dh_next, cache)
        return dx, dh_prev, (dU, dW, 2 * db)
    with pytest.raises(G.GradingFailure) as info:
        G.check_function(wrong_db, ref, G.load_checks(path)["rnn_step_backward"].visible(), allow=("rnncourse",))
    assert "outputs differ" not in str(info.value)


# ---------------------------------------------------------------- catalogued mistakes, as written
def _rnn_backward_as_written(deriv):
    """A student's BPTT loop (time-major cache) whose activation derivative is ``deriv(h, act)``."""
    def rnn_backward(dh, cache):
        x_tm, h0, h_tm, params, activation = cache
        T, N, D = x_tm.shape
        H = params.W.shape[0]
        dx, dU, dW, db = np.zeros((N, T, D)), np.zeros_like(params.U), np.zeros_like(params.W), np.zeros(H)
        carry = np.zeros((N, H))
        for t in reversed(range(T)):
            h_prev = h_tm[t - 1] if t > 0 else (np.zeros((N, H)) if h0 is None else h0)
            dnet = (dh[:, t] + carry) * deriv(h_tm[t], activation)
            dx[:, t] = dnet @ params.U
            dU += dnet.T @ x_tm[t]
            dW += dnet.T @ h_prev
            db += dnet.sum(axis=0)
            carry = dnet @ params.W
        return dx, carry, (dU, dW, db)
    return rnn_backward


def _step_backward_as_written(deriv):
    def rnn_step_backward(dh_next, cache):
        x, h_prev, h_next, params, activation = cache
        dnet = dh_next * deriv(h_next, activation)
        return dnet @ params.U, dnet @ params.W, (dnet.T @ x, dnet.T @ h_prev, dnet.sum(axis=0))
    return rnn_step_backward


RIGHT = {"relu": lambda h: (h > 0) * 1.0}


@pytest.mark.parametrize("function, deriv, hint", [
    ("rnn_step_backward", lambda h, a: 1 - h if a == "tanh" else RIGHT["relu"](h), "tanh' written as 1 - h"),
    ("rnn_step_backward", lambda h, a: 1 - np.tanh(h) ** 2 if a == "tanh" else RIGHT["relu"](h),
     "tanh applied again to h_next"),
    ("rnn_backward", lambda h, a: 1 - h ** 2, "the activation is ignored"),
    ("rnn_backward", lambda h, a: 1 - h if a == "tanh" else RIGHT["relu"](h), "tanh' written as 1 - h"),
    ("rnn_backward", lambda h, a: 1 - np.tanh(h) ** 2 if a == "tanh" else RIGHT["relu"](h),
     "tanh applied again to h_t"),
])
def test_a_catalogued_mistake_written_as_a_student_would_is_named(function, deriv, hint):
    path = os.path.join(SOLUTIONS, "03_bptt", "checks.py")
    fn = (_step_backward_as_written if function == "rnn_step_backward" else _rnn_backward_as_written)(deriv)
    with pytest.raises(G.GradingFailure) as info:
        G.check(function, {function: fn}, checks_path=path)
    assert hint in " ".join(str(info.value).split()), str(info.value)


def test_global_max_softmax_is_named():
    def softmax(scores):
        e = np.exp(scores - np.max(scores))
        return e / np.sum(e, axis=-1, keepdims=True)
    path = os.path.join(SOLUTIONS, "02_forward_pass", "checks.py")
    with pytest.raises(G.GradingFailure) as info:
        G.check("softmax", {"softmax": softmax}, checks_path=path, hidden=True, seed=1204)
    assert "shifted by the maximum of the whole array" in " ".join(str(info.value).split())


def test_loss_that_is_infinite_at_1000_is_named():
    def softmax_cross_entropy(scores, y):
        shifted = scores - scores.max(axis=-1, keepdims=True)
        p = np.exp(shifted) / np.exp(shifted).sum(axis=-1, keepdims=True)
        N = scores.shape[0]
        picked = np.take_along_axis(p, y[..., None], axis=-1)[..., 0]
        onehot = np.zeros_like(p)
        np.put_along_axis(onehot, y[..., None], 1.0, axis=-1)
        return -np.sum(np.log(picked)) / N, (p - onehot) / N
    path = os.path.join(SOLUTIONS, "02_forward_pass", "checks.py")
    with pytest.raises(G.GradingFailure) as info:
        G.check("softmax_cross_entropy", {"softmax_cross_entropy": softmax_cross_entropy},
                checks_path=path, hidden=True, seed=1205)
    text = " ".join(str(info.value).split())
    assert "large scores, up to 1000" in text and "log of a (stable) softmax" in text, text


def test_peephole_free_and_cs231n_order_lstm_backward_are_named():
    path = os.path.join(SOLUTIONS, "06_lstm", "checks.py")
    with pytest.raises(G.GradingFailure) as info:          # stops at the peephole case
        G.check("lstm_step_backward", {"lstm_step_backward": peephole_free_lstm_step_backward}, checks_path=path)
    assert "the peepholes are ignored" in " ".join(str(info.value).split())

    def cs231n_order(dh_next, dc_next, cache):
        x, h_prev, c_prev, i, f, g, o, c_next, tanh_c, params = cache
        dc = (np.zeros_like(dh_next) if dc_next is None else dc_next) + dh_next * o * (1 - tanh_c ** 2)
        da = np.hstack([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dh_next * tanh_c * o * (1 - o),
                        dc * i * (1 - g ** 2)])                       # [i, f, o, g] as in CS231n
        return (da @ params.U, da @ params.W, dc * f, (da.T @ x, da.T @ h_prev, da.sum(axis=0), None))
    with pytest.raises(G.GradingFailure) as info:
        G.check("lstm_step_backward", {"lstm_step_backward": cs231n_order}, checks_path=path)
    assert "CS231n's order [i, f, o, g]" in " ".join(str(info.value).split())
