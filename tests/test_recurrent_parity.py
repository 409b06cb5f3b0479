"""Parity with PyTorch in float64: the same weights copied into nn.RNN (tanh, relu), nn.LSTM and nn.GRU and the same
batch give the same outputs, loss and every gradient, to 1e-6 relative. (torch is a test extra: skipped without it.)

Conventions mapped here, once: PyTorch stores W_ih (kH, D) and W_hh (kH, H), i.e. our Wx and Wh transposed; its
LSTM gate order is i, f, g, o (ours i, f, o, g; GRU r, z, n in both); it has two biases where we have one, b = b_ih +
b_hh -- except for the GRU's candidate, whose hidden bias b_hn sits inside r * (W_hn h + b_hn) and is our b_hn.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradtui.engine.recurrent import RecurrentNet

torch = pytest.importorskip("torch")

N, T, D, H = 4, 7, 3, 5
TORCH_ORDER = {"rnn": [0], "lstm": [0, 1, 3, 2], "gru": [0, 1, 2]}  # torch block j is our block TORCH_ORDER[j]


def to_torch(W: np.ndarray, kind: str) -> np.ndarray:
    """Our stacked columns, (in, kH) or a bias (kH,) -> torch's stacked rows, (kH, in) or (kH,), in its gate order."""
    M = W[None, :] if W.ndim == 1 else W
    blocks = [M[:, j * H : (j + 1) * H] for j in range(M.shape[1] // H)]
    out = np.concatenate([blocks[k] for k in TORCH_ORDER[kind]], axis=1).T.copy()
    return out[:, 0] if W.ndim == 1 else out


def from_torch(t: np.ndarray, kind: str) -> np.ndarray:
    """The inverse of to_torch."""
    M = t[:, None] if t.ndim == 1 else t
    blocks = [M[j * H : (j + 1) * H] for j in range(M.shape[0] // H)]
    ours = [blocks[0]] * len(blocks)
    for j, k in enumerate(TORCH_ORDER[kind]):
        ours[k] = blocks[j]
    out = np.concatenate(ours, axis=0).T
    return out[0] if t.ndim == 1 else out


def close(ours, theirs, what):
    theirs = np.asarray(theirs, dtype=np.float64)
    scale = float(np.max(np.abs(theirs))) or 1.0
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9 * scale, err_msg=what)


CASES = [
    ("rnn", "tanh", "last", "linear"),
    ("rnn", "tanh", "each", "softmax"),
    ("rnn", "relu", "last", "linear"),
    ("rnn", "relu", "each", "softmax"),
    ("lstm", "tanh", "last", "linear"),
    ("lstm", "tanh", "each", "softmax"),
    ("gru", "tanh", "last", "linear"),
    ("gru", "tanh", "each", "softmax"),
]


@pytest.mark.parametrize(("kind", "activation", "readout", "loss"), CASES, ids=["-".join(c) for c in CASES])
def test_outputs_loss_and_every_gradient_match_pytorch(kind, activation, readout, loss):
    O = 3
    r = np.random.default_rng(7)
    net = RecurrentNet(kind, D, H, O, activation=activation, readout=readout, loss=loss, dtype="float64",
                       learn_init_state=True, seed=1)  # fmt: skip
    for _, p, _ in net.params():
        p += r.normal(0.0, 0.3, p.shape)
    x = r.normal(0.0, 1.0, (N, T, D))
    y = r.integers(0, O, (N, T) if readout == "each" else N) if loss == "softmax" else r.normal(0.0, 1.0, (N, O))
    L = net.loss_and_grads(x, y)
    logits = net.forward(x).copy()
    cell = net.cell

    k = len(cell.gates)
    if kind == "rnn":
        m = torch.nn.RNN(D, H, nonlinearity=activation, batch_first=True)
    elif kind == "lstm":
        m = torch.nn.LSTM(D, H, batch_first=True)
    else:
        m = torch.nn.GRU(D, H, batch_first=True)
    m = m.double()
    b_t = to_torch(cell.b, kind)
    if kind == "gru":  # our b_r, b_z split at random between torch's two biases; b_in, b_hn as they are
        b_hh = np.concatenate([r.normal(size=2 * H), cell.bhn])
        b_ih = b_t - np.concatenate([b_hh[: 2 * H], np.zeros(H)])
    else:
        b_hh = r.normal(size=k * H)
        b_ih = b_t - b_hh
    with torch.no_grad():
        m.weight_ih_l0.copy_(torch.from_numpy(to_torch(cell.Wx, kind)))
        m.weight_hh_l0.copy_(torch.from_numpy(to_torch(cell.Wh, kind)))
        m.bias_ih_l0.copy_(torch.from_numpy(b_ih))
        m.bias_hh_l0.copy_(torch.from_numpy(b_hh))
    h0 = torch.tensor(cell.h0, requires_grad=True)
    state = h0.expand(1, N, H).contiguous()
    if kind == "lstm":
        c0 = torch.tensor(cell.c0, requires_grad=True)
        out, _ = m(torch.from_numpy(x), (state, c0.expand(1, N, H).contiguous()))
    else:
        out, _ = m(torch.from_numpy(x), state)
    W = torch.tensor(net.W, requires_grad=True)
    b = torch.tensor(net.b, requires_grad=True)
    lt = (out[:, -1] if readout == "last" else out) @ W + b
    if loss == "linear":
        Lt = torch.mean((lt - torch.from_numpy(y)) ** 2)
    else:
        Lt = torch.nn.functional.cross_entropy(lt.reshape(-1, O), torch.from_numpy(y).reshape(-1))
    Lt.backward()

    close(logits, lt.detach().numpy(), "outputs")
    assert pytest.approx(Lt.item(), rel=1e-6) == L
    close(cell.dWx, from_torch(m.weight_ih_l0.grad.numpy(), kind), "Wx")
    close(cell.dWh, from_torch(m.weight_hh_l0.grad.numpy(), kind), "Wh")
    db_ih = from_torch(m.bias_ih_l0.grad.numpy(), kind)
    db_hh = from_torch(m.bias_hh_l0.grad.numpy(), kind)
    close(cell.db, db_ih, "b = b_ih + b_hh (as b_ih)")
    if kind == "gru":
        close(cell.db[: 2 * H], db_hh[: 2 * H], "b_r, b_z (as b_hh)")
        close(cell.dbhn, db_hh[2 * H :], "b_hn")
    else:
        close(cell.db, db_hh, "b (as b_hh)")
    close(cell.dh0, h0.grad.numpy(), "h0")
    if kind == "lstm":
        close(cell.dc0, c0.grad.numpy(), "c0")
    close(net.dW, W.grad.numpy(), "readout W")
    close(net.db, b.grad.numpy(), "readout b")


def test_the_gate_order_mapping_is_a_bijection():
    """Guards the helpers above: a matrix survives the round trip to torch's layout and back."""
    W = np.arange(2 * 4 * H, dtype=float).reshape(2, 4 * H)
    t = to_torch(W, "lstm")
    assert t.shape == (4 * H, 2)
    np.testing.assert_array_equal(t[2 * H : 3 * H].T, W[:, 3 * H :])  # torch's g block is our 4th
    np.testing.assert_array_equal(from_torch(t, "lstm"), W)
    np.testing.assert_array_equal(from_torch(to_torch(W[0], "lstm"), "lstm"), W[0])
