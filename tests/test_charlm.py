"""Character language model: loss and gradients, training, sampling, perplexity."""
import numpy as np
import pytest

from rnncourse.charlm import (CharLMParams, charlm_loss, evaluate_charlm, init_charlm,
                              perplexity, sample, train_charlm)
from rnncourse.corpus import load_corpus, split_corpus
from rnncourse.gradcheck import numerical_gradient, relative_error
from rnncourse.output import OutputParams
from rnncourse.rnn import RNNParams
from rnncourse.text import Vocabulary

CELLS = ["rnn", "gru", "lstm"]


def leaves(tree, path=()):
    """(path, array) for every array in a nested NamedTuple (None skipped)."""
    if tree is None:
        return []
    if isinstance(tree, tuple):
        fields = getattr(tree, "_fields", range(len(tree)))
        return [lf for f, item in zip(fields, tree) for lf in leaves(item, path + (f,))]
    return [(path, tree)]


def replace(tree, path, new):
    if not path:
        return new
    head, rest = path[0], path[1:]
    return tree._replace(**{head: replace(getattr(tree, head), rest, new)})


def get(tree, path):
    for p in path:
        tree = getattr(tree, p)
    return tree


def random_params(K, H, cell, seed=0, scale=0.5):
    """Initial parameters with every array (biases too) set to random values."""
    rng = np.random.default_rng(seed)
    p = init_charlm(K, H, rng, cell)
    for path, arr in leaves(p):
        p = replace(p, path, rng.normal(0, scale, np.shape(arr)))
    return p


# --- loss and gradients --------------------------------------------------------

@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("N,T,K,H", [(1, 1, 4, 3), (2, 4, 5, 3), (3, 3, 3, 6)])
def test_gradients_match_finite_differences(cell, N, T, K, H):
    p = random_params(K, H, cell, seed=N + T)
    rng = np.random.default_rng(7)
    x, y = rng.integers(0, K, (N, T)), rng.integers(0, K, (N, T))
    loss, grads, h_last = charlm_loss(p, x, y, cell)
    assert type(grads) is CharLMParams and type(grads.cell) is type(p.cell)
    assert h_last.shape == (N, H)
    for path, arr in leaves(p):
        numeric = numerical_gradient(lambda a: charlm_loss(replace(p, path, a), x, y, cell)[0], arr)
        err = relative_error(get(grads, path), numeric)
        assert err < 1e-6, (path, err)


@pytest.mark.parametrize("cell", CELLS)
def test_loss_equals_mean_over_windows_of_summed_negative_log_likelihood(cell):
    """charlm_loss against the same model run one window and one step at a time."""
    from rnncourse.cells import get_cell
    from rnncourse.output import log_softmax

    K, H, N, T = 6, 4, 3, 5
    p = random_params(K, H, cell, seed=3)
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, K, (N, T)), rng.integers(0, K, (N, T))
    h0 = rng.normal(size=(N, H))
    loss, _, h_last = charlm_loss(p, x, y, cell, h0=h0)
    c = get_cell(cell)
    total = 0.0
    for n in range(N):
        h, _ = c.forward(np.eye(K)[x[n]][None], h0[n:n + 1], p.cell)
        logp = log_softmax(h[0] @ p.output.V.T + p.output.b_y)
        total -= logp[np.arange(T), y[n]].sum()
        np.testing.assert_allclose(h_last[n], h[0, -1], rtol=1e-12, atol=1e-12)
    assert loss == pytest.approx(total / N, rel=1e-12)


def test_uniform_model_has_perplexity_K():
    K, H, T = 7, 3, 9
    p = init_charlm(K, H, 0)
    p = p._replace(output=OutputParams(np.zeros((K, H)), np.zeros(K)))
    x = np.zeros((2, T), dtype=int)
    y = np.arange(2 * T).reshape(2, T) % K
    loss, _, _ = charlm_loss(p, x, y)
    assert loss / T == pytest.approx(np.log(K), rel=1e-12)
    assert perplexity(loss / T) == pytest.approx(K, rel=1e-12)


def test_perplexity():
    assert perplexity(0.0) == 1.0
    np.testing.assert_allclose(perplexity(np.array([0.0, np.log(2.0)])), [1.0, 2.0])
    with pytest.raises(ValueError, match="perplexity: loss_per_char must be non-negative"):
        perplexity(-0.1)


def test_charlm_loss_does_not_modify_inputs_and_checks_them():
    p = random_params(5, 3, "lstm")
    x = np.array([[0, 1, 2]])
    y = np.array([[1, 2, 3]])
    snap = [a.copy() for _, a in leaves(p)] + [x.copy(), y.copy()]
    charlm_loss(p, x, y, "lstm")
    for a, b in zip([a for _, a in leaves(p)] + [x, y], snap):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"charlm_loss: y_idx must have shape \(N, T\) = \(1, 3\), got \(1, 4\)"):
        charlm_loss(p, x, np.array([[1, 2, 3, 4]]), "lstm")
    with pytest.raises(ValueError, match=r"charlm_loss: x_idx must hold character indices in \[0, 5\)"):
        charlm_loss(p, x + 3, y, "lstm")
    with pytest.raises(ValueError, match="charlm_loss: x_idx must be an integer array"):
        charlm_loss(p, x.astype(float), y, "lstm")
    with pytest.raises(ValueError, match="charlm_loss: params.cell must be the parameters of a 'rnn' cell|"
                                         "charlm_loss: params.cell must take one-hot inputs"):
        charlm_loss(p, x, y, "rnn")
    with pytest.raises(ValueError, match="charlm_loss: cell must be one of"):
        charlm_loss(p, x, y, "transformer")
    with pytest.raises(ValueError, match="charlm_loss: params must be CharLMParams"):
        charlm_loss(tuple(p), x, y, "lstm")


def test_init_charlm_shapes():
    for cell, k in [("rnn", 1), ("gru", 3), ("lstm", 4)]:
        p = init_charlm(11, 8, 0, cell)
        assert p.cell.U.shape == (k * 8, 11) and p.cell.W.shape == (k * 8, 8)
        assert p.output.V.shape == (11, 8) and p.output.b_y.shape == (11,)
    a, b = init_charlm(5, 4, 3), init_charlm(5, 4, 3)
    np.testing.assert_array_equal(a.cell.U, b.cell.U)


# --- sampling -----------------------------------------------------------------

def bias_only_model(vocab, logits, H=2):
    """Output ignores the state (V = 0): every draw is i.i.d. from softmax(logits / temperature)."""
    K = vocab.size
    rnn = RNNParams(np.zeros((H, K)), np.zeros((H, H)), np.zeros(H))
    return CharLMParams(rnn, OutputParams(np.zeros((K, H)), np.asarray(logits, dtype=float)))


def entropy(counts):
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_sampling_distribution_is_softmax_of_scores_over_temperature(temperature):
    vocab = Vocabulary.from_text("abcd", eos=None)
    logits = np.array([1.0, 0.0, -1.0, 0.5])
    p = bias_only_model(vocab, logits)
    text = sample(p, vocab, 3000, seed=0, temperature=temperature)
    counts = np.array([text.count(ch) for ch in vocab.chars], dtype=float)
    expected = np.exp(logits / temperature) / np.exp(logits / temperature).sum()
    np.testing.assert_allclose(counts / counts.sum(), expected, atol=0.025)   # ~3 std. dev.


def test_lower_temperature_gives_lower_entropy_on_a_trained_model(trained):
    params, vocab, cell, _ = trained
    ents = []
    for tau in (0.3, 1.0, 1.8):
        text = sample(params, vocab, 1500, seed=5, temperature=tau, cell=cell, stop_at_eos=False)
        counts = np.array([text.count(ch) for ch in vocab.chars], dtype=float)
        ents.append(entropy(counts))
    assert ents[0] < ents[1] < ents[2], ents


def test_temperature_zero_is_greedy_and_seed_independent():
    vocab = Vocabulary.from_text("abcd", eos=None)
    p = bias_only_model(vocab, [0.0, 3.0, 1.0, 2.9])
    assert sample(p, vocab, 20, seed=1, temperature=0) == "b" * 20
    assert sample(p, vocab, 20, seed=2, temperature=0.0) == "b" * 20
    # a tiny temperature behaves like argmax
    assert sample(p, vocab, 20, seed=3, temperature=1e-4) == "b" * 20


@pytest.mark.parametrize("bad", [-0.5, float("nan"), float("inf"), "hot", None, True])
def test_invalid_temperature(bad):
    vocab = Vocabulary.from_text("ab")
    p = init_charlm(vocab.size, 3, 0)
    with pytest.raises(ValueError, match="sample: temperature must be a finite number >= 0"):
        sample(p, vocab, 5, temperature=bad)


def test_sampling_is_reproducible_and_depends_on_seed():
    text = load_corpus()
    vocab = Vocabulary.from_text(text)
    for cell in CELLS:
        p = random_params(vocab.size, 8, cell, seed=1, scale=0.3)
        a = sample(p, vocab, 80, seed=11, cell=cell, stop_at_eos=False)
        b = sample(p, vocab, 80, seed=11, cell=cell, stop_at_eos=False)
        c = sample(p, vocab, 80, seed=12, cell=cell, stop_at_eos=False)
        assert a == b and a != c and len(a) == len(c) == 80
        gen = np.random.default_rng(11)
        assert sample(p, vocab, 80, seed=gen, cell=cell, stop_at_eos=False) == a


def test_prefix_is_kept_and_conditions_the_continuation():
    text = load_corpus()
    vocab = Vocabulary.from_text(text)
    p = random_params(vocab.size, 8, "lstm", seed=2, scale=1.0)
    out = sample(p, vocab, 30, seed=4, prefix="MENENIUS:", cell="lstm", stop_at_eos=False)
    assert out.startswith("MENENIUS:") and len(out) == len("MENENIUS:") + 30
    other = sample(p, vocab, 30, seed=4, prefix="BRUTUS:", cell="lstm", stop_at_eos=False)
    assert out[len("MENENIUS:"):] != other[len("BRUTUS:"):]
    assert sample(p, vocab, 0, seed=0, prefix="All:", cell="lstm") == "All:"
    with pytest.raises(ValueError, match=r"character 'Z' \(U\+005A\) at position 0 is not in the vocabulary"):
        sample(p, vocab, 5, prefix="Zed", cell="lstm")


def test_eos_stops_sampling():
    vocab = Vocabulary.from_text("ab", eos="\x03")           # chars: \x03, a, b
    # EOS four times as likely as each letter: P(no EOS in 50 draws) = (1/3)^50
    p = bias_only_model(vocab, [np.log(4.0), 0.0, 0.0])
    out = sample(p, vocab, 50, seed=0)
    assert "\x03" not in out and len(out) < 50
    full = sample(p, vocab, 50, seed=0, stop_at_eos=False)
    assert len(full) == 50 and "\x03" in full
    assert full.startswith(out) and full[len(out)] == "\x03"  # stopped exactly at the first EOS
    sure_eos = bias_only_model(vocab, [50.0, 0.0, 0.0])
    assert sample(sure_eos, vocab, 10, seed=0, prefix="ab") == "ab"
    # newline is the default EOS: a line-by-line corpus samples one line
    v2 = Vocabulary.from_text("ab\nba\n")
    p2 = bias_only_model(v2, [0.0, 0.0, 0.0])
    line = sample(p2, v2, 500, seed=3)
    assert "\n" not in line and len(line) < 500


def test_sample_checks_vocab_and_n():
    vocab = Vocabulary.from_text("abc")
    p = init_charlm(vocab.size, 3, 0)
    with pytest.raises(ValueError, match=r"sample: vocab must be the Vocabulary of the model \(4 symbols\), got 3"):
        sample(p, Vocabulary.from_text("ab"), 5)
    with pytest.raises(ValueError, match="sample: n must be a non-negative integer, got -1"):
        sample(p, vocab, -1)


# --- training ------------------------------------------------------------------

@pytest.fixture(scope="module")
def trained():
    text = load_corpus("shakespeare")
    vocab = Vocabulary.from_text(text)
    params, history = train_charlm(text, vocab, hidden=32, steps=150, seq_len=25, batch=16,
                                   lr=1e-2, cell="rnn", seed=0, log_every=10)
    return params, vocab, "rnn", history


def test_training_on_shakespeare_lowers_the_loss(trained):
    params, vocab, cell, history = trained
    assert history.loss[-1] < history.loss[0] - 0.8, history.loss
    text = load_corpus()
    _, valid = split_corpus(vocab.encode(text), 0.1)
    untrained = init_charlm(vocab.size, 32, 0, cell)
    before = evaluate_charlm(untrained, valid, cell=cell)
    after = evaluate_charlm(params, valid, cell=cell)
    assert before == pytest.approx(np.log(vocab.size), abs=0.3)   # near uniform at the start
    assert after < before - 0.8, (before, after)                  # 4.08 -> about 2.3 nats/char
    assert perplexity(after) < 12


def test_training_history_and_reproducibility():
    text = load_corpus()[:5000]
    vocab = Vocabulary.from_text(text)
    p1, h1 = train_charlm(text, vocab, hidden=8, steps=12, seq_len=10, batch=4, seed=3, log_every=5)
    p2, h2 = train_charlm(vocab.encode(text), vocab, hidden=8, steps=12, seq_len=10, batch=4, seed=3,
                          log_every=5)
    np.testing.assert_array_equal(h1.step, [5, 10, 12])
    for field in h1._fields:            # no wall-clock time: the same seed, the same history
        np.testing.assert_array_equal(getattr(h1, field), getattr(h2, field), err_msg=field)
    assert "seconds" not in h1._fields
    np.testing.assert_allclose(h1.perplexity, np.exp(h1.loss))
    assert np.all(h1.grad_norm > 0)
    assert np.all(np.isnan(h1.valid_loss))
    np.testing.assert_array_equal(p1.cell.W, p2.cell.W)
    # continuing from params keeps the shapes and lowers the loss further on average;
    # the validation loss logged is evaluate_charlm of the parameters at that step
    p3, h3 = train_charlm(text, vocab, steps=30, seq_len=10, batch=4, seed=4, log_every=30,
                          params=p1, valid=vocab.encode(load_corpus()[-800:]))
    assert p3.cell.W.shape == p1.cell.W.shape and h3.loss[-1] < h1.loss[0]
    assert h3.valid_loss.shape == (1,)
    assert h3.valid_loss[0] == pytest.approx(evaluate_charlm(p3, load_corpus()[-800:], vocab), rel=1e-12)


@pytest.mark.parametrize("cell,optimizer,lr", [("gru", "adam", 1e-2), ("lstm", "sgd", 0.05)])
def test_other_cells_and_sgd_learn(cell, optimizer, lr):
    text = load_corpus()[:20000]
    vocab = Vocabulary.from_text(text)
    params, hist = train_charlm(text, vocab, hidden=16, steps=60, seq_len=20, batch=8, lr=lr,
                                optimizer=optimizer, cell=cell, log_every=20)
    assert hist.loss[-1] < hist.loss[0] - 0.3, hist.loss
    assert type(params.cell).__name__ == {"gru": "GRUParams", "lstm": "LSTMParams"}[cell]


def test_train_charlm_checks_arguments():
    text = "abcabcabc"
    vocab = Vocabulary.from_text(text)
    with pytest.raises(ValueError, match="train_charlm: optimizer must be one of 'adam', 'sgd', got 'rmsprop'"):
        train_charlm(text, vocab, optimizer="rmsprop")
    with pytest.raises(ValueError, match="train_charlm: clip must be a positive finite number or None"):
        train_charlm(text, vocab, clip=0)
    with pytest.raises(ValueError, match="train_charlm: lr must be a positive finite number"):
        train_charlm(text, vocab, lr=-1.0)
    with pytest.raises(ValueError, match=r"train_charlm: vocab has 3 symbols but params.output.V has K = 4"):
        train_charlm(np.array([0, 1, 2] * 20), Vocabulary.from_text("ab"), params=init_charlm(4, 3, 0))
    with pytest.raises(ValueError, match=r"batches: encoded must hold at least T \+ 1 = 33 indices"):
        train_charlm(text, vocab, seq_len=32, steps=1)


def test_evaluate_charlm_predicts_every_character_once():
    text = load_corpus()[:23]
    vocab = Vocabulary.from_text(load_corpus())
    p = random_params(vocab.size, 5, "gru", seed=9, scale=0.3)
    enc = vocab.encode(text)
    one_window = charlm_loss(p, enc[None, :-1], enc[None, 1:], "gru")[0] / 22
    assert evaluate_charlm(p, text, vocab, "gru", seq_len=22) == pytest.approx(one_window, rel=1e-12)
    assert evaluate_charlm(p, enc, cell="gru", seq_len=100) == pytest.approx(one_window, rel=1e-12)
    # seq_len 5: four windows of 5 predictions and one of 2, each from a zero state
    pieces = [(s, min(s + 5, 22)) for s in range(0, 22, 5)]
    manual = sum(charlm_loss(p, enc[None, a:b], enc[None, a + 1:b + 1], "gru")[0] for a, b in pieces)
    assert evaluate_charlm(p, enc, cell="gru", seq_len=5) == pytest.approx(manual / 22, rel=1e-12)
    with pytest.raises(ValueError, match="evaluate_charlm: data must hold at least 2 characters"):
        evaluate_charlm(p, enc[:1], cell="gru")
