"""Real servers for the tests, started and stopped by the tests themselves (no mocks).

* :func:`postgres_server` -- a PostgreSQL server from Debian's binaries (``initdb``/``pg_ctl``) in a
  temporary directory, on a free port of 127.0.0.1; as root it runs as the ``postgres`` user
  (PostgreSQL refuses to run as root).  Yields a SQLAlchemy URL for a fresh database.
* :func:`dask_cluster` -- ``dask scheduler`` and N ``dask worker`` processes on 127.0.0.1 from the
  venv's command-line tools.  Yields the scheduler's address.
"""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

BIN = os.path.dirname(sys.executable)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


@contextlib.contextmanager
def postgres_server(tmpdir: str, database: str = "gradebook"):
    bindir = pg_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL's server binaries are missing: `make postgres` installs them")
    as_root = os.geteuid() == 0
    own = None
    if as_root:         # the postgres user cannot enter pytest's folders (mode 0700, root's)
        own = tmpdir = tempfile.mkdtemp(prefix="rnncourse-pg-")
    data = os.path.join(tmpdir, "pgdata")
    sock = os.path.join(tmpdir, "pgsock")
    os.makedirs(sock, exist_ok=True)
    port = free_port()
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(tmpdir, "postgres")
        shutil.chown(sock, "postgres")

    def run(*args, check=True):
        return subprocess.run(prefix + list(args), check=check, capture_output=True, text=True, cwd=tmpdir)

    run(f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "grader", "--no-sync")
    run(f"{bindir}/pg_ctl", "-D", data, "-l", os.path.join(tmpdir, "pg.log"), "-w", "-o",
        f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
    try:
        run(f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "grader", database)
        yield f"postgresql+psycopg://grader@127.0.0.1:{port}/{database}"
    finally:
        run(f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop", check=False)
        if own:
            shutil.rmtree(own, ignore_errors=True)


@contextlib.contextmanager
def dask_cluster(n_workers: int = 2, env=None):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ if env is None else env)
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    procs = [subprocess.Popen([os.path.join(BIN, "dask"), "scheduler", "--host", "127.0.0.1",
                               "--port", str(port), "--no-dashboard"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(n_workers):
            procs.append(subprocess.Popen([os.path.join(BIN, "dask"), "worker", address,
                                           "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                                           "--host", "127.0.0.1"], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client
        with Client(address, timeout=60) as client:
            client.wait_for_workers(n_workers, timeout=120)
        yield address, procs
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
