"""hidden_gradient_norms against explicit Jacobian products and finite differences on the state."""
import numpy as np
import pytest

from rnncourse.cells import CELL_NAMES, get_cell
from rnncourse.gradcheck import numerical_gradient
from rnncourse.gradient_flow import hidden_gradient_norms
from rnncourse.initializers import orthogonal
from rnncourse.rnn import RNNParams, rnn_forward


def rnn_params(D, H, seed=0, scale=0.8):
    rng = np.random.default_rng(seed)
    return RNNParams(rng.normal(0, scale, (H, D)), rng.normal(0, scale, (H, H)),
                     rng.normal(0, 0.3, H))


@pytest.mark.parametrize("cell", ["rnn", "rnn_relu"])
@pytest.mark.parametrize("N,T,D,H", [(1, 1, 2, 3), (3, 6, 2, 4), (2, 5, 4, 4)])
def test_rnn_matches_explicit_product_of_jacobians(cell, N, T, D, H):
    rng = np.random.default_rng(1)
    p, x, h0 = rnn_params(D, H), rng.normal(size=(N, T, D)), rng.normal(size=(N, H))
    g = rng.normal(size=(N, H))
    snapshot = [a.copy() for a in (x, h0, g, *p)]
    norms = hidden_gradient_norms(x, h0, p, cell, dh_last=g)
    h, _ = rnn_forward(x, h0, p, "tanh" if cell == "rnn" else "relu")
    expected = np.zeros(T)
    for n in range(N):
        P = np.eye(H)                                   # J_T J_{T-1} ... J_{k+1}
        for k in range(T, 0, -1):                       # book index k = 1..T
            expected[k - 1] += np.linalg.norm(g[n] @ P) / N
            hk = h[n, k - 1]
            fprime = 1 - hk ** 2 if cell == "rnn" else (hk > 0).astype(float)
            P = P @ (np.diag(fprime) @ p.W)             # dh_k / dh_{k-1}
    np.testing.assert_allclose(norms, expected, rtol=1e-10, atol=1e-14)
    for a, b in zip(snapshot, (x, h0, g, *p)):
        np.testing.assert_array_equal(a, b)


def test_default_direction_is_unit_and_seeded():
    rng = np.random.default_rng(0)
    p, x = rnn_params(2, 5), rng.normal(size=(4, 7, 2))
    a = hidden_gradient_norms(x, None, p)
    assert a.shape == (7,) and a[-1] == pytest.approx(1.0, rel=1e-14)
    np.testing.assert_array_equal(a, hidden_gradient_norms(x, None, p, "rnn", seed=0))
    assert not np.array_equal(a, hidden_gradient_norms(x, None, p, seed=1))


def test_closed_forms_identity_relu_and_contracting_tanh():
    T, H = 12, 6
    x = np.zeros((2, T, 3))
    irnn = RNNParams(np.zeros((H, 3)), np.eye(H), np.zeros(H))
    h0 = np.full((2, H), 0.5)                           # all units active: every Jacobian is I
    np.testing.assert_allclose(hidden_gradient_norms(x, h0, irnn, "rnn_relu"), 1.0, rtol=1e-14)
    # tanh at h = 0 has slope 1, so J = 0.5 Q with Q orthogonal: norms 0.5^(T-k)
    small = RNNParams(np.zeros((H, 3)), orthogonal((H, H), 0, gain=0.5), np.zeros(H))
    np.testing.assert_allclose(hidden_gradient_norms(x, None, small, "rnn"),
                               0.5 ** np.arange(T - 1, -1, -1), rtol=1e-12)


def _sequence_forward(cell, params):
    """h_T after running the cell's *sequence* forward from a given state (independent path)."""
    if cell in ("rnn", "rnn_relu"):
        act = "tanh" if cell == "rnn" else "relu"
        return lambda x, h, c: rnn_forward(x, h, params, act)[0][:, -1]
    if cell == "simple_gru":
        from rnncourse.gru import simple_gru_forward
        return lambda x, h, c: simple_gru_forward(x, h, params)[0][:, -1]
    if cell == "gru":
        from rnncourse.gru import gru_forward
        ra = params.b_hn is not None
        return lambda x, h, c: gru_forward(x, h, params, reset_after=ra)[0][:, -1]
    from rnncourse.lstm import lstm_forward
    return lambda x, h, c: lstm_forward(x, h, params, c0=c)[0][:, -1]


def _params(cell, D, H, seed):
    rng = np.random.default_rng(seed)
    if cell in ("rnn", "rnn_relu"):
        return rnn_params(D, H, seed)
    if cell == "simple_gru":
        from rnncourse.gru import SimpleGRUParams
        return SimpleGRUParams(rng.normal(0, 0.8, (2 * H, D)), rng.normal(0, 0.8, (2 * H, H)),
                               rng.normal(0, 0.5, 2 * H))
    if cell in ("gru", "gru_reset_after"):
        from rnncourse.gru import GRUParams
        return GRUParams(rng.normal(0, 0.8, (3 * H, D)), rng.normal(0, 0.8, (3 * H, H)),
                         rng.normal(0, 0.5, 3 * H),
                         rng.normal(0, 0.5, H) if cell == "gru_reset_after" else None)
    from rnncourse.lstm import LSTMParams
    return LSTMParams(rng.normal(0, 0.8, (4 * H, D)), rng.normal(0, 0.8, (4 * H, H)),
                      rng.normal(0, 0.5, 4 * H))


def _states(cell, x, h0, p):
    """Hidden (and LSTM cell) states and the LSTM output gates, by the forward pass only."""
    if cell == "lstm":
        from rnncourse.lstm import lstm_step_forward
        h, c, hs, cs, os_ = h0, np.zeros_like(h0), [], [], []
        for t in range(x.shape[1]):
            h, c, cache = lstm_step_forward(x[:, t], h, c, p)
            hs.append(h), cs.append(c), os_.append(cache.o)
        return hs, cs, os_
    run = _sequence_forward(cell, p)
    return [run(x[:, :t + 1], h0, None) for t in range(x.shape[1])], None, None


@pytest.mark.parametrize("cell", CELL_NAMES)                   # every registered cell
@pytest.mark.parametrize("N,T,D,H", [(1, 1, 2, 3), (2, 5, 3, 2)])
def test_all_cells_against_finite_differences_on_the_state(cell, N, T, D, H):
    name = "gru" if cell == "gru_reset_after" else cell
    rng = np.random.default_rng(2)
    p = _params(cell, D, H, seed=3)
    x, h0, g = rng.normal(size=(N, T, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    norms = hidden_gradient_norms(x, h0, p, cell, dh_last=g)
    # "gru" picks the variant from the parameters (b_hn given: reset after), as before
    np.testing.assert_array_equal(hidden_gradient_norms(x, h0, p, name, dh_last=g), norms)
    hs, cs, os_ = _states(name, x, h0, p)
    run = _sequence_forward(name, p)
    expected = np.empty(T)
    for k in range(1, T + 1):                          # perturb h_k, re-run steps k+1..T
        if k == T:
            grad = g
        else:
            c_k = None if cs is None else cs[k - 1]
            grad = numerical_gradient(lambda hk: np.sum(g * run(x[:, k:], hk, c_k)), hs[k - 1])
        expected[k - 1] = np.linalg.norm(grad, axis=1).mean()
    np.testing.assert_allclose(norms, expected, rtol=1e-7)
    if name == "lstm":
        _, cell_norms = hidden_gradient_norms(x, h0, p, "lstm", dh_last=g, return_cell=True)
        np.testing.assert_allclose(_, norms, rtol=0)
        expected_c = np.empty(T)
        for k in range(1, T + 1):                      # perturb c_k; h_k = o_k tanh(c_k) follows
            o_k = os_[k - 1]
            if k == T:
                def L(ck):
                    return np.sum(g * o_k * np.tanh(ck))
            else:
                def L(ck):
                    return np.sum(g * run(x[:, k:], o_k * np.tanh(ck), ck))
            grad = numerical_gradient(L, cs[k - 1])
            expected_c[k - 1] = np.linalg.norm(grad, axis=1).mean()
        np.testing.assert_allclose(cell_norms, expected_c, rtol=1e-7)


def test_lstm_forget_gate_open_keeps_cell_gradient():
    # f = 1 (huge forget bias), i = 0 (huge negative input bias): c is carried unchanged and
    # the cell-state gradient reaches every step undamped, while dL/dh_k vanishes for k < T.
    from rnncourse.lstm import LSTMParams
    H, T = 3, 10
    b = np.concatenate([np.full(H, -50.0), np.full(H, 50.0), np.zeros(H), np.full(H, 50.0)])
    p = LSTMParams(np.zeros((4 * H, 1)), np.zeros((4 * H, H)), b)
    x = np.zeros((1, T, 1))
    c0 = np.full((1, H), 0.3)
    h_norms, c_norms = hidden_gradient_norms(x, None, p, "lstm", c0=c0, return_cell=True)
    np.testing.assert_allclose(c_norms, c_norms[-1], rtol=1e-12)
    assert c_norms[-1] > 0.5
    np.testing.assert_allclose(h_norms[:-1], 0.0, atol=1e-12)


@pytest.mark.parametrize("call,match", [
    (lambda x, p: hidden_gradient_norms(x, None, p, "lstm2"), r"hidden_gradient_norms: cell must be one of 'rnn', 'rnn_relu', 'simple_gru', 'gru', 'gru_reset_after', 'lstm' or a Cell, got 'lstm2'"),
    (lambda x, p: hidden_gradient_norms(x[0], None, p), r"hidden_gradient_norms: x must have 3 dimensions \(N, T, D\), got shape \(4, 2\)"),
    (lambda x, p: hidden_gradient_norms(x, np.zeros((3, 5)), p), r"h0 must have shape \(N, H\) = \(3, 4\), got \(3, 5\)"),
    (lambda x, p: hidden_gradient_norms(x, None, p, dh_last=np.zeros((2, 4))), r"dh_last must have shape \(N, H\) = \(3, 4\), got \(2, 4\)"),
    (lambda x, p: hidden_gradient_norms(x, None, p, "rnn", return_cell=True), r"c0 and return_cell are for cells with a cell state \(cell='lstm'\), got cell='rnn'"),
    (lambda x, p: hidden_gradient_norms(x, None, (1, 2)), r"params must be the cell's parameter NamedTuple, got tuple"),
    (lambda x, p: hidden_gradient_norms(x, None, p._replace(U=np.zeros((4, 3)))), r"hidden_gradient_norms: params.U must have shape \(rows, D\) = \(rows, 2\), got \(4, 3\) \(D = 2 was set by x\)"),
    # the order before the package's convention, hidden_gradient_norms(cell, x, params, h0)
    (lambda x, p: hidden_gradient_norms("rnn", x, p), r"hidden_gradient_norms: x must be the \(N, T, D\) inputs, got the cell 'rnn'; the cell comes after the parameters: hidden_gradient_norms\(x, h0, params, 'rnn'\)"),
    (lambda x, p: hidden_gradient_norms(get_cell("lstm"), x, p), r"hidden_gradient_norms: x must be the \(N, T, D\) inputs, got the cell 'lstm'; the cell comes after the parameters: hidden_gradient_norms\(x, h0, params, cell\)"),
    (lambda x, p: hidden_gradient_norms(x, p, "rnn"), r"hidden_gradient_norms: h0 must be None or an \(N, H\) array \(the arguments are x, h0, params, cell\), got RNNParams"),
])
def test_errors(call, match):
    x = np.zeros((3, 4, 2))
    with pytest.raises(ValueError, match=match):
        call(x, rnn_params(2, 4))
