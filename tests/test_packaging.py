"""Packaging: what the package needs at run time, what only the book needs, the pinned files."""
import os
import re
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


def test_make_lock_rewrites_pins_keeps_the_rest_and_names_the_strays():
    sys.path.insert(0, os.path.join(REPO, "tools"))
    try:
        import lock
    finally:
        sys.path.pop(0)
    text = ("# header, kept\n-r requirements.txt\nJinja2==3.1.0\nnumpy==2.0.0 ; python_version >= '3.10'\n"
            "torch==2.13.0\ngone==1.0\n")
    versions = {"jinja2": "3.1.6", "numpy": "2.4.6", "torch": "2.13.0+cpu", "extra-pkg": "0.1"}
    new, pinned, missing = lock.relock(text, versions)
    assert new == ("# header, kept\n-r requirements.txt\nJinja2==3.1.6\n"
                   "numpy==2.4.6 ; python_version >= '3.10'\ntorch==2.13.0\ngone==1.0\n")
    assert pinned == {"jinja2", "numpy", "torch", "gone"} and missing == ["gone"]
    assert lock.relock(new, versions)[0] == new                # a second run changes nothing
    assert lock.canonical("typing_extensions") == lock.canonical("Typing.Extensions") == "typing-extensions"


def test_the_requirements_files_name_a_make_lock_that_exists():
    with open(os.path.join(REPO, "Makefile")) as fh:
        targets = {line.split(":")[0] for line in fh if re.match(r"^[a-z-]+:", line)}
    for name in ("requirements.txt", "requirements-test.txt"):
        with open(os.path.join(REPO, name)) as fh:
            header = "".join(line for line in fh if line.startswith("#"))
        for target in re.findall(r"make ([a-z-]+)", header):
            assert target in targets, f"{name} mentions `make {target}`, which the Makefile lacks"
    assert "lock" in targets and "unit" in targets
