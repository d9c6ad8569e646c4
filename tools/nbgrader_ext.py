"""nbgrader plug-ins of the course, loaded by ``nbgrader_config.py`` (not a student-facing module).

* :func:`kernel_limit_arguments` -- kernel arguments that put every graded kernel under a memory
  limit (``RLIMIT_AS``) and a CPU-time limit (``RLIMIT_CPU``), applied by ``resource`` inside the
  kernel process before any cell runs (used by ``validate`` and ``autograde`` alike).
* :class:`ResilientExecute` -- nbgrader's ``Execute`` preprocessor that survives a kernel that
  dies (memory, ``os._exit``, a crash, the CPU limit) or stops answering: the cell gets an error
  output (so its points are zero), a fresh kernel replays the cells that ran before it, and the
  remaining cells are graded as usual.  Stock nbgrader abandons the whole submission instead.
  A kernel that fails to *start* (seen under load: "Address already in use", then no answer
  for ``startup_timeout`` seconds) is a grader-side failure: the start is retried
  (``start_attempts``) and each failure is recorded in :data:`KERNEL_START_FAILURES`, which
  ``tools/course.py grade`` reports in its progress line.
* :class:`TruncateOutput` -- caps the size of every output (a submission printing megabytes).
* :class:`GetGradesWithStatus` -- nbgrader's ``GetGrades`` that also records whether a grade
  still waits for the instructor (``needs_manual_grade``), so the feedback says "graded by hand"
  rather than "failed" for a written answer nobody has graded yet.
* :class:`HideHiddenTests` -- for feedback: removes hidden test regions from the cells and
  reduces the traceback of any error in a cell that had hidden tests to its one-line message,
  so hidden test code never reaches a student.
"""
from __future__ import annotations

import asyncio
import contextlib
import copy
import os

from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from traitlets import Integer

from nbgrader.preprocessors import ClearHiddenTests, Execute, GetGrades, NbGraderPreprocessor

try:  # jupyter_core >= 5
    from jupyter_core.utils import run_sync
except ImportError:  # pragma: no cover
    from nbclient.util import run_sync

HERE = os.path.dirname(os.path.abspath(__file__))
FEEDBACK_TEMPLATES = os.path.join(HERE, "feedback_templates")


def kernel_limit_arguments(memory_mb: int, cpu_seconds: int) -> list:
    """Extra kernel arguments setting RLIMIT_AS and RLIMIT_CPU in the kernel process.

    A NumPy kernel maps about 1 GB of address space before running anything, so the memory limit
    should be at least 2048 MB.  Going over it raises ``MemoryError`` in the student's code (the
    cell fails, the kernel lives); going over the CPU limit kills the kernel, which
    :class:`ResilientExecute` handles.
    """
    mem = int(memory_mb) * 1024 * 1024
    lines = ("import resource as _rs; "
             f"_rs.setrlimit(_rs.RLIMIT_AS, ({mem}, {mem})); "
             f"_rs.setrlimit(_rs.RLIMIT_CPU, ({int(cpu_seconds)}, {int(cpu_seconds) + 5})); del _rs")
    return ["--HistoryManager.hist_file=:memory:", f"--IPKernelApp.exec_lines=[{lines!r}]"]


#: One entry per failed kernel start in this process ("attempt k of n: error"); the caller
#: (tools/course.py grade) empties it before a submission and reads it afterwards.
KERNEL_START_FAILURES: list = []


class KernelStartError(RuntimeError):
    """No kernel could be started for a notebook: a grader-side failure, not the student's."""


def _error_output(ename: str, message: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=message,
                        traceback=[f"\x1b[0;31m{ename}\x1b[0m: {message}"])


class ResilientExecute(Execute):
    """Execute every cell; a dead or hung kernel costs only the cell that killed it."""

    max_kernel_restarts = Integer(
        3, help="How many times a notebook's kernel may be restarted before the remaining cells "
                "are marked as not run.").tag(config=True)

    start_attempts = Integer(
        3, help="How many times to try starting a kernel before giving up on the notebook "
                "(a start can fail under load, e.g. 'Address already in use').").tag(config=True)

    start_retry_delay = Integer(
        2, help="Seconds to wait before the k-th retry of a kernel start (times k).").tag(config=True)

    simulated_start_failures = Integer(
        0, help="For tests only: the first N kernel starts of every notebook fail.").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._simulated_left = self.simulated_start_failures
        self._restarts = 0
        self._replayable = []
        self._given_up = False
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if self._given_up:
            if cell.cell_type == "code" and cell.source.strip():
                cell.outputs = [_error_output(
                    "NotRun", "not run: the kernel died too many times in this notebook")]
            return cell, resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except (DeadKernelError, CellTimeoutError) as err:
            if isinstance(err, DeadKernelError):
                why = ("the Python kernel died while running this cell (killed by the memory or "
                       "CPU-time limit, os._exit(), or a crash in compiled code)")
            else:
                why = "the kernel stopped answering while running this cell (time limit)"
            cell.outputs = list(cell.get("outputs", [])) + [_error_output(
                "KernelDied", why + "; grading went on in a fresh kernel that re-ran the cells before it")]
            self.nb.cells[index] = cell
            self.log.warning("Cell %d: %s; restarting the kernel", index, why)
            self._restart(index)
            return cell, self.resources
        if cell.cell_type == "code" and not any(
                o.get("output_type") == "error" and o.get("ename") == "CellTimeoutError"
                for o in cell.get("outputs", [])):
            self._replayable.append(index)
        return cell, resources

    def _restart(self, index: int) -> None:
        """A fresh kernel that has re-run every earlier cell that did not kill or hang a kernel."""
        while True:
            self._restarts += 1
            if self._restarts > self.max_kernel_restarts:
                self._given_up = True
                return
            run_sync(self._async_fresh_kernel)()
            failed = None
            for i in list(self._replayable):
                original = self.nb.cells[i]
                try:
                    self.execute_cell(copy.deepcopy(original), i, store_history=True)
                except (DeadKernelError, CellTimeoutError):
                    failed = i
                    break
                finally:
                    self.nb.cells[i] = original      # the replay's outputs are discarded
            if failed is None:
                return
            self._replayable.remove(failed)

    async def _async_fresh_kernel(self) -> None:
        await self._async_discard_kernel()
        await self._async_start_kernel()

    @contextlib.contextmanager
    def setup_kernel(self, **kwargs):
        """nbclient's ``setup_kernel`` with :meth:`_async_start_kernel` (retries) as the start."""
        cleanup_kc = kwargs.pop("cleanup_kc", self.owns_km)
        run_sync(self._async_start_kernel)(**kwargs)
        try:
            yield
        finally:
            if cleanup_kc and self.km is not None:
                self._cleanup_kernel()

    async def _async_start_kernel(self, **kwargs) -> None:
        """Start a kernel and its client, retrying a failed start ``start_attempts`` times."""
        attempts = max(1, self.start_attempts)
        for attempt in range(1, attempts + 1):
            try:
                if self.km is None:
                    self.km = self.create_kernel_manager()
                if self._simulated_left > 0:
                    self._simulated_left -= 1
                    raise RuntimeError("simulated kernel start failure "
                                       "(ResilientExecute.simulated_start_failures)")
                if not self.km.has_kernel:
                    await self.async_start_new_kernel(**kwargs)
                if self.kc is None:
                    await self.async_start_new_kernel_client()
                return
            except Exception as err:  # noqa: BLE001 - any failure to start is the grader's
                KERNEL_START_FAILURES.append(f"attempt {attempt} of {attempts}: {err}")
                self.log.warning("Kernel start failed (attempt %d of %d): %s", attempt, attempts, err)
                await self._async_discard_kernel()
                if attempt == attempts:
                    raise KernelStartError(
                        f"the kernel could not be started ({attempts} attempts); last error: {err}"
                    ) from err
                await asyncio.sleep(self.start_retry_delay * attempt)

    async def _async_discard_kernel(self) -> None:
        """Shut down and forget the current kernel and client, whatever state they are in."""
        if self.km is not None:
            try:
                await self._async_cleanup_kernel()
            except Exception:  # noqa: BLE001 - the old kernel is already gone
                pass
        if self.kc is not None:
            with contextlib.suppress(Exception):
                self.kc.stop_channels()
        self.km = None
        self.kc = None


class TruncateOutput(NbGraderPreprocessor):
    """Cap every text output at ``max_chars`` characters (after nbgrader's line limit)."""

    max_chars = Integer(20000, help="Largest text output kept per output").tag(config=True)

    def _cut(self, text: str) -> str:
        if len(text) <= self.max_chars:
            return text
        return (text[: self.max_chars]
                + f"\n... output truncated: {len(text):,} characters in all ...\n")

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                out["text"] = self._cut(out["text"])
            elif out.get("output_type") in ("execute_result", "display_data"):
                data = out.get("data", {})
                for mime in list(data):
                    if isinstance(data[mime], str) and len(data[mime]) > self.max_chars:
                        data[mime] = self._cut(data[mime])
            elif out.get("output_type") == "error":
                out["evalue"] = self._cut(str(out.get("evalue", "")))
        return cell, resources


def _is_message_only(out) -> bool:
    """An error output that is just a message (rnncourse.grading.GradingFailure, KernelDied)."""
    tb = list(out.get("traceback", []))
    return (out.get("ename") in ("GradingFailure", "KernelDied") and bool(tb)
            and tb[0].startswith(f"\x1b[0;31m{out.get('ename')}\x1b[0m: ")
            and not any("Cell In[" in line or "Traceback (most recent call last)" in line
                        or "---->" in line for line in tb))


class GetGradesWithStatus(GetGrades):
    """``GetGrades`` plus ``metadata.nbgrader.needs_manual_grade`` on every graded cell."""

    def _get_score(self, cell, resources):
        super()._get_score(cell, resources)
        grade = self.gradebook.find_grade(cell.metadata["nbgrader"]["grade_id"], self.notebook_id,
                                          self.assignment_id, self.student_id)
        cell.metadata.nbgrader["needs_manual_grade"] = bool(grade.needs_manual_grade)


class HideHiddenTests(ClearHiddenTests):
    """Feedback preprocessor: no hidden test code, neither in the cell nor in a traceback."""

    def preprocess_cell(self, cell, resources, index):
        had_hidden = self.begin_test_delimeter in cell.get("source", "")
        cell, resources = super().preprocess_cell(cell, resources, index)
        if had_hidden and cell.cell_type == "code":
            for out in cell.get("outputs", []):
                if out.get("output_type") != "error" or _is_message_only(out):
                    continue
                ename, evalue = out.get("ename", "Error"), str(out.get("evalue", ""))
                if ename == "CellTimeoutError":
                    evalue = evalue or "the cell did not finish within the time limit"
                out["traceback"] = [f"\x1b[0;31m{ename}\x1b[0m: {evalue}",
                                    "(no traceback: this cell contains hidden tests)"]
        return cell, resources
