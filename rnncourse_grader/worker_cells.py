"""A notebook's cells in the worker: the IPython shell, and a cell's outputs as nbformat dicts.

:func:`run_cell` answers a ``run`` request (see :mod:`rnncourse_grader.worker` for the order of
the outputs and their limits).
"""
from __future__ import annotations

import base64
import sys
import warnings

from .worker_limits import alarm, cut


def make_shell(worker):
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
                              "evalue": cut(evalue, 5000),
                              "traceback": [cut(s, 5000) for s in stb][:200]})
    shell._showtraceback = show_traceback
    shell.ask_exit = lambda: None              # exit() / quit() in a cell: no effect

    def png(fig):
        from IPython.core.pylabtools import print_figure
        return print_figure(fig, "png")
    shell.display_formatter.formatters["image/png"].for_type_by_name(
        "matplotlib.figure", "Figure", png)
    warnings.filterwarnings("ignore", message=".*non-interactive, and thus cannot be shown")
    return shell


def mime(data) -> dict:
    """The ``text/plain``, ``text/html`` and ``image/png`` (base64) parts of a format dict."""
    out = {}
    for key, value in (data or {}).items():
        if key == "image/png":
            if isinstance(value, (bytes, bytearray)):
                value = base64.b64encode(value).decode("ascii")
            if isinstance(value, str) and len(value) <= 20 * 2 ** 20:
                out[key] = value
        elif key in ("text/plain", "text/html"):
            out[key] = cut(value)
    return out


def open_figures() -> list:
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
                                "data": mime({"text/plain": repr(fig), "image/png": data})})
    finally:
        plt.close("all")
    return outputs


def run_cell(worker, code: str, time_limit) -> dict:
    """Run ``code`` in ``worker.shell``; the reply to a ``run`` request.

    Parameters
    ----------
    worker : :class:`rnncourse_grader.worker.Worker`
        Its ``shell`` (from :func:`make_shell`) runs the cell; its ``results`` and ``errors``
        are reset, then collect the cell's result and traceback.
    code : str
        The cell's source (magics work).
    time_limit : float or None
        Seconds (no limit if not a positive number).

    Returns
    -------
    dict
        ``{"status": "ok"|"error", "outputs": [nbformat v4 output dicts]}``.
    """
    from IPython.utils.capture import capture_output
    worker.results, worker.errors = [], []
    count, figures, failed = None, [], True
    with capture_output(stdout=True, stderr=True, display=True) as cap:
        try:
            with alarm(time_limit, "the cell"):
                result = worker.shell.run_cell(code, store_history=True)
                count, failed = result.execution_count, not result.success
                figures = open_figures()
        except BaseException as err:  # noqa: BLE001 - a time limit outside the cell's code
            worker.errors.append({"output_type": "error", "ename": type(err).__name__,
                                  "evalue": cut(err, 5000),
                                  "traceback": [f"{type(err).__name__}: {cut(err, 5000)}"]})
        sys.stdout.flush()
        sys.stderr.flush()
    outputs = [{"output_type": "stream", "name": name, "text": cut(text)}
               for name, text in (("stdout", cap.stdout), ("stderr", cap.stderr)) if text]
    outputs += [{"output_type": "display_data", "data": mime(out.data), "metadata": {}}
                for out in cap.outputs[:20]]
    outputs += figures[:20]
    outputs += [{"output_type": "execute_result", "data": mime(data), "metadata": {},
                 "execution_count": count} for data in worker.results[-1:]]
    outputs += worker.errors[:1]
    return {"status": "error" if failed or worker.errors else "ok", "outputs": outputs}
