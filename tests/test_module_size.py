"""No module of the ``rnncourse`` package is over 400 lines (the developers' guide; issue 13).

The rule was written down but checked by nobody: this test reads every ``.py`` file under
``rnncourse/`` (the grading subpackage included) and names each one that is longer.
"""
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(REPO, "rnncourse")
MAX_LINES = 400


def long_modules(root: str, limit: int = MAX_LINES) -> list:
    """``["<path relative to root> (<n> lines)", ...]`` of the .py files under ``root`` with more
    than ``limit`` lines, sorted."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as fh:
                    n = len(fh.read().splitlines())
                if n > limit:
                    found.append(f"{os.path.relpath(path, root)} ({n} lines)")
    return sorted(found)


def test_no_module_of_the_package_is_over_400_lines():
    too_long = long_modules(PACKAGE)
    assert not too_long, (f"modules of rnncourse/ over {MAX_LINES} lines (split them by "
                          f"concern): " + ", ".join(too_long))


def test_the_size_check_names_a_long_module(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "ok.py").write_text("x = 1\n" * MAX_LINES)
    (tmp_path / "sub" / "big.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "notes.txt").write_text("x\n" * (MAX_LINES + 5))
    assert long_modules(str(tmp_path)) == [os.path.join("sub", "big.py") + f" ({MAX_LINES + 1} lines)"]
