"""The process that runs a student's notebook inside the sandbox: ``python -m rnncourse_grader.worker``.

It decides nothing about scores.  It runs cells with IPython and calls the notebook's functions
when the harness asks, answering in the protocol of the :mod:`rnncourse_grader` docstring, with
:mod:`rnncourse_grader.codec` trees for values.  At start it moves the channel to private
descriptors (``os.dup``: not inherited by child processes), points fd 0 at /dev/null and fd 1 at
fd 2, so nothing the student's code prints, from Python or from C, reaches the channel.
Running it by path (``python .../worker.py``) works too, with only NumPy and IPython importable:
it then loads the ``codec.py`` next to it under a private module name and takes its own
directory off ``sys.path``.

Decisions beyond the protocol text
----------------------------------
Framing
    A request whose body is not JSON, not an object, has an unknown ``op`` or fields of the
    wrong type gets ``{"status": "error", "ename": "ProtocolError", "evalue": ...}`` (with
    empty ``outputs``, ``frames`` and ``notes``) and the worker goes on.  So does one longer
    than 64 MiB (its body is read and dropped).  A length header that is not 8 hex digits
    leaves no way to find the next message: the worker replies ProtocolError and exits (status
    2).  End of input or ``{"op": "exit"}``: exit status 0.
``run``
    Outputs, in this order: the ``stdout`` stream, the ``stderr`` stream, ``display_data`` (at
    most 20; ``image/png`` base64, also for matplotlib figures shown with ``display``), one
    ``display_data`` per matplotlib figure still open at the end of the cell (then all are
    closed, as the inline backend does), the ``execute_result`` (with the cell's
    ``execution_count``), the ``error``.  Texts are cut at 100,000 characters.  ``status`` is
    ``"error"`` when IPython reports the cell failed.  ``time_limit`` seconds (none if absent or
    not positive) raise :class:`TimeLimit` in the cell, reported as an ``error`` output with
    ``ename`` ``"TimeLimit"``.  ``SystemExit`` is an ``error`` output; ``exit()``/``quit()`` do
    nothing.
``lookup``
    ``type`` is the value's type name (``None`` when undefined); ``module`` is the
    ``__module__`` of a callable (notebook functions: ``"__main__"``).
``call``
    A name that is not defined gives ename ``NameError``, a value that is not callable
    ``TypeError``; arguments that do not decode, ``ProtocolError``.  ``mutated`` names the
    argument by its parameter name when the signature binds (``"x[0, 1] was 0.5 before the call
    and 0.7 after it"``), else ``"argument N"``; it compares the arguments with a second decoding
    of the same trees (no deep copy) and is only reported when the call returned.  ``frames``
    are the last 4 traceback entries below the worker (``worker``, ``codec`` and ``signal``
    frames skipped): notebook cells as ``"  your code, line N, in fn: <source line>"``, other files by
    their base name, as :mod:`rnncourse.grading` does locally.  Notes are
    ``"Category: message"`` for warnings and ``"wrote to stderr: ..."``, at most 5, each at most
    300 characters.  Encoding the result also runs under the time limit.
``substitute`` (optional in ``call``)
    ``{global name: tree}``: during the call the notebook's globals of those names are the
    decoded values (callables: callbacks to the grader), then the notebook's own again (a
    global that did not exist is removed).  Used to grade ``rnn_forward`` with the grader's
    ``rnn_step_forward``.
Callbacks
    A callable argument works only during the call it came with (afterwards it raises
    RuntimeError).  The time limit is paused while the grader computes a callback (the timer
    is stopped, then restarted with the time that was left).  A callback error whose ``ename``
    is a built-in exception is raised as that exception, otherwise as ``RuntimeError("ename:
    evalue")``.
"""
from __future__ import annotations

import base64
import builtins
import contextlib
import inspect
import io
import os
import re
import signal
import sys
import traceback
import warnings

if __package__:
    from . import codec
else:
    # Run by path: load the codec next to this file under a private name, and take this
    # directory off sys.path so that the grader's modules cannot shadow the student's.
    import importlib.util
    _HERE = os.path.dirname(os.path.abspath(__file__))
    _spec = importlib.util.spec_from_file_location("_rnncourse_grader_codec",
                                                   os.path.join(_HERE, "codec.py"))
    codec = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = codec
    _spec.loader.exec_module(codec)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

MAX_REQUEST = 64 * 2 ** 20
TEXT_LIMIT = 100_000
_SKIP_FILES = {os.path.abspath(f) for f in (__file__, codec.__file__, signal.__file__)}
_HEADER = re.compile(rb"[0-9a-fA-F]{8}\Z")


class TimeLimit(BaseException):
    """The cell or call ran past its time limit (not an Exception: ``except Exception`` misses it)."""


class _Fatal(Exception):
    """The channel's framing is lost."""


def _protocol_error(text: str) -> dict:
    return {"status": "error", "ename": "ProtocolError", "evalue": str(text)[:2000],
            "outputs": [], "frames": [], "notes": []}


@contextlib.contextmanager
def _alarm(seconds, what: str):
    """Raise :class:`TimeLimit` after ``seconds`` (no limit if not a positive number)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        yield
        return

    def on_alarm(signum, frame):
        raise TimeLimit(f"{what} did not finish within {seconds:g} seconds")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, float(seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _cut(text, limit: int = TEXT_LIMIT) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit:,} more characters)"


def _channel():
    """Move the channel off fds 0 and 1; returns (reader, writer) on private descriptors."""
    sys.stdout.flush()
    chan_in = os.fdopen(os.dup(0), "rb", buffering=0)
    chan_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    return chan_in, chan_out


# ---------------------------------------------------------------------------- IPython
def _make_shell(worker):
    """The InteractiveShell, with its display hook and traceback display captured by ``worker``."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)

    class Hook(DisplayHook):
        """Keeps the cell's result instead of printing ``Out[n]:``."""

        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            worker.results.append(format_dict)

        def finish_displayhook(self):
            sys.stdout.flush()

    hook = Hook(shell=shell, cache_size=0)
    shell.displayhook = hook
    shell.display_trap.hook = hook

    def show_traceback(etype, evalue, stb):
        worker.errors.append({"output_type": "error", "ename": getattr(etype, "__name__", "Error"),
                              "evalue": _cut(evalue, 5000),
                              "traceback": [_cut(s, 5000) for s in stb][:200]})
    shell._showtraceback = show_traceback
    shell.ask_exit = lambda: None              # exit() / quit() in a cell: no effect

    def png(fig):
        from IPython.core.pylabtools import print_figure
        return print_figure(fig, "png")
    shell.display_formatter.formatters["image/png"].for_type_by_name(
        "matplotlib.figure", "Figure", png)
    warnings.filterwarnings("ignore", message=".*non-interactive, and thus cannot be shown")
    return shell


def _mime(data) -> dict:
    """The ``text/plain``, ``text/html`` and ``image/png`` (base64) parts of a format dict."""
    out = {}
    for key, value in (data or {}).items():
        if key == "image/png":
            if isinstance(value, (bytes, bytearray)):
                value = base64.b64encode(value).decode("ascii")
            if isinstance(value, str) and len(value) <= 20 * 2 ** 20:
                out[key] = value
        elif key in ("text/plain", "text/html"):
            out[key] = _cut(value)
    return out


def _open_figures() -> list:
    """``display_data`` of every open matplotlib figure, which are then closed."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return []
    from IPython.core.pylabtools import print_figure
    outputs = []
    try:
        for num in plt.get_fignums():
            fig = plt.figure(num)
            data = print_figure(fig, "png")
            if data:
                outputs.append({"output_type": "display_data", "metadata": {},
                                "data": _mime({"text/plain": repr(fig), "image/png": data})})
    finally:
        plt.close("all")
    return outputs


# ---------------------------------------------------------------------------- calls
def _frames(error: BaseException) -> list:
    """The last 4 traceback entries of ``error`` outside the grader's own files."""
    entries = []
    for fs in traceback.extract_tb(error.__traceback__):
        if os.path.abspath(fs.filename) in _SKIP_FILES:
            continue
        own = fs.filename.startswith("<") or "ipykernel" in fs.filename
        where = "your code" if own else os.path.basename(fs.filename)
        entries.append(f"  {where}, line {fs.lineno}, in {fs.name}: {(fs.line or '').strip()}"[:300])
    return entries[-4:]


def _bound(fn, args, kwargs) -> list:
    """[(name, value)] of the arguments: parameter names when the signature binds them."""
    try:
        return list(inspect.signature(fn).bind(*args, **kwargs).arguments.items())
    except (TypeError, ValueError):
        return [(f"argument {i + 1}", a) for i, a in enumerate(args)] + list(kwargs.items())


def _num(v) -> str:
    import numpy as np
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    try:
        f = float(v)
    except (TypeError, ValueError):
        return repr(v)[:60]
    return str(f) if f != f or f in (float("inf"), -float("inf")) else f"{f:.6g}"


def _changed(before, after, label: str):
    """How ``after`` differs from ``before`` (first array entry that changed), or None."""
    import numpy as np
    if isinstance(before, np.ndarray):
        if not isinstance(after, np.ndarray) or after.shape != before.shape:
            return f"{label} was replaced"
        try:
            same = (after == before) | ((after != after) & (before != before))
        except TypeError:
            same = np.asarray(after == before)
        if not np.all(same):
            idx = tuple(int(i) for i in np.argwhere(~np.asarray(same))[0])
            return (f"{label}{list(idx)} was {_num(before[idx])} before the call and "
                    f"{_num(after[idx])} after it")
        return None
    if isinstance(before, (list, tuple)) and isinstance(after, (list, tuple)):
        fields = getattr(before, "_fields", None)
        if isinstance(before, list) and len(after) != len(before):
            return f"{label} had {len(before)} items before the call and {len(after)} after it"
        for i, (b, a) in enumerate(zip(before, after)):
            msg = _changed(b, a, f"{label}.{fields[i]}" if fields else f"{label}[{i}]")
            if msg:
                return msg
    if isinstance(before, dict) and isinstance(after, dict):
        for k in before:
            if k not in after:
                return f"{label}[{k!r}] was deleted"
            msg = _changed(before[k], after[k], f"{label}[{k!r}]")
            if msg:
                return msg
    return None


def _mutation(fn, before, after):
    """The first in-place change between two (args, kwargs) pairs, or None."""
    for (name, b), (_, a) in zip(_bound(fn, *before), _bound(fn, *after)):
        msg = _changed(b, a, name)
        if msg:
            return msg
    return None


def _remote_error(ename: str, evalue: str) -> BaseException:
    cls = getattr(builtins, ename, None) if isinstance(ename, str) and ename.isidentifier() else None
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(evalue)
        except Exception:  # noqa: BLE001 - exotic constructors (UnicodeDecodeError...)
            pass
    return RuntimeError(f"{ename}: {evalue}")


# ---------------------------------------------------------------------------- the worker
class Worker:
    """Serves the harness's requests on a private channel.

    Parameters
    ----------
    chan_in : binary file
        Requests (and callback replies) come from here.
    chan_out : binary file
        Replies (and callback requests) go there.
    """

    def __init__(self, chan_in, chan_out):
        self.chan_in, self.chan_out = chan_in, chan_out
        self.results, self.errors = [], []
        self.serial = 0                      # which call the callable proxies belong to
        self.shell = _make_shell(self)

    # -------------------------------------------------------------- channel
    def send(self, obj) -> None:
        """Write one message on the channel."""
        codec.write_message(self.chan_out, obj)

    def receive(self):
        """Read one message; raises EOFError, _Fatal (framing lost) or CodecError (skipped)."""
        head = codec._read_exact(self.chan_in, 8)
        if not head:
            raise EOFError
        if not _HEADER.match(head):
            raise _Fatal(f"bad message header {head!r}")
        size = int(head, 16)
        if size > MAX_REQUEST:
            left = size
            while left:
                chunk = self.chan_in.read(min(left, 1 << 20))
                if not chunk:
                    raise EOFError
                left -= len(chunk)
            raise codec.CodecError(f"request of {size:,} bytes (at most {MAX_REQUEST:,})")
        body = codec._read_exact(self.chan_in, size)
        if len(body) != size:
            raise EOFError
        return codec.read_message(io.BytesIO(head + body), max_bytes=MAX_REQUEST)

    # -------------------------------------------------------------- run
    def op_run(self, msg: dict) -> dict:
        """Run one cell; reply status and nbformat outputs."""
        from IPython.utils.capture import capture_output
        code = msg.get("code")
        if not isinstance(code, str):
            return _protocol_error("run needs the cell's code as a string")
        self.results, self.errors = [], []
        count, figures, failed = None, [], True
        with capture_output(stdout=True, stderr=True, display=True) as cap:
            try:
                with _alarm(msg.get("time_limit"), "the cell"):
                    result = self.shell.run_cell(code, store_history=True)
                    count, failed = result.execution_count, not result.success
                    figures = _open_figures()
            except BaseException as err:  # noqa: BLE001 - a time limit outside the cell's code
                self.errors.append({"output_type": "error", "ename": type(err).__name__,
                                    "evalue": _cut(err, 5000),
                                    "traceback": [f"{type(err).__name__}: {_cut(err, 5000)}"]})
            sys.stdout.flush()
            sys.stderr.flush()
        outputs = [{"output_type": "stream", "name": name, "text": _cut(text)}
                   for name, text in (("stdout", cap.stdout), ("stderr", cap.stderr)) if text]
        outputs += [{"output_type": "display_data", "data": _mime(out.data), "metadata": {}}
                    for out in cap.outputs[:20]]
        outputs += figures[:20]
        outputs += [{"output_type": "execute_result", "data": _mime(data), "metadata": {},
                     "execution_count": count} for data in self.results[-1:]]
        outputs += self.errors[:1]
        return {"status": "error" if failed or self.errors else "ok", "outputs": outputs}

    # -------------------------------------------------------------- lookup
    def op_lookup(self, msg: dict) -> dict:
        """What the notebook's global ``name`` is (and its value when not callable)."""
        name = msg.get("name")
        if not isinstance(name, str):
            return _protocol_error("lookup needs a name")
        ns = self.shell.user_ns
        if name not in ns:
            return {"defined": False, "callable": False, "type": None, "module": None, "value": None}
        obj = ns[name]
        info = {"defined": True, "callable": callable(obj), "type": type(obj).__name__,
                "module": None, "value": None}
        if callable(obj):
            module = getattr(obj, "__module__", None)
            info["module"] = module if isinstance(module, str) else None
        else:
            try:
                with _alarm(10, "encoding the value"):
                    info["value"] = codec.encode(obj)
            except BaseException:  # noqa: BLE001 - cannot be encoded: value None
                info["value"] = None
        return info

    # -------------------------------------------------------------- call
    def _proxy_callback(self, serial: int):
        def callback(key, args, kwargs):
            if serial != self.serial:
                raise RuntimeError("a function the grader passed can only be used during the "
                                   "call it was passed to")
            try:
                request = {"op": "callback", "id": key,
                           "args": [codec.encode(a) for a in args],
                           "kwargs": {str(k): codec.encode(v) for k, v in kwargs.items()}}
            except codec.CodecError as err:
                raise TypeError(f"cannot pass these arguments to the grader's function: {err}") \
                    from None
            # the grader's time does not count: stop the timer, restart it with what was left
            old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            left = signal.setitimer(signal.ITIMER_REAL, 0)[0]
            try:
                self.send(request)
                reply = self.receive()
            finally:
                if left > 0:
                    signal.setitimer(signal.ITIMER_REAL, left)
                signal.pthread_sigmask(signal.SIG_SETMASK, old)
            if not isinstance(reply, dict):
                raise RuntimeError("the grader's function gave a malformed answer")
            if reply.get("status") == "ok":
                return codec.decode(reply.get("value"))
            raise _remote_error(str(reply.get("ename", "Error")), str(reply.get("evalue", ""))[:2000])
        return callback

    def op_call(self, msg: dict) -> dict:
        """Call the notebook's function on decoded arguments; reply value or error."""
        name, targs, tkwargs = msg.get("name"), msg.get("args", []), msg.get("kwargs", {})
        if not (isinstance(name, str) and isinstance(targs, list) and isinstance(tkwargs, dict)):
            return _protocol_error("call needs a name, a list of args and an object of kwargs")
        ns = self.shell.user_ns
        if name not in ns:
            return {"status": "error", "ename": "NameError", "frames": [], "notes": [],
                    "evalue": f"name {name!r} is not defined in the notebook"}
        fn = ns[name]
        if not callable(fn):
            return {"status": "error", "ename": "TypeError", "frames": [], "notes": [],
                    "evalue": f"{name} is a {type(fn).__name__}, not a function"}
        tsubs = msg.get("substitute") or {}
        if not isinstance(tsubs, dict) or not all(isinstance(k, str) and k.isidentifier() for k in tsubs):
            return _protocol_error("substitute must be an object of global names")
        self.serial += 1
        callback = self._proxy_callback(self.serial)
        try:
            args, before_args = ([codec.decode(t, callback) for t in targs] for _ in range(2))
            kwargs, before_kwargs = ({str(k): codec.decode(t, callback) for k, t in tkwargs.items()}
                                     for _ in range(2))
            subs = {k: codec.decode(t, callback) for k, t in tsubs.items()}
        except codec.CodecError as err:
            return _protocol_error(f"arguments: {err}")
        missing = object()
        saved = {k: ns.get(k, missing) for k in subs}
        ns.update(subs)
        err_stream = io.StringIO()
        error = tree = unsupported = None
        with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stderr(err_stream):
            warnings.simplefilter("always")
            try:
                with _alarm(msg.get("time_limit"), name):
                    value = fn(*args, **kwargs)
                    try:
                        tree = codec.encode(value)
                    except Exception as exc:  # noqa: BLE001 - too large, hostile properties
                        unsupported = exc
            except BaseException as exc:  # noqa: BLE001 - TimeLimit, SystemExit, MemoryError...
                error = exc
            finally:
                self.serial += 1             # the proxies stop working
                for k, v in saved.items():   # the notebook's own functions again
                    if v is missing:
                        ns.pop(k, None)
                    else:
                        ns[k] = v
        sys.stdout.flush()
        notes = list(dict.fromkeys(f"{w.category.__name__}: {w.message}"[:300] for w in caught))
        if err_stream.getvalue().strip():
            notes.append(("wrote to stderr: " + err_stream.getvalue().strip())[:300])
        notes = notes[:5]
        if error is not None:
            return {"status": "error", "ename": type(error).__name__, "evalue": _cut(error, 2000),
                    "frames": _frames(error), "notes": notes}
        if unsupported is not None:
            return {"status": "error", "ename": "UnsupportedValue", "frames": [], "notes": notes,
                    "evalue": _cut(f"{name} returned a value that cannot be passed to the "
                                   f"grader: {unsupported}", 2000)}
        return {"status": "ok", "value": tree, "notes": notes,
                "mutated": _mutation(fn, (before_args, before_kwargs), (args, kwargs))}

    # -------------------------------------------------------------- loop
    def handle(self, msg) -> dict:
        """The reply to one request (never raises)."""
        op = msg.get("op") if isinstance(msg, dict) else None
        handler = {"run": self.op_run, "lookup": self.op_lookup, "call": self.op_call}.get(op) \
            if isinstance(op, str) else None
        if handler is None:
            return _protocol_error(f"unknown request {str(op)[:40]!r}" if isinstance(msg, dict)
                                   else "a request must be a JSON object")
        try:
            return handler(msg)
        except BaseException as err:  # noqa: BLE001 - never die on one request
            return _protocol_error(f"{type(err).__name__}: {err}")

    def serve(self) -> int:
        """Answer requests until ``exit`` or end of input; returns the exit status."""
        while True:
            try:
                msg = self.receive()
            except EOFError:
                return 0
            except _Fatal as err:
                self.send(_protocol_error(f"{err}: the channel is lost, the worker exits"))
                return 2
            except codec.CodecError as err:
                self.send(_protocol_error(str(err)))
                continue
            if isinstance(msg, dict) and msg.get("op") == "exit":
                return 0
            reply = self.handle(msg)
            try:
                self.send(reply)
            except Exception as err:  # noqa: BLE001 - e.g. an unserialisable value slipped in
                self.send(_protocol_error(f"the reply could not be sent: {err}"))


def main() -> int:
    """Start the worker on this process's stdin/stdout; returns the exit status."""
    chan_in, chan_out = _channel()
    os.environ.setdefault("MPLBACKEND", "Agg")
    return Worker(chan_in, chan_out).serve()


if __name__ == "__main__":
    sys.exit(main())
