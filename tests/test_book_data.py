"""Precomputed data of the book (book/data/) stays in sync with the script that made it.

``book/data/adding_problem.json`` is produced once by ``experiments/adding_problem.py``
(too slow to run on every build) and plotted by ``book/04_vanishing_gradients.md``.
These tests check that the stored file is complete and well formed, that its stored
command line matches its stored configuration, and that the script, re-run now at a
tiny size with the same options, still writes a file of the same format (same keys,
same models, same kind of curves), so a change of the script cannot silently leave the
book plotting stale or unreadable data.

The rest of the module checks the prose against the numbers behind it.  A number the text
quotes from a computation is either glued from that computation (MyST-NB ``glue``, pasted
with ``{glue:text}``) or read here from the data file; a sentence that says what a figure
shows is checked here on the figure's data.  The glued values are read from the jupyter
cache of the last ``make book`` (``_build/.jupyter_cache``), matched to the chapter's
*current* code cells, so a stale build fails instead of checking old numbers.
"""
import ast
import functools
import json
import math
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "book" / "data" / "adding_problem.json"
SCRIPT = ROOT / "experiments" / "adding_problem.py"
CHAPTER = ROOT / "book" / "04_vanishing_gradients.md"
BOOK = ROOT / "book"
JUPYTER_CACHE = ROOT / "_build" / ".jupyter_cache"
GLUE_PREFIX = "application/papermill.record/"

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


# ---------------------------------------------------------------------------------------------
# Glued values of the built chapters
# ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def glued(chapter: str) -> dict:
    """name -> value of every ``glue`` in the executed notebook of ``book/<chapter>.md``.

    The executed notebook is looked up in the jupyter cache by the chapter's current code
    cells; if the chapter changed since the last build there is no match and the test fails.
    """
    if not JUPYTER_CACHE.is_dir():
        pytest.fail(f"{JUPYTER_CACHE} is missing: run `make book` first", pytrace=False)
    from jupyter_cache import get_cache
    from myst_nb.core.read import read_myst_markdown_notebook
    path = BOOK / f"{chapter}.md"
    nb = read_myst_markdown_notebook(path.read_text(encoding="utf8"), path=str(path))
    try:
        cache = get_cache(str(JUPYTER_CACHE))
        record = cache.match_cache_notebook(nb)
    except KeyError:
        pytest.fail(f"book/{chapter}.md changed since the last build: run `make book`",
                    pytrace=False)
    values = {}
    for cell in cache.get_cache_bundle(record.pk).nb.cells:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("scrapbook")
            if meta:
                text = out["data"][meta.get("mime_prefix", "") + "text/plain"]
                try:
                    values[meta["name"]] = ast.literal_eval(text)
                except (SyntaxError, ValueError):
                    values[meta["name"]] = text
    return values


def glue_keys_in_prose(chapter: str) -> set:
    text = (BOOK / f"{chapter}.md").read_text(encoding="utf8")
    return {m.split(":")[0] for m in re.findall(r"\{glue:text\}`([^`]+)`", text)}


CHAPTERS = sorted(p.stem for p in BOOK.glob("[0-9][0-9]_*.md"))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_glued_number_in_the_prose_is_computed(chapter):
    """Every {glue:text} key of a chapter is glued by the chapter's code, as a number or a
    formatted number (Sphinx would warn too, but this names the chapter and the key)."""
    keys = glue_keys_in_prose(chapter)
    if not keys:
        pytest.skip("no glued numbers")
    values = glued(chapter)
    missing = sorted(keys - set(values))
    assert not missing, f"{chapter}: not glued: {missing}"
    for key in keys:
        assert isinstance(values[key], (int, float, str)), (key, values[key])


# ---------------------------------------------------------------------------------------------
# Chapter 6: the cell-state gradient of the LSTM
# ---------------------------------------------------------------------------------------------

def test_lstm_cell_gradient_is_not_the_product_of_forget_gates():
    """The computed cell-state gradient decays far slower than the pure product of the
    forget gates, at a fitted rate between the mean forget gate and 1 (bias 1), and the text
    says so with the computed numbers (no typed-in 0.73^50 = 1e-7)."""
    g = glued("06_lstm")
    assert 0.70 < g["lstm_b1_f_mean"] < 0.76                       # sigma(1) = 0.731
    assert g["lstm_b1_f_mean"] < g["lstm_b1_rate"] < 1
    assert g["lstm_b1_c99"] > 1e3 * g["lstm_b1_prod99"]             # orders of magnitude
    assert g["lstm_b1_orders99"] == pytest.approx(
        math.log10(g["lstm_b1_c99"] / g["lstm_b1_prod99"]))
    # ... and the fitted rate describes the curve: rate^99 is within a factor 10 of the
    # decay from the last step to distance 99
    assert abs(math.log10(g["lstm_b1_rate"] ** 99 / (g["lstm_b1_c99"] / g["lstm_b1_cT"]))) < 1
    text = (BOOK / "06_lstm.md").read_text()
    assert "decays roughly like" not in text and "10^{-7}" not in text


def test_lstm_bias1_vanishes_faster_than_the_tanh_rnn_and_bias0_faster_still():
    g = glued("06_lstm")
    assert g["lstm_b1_c50"] < g["rnn_d50"] and g["lstm_b1_c99"] < g["rnn_d99"]
    assert g["lstm_b0_c50"] < g["lstm_b1_c50"]
    assert g["lstm_b0_f_mean"] < g["lstm_b1_f_mean"] < g["lstm_b3_f_mean"]


def test_lstm_bias3_keeps_its_cell_gradient():
    """Bias 3: the cell-state gradient neither vanishes nor explodes over 100 steps, dL/dh
    drops by over an order of magnitude within 10 steps and not much lower further back."""
    g = glued("06_lstm")
    assert 0.05 < g["lstm_b3_c_min"] and g["lstm_b3_c_max"] < 10
    assert g["lstm_b3_h10"] < 0.1
    assert g["lstm_b3_h_min_beyond10"] > g["lstm_b3_h10"] / 3
    assert g["lstm_b3_h99"] > g["lstm_b3_h_min_beyond10"]               # "rises again"


def test_lstm_solid_curves_start_lower_and_end_above_the_product():
    g = glued("06_lstm")
    for b in ("b1", "b3"):
        assert g[f"lstm_{b}_cT"] < 1                                   # product is 1 at T
        assert 0 < g[f"lstm_{b}_crossing"] < 99
        assert g[f"lstm_{b}_c99"] > g[f"lstm_{b}_prod99"]


def test_lstm_candidate_activation_simulation():
    """tanh candidate: centred, few saturated units; ReLU: drifts up, most saturate."""
    g = glued("06_lstm")
    assert abs(g["cand_tanh_mean"]) < 0.1 and g["cand_tanh_saturated"] < 0.05
    assert g["cand_relu_mean"] > 1 and g["cand_relu_saturated"] > 0.5


# ---------------------------------------------------------------------------------------------
# Chapter 4: powers of W, the gradient through time, the adding problem
# ---------------------------------------------------------------------------------------------

def test_xavier_draw_is_typical_and_grows_at_its_spectral_radius():
    """The drawn Xavier W is inside the range of the 200 draws, just above 1, and the vector
    pushed through W^k grows, late, at the rate of the largest eigenvalue."""
    g = glued("04_vanishing_gradients")
    assert g["radii_min"] <= g["xavier_radius"] <= g["radii_max"]
    assert g["radii_min"] < 1 < g["radii_median"]                   # "the edge"
    assert 1 < g["xavier_radius"] < 1.15                            # "just above 1"
    assert g["xavier_norm_100"] > 100                               # "orders of magnitude"
    assert g["xavier_late_rate"] == pytest.approx(g["xavier_radius"], abs=0.02)


def test_gradient_flow_claims_of_chapter_4():
    g = glued("04_vanishing_gradients")
    for d in (10, 50, 99):                                         # orthogonal decays slower
        assert g[f"flow_ortho_{d}"] > g[f"flow_xavier_{d}"]
    assert g["flow_ortho_99"] < 0.01 and g["flow_xavier_99"] < 0.01  # "well under 1%"
    assert g["flow_irnn_99"] > 0.8 * g["flow_irnn_10"] > 0.4         # "almost flat"
    # LSTM, bias 1: decays at the fitted rate, faster than the tanh RNN, and the cell path
    # alone (the product of the forget gates) is orders of magnitude smaller than measured
    assert g["flow_lstm1_f_mean"] < g["flow_lstm1_factor"] < 1
    assert g["flow_lstm1_99"] < g["flow_xavier_99"]
    assert g["flow_lstm1_orders_99"] > 3
    assert g["flow_lstm1_orders_99"] == pytest.approx(
        math.log10(g["flow_lstm1_99"] / g["flow_lstm1_prod_99"]))
    assert g["flow_lstm3_99"] > 1                                    # "grows slowly"
    assert "add a little" not in CHAPTER.read_text()


def _runs(stored, seed=None):
    seed = stored["config"]["seeds"][0] if seed is None else seed
    return {r["model"]: r for r in stored["runs"] if r["seed"] == seed}


def _first_below(run, level):
    return next((s for s, m in zip(run["step"], run["mse"]) if m is not None and m < level),
                None)


def test_adding_problem_tanh_rnn_stays_on_the_plateau_without_explosion(stored):
    """'never leaves the plateau', 'above the clipping threshold only at the start ... below
    it from then on', read from the data file."""
    tanh = _runs(stored)["tanh"]
    clip = stored["config"]["clip"]
    assert all(0.15 < m < 0.19 for m in tanh["mse"][1:])
    assert _first_below(tanh, 1 / 12) is None
    above = [i for i, n in enumerate(tanh["grad_norm"]) if n > clip]
    assert above, "the text says the norm starts above the threshold"
    assert max(above) < len(tanh["grad_norm"]) // 5                 # "only at the start"
    assert max(tanh["grad_norm"][max(above) + 1:]) < clip
    assert "the whole time" not in CHAPTER.read_text()


def test_adding_problem_lstm_and_irnn_leave_the_plateau(stored):
    runs = _runs(stored)
    clip = stored["config"]["clip"]
    exit_step = {}
    for model in ("lstm", "irnn"):
        run = runs[model]
        i = next(i for i, m in enumerate(run["mse"]) if m < 0.15)
        exit_step[model] = run["step"][i]
        norm = run["grad_norm"]
        plateau, after = sorted(norm[1:i]), sorted(norm[i:])
        assert after[len(after) // 2] > 3 * plateau[len(plateau) // 2]   # the jump
        assert run["mse"][-1] < 1 / 12 and run["test_mse"] < 1 / 12
    assert exit_step["irnn"] > exit_step["lstm"]                       # "later"
    assert _first_below(runs["lstm"], 0.01) is not None
    assert min(runs["irnn"]["grad_norm"]) > clip                       # "in every window"
    irnn = runs["irnn"]["mse"]
    assert irnn[-1] == min(irnn[-5:])                                   # "still improving"


def test_adding_problem_caveats_match_the_data(stored):
    runs = _runs(stored)
    text = CHAPTER.read_text()
    if len(stored["config"]["seeds"]) > 1:
        assert "one run per model" not in text
    assert runs["lstm"]["seconds"] > 2 * runs["tanh"]["seconds"]         # "several times"
    assert "Pilot runs" not in text and "7 minutes" not in text          # not in the data


# ---------------------------------------------------------------------------------------------
# Chapter 9: training time, loss curves, samples
# ---------------------------------------------------------------------------------------------

def test_char_lm_training_time_is_measured_not_typed():
    g = glued("09_char_lm")
    assert g["train_seconds"] > 0 and g["train_cpu_seconds"] > 0
    text = (BOOK / "09_char_lm.md").read_text()
    assert "about 20 seconds" not in text and "{glue:text}`train_seconds" in text


def test_char_lm_loss_curve_claims():
    """'falls fast at first, then more slowly'; validation 'tracks the training loss
    closely'; the first training point is higher; 'each seen about N times'."""
    g = glued("09_char_lm")
    assert g["loss_drop_first_half"] > 2 * g["loss_drop_second_half"] > 0
    assert g["valid_gap_max"] < 0.2
    assert g["valid_gap_first"] > g["valid_gap_max"]
    assert 5 < g["times_seen"] < 50


def test_char_lm_sample_claims():
    """tau = 0.5 most word-like and most repetitive, tau = 1.5 least word-like; the commonest
    words at 0.5 are frequent in the corpus; greedy decoding ends in a loop."""
    g = glued("09_char_lm")
    assert g["real_words_0_5"] > g["real_words_1_0"] > g["real_words_1_5"]
    assert g["distinct_words_0_5"] < g["distinct_words_1_0"] < g["distinct_words_1_5"]
    assert g["common_words_0_5_rank"] <= 100
    assert 0 < g["greedy_period"] < 50


def test_char_lm_per_word_perplexity_exceeds_a_uniform_guess_over_words():
    g = glued("09_char_lm")
    assert g["per_word_perplexity"] > g["distinct_corpus_words"]
    assert 4 < g["chars_per_word"] < 7
    # question 1's "4.2 nats per character" is "a little above log K" for this corpus
    assert g["log_K"] == pytest.approx(math.log(g["K"]))
    assert g["log_K"] < 4.2 < g["log_K"] + 0.5


# ---------------------------------------------------------------------------------------------
# Chapters 2, 3, 5, 7, 8: what the figures and outputs are said to show
# ---------------------------------------------------------------------------------------------

def test_forward_pass_pulse_fades_or_persists():
    """Radius 0.7: the response to the pulse fades geometrically at about the radius per
    step; radius 1.5: the state never settles back to zero and tanh bounds it."""
    g = glued("02_forward_pass")
    assert g["pulse_07_rate"] == pytest.approx(0.7, abs=0.05)
    assert g["pulse_07_last"] < 1e-3
    assert g["pulse_15_min"] > 0.5 and g["pulse_15_max_entry"] < 1


def test_forward_pass_temperature_flattens_the_distribution():
    g = glued("02_forward_pass")
    assert g["p_top_0_5"] > g["p_top_1_0"] > g["p_top_2_0"]


def test_bptt_gradient_checks_and_epsilon_plot():
    """Correct gradients agree to 1e-8 or better, the bug shown is off by 1e-2 to 1; the
    central difference has slope 2 on the right, the one-sided one slope 1, both about -1 on
    the left, and the central error is smallest near the default 1e-6."""
    g = glued("03_bptt")
    assert g["gradcheck_max_error"] < 1e-8
    assert 1e-2 < g["bug_error"] < 1
    assert g["slope_central_right"] == pytest.approx(2, abs=0.2)
    assert g["slope_forward_right"] == pytest.approx(1, abs=0.2)
    assert g["slope_central_left"] < -0.5 and g["slope_forward_left"] < -0.5
    assert -7 <= g["best_eps_central_exponent"] <= -5                 # "around 1e-5 to 1e-6"
    assert g["best_eps_forward_exponent"] < g["best_eps_central_exponent"] + 1
    assert g["step1_smallest"] and g["step1_share"] < 0.5


def test_gru_hand_set_example():
    g = glued("05_gru")
    assert g["h_gate_cat"] > 0.9 and g["h_gate_dogs"] < -0.9
    assert g["h_gate_before_was"] > 0.9 and g["h_gate_before_were"] < -0.9    # right verbs
    assert g["clause_words"] == 9                                  # the 0.5^9 of the text
    assert g["flat_left"] == pytest.approx(0.5 ** 9, rel=1e-6)
    assert g["grad_subject_flat"] == pytest.approx(0.5 ** 9, rel=1e-6)
    assert g["grad_subject_gated"] == pytest.approx(g["keep_other"] ** 9, rel=1e-3)
    assert g["n_dogs_reset"] < -0.99 and abs(g["n_dogs_open"]) < 0.1
    assert abs(g["h_before_were_open"]) < 0.1 and g["h_before_were_reset"] < -0.9


def test_gru_gradient_through_time():
    g = glued("05_gru")
    for d in (50, 99):
        assert g[f"flow_gru_bz0_{d}"] < g[f"flow_rnn_{d}"]              # faster than the RNN
        assert g[f"flow_gru_bz0_{d}"] < g[f"flow_gru_bzm2_{d}"] < g[f"flow_gru_bzm4_{d}"]
    assert 0.05 < g["flow_gru_bzm4_99"] < 1                            # "of order 0.1"


def test_bidirectional_claims():
    g = glued("07_bidirectional")
    assert g["teddy_uni_identical"] and g["teddy_uni_diff"] == 0
    assert g["teddy_bi_diff"] > 0.01
    assert g["uni_zeros_above"] == g["uni_cells_above"] and g["uni_zeros_on_or_below"] == 0
    assert g["bi_zeros"] == 0
    for name in ("uni", "bi"):                                          # "fades with distance"
        assert g[f"{name}_influence_dmax"] < 0.1 * g[f"{name}_influence_d0"]
        assert g[f"{name}_influence_slope"] < 0


def test_deep_rnn_costs_grow_linearly():
    g = glued("08_deep_rnn")
    assert g["params_nonlinearity"] < 1e-12 and g["cache_nonlinearity"] < 0.02
    assert g["lstm_over_rnn_layer1"] == 4 and g["bi_over_uni_layer1"] == 2
    assert g["cache_mb_per_layer_lstm"] > g["cache_mb_per_layer_rnn"] > 0


# ---------------------------------------------------------------------------------------------
# The students' guide quotes the checker's output
# ---------------------------------------------------------------------------------------------

GUIDE = BOOK / "students_guide.md"
EXERCISE = ROOT / "exercises" / "02_forward_pass"


def _guide_failures() -> list:
    """The GradingFailure messages quoted in the guide, as lists of lines (no '...')."""
    text = GUIDE.read_text(encoding="utf8")
    blocks = re.findall(r"```text\n(.*?)```", text, re.S)
    out = []
    for block in blocks:
        lines = block.splitlines()
        for i, line in enumerate(lines):
            if line.strip().startswith("GradingFailure:"):
                body = [line.strip()[len("GradingFailure:"):].strip()]
                body += [l.strip() for l in lines[i + 1:] if l.strip() and l.strip() != "..."]
                out.append(body)
    return out


def test_students_guide_quotes_what_the_checker_says():
    """The two failure messages in the guide (a missing function, a forgotten bias) are what
    `rnncourse.grading.check` prints for those functions, numbers included."""
    import numpy as np
    from rnncourse.grading import GradingFailure, check

    def not_implemented(x, h_prev, params, activation="tanh"):
        raise NotImplementedError()

    def no_bias(x, h_prev, params, activation="tanh"):
        return np.tanh(x @ params.U.T + h_prev @ params.W.T)

    quoted = _guide_failures()
    assert len(quoted) == 2, quoted
    for fn, lines in zip((not_implemented, no_bias), quoted):
        with pytest.raises(GradingFailure) as err:
            check("rnn_step_forward", {"rnn_step_forward": fn},
                  checks_path=str(EXERCISE / "checks.py"))
        message = " ".join(str(err.value).split())
        for line in lines:
            assert " ".join(line.split()) in message, (line, message)


def test_students_guide_counts_the_graded_cells():
    """'VALIDATION FAILED ON N CELL(S)' on an untouched notebook: every graded cell fails
    there, so N is the number of graded cells of the released notebook; the quoted test cell
    is worth the points its metadata gives."""
    nb = json.loads((EXERCISE / "02_forward_pass.ipynb").read_text())
    graded = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    text = GUIDE.read_text(encoding="utf8")
    n = int(re.search(r"VALIDATION FAILED ON (\d+) CELL", text).group(1))
    assert n == len(graded)
    points = re.search(r"# Tests for rnn_step_forward \((\d+) points?\)", text).group(1)
    cell = next(c for c in graded if "".join(c["source"]).startswith("# Tests for rnn_step_forward"))
    assert int(points) == cell["metadata"]["nbgrader"]["points"]


# ---------------------------------------------------------------------------------------------
# Sources: the bibliography and where it is cited
# ---------------------------------------------------------------------------------------------

BIB = BOOK / "references.bib"
NOTES_DIR = ROOT.parent / "shared" / "notes"

#: key -> chapters that must cite it (where its idea is used)
REQUIRED_CITATIONS = {
    "elman1990": ["02_forward_pass"],
    "werbos1990": ["03_bptt"],
    "bengio1994": ["04_vanishing_gradients"],
    "pascanu2013": ["04_vanishing_gradients"],
    "le2015": ["04_vanishing_gradients"],
    "hochreiter1997": ["04_vanishing_gradients", "06_lstm"],
    "arjovsky2016": ["04_vanishing_gradients"],
    "cho2014": ["05_gru", "09_char_lm"],
    "gers2000forget": ["06_lstm"],
    "gers2002": ["06_lstm"],
    "chung2014": ["06_lstm"],
    "jozefowicz2015": ["06_lstm"],
    "schuster1997": ["07_bidirectional"],
    "graves2013": ["08_deep_rnn", "09_char_lm"],
    "karpathy2015": ["09_char_lm"],
}


def _bib_entries() -> dict:
    from pybtex.database import parse_file
    return parse_file(str(BIB)).entries


def _cited(chapter: str) -> set:
    text = (BOOK / f"{chapter}.md").read_text(encoding="utf8")
    keys = set()
    for group in re.findall(r"\{cite(?::[a-z]+)?\}`([^`]+)`", text):
        keys |= {k.strip() for k in group.split(",")}
    return keys


def test_bibliography_is_cited_where_each_idea_is_used():
    entries = _bib_entries()
    pages = sorted(p.stem for p in BOOK.glob("*.md") if p.stem != "instructor_guide")
    cited = {page: _cited(page) for page in pages}
    everything = set().union(*cited.values())
    assert everything <= set(entries), f"cited but not in references.bib: {everything - set(entries)}"
    assert set(entries) <= everything, f"never cited: {set(entries) - everything}"
    for key, chapters in REQUIRED_CITATIONS.items():
        for chapter in chapters:
            assert key in cited[chapter], f"{chapter} does not cite {key}"
    assert "- file: book/references" in (ROOT / "_toc.yml").read_text()


def test_bibliography_entries_are_complete():
    for key, entry in _bib_entries().items():
        assert "title" in entry.fields, key
        if key.startswith("note_"):
            continue                                   # cited by title, no author, no date
        assert entry.persons.get("author"), key
        if key != "ng_sequence_models":
            assert "year" in entry.fields, key
        assert any(f in entry.fields for f in ("journal", "booktitle", "howpublished")), key


def test_adding_problem_is_attributed_consistently():
    """Origin Hochreiter & Schmidhuber (1997); the variant used is Arjovsky et al.'s (2016);
    the chapter and rnncourse.tasks say the same."""
    chapter = CHAPTER.read_text(encoding="utf8")
    section = chapter[chapter.index("## A long-range task"):chapter.index("### The 1/6 baseline")]
    assert "{cite:p}`hochreiter1997`" in section and "{cite:t}`arjovsky2016`" in section
    assert "in the form used by Le et al." not in chapter
    tasks = (ROOT / "rnncourse" / "tasks.py").read_text(encoding="utf8")
    doc = tasks[tasks.index("def adding_problem"):tasks.index("chk = ShapeChecker(\"adding_problem\")")]
    assert "Experiment 4" in doc and "Hochreiter & Schmidhuber (1997)" in doc
    assert "variant of Arjovsky, Shah & Bengio (2016)" in doc
    assert "the placement of Arjovsky" not in tasks


@pytest.mark.skipif(not NOTES_DIR.is_dir(), reason="the course's source notes are not here")
def test_source_notes_are_cited_by_their_titles():
    """Each note file's title (one of its first lines) is the title of a note_* entry."""
    entries = _bib_entries()
    titles = {re.sub(r"[{}]", "", e.fields["title"]) for k, e in entries.items()
              if k.startswith("note_")}
    files = sorted(NOTES_DIR.glob("0*.txt"))
    assert len(files) == len(titles) == 5
    for path in files:
        head = [l.strip() for l in path.read_text(encoding="utf8").splitlines()[:5]]
        assert titles & set(head), f"{path.name}: none of {head} is a cited title"



def test_chapter4_tanh_w2_fixed_point():
    """The notes' 2^10 example taken literally: the glued fixed point of h = tanh(2h) is the
    root found here by bisection, the backward factor there is 2(1 - h*^2) ~ 0.17 < 1 (the
    gradient vanishes), and the glued ten-step and forty-step products are that small."""
    g = glued("04_vanishing_gradients")
    lo, hi = 0.5, 1.0                       # tanh(2h) - h > 0 at 0.5, < 0 at 1
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if math.tanh(2 * mid) > mid else (lo, mid)
    assert g["tanh_w2_fixed_point"] == pytest.approx(lo, abs=1e-9)
    slope = 2 * (1 - lo ** 2)
    assert g["tanh_w2_slope"] == pytest.approx(slope, rel=1e-9)
    assert round(slope, 2) == 0.17
    assert g["tanh_w2_slope_10"] == pytest.approx(slope ** 10, rel=1e-9) and slope ** 10 < 1e-7
    assert g["tanh_w2_prod_40"] < slope ** 30        # forty steps, most of them at h*
    assert g["tanh_w2_early_factor"] == pytest.approx(2 * (1 - math.tanh(0.02) ** 2))


def test_chapter4_le2015_baseline_arithmetic():
    """0.1767 = 1/6 + 0.1^2 to four decimals; the sampling spread of the MSE of predicting 1
    is sqrt(7/180 / n), checked here by exact integration of the triangular density."""
    g = glued("04_vanishing_gradients")
    assert round(g["baseline_c09"], 4) == 0.1767
    # E[(S-1)^4] and E[(S-1)^2] for the density 1 - |u| on [-1, 1], by the midpoint rule
    n = 200_000
    us = [-1 + (i + 0.5) * 2 / n for i in range(n)]
    m2 = sum(u ** 2 * (1 - abs(u)) for u in us) * 2 / n
    m4 = sum(u ** 4 * (1 - abs(u)) for u in us) * 2 / n
    assert m2 == pytest.approx(1 / 6, rel=1e-6)
    sd = math.sqrt(m4 - m2 ** 2)
    assert sd == pytest.approx(math.sqrt(7 / 180), rel=1e-6)
    assert g["baseline_sd_1000"] == pytest.approx(sd / math.sqrt(1000), rel=1e-6)
    assert g["baseline_z_1000"] == pytest.approx((0.1767 - 1 / 6) / (sd / math.sqrt(1000)),
                                                 rel=1e-6)
    # the prose: "an unlucky draw" at 1,000 (between 1 and 3 sd), "practically impossible"
    # at 10,000 (more than 4 sd)
    assert 1 < g["baseline_z_1000"] < 3 and g["baseline_z_10000"] > 4



def test_chapter9_carried_state_claims():
    """"Reading the validation text in one piece helps both models" (both gains positive) and
    "how the model was trained matters much less" (the training difference is smaller than the
    smallest evaluation gain)."""
    g = glued("09_char_lm")
    for tag in ("zero", "carry"):
        assert g[f"tbptt_{tag}_eval_carry"] < g[f"tbptt_{tag}_eval_reset"], tag
    gains = [g[f"tbptt_{t}_eval_reset"] - g[f"tbptt_{t}_eval_carry"] for t in ("zero", "carry")]
    assert g["tbptt_eval_gain_min"] == pytest.approx(min(gains))
    assert g["tbptt_eval_gain_max"] == pytest.approx(max(gains))
    diff = abs(g["tbptt_carry_eval_carry"] - g["tbptt_zero_eval_carry"])
    assert g["tbptt_train_diff"] == pytest.approx(diff)
    assert diff < min(gains) / 2


def test_chapter9_inside_the_model_claims():
    """The units shown correlate with their property much more strongly than the median unit
    ("most units follow nothing this simple"), and the figure's title units are the glued ones."""
    g = glued("09_char_lm")
    for tag in ("pos", "name", "letter"):
        assert 0 <= g[f"inside_{tag}_median_abs_r"] < g[f"inside_{tag}_abs_r"] / 2, tag
        assert g[f"inside_{tag}_abs_r"] == pytest.approx(abs(g[f"inside_{tag}_r"]))
        assert 0 <= g[f"inside_{tag}_unit"] < g["inside_H"]
    assert g["inside_name_abs_r"] > 0.5        # "separates the speakers' names"



def test_chapter6_whole_jacobian_claims():
    """The whole dc_t/dc_{t-1} matches finite differences (to the glued error, small), diag(f)
    alone does not; per step the cell path carries the largest part (more than the path through
    h, the peepholes less than that), but over 98 steps the pure cell path is orders of
    magnitude below the exact gradient."""
    g = glued("06_lstm")
    assert g["jac_fd_error"] < 1e-8 and g["jac_cell_only_error"] > 1e-2
    assert 1 < g["path_cell_over_h_min"] <= g["path_cell_over_h_max"]
    assert g["path_peep_over_h_max"] < 1
    assert g["path_orders_98"] == pytest.approx(math.log10(g["path_total_98"]
                                                           / g["path_pure_98"]))
    assert g["path_orders_98"] > 3
    # the derived backward step, checked on the page against finite differences
    assert g["lstm_backward_max_error"] < 1e-6


def test_chapter5_gru_backward_checked():
    """The derived GRU backward step matches finite differences on the page (both conventions)."""
    assert glued("05_gru")["gru_backward_max_error"] < 1e-6



def test_chapter4_seed_summary_matches_the_data(stored):
    """The across-seed sentence of chapter 4 (seeds that left the 1/6 plateau, range of test
    MSE per model) agrees with book/data/adding_problem.json, read here independently."""
    g = glued("04_vanishing_gradients")
    assert g["n_seeds"] == len(stored["config"]["seeds"]) >= 3
    for model in stored["models"]:
        runs = [r for r in stored["runs"] if r["model"] == model]
        left = sum(any(m is not None and m < 0.15 for m in r["mse"]) for r in runs)
        assert g[f"{model}_seeds_left"] == left, model
        assert g[f"{model}_test_min"] == pytest.approx(min(r["test_mse"] for r in runs))
        assert g[f"{model}_test_max"] == pytest.approx(max(r["test_mse"] for r in runs))


# ---------------------------------------------------------------------------------------------
# Every chapter opens with its learning objectives and closes with a summary
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_has_objectives_and_summary(chapter):
    """A "Learning objectives" box before the first section and a "Summary" section (a list)
    after the last content section, before the questions."""
    text = (BOOK / f"{chapter}.md").read_text(encoding="utf8")
    sections = [m.start() for m in re.finditer(r"^## ", text, re.M)]
    objectives = text.find("```{admonition} Learning objectives")
    assert objectives != -1, f"{chapter}: no 'Learning objectives' admonition"
    assert sections and objectives < sections[0], \
        f"{chapter}: the learning objectives come after the first section"
    items = re.findall(r"^- ", text[objectives:text.index("\n```", objectives + 3)], re.M)
    assert len(items) >= 3, f"{chapter}: {len(items)} learning objectives, expected at least 3"
    m = re.search(r"^## Summary\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert m, f"{chapter}: no '## Summary' section"
    assert len(re.findall(r"^- ", m.group(1), re.M)) >= 3, f"{chapter}: summary has < 3 points"
    later = [h for h in re.findall(r"^## (.*)$", text[m.end():], re.M)]
    assert set(later) <= {"Check your understanding", "Exercise"}, \
        f"{chapter}: sections after the summary: {later}"
