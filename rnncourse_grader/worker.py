"""The process that runs a student's notebook inside the sandbox (``python -m rnncourse_grader.worker``).

It owns nothing the score depends on: it runs cells with IPython and calls the notebook's
functions when the harness asks, answering in the protocol of the package docstring.  At start
it keeps its original stdin and stdout for the channel only (private descriptors, not
inherited by child processes), points fd 0 at /dev/null and fd 1 at fd 2, so whatever the
student's code prints, at the Python or the C level, cannot reach the channel.

Decisions beyond the protocol text: a cell's last expression becomes an ``execute_result`` with
``text/plain`` (and ``image/png``/``text/html`` when its formatters give them); displays become
``display_data``; a cell's error is one ``error`` output with IPython's traceback (a
``_render_traceback_`` is honoured); ``SystemExit`` in a cell or a call is reported, never
exits.  A call's mutated-input check compares the decoded arguments before and after.
"""
from __future__ import annotations

import contextlib
import copy
import io
import os
import signal
import sys
import traceback
import warnings


def _channel():
    chan_in = os.fdopen(os.dup(0), "rb", buffering=0)
    chan_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    return chan_in, chan_out


class _In:
    """Exact reads from an unbuffered pipe."""

    def __init__(self, raw):
        self.raw = raw

    def read(self, n):
        chunks, got = [], 0
        while got < n:
            chunk = self.raw.read(n - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)


class TimeLimit(BaseException):
    """The call ran past its time limit (not an Exception: ``except Exception`` cannot eat it)."""


@contextlib.contextmanager
def _alarm(seconds):
    if not seconds or seconds <= 0:
        yield
        return

    def on_alarm(signum, frame):
        raise TimeLimit()
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _text(value, limit=20000):
    value = str(value)
    return value if len(value) <= limit else value[:limit] + "\n... (cut)"


class Worker:
    def __init__(self, chan_in, chan_out):
        from IPython.core.displayhook import DisplayHook
        from IPython.core.interactiveshell import InteractiveShell
        from . import codec
        self.codec = codec
        self.chan_in, self.chan_out = _In(chan_in), chan_out
        self.shell = InteractiveShell.instance()
        self.results, self.errors = [], []
        worker = self

        class Hook(DisplayHook):
            def write_output_prompt(self):
                pass

            def write_format_data(self, format_dict, md_dict=None):
                worker.results.append(format_dict)

            def finish_displayhook(self):
                pass

        hook = Hook(shell=self.shell, cache_size=0)
        self.shell.displayhook = hook
        self.shell.display_trap.hook = hook

        def show(etype, evalue, stb):
            self.errors.append({"output_type": "error", "ename": getattr(etype, "__name__", "Error"),
                                "evalue": _text(evalue, 5000), "traceback": [_text(s, 5000) for s in stb]})
        self.shell._showtraceback = show

    # ------------------------------------------------------------------ channel
    def send(self, obj):
        self.codec.write_message(self.chan_out, obj)

    def receive(self):
        return self.codec.read_message(self.chan_in)

    # ------------------------------------------------------------------ ops
    def op_run(self, msg):
        from IPython.utils.capture import capture_output
        code = msg.get("code")
        if not isinstance(code, str):
            return {"status": "error", "outputs": [], "ename": "ProtocolError", "evalue": "no code"}
        self.results, self.errors = [], []
        with capture_output(stdout=True, stderr=True, display=True) as cap:
            with _alarm(msg.get("time_limit")):
                try:
                    res = self.shell.run_cell(code, store_history=True)
                    failed = not res.success
                except TimeLimit:
                    failed = True
                    self.errors.append({"output_type": "error", "ename": "CellTimeoutError",
                                        "evalue": "the cell did not finish within the time limit",
                                        "traceback": ["CellTimeoutError: the cell did not finish "
                                                      "within the time limit"]})
        outputs = []
        if cap.stdout:
            outputs.append({"output_type": "stream", "name": "stdout", "text": _text(cap.stdout)})
        if cap.stderr:
            outputs.append({"output_type": "stream", "name": "stderr", "text": _text(cap.stderr)})
        for out in cap.outputs[:20]:
            outputs.append({"output_type": "display_data", "data": self._data(out.data), "metadata": {}})
        for data in self.results[-1:]:
            outputs.append({"output_type": "execute_result", "data": self._data(data),
                            "metadata": {}, "execution_count": None})
        outputs += self.errors[:1]
        return {"status": "error" if (failed or self.errors) else "ok", "outputs": outputs}

    @staticmethod
    def _data(data):
        return {k: _text(v, 2_000_000 if k == "image/png" else 20000)
                for k, v in (data or {}).items() if k in ("text/plain", "image/png", "text/html")}

    def op_lookup(self, msg):
        name = msg.get("name")
        ns = self.shell.user_ns
        if not isinstance(name, str) or name not in ns:
            return {"defined": False, "callable": False, "type": None, "module": None, "value": None}
        obj = ns[name]
        info = {"defined": True, "callable": callable(obj), "type": type(obj).__name__,
                "module": None, "value": None}
        if callable(obj):
            module = getattr(obj, "__module__", None)
            info["module"] = module if isinstance(module, str) else None
        else:
            try:
                info["value"] = self.codec.encode(obj)
            except Exception:  # noqa: BLE001
                info["value"] = None
        return info

    def _callback(self, key, args, kwargs):
        self.send({"op": "callback", "id": key, "args": [self.codec.encode(a) for a in args],
                   "kwargs": {str(k): self.codec.encode(v) for k, v in kwargs.items()}})
        reply = self.receive()
        if reply.get("status") == "ok":
            return self.codec.decode(reply.get("value"))
        raise RuntimeError(f"{reply.get('ename', 'Error')}: {reply.get('evalue', '')}")

    def op_call(self, msg):
        fn = self.shell.user_ns.get(msg.get("name"))
        if not callable(fn):
            return {"status": "error", "ename": "NameError", "evalue": f"{msg.get('name')!r} is not "
                    "a function of the notebook", "frames": [], "notes": []}
        try:
            args = [self.codec.decode(t, self._callback) for t in msg.get("args") or []]
            kwargs = {str(k): self.codec.decode(t, self._callback) for k, t in (msg.get("kwargs") or {}).items()}
        except Exception as err:  # noqa: BLE001
            return {"status": "error", "ename": "ProtocolError", "evalue": str(err), "frames": [], "notes": []}
        try:
            before = copy.deepcopy((args, kwargs))
        except Exception:  # noqa: BLE001 - proxies of callables
            before = None
        err_stream = io.StringIO()
        error = value = None
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err_stream):
            warnings.simplefilter("always")
            try:
                with _alarm(msg.get("time_limit")):
                    value = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - time limits, SystemExit, MemoryError
                error = exc
        notes = list(dict.fromkeys(f"{w.category.__name__}: {w.message}"[:300] for w in caught))[:5]
        if err_stream.getvalue().strip():
            notes.append(("wrote to stderr: " + err_stream.getvalue().strip())[:300])
        if error is not None:
            return {"status": "error", "ename": type(error).__name__, "evalue": _text(error, 2000),
                    "frames": self._frames(error), "notes": notes}
        try:
            tree = self.codec.encode(value)
        except Exception as exc:  # noqa: BLE001
            return {"status": "error", "ename": "UnsupportedValue", "evalue": str(exc)[:500],
                    "frames": [], "notes": notes}
        mutated = _mutation(before, (args, kwargs)) if before is not None else None
        return {"status": "ok", "value": tree, "mutated": mutated, "notes": notes}

    @staticmethod
    def _frames(error):
        here = os.path.abspath(__file__)
        entries = []
        for fs in traceback.extract_tb(error.__traceback__):
            if os.path.abspath(fs.filename) == here:
                continue
            own = fs.filename.startswith("<") or "ipython-input" in fs.filename or "ipykernel" in fs.filename
            where = "your code" if own else os.path.basename(fs.filename)
            entries.append(f"  {where}, line {fs.lineno}, in {fs.name}: {(fs.line or '').strip()}"[:300])
        return entries[-4:]

    def serve(self):
        while True:
            try:
                msg = self.receive()
            except EOFError:
                return
            except Exception as err:  # noqa: BLE001 - a broken channel: nothing more to do
                print(f"worker: bad request: {err}", file=sys.stderr)
                return
            op = msg.get("op") if isinstance(msg, dict) else None
            if op == "exit":
                return
            handler = getattr(self, f"op_{op}", None) if op in ("run", "lookup", "call") else None
            try:
                reply = handler(msg) if handler else {"status": "error", "ename": "ProtocolError",
                                                      "evalue": f"unknown op {op!r}"}
            except BaseException as err:  # noqa: BLE001 - never die on one request
                reply = {"status": "error", "ename": type(err).__name__, "evalue": str(err)[:2000],
                         "outputs": [], "frames": [], "notes": []}
            try:
                self.send(reply)
            except Exception as err:  # noqa: BLE001 - e.g. an unserialisable value slipped in
                self.send({"status": "error", "ename": "ProtocolError", "evalue": str(err)[:500],
                           "outputs": [], "frames": [], "notes": []})


def _num(v) -> str:
    try:
        return f"{float(v):.6g}"
    except (TypeError, ValueError):
        return repr(v)[:40]


def _mutation(before, after, name="argument"):
    import numpy as np

    def walk(b, a, label):
        if isinstance(b, np.ndarray):
            if not isinstance(a, np.ndarray) or a.shape != b.shape:
                return f"{label} was replaced"
            same = (a == b) | ((a != a) & (b != b))
            if not np.all(same):
                idx = tuple(int(i) for i in np.argwhere(~same)[0])
                return (f"{label}{list(idx)} was {_num(b[idx])} before the call and "
                        f"{_num(a[idx])} after it")
            return None
        if isinstance(b, (list, tuple)) and isinstance(a, (list, tuple)):
            fields = getattr(b, "_fields", None)
            for i, (x, y) in enumerate(zip(b, a)):
                msg = walk(x, y, f"{label}.{fields[i]}" if fields else f"{label}[{i}]")
                if msg:
                    return msg
        if isinstance(b, dict) and isinstance(a, dict):
            for k in b:
                if k in a:
                    msg = walk(b[k], a[k], f"{label}[{k!r}]")
                    if msg:
                        return msg
        return None

    (bargs, bkw), (aargs, akw) = before, after
    for i, (b, a) in enumerate(zip(bargs, aargs)):
        msg = walk(b, a, f"argument {i + 1}")
        if msg:
            return msg
    for k in bkw:
        msg = walk(bkw[k], akw.get(k), k)
        if msg:
            return msg
    return None


def main():
    chan_in, chan_out = _channel()
    os.environ.setdefault("MPLBACKEND", "Agg")
    Worker(chan_in, chan_out).serve()


if __name__ == "__main__":
    main()
