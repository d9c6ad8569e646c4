"""Packaging: what the package needs at run time, what only the book needs, the pinned files."""
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A Python in which `import matplotlib` fails (a None entry in sys.modules makes every import of
# it raise ImportError), importing rnncourse and then every one of its modules.
WITHOUT_MATPLOTLIB = textwrap.dedent("""
    import importlib, pkgutil, sys
    sys.modules["matplotlib"] = None
    try:
        import matplotlib.pyplot
    except ImportError:
        pass
    else:
        raise SystemExit("the guard does not work: matplotlib imported")
    import rnncourse
    names = sorted(m.name for m in pkgutil.walk_packages(rnncourse.__path__, "rnncourse."))
    for name in names:
        importlib.import_module(name)
    print("\\n".join(names))
    """)


def test_every_rnncourse_module_imports_without_matplotlib():
    res = subprocess.run([sys.executable, "-c", WITHOUT_MATPLOTLIB], cwd=REPO, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    imported = res.stdout.split()
    # the modules the book and the graders use most, so that an empty walk cannot pass
    for name in ("rnncourse.rnn", "rnncourse.lstm", "rnncourse.gru", "rnncourse.charlm",
                 "rnncourse.grading"):
        assert name in imported, imported


def test_matplotlib_is_an_extra_of_the_book_not_a_dependency():
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as fh:
        project = tomllib.load(fh)["project"]

    def names(requirements):
        return [r.split(">")[0].split("=")[0].split("<")[0].strip().lower() for r in requirements]
    assert names(project["dependencies"]) == ["numpy"]
    assert "matplotlib" in names(project["optional-dependencies"]["book"])
    with open(os.path.join(REPO, "requirements.txt")) as fh:      # the book is built from it
        pins = [line.split("==")[0].strip().lower() for line in fh if "==" in line]
    assert "matplotlib" in pins and "numpy" in pins
