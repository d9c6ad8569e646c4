"""Progress line and summary table of :func:`rnncourse_grader.engine.grade_class`.

On a terminal one line is redrawn in place (``\\r``); otherwise (a log file, CI) a line is
printed every ``interval`` seconds and at the end::

    graded 37/120  failed 1  3.2 nb/min  ETA 4 min
"""
from __future__ import annotations

import time


def _eta(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    def __init__(self, total: int, out, enabled: bool = True, interval: float = 5.0):
        self.total, self.out, self.enabled, self.interval = total, out, enabled and total > 0, interval
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self.graded = self.failed = self.not_graded = self.notebooks = 0
        self.t0 = time.monotonic()
        self.last = 0.0
        self.shown = 0          # width of the line on screen (tty)

    def line(self) -> str:
        done = self.graded + self.failed + self.not_graded
        minutes = (time.monotonic() - self.t0) / 60
        rate = self.notebooks / minutes if minutes > 0 else 0.0
        per_task = (time.monotonic() - self.t0) / done if done else None
        eta = _eta(per_task * (self.total - done)) if per_task is not None and done < self.total else "--"
        text = f"graded {self.graded}/{self.total}  failed {self.failed}"
        if self.not_graded:
            text += f"  not graded {self.not_graded}"
        return text + f"  {rate:.1f} nb/min  ETA {eta}"

    def done(self, graded: int = 0, failed: int = 0, not_graded: int = 0, notebooks: int = 0) -> None:
        self.graded += graded
        self.failed += failed
        self.not_graded += not_graded
        self.notebooks += notebooks
        self.draw(force=self.tty)

    def draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if self.tty:
            if force or now - self.last >= 1.0:
                text = self.line()
                self.out.write("\r" + text.ljust(self.shown))
                self.out.flush()
                self.shown, self.last = len(text), now
        elif force or now - self.last >= self.interval:
            if now - self.t0 >= self.interval or force:
                print(self.line(), file=self.out, flush=True)
            self.last = now

    def clear(self) -> None:
        """Before another message: take the redrawn line off the screen."""
        if self.enabled and self.tty and self.shown:
            self.out.write("\r" + " " * self.shown + "\r")
            self.out.flush()
            self.shown = 0

    def finish(self) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.draw(force=True)
            self.out.write("\n")
            self.out.flush()
            self.shown = 0
        else:
            print(self.line(), file=self.out, flush=True)


def summary_table(gb, jobs, summary: dict) -> str:
    """Per assignment: graded, failed, not graded, unchanged, how many of the submissions that
    have grades (graded now or before) still have answers to grade by hand (nbgrader's
    ``needs_manual_grade``: 0 once they are graded in formgrader), and their mean score (hand
    grades given included) over the maximum."""
    from nbgrader.api import MissingEntry
    names = sorted({a for a, _ in jobs} | {a for a, *_ in summary["failed"]})
    count = {key: {a: 0 for a in names} for key in ("graded", "failed", "not_graded", "unchanged")}
    for key in count:
        for item in summary[key]:
            count[key][item[0]] += 1
    width = max([len("assignment")] + [len(a) for a in names])
    rows = [f"{'assignment':<{width}}  graded  failed  not graded  unchanged  by hand  mean score"]
    have = set(map(tuple, summary["graded"])) | set(map(tuple, summary["unchanged"]))
    for a in names:
        scores, maximum, by_hand = [], None, 0
        try:
            subs = gb.find_assignment(a).submissions
        except MissingEntry:
            subs = []
        for sub in subs:
            if (a, sub.student_id) in have:
                scores.append(sub.score)
                maximum = sub.max_score
                by_hand += bool(sub.needs_manual_grade)
        mean = f"{sum(scores) / len(scores):.1f} / {maximum:g}" if scores else "-"
        rows.append(f"{a:<{width}}  {count['graded'][a]:>6}  {count['failed'][a]:>6}  "
                    f"{count['not_graded'][a]:>10}  {count['unchanged'][a]:>9}  {by_hand:>7}  "
                    f"{mean:>10}")
    gb.db.commit()
    return "\n".join(rows)
