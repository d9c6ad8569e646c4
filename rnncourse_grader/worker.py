"""The process that runs a student's notebook inside the sandbox: ``python -m rnncourse_grader.worker``.

It decides nothing about scores.  It runs cells with IPython and calls the notebook's functions
when the harness asks, answering in the protocol of the :mod:`rnncourse_grader` docstring, with
:mod:`rnncourse_grader.codec` trees for values.  At start it moves the channel to private
descriptors (``os.dup``: not inherited by child processes), points fd 0 at /dev/null and fd 1 at
fd 2, so nothing the student's code prints, from Python or from C, reaches the channel.
Running it by path (``python .../worker.py``) works too, with only NumPy and IPython importable:
it then loads the modules next to it (``worker_*.py``, ``codec*.py``) as a private package
(``_rnncourse_grader``) and takes its own directory off ``sys.path``.

This module serves the requests (:class:`Worker`); a cell runs in :mod:`.worker_cells`, a call's
report is built in :mod:`.worker_calls`, and time and text limits are :mod:`.worker_limits`.

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
    are the last 4 traceback entries below the worker (frames in the ``worker*`` and ``codec*``
    modules and in ``signal`` skipped): notebook cells as
    ``"  your code, line N, in fn: <source line>"``, other files by their base name, as
    :mod:`rnncourse.grading` does locally.  Notes are
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

import contextlib
import io
import os
import re
import signal
import sys
import warnings

if not __package__:
    # Run by path: the files next to this one become a private package, so that the relative
    # imports below find them (PEP 366); this directory is taken off sys.path afterwards, so
    # that the grader's modules cannot shadow the student's.
    import types
    _HERE = os.path.dirname(os.path.abspath(__file__))
    _private = types.ModuleType("_rnncourse_grader")
    _private.__path__ = [_HERE]
    sys.modules[_private.__name__] = _private
    __package__ = _private.__name__

from . import codec, codec_decode, codec_encode, codec_framing, codec_types  # noqa: E402
from . import worker_calls, worker_cells, worker_limits  # noqa: E402
from .worker_calls import frames, mutation, remote_error  # noqa: E402
from .worker_cells import make_shell, run_cell  # noqa: E402
# TEXT_LIMIT and TimeLimit: names of this module too, as before the limits had a module
from .worker_limits import TEXT_LIMIT, TimeLimit, alarm, cut  # noqa: E402,F401

if "_HERE" in globals():
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

MAX_REQUEST = 64 * 2 ** 20
# traceback entries in these files are the grader's, not the student's (see worker_calls.frames)
_SKIP_FILES = {os.path.abspath(f) for f in (
    __file__, signal.__file__, *(m.__file__ for m in (
        codec, codec_decode, codec_encode, codec_framing, codec_types,
        worker_calls, worker_cells, worker_limits)))}
_HEADER = re.compile(rb"[0-9a-fA-F]{8}\Z")


class _Fatal(Exception):
    """The channel's framing is lost."""


def _protocol_error(text: str) -> dict:
    return {"status": "error", "ename": "ProtocolError", "evalue": str(text)[:2000],
            "outputs": [], "frames": [], "notes": []}


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
        self.shell = make_shell(self)

    # -------------------------------------------------------------- channel
    def send(self, obj) -> None:
        """Write one message on the channel."""
        codec.write_message(self.chan_out, obj)

    def receive(self):
        """Read one message; raises EOFError, _Fatal (framing lost) or CodecError (skipped)."""
        head = codec_framing.read_exact(self.chan_in, 8)
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
        body = codec_framing.read_exact(self.chan_in, size)
        if len(body) != size:
            raise EOFError
        return codec.read_message(io.BytesIO(head + body), max_bytes=MAX_REQUEST)

    # -------------------------------------------------------------- run
    def op_run(self, msg: dict) -> dict:
        """Run one cell; reply status and nbformat outputs."""
        code = msg.get("code")
        if not isinstance(code, str):
            return _protocol_error("run needs the cell's code as a string")
        return run_cell(self, code, msg.get("time_limit"))

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
                with alarm(10, "encoding the value"):
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
            raise remote_error(str(reply.get("ename", "Error")), str(reply.get("evalue", ""))[:2000])
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
                with alarm(msg.get("time_limit"), name):
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
            return {"status": "error", "ename": type(error).__name__, "evalue": cut(error, 2000),
                    "frames": frames(error, _SKIP_FILES), "notes": notes}
        if unsupported is not None:
            return {"status": "error", "ename": "UnsupportedValue", "frames": [], "notes": notes,
                    "evalue": cut(f"{name} returned a value that cannot be passed to the "
                                   f"grader: {unsupported}", 2000)}
        return {"status": "ok", "value": tree, "notes": notes,
                "mutated": mutation(fn, (before_args, before_kwargs), (args, kwargs))}

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
