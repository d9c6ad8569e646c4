"""Precomputed data of the book (book/data/) stays in sync with the script that made it.

``book/data/adding_problem.json`` is produced once by ``experiments/adding_problem.py``
(too slow to run on every build) and plotted by ``book/04_vanishing_gradients.md``.
These tests check that the stored file is complete and well formed, that its stored
command line matches its stored configuration, and that the script, re-run now at a
tiny size with the same options, still writes a file of the same format (same keys,
same models, same kind of curves), so a change of the script cannot silently leave the
book plotting stale or unreadable data.
"""
import json
import math
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "book" / "data" / "adding_problem.json"
SCRIPT = ROOT / "experiments" / "adding_problem.py"
CHAPTER = ROOT / "book" / "04_vanishing_gradients.md"

#: keys the book adds to the script's output (provenance)
BOOK_KEYS = {"command", "note"}


@pytest.fixture(scope="module")
def stored():
    return json.loads(DATA.read_text())


def _command_args(command: str) -> list:
    """The script's arguments from the stored command line (after the script path)."""
    words = shlex.split(command)
    return words[words.index("experiments/adding_problem.py") + 1:]


def _option(args: list, name: str) -> list:
    i = args.index(name)
    out = []
    for word in args[i + 1:]:
        if word.startswith("--"):
            break
        out.append(word)
    return out


def test_stored_file_is_complete(stored):
    assert set(stored) == {"config", "baseline_mse", "models", "runs"} | BOOK_KEYS
    assert stored["baseline_mse"] == pytest.approx(1 / 6)
    cfg = stored["config"]
    assert stored["models"] == cfg["models"] == ["tanh", "irnn", "lstm"]
    assert {(r["model"], r["seed"]) for r in stored["runs"]} == \
        {(m, s) for m in cfg["models"] for s in cfg["seeds"]}
    for run in stored["runs"]:
        n = len(run["step"])
        assert n == len(run["mse"]) == len(run["grad_norm"]) >= 2
        assert run["step"] == sorted(run["step"])
        if not run["diverged"]:
            assert run["step"][-1] == cfg["steps"]
            assert all(isinstance(v, float) and math.isfinite(v) and v >= 0
                       for v in run["mse"] + run["grad_norm"] + [run["test_mse"]])
        assert run["seconds"] > 0


def test_stored_command_matches_stored_config(stored):
    args = _command_args(stored["command"])
    cfg = stored["config"]
    assert int(_option(args, "--T")[0]) == cfg["T"]
    assert int(_option(args, "--steps")[0]) == cfg["steps"]
    assert int(_option(args, "--hidden")[0]) == cfg["hidden"]
    assert [int(s) for s in _option(args, "--seeds")] == cfg["seeds"]
    assert int(_option(args, "--log-every")[0]) == cfg["log_every"]
    assert _option(args, "--out") == ["book/data/adding_problem.json"]


def test_tiny_rerun_has_the_same_format(stored, tmp_path):
    """Re-run the stored command with a tiny size: same keys, models and curve format."""
    args = _command_args(stored["command"])
    for name, value in [("--T", "6"), ("--steps", "20"), ("--hidden", "3"),
                        ("--log-every", "10"), ("--out", str(tmp_path / "tiny.json"))]:
        i = args.index(name)
        args[i + 1] = value
    args += ["--test-size", "20", "--quiet"]
    subprocess.run([sys.executable, str(SCRIPT), *args], check=True, cwd=ROOT, timeout=300)
    tiny = json.loads((tmp_path / "tiny.json").read_text())
    assert set(tiny) | BOOK_KEYS == set(stored)
    assert set(tiny["config"]) == set(stored["config"])
    assert tiny["models"] == stored["models"]
    assert set(tiny["runs"][0]) == set(stored["runs"][0])
    for key in ("batch", "lr", "clip", "optimizer", "readout", "loss"):
        assert tiny["config"][key] == stored["config"][key], key
    assert all(r["step"] == [10, 20] for r in tiny["runs"])


def test_chapter_reads_this_file():
    text = CHAPTER.read_text()
    assert "data/adding_problem.json" in text
    assert "ADDING_SECTION" not in text and "FLOW_COMMENTARY" not in text
