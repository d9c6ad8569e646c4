"""Bad input gives a ValueError that names the argument, for every public
forward / backward / step function of the package (one table, generic
corruptions), and no public function modifies its inputs.

Each row of ``CALLS`` builds valid keyword arguments for one function.  For
every float array in them (also inside NamedTuple params) the test tries: one
axis too many, a NaN, an int dtype; for every params NamedTuple: a recurrent
matrix W with one column too few, and a plain dict instead of the NamedTuple;
for every cache: a dict instead of the NamedTuple.  Each must raise a
``ValueError`` whose message names the argument (``x``, ``params.W``,
``layers[0].W``, ``cache`` ...); for shape errors it must also show the
received shape.
"""
from __future__ import annotations

import numpy as np
import pytest

from rnncourse import (bidirectional, cells, charlm, clipping, deep, gradient_flow, gru,
                       initializers, lstm, output, rnn, tasks, text)

N, T, D, H, K = 2, 3, 4, 5, 6


def _rng():
    return np.random.default_rng(0)


def _rnn_params(rng, d=D):
    return rnn.RNNParams(rng.normal(size=(H, d)), rng.normal(size=(H, H)) * 0.3, rng.normal(size=H))


def _seq(rng):
    return rng.normal(size=(N, T, D))


def _step_backward_row(fwd, n_upstream=1):
    """kwargs for a step backward: upstream grads (N, H) and a cache from ``fwd``."""
    def make(rng):
        out = fwd(rng)
        cache = out[-1]
        kw = {"dh_next": rng.normal(size=(N, H))}
        if n_upstream == 2:
            kw["dc_next"] = rng.normal(size=(N, H))
        kw["cache"] = cache
        return kw
    return make


def _seq_backward_row(fwd, name="dh", width=H):
    def make(rng):
        cache = fwd(rng)[-1]
        return {name: rng.normal(size=(N, T, width)), "cache": cache}
    return make


# ---- forward builders (return the function's outputs, the cache last) -------
def _rnn_step(rng):
    return rnn.rnn_step_forward(rng.normal(size=(N, D)), rng.normal(size=(N, H)), _rnn_params(rng))


def _rnn_seq(rng):
    return rnn.rnn_forward(_seq(rng), rng.normal(size=(N, H)), _rnn_params(rng))


def _sgru_params(rng):
    return gru.init_simple_gru_params(D, H, rng)


def _gru_params(rng, reset_after=False):
    return gru.init_gru_params(D, H, rng, reset_after=reset_after)


def _sgru_step(rng):
    return gru.simple_gru_step_forward(rng.normal(size=(N, D)), rng.normal(size=(N, H)),
                                       _sgru_params(rng))


def _sgru_seq(rng):
    return gru.simple_gru_forward(_seq(rng), rng.normal(size=(N, H)), _sgru_params(rng))


def _gru_step(rng):
    return gru.gru_step_forward(rng.normal(size=(N, D)), rng.normal(size=(N, H)),
                                _gru_params(rng, True), reset_after=True)


def _gru_seq(rng):
    return gru.gru_forward(_seq(rng), rng.normal(size=(N, H)), _gru_params(rng))


def _lstm_params(rng):
    return lstm.init_lstm_params(D, H, rng, peepholes=True)


def _lstm_step(rng):
    return lstm.lstm_step_forward(rng.normal(size=(N, D)), rng.normal(size=(N, H)),
                                  rng.normal(size=(N, H)), _lstm_params(rng))


def _lstm_seq(rng):
    return lstm.lstm_forward(_seq(rng), rng.normal(size=(N, H)), _lstm_params(rng),
                             c0=rng.normal(size=(N, H)))


def _bi_params(rng, d=D):
    return bidirectional.BidirectionalParams(_rnn_params(rng, d), _rnn_params(rng, d))


def _bi_seq(rng):
    return bidirectional.bidirectional_forward(_seq(rng), params=_bi_params(rng), cell="rnn",
                                               h0=rng.normal(size=(2, N, H)))


def _deep_seq(rng):
    return deep.deep_forward(_seq(rng), [_rnn_params(rng), _rnn_params(rng, H)], "rnn")


def _out(rng):
    return output.output_forward(rng.normal(size=(N, T, H)),
                                 initializers.init_output_params(H, K, rng))


def _charlm_params(rng):
    return charlm.init_charlm(K, H, rng)


# name -> (function, make kwargs)
CALLS = {
    "rnn_step_forward": (rnn.rnn_step_forward, lambda r: dict(
        x=r.normal(size=(N, D)), h_prev=r.normal(size=(N, H)), params=_rnn_params(r))),
    "rnn_step_backward": (rnn.rnn_step_backward, _step_backward_row(_rnn_step)),
    "rnn_forward": (rnn.rnn_forward, lambda r: dict(
        x=_seq(r), h0=r.normal(size=(N, H)), params=_rnn_params(r))),
    "rnn_backward": (rnn.rnn_backward, _seq_backward_row(_rnn_seq)),
    "simple_gru_step_forward": (gru.simple_gru_step_forward, lambda r: dict(
        x=r.normal(size=(N, D)), h_prev=r.normal(size=(N, H)), params=_sgru_params(r))),
    "simple_gru_step_backward": (gru.simple_gru_step_backward, _step_backward_row(_sgru_step)),
    "simple_gru_forward": (gru.simple_gru_forward, lambda r: dict(
        x=_seq(r), h0=r.normal(size=(N, H)), params=_sgru_params(r))),
    "simple_gru_backward": (gru.simple_gru_backward, _seq_backward_row(_sgru_seq)),
    "gru_step_forward": (gru.gru_step_forward, lambda r: dict(
        x=r.normal(size=(N, D)), h_prev=r.normal(size=(N, H)), params=_gru_params(r, True),
        reset_after=True)),
    "gru_step_backward": (gru.gru_step_backward, _step_backward_row(_gru_step)),
    "gru_forward": (gru.gru_forward, lambda r: dict(
        x=_seq(r), h0=r.normal(size=(N, H)), params=_gru_params(r))),
    "gru_backward": (gru.gru_backward, _seq_backward_row(_gru_seq)),
    "lstm_step_forward": (lstm.lstm_step_forward, lambda r: dict(
        x=r.normal(size=(N, D)), h_prev=r.normal(size=(N, H)), c_prev=r.normal(size=(N, H)),
        params=_lstm_params(r))),
    "lstm_step_backward": (lstm.lstm_step_backward, _step_backward_row(_lstm_step, 2)),
    "lstm_forward": (lstm.lstm_forward, lambda r: dict(
        x=_seq(r), h0=r.normal(size=(N, H)), params=_lstm_params(r), c0=r.normal(size=(N, H)))),
    "lstm_backward": (lstm.lstm_backward, lambda r: dict(
        dh=r.normal(size=(N, T, H)), cache=_lstm_seq(r)[-1], dc_last=r.normal(size=(N, H)))),
    "bidirectional_forward": (bidirectional.bidirectional_forward, lambda r: dict(
        x=_seq(r), params=_bi_params(r), cell="rnn", h0=r.normal(size=(2, N, H)))),
    "bidirectional_backward": (bidirectional.bidirectional_backward,
                               _seq_backward_row(_bi_seq, width=2 * H)),
    "deep_forward": (deep.deep_forward, lambda r: dict(
        x=_seq(r), layers=[_rnn_params(r), _rnn_params(r, H)], cell="rnn")),
    "deep_backward": (deep.deep_backward, _seq_backward_row(_deep_seq, name="dh_top")),
    "output_forward": (output.output_forward, lambda r: dict(
        h=r.normal(size=(N, T, H)), params=initializers.init_output_params(H, K, r))),
    "output_backward": (output.output_backward, _seq_backward_row(_out, name="dscores", width=K)),
    "softmax_cross_entropy": (output.softmax_cross_entropy, lambda r: dict(
        scores=r.normal(size=(N, T, K)), y=r.integers(0, K, size=(N, T)))),
    "charlm_loss": (charlm.charlm_loss, lambda r: dict(
        params=_charlm_params(r), x_idx=r.integers(0, K, size=(N, T)),
        y_idx=r.integers(0, K, size=(N, T)), cell="rnn", h0=r.normal(size=(N, H)))),
    "clip_by_global_norm": (clipping.clip_by_global_norm, lambda r: dict(
        grads=_rnn_params(r), max_norm=1.0)),
    "clip_by_value": (clipping.clip_by_value, lambda r: dict(grads=_rnn_params(r), clip_value=1.0)),
    "one_hot": (text.one_hot, lambda r: dict(indices=r.integers(0, K, size=(N, T)), K=K)),
    "hidden_gradient_norms": (gradient_flow.hidden_gradient_norms, lambda r: dict(
        x=_seq(r), h0=r.normal(size=(N, H)), params=_lstm_params(r), cell="lstm",
        c0=r.normal(size=(N, H)), dh_last=r.normal(size=(N, H)), return_cell=True)),
}


# ---- sequence to sequence (rnncourse.attention, rnncourse.seq2seq) ----------
from rnncourse import attention, seq2seq  # noqa: E402

S2 = 4                                                   # source length


def _att_kw(r, keys=False):
    kw = dict(s_prev=r.normal(size=(N, H)), h=r.normal(size=(N, S2, D)),
              mask=np.ones((N, S2), dtype=bool), params=attention.init_attention_params(H, D, 3, r))
    if keys:
        kw["keys"] = attention.attention_keys(kw["h"], kw["params"])[0]
    return kw


def _att_back(fwd):
    return lambda r: dict(dcontext=r.normal(size=(N, D)), dalpha=r.normal(size=(N, S2)),
                          cache=fwd(**_att_kw(r, fwd is attention.attention_step_forward))[-1])


def _s2s_kw(r):
    return dict(params=seq2seq.init_seq2seq(K, K, H, r, "rnn"), src=r.integers(0, K, (N, S2)),
                src_mask=np.ones((N, S2), dtype=bool), y_in=r.integers(0, K, (N, T)), cell="rnn")


def _dec_kw(r):
    p = seq2seq.init_seq2seq(K, K, H, r, "rnn")
    enc = seq2seq.encode(p, r.integers(0, K, (N, S2)), None, "rnn")[0]
    return dict(y_prev=r.integers(0, K, N), state=[r.normal(size=(N, H))], enc=enc, params=p,
                cell="rnn")


CALLS.update({
    "attention_forward": (attention.attention_forward, _att_kw),
    "attention_backward": (attention.attention_backward, _att_back(attention.attention_forward)),
    "attention_step_forward": (attention.attention_step_forward, lambda r: _att_kw(r, True)),
    "attention_step_backward": (attention.attention_step_backward,
                                _att_back(attention.attention_step_forward)),
    "attention_keys_backward": (attention.attention_keys_backward, lambda r: dict(
        dkeys=r.normal(size=(N, S2, 3)), cache=attention.attention_keys(
            **{k: v for k, v in _att_kw(r).items() if k in ("h", "params")})[1])),
    "seq2seq_forward": (seq2seq.seq2seq_forward, _s2s_kw),
    "seq2seq_backward": (seq2seq.seq2seq_backward, _seq_backward_row(
        lambda r: seq2seq.seq2seq_forward(**_s2s_kw(r)), name="dscores", width=K)),
    "decoder_step_forward": (seq2seq.decoder_step_forward, _dec_kw),
    "decoder_step_backward": (seq2seq.decoder_step_backward, lambda r: dict(
        dscores=r.normal(size=(N, K)), dstate=[r.normal(size=(N, H))],
        cache=seq2seq.decoder_step_forward(**_dec_kw(r))[-1])),
})

# Gradient clipping passes NaN and inf through on purpose (the norm reports it,
# as torch.nn.utils.clip_grad_norm_ does), so NaN is no error there.
NAN_ALLOWED = {"clip_by_global_norm", "clip_by_value"}
# One-hot takes indices of any shape, so an extra axis is no error there.
ANY_RANK = {"one_hot", "clip_by_global_norm", "clip_by_value"}
# The output layer takes h of any leading shape ((N, T, H) or (N, H)).
ANY_RANK_ARGS = {("output_forward", "h")}


def _is_params(v):
    return isinstance(v, tuple) and hasattr(v, "_fields") and hasattr(v, "W")


def _is_cache(name):
    return name == "cache"


def _leaves(kw):
    """(path, getter-path) of every float / int array reachable from kwargs."""
    out = []

    def walk(path, keys, v):
        if isinstance(v, np.ndarray):
            out.append((path, keys))
        elif isinstance(v, tuple) and hasattr(v, "_fields") and not _is_cache(keys[0]):
            for f, sub in zip(v._fields, v):
                walk(f"{path}.{f}", keys + (f,), sub)
        elif isinstance(v, list):
            for i, sub in enumerate(v):
                walk(f"{path}[{i}]", keys + (i,), sub)
    for k, v in kw.items():
        walk(k, (k,), v)
    return out


def _replace(kw, keys, new):
    """A copy of kwargs with the leaf at ``keys`` replaced by ``new`` (containers rebuilt)."""
    def rebuild(v, rest):
        if not rest:
            return new
        k = rest[0]
        if isinstance(v, list):
            w = list(v)
            w[k] = rebuild(v[k], rest[1:])
            return w
        return v._replace(**{k: rebuild(getattr(v, k), rest[1:])})
    kw = dict(kw)
    kw[keys[0]] = rebuild(kw[keys[0]], keys[1:])
    return kw


def _get(kw, keys):
    v = kw[keys[0]]
    for k in keys[1:]:
        v = v[k] if isinstance(v, list) else getattr(v, k)
    return v


def _corruptions(fname, kw):
    """Yield (label, bad kwargs, name the message must contain, shape it must show or None)."""
    for path, keys in _leaves(kw):
        a = _get(kw, keys)
        is_float = np.issubdtype(a.dtype, np.floating)
        if fname not in ANY_RANK and (fname, path) not in ANY_RANK_ARGS:
            bad = a[None]
            yield f"{path} rank", _replace(kw, keys, bad), path, bad.shape
        if is_float and fname not in NAN_ALLOWED:
            bad = a.copy()
            bad.flat[0] = np.nan
            yield f"{path} nan", _replace(kw, keys, bad), path, None
        if is_float:
            yield f"{path} int", _replace(kw, keys, np.ones(a.shape, dtype=np.int64)), path, None
        elif a.dtype.kind in "iu":
            yield f"{path} float", _replace(kw, keys, a.astype(np.float64) + 0.5), path, None
    for path, keys in [(p, k) for p, k in _leaves(kw) if k[-1] == "W"]:
        W = _get(kw, keys)
        if W.ndim == 2 and fname not in ANY_RANK:
            yield f"{path} mismatched", _replace(kw, keys, W[:, :-1]), path, W[:, :-1].shape
    for k, v in kw.items():
        if _is_params(v) or (isinstance(v, tuple) and hasattr(v, "_fields") and k != "cache"):
            if fname in ANY_RANK:
                continue
            yield f"{k} as dict", {**kw, k: dict(v._asdict())}, k, None
        if _is_cache(k):
            yield f"{k} as dict", {**kw, k: dict(v._asdict())}, k, None


def _fmt(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


ROWS = [(fname, label, bad, name, shape)
        for fname, (fn, make) in CALLS.items()
        for label, bad, name, shape in _corruptions(fname, make(_rng()))]


@pytest.mark.parametrize("fname", list(CALLS))
def test_valid_arguments_are_accepted(fname):
    fn, make = CALLS[fname]
    fn(**make(_rng()))                                   # the table's base case is valid


@pytest.mark.parametrize("fname,label,bad,name,shape", ROWS,
                         ids=[f"{r[0]}:{r[1]}" for r in ROWS])
def test_bad_input_raises_value_error_naming_the_argument(fname, label, bad, name, shape):
    fn, _ = CALLS[fname]
    with pytest.raises(ValueError) as err:
        fn(**bad)
    msg = str(err.value)
    assert msg.startswith(fname.split(".")[-1] + ":") or fname in msg, msg
    assert name in msg, f"{label}: message does not name {name!r}: {msg}"
    if shape is not None:
        assert _fmt(shape) in msg, f"{label}: message does not show the shape {shape}: {msg}"


def test_the_table_covers_every_public_forward_backward_and_step_function():
    import rnncourse
    wanted = {n for n in dir(rnncourse) if n.endswith(("_forward", "_backward"))}
    assert wanted <= set(CALLS), sorted(wanted - set(CALLS))
    assert len(ROWS) > 4 * len(CALLS)


# ---------------------------------------------------------------------------
# no input mutation: every array read-only, and equal to a copy afterwards
# ---------------------------------------------------------------------------
def _freeze(v):
    """Set ``writeable=False`` on every array in v (NamedTuples, lists, dicts)."""
    if isinstance(v, np.ndarray):
        v.flags.writeable = False
    elif isinstance(v, (tuple, list)):
        for sub in v:
            _freeze(sub)
    elif isinstance(v, dict):
        for sub in v.values():
            _freeze(sub)


def _snapshot(v):
    if isinstance(v, np.ndarray):
        return v.copy()
    if isinstance(v, tuple) and hasattr(v, "_fields"):
        return type(v)(*(_snapshot(s) for s in v))
    if isinstance(v, (tuple, list)):
        return type(v)(_snapshot(s) for s in v)
    if isinstance(v, dict):
        return {k: _snapshot(s) for k, s in v.items()}
    return v


def _assert_same(a, b, path):
    if isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=path)
    elif isinstance(a, (tuple, list)):
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        for k in a:
            _assert_same(a[k], b[k], f"{path}[{k!r}]")


@pytest.mark.parametrize("fname", list(CALLS))
def test_no_function_modifies_its_inputs(fname):
    """Read-only inputs (caches included) are accepted and come back unchanged."""
    fn, make = CALLS[fname]
    kw = make(_rng())
    before = _snapshot(kw)
    _freeze(kw)
    fn(**kw)
    for k in kw:
        _assert_same(kw[k], before[k], k)


@pytest.mark.parametrize("cell", cells.CELL_NAMES)
def test_cell_registry_functions_accept_read_only_inputs(cell):
    c = cells.get_cell(cell)
    rng = _rng()
    params, x, h0 = c.init(D, H, rng), _seq(rng), rng.normal(size=(N, H))
    _freeze((params, x, h0))
    h, cache = c.forward(x, h0, params)
    _freeze(cache)
    dh = rng.normal(size=h.shape)
    _freeze(dh)
    c.backward(dh, cache)


# ---------------------------------------------------------------------------
# the functions that take sizes and seeds rather than arrays
# ---------------------------------------------------------------------------
SIZE_CALLS = [
    (initializers.xavier_uniform, dict(shape=(3, 4), rng=0), "shape", dict(shape=(3, 4, 5))),
    (initializers.xavier_normal, dict(shape=(3, 4), rng=0), "shape", dict(shape=(3, -4))),
    (initializers.orthogonal, dict(shape=(3, 4), rng=0), "shape", dict(shape=(3.0, 4))),
    (initializers.identity, dict(H=3), "H", dict(H=0)),
    (initializers.init_rnn_params, dict(D=3, H=4, rng=0), "D", dict(D=2.5)),
    (initializers.init_output_params, dict(H=3, K=4, rng=0), "K", dict(K=-1)),
    (initializers.init_rnn_params, dict(D=3, H=4, rng=0), "rng", dict(rng="seed")),
    (gru.init_gru_params, dict(D=3, H=4, rng=0), "H", dict(H=0)),
    (gru.init_simple_gru_params, dict(D=3, H=4, rng=0), "D", dict(D=np.ones(3))),
    (lstm.init_lstm_params, dict(D=3, H=4, rng=0), "H", dict(H=True)),
    (deep.init_deep_params, dict(D=3, H=4, L=2, rng=0), "L", dict(L=0)),
    (charlm.init_charlm, dict(vocab_size=5, H=4, rng=0), "vocab_size", dict(vocab_size=1.5)),
    (tasks.adding_problem, dict(n=3, T=4, rng=0), "T", dict(T=0)),
    (tasks.adding_problem, dict(n=3, T=4, rng=0), "n", dict(n="3")),
    (tasks.copy_task, dict(n=3, T=30, rng=0), "T", dict(T=-1)),
    (tasks.copy_task, dict(n=3, T=30, rng=0), "rng", dict(rng=1.5)),
    (clipping.clip_by_global_norm, dict(grads=[np.ones(2)], max_norm=1.0), "max_norm",
     dict(max_norm=np.nan)),
    (clipping.clip_by_value, dict(grads=[np.ones(2)], clip_value=1.0), "grads",
     dict(grads=[np.ones(2, dtype=int)])),
    (clipping.clip_by_value, dict(grads=[np.ones(2)], clip_value=1.0), "grads",
     dict(grads="not an array")),
]


@pytest.mark.parametrize("fn,good,name,change", SIZE_CALLS,
                         ids=[f"{c[0].__name__}:{c[2]}" for c in SIZE_CALLS])
def test_size_and_seed_arguments_are_checked(fn, good, name, change):
    fn(**good)
    with pytest.raises(ValueError) as err:
        fn(**{**good, **change})
    assert name in str(err.value), str(err.value)
