"""Where :func:`rnncourse_grader.engine.grade_class` runs its tasks, and how it retries them.

Two back ends with the same methods: :class:`Pool` (a local ``ProcessPoolExecutor``) and
:class:`Dask` (``distributed.Client(address).submit``, imported only when asked for; its tasks
are named ``autograde-<assignment>-<student>-...`` on the Dask dashboard, and the number of
tasks in flight follows the number of workers the cluster has).
:func:`run_tasks` keeps at most ``workers + 1`` tasks in flight, retries a task whose result is
``not_graded`` and handles worker processes that die:

A dead worker breaks the whole pool and every task in it is lost.  Only tasks that had started
(their work folder exists) can be to blame: when one had, it is charged an attempt; when
several had, they are run again one at a time ("quarantine") so that the next death names its
task.  Tasks that had not started are resubmitted as they were.
"""
from __future__ import annotations

import collections
import concurrent.futures
import multiprocessing
import os
import time
import uuid
from typing import Callable, Dict, List


def _init_worker(parent: int) -> None:
    from .nbgrader_process import sigkill_with_parent
    sigkill_with_parent()
    if os.getppid() != parent:          # the coordinator died before this worker started
        os._exit(1)
    import nbgrader.apps  # noqa: F401 - once per worker: its tasks fork from here (engine, warm)


class Pool:
    """Tasks on a local ProcessPoolExecutor (spawned processes: no inherited database handles)."""
    remote = False

    def __init__(self, fn: Callable, workers: int):
        self.fn, self.workers = fn, workers
        self._start()

    def _start(self) -> None:
        self.pool = concurrent.futures.ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker, initargs=(os.getpid(),))

    def submit(self, kwargs: dict, name: str = ""):
        return self.pool.submit(self.fn, **kwargs)

    def wait(self, futures, timeout: float) -> set:
        return concurrent.futures.wait(futures, timeout=timeout, return_when="FIRST_COMPLETED")[0]

    def broken(self, exc: BaseException) -> bool:
        return isinstance(exc, concurrent.futures.process.BrokenProcessPool)

    def restart(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self._start()

    def close(self, wait: bool = True) -> None:
        """Shut down; without ``wait`` (interrupted) the worker processes are killed too."""
        processes = list(getattr(self.pool, "_processes", {}).values())
        self.pool.shutdown(wait=wait, cancel_futures=True)
        if not wait:
            for p in processes:
                p.kill()
            for p in processes:
                p.join(10)


class Dask:
    """Tasks on a Dask scheduler.  Dask itself reschedules a task whose worker died; the error it
    reports after its own retries counts as one attempt here."""
    remote = True

    def __init__(self, fn: Callable, address: str):
        try:
            import distributed
        except ImportError as err:
            raise RuntimeError("--scheduler needs the Python package 'distributed' (Dask), which is "
                               "not installed: .venv/bin/pip install distributed") from err
        self.fn, self.distributed = fn, distributed
        self.client = distributed.Client(address)
        self._threads, self._asked = max(1, sum(self.client.nthreads().values())), time.monotonic()

    @property
    def workers(self) -> int:
        """Threads of the cluster's workers now (asked every few seconds: workers come and go)."""
        if time.monotonic() - self._asked > 5:
            try:
                self._threads = max(1, sum(self.client.nthreads().values()))
            except Exception:  # noqa: BLE001 - keep the last count while the scheduler is away
                pass
            self._asked = time.monotonic()
        return self._threads

    def submit(self, kwargs: dict, name: str = ""):
        key = f"autograde-{name}-{uuid.uuid4().hex[:12]}" if name else None
        return self.client.submit(self.fn, pure=False, key=key, **kwargs)

    def wait(self, futures, timeout: float) -> set:
        try:
            return set(self.distributed.wait(list(futures), timeout=timeout, return_when="FIRST_COMPLETED").done)
        except self.distributed.TimeoutError:
            return set()

    def broken(self, exc: BaseException) -> bool:
        return False

    def restart(self) -> None:
        pass

    def close(self, wait: bool = True) -> None:
        self.client.close()


def run_tasks(backend, tasks: List[dict], kwargs_of: Callable[[dict], dict],
              on_result: Callable[[dict, dict], bool], tick: Callable[[], None] = lambda: None,
              on_suspects: Callable[[List[dict]], None] = lambda tasks: None) -> None:
    """Run every task to its end.

    ``tasks`` are dicts with at least ``attempt`` (1) and ``dispatch`` (0); ``kwargs_of(task)``
    gives the task function's arguments for one dispatch (and may set ``task["workdir"]``, the
    folder whose existence shows that the task started).  ``on_result(task, result)`` handles
    a result and returns True when the task is to be run again (its ``attempt`` increased).
    A dead worker is reported to it as ``{"status": "not_graded", "error": "the worker
    process died"}``; ``on_suspects(tasks)`` is told when several tasks are to be run one at a time.
    """
    queue = collections.deque(tasks)
    quarantine: collections.deque = collections.deque()   # suspected of killing their worker
    inflight: Dict[object, dict] = {}
    idle_breaks = 0

    def submit(task):
        task["dispatch"] += 1
        inflight[backend.submit(kwargs_of(task), name=task.get("name", ""))] = task

    def handle(task, res, retry_queue):
        if on_result(task, res):
            retry_queue.append(task)

    while queue or quarantine or inflight:
        if quarantine:
            if not inflight:
                submit(quarantine.popleft())
        else:
            while queue and len(inflight) < backend.workers + 1:
                submit(queue.popleft())
        done = backend.wait(list(inflight), timeout=1.0)
        tick()
        lost = []
        for fut in done:
            task = inflight.pop(fut)
            try:
                res = fut.result()
            except Exception as exc:  # noqa: BLE001 - a lost task is retried, never a zero
                if backend.broken(exc):
                    lost.append(task)
                    continue
                res = {"status": "not_graded", "notebooks": {},
                       "error": f"the task raised {type(exc).__name__}: {exc}"}
            handle(task, res, queue)
        if not lost:
            continue
        for fut, task in list(inflight.items()):
            if fut.done() and fut.exception() is None:
                handle(task, fut.result(), queue)
            else:
                lost.append(task)
        inflight.clear()
        backend.restart()
        started = [t for t in lost if t.get("workdir") and os.path.isdir(t["workdir"])]
        queue.extendleft(t for t in lost if t not in started)
        if len(started) == 1:
            handle(started[0], {"status": "not_graded", "notebooks": {},
                                "error": "the worker process died"}, quarantine)
        elif started:
            on_suspects(started)
            quarantine.extend(started)
        idle_breaks = 0 if started else idle_breaks + 1
        if idle_breaks > 3:
            raise RuntimeError("the worker processes die before they run a task")
