"""rnncourse.grading: teaching messages, mistake recognition, delegation and tamper resistance."""
import os
import sys
import time

import numpy as np
import pytest

import rnncourse.grading as G
import rnncourse.rnn as R
from rnncourse.rnn import RNNParams

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKS_02 = os.path.join(REPO, "solutions", "02_forward_pass", "checks.py")


def ref_step(x, h_prev, params, activation="tanh"):
    return R.rnn_step_forward(x, h_prev, params, activation)[0]


def my_step(x, h_prev, params, activation="tanh"):
    net = x @ params.U.T + h_prev @ params.W.T + params.b
    return np.tanh(net) if activation == "tanh" else np.maximum(net, 0)


def no_bias(x, h_prev, params, activation="tanh"):
    return np.tanh(x @ params.U.T + h_prev @ params.W.T)


MISTAKES = [G.Mistake("forgot the bias b", "add + b", fn=no_bias)]


def cases(D=3, H=4, N=2, seed=0):
    rng = np.random.default_rng(seed)
    p = RNNParams(rng.normal(size=(H, D)), rng.normal(size=(H, H)), rng.normal(size=H))
    return [G.case(f"N={N}, D={D}, H={H}", rng.normal(size=(N, D)), rng.normal(size=(N, H)), p)]


def failure(student, **kw):
    with pytest.raises(G.GradingFailure) as info:
        G.check_function(student, kw.pop("reference", ref_step), kw.pop("cases", cases()),
                         name="rnn_step_forward", mistakes=kw.pop("mistakes", MISTAKES), **kw)
    return str(info.value)


def test_a_correct_function_passes():
    assert G.check_function(my_step, ref_step, cases() + cases(5, 2, 1), mistakes=MISTAKES) == 2


def test_a_wrong_value_names_the_case_the_index_the_error_and_the_mistake():
    msg = failure(no_bias)
    assert 'test case "N=2, D=3, H=4"' in msg
    assert "x: array (2, 3) float64" in msg and "params: RNNParams(" in msg
    assert "first at index (0, 0)" in msg and "largest absolute error" in msg
    assert "Likely mistake" in msg and "forgot the bias b" in msg and "add + b" in msg


def test_a_wrong_value_without_known_mistake_has_no_hint():
    msg = failure(lambda x, h, p, activation="tanh": my_step(x, h, p) + 0.1)
    assert "values differ" in msg and "mistake" not in msg.lower()


def test_wrong_shapes_are_explained():
    msg = failure(lambda x, h, p, activation="tanh": my_step(x, h, p).T)
    assert "expected shape (2, 4), got shape (4, 2)" in msg and "transposed" in msg
    msg = failure(lambda x, h, p, activation="tanh": (my_step(x, h, p), None))
    assert "returned a tuple of 2 items" in msg
    msg = failure(lambda x, h, p, activation="tanh": None)
    assert "returned None" in msg


def test_an_exception_shows_the_student_frames_and_matches_a_mistake_raising_the_same():
    def not_transposed(x, h_prev, params, activation="tanh"):
        return np.tanh(x @ params.U + h_prev @ params.W + params.b)

    mistakes = [G.Mistake("weights not transposed", "use U.T", fn=not_transposed)]
    msg = failure(not_transposed, mistakes=mistakes)
    assert "raised ValueError: matmul" in msg
    assert "in not_transposed" in msg
    assert "weights not transposed" in msg


def test_error_patterns_are_recognised():
    def broken(x, h_prev, params, activation="tanh"):
        raise KeyError("U")

    msg = failure(broken, mistakes=[G.Mistake("params indexed like a dict", "use params.U", error="KeyError")])
    assert "params indexed like a dict" in msg


def test_not_implemented_and_undefined_functions_say_so():
    def todo(*a, **k):
        raise NotImplementedError()

    assert "not implemented yet" in failure(todo)
    with pytest.raises(G.GradingFailure, match="rnn_step_forward is not defined"):
        G.check("rnn_step_forward", {}, checks_path=CHECKS_02)


def test_modifying_an_input_fails_and_names_it():
    def in_place(x, h_prev, params, activation="tanh"):
        out = my_step(x, h_prev, params, activation)
        h_prev *= 0
        return out

    msg = failure(in_place)
    assert "modified its input" in msg and "h_prev[0, 0]" in msg


@pytest.mark.parametrize("cheat", [
    R.rnn_step_forward,
    lambda x, h, p, activation="tanh": R.rnn_step_forward(x, h, p, activation)[0],
    lambda x, h, p, activation="tanh": __import__("rnncourse.rnn").rnn.rnn_step_forward(x, h, p)[0],
    lambda x, h, p, activation="tanh": G.private_rnncourse().rnn.rnn_step_forward(x, h, p)[0],
    lambda x, h, p, activation="tanh": G.load_checks(CHECKS_02)["rnn_step_forward"].reference(x, h, p),
])
def test_calling_the_reference_scores_zero_and_says_why(cheat):
    msg = failure(cheat)
    assert "reference implementation" in msg or "rnncourse's own implementation" in msg
    assert "scores zero" in msg


def test_allowed_rnncourse_calls_pass():
    def uses_activation(x, h_prev, params, activation="tanh"):
        from rnncourse.activations import tanh
        return tanh(x @ params.U.T + h_prev @ params.W.T + params.b)

    assert "reference implementation" in failure(uses_activation)
    assert G.check_function(uses_activation, ref_step, cases(), allow=("rnncourse.activations",)) == 1


def test_infinite_loops_are_stopped_by_the_time_limit():
    def forever(x, h_prev, params, activation="tanh"):
        while True:
            pass

    t0 = time.perf_counter()
    msg = failure(forever, time_limit=0.3)
    assert time.perf_counter() - t0 < 5
    assert "did not return within" in msg


def test_sys_exit_and_memory_errors_are_reported():
    assert "sys.exit()" in failure(lambda *a, **k: sys.exit(3))

    def hog(*a, **k):
        raise MemoryError()

    assert "ran out of memory" in failure(hog)


def test_warnings_do_not_reach_stderr(capfd):
    def noisy(x, h_prev, params, activation="tanh"):
        import warnings
        warnings.warn("careful", RuntimeWarning)
        print("debug", file=sys.stderr)
        return my_step(x, h_prev, params, activation)

    G.check_function(noisy, ref_step, cases())
    out, err = capfd.readouterr()
    assert err == ""
    assert "RuntimeWarning: careful" in out


def test_nan_results_are_explained():
    def overflow(scores):
        e = np.exp(scores)
        return e / e.sum(axis=-1, keepdims=True)

    def ref(scores):
        z = np.exp(scores - scores.max(axis=-1, keepdims=True))
        return z / z.sum(axis=-1, keepdims=True)

    with np.errstate(all="ignore"):
        msg = failure(overflow, reference=ref, cases=[G.case("big", np.array([[1000.0, 0.0]]))], mistakes=[])
    assert "contains nan" in msg and "overflow" in msg


def test_tuple_outputs_name_their_parts_and_match_mistakes_part_by_part():
    def ref(a):
        return float(a.sum()), 2 * a

    def wrong_grad(a):
        return float(a.sum()), a

    msg = failure(wrong_grad, reference=ref, cases=[G.case("a", np.ones(3))], output_names=("loss", "grad"),
                  mistakes=[G.Mistake("gradient not doubled", "times 2", fn=lambda a: (0.0, a))])
    assert "grad: values differ" in msg
    assert "gradient not doubled" in msg


def test_gradient_check():
    x = np.array([0.3, -1.2, 2.0])
    loss = lambda x: float((x ** 3).sum())  # noqa: E731
    assert G.gradient_check(loss, {"x": x}, {"x": 3 * x ** 2}) is None
    msg = G.gradient_check(loss, {"x": x}, {"x": 3 * x})
    assert msg.startswith("gradient check on x") and "finite differences give" in msg
    np.testing.assert_allclose(G.numerical_gradient(loss, x), 3 * x ** 2, rtol=1e-7)


def test_check_choice():
    with pytest.raises(G.GradingFailure, match="not answered q1"):
        G.check_choice("q1", {"q1": ""})
    with pytest.raises(G.GradingFailure, match="must be one letter among a, b, c or d"):
        G.check_choice("q1", {"q1": "e"})
    G.check_choice("q1", {"q1": " (B) "})
    G.check_choice("q1", {"q1": "b"}, answer="b")
    with pytest.raises(G.GradingFailure, match=r"\(a\) because"):
        G.check_choice("q1", {"q1": "a"}, answer="b", explain={"a": "because"})
    G.check_choice("q2", {"q2": {"a", "c"}}, answer="a, c", multiple=True)
    with pytest.raises(G.GradingFailure, match="missing"):
        G.check_choice("q2", {"q2": "a"}, answer="ac", multiple=True)


def test_failures_render_without_a_traceback():
    err = G.GradingFailure("first line\nsecond " + "word " * 40)
    lines = err._render_traceback_()
    assert lines[0].endswith("first line") and "GradingFailure" in lines[0]
    assert all(len(line) <= 90 for line in str(err).split("\n"))
    assert not any("File" in line or "line " in line for line in lines)


def test_check_never_leaves_a_number_as_the_cell_value(capsys):
    # nbgrader reads a number left as a test cell's value as partial credit
    ns = {"rnn_step_forward": my_step}
    assert G.check("rnn_step_forward", ns, checks_path=CHECKS_02) is None
    assert G.check("rnn_step_forward", ns, hidden=True, seed=3, checks_path=CHECKS_02) is None
    assert "visible test cases passed" in capsys.readouterr().out


def test_a_fresh_copy_ignores_monkey_patching(monkeypatch):
    """What the hidden tests do: load the checker anew from its file, with a private reference."""
    monkeypatch.setattr(G, "check", lambda *a, **k: None)
    monkeypatch.setattr(G, "check_function", lambda *a, **k: 1)
    monkeypatch.setattr(sys.modules["rnncourse.grading.compare"], "compare", lambda *a, **k: None)
    monkeypatch.setattr(R, "rnn_step_forward", lambda x, h, p, activation="tanh": (no_bias(x, h, p), None))
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    ns = {"rnn_step_forward": no_bias}
    exec(G.HIDDEN_BOOTSTRAP, ns)
    fresh = ns["_g"]
    assert fresh is not G and fresh.check is not G.check
    with pytest.raises(fresh.GradingFailure, match="forgot the bias"):
        fresh.check("rnn_step_forward", ns, hidden=True, seed=1, checks_path=CHECKS_02)


def test_a_patched_numpy_comparison_is_detected(monkeypatch):
    monkeypatch.setattr(np, "absolute", lambda a: 1e9 * abs(a))
    with pytest.raises(G.GradingFailure, match="checking machinery no longer works"):
        G.check_function(my_step, ref_step, cases())


def test_private_package_is_separate_from_the_imported_one():
    rc = G.private_rnncourse()
    assert rc.rnn is not R and rc.rnn.rnn_step_forward is not R.rnn_step_forward
    x, h, p = cases()[0].args
    np.testing.assert_array_equal(rc.rnn.rnn_step_forward(x, h, p)[0], ref_step(x, h, p))
    with pytest.raises(AttributeError):
        rc.no_such_module


def test_missing_checks_file_is_explained(tmp_path):
    with pytest.raises(G.GradingFailure, match="could not find checks.py"):
        G.check("f", {"f": len}, checks_path=str(tmp_path / "checks.py"))
