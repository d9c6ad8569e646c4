r"""Long short-term memory (LSTM): one step and a whole sequence, with optional peepholes.

Equations (column-vector form, gate blocks in PyTorch's order i, f, g, o)::

    i_t = sigmoid(U_i x_t + W_i h_{t-1} + b_i [+ P_i * c_{t-1}])   input gate
    f_t = sigmoid(U_f x_t + W_f h_{t-1} + b_f [+ P_f * c_{t-1}])   forget gate
    g_t = tanh   (U_g x_t + W_g h_{t-1} + b_g)                      candidate
    o_t = sigmoid(U_o x_t + W_o h_{t-1} + b_o [+ P_o * c_{t-1}])   output gate
    c_t = f_t * c_{t-1} + i_t * g_t                                 cell state
    h_t = o_t * tanh(c_t)                                           hidden state

``*`` is the element-wise product.  The four blocks are stacked into one matrix
each, so a step needs one (N, D) x (D, 4H) and one (N, H) x (H, 4H) product:
``a = x_t @ U.T + h_prev @ W.T + b`` has shape (N, 4H) and its column blocks
``a[:, 0:H], a[:, H:2H], a[:, 2H:3H], a[:, 3H:4H]`` are the pre-activations of
i, f, g, o.  The optional peepholes ``P`` (3, H) (rows i, f, o) let each gate
look at the previous cell state c_{t-1}, as in Ng's course; PyTorch's
``nn.LSTM`` has no peepholes.

Why the LSTM remembers: along the cell state, ``dc_{t-1} = dc_t * f_t`` (plus
the paths through the gates).  There is no weight matrix and no squashing
derivative on this path, so with forget gates near 1 the gradient reaches early
steps almost unchanged, unlike the vanilla RNN's product of
``W^T diag(f'(net))`` factors.

Shapes: ``x`` (N, T, D), ``h0``, ``c0`` (N, H), ``h``, ``c`` (N, T, H),
``U`` (4H, D), ``W`` (4H, H), ``b`` (4H,), ``P`` (3, H) or ``None``.
``h[:, t]`` is :math:`h_{t+1}` in the book's 1-based time index.
"""
from __future__ import annotations

import numbers
from typing import NamedTuple, Optional

import numpy as np

from ._validation import ShapeChecker, as_rng
from ._gates import add_outer_, chunk_steps, dsigmoid_, dtanh_, prev_rows
from .activations import sigmoid, tanh
from .initializers import uniform


class LSTMParams(NamedTuple):
    """Parameters of an LSTM layer (PyTorch's layout, gate row blocks i, f, g, o).

    U : (4H, D)  input-to-hidden weights (notes: U; Ng: W_i/W_f/W_c/W_o on x;
        PyTorch: weight_ih_l0)
    W : (4H, H)  hidden-to-hidden weights (PyTorch: weight_hh_l0)
    b : (4H,)    biases (PyTorch: bias_ih_l0 + bias_hh_l0)
    P : (3, H) or None  peephole weights, rows i, f, o, each multiplying c_{t-1}
        element-wise (not in PyTorch)
    """

    U: np.ndarray
    W: np.ndarray
    b: np.ndarray
    P: Optional[np.ndarray] = None


class LSTMStepCache(NamedTuple):
    """What :func:`lstm_step_backward` needs.

    x (N, D), h_prev (N, H), c_prev (N, H), the gate values i, f, g, o (N, H),
    c_next (N, H) and tanh_c = tanh(c_next) (N, H).
    """

    x: np.ndarray
    h_prev: np.ndarray
    c_prev: np.ndarray
    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    c_next: np.ndarray
    tanh_c: np.ndarray
    params: LSTMParams


class LSTMStepGrads(NamedTuple):
    """Gradients of one step: dx (N, D), dh_prev (N, H), dc_prev (N, H), dparams (LSTMParams)."""

    dx: np.ndarray
    dh_prev: np.ndarray
    dc_prev: np.ndarray
    dparams: LSTMParams


class LSTMCache(NamedTuple):
    """What :func:`lstm_backward` needs, time-major for speed, and the cell states.

    x_tm : (T, N, D) inputs;  h0, c0 : (N, H) initial states;
    gates : (T, N, 4H) gate values, column blocks i, f, g, o (after their
    activations); c_tm : (T, N, H) cell states; tanh_c : (T, N, H) = tanh(c_tm);
    h_tm : (T, N, H) hidden states.  Properties: ``i``, ``f``, ``g``, ``o``, (T, N, H)
    views of ``gates`` (to plot the forget gate); ``c``, cell states (N, T, H) like h.
    """

    x_tm: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    gates: np.ndarray
    c_tm: np.ndarray
    tanh_c: np.ndarray
    h_tm: np.ndarray
    params: LSTMParams

    def block(self, k: int) -> np.ndarray:
        """Gate block k (0 i, 1 f, 2 g, 3 o) of ``gates``, a (T, N, H) view."""
        H = self.h_tm.shape[2]
        return self.gates[:, :, k * H:(k + 1) * H]

    i = property(lambda self: self.block(0), doc="Input gate i_t, (T, N, H).")
    f = property(lambda self: self.block(1), doc="Forget gate f_t, (T, N, H).")
    g = property(lambda self: self.block(2), doc="Candidate g_t (the book's c~_t), (T, N, H).")
    o = property(lambda self: self.block(3), doc="Output gate o_t, (T, N, H).")
    c = property(lambda self: self.c_tm.swapaxes(0, 1), doc="Cell states (N, T, H).")


class LSTMSequenceGrads(NamedTuple):
    """Gradients of an LSTM layer: dx (N, T, D), dh0 (N, H), dparams, dc0 (N, H)."""

    dx: np.ndarray
    dh0: np.ndarray
    dparams: LSTMParams
    dc0: np.ndarray


def _check_params(chk: ShapeChecker, params) -> LSTMParams:
    if not isinstance(params, tuple) or len(params) not in (3, 4):
        chk.fail(f"params must be LSTMParams(U, W, b, P=None), got {type(params).__name__}")
    U, W, b = params[:3]
    P = params[3] if len(params) == 4 else None
    W = chk.array("params.W", W, "4H H")
    if W.shape[0] != 4 * W.shape[1]:
        chk.fail(f"params.W must have shape (4H, H) = ({4 * W.shape[1]}, {W.shape[1]}) "
                 f"(gate blocks i, f, g, o; H = {W.shape[1]} was set by params.W), "
                 f"got ({W.shape[0]}, {W.shape[1]})")
    U, b = chk.array("params.U", U, "4H D"), chk.array("params.b", b, "4H")
    return LSTMParams(U, W, b, None if P is None else chk.array("params.P", P, "3 H"))


def lstm_step_forward(x, h_prev, c_prev, params: LSTMParams):
    """One time step of an LSTM.

    Parameters
    ----------
    x : (N, D) input at this step.
    h_prev : (N, H) hidden state of the previous step.
    c_prev : (N, H) cell state of the previous step.
    params : LSTMParams with U (4H, D), W (4H, H), b (4H,), P (3, H) or None.

    Returns
    -------
    h_next : (N, H)  ``o * tanh(c_next)``
    c_next : (N, H)  ``f * c_prev + i * g``
    cache : LSTMStepCache
    """
    chk = ShapeChecker("lstm_step_forward")
    params = _check_params(chk, params)
    x = chk.array("x", x, "N D")
    h_prev = chk.array("h_prev", h_prev, "N H")
    c_prev = chk.array("c_prev", c_prev, "N H")
    U, W, b, P = params
    H = W.shape[1]
    a = x @ U.T + h_prev @ W.T + b                   # (N, 4H): U x_t + W h_{t-1} + b, all gates
    if P is not None:                                # peepholes look at c_{t-1}
        a[:, 0:H] += P[0] * c_prev
        a[:, H:2 * H] += P[1] * c_prev
        a[:, 3 * H:] += P[2] * c_prev
    i = sigmoid(a[:, 0:H])                           # input gate
    f = sigmoid(a[:, H:2 * H])                       # forget gate
    g = tanh(a[:, 2 * H:3 * H])                      # candidate values
    o = sigmoid(a[:, 3 * H:])                        # output gate
    c_next = f * c_prev + i * g                      # keep part of the old memory, add new
    tanh_c = tanh(c_next)
    h_next = o * tanh_c                              # expose part of the memory
    return h_next, c_next, LSTMStepCache(x, h_prev, c_prev, i, f, g, o, c_next, tanh_c, params)


def lstm_step_backward(dh_next, dc_next, cache: LSTMStepCache) -> LSTMStepGrads:
    """Backward pass of :func:`lstm_step_forward`.

    Parameters
    ----------
    dh_next : (N, H) gradient of the loss with respect to ``h_next``.
    dc_next : (N, H) or None, gradient with respect to ``c_next`` coming from
        the next step (``None`` means zeros, e.g. at the last step).
    cache : LSTMStepCache from the forward step.

    Returns
    -------
    LSTMStepGrads(dx (N, D), dh_prev (N, H), dc_prev (N, H),
    dparams LSTMParams(dU, dW, db, dP))  with dP None when P is None.
    """
    chk = ShapeChecker("lstm_step_backward")
    chk.cache("cache", cache, LSTMStepCache)
    chk.array("cache.c_next", cache.c_next, "N H")
    dh_next = chk.array("dh_next", dh_next, "N H")
    dc_next = np.zeros_like(dh_next) if dc_next is None else chk.array("dc_next", dc_next, "N H")
    U, W, _, P = cache.params
    i, f, g, o, tanh_c, c_prev = cache.i, cache.f, cache.g, cache.o, cache.tanh_c, cache.c_prev
    do = dh_next * tanh_c                            # h_t = o_t * tanh(c_t)
    dc = dc_next + dh_next * o * (1.0 - tanh_c * tanh_c)  # ... and c_t also feeds step t+1
    di = dc * g                                      # c_t = f_t * c_{t-1} + i_t * g_t
    dg = dc * i
    df = dc * c_prev
    dc_prev = dc * f                                 # the cell-state path: only a product with f_t
    da = np.concatenate([di * i * (1.0 - i),         # i_t = sigmoid(a_i)
                         df * f * (1.0 - f),         # f_t = sigmoid(a_f)
                         dg * (1.0 - g * g),         # g_t = tanh(a_g)
                         do * o * (1.0 - o)], axis=1)  # o_t = sigmoid(a_o)   -> (N, 4H)
    H = W.shape[1]
    dP = None
    if P is not None:                                # a_i += P_i * c_{t-1}, same for f, o
        da_i, da_f, da_o = da[:, 0:H], da[:, H:2 * H], da[:, 3 * H:]
        dc_prev = dc_prev + da_i * P[0] + da_f * P[1] + da_o * P[2]
        dP = np.stack([(da_i * c_prev).sum(axis=0), (da_f * c_prev).sum(axis=0),
                       (da_o * c_prev).sum(axis=0)])
    dx = da @ U                                      # a = U x_t ...
    dh_prev = da @ W                                 #   + W h_{t-1} ...
    dU = da.T @ cache.x
    dW = da.T @ cache.h_prev
    db = da.sum(axis=0)                              #   + b
    return LSTMStepGrads(dx, dh_prev, dc_prev, LSTMParams(dU, dW, db, dP))


def lstm_forward(x, h0, params: LSTMParams, *, c0=None):
    """Run an LSTM over a whole sequence.

    Parameters
    ----------
    x : (N, T, D) inputs.
    h0 : (N, H) initial hidden state (``None`` means zeros).
    params : LSTMParams with U (4H, D), W (4H, H), b (4H,), P (3, H) or None.
    c0 : (N, H) or None, keyword only: initial cell state (``None`` means zeros).

    Returns
    -------
    h : (N, T, H) hidden state at every step (``h[:, -1]`` is the last one).
    cache : LSTMCache for :func:`lstm_backward`, with the cell states ``cache.c``
        (N, T, H) (``cache.c[:, -1]`` is PyTorch's ``c_n``) and the gates ``cache.f``...

    Notes
    -----
    ``x @ U.T + b`` for all steps and gates is one matrix product before the
    loop; each step adds ``h_{t-1} @ W.T`` and applies the activations in place.
    """
    chk = ShapeChecker("lstm_forward")
    params = _check_params(chk, params)
    x = chk.array("x", x, "N T D")
    (N, T, D), H = x.shape, params.W.shape[1]
    h0 = np.zeros((N, H)) if h0 is None else chk.array("h0", h0, "N H")
    c0 = np.zeros((N, H)) if c0 is None else chk.array("c0", c0, "N H")
    U, W, b, P = params
    x_tm = np.ascontiguousarray(x.transpose(1, 0, 2))    # (T, N, D)
    # Speed: one exp over all four blocks beats separate sigmoids and tanh, so with
    # sigmoid(a) = 1 / (1 + exp(-a)), tanh(a) = 2 / (1 + exp(-2a)) - 1 and the factors
    # -1 (i, f, o), -2 (g) folded into the weights (exact: powers of two) a step is one
    # product, one exp over (N, 4H), +1, one reciprocal and 2r - 1 on the g block.
    scale = np.repeat([-1.0, -1.0, -2.0, -1.0], H)       # (4H,)
    Us, WTs, bs = U * scale[:, None], (W * scale[:, None]).T, b * scale
    Ps = None if P is None else -P                       # one (T*N, D) x (D, 4H) product:
    gates = (x_tm.reshape(T * N, D) @ Us.T).reshape(T, N, 4 * H)  # -(U x_t) (x2 for g), all t
    gates += bs
    c_tm, tanh_c, h_tm = (np.empty((T, N, H)) for _ in range(3))   # c_t, tanh(c_t), h_t
    h_prev, c_prev = h0, c0
    tmp4, tmp = np.empty((N, 4 * H)), np.empty((N, H))  # per-step buffers, reused
    with np.errstate(over="ignore"):                     # exp(large) = inf gives exactly 0 or -1
        for t in range(T):
            a = gates[t]                                 # (N, 4H), becomes [i, f, g, o]
            np.matmul(h_prev, WTs, out=tmp4)
            a += tmp4                                    # + W h_{t-1}   (scaled)
            if Ps is not None:                           # + P * c_{t-1} (peepholes i, f, o)
                a4 = a.reshape(N, 4, H)                  # view: a4[:, k] is gate block k
                a4[:, 0:2] += Ps[0:2] * c_prev[:, None, :]
                a4[:, 3] += Ps[2] * c_prev
            np.exp(a, out=a)
            a += 1.0
            np.divide(1.0, a, out=a)                     # i, f, o = sigmoid(a) = 1 / (1 + e^-a)
            g = a[:, 2 * H:3 * H]
            g *= 2.0
            g -= 1.0                                     # g_t = tanh(a_g) = 2 / (1 + e^-2a) - 1
            c, th = c_tm[t], tanh_c[t]
            np.multiply(a[:, H:2 * H], c_prev, out=c)    # c_t = f_t * c_{t-1}
            np.multiply(a[:, 0:H], g, out=tmp)
            c += tmp                                     #     + i_t * g_t
            np.tanh(c, out=th)                           # tanh(c_t)
            np.multiply(a[:, 3 * H:], th, out=h_tm[t])   # h_t = o_t * tanh(c_t)
            h_prev, c_prev = h_tm[t], c
    return h_tm.transpose(1, 0, 2), LSTMCache(x_tm, h0, c0, gates, c_tm, tanh_c, h_tm, params)


def lstm_backward(dh, cache: LSTMCache, *, dc_last=None) -> LSTMSequenceGrads:
    """Backpropagation through time for :func:`lstm_forward`.

    Parameters
    ----------
    dh : (N, T, H) gradient of the loss with respect to every hidden state
        *from above* (the output layer); the gradients that flow back along
        the recurrence (through h_{t-1} and c_{t-1}) are added here.
    cache : LSTMCache from the forward pass.
    dc_last : (N, H) or None, keyword only: gradient with respect to the last cell
        state ``cache.c[:, -1]`` (e.g. when it is passed on to a decoder); None = zeros.

    Returns
    -------
    LSTMSequenceGrads(dx (N, T, D), dh0 (N, H),
    dparams LSTMParams(dU, dW, db, dP), dc0 (N, H))  with dP None when P is None.

    Notes
    -----
    Each step writes ``dL/da_t`` into a buffer of one chunk of steps (about 1024 of the
    T*N rows), with the gate derivatives formed in place on the step's (N, H) blocks (no
    temporaries); when a chunk is complete its dU, dW, db and dx are one product each over
    its rows, added up over the chunks (``_gates.chunk_steps``).
    """
    ShapeChecker("lstm_backward").cache("cache", cache, LSTMCache)
    T, N, H = cache.h_tm.shape
    chk = ShapeChecker("lstm_backward", N=N, T=T, H=H)
    dh = chk.array("dh", dh, "N T H")
    dc_next = np.zeros((N, H)) if dc_last is None else chk.array("dc_last", dc_last, "N H").copy()
    (U, W, _, P), D, K = cache.params, cache.x_tm.shape[2], chunk_steps(T, N)
    H2, H3, H4 = 2 * H, 3 * H, 4 * H
    da = np.empty((K, N, H4))                         # dL/da_t of one chunk, blocks i, f, g, o
    dUT, dWT, db = np.zeros((D, H4)), np.zeros((H, H4)), np.zeros(H4)   # dU.T, dW.T, db
    tmpU, tmpW = np.empty((D, H4)), np.empty((H, H4))  # the chunk products' buffers
    dPT, dx_tm = None if P is None else np.zeros((H, 3)), np.empty((T, N, D))   # dP.T, dx
    dh_next, dht, dc = np.zeros((N, H)), np.empty((N, H)), np.empty((N, H))  # reused buffers
    for t in range(T - 1, -1, -1):
        t0 = t - t % K                                # this step's chunk: steps t0 .. t0+K-1
        s, d, th = cache.gates[t], da[t - t0], cache.tanh_c[t]
        i, f, g, o = s[:, :H], s[:, H:H2], s[:, H2:H3], s[:, H3:]
        c_prev = cache.c_tm[t - 1] if t else cache.c0
        np.add(dh[:, t], dh_next, out=dht)            # dL/dh_t: from above + from t+1
        dtanh_(dc, th, o)                             # h_t = o_t * tanh(c_t)
        dc *= dht
        dc += dc_next                                 # c_t also feeds c_{t+1}
        di, df, dg, do = d[:, :H], d[:, H:H2], d[:, H2:H3], d[:, H3:]
        dsigmoid_(di, i, g)                           # c_t = ... + i_t g_t, i = sigmoid
        di *= dc
        dsigmoid_(df, f, c_prev)                      # c_t = f_t c_{t-1} ... f = sigmoid
        df *= dc
        dtanh_(dg, g, i)                              # c_t = ... + i_t g_t, g = tanh
        dg *= dc
        dsigmoid_(do, o, th)                          # h_t = o_t tanh(c_t), o = sigmoid
        do *= dht
        np.multiply(dc, f, out=dc_next)               # c_t = f_t c_{t-1}: flows via f_t
        if P is not None:                             # a_{i,f,o} += P * c_{t-1}
            dc_next += di * P[0]
            dc_next += df * P[1]
            dc_next += do * P[2]
        np.matmul(d, W, out=dh_next)                  # a_t = ... + W h_{t-1}
        if t == t0:                                   # chunk complete: its products
            t1 = min(t0 + K, T)
            flat = da[:t1 - t0].reshape(-1, H4)
            rows = flat.shape[0]
            add_outer_(dUT, cache.x_tm[t0:t1].reshape(rows, D), flat, tmpU)  # a_t = U x_t
            add_outer_(dWT, prev_rows(cache.h0, cache.h_tm, t0, t1), flat, tmpW)  # + W h_{t-1}
            db += flat.sum(axis=0)                    #   + b
            np.matmul(flat, U, out=dx_tm[t0:t1].reshape(rows, D))
            if P is not None:                         # a_{i,f,o} += P * c_{t-1}
                cb = prev_rows(cache.c0, cache.c_tm, t0, t1)
                for k, lo in enumerate((0, H, H3)):   # blocks i, f, o
                    dPT[:, k] += (flat[:, lo:lo + H] * cb).sum(axis=0)
    dP = None if P is None else np.ascontiguousarray(dPT.T)
    dparams = LSTMParams(np.ascontiguousarray(dUT.T), np.ascontiguousarray(dWT.T), db, dP)
    return LSTMSequenceGrads(dx_tm.transpose(1, 0, 2), dh_next, dparams, dc_next)


def init_lstm_params(D: int, H: int, rng, peepholes: bool = False,
                     forget_bias: float = 1.0) -> LSTMParams:
    """Random LSTM parameters.

    U (4H, D), W (4H, H) and P (3, H) are drawn from U(-1/sqrt(H), 1/sqrt(H))
    (PyTorch's default); b (4H,) is zero except the forget-gate block
    ``b[H:2H] = forget_bias``: with f_t = sigmoid(1) ~ 0.73 at the start the
    cell keeps most of its memory and the gradient along c_t does not vanish
    before training has begun (Gers et al. 2000; Jozefowicz et al. 2015).

    Parameters
    ----------
    D, H : input and hidden sizes.
    rng : int seed or numpy.random.Generator.
    peepholes : also create P (3, H); otherwise P is None.
    forget_bias : initial value of the forget-gate bias.

    Returns
    -------
    LSTMParams(U (4H, D), W (4H, H), b (4H,), P (3, H) or None)
    """
    chk = ShapeChecker("init_lstm_params")
    D, H = chk.positive_int("D", D), chk.positive_int("H", H)
    if isinstance(forget_bias, bool) or not isinstance(forget_bias, numbers.Real) \
            or not np.isfinite(forget_bias):
        chk.fail(f"forget_bias must be a finite number, got {forget_bias!r}")
    gen, k = as_rng(rng, "init_lstm_params"), 1.0 / np.sqrt(H)   # PyTorch's default bound
    U, W = uniform((4 * H, D), gen, k), uniform((4 * H, H), gen, k)
    b = np.zeros(4 * H)
    b[H:2 * H] = forget_bias
    return LSTMParams(U, W, b, uniform((3, H), gen, k) if peepholes else None)
