"""One sandboxed worker seen from the grader: start it, run cells, call functions, restart it.

:class:`Session` owns a :mod:`rnncourse_grader.worker` process (under bubblewrap, see
:mod:`rnncourse_grader.sandbox`, or a plain subprocess in ``unsafe`` mode) and speaks the
protocol of the package docstring with it.  Every wait has a wall-clock deadline; a worker that
dies, hangs or answers nonsense is killed (its whole process tree goes with its PID namespace)
and the next request starts a fresh one, which first re-runs the cells that had run without
killing it (``replay``), so one bad cell costs that cell only.
"""
from __future__ import annotations

import collections
import itertools
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import codec, sandbox

MAX_MESSAGE = 64 * 1024 * 1024
GRADER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class WorkerLost(Exception):
    """The worker died, hung past its deadline or broke the protocol (message says which)."""


class Session:
    """A sandboxed worker for one notebook.

    Parameters
    ----------
    view_dir : directory holding the student view package ``rnncourse/``.
    submission_dir : the submission's folder, copied into the sandbox's home (or None).
    limits : :class:`rnncourse_grader.sandbox.Limits`.
    hide : directories to hide besides the grader's home (the course directory...).
    unsafe : run the worker as a plain subprocess, without a sandbox (only when the instructor
        asked for it explicitly: student code then runs with the grader's rights).
    max_restarts : how many times the worker may be replaced before every later request fails.
    """

    def __init__(self, view_dir: str, submission_dir: Optional[str], limits: sandbox.Limits,
                 hide: Sequence[str] = (), unsafe: bool = False, max_restarts: int = 3):
        self.view_dir, self.submission_dir = view_dir, submission_dir
        self.limits, self.hide, self.unsafe = limits, list(hide), unsafe
        self.max_restarts = max_restarts
        self.proc: Optional[subprocess.Popen] = None
        self.restarts = 0
        self.replay: List[str] = []            # cells to re-run in a fresh worker
        self.stderr_tail: collections.deque = collections.deque(maxlen=64)
        self._scratch: Optional[str] = None
        self.given_up = False
        self._callable_ids = itertools.count(1)    # ids of the functions passed, never reused

    # ------------------------------------------------------------------ process
    def _argv(self):
        if not self.unsafe:
            return sandbox.command(self.view_dir, GRADER_DIR, self.submission_dir, self.limits,
                                   hide=self.hide)
        # No sandbox: a scratch copy of the submission as working directory, nothing else.
        self._scratch = tempfile.mkdtemp(prefix="rnncourse-unsafe-")
        if self.submission_dir:
            shutil.copytree(self.submission_dir, self._scratch, dirs_exist_ok=True)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([self.view_dir, GRADER_DIR]),
                   MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
        return [sys.executable, "-m", "rnncourse_grader.worker"], env

    def start(self) -> None:
        if self.restarts > self.max_restarts:
            self.given_up = True
            raise WorkerLost(f"the notebook's Python process was restarted {self.max_restarts} "
                             "times; the remaining cells were not run")
        argv, env = self._argv()
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=self._scratch or "/",
                                     start_new_session=True)
        threading.Thread(target=self._drain, args=(self.proc,), daemon=True).start()
        for code in list(self.replay):
            try:
                self._request({"op": "run", "code": code, "time_limit": self.limits.cell_seconds},
                              self.limits.cell_seconds + 5)
            except WorkerLost:
                self.replay.remove(code)       # it killed this worker too: leave it out
                self._kill()
                self.restarts += 1
                return self.start()

    def _drain(self, proc) -> None:
        for line in iter(proc.stderr.readline, b""):
            self.stderr_tail.append(line[:500].decode("utf-8", "replace"))

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.kill()
            proc.wait(timeout=10)
        except Exception:  # noqa: BLE001 - already gone
            pass
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                stream.close()
            except Exception:  # noqa: BLE001
                pass

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self._send({"op": "exit"})
                self.proc.wait(timeout=2)
            except Exception:  # noqa: BLE001
                pass
        self._kill()
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ channel
    def _send(self, obj) -> None:
        data = json.dumps(obj).encode("utf-8")
        try:
            self.proc.stdin.write(b"%08x" % len(data) + data)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as err:
            raise WorkerLost(self._death("it stopped reading requests")) from err

    def _read_exact(self, n: int, deadline: float) -> bytes:
        fd = self.proc.stdout.fileno()
        chunks, got = [], 0
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise WorkerLost("timeout")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, min(n - got, 1 << 20))
            if not chunk:
                raise WorkerLost(self._death("it exited"))
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _receive(self, deadline: float) -> dict:
        head = self._read_exact(8, deadline)
        try:
            size = int(head.decode("ascii"), 16)
        except (UnicodeDecodeError, ValueError):
            raise WorkerLost("the notebook's process wrote something that is not a grader "
                             "message on the grader's channel") from None
        if size > MAX_MESSAGE:
            raise WorkerLost(f"the notebook's process sent a message of {size:,} bytes "
                             f"(at most {MAX_MESSAGE:,})")
        try:
            msg = json.loads(self._read_exact(size, deadline).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise WorkerLost("the notebook's process sent a malformed message") from None
        if not isinstance(msg, dict):
            raise WorkerLost("the notebook's process sent a malformed message")
        return msg

    def _death(self, what: str) -> str:
        code = self.proc.poll() if self.proc is not None else None
        why = "killed by the memory or CPU-time limit, os._exit() or a crash" \
            if code is not None else "it stopped answering"
        return f"the notebook's Python process died ({what}; {why})"

    def _request(self, obj, seconds: float, on_callback: Optional[Callable] = None) -> dict:
        """Send one request and wait for its final reply, answering callbacks meanwhile."""
        if self.given_up:
            raise WorkerLost("not run: the notebook's Python process died too many times")
        if self.proc is None or self.proc.poll() is not None:
            self._kill()
            self.start()
        deadline = time.monotonic() + seconds
        try:
            self._send(obj)
            while True:
                msg = self._receive(deadline)
                if msg.get("op") != "callback":
                    return msg
                if on_callback is None:
                    raise WorkerLost("the notebook's process asked for a callback nobody offered")
                self._send(on_callback(msg))
        except WorkerLost as err:
            if str(err) == "timeout":
                err = WorkerLost(f"no answer within {seconds:g} seconds (wall-clock limit)")
            self._kill()
            self.restarts += 1
            raise err from None

    # ------------------------------------------------------------------ operations
    def run_cell(self, code: str) -> dict:
        """Run a code cell; returns the worker's reply (``status``, ``outputs``)."""
        reply = self._request({"op": "run", "code": code, "time_limit": self.limits.cell_seconds},
                              self.limits.cell_seconds + 5)
        if not isinstance(reply.get("outputs"), list):
            reply["outputs"] = []
        self.replay.append(code)
        return reply

    def lookup(self, name: str) -> dict:
        return self._request({"op": "lookup", "name": name}, self.limits.call_seconds + 5)

    def call(self, name: str, args: Sequence[Any], kwargs: Dict[str, Any],
             substitute: Optional[Dict[str, Callable]] = None) -> dict:
        """Call the notebook's function ``name``; callable arguments are served from here.

        ``substitute``: ``{global name: function}`` the notebook sees during this call instead of
        its own (served from here too).
        """
        # this call's functions, under ids no other call of this session ever had: a proxy the
        # notebook kept from an earlier call names an id served by nobody (even if it gets
        # past the worker's own check), so it gains nothing later
        callables: Dict[int, Callable] = {}
        ids = self._callable_ids
        payload = {"op": "call", "name": name,
                   "args": [codec.encode(a, callables, ids=ids) for a in args],
                   "kwargs": {k: codec.encode(v, callables, ids=ids) for k, v in kwargs.items()},
                   "time_limit": self.limits.call_seconds}
        if substitute:
            payload["substitute"] = {k: codec.encode(v, callables, ids=ids)
                                     for k, v in substitute.items()}

        def serve(msg):
            fn = callables.get(msg.get("id"))
            if fn is None:
                return {"status": "error", "ename": "ProtocolError",
                        "evalue": "unknown callable: a function the grader passed works only "
                                  "during the call it was passed to"}
            try:
                a = [codec.decode(t) for t in msg.get("args") or []]
                k = {str(key): codec.decode(t) for key, t in (msg.get("kwargs") or {}).items()}
                return {"status": "ok", "value": codec.encode(fn(*a, **k))}
            except Exception as err:  # noqa: BLE001 - reported to the student's code
                return {"status": "error", "ename": type(err).__name__, "evalue": str(err)[:2000]}

        # the student's code may call back many times (e.g. a numerical gradient): more time
        return self._request(payload, self.limits.call_seconds + 5, on_callback=serve)
