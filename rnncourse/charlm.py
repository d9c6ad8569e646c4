r"""A character-level language model: training, sampling, perplexity.

A language model assigns a probability to every continuation of a text.  A
character model factorises the probability of a string ``c_1 ... c_L`` into
one prediction per character::

    P(c_1, ..., c_L) = prod_t P(c_{t+1} | c_1, ..., c_t)

and a recurrent network supplies the conditional: its hidden state
summarises the past characters and the output layer turns it into a
distribution over the K vocabulary symbols.  For a batch of windows::

    x_t    = onehot(c_t)                            (N, K)    input
    h_t    = cell(x_t, h_{t-1})                     (N, H)    rnn / gru / lstm ...
    o_t    = V h_t + b_y                            (N, K)    scores
    yhat_t = softmax(o_t)                           P(c_{t+1} = k | c_1..c_t)
    L      = (1/N) sum_n sum_t -log yhat_t[c_{t+1}]          sequence cross-entropy

``L`` follows :func:`rnncourse.output.softmax_cross_entropy`: summed over the
T steps, averaged over the N windows.  ``L / T`` is the loss *per character*
(in nats) and its exponential is the *perplexity*: the model is as unsure as
if it picked uniformly among that many characters (K for an untrained model,
1 for a perfect one).

Sampling feeds the model its own draws: start from the end-of-sequence
symbol (see :mod:`rnncourse.text`), draw ``c ~ softmax(o / temperature)``,
feed ``onehot(c)`` back in, repeat.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple, Optional

import numpy as np

from ._validation import ShapeChecker, as_rng
from .cells import Cell, check_cell_params, get_cell, params_type
from .clipping import clip_by_global_norm
from .initializers import init_output_params
from .optim import adam_init, adam_step, sgd_step
from .output import OutputParams, output_backward, output_forward, softmax, softmax_cross_entropy
from .text import Vocabulary, one_hot
from .tree import tree_leaves


class CharLMParams(NamedTuple):
    """Parameters of a character language model.

    cell : the recurrent cell's parameters (``RNNParams``, ``GRUParams``,
        ``LSTMParams``, ...) with input size D = K (one-hot characters).
    output : OutputParams(V (K, H), b_y (K,)).
    """

    cell: NamedTuple
    output: OutputParams


class CharLMHistory(NamedTuple):
    """What :func:`train_charlm` logged, one entry per logged step (arrays of equal length).

    Equal arguments and seed give an equal history, entry for entry, on any
    machine: nothing in it depends on the clock (time a run with
    ``time.perf_counter()`` around the call), so a history can be graded
    (assignment 9's ``train_model``).

    step : (L,) int, the step count at logging time (1-based).
    loss : (L,) training loss per character (nats), averaged over the steps since the last log.
    perplexity : (L,) ``exp(loss)``.
    grad_norm : (L,) mean global gradient norm (before clipping) over the same steps.
    valid_loss : (L,) loss per character on the ``valid`` text at logging time
        (:func:`evaluate_charlm`), NaN when no validation text was given.
    """

    step: np.ndarray
    loss: np.ndarray
    perplexity: np.ndarray
    grad_norm: np.ndarray
    valid_loss: np.ndarray


def _cell(chk: ShapeChecker, cell) -> Cell:
    try:
        return get_cell(cell)
    except ValueError as err:
        chk.fail(str(err).split(": ", 1)[1])


def _check_params(chk: ShapeChecker, params, c: Cell):
    if not isinstance(params, CharLMParams):
        chk.fail(f"params must be CharLMParams(cell, output), got {type(params).__name__}")
    want = params_type(c)
    if type(params.cell) is not want:
        chk.fail(f"params.cell must be the parameters of a {c.name!r} cell ({want.__name__}), "
                 f"got {type(params.cell).__name__}")
    V = chk.array("params.output.V", params.output.V, "K H")
    chk.array("params.output.b_y", params.output.b_y, "K")
    D, H = check_cell_params(chk, params.cell, c, "params.cell")
    if (D, H) != V.shape:
        chk.fail(f"params.cell must take one-hot inputs of size K = {V.shape[0]} and have "
                 f"H = {V.shape[1]} units (from params.output.V {V.shape}), got input size "
                 f"{D} and H = {H}")
    return V.shape


def perplexity(loss_per_char):
    """Perplexity ``exp(loss_per_char)`` of a loss in nats per character.

    ``loss_per_char``: float or array, non-negative (e.g. ``loss / T`` from
    :func:`charlm_loss`).  Returns a float (or an array of the same shape): K for
    a uniform guess over K symbols, 1 for a sure one.
    """
    arr = np.asarray(loss_per_char, dtype=np.float64)
    if np.any(np.isnan(arr)) or np.any(arr < 0):
        raise ValueError(f"perplexity: loss_per_char must be non-negative, got {loss_per_char!r}")
    out = np.exp(arr)
    return float(out) if out.ndim == 0 else out


def init_charlm(vocab_size: int, H: int, rng, cell="rnn") -> CharLMParams:
    """Initial parameters of a character model.

    Parameters
    ----------
    vocab_size : K, the number of symbols (input and output size).
    H : hidden units.
    rng : int seed or ``numpy.random.Generator``.
    cell : a name of :func:`rnncourse.cells.get_cell` (``"rnn"``, ``"gru"``, ``"lstm"``, ...).

    Returns
    -------
    CharLMParams(cell params with D = K, OutputParams(V (K, H), b_y (K,)))
    """
    chk = ShapeChecker("init_charlm")
    K = chk.positive_int("vocab_size", vocab_size)
    H = chk.positive_int("H", H)
    c = _cell(chk, cell)
    gen = as_rng(rng, "init_charlm")
    return CharLMParams(c.init(K, H, gen), init_output_params(H, K, gen))


def charlm_loss(params: CharLMParams, x_idx, y_idx, cell="rnn", h0=None):
    """Sequence cross-entropy of a character model and its gradients (BPTT).

    Parameters
    ----------
    params : CharLMParams.
    x_idx : (N, T) int, input characters ``c_t``.
    y_idx : (N, T) int, target characters ``c_{t+1}``.
    cell : the cell name ``params.cell`` belongs to.
    h0 : (N, H) initial hidden state, zeros when ``None`` (an LSTM starts from c_0 = 0).

    Returns
    -------
    loss : float, ``(1/N) sum_n sum_t -log softmax(o_t)[y_t]`` (divide by T for nats per char).
    grads : CharLMParams of gradients, same structure as ``params``.
    h_last : (N, H) hidden state after the last step.
    """
    chk = ShapeChecker("charlm_loss")
    c = _cell(chk, cell)
    K, H = _check_params(chk, params, c)
    x_idx = chk.array("x_idx", x_idx, "N T", dtype="int")
    chk.array("y_idx", y_idx, "N T", dtype="int")
    if x_idx.size and (x_idx.min() < 0 or x_idx.max() >= K):
        chk.fail(f"x_idx must hold character indices in [0, {K}), got values in "
                 f"[{x_idx.min()}, {x_idx.max()}]")
    x = one_hot(x_idx, K)                                   # x_t = onehot(c_t)       (N, T, K)
    with chk.renamed("params", "params.cell"):
        h, cache = c.forward(x, h0, params.cell)            # h_t = cell(x_t, h_{t-1}) (N, T, H)
    scores, ocache = output_forward(h, params.output)       # o_t = V h_t + b_y       (N, T, K)
    loss, dscores = softmax_cross_entropy(scores, y_idx)    # L = -(1/N) sum log yhat[y]
    dh, doutput = output_backward(dscores, ocache)          # back through o_t = V h_t + b_y
    g = c.backward(dh, cache)                               # BPTT through the cell
    return loss, CharLMParams(g.dparams, doutput), h[:, -1]


def _encoded(chk: ShapeChecker, data, vocab, name: str = "data") -> np.ndarray:
    if isinstance(data, str):
        if not isinstance(vocab, Vocabulary):
            chk.fail(f"vocab must be a Vocabulary to encode text, got {type(vocab).__name__}")
        return vocab.encode(data)
    return chk.array(name, data, "L_" + name, dtype="int")


def train_charlm(data, vocab: Optional[Vocabulary] = None, hidden: int = 64, steps: int = 300,
                 seq_len: int = 32, batch: int = 16, lr: float = 1e-2, optimizer: str = "adam",
                 clip: Optional[float] = 5.0, seed=0, cell="rnn", log_every: int = 10,
                 params: Optional[CharLMParams] = None, valid=None):
    """Train a character model on random windows of a corpus.

    Each step draws ``batch`` windows of ``seq_len + 1`` characters
    (:func:`rnncourse.corpus.batches`), computes :func:`charlm_loss` from a
    zero initial state, clips the gradients to global norm ``clip`` and
    takes one optimiser step.

    Parameters
    ----------
    data : str (encoded with ``vocab``) or (L,) int array of vocabulary indices.
    vocab : Vocabulary; when ``None`` and ``data`` is a str, ``Vocabulary.from_text(data)``.
        When ``data`` is an array, only ``vocab.size`` is used (or the size of ``params``).
    hidden : H, used when ``params`` is ``None``.
    steps : number of optimiser steps.
    seq_len : T, characters per window (the BPTT length).
    batch : N, windows per step.
    lr : learning rate.
    optimizer : ``"adam"`` or ``"sgd"``.
    clip : max global gradient norm, or ``None`` for no clipping.
    seed : int or Generator: initial parameters, then the windows.
    cell : cell name (see :func:`rnncourse.cells.get_cell`).
    log_every : log the mean loss every this many steps (and at the last step).
    params : CharLMParams to continue training from (then ``hidden`` is ignored).
    valid : optional held-out text (str or int array) evaluated at every log
        (``history.valid_loss``); costs one forward pass over it per log.

    Returns
    -------
    params : trained CharLMParams.
    history : CharLMHistory (step, loss per char, perplexity, grad_norm, valid_loss).
    """
    from .corpus import batches

    chk = ShapeChecker("train_charlm")
    c = _cell(chk, cell)
    if vocab is None and isinstance(data, str):
        vocab = Vocabulary.from_text(data)
    encoded = _encoded(chk, data, vocab)
    steps, T = chk.positive_int("steps", steps), chk.positive_int("seq_len", seq_len)
    N, log_every = chk.positive_int("batch", batch), chk.positive_int("log_every", log_every)
    chk.choice("optimizer", optimizer, ("adam", "sgd"))
    for name, value in (("lr", lr), ("clip", clip)):
        if (name == "lr" or value is not None) and not _positive_number(value):
            chk.fail(f"{name} must be a positive finite number{' or None' * (name == 'clip')}, "
                     f"got {value!r}")
    gen = as_rng(seed, "train_charlm")
    if params is None:
        if not isinstance(vocab, Vocabulary):
            chk.fail(f"vocab must be a Vocabulary when params is None, got {type(vocab).__name__}")
        params = init_charlm(vocab.size, chk.positive_int("hidden", hidden), gen, c)
    K, _ = _check_params(chk, params, c)
    if isinstance(vocab, Vocabulary) and vocab.size != K:
        chk.fail(f"vocab has {vocab.size} symbols but params.output.V has K = {K} rows")
    if encoded.size and (encoded.min() < 0 or encoded.max() >= K):
        chk.fail(f"data must hold indices in [0, {K}), got values in [{encoded.min()}, {encoded.max()}]")
    valid_enc = None if valid is None else _encoded(chk, valid, vocab, "valid")

    state = adam_init(params) if optimizer == "adam" else None
    log_step, log_loss, log_norm, log_valid = [], [], [], []
    run_loss, run_norm, run_n = 0.0, 0.0, 0
    for step in range(1, steps + 1):
        x_idx, y_idx = batches(encoded, N, T, gen)
        loss, grads, _ = charlm_loss(params, x_idx, y_idx, c)
        if clip is not None:
            grads, norm = clip_by_global_norm(grads, clip)
        else:
            norm = float(np.sqrt(sum(np.sum(g * g) for _, _, g in tree_leaves(grads)
                                     if g is not None)))
        if optimizer == "adam":
            params, state = adam_step(params, grads, state, lr=lr)
        else:
            params = sgd_step(params, grads, lr)
        run_loss += loss / T                                # nats per character
        run_norm += norm
        run_n += 1
        if step % log_every == 0 or step == steps:
            log_step.append(step)
            log_loss.append(run_loss / run_n)
            log_norm.append(run_norm / run_n)
            log_valid.append(np.nan if valid_enc is None else
                             evaluate_charlm(params, valid_enc, cell=c))
            run_loss, run_norm, run_n = 0.0, 0.0, 0
    loss_arr = np.asarray(log_loss)
    history = CharLMHistory(np.asarray(log_step), loss_arr, np.exp(loss_arr),
                            np.asarray(log_norm), np.asarray(log_valid))
    return params, history


def evaluate_charlm(params: CharLMParams, data, vocab: Optional[Vocabulary] = None,
                    cell="rnn", seq_len: int = 100) -> float:
    """Mean loss per character (nats) on a text, e.g. a held-out validation part.

    The text is cut into consecutive windows of ``seq_len`` predictions
    (each window starts from a zero state), so every character after the
    first is predicted exactly once.

    Parameters
    ----------
    params : CharLMParams.
    data : str (encoded with ``vocab``) or (L,) int array, L >= 2.
    vocab : Vocabulary, needed when ``data`` is a str.
    cell : cell name.
    seq_len : window length.

    Returns
    -------
    float, ``-(1/(L-1)) sum_t log P(c_{t+1} | window so far)``; ``perplexity`` of it for PPL.
    """
    chk = ShapeChecker("evaluate_charlm")
    c = _cell(chk, cell)
    K, _ = _check_params(chk, params, c)
    encoded = _encoded(chk, data, vocab)
    T = chk.positive_int("seq_len", seq_len)
    L = encoded.shape[0]
    if L < 2:
        chk.fail(f"data must hold at least 2 characters, got {L}")
    if encoded.min() < 0 or encoded.max() >= K:
        chk.fail(f"data must hold indices in [0, {K}), got values in [{encoded.min()}, {encoded.max()}]")

    def summed_nll(x_idx, y_idx):                           # forward pass only
        h, _ = c.forward(one_hot(x_idx, K), None, params.cell)
        scores, _ = output_forward(h, params.output)
        loss, _ = softmax_cross_entropy(scores, y_idx)      # mean over windows
        return loss * x_idx.shape[0]

    total, full = 0.0, (L - 1) // T                         # complete windows
    if full:
        idx = np.arange(full * T).reshape(full, T)
        total += summed_nll(encoded[idx], encoded[idx + 1])
    s = full * T
    if s < L - 1:                                           # the rest: one shorter window
        total += summed_nll(encoded[None, s:L - 1], encoded[None, s + 1:L])
    return total / (L - 1)


def _positive_number(value, allow_zero: bool = False) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) \
        and bool(np.isfinite(value)) and (value > 0 or (allow_zero and value == 0))


def _check_temperature(chk: ShapeChecker, temperature) -> float:
    if not _positive_number(temperature, allow_zero=True):
        chk.fail(f"temperature must be a finite number >= 0 (0 = always the most likely "
                 f"character), got {temperature!r}")
    return float(temperature)


def sample(params: CharLMParams, vocab: Vocabulary, n: int = 200, seed=0,
           temperature: float = 1.0, prefix: str = "", cell="rnn",
           stop_at_eos: bool = True) -> str:
    """Generate text by feeding the model its own samples.

    Parameters
    ----------
    params : CharLMParams (trained).
    vocab : the Vocabulary the model was trained with.
    n : maximum number of characters to generate (after ``prefix``).
    seed : int seed or ``numpy.random.Generator``: equal seeds give equal text.
    temperature : scores are divided by it before the softmax,
        ``P(k) ∝ exp(o_k / temperature)``: 1 samples the model's own
        distribution, below 1 sharpens it (safer, more repetitive text),
        above 1 flattens it (more surprising, more misspelt text); 0 always
        takes the most likely character.  Negative or non-finite: ValueError.
    prefix : text to start from (its characters must be in ``vocab``); it is
        fed to the model first and returned at the start of the result.
    cell : the cell name ``params.cell`` belongs to.
    stop_at_eos : stop as soon as the end-of-sequence symbol is drawn (it is
        not included in the result).

    Returns
    -------
    str, ``prefix`` followed by at most ``n`` generated characters.
    """
    chk = ShapeChecker("sample")
    c = _cell(chk, cell)
    K, H = _check_params(chk, params, c)
    if not isinstance(vocab, Vocabulary) or vocab.size != K:
        chk.fail(f"vocab must be the Vocabulary of the model ({K} symbols), got "
                 f"{vocab.size if isinstance(vocab, Vocabulary) else type(vocab).__name__}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        chk.fail(f"n must be a non-negative integer, got {n!r}")
    tau = _check_temperature(chk, temperature)
    gen = as_rng(seed, "sample")
    if c.step_forward is None:
        chk.fail(f"cell {c.name!r} has no step_forward, which sampling needs")
    V, b_y = params.output

    # Warm up: the EOS symbol ("a sequence starts here"), then the prefix.
    # Without EOS and prefix, the first input is the zero vector.
    warm = list(vocab.encode(prefix))
    if vocab.eos_index is not None:
        warm.insert(0, vocab.eos_index)
    eye = np.eye(K)                                         # eye[k:k+1] = onehot(k), (1, K)
    state = c.init_state(1, H)
    for k in warm or [None]:
        x = np.zeros((1, K)) if k is None else eye[k:k + 1]
        h, state, _ = c.step_forward(x, state, params.cell)    # through the cell's step

    out = []
    for i in range(n):
        scores = (h @ V.T + b_y)[0]                         # o_t = V h_t + b_y     (K,)
        if tau == 0.0:
            k = int(np.argmax(scores))                      # greedy: most likely character
        else:
            p = softmax(scores / tau)                       # P(k) ∝ exp(o_k / τ)
            k = int(gen.choice(K, p=p))
        if stop_at_eos and k == vocab.eos_index:
            break
        out.append(k)
        if i + 1 < n:                                       # feed the draw back in
            h, state, _ = c.step_forward(eye[k:k + 1], state, params.cell)
    return prefix + vocab.decode(np.array(out, dtype=np.int64))
