"""A warm ``nbgrader`` launcher for processes with threads (a Dask worker).

Starting ``python -m nbgrader`` costs its imports, 3 s on an idle machine and 6-8 s on a loaded
one, more than grading a notebook.  A ProcessPoolExecutor worker avoids that by importing
nbgrader once and forking per task (:func:`rnncourse_grader.nbgrader_process.run_nbgrader`),
which is safe only in a process with one thread.  A Dask worker runs its tasks in threads
beside its event loop, and ``multiprocessing`` refuses to start children from its (daemonic)
process.  So a task on a Dask worker asks this launcher instead: one single-threaded helper
process per worker process (``python -m rnncourse_grader.launcher``, started on first use),
which imports nbgrader once and forks one child per request.

Protocol (JSON lines on the helper's stdin and stdout): ``{"id", "args", "cwd", "env", "log"}``
forks a child that runs ``nbgrader *args`` in ``cwd`` with environment ``env``, its output to
``log``; the helper answers ``{"id", "pid"}``, and ``{"id", "status"}`` when the child ends
(status as :func:`os.waitstatus_to_exitcode`; negative: killed by that signal).
``{"kill": id}`` kills the child's process group (it leads one).

Nothing outlives the process that asked: each child gets SIGKILL when the helper dies
(``PR_SET_PDEATHSIG``; the helper is single-threaded, so its one thread is the parent), and the
helper kills its children and exits when its stdin reaches end of file, which happens when the
worker process ends, however it ends (SIGKILL included).
"""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from typing import Dict, Optional


class LauncherDied(RuntimeError):
    pass


class Launcher:
    """Client side: one helper process per process using it; thread-safe."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "rnncourse_grader.launcher"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
                                     start_new_session=True)
        self.owner = os.getpid()
        self._write = threading.Lock()
        self._state = threading.Condition()
        self._next = 0
        self._pid: Dict[int, int] = {}
        self._status: Dict[int, int] = {}
        self.dead: Optional[str] = None
        line = self.proc.stdout.readline()
        if line.strip() != b'{"ready": true}':
            self.proc.kill()
            raise LauncherDied(f"the nbgrader launcher did not start: {line[:500]!r}")
        threading.Thread(target=self._read, name="rnncourse-launcher-reader", daemon=True).start()

    def alive(self) -> bool:
        return self.dead is None and self.owner == os.getpid() and self.proc.poll() is None

    def _read(self) -> None:
        for line in self.proc.stdout:
            msg = json.loads(line)
            with self._state:
                if "pid" in msg:
                    self._pid[msg["id"]] = msg["pid"]
                if "status" in msg:
                    self._status[msg["id"]] = msg["status"]
                self._state.notify_all()
        with self._state:
            self.dead = f"the nbgrader launcher (pid {self.proc.pid}) ended"
            self._state.notify_all()

    def _send(self, msg: dict) -> None:
        with self._write:
            self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
            self.proc.stdin.flush()

    def run(self, args, cwd: str, env: dict, logpath: str, timeout: Optional[float]) -> Optional[int]:
        """``nbgrader *args``: its exit status (negative: killed by that signal), or None when it
        was killed after ``timeout`` seconds.  Raises :class:`LauncherDied` if the helper ends."""
        with self._state:
            self._next += 1
            rid = self._next
        self._send({"id": rid, "args": list(args), "cwd": cwd, "env": dict(env), "log": logpath})
        deadline = None if timeout is None else time.monotonic() + timeout
        timed_out = False
        try:
            with self._state:
                while rid not in self._status:
                    if self.dead:
                        raise LauncherDied(self.dead)
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0 and not timed_out:
                        timed_out = True
                        self._state.release()
                        try:
                            self._send({"kill": rid})
                        finally:
                            self._state.acquire()
                        continue
                    self._state.wait(1.0 if left is None or timed_out else min(left, 1.0))
                status = self._status.pop(rid)
                self._pid.pop(rid, None)
            return None if timed_out else status
        except BaseException:                     # interrupted: the child must not run on
            if not self.dead:
                try:
                    self._send({"kill": rid})
                except OSError:
                    pass
            raise


_LOCK = threading.Lock()
_LAUNCHER: Optional[Launcher] = None


def launcher() -> Launcher:
    """This process's launcher, started on first use (and again if it died)."""
    global _LAUNCHER
    with _LOCK:
        if _LAUNCHER is None or not _LAUNCHER.alive():
            _LAUNCHER = Launcher()
        return _LAUNCHER


def run(args, cwd: str, env: dict, logpath: str, timeout: Optional[float]) -> Optional[int]:
    return launcher().run(args, cwd, env, logpath, timeout)


# ============================================================================== the children
def die_with_parent() -> None:
    """Linux: get SIGKILL when the parent dies."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux
        pass


def nbgrader_main(args, cwd: str, env: dict, logpath: str) -> None:
    """In a freshly forked child: run nbgrader's command line as ``python -m nbgrader *args``
    would, in ``cwd`` with environment ``env``, output to ``logpath``; exit (never returns)."""
    code = 1
    try:
        from nbgrader.apps import nbgraderapp
        fd = os.open(logpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(fd, 0)
        os.close(fd)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        sys.path.insert(0, cwd)
        sys.argv = ["nbgrader", *args]
        nbgraderapp.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001
        import traceback
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


# ============================================================================== the helper
def _serve() -> None:
    import nbgrader.apps.nbgraderapp  # noqa: F401 - once: every child forks with it imported

    requests, answers = os.dup(0), os.dup(1)      # the protocol's pipes; fd 0, 1 for nothing else
    fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(fd, 0)
    os.close(fd)
    os.dup2(2, 1)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(wake_w)
    children: Dict[int, int] = {}                  # pid -> request id

    def reply(msg: dict) -> None:
        data = json.dumps(msg).encode() + b"\n"
        while data:
            data = data[os.write(answers, data):]

    def reap() -> None:
        while children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            rid = children.pop(pid, None)
            if rid is not None:
                reply({"id": rid, "status": os.waitstatus_to_exitcode(status)})

    reply({"ready": True})
    buffer = b""
    try:
        while True:
            ready, _, _ = select.select([requests, wake_r], [], [], 5.0)
            if wake_r in ready:
                os.read(wake_r, 4096)
            reap()
            if requests not in ready:
                continue
            chunk = os.read(requests, 1 << 16)
            if not chunk:                            # the worker process is gone
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                msg = json.loads(line)
                if "kill" in msg:
                    for pid, rid in children.items():
                        if rid == msg["kill"]:
                            try:
                                os.killpg(pid, signal.SIGKILL)
                            except ProcessLookupError:
                                pass
                    continue
                pid = os.fork()
                if pid == 0:
                    try:
                        os.setsid()
                        die_with_parent()
                        signal.set_wakeup_fd(-1)
                        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                        for fd in (requests, answers, wake_r, wake_w):
                            os.close(fd)
                    finally:
                        nbgrader_main(msg["args"], msg["cwd"], msg["env"], msg["log"])   # never returns
                children[pid] = msg["id"]
                reply({"id": msg["id"], "pid": pid})
    finally:
        for pid in list(children):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


if __name__ == "__main__":
    _serve()
