r"""rnncourse: the reference NumPy implementation behind the book and the graded exercises.

Every function is pure: ``*_forward`` returns its outputs and a cache (a
``typing.NamedTuple``), ``*_backward`` takes the upstream gradient(s) and that
cache and returns the gradients; no input is ever modified.  Arrays are float64.
Bad input raises ``ValueError`` naming the function, the argument, the shape
expected and the shape received.

Conventions (one for the whole package)
---------------------------------------
Batches are rows and time is the second axis:

==========  ================  ==================================================
array       shape             meaning
==========  ================  ==================================================
x           (N, T, D)         N sequences, T steps, D input features
h0          (N, H)            initial hidden state (zeros when ``None``)
h           (N, T, H)         hidden state after every step
c0, c       (N, H), (N,T,H)   LSTM cell state
scores      (N, T, K)         output scores over K classes (many-to-many)
y           (N, T) int        target class per step
scores, y   (N, K), (N,)      many-to-one: the output layer on ``h[:, -1]``
==========  ================  ==================================================

Argument order and return values (one convention, no exceptions)
-----------------------------------------------------------------
A forward function takes **the inputs, then the state(s), then the parameters,
then options**, and returns **the outputs, then the cache**; its backward takes
**the upstream gradient(s), then the cache** and returns a NamedTuple with one
``d<name>`` field per input, in the forward's argument order.  Optional extras
are keyword-only, after everything else: an initial state that a layer may go
without beyond the first (an LSTM's ``c0``) or that was added to it later
(``deep_forward``'s ``h0``), and an optional upstream gradient (``dc_last``);
``None`` means zeros, and a state's gradient field is filled only when it was given.
So positional calls never change when such an extra is added.  A *step* returns
its new state(s) before the cache (``h_next, c_next, cache``); a *layer* returns
``(h, cache)`` whatever its cell, and any further per-step output (an LSTM's cell
states) is a documented field of its cache (``cache.c``, (N, T, H)).

Every layer, step and cell follows it:

* ``rnn_step_forward(x, h_prev, params, activation) -> (h_next, cache)``,
  ``rnn_forward(x, h0, params, activation) -> (h, cache)``; the same for
  ``simple_gru_*`` and ``gru_*`` (``reset_after`` is the option);
* ``lstm_step_forward(x, h_prev, c_prev, params) -> (h_next, c_next, cache)``,
  ``lstm_forward(x, h0, params, *, c0=None) -> (h, cache)`` with ``cache.c`` the
  cell states (``cache.c[:, -1]`` is PyTorch's ``c_n``);
* ``bidirectional_forward(x, h0, params, cell="rnn", *, c0=None) -> (h, cache)``,
  ``deep_forward(x, layers, cell, bidirectional, *, h0=None, c0=None) -> (h, cache)``;
* ``hidden_gradient_norms(x, h0, params, cell="rnn", *, c0=None, ...) -> norms``
  (a measurement, not a layer, in the same order);
* ``rnn_step_backward(dh_next, cache) -> StepGrads(dx, dh_prev, dparams)``,
  ``lstm_step_backward(dh_next, dc_next, cache) -> LSTMStepGrads(dx, dh_prev,
  dc_prev, dparams)``, ``rnn_backward(dh, cache) -> SequenceGrads(dx, dh0,
  dparams)``, ``lstm_backward(dh, cache, *, dc_last=None) -> LSTMSequenceGrads(dx,
  dh0, dparams, dc0)``, ``bidirectional_backward(dh, cache) ->
  BidirectionalGrads(dx, dh0, dparams, dc0)``, ``deep_backward(dh_top, cache) ->
  DeepGrads(dx, dlayers, dh0, dc0)``;
* the registry's ``Cell.forward(x, h0, params[, *, c0]) -> (h, cache)``,
  ``Cell.step_forward(x, state, params) -> (h, state, cache)`` and
  ``Cell.step_backward(dstate, cache) -> (dx, dstate_prev, dparams)``.

Optimisers and losses take the parameters first, ``sgd_step(params, grads, lr)``,
``charlm_loss(params, x_idx, ...)``: they are functions *of* the parameters, not
layers, so the convention does not apply to them.

Weights have one row per output unit (PyTorch's layout), so the column-vector
equation of the book, ``net_t = U x_t + W h_{t-1} + b``, is the code
``x_t @ U.T + h_prev @ W.T + b`` applied to a batch of rows.  Gated cells stack
their gates' rows in one matrix, in PyTorch's order:

==========  ================  ==================================================
cell        gate row blocks   U, W, b shapes
==========  ================  ==================================================
RNN         (one block)       U (H, D), W (H, H), b (H,)
simple GRU  z, n              U (2H, D), W (2H, H), b (2H,)
GRU         r, z, n           U (3H, D), W (3H, H), b (3H,), [b_hn (H,)]
LSTM        i, f, g, o        U (4H, D), W (4H, H), b (4H,), [P (3, H) peepholes]
output      —                 V (K, H), b_y (K,)
==========  ================  ==================================================

Notation map
------------
=====================  ===============  ====================  ==============================
this package           notes (U/W/V)    Ng (deeplearning.ai)  PyTorch ``nn.RNN/GRU/LSTM``
=====================  ===============  ====================  ==============================
``x[:, t]``            x_t              x^<t>                 ``input[:, t]`` (batch_first)
``h[:, t]``            h_t / s_t        a^<t>                 ``output[:, t]``
``U``                  U                W_ax                  ``weight_ih_l0``
``W``                  W                W_aa                  ``weight_hh_l0``
``b``                  b                b_a                   ``bias_ih_l0 + bias_hh_l0``
``V``, ``b_y``         V, c             W_ya, b_y             ``nn.Linear`` weight, bias
``c[:, t]`` (LSTM)     c_t              c^<t>                 ``c_n`` (last step only)
GRU update gate z      —                Γ_u                   ``1 - z`` (rows H:2H negated)
GRU reset gate r       —                Γ_r                   ``r``
GRU ``b_hn``           —                —                     ``bias_hh_l0[2H:3H]``
=====================  ===============  ====================  ==============================

The GRU's update gate follows the notes: ``h_t = z * h~_t + (1 - z) * h_{t-1}``
(z near 1 overwrites the memory).  PyTorch writes ``h_t = (1 - z') * n + z' * h_{t-1}``,
so ``z' = 1 - z = sigmoid(-a)``: the update-gate rows of PyTorch's weights and
biases are the negatives of ours.  ``reset_after=False`` (the notes, Cho et al.)
multiplies ``r * h_{t-1}`` before the matrix product; ``reset_after=True``
(PyTorch, cuDNN, Keras' ``reset_after``) applies ``r`` after it and needs the
separate hidden bias ``b_hn``.  The book's time index starts at 1; ``h[:, 0]``
is :math:`h_1`.

Initialisation (each cell's ``init_*`` function, seeded by ``rng``)
-------------------------------------------------------------------
==========================  ==================================================
function                    default values
==========================  ==================================================
``init_rnn_params``         ``scheme="xavier"``: U, W Xavier uniform, b = 0;
                            ``"orthogonal"``: W orthogonal; ``"irnn"``: W = I,
                            U ~ N(0, 0.001^2) (for ReLU, Le et al. 2015)
``init_gru_params``,        U Xavier uniform per gate block, W one random
``init_simple_gru_params``  orthogonal (H, H) matrix per gate block, b = 0
                            (and ``b_hn`` = 0 when ``reset_after=True``)
``init_lstm_params``        U, W (and P) U(-1/sqrt(H), 1/sqrt(H)) as PyTorch;
                            b = 0 except the forget block ``b[H:2H] = 1``
``init_output_params``      V Xavier uniform, b_y = 0
==========================  ==================================================

The schemes differ on purpose: each cell follows its usual recipe (Xavier for
the tanh RNN, orthogonal recurrent blocks for the GRU, PyTorch's default and a
forget bias of 1 for the LSTM).

Modules
-------
=================  ==========================================================
``activations``    sigmoid, tanh, relu and their derivatives from the output
``rnn``            vanilla RNN step and sequence, forward and BPTT
``output``         output layer, softmax, sequence cross-entropy
                   (many-to-many on (N, T, H), many-to-one on ``h[:, -1]``)
``initializers``   Xavier, orthogonal, identity (IRNN), PyTorch's uniform, GRU gate
                   blocks; RNN and output params (every cell's ``init_*`` uses them)
``tree``           nested parameter containers: ``tree_map``, ``tree_leaves``, ...
``gradcheck``      numerical gradient, relative error, ``check_gradients``
``clipping``       clipping by global norm and by value
``gradient_flow``  ||dL/dh_k|| for k = 1..T, for every registered cell
``simple_gru``     the notes' simplified GRU (update gate only)
``gru``            the full GRU (both ``reset_after``)
``lstm``           LSTM with optional peepholes
``cells``          registry of the cells behind one interface: sequence and step
                   functions, initial state (``get_cell``, ``register_cell``)
``bidirectional``  bidirectional layer over any cell
``deep``           stacked layers of any cell, optionally bidirectional
``text``           ``Vocabulary`` (with an end-of-sequence symbol), ``one_hot``
``corpus``         the shipped corpora, training windows, train/validation split
``optim``          functional SGD and Adam
``charlm``         character language model: loss, training, sampling, perplexity
``tasks``          adding problem and copy task
``grading``        subpackage: the test cells' checks (``check``) and the helpers of the
                   assignments' ``checks.py``; inside ``rnncourse`` so that a student's
                   notebook can check its work without the grader, whose trusted side is
                   the sibling package ``rnncourse_grader`` (reasons: its docstring)
``seqpairs``       sequence pairs: padded batches (PAD, EOS conventions), reversal task
``dates``          dates in 13 human formats to ISO 8601, held-out split by date
``attention``      additive (Bahdanau) attention, forward and backward
``seq2seq``        encoder-decoder over any cell, with or without attention
``seq2seq_train``  training it: fresh batches, clipping, Adam (``train_seq2seq``)
``decoding``       greedy and beam search (length normalisation), exact match
=================  ==========================================================

Every name below is re-exported at the top level (``rnncourse.rnn_forward``).
Two short names are kept there because the book uses them:
``rnncourse.sample`` is ``rnncourse.charlm.sample`` (text from a trained
character model) and ``rnncourse.batches`` is ``rnncourse.corpus.batches``
(random training windows).
"""
from .activations import relu, sigmoid, tanh
from .bidirectional import (BidirectionalGrads, BidirectionalParams, bidirectional_backward,
                            bidirectional_forward)
from .cells import CELL_NAMES, Cell, cell_names, get_cell, register_cell
from .charlm import (CharLMHistory, CharLMParams, charlm_loss, evaluate_charlm, init_charlm,
                     perplexity, sample, train_charlm)
from .clipping import clip_by_global_norm, clip_by_value, global_norm
from .corpus import available_corpora, batches, load_corpus, split_corpus
from .deep import DeepGrads, deep_backward, deep_forward, init_deep_params
from .gradcheck import GradCheckReport, check_gradients, numerical_gradient, relative_error
from .gradient_flow import hidden_gradient_norms
from .gru import (GRUCache, GRUParams, GRUStepCache, gru_backward, gru_forward,
                  gru_step_backward, gru_step_forward, init_gru_params)
from .simple_gru import (SimpleGRUCache, SimpleGRUParams, SimpleGRUStepCache,
                         init_simple_gru_params, simple_gru_backward, simple_gru_forward,
                         simple_gru_step_backward, simple_gru_step_forward)
from .initializers import (identity, init_output_params, init_rnn_params, orthogonal,
                           xavier_normal, xavier_uniform)
from .lstm import (LSTMCache, LSTMParams, LSTMSequenceGrads, LSTMStepCache, LSTMStepGrads,
                   init_lstm_params, lstm_backward, lstm_forward, lstm_step_backward,
                   lstm_step_forward)
from .optim import AdamState, adam_init, adam_step, sgd_step
from .output import (OutputCache, OutputParams, log_softmax, output_backward,
                     output_forward, softmax, softmax_cross_entropy)
from .rnn import (RNNCache, RNNParams, RNNStepCache, SequenceGrads, StepGrads,
                  rnn_backward, rnn_forward, rnn_step_backward, rnn_step_forward)
from .tasks import adding_problem, copy_task
from .text import Vocabulary, one_hot
from .attention import (AttentionParams, attention_backward, attention_forward, attention_keys,
                        attention_keys_backward, attention_step_backward,
                        attention_step_forward, init_attention_params)
from .dates import DATE_FORMATS, date_pairs, date_vocabularies, format_date
from .decoding import Hypothesis, beam_search, exact_match, greedy_decode
from .seq2seq import (Seq2SeqHistory, Seq2SeqParams, decoder_step_backward, decoder_step_forward,
                      init_seq2seq, seq2seq_backward, seq2seq_forward, seq2seq_loss,
                      train_seq2seq)
from .seqpairs import Seq2SeqBatch, encode_pairs, reversal_task, reversal_vocabularies

__version__ = "0.1.0"

__all__ = [
    # activations
    "relu", "sigmoid", "tanh",
    # rnn, output
    "RNNCache", "RNNParams", "RNNStepCache", "SequenceGrads", "StepGrads",
    "rnn_backward", "rnn_forward", "rnn_step_backward", "rnn_step_forward",
    "OutputCache", "OutputParams", "log_softmax", "output_backward", "output_forward",
    "softmax", "softmax_cross_entropy",
    # initialisation, gradients
    "identity", "init_output_params", "init_rnn_params", "orthogonal", "xavier_normal",
    "xavier_uniform",
    "GradCheckReport", "check_gradients", "numerical_gradient", "relative_error",
    "clip_by_global_norm", "clip_by_value", "global_norm", "hidden_gradient_norms",
    # gated cells, registry, layers
    "GRUCache", "GRUParams", "GRUStepCache", "SimpleGRUCache", "SimpleGRUParams",
    "SimpleGRUStepCache", "gru_backward", "gru_forward", "gru_step_backward",
    "gru_step_forward", "init_gru_params", "init_simple_gru_params", "simple_gru_backward",
    "simple_gru_forward", "simple_gru_step_backward", "simple_gru_step_forward",
    "LSTMCache", "LSTMParams", "LSTMSequenceGrads", "LSTMStepCache", "LSTMStepGrads",
    "init_lstm_params", "lstm_backward", "lstm_forward", "lstm_step_backward",
    "lstm_step_forward",
    "CELL_NAMES", "Cell", "cell_names", "get_cell", "register_cell",
    "BidirectionalGrads", "BidirectionalParams", "bidirectional_backward",
    "bidirectional_forward",
    "DeepGrads", "deep_backward", "deep_forward", "init_deep_params",
    # text, corpus, optimisers, language model, tasks
    "Vocabulary", "one_hot",
    "available_corpora", "batches", "load_corpus", "split_corpus",
    "AdamState", "adam_init", "adam_step", "sgd_step",
    "CharLMHistory", "CharLMParams", "charlm_loss", "evaluate_charlm", "init_charlm",
    "perplexity", "sample", "train_charlm",
    "adding_problem", "copy_task",
    # sequence to sequence
    "Seq2SeqBatch", "encode_pairs", "reversal_task", "reversal_vocabularies",
    "DATE_FORMATS", "date_pairs", "date_vocabularies", "format_date",
    "AttentionParams", "attention_backward", "attention_forward", "attention_keys",
    "attention_keys_backward", "attention_step_backward", "attention_step_forward",
    "init_attention_params",
    "Seq2SeqHistory", "Seq2SeqParams", "decoder_step_backward", "decoder_step_forward",
    "init_seq2seq", "seq2seq_backward", "seq2seq_forward", "seq2seq_loss", "train_seq2seq",
    "Hypothesis", "beam_search", "exact_match", "greedy_decode",
]
