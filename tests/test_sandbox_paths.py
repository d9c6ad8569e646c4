"""The sandbox finds the interpreter wherever it is installed (rnncourse_grader/sandbox.py).

* A course whose ``.venv`` is a symlink to the real venv (``.venv -> /elsewhere/venv``), graded
  with ``<course>/.venv/bin/python``: the course directory is hidden in the sandbox, and the
  link with it, so the venv must be mounted back at the link's path from its real path.
* (as root) a venv below a directory of mode 0700 outside the grader's home: the worker's
  unprivileged uid could not traverse it; the sandbox replaces that directory by a tmpfs and
  makes the way down again.  A Python installation that others cannot read at all is refused
  with a message naming the directory.

Each case runs one real sandboxed worker (a Session) from a subprocess started with that
interpreter, and checks that a cell imports NumPy and the student view, and that the course
directory stays hidden.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest

from rnncourse_grader import sandbox

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.realpath(sys.prefix)

pytestmark = pytest.mark.skipif(sandbox.check_available() is not None, reason="no sandbox on this machine")

PROBE = textwrap.dedent("""
    import json, os, sys
    sys.path.insert(0, {repo!r})
    from rnncourse_grader import sandbox, student_view
    from rnncourse_grader.session import Session
    course = sys.argv[1]
    view = student_view.view_for_assignment(os.path.join({repo!r}, "solutions"), "02_forward_pass",
                                            sys.argv[2])
    cell = ("import json, os, sys, numpy, rnncourse\\n"
            "print(json.dumps({{'python': sys.executable, 'numpy': numpy.__version__,"
            " 'course': sorted(os.listdir(%r)) if os.path.isdir(%r) else 'absent'}}))"
            % (course, course))
    with Session(view, None, sandbox.Limits(), hide=[course]) as s:
        reply = s.run_cell(cell)
    print(json.dumps(reply["outputs"]))
    """)


def probe(python, course, tmp):
    script = os.path.join(tmp, "probe.py")
    with open(script, "w") as fh:
        fh.write(PROBE.format(repo=REPO))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    res = subprocess.run([python, script, course, os.path.join(tmp, "views")], env=env, cwd=tmp,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    outputs = json.loads(res.stdout.strip().splitlines()[-1])
    text = "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")
    assert text.strip(), outputs
    return json.loads(text.strip().splitlines()[-1])


def test_a_symlinked_venv_is_mounted_in_the_sandbox(tmp_path):
    course = tmp_path / "course"
    course.mkdir()
    (course / "gradebook.db").write_text("secret")
    os.symlink(VENV, course / ".venv")
    python = str(course / ".venv" / "bin" / "python")
    out = probe(python, str(course), str(tmp_path))
    assert out["python"] == python
    import numpy
    assert out["numpy"] == numpy.__version__
    assert out["course"] in ("absent", [], [".venv"]), out["course"]     # the course stays hidden


@pytest.mark.skipif(os.geteuid() != 0, reason="the worker runs as another uid only when the grader is root")
def test_a_venv_below_a_closed_directory_is_reachable(tmp_path):
    closed = tempfile.mkdtemp(prefix="rnncourse-closed-", dir="/var/tmp")      # mode 0700
    try:
        assert os.stat(closed).st_mode & 0o777 == 0o700
        venv = os.path.join(closed, "tools", "venv")
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
        site = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                               "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              check=True, capture_output=True, text=True).stdout.strip()
        course_site = os.path.join(VENV, os.path.relpath(site, venv))
        with open(os.path.join(site, "course-venv.pth"), "w") as fh:   # the probe's own imports
            fh.write(course_site + "\n")
        # The sandbox hides this run's venv when it lies in a hidden folder (a clone under /tmp):
        # copy what the worker imports (NumPy, IPython and their dependencies) into the new venv,
        # which makes it self-contained, as a real venv is.
        listed = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                                 "import json, sys, numpy, IPython\n"
                                 "from IPython.core.interactiveshell import InteractiveShell\n"
                                 "from IPython.core.displayhook import DisplayHook\n"
                                 "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"],
                                check=True, capture_output=True, text=True).stdout
        for name in os.listdir(course_site):
            if name.split(".")[0].split("-")[0] in json.loads(listed) and not name.endswith(
                    (".dist-info", ".pth")):
                src, dest = os.path.join(course_site, name), os.path.join(site, name)
                if os.path.isdir(src):
                    shutil.copytree(src, dest, symlinks=True)
                else:
                    shutil.copy2(src, dest)
        course = tmp_path / "course"
        course.mkdir()
        out = probe(os.path.join(venv, "bin", "python"), str(course), str(tmp_path))
        assert out["python"] == os.path.join(venv, "bin", "python")
        assert out["course"] in ("absent", []), out["course"]
    finally:
        shutil.rmtree(closed, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="the worker runs as another uid only when the grader is root")
def test_an_unreadable_installation_is_refused_naming_it(tmp_path, monkeypatch):
    private = tmp_path / "python-root"
    private.mkdir(mode=0o700)
    os.chmod(private, 0o700)
    monkeypatch.setattr(sandbox, "_python_roots", lambda: [str(private)])
    with pytest.raises(RuntimeError, match=str(private).replace(".", r"\.") + r" is not readable by other users"):
        sandbox.command(str(tmp_path), REPO, None, sandbox.Limits())
