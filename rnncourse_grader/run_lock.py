"""The lock that makes one class-grading run at a time per course directory and gradebook."""
from __future__ import annotations

import fcntl
import hashlib
import os

__all__ = ["RunLock"]


class RunLock:
    """One coordinator per course directory and per gradebook at a time.

    A file lock (``flock``) on ``autograded/.rnncourse-grading.lock`` and, for a gradebook on a
    database server (PostgreSQL), a session advisory lock in that database, so that runs on
    other machines or from other course directories that share the gradebook take turns too.
    A second run waits for the first (``on_wait`` is called once, before it waits), then
    grades what is left.  Both locks go with the process, however it ends.
    """

    def __init__(self, directory: str, db_url: str, course_id: str, out, on_wait=lambda: None):
        self.waited = False
        self.fh = self.con = None
        os.makedirs(directory, exist_ok=True)
        self.fh = open(os.path.join(directory, ".rnncourse-grading.lock"), "a+")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.fh.seek(0)
            self._wait(on_wait, out, f"pid {self.fh.read().strip() or '?'}, {self.fh.name}")
            fcntl.flock(self.fh, fcntl.LOCK_EX)
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(str(os.getpid()))
        self.fh.flush()
        if db_url.startswith("postgresql"):
            try:
                self._advisory(db_url, course_id, out, on_wait)
            except BaseException:
                self.close()
                raise

    def _wait(self, on_wait, out, where: str) -> None:
        if not self.waited:
            on_wait()
        self.waited = True
        print(f"waiting for the other grading run of this gradebook to finish ({where})", file=out, flush=True)

    def _advisory(self, db_url: str, course_id: str, out, on_wait) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool
        key = int.from_bytes(hashlib.sha256(f"rnncourse-grading:{course_id}".encode()).digest()[:8],
                             "big", signed=True)
        from sqlalchemy.engine import make_url
        self.engine = create_engine(db_url, poolclass=NullPool)
        try:
            self.con = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except Exception as err:  # noqa: BLE001 - said in one line, not a traceback
            raise RuntimeError(f"cannot connect to the gradebook {make_url(db_url).render_as_string()}: "
                               f"{str(err).splitlines()[0]}") from err
        if not self.con.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            self._wait(on_wait, out, f"PostgreSQL advisory lock {key}")
            self.con.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})

    def close(self) -> None:
        if self.con is not None:
            self.con.close()            # ends the session, and its advisory lock
            self.engine.dispose()
            self.con = None
        if self.fh is not None:
            self.fh.close()
            self.fh = None
