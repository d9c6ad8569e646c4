"""Chapter 10 (book/10_seq2seq.md) says what its stored data and its glued numbers show.

``book/data/seq2seq.json`` is written by ``experiments/seq2seq.py`` (its format is tested
at a tiny size in ``tests/test_experiments.py``).  The tests here check the chapter's
sentences about the figures on that data, independently of the page's own code (the
quantities are recomputed here), and, after a build, that the numbers glued into the prose
are the ones the data gives.
"""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from test_book_data import glued

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "book" / "data" / "seq2seq.json"
CHAPTER = ROOT / "book" / "10_seq2seq.md"


@pytest.fixture(scope="module")
def data():
    return json.loads(DATA.read_text())


def _rev(data, attention):
    return next(r for r in data["reversal"]["runs"] if r["attention"] is attention)


def _dates(data, attention):
    return next(r for r in data["dates"]["runs"] if r["attention"] is attention)


def _first_step(run, level):
    for step, em in zip(run["step"], run["exact_match"]):
        if em >= level:
            return step
    return None


def test_stored_file_is_the_full_run(data):
    cfg = data["config"]
    assert cfg["cell"] == "gru" and cfg["rev_hidden"] == 32 and cfg["rev_steps"] == 1500
    assert data["reversal"]["lengths"] == list(range(cfg["rev_min"], cfg["rev_max"] + 1))
    assert data["reversal"]["n_eval"] == 200 and data["dates"]["n_test"] == 500
    # the two reversal models differ only in attention
    a, b = _rev(data, True), _rev(data, False)
    assert (a["hidden"], a["steps"]) == (b["hidden"], b["steps"])
    a, b = _dates(data, True), _dates(data, False)
    assert a["hidden"] == b["hidden"] and a["step"] == b["step"][:len(a["step"])]


def test_chapter_reads_this_file_and_is_in_the_toc():
    text = CHAPTER.read_text(encoding="utf8")
    assert 'Path("data/seq2seq.json")' in text
    assert "- file: book/10_seq2seq" in (ROOT / "_toc.yml").read_text()
    toc = (ROOT / "_toc.yml").read_text()
    assert toc.index("book/09_char_lm") < toc.index("book/10_seq2seq")


def test_chapter_cites_the_papers_of_its_ideas():
    text = CHAPTER.read_text(encoding="utf8")
    cited = set()
    for group in re.findall(r"\{cite(?::[a-z]+)?\}`([^`]+)`", text):
        cited |= {k.strip() for k in group.split(",")}
    assert {"sutskever2014", "cho2014", "bahdanau2015", "luong2015", "vaswani2017"} <= cited


def test_code_cells_fit_the_column():
    lines = CHAPTER.read_text(encoding="utf8").splitlines()
    inside, wide = False, []
    for i, line in enumerate(lines, 1):
        if line.startswith("```{code-cell}"):
            inside = True
        elif line == "```":
            inside = False
        elif inside and len(line) > 88:
            wide.append(i)
    assert not wide, f"code lines wider than 88 characters: {wide}"


def test_bottleneck_without_attention_collapses_with_length(data):
    """'strings of 2 letters reversed X %, ... from N letters on almost never (at most 1 %)';
    'at least Y % at every length' with attention."""
    lengths = np.array(data["reversal"]["lengths"])
    plain = np.array(_rev(data, False)["exact_match"])
    with_att = np.array(_rev(data, True)["exact_match"])
    assert plain[0] >= 0.9
    zero_from = int(np.argmax(plain <= 0.01))
    assert plain[zero_from] <= 0.01 and np.all(plain[zero_from:] <= 0.01)
    assert lengths[zero_from] < lengths[-1]
    # it falls steadily on the way (the figure's dashed line goes down)
    assert np.all(np.diff(plain[:zero_from + 1]) <= 0.02)
    assert with_att.min() >= 0.95
    assert _rev(data, False)["final_loss"] > 100 * _rev(data, True)["final_loss"]


def test_attention_learns_dates_much_faster(data):
    """'90 % after N steps (without attention: X % at that step)'; 'far longer'."""
    att, plain = _dates(data, True), _dates(data, False)
    s90 = _first_step(att, 0.9)
    assert s90 is not None
    assert plain["exact_match"][plain["step"].index(s90)] < 0.5
    p90 = _first_step(plain, 0.9)
    assert p90 is None or p90 >= 3 * s90
    assert att["exact_match"][-1] >= 0.95


def _year_focus(ex):
    m = list(re.finditer(r"\d{4}", ex["source"]))
    if not m:
        return None
    lo, hi = m[-1].span()
    peaks = np.argmax(np.array(ex["alphas"])[:4], axis=1)
    return float(np.mean((peaks >= lo) & (peaks < hi)))


def test_attention_weights_are_sharp_and_align_the_year(data):
    """'The weights are sharp' (mean largest weight, against one over the source's length
    for uniform weights) and 'for the four digits of the year the largest weight falls on
    the year's digits in the source'."""
    examples = data["dates"]["examples"]
    assert len(examples) >= 3
    for ex in examples:
        a = np.array(ex["alphas"])
        assert a.shape[1] == len(ex["source"])
        np.testing.assert_allclose(a.sum(axis=1), 1, atol=1e-3)
    peak = np.mean([np.array(ex["alphas"]).max(axis=1).mean() for ex in examples])
    uniform = np.mean([1 / len(ex["source"]) for ex in examples])
    assert peak >= 0.5 and peak >= 4 * uniform
    focus = [f for f in map(_year_focus, examples) if f is not None]
    assert focus and np.mean(focus) >= 0.75
    # "of the dates are converted correctly": most of them are
    assert sum(ex["output"] == ex["target"] for ex in examples) >= len(examples) - 1


def test_beam_search_gain_is_small_and_positive(data):
    """'greedy gets X %, beam search with k = K gets Y %. The gain is small here'."""
    em = {r["beam_width"]: r["exact_match"] for r in data["beam"]["results"]}
    assert em[1] < 0.95, "the brief model must still make mistakes"
    best = max(em, key=em.get)
    assert best > 1 and 0 < em[best] - em[1] <= 0.1


def test_glued_numbers_match_the_data(data):
    g = glued("10_seq2seq")
    plain, with_att = _rev(data, False), _rev(data, True)
    lengths = data["reversal"]["lengths"]
    assert g["rev_hidden"] == with_att["hidden"] and g["rev_steps"] == with_att["steps"]
    assert (g["rev_lmin"], g["rev_lmax"]) == (lengths[0], lengths[-1])
    assert g["rev_plain_first"] == pytest.approx(plain["exact_match"][0])
    i = lengths.index(g["rev_mid_len"])
    assert g["rev_plain_mid"] == pytest.approx(plain["exact_match"][i])
    j = lengths.index(g["rev_plain_zero_from"])
    assert plain["exact_match"][j] <= 0.01 < plain["exact_match"][j - 1]
    assert g["rev_att_min"] == pytest.approx(min(with_att["exact_match"]))
    att, pl = _dates(data, True), _dates(data, False)
    assert g["dates_att_90"] == _first_step(att, 0.9)
    assert g["dates_att_final"] == pytest.approx(att["exact_match"][-1])
    assert g["dates_plain_final"] == pytest.approx(pl["exact_match"][-1])
    assert g["dates_plain_max"] == pytest.approx(max(pl["exact_match"]))
    assert g["dates_plain_steps"] == pl["step"][-1]
    em = {r["beam_width"]: r["exact_match"] for r in data["beam"]["results"]}
    assert g["beam_greedy"] == pytest.approx(em[1])
    assert g["beam_best"] == pytest.approx(max(em.values()))
    assert g["beam_steps"] == data["beam"]["steps"]
    assert float(g["attention_loop_diff"]) < 1e-12
    focus = [f for f in map(_year_focus, data["dates"]["examples"]) if f is not None]
    assert g["stored_year_focus"] == pytest.approx(np.mean(focus))
    assert g["stored_steps"] == att["step"][-1]


def test_model_trained_on_the_page_reproduces_the_stored_run(data):
    """'the stored run's value at that step: the run is reproducible'."""
    g = glued("10_seq2seq")
    att = _dates(data, True)
    assert g["page_steps"] == _first_step(att, 0.9)
    assert g["page_em"] == att["exact_match"][att["step"].index(g["page_steps"])]


def test_heatmap_claims_on_the_page_model():
    """The heatmaps drawn from the page's model: 'N of the M dates are converted
    correctly' (most), 'the weights are sharp' (mean largest weight well above uniform),
    'for the four digits of the year the largest weight falls on the year's digits'."""
    g = glued("10_seq2seq")
    assert g["heat_correct"] >= g["heat_n"] - 1
    assert g["heat_peak_mean"] >= 0.5 and g["heat_peak_mean"] >= 4 * g["heat_uniform"]
    assert g["heat_year_focus"] >= 0.75 and g["heat_year_cases"] >= 8
    assert g["heat_year_cases"] % 4 == 0 and g["heat_year_cases"] <= 4 * g["heat_n"]
