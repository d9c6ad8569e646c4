"""The command line that runs a student's worker under bubblewrap, and its resource limits.

What the sandboxed process sees (``bwrap``, Debian's ``bubblewrap``):

* the machine's root file system **read-only**; ``/dev`` minimal; its own ``/proc``;
* private, size-limited tmpfs at ``/tmp`` and ``/home`` (``$HOME=/home/student``, the working
  directory, holding a copy of the submission's own folder: the only writable places);
* **hidden** (empty tmpfs over them): the course directory (``solutions/``, the gradebook,
  ``submitted/``, ``autograded/``, ``feedback/``, the exchange, every other student), the
  grader's home and its IPython profile, and any extra path given; the Python installation and
  the virtual environment are mounted back read-only (from their real paths, at the paths the
  grader uses too: a venv that is a symlink works), and the student view of ``rnncourse`` and
  the worker's package are mounted read-only under ``/tmp/.rnncourse``;
* no network (own network namespace), own PID, IPC and UTS namespaces, a new session; the
  whole process tree is killed when the sandbox ends (``--die-with-parent``, PID namespace);
* limits (:class:`Limits`): address space, CPU seconds, processes, file size, open files,
  tmpfs size; the harness adds a wall-clock limit per cell and per call.  When the grader runs
  as root the worker runs as an unprivileged user id (``setpriv``), because the kernel does not
  apply the process limit to root.  That uid must reach the interpreter: directories on its
  way that others cannot traverse (mode 0700) are replaced by a tmpfs with the way to the
  interpreter made again (mode 0755); an installation others cannot read is refused with a
  message naming the directory.

:func:`check_available` says whether a sandbox can be had on this machine, and why not.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import sysconfig
from typing import Iterable, List, NamedTuple, Optional, Sequence, Tuple

MiB = 1024 * 1024
#: Where the student view of rnncourse and the worker's package appear inside the sandbox.
INSIDE = "/tmp/.rnncourse"
HOME = "/home/student"


class Limits(NamedTuple):
    """Resource limits of one sandboxed worker (environment variable and default in brackets).

    memory_mb : address space of each process [RNNCOURSE_KERNEL_MEMORY_MB, 3072]; NumPy maps
        about 1 GB before running anything, so keep it at 2048 or more.
    cpu_seconds : CPU time of each process [RNNCOURSE_KERNEL_CPU_SECONDS, 600].
    processes : processes and threads of the sandbox user [RNNCOURSE_SANDBOX_PROCESSES, 64].
    file_mb : largest file it may write [RNNCOURSE_SANDBOX_FILE_MB, 64].
    disk_mb : size of each of its tmpfs (/tmp, /home) [RNNCOURSE_SANDBOX_DISK_MB, 256].
    open_files : open file descriptors [RNNCOURSE_SANDBOX_OPEN_FILES, 256].
    cell_seconds : wall-clock seconds per notebook cell [RNNCOURSE_CELL_TIMEOUT, 60].
    call_seconds : wall-clock seconds per call of a graded function [RNNCOURSE_CALL_TIME_LIMIT, 10].
    notebook_seconds : wall-clock seconds for the whole notebook [RNNCOURSE_NOTEBOOK_TIMEOUT, 900].
    """

    memory_mb: int = 3072
    cpu_seconds: int = 600
    processes: int = 64
    file_mb: int = 64
    disk_mb: int = 256
    open_files: int = 256
    cell_seconds: float = 60.0
    call_seconds: float = 10.0
    notebook_seconds: float = 900.0


_ENV = {"memory_mb": "RNNCOURSE_KERNEL_MEMORY_MB", "cpu_seconds": "RNNCOURSE_KERNEL_CPU_SECONDS",
        "processes": "RNNCOURSE_SANDBOX_PROCESSES", "file_mb": "RNNCOURSE_SANDBOX_FILE_MB",
        "disk_mb": "RNNCOURSE_SANDBOX_DISK_MB", "open_files": "RNNCOURSE_SANDBOX_OPEN_FILES",
        "cell_seconds": "RNNCOURSE_CELL_TIMEOUT", "call_seconds": "RNNCOURSE_CALL_TIME_LIMIT",
        "notebook_seconds": "RNNCOURSE_NOTEBOOK_TIMEOUT"}


def limits_from_env(environ=None) -> Limits:
    """:class:`Limits` with every field overridden by its environment variable, if set.

    Raises ValueError naming the variable when a value is not a positive number.
    """
    environ = os.environ if environ is None else environ
    values = {}
    for field, var in _ENV.items():
        raw = environ.get(var)
        if raw is None or raw == "":
            continue
        kind = type(Limits._field_defaults[field])
        try:
            value = kind(float(raw)) if kind is int else float(raw)
        except ValueError:
            raise ValueError(f"{var} must be a positive number, got {raw!r}") from None
        if value <= 0:
            raise ValueError(f"{var} must be a positive number, got {raw!r}")
        values[field] = value
    return Limits()._replace(**values)


def _python_roots() -> List[str]:
    """Directories the interpreter and its packages live in (mounted back read-only).

    Both the paths as this process names them (a venv that is a symlink, ``.venv ->
    /elsewhere/venv``, is reached through the link) and their real paths.
    """
    paths = (sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths()["purelib"],
             sysconfig.get_paths()["platlib"])
    roots = {os.path.realpath(p) for p in paths} | {os.path.abspath(p) for p in paths}
    roots.add(os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))))
    roots.add(os.path.dirname(os.path.dirname(os.path.abspath(sys.executable))))
    return sorted(roots)


def _inside(path: str, parents: Iterable[str]) -> bool:
    path = os.path.realpath(path)
    return _under(path, parents)


def _under(path: str, parents: Iterable[str]) -> bool:
    """``path`` is one of ``parents`` or below one, comparing the names as they are."""
    return any(path == p or path.startswith(p.rstrip(os.sep) + os.sep) for p in parents)


def _closed_ancestors(path: str) -> List[str]:
    """Ancestors of the real ``path`` that other users cannot traverse (no ``o+x``)."""
    closed = []
    d = os.path.dirname(os.path.realpath(path))
    while d and d != os.sep:
        try:
            if not os.stat(d).st_mode & 0o001:
                closed.append(d)
        except OSError:
            pass
        d = os.path.dirname(d)
    return closed


def sandbox_uid() -> Optional[int]:
    """The unprivileged user id the worker runs as when the grader is root (else None).

    One per grading process (200000 + pid), so that the process limit of one sandbox is not
    shared with another grading at the same time.
    """
    if os.geteuid() != 0:
        return None
    base = int(os.environ.get("RNNCOURSE_SANDBOX_UID_BASE", "200000"))
    return base + os.getpid() % 100000


def command(view_dir: str, grader_dir: str, submission_dir: Optional[str], limits: Limits,
            hide: Sequence[str] = (), python: Optional[str] = None) -> Tuple[List[str], dict]:
    """``(argv, env)`` starting ``python -m rnncourse_grader.worker`` in a sandbox.

    Parameters
    ----------
    view_dir : directory holding the student view package ``rnncourse/`` (on PYTHONPATH first).
    grader_dir : directory holding the ``rnncourse_grader`` package (the worker and its codec).
    submission_dir : folder whose files are copied into the sandbox's home (its working
        directory), or None.  Mounted read-only; the copy is the only writable place.
    limits : :class:`Limits`.
    hide : more directories to hide (the course directory, other students' folders...).
    python : interpreter to run (default: this one).
    """
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise RuntimeError("bubblewrap (bwrap) is not installed")
    python = python or sys.executable
    keep = _python_roots()
    size = str(int(limits.disk_mb) * MiB)
    private = ["/tmp", "/home"]                 # fresh, size-limited tmpfs
    hidden = [os.path.realpath(os.path.expanduser("~"))] + [os.path.realpath(h) for h in hide]
    # A hidden directory is replaced by an empty tmpfs (one inside /tmp or /home already is).
    hidden = sorted({h for h in hidden if h != "/" and os.path.isdir(h)
                     and not _inside(h, private)}, key=len)
    uid = sandbox_uid()
    if uid is not None:
        # The worker's unprivileged uid must reach the interpreter: a directory on the way that
        # others cannot traverse (a 0700 /opt/tools, another user's home...) is replaced by a
        # tmpfs, and the way down to the interpreter is made again with mode 0755.
        for root in keep:
            for d in _closed_ancestors(root):
                if not _under(d, private) and d not in hidden:
                    hidden.append(d)
        hidden.sort(key=len)
        for root in {os.path.realpath(r) for r in keep}:
            if os.path.isdir(root) and os.stat(root).st_mode & 0o005 != 0o005:
                raise RuntimeError(
                    f"the sandbox cannot use the Python installation: {root} is not readable by "
                    f"other users (mode {oct(os.stat(root).st_mode & 0o777)}), and the graded "
                    f"notebook runs as an unprivileged user; `chmod o+rx {root}` (and its files "
                    f"`chmod -R o+rX {root}`), or install Python where other users can read it")
    # As root: no user namespace (the worker's own, unprivileged uid must exist outside it);
    # otherwise bwrap needs one, and maps the user to itself.
    unshare = (["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try"] if uid is not None else ["--unshare-all"])
    argv = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", *unshare,
            "--die-with-parent", "--new-session",
            "--perms", "1777", "--size", size, "--tmpfs", "/tmp",
            "--perms", "0755", "--size", size, "--tmpfs", "/home"]
    for h in hidden:
        argv += ["--tmpfs", h]
    covers = hidden + private
    made = set()
    # The interpreter and venv, wherever they were: each root under a hidden or private
    # directory is mounted back at that place, from its real path (so a symlinked venv, whose
    # link vanished with the tmpfs, is a directory there).
    bound: List[str] = []
    for root in keep:                           # sorted: a root before the roots inside it
        if not _under(root, covers) or _under(root, bound):
            continue
        bound.append(root)
        parent = max((h for h in covers if _under(root, [h])), key=len)
        # bwrap would create the directories between the tmpfs and the mount point with
        # mode 0700, which the unprivileged worker could not traverse.
        steps = os.path.relpath(root, parent).split(os.sep)[:-1]
        for k in range(1, len(steps) + 1):
            d = os.path.join(parent, *steps[:k])
            if d not in made:
                made.add(d)
                argv += ["--perms", "0755", "--dir", d]
        argv += ["--ro-bind", os.path.realpath(root), root]
    argv += [
             "--perms", "0777", "--dir", HOME,
             "--perms", "0755", "--dir", INSIDE, "--perms", "0755", "--dir", f"{INSIDE}/view",
             "--perms", "0755", "--dir", f"{INSIDE}/lib",
             "--ro-bind", os.path.join(view_dir, "rnncourse"), f"{INSIDE}/view/rnncourse",
             "--ro-bind", os.path.join(grader_dir, "rnncourse_grader"), f"{INSIDE}/lib/rnncourse_grader"]
    if submission_dir:
        argv += ["--ro-bind", submission_dir, f"{INSIDE}/submission"]
    argv += ["--chdir", HOME]
    if uid is None:
        argv += ["--cap-drop", "ALL"]
    argv.append("--")
    inner = ["prlimit", f"--as={int(limits.memory_mb) * MiB}",
             f"--cpu={int(limits.cpu_seconds)}:{int(limits.cpu_seconds) + 5}",
             f"--fsize={int(limits.file_mb) * MiB}", f"--nofile={int(limits.open_files)}",
             "--core=0"]
    if uid is not None:
        inner += [f"--nproc={int(limits.processes)}", "--",
                  "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                  "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all"]
    else:                 # unprivileged bwrap: the limit counts all of this user's processes
        inner += [f"--nproc={_user_processes() + int(limits.processes)}", "--"]
    start = ('if [ -d "$1" ]; then cp -R "$1"/. "$HOME"/ 2>/dev/null; fi; shift; '
             'exec "$@"')
    inner += ["/bin/sh", "-c", start, "sh", f"{INSIDE}/submission", python, "-m",
              "rnncourse_grader.worker"]
    env = {"PATH": os.path.dirname(os.path.abspath(python)) + ":/usr/local/bin:/usr/bin:/bin",
           "HOME": HOME, "USER": "student", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
           "PYTHONPATH": f"{INSIDE}/view:{INSIDE}/lib", "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONNOUSERSITE": "1", "IPYTHONDIR": f"{HOME}/.ipython", "MPLBACKEND": "Agg",
           "MPLCONFIGDIR": "/tmp/.matplotlib", "OPENBLAS_NUM_THREADS": "1",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TMPDIR": "/tmp"}
    return argv + inner, env


def _user_processes() -> int:
    """How many processes and threads this user runs now (RLIMIT_NPROC counts them all)."""
    uid = os.getuid()
    count = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{pid}")
            if st.st_uid == uid:
                count += len(os.listdir(f"/proc/{pid}/task"))
        except OSError:
            continue
    return count


@functools.lru_cache(maxsize=None)
def check_available() -> Optional[str]:
    """None when a sandbox can be started here; otherwise why not (for the error message)."""
    if sys.platform != "linux":
        return f"sandboxing needs Linux namespaces (this is {sys.platform})"
    for tool in ("bwrap", "prlimit", "setpriv" if os.geteuid() == 0 else "sh"):
        if shutil.which(tool) is None:
            hint = " (Debian: apt-get install bubblewrap)" if tool == "bwrap" else ""
            return f"{tool} is not installed{hint}"
    res = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
                          "--unshare-all", "--die-with-parent", "--", "true"],
                         capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        return ("bwrap cannot create namespaces on this machine (" + (res.stderr.strip() or
                f"exit status {res.returncode}") + "); unprivileged user namespaces may be "
                "disabled (sysctl kernel.unprivileged_userns_clone / user.max_user_namespaces)")
    return None
