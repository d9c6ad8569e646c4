"""rnncourse_grader.worker driven through the protocol, as a plain subprocess (no sandbox)."""
import base64
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rnncourse.rnn import RNNParams
from rnncourse_grader import codec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Client:
    """The harness's side of the channel, minimal: requests, replies, callbacks."""

    def __init__(self, tmp_path, argv=None, pythonpath=ROOT):
        env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "PYTHONPATH")}
        env.update(PYTHONPATH=pythonpath, IPYTHONDIR=str(tmp_path / "ipython"), HOME=str(tmp_path),
                   PYTHONDONTWRITEBYTECODE="1")
        self.stderr_path = tmp_path / "worker-stderr.txt"
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(argv or [sys.executable, "-m", "rnncourse_grader.worker"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, cwd=str(tmp_path), env=env)
        self.callables = {}

    def send(self, obj):
        codec.write_message(self.proc.stdin, obj)

    def receive(self):
        return codec.read_message(self.proc.stdout)

    def request(self, obj, on_callback=None):
        self.send(obj)
        while True:
            msg = self.receive()
            if msg.get("op") != "callback":
                return msg
            self.send(on_callback(msg))

    def run(self, code, time_limit=30):
        return self.request({"op": "run", "code": textwrap.dedent(code), "time_limit": time_limit})

    def lookup(self, name):
        return self.request({"op": "lookup", "name": name})

    def call(self, name, *args, time_limit=30, substitute=None, **kwargs):
        callables = {}
        payload = {"op": "call", "name": name, "time_limit": time_limit,
                   "args": [codec.encode(a, callables) for a in args],
                   "kwargs": {k: codec.encode(v, callables) for k, v in kwargs.items()}}
        if substitute is not None:
            payload["substitute"] = {k: codec.encode(v, callables) for k, v in substitute.items()}

        def serve(msg):
            fn = callables[msg["id"]]
            try:
                a = [codec.decode(t) for t in msg["args"]]
                k = {key: codec.decode(t) for key, t in msg["kwargs"].items()}
                return {"status": "ok", "value": codec.encode(fn(*a, **k))}
            except Exception as err:  # noqa: BLE001
                return {"status": "error", "ename": type(err).__name__, "evalue": str(err)}
        return self.request(payload, on_callback=serve)

    def value(self, reply):
        assert reply["status"] == "ok", reply
        return codec.decode(reply["value"])

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send({"op": "exit"})
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.stderr):
            f.close()

    def stderr_text(self):
        self.stderr.flush()
        return self.stderr_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    client = Client(tmp_path_factory.mktemp("worker"))
    yield client
    client.close()


@pytest.fixture
def fresh(tmp_path):
    client = Client(tmp_path)
    yield client
    client.close()


def assert_alive(w):
    reply = w.run("1 + 1")
    assert reply["status"] == "ok"
    assert reply["outputs"][-1]["data"]["text/plain"] == "2"


# ---------------------------------------------------------------------------- run
def test_define_lookup_and_call(worker):
    reply = worker.run("""
        import numpy as np

        def affine(x, W, b):
            return x @ W.T + b
        scale = 2.5
    """)
    assert reply == {"status": "ok", "outputs": []}
    info = worker.lookup("affine")
    assert info["defined"] and info["callable"] and info["type"] == "function"
    assert info["module"] == "__main__" and info["value"] is None
    info = worker.lookup("scale")
    assert info["defined"] and not info["callable"] and info["type"] == "float"
    assert codec.decode(info["value"]) == 2.5
    assert worker.lookup("nothing_here") == {"defined": False, "callable": False, "type": None,
                                             "module": None, "value": None}
    rng = np.random.default_rng(0)
    x, W, b = rng.normal(size=(4, 3)), rng.normal(size=(2, 3)), rng.normal(size=2)
    reply = worker.call("affine", x, W, b=b)
    assert reply["mutated"] is None and reply["notes"] == []
    np.testing.assert_allclose(worker.value(reply), x @ W.T + b)


def test_namedtuples_cross_both_ways(worker):
    worker.run("""
        from rnncourse.rnn import RNNParams

        def double(p):
            return RNNParams(U=2 * p.U, W=2 * p.W, b=2 * p.b), {0: p.b, "n": len(p)}
    """)
    p = RNNParams(U=np.ones((3, 2)), W=np.eye(3), b=np.arange(3.0))
    out, extra = worker.value(worker.call("double", p))
    assert type(out) is RNNParams
    np.testing.assert_array_equal(out.W, 2 * np.eye(3))
    assert extra["n"] == 3 and np.array_equal(extra[0], np.arange(3.0))


def test_cell_outputs(worker):
    reply = worker.run("""
        print("hello")
        import sys
        print("careful", file=sys.stderr)
        from IPython.display import display, HTML
        display(HTML("<b>x</b>"))
        40 + 2
    """)
    assert reply["status"] == "ok"
    kinds = [(o["output_type"], o.get("name")) for o in reply["outputs"]]
    assert kinds == [("stream", "stdout"), ("stream", "stderr"), ("display_data", None),
                     ("execute_result", None)]
    out = reply["outputs"]
    assert out[0]["text"] == "hello\n" and out[1]["text"] == "careful\n"
    assert out[2]["data"]["text/html"] == "<b>x</b>"
    assert out[3]["data"]["text/plain"] == "42" and isinstance(out[3]["execution_count"], int)


def test_prints_do_not_corrupt_the_channel(worker):
    reply = worker.run("""
        import os, sys
        print("00000010{not a message}")
        sys.stdout.flush()
        os.write(1, b"0000000a{\\"op\\": 1}")
        os.write(2, b"to stderr at the C level\\n")
        sys.__stdout__.write("ffffffff")
        sys.__stdout__.flush()
        import subprocess
        subprocess.run(["echo", "from a child process"])
        'still fine'
    """)
    assert reply["status"] == "ok", reply
    assert reply["outputs"][-1]["data"]["text/plain"] == "'still fine'"
    worker.run("""
        def noisy(x):
            import os
            print("printing in a call")
            os.write(1, b"00000002{}")
            return x + 1
    """)
    assert worker.value(worker.call("noisy", 41)) == 42
    assert_alive(worker)
    assert "from a child process" in worker.stderr_text()


def test_cell_error(worker):
    reply = worker.run("""
        def inverse(x):
            return 1 / x
        inverse(0)
    """)
    assert reply["status"] == "error"
    err = reply["outputs"][-1]
    assert err["output_type"] == "error" and err["ename"] == "ZeroDivisionError"
    assert err["evalue"] == "division by zero"
    plain = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(err["traceback"]))
    assert isinstance(err["traceback"], list) and "return 1 / x" in plain
    syntax = worker.run("def f(:\n  pass")
    assert syntax["status"] == "error" and syntax["outputs"][-1]["ename"] == "SyntaxError"
    assert_alive(worker)


def test_magics_work(worker):
    reply = worker.run("%time y = sum(range(10))\ny")
    assert reply["status"] == "ok"
    assert reply["outputs"][-1]["data"]["text/plain"] == "45"


def test_sys_exit_in_a_cell(worker):
    reply = worker.run("import sys\nsys.exit(3)")
    assert reply["status"] == "error"
    assert reply["outputs"][-1]["ename"] == "SystemExit"
    reply = worker.run("exit()\nquit()\n'after'")
    assert reply["outputs"][-1]["data"]["text/plain"] == "'after'"
    assert_alive(worker)


def test_cell_time_limit(worker):
    reply = worker.run("while True:\n    pass", time_limit=1)
    assert reply["status"] == "error"
    err = reply["outputs"][-1]
    assert err["ename"] == "TimeLimit" and "1 seconds" in err["evalue"]
    assert_alive(worker)


def test_matplotlib_plot_gives_png(worker):
    reply = worker.run("""
        import matplotlib
        import matplotlib.pyplot as plt
        plt.plot([1, 3, 2])
        plt.title("loss")
        plt.show()
        matplotlib.get_backend()
    """)
    assert reply["status"] == "ok", reply
    images = [o for o in reply["outputs"] if o["output_type"] == "display_data"]
    assert len(images) == 1 and "Figure" in images[0]["data"]["text/plain"]
    png = base64.b64decode(images[0]["data"]["image/png"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert reply["outputs"][-1]["data"]["text/plain"].lower() == "'agg'"
    # shown figures are closed: the next cell shows nothing
    assert [o for o in worker.run("1")["outputs"] if o["output_type"] == "display_data"] == []
    reply = worker.run("fig, ax = plt.subplots(); ax.plot([0, 1]); display(fig); plt.close(fig)")
    images = [o for o in reply["outputs"] if o["output_type"] == "display_data"]
    assert len(images) == 1 and "image/png" in images[0]["data"]


# ---------------------------------------------------------------------------- call
def test_exception_in_a_call(worker):
    worker.run("""
        import numpy as np

        def helper(a):
            return np.dot(a, np.ones(5))

        def forward(x):
            h = x * 2
            return helper(h)
    """)
    reply = worker.call("forward", np.ones((2, 3)))
    assert reply["status"] == "error"
    assert reply["ename"] == "ValueError" and "shapes" in reply["evalue"]
    frames = reply["frames"]
    assert 1 <= len(frames) <= 4
    # line numbers of the cell as IPython ran it (it drops leading blank lines)
    assert "  your code, line 8, in forward: return helper(h)" in frames
    assert "  your code, line 4, in helper: return np.dot(a, np.ones(5))" in frames
    assert not any("worker.py" in f or "codec.py" in f for f in frames)
    assert reply["notes"] == []


def test_long_error_message_is_cut(worker):
    worker.run("def shout():\n    raise RuntimeError('x' * 10000)")
    reply = worker.call("shout")
    assert reply["ename"] == "RuntimeError" and len(reply["evalue"]) < 2100


def test_call_time_limit_and_worker_still_answers(worker):
    worker.run("""
        def forever(x):
            while True:
                x = x + 1
    """)
    reply = worker.call("forever", 0, time_limit=1)
    assert reply["status"] == "error" and reply["ename"] == "TimeLimit"
    assert any("in forever" in f for f in reply["frames"])
    worker.run("def ok():\n    return 'ok'")
    assert worker.value(worker.call("ok")) == "ok"
    assert_alive(worker)


@pytest.mark.parametrize("body, ename", [
    ("import sys; sys.exit(1)", "SystemExit"),
    ("raise SystemExit('bye')", "SystemExit"),
    ("raise KeyboardInterrupt", "KeyboardInterrupt"),
    ("raise MemoryError('too big')", "MemoryError"),
    ("return f()", "RecursionError"),
    ("exit()", None),
])
def test_base_exceptions_in_a_call(worker, body, ename):
    worker.run(f"def f():\n    {body}")
    reply = worker.call("f")
    if ename is None:
        assert reply["status"] == "ok"
    else:
        assert reply["status"] == "error" and reply["ename"] == ename, reply
    assert_alive(worker)


def test_in_place_modification_is_reported(worker):
    worker.run("""
        def bump(x, p, scale=1.0):
            x[0, 1] = 0.7
            return x.sum()

        def bump_params(x, p, scale=1.0):
            p.W[2, 0] += 1
            return None

        def clean(x, p, scale=1.0):
            x = x.copy()
            x[0, 1] = 0.7
            return x
    """)
    x = np.full((2, 3), 0.5)
    p = RNNParams(U=np.zeros((3, 2)), W=np.zeros((3, 3)), b=np.zeros(3))
    reply = worker.call("bump", x, p)
    assert reply["status"] == "ok"
    assert reply["mutated"] == "x[0, 1] was 0.5 before the call and 0.7 after it"
    reply = worker.call("bump_params", x, p=p)
    assert reply["mutated"] == "p.W[2, 0] was 0 before the call and 1 after it"
    reply = worker.call("clean", x, p)
    assert reply["mutated"] is None and worker.value(reply)[0, 1] == 0.7
    worker.run("def pop(d):\n    d.pop('a')\n    return len(d)")
    assert worker.call("pop", {"a": 1, "b": 2})["mutated"] == "d['a'] was deleted"
    worker.run("def app(*items):\n    items[0].append(1)")
    assert worker.call("app", [0])["mutated"] == "items[0] had 1 items before the call and 2 after it"


def test_callable_argument_round_trips(worker):
    worker.run("""
        import numpy as np

        def numerical_gradient(f, x, eps=1e-6):
            grad = np.zeros_like(x)
            for i in range(x.size):
                old = x.flat[i]
                x.flat[i] = old + eps
                up = f(x)
                x.flat[i] = old - eps
                down = f(x)
                x.flat[i] = old
                grad.flat[i] = (up - down) / (2 * eps)
            return grad
    """)
    seen = []

    def loss(x):
        seen.append(x.copy())
        return float(np.sum(x ** 3))
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    reply = worker.call("numerical_gradient", loss, x)
    assert reply["mutated"] is None
    np.testing.assert_allclose(worker.value(reply), 3 * x ** 2, rtol=1e-5)
    assert len(seen) == 2 * x.size


def test_substitute_replaces_a_global_during_one_call(worker):
    """The harness grades rnn_forward with its own step: the notebook's step is back afterwards."""
    worker.run("""
        def step(v):
            return v + 1000.0

        def seq(v):
            return step(v) * 2
    """)
    calls = []

    def grader_step(v):
        calls.append(v)
        return v + 1.0
    assert worker.value(worker.call("seq", 1.0, substitute={"step": grader_step})) == 4.0
    assert calls == [1.0]
    assert worker.value(worker.call("seq", 1.0)) == 2002.0, "the notebook's own step is back"
    assert worker.value(worker.call("seq", 1.0, substitute={"undefined_before": grader_step})) == 2002.0
    assert not worker.lookup("undefined_before")["defined"], "a new global is removed afterwards"
    bad = worker.call("seq", 1.0, substitute={"not an identifier": grader_step})
    assert bad["status"] == "error" and bad["ename"] == "ProtocolError"


def test_callback_errors_reach_the_student_code(worker):
    worker.run("""
        def apply(f, x):
            try:
                return f(x)
            except ValueError as err:
                return "caught: " + str(err)

        def keep(f):
            global kept
            kept = f
            return 1

        def use_kept():
            return kept(1)
    """)

    def refuse(x):
        raise ValueError("no negative numbers")
    assert worker.value(worker.call("apply", refuse, -1)) == "caught: no negative numbers"
    assert worker.value(worker.call("keep", refuse)) == 1
    reply = worker.call("use_kept")
    assert reply["ename"] == "RuntimeError" and "only be used during the call" in reply["evalue"]


def test_callback_time_counts_only_the_student_code(worker):
    worker.run("""
        def twice(f):
            return f(1) + f(2)
    """)
    import time

    def slow(x):
        time.sleep(0.7)
        return x
    reply = worker.call("twice", slow, time_limit=1)
    assert worker.value(reply) == 3


def test_warnings_and_stderr_become_notes(worker):
    worker.run("""
        import sys, warnings
        import numpy as np

        def warns(x):
            warnings.warn("careful")
            print("to stderr", file=sys.stderr)
            for i in range(10):
                warnings.warn(f"number {i}", RuntimeWarning)
            return np.log(x)
    """)
    reply = worker.call("warns", np.array([0.0]))
    assert reply["status"] == "ok"
    notes = reply["notes"]
    assert len(notes) == 5 and notes[0] == "UserWarning: careful"
    assert all(len(n) <= 300 for n in notes)
    assert np.isneginf(worker.value(reply)[0])
    worker.run("def quiet():\n    import sys\n    sys.stderr.write('x' * 1000)\n    return 0")
    reply = worker.call("quiet")
    assert reply["notes"] == [("wrote to stderr: " + "x" * 1000)[:300]]


def test_unsupported_results(worker):
    worker.run("""
        def gen():
            return (i for i in range(3))

        def huge():
            return list(range(300_000))
    """)
    out = worker.value(worker.call("gen"))
    assert isinstance(out, codec.Unsupported) and out.type_name == "generator"
    reply = worker.call("huge")
    assert reply["status"] == "error" and reply["ename"] == "UnsupportedValue"
    assert_alive(worker)


def test_call_errors(worker):
    assert worker.call("not_defined_anywhere")["ename"] == "NameError"
    worker.run("not_callable = 3")
    assert worker.call("not_callable")["ename"] == "TypeError"
    worker.run("def one(a):\n    return a")
    assert worker.call("one", 1, 2)["ename"] == "TypeError"


# ---------------------------------------------------------------------------- protocol
@pytest.mark.parametrize("request_", [
    {"op": "dance"}, {"no": "op"}, [1, 2], "run", None,
    {"op": "run"}, {"op": "run", "code": 3},
    {"op": "lookup"}, {"op": "lookup", "name": ["x"]},
    {"op": "call"}, {"op": "call", "name": "x", "args": "nope"},
    {"op": "call", "name": "print", "args": [{"t": "pickle", "v": "..."}], "kwargs": {}},
    {"op": "call", "name": "print", "args": [{"t": "nd", "npy": "AAAA"}], "kwargs": {}},
    {"op": "call", "name": "print", "args": [{"t": "callable", "id": "x"}], "kwargs": {}},
])
def test_bad_requests_get_protocol_errors(worker, request_):
    worker.run("def takes_any(*args, **kwargs):\n    return None")
    if isinstance(request_, dict) and request_.get("name") == "print":
        request_ = dict(request_, name="takes_any")
    reply = worker.request(request_)
    assert reply["status"] == "error" and reply["ename"] == "ProtocolError", reply
    assert_alive(worker)


def test_bad_framing(fresh):
    fresh.proc.stdin.write(b"00000005{nope")
    fresh.proc.stdin.flush()
    assert fresh.receive()["ename"] == "ProtocolError"
    size = 64 * 2 ** 20 + 1
    fresh.proc.stdin.write(b"%08x" % size)
    for _ in range(size // 2 ** 20):
        fresh.proc.stdin.write(b" " * 2 ** 20)
    fresh.proc.stdin.write(b" " * (size % 2 ** 20))
    fresh.proc.stdin.flush()
    reply = fresh.receive()
    assert reply["ename"] == "ProtocolError" and "at most" in reply["evalue"]
    assert_alive(fresh)
    fresh.proc.stdin.write(b"garbage!")
    fresh.proc.stdin.flush()
    assert "channel is lost" in fresh.receive()["evalue"]
    assert fresh.proc.wait(timeout=10) == 2


def test_exit_and_eof(fresh, tmp_path):
    fresh.send({"op": "exit"})
    assert fresh.proc.wait(timeout=10) == 0
    (tmp_path / "other").mkdir()
    other = Client(tmp_path / "other")
    other.proc.stdin.close()
    assert other.proc.wait(timeout=10) == 0
    other.close()


def test_stdin_is_dev_null(worker):
    reply = worker.run("import sys, os\n(sys.stdin.read(), os.read(0, 10))")
    assert reply["outputs"][-1]["data"]["text/plain"] == "('', b'')"


def test_run_by_path_with_only_the_worker_and_codec_files_next_to_it(tmp_path):
    """The worker's and the codec's files (worker*.py, codec*.py) copied elsewhere, without
    rnncourse_grader importable."""
    import glob
    import shutil
    here = tmp_path / "somewhere"
    here.mkdir()
    for pattern in ("worker*.py", "codec*.py"):
        for path in glob.glob(os.path.join(ROOT, "rnncourse_grader", pattern)):
            shutil.copy(path, here / os.path.basename(path))
    client = Client(tmp_path, argv=[sys.executable, str(here / "worker.py")], pythonpath="")
    try:
        client.run("import sys\ndef f(x):\n    return x * 2")
        assert client.value(client.call("f", np.arange(3)))[2] == 4
        reply = client.run("import importlib.util\n"
                           "[importlib.util.find_spec(m) for m in ('codec', 'worker', 'worker_cells')]")
        assert reply["outputs"][-1]["data"]["text/plain"] == "[None, None, None]"
    finally:
        client.close()
