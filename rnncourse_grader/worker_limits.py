"""The worker's limits on time and text: :class:`TimeLimit`, :func:`alarm`, :func:`cut`."""
from __future__ import annotations

import contextlib
import signal

TEXT_LIMIT = 100_000


class TimeLimit(BaseException):
    """The cell or call ran past its time limit (not an Exception: ``except Exception`` misses it)."""


@contextlib.contextmanager
def alarm(seconds, what: str):
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


def cut(text, limit: int = TEXT_LIMIT) -> str:
    """``str(text)``, cut at ``limit`` characters (with a line saying how many more there were)."""
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit:,} more characters)"
