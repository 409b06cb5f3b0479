"""Recurrent networks trained by backpropagation through time (BPTT): vanilla RNN, LSTM and GRU cells, a linear
readout, and the per-time-step measurements of the vanishing-gradient story through time.

Vocabulary as in CS231n's ``rnn_layers.py``: ``x`` the input, ``prev_h`` / ``next_h`` the state before / after a step,
``Wx`` (D, kH) and ``Wh`` (H, kH) the input and recurrent weights of the k gate blocks stacked side by side, ``b``
(kH,), ``a = x Wx + prev_h Wh + b`` (N, kH) the stacked pre-activations, split in k blocks of H columns, and
``dnext_h = dL/dnext_h``. As in the MLP layers, every gradient is written into a preallocated array (overwritten by
every backward, never accumulated) and parameters travel as (kind, value, gradient) triples: kind "W" marks weight
matrices (the only ones weight decay touches), "b" biases, "h0"/"c0" learnable initial states.

Shapes. ``RecurrentNet`` takes x: (N, T, D), batch first (as the tasks make it, and as PyTorch's
``batch_first=True``), and gives logits (N, O) (readout "last") or (N, T, O) ("each"). Inside, the cells keep every
per-step array feature-major, (features, N): h_t as (H, N), the stacked pre-activations as (kH, N), so that each
gate block is one contiguous (H, N) slab. Step s = 0..T-1 reads prev_h = h_s and writes next_h = h_{s+1}; in the
docstrings h_t, t = 1..T, is the state after step t and h_0 the initial state.

Speed (a training step as fast as PyTorch's ``nn.LSTM`` on one thread, or faster; benchmarks/bench_rnn.py): one matmul
per step for ``x Wx + prev_h Wh + b`` (the input and a row of ones stacked under the state), and one for each of
dL/dprev_h and the gradient of all three weights; gate nonlinearities in place (one tanh over all gate rows: sigmoid
through tanh(a/2)); every step's local derivatives computed in the forward while its values are in cache; work
buffers preallocated per (T, N) and kept for two shapes (a training batch and a probe set). See ``Cell`` for what was
measured.

Not computed: dL/dx (the tasks' inputs are data, never learned).

NumPy and the standard library only, like the rest of the engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .activations import ACTIVATIONS, ALIASES, Elementwise, make_activation
from .init import init_weights
from .losses import Loss, make_loss
from .network import STREAM_WEIGHTS, norm64, rng_for
from .optim import Optimiser
from .stats import histogram

__all__ = [
    "CELLS",
    "READOUTS",
    "RNN_ACTIVATIONS",
    "SATURATION_EDGE",
    "Cell",
    "GRUCell",
    "GateStats",
    "LSTMCell",
    "ParamStats",
    "RNNCell",
    "RecurrentNet",
    "StepStats",
    "step_and_measure",
]

Params = list[tuple[str, np.ndarray, np.ndarray]]

# parts of the weight stream: rng_for(seed, STREAM_WEIGHTS, part, block), block = 1..k (1-based: a SeedSequence
# ignores trailing zeros, so block 0 would share the stream of the MLP's layer `part`)
PART_INPUT, PART_RECURRENT, PART_READOUT = 1, 2, 3

READOUTS = ("last", "each")

# activations whose derivative is a function of (z, h) alone, elementwise: the ones a recurrent step can use.
# (Left out: prelu, whose learned slopes would need their own BPTT; rrelu, which draws a new slope per entry and step;
# maxout, which needs two affine pieces per unit.)
RNN_ACTIVATIONS: tuple[str, ...] = tuple(n for n, c in ACTIVATIONS.items() if issubclass(c, Elementwise))

SATURATION_EDGE = 0.05  # a gate entry is saturated in the outer 5 % of its range at either end (sigmoid: <0.05, >0.95)
ACT_SATURATION = 0.05  # a vanilla-RNN unit is saturated where |f'(a)| < 5 % of max |f'| (as in the MLP)
MAX_CACHED_SHAPES = 2  # buffers kept for this many (T, N) shapes: a training batch and a probe set
# Subnormals in BPTT. A vanishing gradient shrinks step by step back in time until entries fall below float32's
# smallest normal number (1.2e-38), and x86 does arithmetic on such subnormals many times slower: a tanh RNN at T = 100
# went from ~620 to ~135 steps/s within 10 s of training. So entries of da below ZERO_BELOW are zeroed before the
# matrix products (in the steps the trainer does not measure: see Cell.exact_figures), which then make no subnormals
# either. What the zeroed entries would add to a gradient entry (through a chain that has shrunk them this far: at
# most ~T x 1e-30) changes a weight by less than its rounding (SGD: lr x 1e-28; Adam: lr x 1e-28 / eps = lr x 1e-20).
# Zeroing costs three passes a step, so it starts once the norm of a step's dL/dh is below FLUSH_WATCH (entries of da
# are entries of dL/dh, spread over ~10 decades, times f'(a), down to ~1e-7 where tanh saturates), looked at every
# FLUSH_CHECK steps; float32 only (float64's subnormals start at 2e-308).
ZERO_BELOW = 1e-30
FLUSH_WATCH = 1e-12
FLUSH_CHECK = 8


def _shares(mask: np.ndarray) -> np.ndarray:
    """The share of True along the last axis of a (T, k, M) mask, float64 (T, k)."""
    return mask.view(np.uint8).sum(axis=2, dtype=np.int64) / mask.shape[2]


def _step_norms(a: np.ndarray, n: int) -> np.ndarray:
    """||a[t]||_F / sqrt(n) for each t of a (T, ...) array, in float64, right over the whole float64 range.

    float32 entries are squared in float64, where they can neither underflow nor overflow; float64 entries are scaled
    by each step's largest |entry| first.
    """
    flat = a.reshape(a.shape[0], -1)
    if flat.dtype == np.float32:
        f64 = flat.astype(np.float64)
        return np.sqrt(np.einsum("ij,ij->i", f64, f64)) / math.sqrt(n)
    f64 = flat.astype(np.float64, copy=False)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        m = np.max(np.abs(f64), axis=1)
        safe = np.where((m > 0) & np.isfinite(m), m, 1.0)
        scaled = f64 / safe[:, None]
        out = safe * np.sqrt(np.einsum("ij,ij->i", scaled, scaled)) / math.sqrt(n)
    return np.where(np.isfinite(m), out, m)


# ---------------------------------------------------------------------------------------------------------------------
# cells
# ---------------------------------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Space:
    """A cell's work arrays for one (T, N), and the per-step views into them (made once, not at every step)."""

    arrays: dict[str, np.ndarray]
    views: list[tuple[np.ndarray, ...]]  # step_views(s) for s = 0..T-1
    h: list[np.ndarray]  # Z[s, :H], s = 0..T
    ht: list[np.ndarray]  # ZT[s, :, :H], s = 0..T


class Cell:
    """A recurrent cell run over a whole sequence: ``forward(x)``, then ``backward(dh_out)`` (BPTT).

    Parameters: Wx (D, kH), Wh (H, kH), b (kH,) in CS231n's row-vector convention, and h0 (H,), the initial state
    broadcast over the batch (zeros; a parameter only when ``learn_init_state``). Each (D, H) or (H, H) gate block is
    initialised on its own, from its own random stream: ``init`` for Wx's blocks, ``recurrent_init`` for Wh's (so that
    "orthogonal" and "identity" mean an orthogonal / identity matrix per gate, not of an (H, kH) rectangle).

    Storage -- what makes it fast. Every per-step array is feature-major, (features, N), and contiguous, so that a gate
    block is one contiguous (H, N) slab and each per-step operation runs on memory still in cache. The stacked matmul
    of a step is one product:

        z_s = [prev_h; x_s; 1]          (H + D + 1, N)     the row of ones carries the bias
        W_all = [Wh^T | Wx^T | b]       (R, H + D + 1)     R = kH rows of stacked pre-activations
        a_s^T = W_all z_s               CS231n's  a = x Wx + prev_h Wh + b, transposed, in one matmul

    and the gradient of all three is one matmul per step, summed over the steps: dW_all = sum_s da_s^T z_s^T. The
    buffer Z (T + 1, H + D + 1, N) holds every z_s: Z[s, :H] = h_s (Z[0, :H] = h0), Z[s, H:H+D] = the input of step
    s + 1, Z[s, H+D] = 1; ZT (T + 1, N, H + D + 1) holds their transposes (a BLAS product with a transposed right
    operand measured twice as slow as a copy of h plus a plain product). Each step also computes its local
    derivatives while its values are in cache. Measured, and slower: the same derivatives in vectorised passes over
    the whole (T, kH, N) buffers before the backward loop (they do not fit in cache: 2.6 ms a batch for an LSTM,
    against ~0.3 ms inside the loop); projecting the input of all steps at once, x Wx, then adding it at each step
    (a batched matmul and one more operation a step, for inputs as narrow as the tasks', D <= 10, against D + 1 more
    columns in each step's product -- a very wide input would be better projected once).

    Sigmoid gates use sigmoid(a) = (1 + tanh(a/2)) / 2 and sigmoid'(a) = (1 - tanh^2(a/2)) / 4: their rows of W_all
    are halved, so that one in-place tanh over all the gate rows does every nonlinearity of the step. D[s] holds
    1 - tanh^2 for every row, which is 4 sigmoid'(a) for a sigmoid gate: the backward's dA is then 4 dL/da in those
    rows, and the 1/4 is applied once per backward instead of twice per step -- to those columns of the recurrent
    matrix of the through-time product (``back_weights``) and to those rows of dW_all (both exact: a power of 2).
    """

    flush_subnormals = True  # zero da's entries below ZERO_BELOW once the gradient has vanished that far
    # dL/dh_t are the through-time figures: with exact_figures only subnormals are zeroed (float32 holds nothing exact
    # below its smallest normal number anyway), so that a figure is not 0 where it is 1e-35. The trainer clears it for
    # the steps it does not measure, which then zero everything below ZERO_BELOW (no subnormal is made downstream)
    exact_figures = True

    kind: ClassVar[str] = ""
    gates: ClassVar[tuple[str, ...]] = ()
    sigmoid_blocks: ClassVar[int] = 0  # the leading gate blocks that are sigmoid gates, computed through tanh(a/2)

    def __init__(
        self,
        input_dim: int,
        hidden: int,
        dtype: np.dtype | str = "float32",
        *,
        init: str = "xavier_uniform",
        recurrent_init: str = "orthogonal",
        seed: int = 0,
        learn_init_state: bool = False,
    ) -> None:
        if input_dim < 1 or hidden < 1:
            raise ValueError(f"input_dim and hidden must be >= 1, not {input_dim} and {hidden}")
        self.dtype = np.dtype(dtype)
        self.input_dim, self.hidden = D, H = input_dim, hidden
        k = len(self.gates)
        self.Wx = np.empty((D, k * H), dtype=self.dtype)
        self.Wh = np.empty((H, k * H), dtype=self.dtype)
        for j in range(k):
            cols = slice(j * H, (j + 1) * H)
            self.Wx[:, cols] = init_weights(init, D, H, rng_for(seed, STREAM_WEIGHTS, PART_INPUT, j + 1))
            self.Wh[:, cols] = init_weights(recurrent_init, H, H, rng_for(seed, STREAM_WEIGHTS, PART_RECURRENT, j + 1))
        self.b = np.zeros(k * H, dtype=self.dtype)
        self.h0 = np.zeros(H, dtype=self.dtype)
        self.dWx, self.dWh, self.db, self.dh0 = (np.zeros_like(p) for p in (self.Wx, self.Wh, self.b, self.h0))
        self.learn_init_state = learn_init_state
        self._cache: dict[tuple[int, int], _Space] = {}
        self._space = _Space({}, [], [], [])  # that of the last forward's (T, N)
        self._W = np.empty(0, dtype=self.dtype)  # W_all of the last forward
        self._W_back = np.empty(0, dtype=self.dtype)  # the recurrent matrix of the through-time product
        dt = self.dtype.type
        self._one, self._half, self._quarter = dt(1), dt(0.5), dt(0.25)
        self.steps = 0  # T of the last forward
        self.batch = 0  # N of the last forward
        self.has_backward = False  # a backward has run since the last forward (dH is current)
        self._flushing = False  # zeroing da's tiny entries in this backward (see ZERO_BELOW)

    # ---- parameters --------------------------------------------------------------------------------------------
    def params(self) -> Params:
        out: Params = [("W", self.Wx, self.dWx), ("W", self.Wh, self.dWh), ("b", self.b, self.db)]
        if self.learn_init_state:
            out.append(("h0", self.h0, self.dh0))
        return out

    def param_names(self) -> list[str]:
        return ["Wx", "Wh", "b"] + (["h0"] if self.learn_init_state else [])

    @property
    def rows(self) -> int:
        """R, the rows of the stacked pre-activation of one step."""
        return len(self.gates) * self.hidden

    def pack(self) -> np.ndarray:
        """W_all = [Wh^T | Wx^T | b], (R, H + D + 1), its sigmoid gates' rows halved."""
        H, D = self.hidden, self.input_dim
        W = np.empty((self.rows, H + D + 1), dtype=self.dtype)
        W[:, :H] = self.Wh.T
        W[:, H : H + D] = self.Wx.T
        W[:, H + D] = self.b
        W[: self.sigmoid_blocks * H] *= self._half
        return W

    def back_weights(self) -> np.ndarray:
        """W_all's recurrent columns, transposed and not halved, (H, R): dprev_h^T = back_weights() da^T."""
        return self.Wh

    def unpack(self, dW: np.ndarray) -> None:
        """dWh, dWx, db from dW_all = dL/dW_all, (R, H + D + 1)."""
        H, D = self.hidden, self.input_dim
        self.dWh[...] = dW[:, :H].T
        self.dWx[...] = dW[:, H : H + D].T
        self.db[...] = dW[:, H + D]

    # ---- buffers -----------------------------------------------------------------------------------------------
    @property
    def buf(self) -> dict[str, np.ndarray]:
        """The work arrays of the last forward, by name (see ``buffer_shapes``)."""
        return self._space.arrays

    def buffer_shapes(self, T: int, N: int) -> dict[str, tuple[int, ...]]:
        """Every work array the cell needs for sequences of T steps in batches of N."""
        H, K, R = self.hidden, self.hidden + self.input_dim + 1, self.rows
        return {
            "Z": (T + 1, K, N),  # z_s = [h_s; x_{s+1}; 1]
            "ZT": (T + 1, N, K),  # z_s^T
            "G": (T, R, N),  # each step's pre-activations, replaced in place by its gate values
            "D": (T, R, N),  # each step's local derivatives, written by step_forward
            "dH": (T, H, N),  # dH[s] = the total dL/dh_{s+1}: through time and from the readout
            "dA": (R, N),  # dL/da of the step being taken back
            "dW": (R, K),  # dL/dW_all
            "tmpW": (R, K),
            "dh0": (H, N),
            "tmpH": (H, N),
        }

    def step_views(self, buf: dict[str, np.ndarray], s: int) -> tuple[np.ndarray, ...]:
        """The views step s works on (made once per buffer shape)."""
        return ()

    def _bind(self, T: int, N: int) -> dict[str, np.ndarray]:
        key = (T, N)
        space = self._cache.get(key)
        if space is None:
            buf = {name: np.empty(shape, dtype=self.dtype) for name, shape in self.buffer_shapes(T, N).items()}
            H, D = self.hidden, self.input_dim
            buf["Z"][:, H + D] = 1  # the bias row
            buf["ZT"][:, :, H + D] = 1
            buf["Z"][T, H : H + D] = 0  # there is no input after the last step
            buf["ZT"][T, :, H : H + D] = 0
            views = [self.step_views(buf, s) for s in range(T)]
            space = _Space(
                buf, views, [buf["Z"][s, :H] for s in range(T + 1)], [buf["ZT"][s, :, :H] for s in range(T + 1)]
            )
            while len(self._cache) >= MAX_CACHED_SHAPES:
                del self._cache[next(iter(self._cache))]  # the oldest shape
            self._cache[key] = space
        self._space, self.steps, self.batch = space, T, N
        return space.arrays

    def states(self) -> np.ndarray:
        """h_1 .. h_T of the last forward, (T, H, N) (a view)."""
        return self.buf["Z"][1:, : self.hidden]

    # ---- the sequence ------------------------------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> None:
        """x: (N, T, D), batch first. Runs ``step_forward`` for s = 0..T-1; the states are then ``states()``."""
        N, T, D = x.shape
        if self.input_dim != D:
            raise ValueError(f"x has {D} features per step, the cell expects {self.input_dim}")
        buf = self._bind(T, N)
        H = self.hidden
        buf["Z"][:T, H : H + D] = x.transpose(1, 2, 0)
        buf["ZT"][:T, :, H : H + D] = x.transpose(1, 0, 2)
        buf["Z"][0, :H] = self.h0[:, None]
        self.start_states(buf)
        self._W = self.pack()
        h, ht = self._space.h, self._space.ht
        with np.errstate(over="ignore"):  # a state or gate may overflow to inf: the trainer reports divergence
            for s in range(T):
                self.step_forward(s)
                np.copyto(ht[s], h[s].T)
        np.copyto(ht[T], h[T].T)
        self.has_backward = False

    def start_states(self, buf: dict[str, np.ndarray]) -> None:
        pass

    def step_forward(self, s: int) -> None:
        """Step s: z_s = Z[s] -> next_h = Z[s + 1, :H], the gate values G[s], the local derivatives D[s]."""
        raise NotImplementedError

    def backward(self, dh_out: np.ndarray) -> None:
        """BPTT for the last forward. dh_out: (T, H, N), dL/dh_t^T from outside the recurrence (the readout) at
        every step, or (H, N) at the last step only. Fills dWx, dWh, db (and h0's, c0's) and dH, the total dL/dh_t:

            dL/dh_t = (from the readout at t) + (through time: dprev_h of step t + 1)
            dW_all = sum_t da_t^T z_t^T       i.e.  dWh = sum_t h_{t-1}^T da_t,  dWx = sum_t x_t^T da_t,  db = sum da_t
        """
        T, N, H = self.steps, self.batch, self.hidden
        buf = self.buf
        each = dh_out.ndim == 3
        if dh_out.shape != ((T, H, N) if each else (H, N)):
            raise ValueError(f"dh_out has shape {dh_out.shape}; the last forward had T={T}, H={H}, N={N}")
        ZT, dH, dA, dW, tmpW, dh0 = buf["ZT"], buf["dH"], buf["dA"], buf["dW"], buf["tmpW"], buf["dh0"]
        self.start_backward(buf)
        sig = self.sigmoid_blocks * H
        if sig:  # the 1/4 of sigmoid' (see the class docstring)
            self._W_back = self.back_weights().copy()
            self._W_back[:, :sig] *= self._quarter
        else:
            self._W_back = self.back_weights()
        np.copyto(dH[T - 1], dh_out[T - 1] if each else dh_out)
        self._flushing = False
        watch = self.flush_subnormals and self.dtype == np.float32
        for s in range(T - 1, -1, -1):
            if watch and (T - 1 - s) % FLUSH_CHECK == 0:
                d = dH[s].reshape(-1)
                if float(d.dot(d)) < FLUSH_WATCH**2:  # its norm (>= its largest entry); NaN is not below
                    self._flushing, watch = True, False
            dprev_h = dH[s - 1] if s > 0 else dh0
            self.step_backward(s, dH[s], dprev_h)
            if s == T - 1:
                np.matmul(dA, ZT[s], out=dW)
            else:
                np.matmul(dA, ZT[s], out=tmpW)
                dW += tmpW
            if each and s > 0:
                dprev_h += dh_out[s - 1]
        dW[:sig] *= self._quarter
        self.unpack(dW)
        if self.learn_init_state:
            self.init_state_gradients()
        self.has_backward = True

    def start_backward(self, buf: dict[str, np.ndarray]) -> None:
        pass

    def _back_through(self, dA: np.ndarray, dprev_h: np.ndarray) -> None:
        """dprev_h = _W_back @ dA, the through-time term; once the gradient has shrunk that far, dA's entries below
        ZERO_BELOW (subnormals only, with ``exact_figures``) are zeroed first."""
        if self._flushing:
            self._zero_tiny(dA)
        np.matmul(self._W_back, dA, out=dprev_h)

    def _zero_tiny(self, a: np.ndarray) -> None:
        """Zero ``a``'s entries below ZERO_BELOW (subnormals only, with ``exact_figures``), in place."""
        mag = self.scratch(f"flush_mag_{a.shape[0]}", a.shape, a.dtype)  # dA and dprev_h: two shapes
        small = self.scratch(f"flush_small_{a.shape[0]}", a.shape, np.bool_)
        np.abs(a, out=mag)
        np.less(mag, np.finfo(a.dtype).tiny if self.exact_figures else ZERO_BELOW, out=small)
        np.copyto(a, 0, where=small)

    def step_backward(self, s: int, dnext_h: np.ndarray, dprev_h: np.ndarray) -> None:
        """Step s back. dnext_h: (H, N), the total dL/dh_{s+1}. Writes dL/da of the step into the buffer dA (times 4
        in sigmoid rows) and the through-time part of dL/dh_s, ``_W_back @ dA``, into dprev_h (H, N)."""
        raise NotImplementedError

    def init_state_gradients(self) -> None:
        np.sum(self.buf["dh0"], axis=1, out=self.dh0)

    # ---- what the measurements read ----------------------------------------------------------------------------
    def gate_values(self) -> list[tuple[str, np.ndarray, tuple[float, float]]]:
        """(name, values (T, H, N), range) of every gate of the last forward; none for the vanilla RNN."""
        T, N, H = self.steps, self.batch, self.hidden
        G = self.buf["G"].reshape(T, -1, H, N)
        return [(name, G[:, j], (-1.0, 1.0) if name in ("g", "n") else (0.0, 1.0)) for j, name in enumerate(self.gates)]

    def scratch(self, name: str, shape: tuple[int, ...], dtype: np.dtype | type = np.float32) -> np.ndarray:
        """A work array for the measurements, kept with the buffers of the last forward's shape."""
        arr = self.buf.get(name)
        if arr is None or arr.shape != shape or arr.dtype != dtype:
            arr = self.buf[name] = np.empty(shape, dtype=dtype)
        return arr

    def gate_figures(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, saturated share), each (T, gates) float64, of every gate at every step of the last forward.

        Saturated: in the outer SATURATION_EDGE (5 %) of the gate's range at either end -- a sigmoid gate below 0.05
        or above 0.95, a tanh candidate beyond +-0.9. A few passes over the gate buffer, in preallocated arrays.
        """
        T, N, H, k = self.steps, self.batch, self.hidden, len(self.gates)
        G = self.buf["G"].reshape(T, -1, H * N)[:, :k]  # (T, k, H N): the GRU's 4th block, ha_n, is not a gate
        mean = G.sum(axis=2).astype(np.float64) / (H * N)  # float32 pairwise sums of H N values in [-1, 1]
        scr = self.scratch("gate_scratch", G.shape, self.dtype)
        mask = self.scratch("gate_mask", G.shape, np.bool_)
        sig, dt = self.sigmoid_blocks, self.dtype.type
        inner = 1 - 2 * SATURATION_EDGE
        for j0, j1, centre, half in ((0, sig, 0.5, 0.5 * inner), (sig, k, 0.0, inner)):
            if j1 > j0:
                np.subtract(G[:, j0:j1], dt(centre), out=scr[:, j0:j1])
                np.abs(scr[:, j0:j1], out=scr[:, j0:j1])
                np.greater(scr[:, j0:j1], dt(half), out=mask[:, j0:j1])
        return mean, _shares(mask)


class RNNCell(Cell):
    """Vanilla (Elman) RNN cell, as PyTorch's ``nn.RNN(nonlinearity=...)`` with b = b_ih + b_hh.

        a = x Wx + prev_h Wh + b          (N, H)
        next_h = f(a)                     f from the activation registry (RNN_ACTIVATIONS)
    backward:
        da = dnext_h * f'(a)
        dprev_h = da Wh^T                 the through-time term: with |f'| <= 1 and ||Wh|| < 1 it vanishes
    """

    kind = "rnn"
    gates = ("a",)

    def __init__(self, input_dim: int, hidden: int, dtype: np.dtype | str = "float32", *, activation: str = "tanh",
                 init: str = "xavier_uniform", recurrent_init: str = "orthogonal", seed: int = 0,
                 learn_init_state: bool = False) -> None:  # fmt: skip
        name = ALIASES.get(activation, activation)
        if name not in RNN_ACTIVATIONS:
            raise ValueError(f"activation {activation!r} cannot drive a recurrent cell; choose from {RNN_ACTIVATIONS}")
        super().__init__(input_dim, hidden, dtype, init=init, recurrent_init=recurrent_init, seed=seed,
                         learn_init_state=learn_init_state)  # fmt: skip
        act = make_activation(name, hidden, self.dtype)
        assert isinstance(act, Elementwise)
        self.act: Elementwise = act

    def step_views(self, buf: dict[str, np.ndarray], s: int) -> tuple[np.ndarray, ...]:
        H = self.hidden
        return buf["Z"][s], buf["G"][s], buf["D"][s], buf["Z"][s + 1, :H]

    def step_forward(self, s: int) -> None:
        z, a, d, next_h = self._space.views[s]
        np.matmul(self._W, z, out=a)
        name = self.act.name
        if name == "tanh":
            np.tanh(a, out=next_h)
            np.square(next_h, out=d)
            np.subtract(self._one, d, out=d)  # f' = 1 - h^2
        elif name == "relu":
            np.maximum(a, 0, out=next_h)
            np.sign(next_h, out=d)  # f' = 1 where a > 0, else 0 (f'(0) = 0)
        else:
            next_h[...] = self.act.f(a)
            d[...] = self.act.df(a, next_h)

    def step_backward(self, s: int, dnext_h: np.ndarray, dprev_h: np.ndarray) -> None:
        da = np.multiply(dnext_h, self._space.views[s][2], out=self.buf["dA"])  # da = dnext_h * f'(a)
        self._back_through(da, dprev_h)  # dprev_h^T = Wh da^T

    def gate_values(self) -> list[tuple[str, np.ndarray, tuple[float, float]]]:
        return []

    def gate_figures(self) -> tuple[np.ndarray, np.ndarray]:
        return np.empty((self.steps, 0)), np.empty((self.steps, 0))


class LSTMCell(Cell):
    """LSTM cell (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000), as PyTorch's
    ``nn.LSTM`` with b = b_ih + b_hh. The stacked columns are in CS231n's order i, f, o, g (PyTorch's is i, f, g, o).

        a = x Wx + prev_h Wh + b,  a = [a_i, a_f, a_o, a_g]      (N, 4H)
        i = sigmoid(a_i)   input gate          f = sigmoid(a_f)   forget gate
        o = sigmoid(a_o)   output gate         g = tanh(a_g)      candidate
        next_c = f * prev_c + i * g
        next_h = o * tanh(next_c)
    backward (dnext_c arrives from step t + 1 through its forget gate):
        dc = dnext_c + dnext_h * o * (1 - tanh^2(next_c))
        da_i = dc * g * i (1 - i)      da_f = dc * prev_c * f (1 - f)
        da_o = dnext_h * tanh(next_c) * o (1 - o)      da_g = dc * i * (1 - g^2)
        dprev_c = dc * f               dprev_h = da Wh^T

    The forget gate's bias starts at ``forget_bias`` (1 by default: Gers et al. 2000, Jozefowicz et al. 2015). With
    0, f starts near 1/2, and the cell state and its gradient halve at every step until the gate learns to open.
    The initial cell state c0 (H,) is zeros, learned with h0 when ``learn_init_state``.
    """

    kind = "lstm"
    gates = ("i", "f", "o", "g")
    sigmoid_blocks = 3

    def __init__(self, input_dim: int, hidden: int, dtype: np.dtype | str = "float32", *, forget_bias: float = 1.0,
                 init: str = "xavier_uniform", recurrent_init: str = "orthogonal", seed: int = 0,
                 learn_init_state: bool = False) -> None:  # fmt: skip
        super().__init__(input_dim, hidden, dtype, init=init, recurrent_init=recurrent_init, seed=seed,
                         learn_init_state=learn_init_state)  # fmt: skip
        H = hidden
        self.forget_bias = float(forget_bias)
        self.b[H : 2 * H] = self.forget_bias
        self.c0 = np.zeros(H, dtype=self.dtype)
        self.dc0 = np.zeros_like(self.c0)

    def params(self) -> Params:
        out = super().params()
        if self.learn_init_state:
            out.append(("c0", self.c0, self.dc0))
        return out

    def param_names(self) -> list[str]:
        return super().param_names() + (["c0"] if self.learn_init_state else [])

    def buffer_shapes(self, T: int, N: int) -> dict[str, tuple[int, ...]]:
        H = self.hidden
        return {
            **super().buffer_shapes(T, N),
            "C": (T + 1, H, N),  # cell states, C[0] = c0
            "TC": (T, H, N),  # tanh(c_t)
            "Q": (T, H, N),  # o (1 - tanh^2(c_t)): dL/dc_t gets dL/dh_t * Q
            "dc": (H, N),  # the running dL/dc
        }

    def step_views(self, buf: dict[str, np.ndarray], s: int) -> tuple[np.ndarray, ...]:
        H = self.hidden
        a, d = buf["G"][s], buf["D"][s]
        return (buf["Z"][s], a, d, a[: 3 * H], a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :],
                buf["C"][s], buf["C"][s + 1], buf["TC"][s], buf["Q"][s], buf["Z"][s + 1, :H])  # fmt: skip

    def start_states(self, buf: dict[str, np.ndarray]) -> None:
        buf["C"][0] = self.c0[:, None]

    def step_forward(self, s: int) -> None:
        z, a, d, sig, i, f, o, g, prev_c, next_c, tc, q, next_h = self._space.views[s]
        tmpH = self.buf["tmpH"]
        np.matmul(self._W, z, out=a)  # [a_i/2, a_f/2, a_o/2, a_g]
        np.tanh(a, out=a)
        np.square(a, out=d)
        np.subtract(self._one, d, out=d)  # [4 i', 4 f', 4 o', g']: 1 - tanh^2 (sigmoid' = (1 - tanh^2(a/2)) / 4)
        sig *= self._half
        sig += self._half  # sigmoid(a) = (1 + tanh(a/2)) / 2
        np.multiply(f, prev_c, out=next_c)
        np.multiply(i, g, out=tmpH)
        next_c += tmpH  # next_c = f * prev_c + i * g
        np.tanh(next_c, out=tc)
        np.multiply(o, tc, out=next_h)  # next_h = o * tanh(next_c)
        np.multiply(next_h, tc, out=q)
        np.subtract(o, q, out=q)  # o (1 - tanh^2 c) = o - h tanh c

    def start_backward(self, buf: dict[str, np.ndarray]) -> None:
        buf["dc"][...] = 0

    def step_backward(self, s: int, dnext_h: np.ndarray, dprev_h: np.ndarray) -> None:
        _, _, d, _, i, f, _, g, prev_c, _, tc, q, _ = self._space.views[s]
        buf = self.buf
        H = self.hidden
        dc, tmpH, dA = buf["dc"], buf["tmpH"], buf["dA"]
        np.multiply(dnext_h, q, out=tmpH)
        dc += tmpH  # dc = dnext_c + dnext_h * o * (1 - tanh^2(c))
        np.multiply(dc, g, out=dA[:H])  # dL/di = dc * g
        np.multiply(dc, prev_c, out=dA[H : 2 * H])  # dL/df = dc * prev_c
        np.multiply(dnext_h, tc, out=dA[2 * H : 3 * H])  # dL/do = dnext_h * tanh(c)
        np.multiply(dc, i, out=dA[3 * H :])  # dL/dg = dc * i
        dA *= d  # da = dL/d(gate) * gate'(a)  (4 da in the rows of i, f, o)
        dc *= f  # dprev_c = dc * f
        self._back_through(dA, dprev_h)  # dprev_h^T = Wh da^T

    def init_state_gradients(self) -> None:
        super().init_state_gradients()
        np.sum(self.buf["dc"], axis=1, out=self.dc0)  # after step 0, dc holds dL/dc_0

    def gate_figures(self) -> tuple[np.ndarray, np.ndarray]:
        """As Cell's, the saturation read off D = 1 - t^2 in one pass: every row of D is 1 - t^2 of its tanh, with
        s = (1 + t) / 2 for a sigmoid gate, so s < 0.05 or s > 0.95, like |g| > 0.9, is |t| > 0.9: D < 0.19."""
        T, N, H = self.steps, self.batch, self.hidden
        G = self.buf["G"].reshape(T, 4, H * N)
        mean = G.sum(axis=2).astype(np.float64) / (H * N)
        mask = self.scratch("gate_mask", G.shape, np.bool_)
        np.less(self.buf["D"].reshape(T, 4, H * N), self.dtype.type(1 - (1 - 2 * SATURATION_EDGE) ** 2), out=mask)
        return mean, _shares(mask)


class GRUCell(Cell):
    """GRU cell (Cho et al. 2014) in exactly PyTorch's ``nn.GRU`` convention: the reset gate multiplies the hidden
    side of the candidate *including its bias*, r * (prev_h W_hn + b_hn), not (r * prev_h) W_hn as in Cho et al.;
    and z keeps the old state (next_h = z * prev_h + (1 - z) * n). Columns in PyTorch's order r, z, n.

        xa = x Wx + b,  b = [b_r, b_z, b_in]         (N, 3H); b_r, b_z are PyTorch's b_ir + b_hr, b_iz + b_hz
        ha = prev_h Wh + [0, 0, b_hn]                (N, 3H)
        r = sigmoid(xa_r + ha_r)      reset gate     z = sigmoid(xa_z + ha_z)    update gate
        n = tanh(xa_n + r * ha_n)     candidate
        next_h = (1 - z) * n + z * prev_h
    backward:
        da_n = dnext_h * (1 - z) * (1 - n^2)         (input side of n; its hidden side ha_n gets da_n * r)
        da_z = dnext_h * (prev_h - n) * z (1 - z)
        da_r = da_n * ha_n * r (1 - r)
        dprev_h = dnext_h * z + [da_r, da_z, da_n * r] Wh^T,    db_hn = sum da_n * r

    Parameters beyond the base cell's: b_hn (H,), kind "b". The stacked pre-activation has 4H rows,
    [a_r, a_z, xa_n, ha_n]: n's input and hidden sides stay apart because r multiplies only the hidden one. Every
    step writes D[s] = [4 da_r, 4 da_z, da_n, da_n r] / dnext_h, so that its backward is one product with dnext_h.
    """

    kind = "gru"
    gates = ("r", "z", "n")
    sigmoid_blocks = 2

    def __init__(self, input_dim: int, hidden: int, dtype: np.dtype | str = "float32", *,
                 init: str = "xavier_uniform", recurrent_init: str = "orthogonal", seed: int = 0,
                 learn_init_state: bool = False) -> None:  # fmt: skip
        super().__init__(input_dim, hidden, dtype, init=init, recurrent_init=recurrent_init, seed=seed,
                         learn_init_state=learn_init_state)  # fmt: skip
        self.bhn = np.zeros(hidden, dtype=self.dtype)
        self.dbhn = np.zeros_like(self.bhn)

    def params(self) -> Params:
        out = super().params()
        out.insert(3, ("b", self.bhn, self.dbhn))
        return out

    def param_names(self) -> list[str]:
        names = super().param_names()
        names.insert(3, "b_hn")
        return names

    @property
    def rows(self) -> int:
        return 4 * self.hidden

    def pack(self) -> np.ndarray:
        """Rows [r, z] = [Wh^T | Wx^T | b] halved; [xa_n] = [0 | Wx_n^T | b_in]; [ha_n] = [Wh_n^T | 0 | b_hn]."""
        H, D = self.hidden, self.input_dim
        W = np.zeros((4 * H, H + D + 1), dtype=self.dtype)
        W[: 2 * H, :H] = self.Wh[:, : 2 * H].T
        W[: 2 * H, H : H + D] = self.Wx[:, : 2 * H].T
        W[: 2 * H, H + D] = self.b[: 2 * H]
        W[: 2 * H] *= self._half  # sigmoid rows: tanh(a/2)
        W[2 * H : 3 * H, H : H + D] = self.Wx[:, 2 * H :].T
        W[2 * H : 3 * H, H + D] = self.b[2 * H :]
        W[3 * H :, :H] = self.Wh[:, 2 * H :].T
        W[3 * H :, H + D] = self.bhn
        return W

    def unpack(self, dW: np.ndarray) -> None:
        """(dW_all's blocks for the structural zeros of W_all are not gradients of anything, and are dropped.)"""
        H, D = self.hidden, self.input_dim
        self.dWh[:, : 2 * H] = dW[: 2 * H, :H].T
        self.dWh[:, 2 * H :] = dW[3 * H :, :H].T
        self.dWx[:, : 2 * H] = dW[: 2 * H, H : H + D].T
        self.dWx[:, 2 * H :] = dW[2 * H : 3 * H, H : H + D].T
        self.db[: 2 * H] = dW[: 2 * H, H + D]
        self.db[2 * H :] = dW[2 * H : 3 * H, H + D]
        self.dbhn[...] = dW[3 * H :, H + D]

    def step_views(self, buf: dict[str, np.ndarray], s: int) -> tuple[np.ndarray, ...]:
        H, N = self.hidden, buf["Z"].shape[2]
        a, d = buf["G"][s], buf["D"][s]
        return (buf["Z"][s], a, d, a[: 2 * H], d[: 2 * H], a[:H], a[H : 2 * H], a[2 * H : 3 * H], a[3 * H :],
                d[:H], d[H : 2 * H], d[2 * H : 3 * H], d[3 * H :], buf["Z"][s, :H], buf["Z"][s + 1, :H],
                d.reshape(4, H, N))  # fmt: skip

    def step_forward(self, s: int) -> None:
        z_s, a, d, rz, drz, r, z, n, ha_n, dr, dz, dn, dhn, prev_h, next_h, _ = self._space.views[s]
        tmpH = self.buf["tmpH"]
        np.matmul(self._W, z_s, out=a)  # [a_r/2, a_z/2, xa_n, ha_n]
        np.tanh(rz, out=rz)
        np.square(rz, out=drz)
        np.subtract(self._one, drz, out=drz)  # 4 r (1 - r), 4 z (1 - z)
        rz *= self._half
        rz += self._half  # r, z
        np.multiply(r, ha_n, out=tmpH)
        n += tmpH
        np.tanh(n, out=n)  # n = tanh(xa_n + r * ha_n)
        diff = np.subtract(prev_h, n, out=tmpH)  # prev_h - n
        dz *= diff  # 4 da_z / dnext_h = (prev_h - n) 4 z (1 - z)
        np.multiply(z, diff, out=next_h)
        next_h += n  # next_h = n + z (prev_h - n)
        np.square(n, out=dn)
        np.subtract(self._one, dn, out=dn)
        np.subtract(self._one, z, out=tmpH)
        dn *= tmpH  # da_n / dnext_h = (1 - z)(1 - n^2)
        dr *= ha_n
        dr *= dn  # 4 da_r / dnext_h = ha_n 4 r (1 - r) (1 - z)(1 - n^2)
        np.multiply(dn, r, out=dhn)  # (da_n r) / dnext_h

    def back_weights(self) -> np.ndarray:
        """[Wh_r, Wh_z, 0, Wh_n] (H, 4H): the through-time product over all four rows of dA in one matmul."""
        H = self.hidden
        Wb = np.zeros((H, 4 * H), dtype=self.dtype)
        Wb[:, : 2 * H] = self.Wh[:, : 2 * H]
        Wb[:, 3 * H :] = self.Wh[:, 2 * H :]
        return Wb

    def step_backward(self, s: int, dnext_h: np.ndarray, dprev_h: np.ndarray) -> None:
        v = self._space.views[s]
        z, d4 = v[6], v[15]
        buf = self.buf
        N, H = self.batch, self.hidden
        dA, tmpH = buf["dA"], buf["tmpH"]
        np.multiply(d4, dnext_h, out=dA.reshape(4, H, N))  # [4 da_r, 4 da_z, da_n, da_n r]
        self._back_through(dA, dprev_h)
        np.multiply(dnext_h, z, out=tmpH)
        dprev_h += tmpH  # + dnext_h * z
        if self._flushing:  # the direct path halves dL/dh a step (z ~ 1/2) into subnormals of its own
            self._zero_tiny(dprev_h)


CELLS: dict[str, type[Cell]] = {c.kind: c for c in (RNNCell, LSTMCell, GRUCell)}


# ---------------------------------------------------------------------------------------------------------------------
# measurements
# ---------------------------------------------------------------------------------------------------------------------

GATE_LABELS = {
    ("lstm", "i"): "input gate",
    ("lstm", "f"): "forget gate",
    ("lstm", "o"): "output gate",
    ("lstm", "g"): "candidate",
    ("gru", "r"): "reset gate",
    ("gru", "z"): "update gate",
    ("gru", "n"): "candidate",
}


@dataclass(frozen=True, eq=False)
class GateStats:
    """One gate over the steps of the last forward. Index 0 of every array is step 1.

    Saturation is the share of the gate's (example, unit) entries in the outer 5 % of its range at either end:
    below 0.05 or above 0.95 for a sigmoid gate (there sigmoid' < 0.0475, under a fifth of its maximum), and, for a
    tanh candidate with range [-1, 1], |g| > 0.9 (tanh' < 0.19: the same fifth of its maximum).
    """

    name: str  # "i", "f", "o", "g" (LSTM); "r", "z", "n" (GRU)
    label: str  # "forget gate", ...
    low: float  # the gate's range: (0, 1) sigmoid, (-1, 1) tanh candidate
    high: float
    mean: np.ndarray  # (T,) float64: mean over the batch and the units at each step
    saturation: np.ndarray  # (T,) float64: saturated share at each step

    @property
    def overall_mean(self) -> float:
        return float(self.mean.mean())

    @property
    def overall_saturation(self) -> float:
        return float(self.saturation.mean())


@dataclass(frozen=True, eq=False)
class StepStats:
    """Per-time-step figures of the last forward (and of the backward that followed it). Float64 arrays of shape
    (T,), index 0 = step 1, index T-1 = step T.

    ``signal[t-1] = ||dL/dh_t||_F / sqrt(N)``: the total gradient reaching the state of step t, through time and from
    the readout (design.md, "Recurrent measurements"). NaN everywhere when no backward followed the last forward
    (``has_gradient`` False), e.g. after an eval forward over a probe set.
    ``through_time_ratio = signal[0] / signal[T-1]`` (inf if only step T's is 0, NaN if both are).
    """

    cell: str  # "rnn", "lstm", "gru"
    activation: str  # of the vanilla RNN; "" for gated cells
    batch: int  # N of the last forward
    has_gradient: bool
    signal: np.ndarray  # (T,) ||dL/dh_t|| / sqrt(N)
    through_time_ratio: float
    state_norm: np.ndarray  # (T,) ||h_t|| / sqrt(N)
    cell_norm: np.ndarray | None  # (T,) ||c_t|| / sqrt(N), LSTM only
    gates: tuple[GateStats, ...]  # LSTM i, f, o, g; GRU r, z, n; () for the vanilla RNN
    saturation: np.ndarray | None  # vanilla RNN: (T,) share of entries with |f'(a)| < 5 % of max |f'|; else None
    dead: np.ndarray | None  # vanilla RNN whose units can die (ReLU, ReLU6, hard-swish): (H,) bool; else None
    hist_step: int  # 1-based step of the state histogram
    hist_edges: np.ndarray  # (bins + 1,) of h at hist_step, over the batch
    hist_counts: np.ndarray  # (bins,) int64

    @property
    def steps(self) -> int:
        return len(self.state_norm)

    @property
    def dead_count(self) -> int:
        """Units whose derivative f'(a) is exactly 0 at every step of every sequence of the last forward."""
        return 0 if self.dead is None else int(np.count_nonzero(self.dead))

    def gate(self, name: str) -> GateStats:
        for g in self.gates:
            if g.name == name:
                return g
        raise KeyError(f"no gate {name!r} in a {self.cell} cell")


@dataclass(frozen=True)
class ParamStats:
    """One parameter array at the optimiser step just taken. Norms in float64 (network.norm64)."""

    name: str  # "cell.Wx", "cell.Wh", "cell.b", "cell.b_hn", "cell.h0", "cell.c0", "out.W", "out.b"
    kind: str  # "W", "b", "h0", "c0"
    grad_norm: float  # ||dL/dp||_F before the update (as computed by backward, before clipping)
    update_ratio: float  # ||p_after - p_before|| / ||p_before|| (inf if p was 0 and moved; NaN if 0 and unmoved)


def _ratio(a: float, b: float) -> float:
    if b > 0:
        return a / b
    return math.nan if a == 0 or math.isnan(a) else math.inf


# ---------------------------------------------------------------------------------------------------------------------
# the network
# ---------------------------------------------------------------------------------------------------------------------


class RecurrentNet:
    """A recurrent cell and a linear readout, mirroring ``Network``'s interface.

        cell:      "rnn" (activation from RNN_ACTIVATIONS), "lstm" or "gru"
        readout:   "last": out = h_T W + b, (N, O)             (the adding problem, temporal order)
                   "each": out_t = h_t W + b, (N, T, O)         (copy: one prediction per step)
        loss:      a gradtui.engine.losses name: "linear" (mean squared error: the mean over N [, T] and O),
                   "softmax" (cross-entropy: the mean over the N [x T] predictions, y int (N,) or (N, T)),
                   "sigmoid" (binary cross-entropy, O = 1)
        init:      initialiser of Wx's gate blocks and of the readout W; recurrent_init: of Wh's gate blocks
                   ("orthogonal" by default; "identity" with a relu cell is Le et al.'s IRNN)
        forget_bias: the LSTM forget gate's initial bias (1; 0 shows why it matters)
        learn_init_state: h0 (and c0) become parameters (kinds "h0", "c0"); otherwise they are fixed zeros
        dtype:     "float32" (training) or "float64" (checking)
        seed:      every weight from network.rng_for(seed, STREAM_WEIGHTS, part, gate block): a change of cell or
                   of one initialiser leaves the other blocks' initial weights as they were

    x: (N, T, D). Recurrent cells behave the same in training and eval mode (``train`` is accepted for the
    interface's sake).
    """

    def __init__(
        self,
        cell: str = "lstm",
        input_dim: int = 2,
        hidden: int = 32,
        output_dim: int = 1,
        *,
        activation: str = "tanh",
        readout: str = "last",
        loss: str = "linear",
        init: str = "xavier_uniform",
        recurrent_init: str = "orthogonal",
        forget_bias: float = 1.0,
        learn_init_state: bool = False,
        dtype: np.dtype | str = "float32",
        seed: int = 0,
    ) -> None:
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}; choose from {', '.join(CELLS)}")
        if readout not in READOUTS:
            raise ValueError(f"unknown readout {readout!r}; choose from {', '.join(READOUTS)}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, not {self.dtype}")
        self.readout = readout
        self.loss: Loss = make_loss(loss)
        self.output_dim = output_dim
        self.cell: Cell
        if cell == "rnn":
            self.cell = RNNCell(input_dim, hidden, self.dtype, activation=activation, init=init,
                                recurrent_init=recurrent_init, seed=seed,
                                learn_init_state=learn_init_state)  # fmt: skip
        elif cell == "lstm":
            self.cell = LSTMCell(input_dim, hidden, self.dtype, forget_bias=forget_bias, init=init,
                                 recurrent_init=recurrent_init, seed=seed,
                                 learn_init_state=learn_init_state)  # fmt: skip
        else:
            self.cell = GRUCell(input_dim, hidden, self.dtype, init=init, recurrent_init=recurrent_init, seed=seed,
                                learn_init_state=learn_init_state)  # fmt: skip
        self.W = init_weights(init, hidden, output_dim, rng_for(seed, STREAM_WEIGHTS, PART_READOUT, 1)).astype(
            self.dtype
        )
        self.b = np.zeros(output_dim, dtype=self.dtype)
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)
        self._out = np.empty(0, dtype=self.dtype)  # time-major logits of the last forward: (N, O) or (T, N, O)

    # ---- parameters --------------------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return self.cell.kind

    @property
    def hidden(self) -> int:
        return self.cell.hidden

    def params(self) -> Params:
        """(kind, value, gradient) of every parameter: the cell's, then the readout's W and b."""
        return [*self.cell.params(), ("W", self.W, self.dW), ("b", self.b, self.db)]

    def param_names(self) -> list[str]:
        """Names parallel to ``params()``: "cell.Wx", "cell.Wh", "cell.b", ["cell.b_hn",] ["cell.h0", "cell.c0",]
        "out.W", "out.b"."""
        return [f"cell.{n}" for n in self.cell.param_names()] + ["out.W", "out.b"]

    # ---- forward / backward ------------------------------------------------------------------------------------
    def _forward_tm(self, x: np.ndarray) -> np.ndarray:
        """Time-major logits: (N, O) for readout "last", (T, N, O) for "each"."""
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"x must be (N, T, D), not of shape {x.shape}")
        cell = self.cell
        cell.forward(x)
        hs = cell.states()  # (T, H, N)
        out = hs[-1].T @ self.W if self.readout == "last" else np.matmul(hs.transpose(0, 2, 1), self.W)
        out += self.b
        self._out = out
        return out

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        """x: (N, T, D). Returns the logits: (N, O) for readout "last", (N, T, O) for "each" (a view)."""
        out = self._forward_tm(x)
        return out if self.readout == "last" else out.transpose(1, 0, 2)

    def states(self) -> np.ndarray:
        """h_1 .. h_T of the last forward, (N, T, H) (a view of the cell's buffer: copy it to keep it)."""
        return self.cell.states().transpose(2, 0, 1)

    def _backward_tm(self, dout: np.ndarray) -> None:
        """dout: dL/dlogits, time-major: (N, O) or (T, N, O).

        last: dW = h_T^T dout, db = sum dout, dL/dh_T = dout W^T;  each: the same at every step, summed over steps.
        """
        hs = self.cell.states()  # (T, H, N)
        if self.readout == "last":
            np.matmul(hs[-1], dout, out=self.dW)
            np.sum(dout, axis=0, out=self.db)
            dh_out = self.W @ dout.T  # (H, N)
        else:
            np.sum(np.matmul(hs, dout), axis=0, out=self.dW)
            np.sum(dout, axis=(0, 1), out=self.db)
            dh_out = np.matmul(self.W, dout.transpose(0, 2, 1))  # (T, H, N)
        self.cell.backward(dh_out)

    def backward(self, dlogits: np.ndarray) -> None:
        """Fill every gradient from dL/dlogits ((N, O) or (N, T, O)) for the last forward."""
        expected = self._out.shape if self.readout == "last" else self._out.shape[:2][::-1] + self._out.shape[2:]
        if dlogits.shape != expected:
            raise ValueError(f"dlogits has shape {dlogits.shape}, the last forward's logits {expected}")
        self._backward_tm(dlogits if self.readout == "last" else dlogits.transpose(1, 0, 2))

    def _targets_tm(self, y: np.ndarray) -> np.ndarray:
        """y in the shape the loss expects for the time-major flattened logits."""
        y = np.asarray(y)
        if self.readout == "last":
            return y if self.loss.classification else y.astype(self.dtype, copy=False).reshape(self._out.shape)
        T, N, O = self._out.shape
        if self.loss.classification:
            return np.ascontiguousarray(y.T).reshape(T * N)
        return np.ascontiguousarray(y.astype(self.dtype, copy=False).reshape(N, T, O).transpose(1, 0, 2)).reshape(
            T * N, O
        )

    def _loss_tm(self, y: np.ndarray) -> float:
        out = self._out
        logits = out if self.readout == "last" else out.reshape(-1, out.shape[2])
        return self.loss.forward(logits, self._targets_tm(y))

    def compute_loss(self, x: np.ndarray, y: np.ndarray) -> float:
        """The mean loss on (x, y), forward only. y: (N,) or (N, O) for "last"; (N, T) or (N, T, O) for "each"."""
        self._forward_tm(x)
        return self._loss_tm(y)

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray, train: bool = True) -> float:
        """Forward, loss, and BPTT: the mean loss over the batch (and steps), gradients in place."""
        loss = self.compute_loss(x, y)
        d = self.loss.backward()
        self._backward_tm(d if self.readout == "last" else d.reshape(self._out.shape))
        return loss

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class (N,) / (N, T) or the regression output (N, O) / (N, T, O)."""
        out = self.forward(x, train=False)
        if self.readout == "last":
            return self.loss.predict(out)
        N, T, O = out.shape
        return self.loss.predict(out.reshape(N * T, O)).reshape(N, T, *(() if self.loss.classification else (O,)))

    # ---- measurements ------------------------------------------------------------------------------------------
    def measure_gradient(self) -> tuple[np.ndarray, float, np.ndarray | None]:
        """The through-time figures of the last backward alone -- (signal (T,), through-time ratio, the LSTM's
        cell-state norms (T,) or None), as ``measure_steps`` defines them -- without its passes over the gates, the
        saturation and the histogram: what a measured training step needs, at a dashboard's 10 Hz."""
        cell = self.cell
        T, N = cell.steps, cell.batch
        if T == 0 or not cell.has_backward:
            raise RuntimeError("measure_gradient needs a forward and a backward first")
        signal = _step_norms(cell.buf["dH"], N)
        cell_norm = _step_norms(cell.buf["C"][1:], N) if isinstance(cell, LSTMCell) else None
        return signal, _ratio(float(signal[0]), float(signal[-1])), cell_norm

    def measure_steps(self, hist_step: int | None = None, bins: int = 32) -> StepStats:
        """The per-time-step figures of the last forward and, if one followed it, of its backward (see StepStats).

        hist_step: 1-based step of the state histogram (default T). Reads the buffers the last forward and backward
        left, computes nothing again: a few passes over (T, H, N) arrays, cheap enough for a dashboard's 10 Hz.
        """
        cell = self.cell
        T, N = cell.steps, cell.batch
        if T == 0:
            raise RuntimeError("measure_steps needs a forward first")
        buf = cell.buf
        states = cell.states()
        if cell.has_backward:
            signal = _step_norms(buf["dH"], N)
            ratio = _ratio(float(signal[0]), float(signal[-1]))
        else:
            signal = np.full(T, math.nan)
            ratio = math.nan
        means, sats = cell.gate_figures()
        gates = [
            GateStats(name, GATE_LABELS[(cell.kind, name)], lo, hi, means[:, j].copy(), sats[:, j].copy())
            for j, (name, _, (lo, hi)) in enumerate(cell.gate_values())
        ]
        saturation = dead = None
        activation = ""
        bounds: tuple[float, float] | None = (-1.0, 1.0)  # h = o tanh(c), and the GRU's mix of tanh's, in (-1, 1)
        nonneg = False
        if isinstance(cell, RNNCell):
            act = cell.act
            activation, bounds, nonneg = act.name, act.bounds, act.nonneg
            d = buf["D"]  # f'(a) of every step, (T, H, N)
            small = cell.scratch("act_mask", d.shape, np.bool_)
            np.abs(d, out=cell.scratch("act_scratch", d.shape, cell.dtype))
            np.less(cell.buf["act_scratch"], d.dtype.type(ACT_SATURATION * act.max_deriv), out=small)
            saturation = _shares(small.reshape(T, 1, -1))[:, 0]
            if act.can_die:
                dead = ~np.any(d != 0, axis=(0, 2))
        step = T if hist_step is None else int(hist_step)
        if not 1 <= step <= T:
            raise ValueError(f"hist_step must be within 1..{T}, not {hist_step}")
        h = states[step - 1]
        edges, counts = histogram(h, bins, *_hist_range(h, bounds, nonneg))
        return StepStats(
            cell=cell.kind,
            activation=activation,
            batch=N,
            has_gradient=cell.has_backward,
            signal=signal,
            through_time_ratio=ratio,
            state_norm=_step_norms(states, N),
            cell_norm=_step_norms(buf["C"][1:], N) if isinstance(cell, LSTMCell) else None,
            gates=tuple(gates),
            saturation=None if saturation is None else np.asarray(saturation, dtype=np.float64),
            dead=dead,
            hist_step=step,
            hist_edges=edges,
            hist_counts=counts,
        )


def _hist_range(h: np.ndarray, bounds: tuple[float, float] | None, nonneg: bool) -> tuple[float, float]:
    """The state's fixed range where it has one, else [0, max] (never negative) or symmetric from the data."""
    if bounds is not None:
        return bounds
    finite = h[np.isfinite(h)]
    m = float(np.max(np.abs(finite))) if finite.size else 0.0
    if m == 0:
        m = 1.0
    return (0.0, m) if nonneg else (-m, m)


def step_and_measure(net: RecurrentNet, opt: Optimiser) -> tuple[ParamStats, ...]:
    """Take the optimiser step (for the gradients of the last backward), measuring every parameter array:
    ||grad|| before the update and the update ratio ||delta p|| / ||p||, in float64. One step's cost plus a copy of
    the parameters: for the measured steps only (the snapshot rate), not for every step."""
    params = net.params()
    before = [p.copy() for _, p, _ in params]
    grads = [norm64(g) for _, _, g in params]
    opt.step()
    out = []
    for name, (kind, p, _), p0, g in zip(net.param_names(), params, before, grads):
        out.append(ParamStats(name, kind, g, _ratio(norm64(p - p0), norm64(p0))))
    return tuple(out)
