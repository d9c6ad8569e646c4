"""``nbgrader`` as a child process of a grading task, killed with it or after a timeout.

:func:`run_nbgrader` starts ``nbgrader *args`` cold (``python -m nbgrader``), or warm: forked
from this process when it has one thread and has imported nbgrader (a ProcessPoolExecutor
worker), or from the :mod:`rnncourse_grader.launcher` of a process with threads (a Dask
worker).  nbgrader leads its own process group, which is what a timeout or an interruption
kills.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import List, Optional

__all__ = ["sigkill_with_parent", "run_nbgrader", "kill_group"]


def sigkill_with_parent() -> None:
    """Linux: get SIGKILL when the parent dies (a killed coordinator leaves no grading behind)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: the orphan finishes its notebook
        pass


_LAUNCHER = """\
import os, sys
try:
    import ctypes
    ctypes.CDLL(None).prctl(1, 9)           # PR_SET_PDEATHSIG, SIGKILL
except Exception:
    pass
if os.getppid() != int(sys.argv[1]):        # the parent died before prctl
    os._exit(1)
os.execv(sys.executable, [sys.executable, "-m", "nbgrader"] + sys.argv[2:])
"""


def run_nbgrader(args: List[str], cwd: str, env: dict, logpath: str, timeout: Optional[float],
                  warm: bool, die_with_parent: bool) -> Optional[int]:
    """Run ``nbgrader *args`` in ``cwd``, output to ``logpath``; exit status (negative: killed by
    that signal; None: killed after ``timeout`` seconds)."""
    if warm and threading.active_count() > 1:     # a Dask worker: fork from its launcher instead
        from . import launcher
        return launcher.run(args, cwd, env, logpath, timeout)
    if not warm:
        # `python -m nbgrader`, through a launcher that asks for SIGKILL when this thread's
        # process dies (kept across exec; no preexec_fn, which is unsafe in threaded workers)
        argv = ([sys.executable, "-c", _LAUNCHER, str(os.getpid())] if die_with_parent else
                [sys.executable, "-m", "nbgrader"]) + list(args)
        with open(logpath, "wb") as log:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            try:
                return proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                kill_group(proc.pid)
                return None
            except BaseException:                 # interrupted: nbgrader must not run on
                kill_group(proc.pid)
                raise
    from nbgrader.apps import nbgraderapp  # noqa: F401 - imported once per worker process
    from .launcher import nbgrader_main
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:                                          # the child: as `python -m nbgrader`
        try:
            os.setsid()
            if die_with_parent:
                sigkill_with_parent()
        finally:
            nbgrader_main(args, cwd, env, logpath)        # never returns
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            if deadline is not None and time.monotonic() > deadline:
                kill_group(pid)
                return None
            time.sleep(0.05)
    except BaseException:                         # interrupted: nbgrader must not run on
        kill_group(pid)
        raise


def kill_group(pid: int) -> None:
    """SIGKILL nbgrader's process group (it leads one) and reap nbgrader."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
