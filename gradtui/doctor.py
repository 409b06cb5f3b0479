"""The doctor: a short window of snapshots of one network -> what is wrong, in plain words (design.md section 5).

Each alert states its evidence (the figure and where), the cause, and a fix that is not already in place -- as
words and, for the engine's own runs, as the ``Change``s that make it, so that the dashboard can try the fix in a
twin run from the same seed. The rules are the table ``RULES`` below; ``docs/alerts.md`` says the same in prose.

How a window is read:

- it holds the snapshots of the *current* network only: a rebuild (``Snapshot.build_step`` changes) starts a new one;
- the loss trend (``loss_trend``: falling, flat, rising, converged) is taken over the snapshots since the last live
  change of the optimiser's settings (lr, optimiser, momentum, ...), so that a trend from before the change is not
  blamed on the new settings;
- the gradient figures and the probe-set figures are those of the newest snapshot, and only where they describe the
  current network: a figure that is NaN (not measured yet) or stale (measured before the last rebuild) never raises
  an alert;
- whether a fault was there at the network's first measurement or came with training decides its cause and fix
  (a too-large init, or a too-large lr), and which faults it can explain: a cause does not come after its effect;
- alerts that explain one another are merged (vanishing explains slow learning; a divergence explains everything;
  two alerts with the same fix are one problem seen from two sides), a converged network raises no warning, and a
  healthy one says so, with the healthy ranges.

Thresholds follow design.md section 2; every number is written with ``gradtui.fmt``.
"""

from __future__ import annotations

import functools
import math
import re
import statistics
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

import numpy as np

from .engine.config import LIVE_FIELDS, Config, changed
from .engine.data import DATASETS, make_dataset
from .engine.init import parse_init
from .engine.stats import Entry, GateStats, Snapshot
from .engine.trainer import Change
from .fmt import num, pct, safe_text, sci, setting

__all__ = [
    "Alert", "Doctor", "Fix", "RULES", "Rule", "Trend", "Window", "diagnose", "diagnose_window", "loss_trend",
    "one_line", "shorter",
]  # fmt: skip

Level = Literal["error", "warning", "info"]
TrendKind = Literal["unknown", "falling", "flat", "rising", "converged"]

# ---- thresholds (design.md section 2) -------------------------------------------------------------------------------
VANISHING_BELOW = 1e-3  # vanishing ratio: signal of the first entry / signal of the last
EXPLODING_ABOVE = 1e3
DEAD_FRACTION = 0.10  # of a layer's units that died during training
DEAD_AT_INIT_FRACTION = 0.5  # of a layer's units dead from the start (a few are normal: a 2-D input reaches few)
SATURATION_ABOVE = 0.5  # share of (example, unit) pairs with |f'| < 5 % of its max, for sigmoid and tanh
UPDATE_HEALTHY = 1e-3  # ||dW|| / ||W|| of one step (Karpathy's rule of thumb)
UPDATE_TOO_SMALL = 1e-5
UPDATE_TOO_BIG = 0.1

# ---- the loss trend -------------------------------------------------------------------------------------------------
WINDOW = 48  # snapshots the Doctor keeps of one network
TREND_POINTS = 8  # the newest losses a trend is fitted to: what the loss does now, not what it did
MIN_TREND_POINTS = 4  # fewer (after a rebuild or a live change): the trend is unknown
MIN_TREND_STEPS = 20
SIGNIFICANT_T = 2.0  # |slope| / its standard error: a trend is more than noise
FALL_FRACTION = 0.05  # the fitted loss fell by 5 % of its start over the points: falling
RISE_FRACTION = 0.10  # rose by 10 %: rising
CONVERGED_LOSS = 0.05  # at most 5 % of the reference (chance-level) loss, and not rising: converged
STUCK_FRACTION = 0.5  # a flat loss at half the reference or more: the network is not learning
LOSS_BLOWUP = 10.0  # a loss ten times the chance level: the outputs are huge
UPDATE_LARGE = 1e-2  # updates ten times the healthy size, on a flat loss: the steps are too big to settle
AT_BASELINE = 0.1  # a loss within 10 % of a task's baseline is at it
GATE_SHUT = 0.5  # most of a gate's entries (probe set, every step) below 0.05: the gate is shut
GATE_CANDIDATE_SATURATED = 0.5  # most of the candidate's entries beyond +-0.9: it sits in tanh's flat tails
GATE_CHANGES = 0.05  # a gate's share shut (or saturated) at step T and at step 1 this far apart: said, through time

# a learning rate that ReLU + He takes without diverging, per optimiser: measured on every dataset at depths 4 and 10
# (500 steps, seed 0); the regression (sine) needs a hundredth of it with SGD and momentum (0.01 diverges)
SAFE_LR = {"sgd": 0.1, "momentum": 0.01, "adam": 1e-3}
SAFE_LR_REGRESSION = {"sgd": 1e-3, "momentum": 1e-4, "adam": 1e-3}
CLIP_TO = 1.0

SATURATING = frozenset({"sigmoid", "tanh"})  # saturation is an alert only where it is the known failure mode
# the initialiser made for each activation (the ReLU family: He); the second item: those that count as in place
MATCHING_INIT: dict[str, tuple[str, frozenset[str]]] = {
    "sigmoid": ("xavier", frozenset({"xavier", "xavier_uniform"})),
    "tanh": ("xavier", frozenset({"xavier", "xavier_uniform"})),
    "linear": ("xavier", frozenset({"xavier", "xavier_uniform", "orthogonal"})),
    "selu": ("lecun", frozenset({"lecun"})),
}
HE = ("he", frozenset({"he", "he_uniform"}))
INIT_LABEL = {"he": "He", "xavier": "Xavier", "lecun": "LeCun"}
RECURRENT = frozenset({"rnn", "lstm", "gru"})

LEVELS: dict[str, int] = {"error": 0, "warning": 1, "info": 2}
DASH = " — "


# ---- what the doctor says -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fix:
    """A fix in words, and the engine changes that make it (empty where it cannot be applied: a user's model)."""

    text: str
    changes: tuple[Change, ...] = ()

    def apply(self, config: Config) -> Config:
        """A copy of ``config`` with the changes applied (for a twin run from the same seed), each as the trainer
        applies it (``engine.config.changed``: a change of model takes that model's settings)."""
        for c in self.changes:
            config = changed(config, c.field, c.value)
        return config


@dataclass(frozen=True)
class Alert:
    """One finding: ``text`` is the one-line sentence (evidence — cause — fix)."""

    level: Level
    key: str  # stable: a key of RULES (and "app" for the dashboard's own messages)
    evidence: str  # the figure and where: "layer 1 gets 2.0e-6 of layer 10's gradient signal"
    cause: str = ""
    fix: Fix | None = None
    entry: str | None = None  # the name of the entry it is about ("L1", "t=1", "encoder.fc1"), if one
    index: int | None = None  # its 1-based index along the snapshot's axis
    explains: tuple[str, ...] = ()  # the keys of the alerts merged into this one
    short: str = ""  # the evidence in fewer words, the same figures ("" : ``shorter(evidence)``)

    @property
    def text(self) -> str:
        return DASH.join(p for p in (self.evidence, self.cause, self.fix.text if self.fix else "") if p)

    @property
    def forms(self) -> tuple[str, ...]:
        """The sentence for a line that is short of room, the preferred first: evidence, cause and fix; evidence
        and fix; the short evidence and the fix; the evidence; the short evidence; its first clause. (The cause
        goes first: the figure and what to do matter most.) Every form keeps its numbers whole."""
        fix = self.fix.text if self.fix else ""
        short = shorter(self.short or self.evidence)
        out = [
            self.text,
            DASH.join(p for p in (self.evidence, fix) if p),
            DASH.join(p for p in (short, fix) if p),
            self.evidence,
            short,
            short.split("; ")[0],
        ]
        return tuple(dict.fromkeys(p for p in out if p))

    @property
    def layer(self) -> int | None:
        """The entry's index (the name the first dashboard used)."""
        return self.index


# a sentence in fewer columns, by rule (the alerts line at 60 columns has 55): parentheses go, then the usual
# abbreviations; no rule touches a number
_SHORTER: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(a), b)
    for a, b in (
        (r" \([^()]*\)", ""),  # a parenthesis: the healthy range, "median of the last 3", "37 died in training"
        (r"\blayer (\d+)", r"L\1"),
        (r"'s gradient signal\b", "'s signal"),
        (r"\bthe gradient reaching step (\d+)", r"step \1's gradient"),
        (r"\bthe loss is flat at\b", "loss flat at"),
        (r"\bthe loss (is|rose)\b", r"loss \1"),
        (r"\b(one step changes|each step changes|steps change) the weights by\b", "steps change W by"),
        (r"\bof the weights\b", "of W"),
        (r"\bthe chance level\b", "chance"),
        (r"\bthe loss of predicting the mean\b", "mean-guess loss"),
        (r"\bthe output layer\b", "the output"),
        (r"\bwent NaN/Inf\b", "NaN/Inf"),
        (r", accuracy\b", ", acc"),
        (r"\b(?:[\w-]+\.){2,}([\w-]+\.[\w-]+)\b", r"…\1"),  # a module's path: its last two names
    )
)


def shorter(text: str) -> str:
    """``text`` in fewer columns by the rules above ("layer 3" is "L3", parentheses go); its numbers unchanged."""
    for pattern, repl in _SHORTER:
        text = pattern.sub(repl, text)
    return text


@dataclass(frozen=True)
class Trend:
    """What the loss did over the newest points of the current settings."""

    kind: TrendKind
    start: float = math.nan  # the fitted loss at the first point
    end: float = math.nan  # at the last
    level: float = math.nan  # the median of the last three losses
    steps: int = 0  # from the first point to the last
    points: int = 0


def loss_trend(steps: Sequence[int], losses: Sequence[float], reference: float = math.nan) -> Trend:
    """Falling, flat, rising or converged: a least-squares line through the logarithm of the newest
    ``TREND_POINTS`` finite losses (a loss curve falls by factors, not by amounts).

    A change counts only when it is larger than the noise (|t| of the slope > 2) and than a share of the loss (5 %
    falling, 10 % rising). Losses below ``CONVERGED_LOSS`` x ``reference`` count as that much, so that the noise of a
    loss near 0 is no trend. Converged: the loss is down to ``CONVERGED_LOSS`` of ``reference`` (the chance-level
    loss) and not rising. Fewer than 4 points, or fewer than 20 steps between the first and the last: no direction
    (unknown, or converged if the loss is that low already).
    """
    pts = [(float(s), float(v)) for s, v in zip(steps, losses) if math.isfinite(v)][-TREND_POINTS:]
    n = len(pts)
    level = statistics.median(p[1] for p in pts[-3:]) if pts else math.nan
    low = CONVERGED_LOSS * reference if math.isfinite(reference) and reference > 0 else 0.0
    if n < MIN_TREND_POINTS or pts[-1][0] - pts[0][0] < MIN_TREND_STEPS:
        # too few points for a direction; a loss this low is converged whatever it does next
        return Trend("converged" if n and level <= low else "unknown", level=level, points=n)
    xs = [p[0] for p in pts]
    ys = [math.log(max(p[1], low, 1e-300)) for p in pts]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    resid = [y - (my + slope * (x - mx)) for x, y in zip(xs, ys)]
    se = math.sqrt(sum(r * r for r in resid) / (n - 2) / sxx)
    t = slope / se if se > 0 else (math.inf if slope > 0 else -math.inf if slope < 0 else 0.0)
    change = slope * (xs[-1] - xs[0])  # of log(loss)
    start, end = math.exp(my + slope * (xs[0] - mx)), math.exp(my + slope * (xs[-1] - mx))
    rising = change > math.log1p(RISE_FRACTION) and t > SIGNIFICANT_T
    if not rising and low > 0 and level <= low:
        kind: TrendKind = "converged"
    elif rising:
        kind = "rising"
    elif change < math.log1p(-FALL_FRACTION) and t < -SIGNIFICANT_T:
        kind = "falling"
    else:
        kind = "flat"
    return Trend(kind, start, end, level, int(xs[-1] - xs[0]), n)


# ---- the window the rules read --------------------------------------------------------------------------------------
def _settings(s: Snapshot) -> tuple[str, ...]:
    """The live settings (those a change applies without a rebuild), as text (NaN-safe)."""
    if s.config is not None:
        return tuple(repr(getattr(s.config, f)) for f in sorted(LIVE_FIELDS))
    return (s.meta.optimizer, repr(s.meta.lr))


def _fin(x: float) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


@functools.lru_cache(maxsize=8)
def _mean_predictor_loss(dataset: str, samples: int, noise: float, seed: int) -> float:
    """A regression's chance level: the mean squared error of predicting the training targets' mean (their
    variance). (The engine could carry it as ``Snapshot.baseline_loss``; until it does, the doctor makes the same
    data from the same seed.)"""
    return float(np.var(make_dataset(dataset, samples, noise, seed).y_train))


def _vanishing_ratio(s: Snapshot) -> float:
    """The snapshot's vanishing (through-time) ratio, or the first entry's signal / the last's when it has none."""
    if not math.isnan(s.vanishing_ratio):
        return float(s.vanishing_ratio)
    sig = [e.signal_norm for e in s.entries if _fin(e.signal_norm)]
    return sig[0] / sig[-1] if len(sig) >= 2 and sig[-1] > 0 else math.nan


def _median_update(s: Snapshot) -> float:
    """The median update ratio over the entries, or over the parameter arrays when the entries have none (a
    recurrent run: its time steps share the weights)."""
    r = [e.update_ratio for e in s.entries if _fin(e.update_ratio)]
    if not r:
        r = [p.update_ratio for p in s.params if _fin(p.update_ratio)]
    return statistics.median(r) if r else math.nan


@dataclass(frozen=True, eq=False)
class Window:
    """Snapshots of one run's current network, oldest first (``of`` keeps only those), and what the rules read."""

    snaps: tuple[Snapshot, ...]

    @classmethod
    def of(cls, snaps: Iterable[Snapshot]) -> Window:
        """The window of the newest network among ``snaps``: the snapshots since its build, in step order."""
        items = list(snaps)
        if not items:
            raise ValueError("a window needs at least one snapshot")
        build = items[-1].build_step
        kept: list[Snapshot] = []
        for s in items:
            if s.build_step != build or (kept and s.step < kept[-1].step):
                kept = []  # another network, or the timeline went back (a replay's seek): start again
            if s.build_step == build:
                kept.append(s)
        return cls(tuple(kept))

    @property
    def now(self) -> Snapshot:
        return self.snaps[-1]

    @property
    def config(self) -> Config | None:
        return self.now.config

    @property
    def axis(self) -> str:
        return self.now.axis

    @cached_property
    def segment(self) -> tuple[Snapshot, ...]:
        """The snapshots taken with the current live settings (since the last change of lr, optimiser, ...)."""
        key = _settings(self.now)
        i = len(self.snaps) - 1
        while i > 0 and _settings(self.snaps[i - 1]) == key:
            i -= 1
        return self.snaps[i:]

    @property
    def changed_at(self) -> int | None:
        """The step of the last live change inside this network's window, if one."""
        return self.segment[0].step if len(self.segment) < len(self.snaps) else None

    @cached_property
    def reference(self) -> tuple[float, str]:
        """The loss a trivial predictor gets, and its name: the task's baseline, chance level, or the first loss."""
        s = self.now
        c = s.config
        regression = c is not None and c.dataset in DATASETS and DATASETS[c.dataset][1] == 0
        if _fin(s.baseline_loss) and s.baseline_loss > 0:
            # the engine's regression baseline is the loss of predicting the mean of the targets
            return s.baseline_loss, "loss of predicting the mean" if regression else "baseline"
        if c is not None and c.dataset in DATASETS:
            classes = DATASETS[c.dataset][1]
            if classes >= 2 and c.output_kind != "linear":
                return math.log(classes), "chance level"
            if classes == 0:
                return _mean_predictor_loss(c.dataset, c.samples, c.noise, c.seed), "loss of predicting the mean"
        first = next((x.loss for x in self.snaps if _fin(x.loss)), math.nan)
        return first, "initial loss"

    @cached_property
    def trend(self) -> Trend:
        pts = [s for s in self.segment if s.run_step > 0 and s.diverged is None]  # step 0's loss is a test loss
        return loss_trend([s.step for s in pts], [s.loss for s in pts], self.reference[0])

    @cached_property
    def grads(self) -> Snapshot | None:
        """The newest snapshot if its gradient figures describe this network."""
        s = self.now
        return None if s.stale(s.grad_step) else s

    @cached_property
    def probe(self) -> Snapshot | None:
        """The newest snapshot if its probe-set figures (dead units, saturation) describe this network."""
        s = self.now
        return None if s.stale(s.probe_step) else s

    @cached_property
    def first_probe(self) -> Snapshot | None:
        """The first snapshot of this network with fresh probe-set figures (for 'up from ... at step ...')."""
        return next((s for s in self.snaps if not s.stale(s.probe_step)), None)

    @cached_property
    def first_grads(self) -> Snapshot | None:
        """The first snapshot of this network with fresh gradient figures (was a fault there from the start?)."""
        return next((s for s in self.snaps if not s.stale(s.grad_step)), None)

    @cached_property
    def ratio(self) -> float:
        """The vanishing (through-time) ratio of the newest gradient figures: first entry's signal / last's."""
        return _vanishing_ratio(self.grads) if self.grads is not None else math.nan

    @cached_property
    def update(self) -> float:
        """The median update ratio over the entries of the newest step (NaN: no update measured)."""
        return _median_update(self.grads) if self.grads is not None else math.nan

    @cached_property
    def segment_update(self) -> float:
        """The median, over the snapshots of the current settings, of each step's median update ratio."""
        r = [_median_update(s) for s in self.segment if not s.stale(s.grad_step)]
        r = [x for x in r if _fin(x)]
        return statistics.median(r) if r else math.nan

    @cached_property
    def activation(self) -> str:
        """The activation's name, lower case ("" if unknown)."""
        for e in self.now.entries:
            if e.act is not None:
                return e.act.name.lower()
        return self.config.activation if self.config is not None else ""

    @property
    def act_label(self) -> str:
        for e in self.now.entries:
            if e.act is not None:
                return safe_text(e.act.label, 40)
        return self.activation or "the activation"

    @property
    def lr(self) -> float:
        return self.config.lr if self.config is not None else self.now.meta.lr

    @property
    def model(self) -> str:
        kinds = {e.kind for e in self.now.entries} & RECURRENT
        return next(iter(kinds)) if len(kinds) == 1 else self.now.meta.model

    def where(self, e: Entry) -> str:
        """The entry in words: "layer 3", "step 57", or the module's name."""
        if self.axis == "time":
            return f"step {e.index}"
        if self.axis == "module":
            return safe_text(e.name, 60)
        return f"layer {e.index}"


# ---- fixes ----------------------------------------------------------------------------------------------------------
def _nice(x: float) -> float:
    """``x`` with two significant digits (0.1 * 3 is 0.30000000000000004)."""
    return float(f"{x:.2g}")


def _safe_lr(c: Config) -> float:
    table = SAFE_LR_REGRESSION if c.output_kind == "linear" else SAFE_LR
    return table.get(c.optimizer, math.inf)


def _init_name(c: Config) -> str:
    return parse_init(c.init)[0]


def _matching_init(c: Config) -> tuple[str, frozenset[str]]:
    return MATCHING_INIT.get(c.activation, HE)


def _init_fix(w: Window) -> Fix | None:
    """The initialiser made for the activation, when another one is in place."""
    c = w.config
    if c is None or c.recurrent:
        return None
    best, ok = _matching_init(c)
    if _init_name(c) in ok:
        return None
    return Fix(f"use {INIT_LABEL.get(best, best)} init", (Change("init", best),))


def _relu_he_fix(w: Window) -> Fix | None:
    """ReLU + He (the cure for a deep sigmoid net), at a learning rate ReLU takes."""
    c = w.config
    if c is None or c.recurrent or c.activation == "relu":
        return None
    changes = [Change("activation", "relu")]
    if _init_name(c) not in HE[1]:
        changes.append(Change("init", "he"))
    text = "try ReLU + He init" if len(changes) == 2 else "try ReLU"
    safe = _safe_lr(c)
    if c.lr > safe:
        changes.append(Change("lr", safe))
        text += f" and lr {setting(safe)}"
    return Fix(text, tuple(changes))


def _switch_fix(w: Window, name: str, words: str) -> Fix | None:
    """Turn on batch norm / residual connections, when off."""
    c = w.config
    if c is None or c.recurrent or getattr(c, name):
        return None
    return Fix(f"try {words}", (Change(name, True),))


def _lr_fix(w: Window, factor: float, *, cap: bool = False) -> Fix | None:
    lr = w.lr
    if not (_fin(lr) and lr > 0):
        return Fix("lower the lr" if factor < 1 else "raise the lr")
    new = lr * factor
    if cap and w.config is not None:
        new = min(new, _safe_lr(w.config))
    new = _nice(new)
    text = f"{'lower' if new < lr else 'raise'} the lr to {setting(new)}"
    if w.config is None:
        return Fix(text + f" (now {setting(lr)})")
    return Fix(text, (Change("lr", new),))


def _first(*fixes: Callable[[], Fix | None]) -> Fix | None:
    """The first fix that applies (each is built only when the ones before do not)."""
    for make in fixes:
        fix = make()
        if fix is not None:
            return fix
    return None


def _lstm_fix(w: Window) -> Fix | None:
    """A vanilla RNN's cure for forgetting: an LSTM (in words only for a run without engine settings), with the
    settings it needs that are not in place: a forget-gate bias of 1 (a switch between cells keeps the bias an
    earlier LSTM was given) and gradient clipping."""
    if w.model != "rnn":
        return None
    c = w.config
    if c is None:
        return Fix("use an LSTM or GRU")
    changes = [Change("model", "lstm")]
    extra = []
    if c.forget_bias < 1.0:
        changes.append(Change("forget_bias", 1.0))
        extra.append("forget-gate bias 1")
    if c.clip == 0:
        changes.append(Change("clip", CLIP_TO))
        extra.append(f"clip {setting(CLIP_TO)}")
    return Fix("switch to an LSTM" + (f" ({', '.join(extra)})" if extra else ""), tuple(changes))


def _forget_bias_fix(w: Window) -> Fix | None:
    """An LSTM whose forget gate starts below the usual bias of 1 (Gers et al. 2000): the bias 1."""
    c = w.config
    if c is None or c.model != "lstm" or c.forget_bias >= 1.0:
        return None
    return Fix("forget-gate bias 1", (Change("forget_bias", 1.0),))


def _recurrent_init_fix(w: Window) -> Fix | None:
    """Recurrent weights that are not norm-preserving at the start: orthogonal ones (the IRNN's identity is too)."""
    c = w.config
    if c is None or not c.recurrent or parse_init(c.recurrent_init)[0] in ("orthogonal", "identity"):
        return None
    return Fix("orthogonal recurrent init", (Change("recurrent_init", "orthogonal"),))


# ---- the rules ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    """What a rule's condition found: the figure in words, where, and since when."""

    evidence: str
    entry: Entry | None = None
    value: float = math.nan  # the figure itself
    from_start: bool | None = None  # present at this network's first measurement (None: not a matter of time)
    short: str = ""  # the evidence in fewer words, the same figures, for a narrow line ("": ``shorter(evidence)``)


Check = Callable[[Window], "Finding | None"]
Words = Callable[[Window, Finding], str]
Fixer = Callable[[Window, Finding], "Fix | None"]


@dataclass(frozen=True)
class Rule:
    key: str
    level: Level
    when: Check  # the condition on the window, with its evidence; None when the rule does not apply
    cause: Words
    fix: Fixer
    explains: tuple[str, ...] = ()  # alerts this one explains are merged into it (a cause comes before its effect)
    alone: bool = False  # shown only when no other rule found a warning or an error (merged or not)


def _gets(w: Window, ratio: float) -> str:
    """ "layer 1 gets 2.0e-6 of layer 10's gradient signal", "step 1 gets ... of the gradient reaching step 100"."""
    entries = w.now.entries
    first, last = entries[0], entries[-1]
    amount = "none of" if ratio == 0 else f"{sci(ratio)}×" if ratio > 1 else f"{sci(ratio)} of"
    if w.axis == "time":
        return f"{w.where(first)} gets {amount} the gradient reaching {w.where(last)}"
    return f"{w.where(first)} gets {amount} {w.where(last)}'s gradient signal"


def _ratio_from_start(w: Window, bad: Callable[[float], bool]) -> bool:
    """Did this network's first gradient measurement already show it? (True when there is no earlier one.)"""
    first = w.first_grads
    if first is None or first is w.grads:
        return True
    return bad(_vanishing_ratio(first))


def _lr_cap_fix(w: Window) -> Fix | None:
    """For a fault that training caused: the lr down to one that ReLU + He takes, or a tenth."""
    return _lr_fix(w, 0.1, cap=True)


# diverged ------------------------------------------------------------------------------------------------------------
def _diverged(w: Window) -> Finding | None:
    d = w.now.diverged
    if d is None:
        return None
    named = next((e for e in w.now.entries if e.index == d.layer), None) if d.layer is not None else None
    if d.layer is None:
        where = "the loss" if d.what == "loss" else f"the {d.what}"
        return Finding(f"diverged at step {d.step}: {where} went NaN/Inf")
    if d.name == "output" or (d.name is None and d.layer == len(w.now.entries) + 1):
        where = "the output layer"
    else:
        where = w.where(named) if named is not None else safe_text(d.name or f"layer {d.layer}", 60)
    return Finding(f"diverged at step {d.step}: {where}'s {d.what} went NaN/Inf", named)


def _exploded_first(w: Window) -> Finding | None:
    """Did this network explode before it diverged: at its first measurement, or on the way?"""
    before = [s for s in w.snaps if s.diverged is None]
    if not before:
        return None
    first = _exploding(Window(tuple(before[:1])))
    if first is not None:
        return replace(first, from_start=True)
    for i in range(len(before), 1, -1):  # the newest explosion on the way
        found = _exploding(Window(tuple(before[:i])))
        if found is not None:
            return found
    return None


def _diverged_cause(w: Window, f: Finding) -> str:
    early = _exploded_first(w)
    if early is not None:
        return f"it exploded {'from the start' if early.from_start else 'first'} ({early.evidence.split(': ', 1)[1]})"
    return f"the steps overshoot (lr {setting(w.lr)})"


def _diverged_fix(w: Window, f: Finding) -> Fix | None:
    early = _exploded_first(w)
    if early is not None:
        fix = _exploding_fix(w, early)
        if fix is not None:
            return fix
    if w.axis == "time":  # BPTT multiplies the gradient at every step: clip it before lowering the lr
        return _first(lambda: _clip_fix(w), lambda: _lr_cap_fix(w))
    return _lr_cap_fix(w)


# exploding -----------------------------------------------------------------------------------------------------------
def _exploding(w: Window) -> Finding | None:
    r = w.ratio
    if _fin(r) and r > EXPLODING_ABOVE:
        start = _ratio_from_start(w, lambda x: x > EXPLODING_ABOVE)
        return Finding("exploding: " + _gets(w, r), w.now.entries[0], r, start)
    ref, name = w.reference
    if name == "initial loss" or not _fin(ref) or w.axis == "time":
        # blown-up outputs can only be told against what a trivial prediction scores; through time, an untrained
        # readout's offset alone can be 7x a regression task's baseline (the adding problem: 7/6 against 1/6)
        return None
    loss = w.trend.level if w.trend.kind != "unknown" else w.now.loss
    if not (_fin(loss) and loss > LOSS_BLOWUP * ref):
        return None
    first = w.snaps[0].loss
    return Finding(
        f"exploding outputs: the loss is {num(loss)}, {num(loss / ref)}× the {name} {num(ref)}",
        value=loss,
        from_start=not (w.snaps[0] is not w.now and _fin(first) and first <= LOSS_BLOWUP * ref),
    )


def _exploding_cause(w: Window, f: Finding) -> str:
    what = "the activations grow" if not f.entry else "it grows"
    if w.axis == "time":
        return f"{what} at every step back in time"
    if not f.from_start:
        return f"training grew the weights (lr {setting(w.lr)})"
    c = w.config
    if c is not None and _init_fix(w) is not None:
        return f"{c.init} weights are too large for {w.act_label}: {what} at every layer"
    return f"{what} at every layer"


def _clip_fix(w: Window) -> Fix | None:
    c = w.config
    if c is None or c.clip != 0:
        return None
    return Fix(f"clip gradients (clip {setting(CLIP_TO)})", (Change("clip", CLIP_TO),))


def _exploding_fix(w: Window, f: Finding) -> Fix | None:
    c = w.config
    if w.axis == "time":
        lstm = ", or use an LSTM or GRU" if w.model == "rnn" else ""
        if c is None:
            return Fix("clip the gradient norm (e.g. to 1)" + lstm)
        return _first(
            lambda: _clip_fix(w),
            lambda: _recurrent_init_fix(w),
            lambda: _lr_cap_fix(w) if not f.from_start else None,
            lambda: _lstm_fix(w),
        )
    if c is None:
        return Fix("check the init, normalise, or clip the gradient norm")
    if not f.from_start:
        return _lr_cap_fix(w)
    return _first(lambda: _init_fix(w), lambda: _switch_fix(w, "batchnorm", "batch norm"), lambda: _clip_fix(w))


# dead units ----------------------------------------------------------------------------------------------------------
def _died(s: Snapshot, e: Entry) -> int:
    """Units of ``e`` dead now that were alive when this network was first measured (died in training)."""
    if e.dead is None:
        return 0
    return int((e.dead.since > s.build_step).sum())


def _dead(w: Window) -> Finding | None:
    s = w.probe
    if s is None:
        return None
    worst: tuple[float, Entry, int, bool] | None = None
    layers = 0
    for e in s.entries:
        if e.dead is None or not e.units or (e.act is not None and not e.act.can_die):
            continue
        died = _died(s, e)
        in_training = died / e.units >= DEAD_FRACTION
        if e.dead_fraction >= DEAD_FRACTION and (in_training or e.dead_fraction >= DEAD_AT_INIT_FRACTION):
            layers += 1
            if worst is None or e.dead_fraction > worst[0]:
                worst = (e.dead_fraction, e, died, in_training)
    if worst is None:
        return None
    frac, e, died, in_training = worst
    also = f"; {layers} {'steps' if w.axis == 'time' else 'layers'} over {pct(DEAD_FRACTION)}" if layers > 1 else ""
    since = f"{died} died in training" if died else "dead from the start"
    return Finding(f"{pct(frac)} of {w.where(e)}'s units are dead ({since}{also})", e, frac, not in_training)


def _label(w: Window, f: Finding) -> str:
    """The activation of the entry a finding is about (a user's model mixes them), else the network's."""
    if f.entry is not None and f.entry.act is not None:
        return safe_text(f.entry.act.label, 40)
    return w.act_label


def _dead_cause(w: Window, f: Finding) -> str:
    if not f.from_start:
        return f"big steps (lr {setting(w.lr)}) pushed z ≤ 0 on every input, where {_label(w, f)} passes no gradient"
    return "z ≤ 0 for every input from the start: no gradient reaches them"


def _dead_fix(w: Window, f: Finding) -> Fix | None:
    c = w.config
    if c is None:
        return Fix(f"lower the lr (now {setting(w.lr)}) or use LeakyReLU")
    if not f.from_start:
        return _lr_fix(w, 0.1)
    return _first(
        lambda: _init_fix(w),
        lambda: Fix("use leaky ReLU", (Change("activation", "leaky_relu"),)) if c.activation != "leaky_relu" else None,
    )


# saturation ----------------------------------------------------------------------------------------------------------
def _saturated(w: Window) -> Finding | None:
    s = w.probe
    if s is None:
        return None
    hits = [
        e
        for e in s.entries
        if e.act is not None
        and e.act.name.lower() in SATURATING
        and _fin(e.saturation)
        and e.saturation > SATURATION_ABOVE
        and (w.axis != "time" or e.kind not in ("lstm", "gru"))  # gated cells: the gates rule reads their gates
    ]
    if not hits:
        return None
    also = ""
    if len(hits) > 1:
        also = f"; {len(hits)} {'steps' if w.axis == 'time' else 'layers'} over {pct(SATURATION_ABOVE)}"
    # from the start when a layer saturated now already was at the first measurement: then the init put it there,
    # and that layer is the one named (the most saturated of them), not a near-tie that crossed the line in training
    was, from_start, e = "", True, max(hits, key=lambda x: x.saturation)
    start = w.first_probe
    if start is not None and start is not s:
        before = {x.name: x.saturation for x in start.entries if _fin(x.saturation)}
        early = [x for x in hits if before.get(x.name, 0.0) > SATURATION_ABOVE]
        e = max(early or hits, key=lambda x: x.saturation)
        if e.name in before:
            from_start = bool(early)
            was = f"; was {pct(before[e.name])} at step {start.step}"
    return Finding(f"{w.where(e)} is {pct(e.saturation)} saturated (f′ < 5% of its max{was}{also})", e, e.saturation,
                   from_start)  # fmt: skip


def _saturated_cause(w: Window, f: Finding) -> str:
    c = w.config
    if not f.from_start:
        return f"training pushed z into {_label(w, f)}'s flat tails (lr {setting(w.lr)})"
    if c is not None and _init_fix(w) is not None:
        return f"{c.init} weights put z in {_label(w, f)}'s flat tails"
    return f"z sits in {_label(w, f)}'s flat tails"


def _saturated_fix(w: Window, f: Finding) -> Fix | None:
    c = w.config
    if c is not None and c.recurrent:
        return _first(
            lambda: _recurrent_init_fix(w),
            lambda: _lr_cap_fix(w) if not f.from_start and c.lr > _safe_lr(c) else None,
            lambda: _lstm_fix(w),
        )
    if c is None:
        return Fix("normalise the layer's input (batch/layer norm) or shrink its init")
    if f.from_start:
        return _first(lambda: _init_fix(w), lambda: _switch_fix(w, "batchnorm", "batch norm"))
    safe = _safe_lr(c)
    return _first(
        lambda: _lr_cap_fix(w) if c.lr > safe else None,
        lambda: _switch_fix(w, "batchnorm", "batch norm"),
        lambda: _lr_fix(w, 0.1),
    )


# vanishing -----------------------------------------------------------------------------------------------------------
def _vanishing(w: Window) -> Finding | None:
    r = w.ratio
    if not (_fin(r) and r < VANISHING_BELOW):
        return None
    start = _ratio_from_start(w, lambda x: x < VANISHING_BELOW)
    return Finding("vanishing: " + _gets(w, r), w.now.entries[0], r, start)


def _vanishing_cause(w: Window, f: Finding) -> str:
    c = w.config
    if w.axis == "time":
        if w.model == "rnn":
            return "a plain RNN's state forgets: it shrinks at every step back in time"
        if c is not None and c.model == "lstm" and c.forget_bias < 1.0:
            half = "half " if c.forget_bias == 0 else ""
            return (f"the forget gate starts {half}shut (bias {setting(c.forget_bias)}):"
                    " the cell state and its gradient shrink at every step")  # fmt: skip
        forget = _gate(w.probe, "forget") if w.probe is not None else None
        if forget is not None:
            return (f"it shrinks at every step back in time: the LSTM has not learned to keep its cell state yet "
                    f"(forget gate {num(forget.mean, 2)} on average)")  # fmt: skip
        return "it shrinks at every step back in time"
    if not f.from_start:
        return f"training shrank it (lr {setting(w.lr)})"
    if w.activation == "sigmoid":
        return "sigmoid's slope (≤ 0.25) shrinks it at every layer"
    if c is not None and _init_fix(w) is not None:
        return f"{c.init} weights shrink it at every layer"
    return f"it shrinks through {len(w.now.entries)} layers"


def _vanishing_fix(w: Window, f: Finding) -> Fix | None:
    c = w.config
    if w.axis == "time":
        return _first(lambda: _lstm_fix(w), lambda: _forget_bias_fix(w), lambda: _recurrent_init_fix(w))
    if c is None:
        return Fix("add normalisation or residual connections, or check the init")
    if not f.from_start:
        return _lr_cap_fix(w)
    return _first(
        lambda: _relu_he_fix(w) if c.activation == "sigmoid" else None,
        lambda: _init_fix(w),
        lambda: _switch_fix(w, "batchnorm", "batch norm"),
        lambda: _switch_fix(w, "residual", "residual connections"),
    )


# the loss: too fast, slow, stuck -------------------------------------------------------------------------------------
def _stuck_level(w: Window) -> float:
    """The loss level as a share of the reference, when the trend is flat (NaN otherwise)."""
    ref = w.reference[0]
    t = w.trend
    return t.level / ref if t.kind == "flat" and _fin(ref) and ref > 0 else math.nan


def _too_fast(w: Window) -> Finding | None:
    t, u = w.trend, w.update
    if t.kind == "rising":
        return Finding(f"the loss rose from {num(t.start)} to {num(t.end)} over {t.steps} steps", value=t.end)
    if _fin(u) and u > UPDATE_TOO_BIG:
        return Finding(f"one step changes the weights by {pct(u)} (healthy ~{sci(UPDATE_HEALTHY, 1)})", value=u)
    seg = w.segment_update
    if _stuck_level(w) >= STUCK_FRACTION and _fin(seg) and seg >= UPDATE_LARGE:
        return Finding(
            f"the loss is flat at {num(t.level)} over {t.steps} steps while each step changes the weights by"
            f" {sci(seg)} (healthy ~{sci(UPDATE_HEALTHY, 1)})",
            value=seg,
            short=f"steps change the weights by {sci(seg)}; loss flat at {num(t.level)}",
        )
    return None


def _slow(w: Window) -> Finding | None:
    """Tiny updates, and a loss that is not falling (flat, or too few points to tell: not yet converged)."""
    t, u = w.trend, w.segment_update
    if t.kind not in ("flat", "unknown") or not (_fin(u) and 0 < u < UPDATE_TOO_SMALL):
        return None
    updates = f"updates are {sci(u)} of the weights (healthy ~{sci(UPDATE_HEALTHY, 1)})"
    if t.kind == "flat":
        return Finding(f"the loss is flat at {num(t.level)} over {t.steps} steps; {updates}", value=u,
                       short=f"updates {sci(u)} of the weights; loss flat at {num(t.level)}")  # fmt: skip
    return Finding(updates, value=u)


def _slow_fix(w: Window, f: Finding) -> Fix | None:
    ratio = UPDATE_HEALTHY / f.value  # inf for an update ratio of 1e-320 (a subnormal): at most a million times
    factor = 10.0 ** max(1, min(6, math.floor(math.log10(ratio)) if math.isfinite(ratio) else 6))
    return _lr_fix(w, factor)


def _stuck(w: Window) -> Finding | None:
    share = _stuck_level(w)
    if not share >= STUCK_FRACTION:
        return None
    ref, name = w.reference
    t = w.trend
    if w.axis == "time" and name == "baseline" and abs(share - 1) <= AT_BASELINE:
        return Finding(f"the loss is flat at {num(t.level)}, at the task's baseline {num(ref)}, over {t.steps} steps",
                       value=t.level)  # fmt: skip
    return Finding(f"the loss is flat at {num(t.level)} ({pct(share)} of the {name} {num(ref)}) over {t.steps} steps",
                   value=t.level)  # fmt: skip


def _stuck_cause(w: Window, f: Finding) -> str:
    if w.axis == "time" and "at the task's baseline" in f.evidence:
        return "it has learned nothing that needs memory (what an input-blind guess scores)"
    return "no fault in the gradient figures explains it"


# gates ---------------------------------------------------------------------------------------------------------------
def _gate(s: Snapshot | None, name: str) -> GateStats | None:
    return next((g for g in s.gates if g.name == name), None) if s is not None else None


GATE_ROLE = {
    "forget": "the cell state is erased at every step, and its gradient with it",
    "input": "nothing new is written to the cell state",
    "output": "the cell state does not reach the output h_t",
    "update": "the state is overwritten at every step, as a plain RNN's",
    "reset": "the candidate ignores the previous state",
    "candidate": "the candidate sits in tanh's flat tails: little gradient passes it",
}


def _gates(w: Window) -> Finding | None:
    """A gate shut for most of its entries (below 0.05 over the probe set, at every step), or a candidate in tanh's
    flat tails: the gated cell's own way of losing the gradient."""
    s = w.probe
    if s is None or not s.gates:
        return None
    # a shut forget gate erases the cell state whatever else happens; another gate's state is a fault only where the
    # gradient does not reach the early steps (a GRU's update gate near 0 on the copy task carries the gradient well)
    vanishing = _fin(w.ratio) and w.ratio < VANISHING_BELOW
    hits: list[tuple[float, GateStats, str]] = []
    for g in s.gates:
        if g.name != "forget" and not vanishing:
            continue
        if g.name == "candidate":
            if _fin(g.saturation) and g.saturation > GATE_CANDIDATE_SATURATED:
                hits.append((g.saturation, g, f"the candidate is {pct(g.saturation)} saturated (beyond ±0.9)"))
        elif g.name in GATE_ROLE and _fin(g.low) and g.low > GATE_SHUT:
            hits.append((g.low, g, f"the {g.name} gate is shut (below 0.05) for {pct(g.low)} of its entries"))
    if not hits:
        return None
    share, g, words = max(hits, key=lambda h: (h[1].name == "forget", h[0]))
    per_step = g.saturation_steps if g.name == "candidate" else g.low_steps
    through = ""
    # saturation through time, where it changes along the steps: at the first step and at the last
    if per_step is not None and len(per_step) > 1 and abs(per_step[-1] - per_step[0]) >= GATE_CHANGES:
        through = f"; {pct(per_step[0])} at step 1 → {pct(per_step[-1])} at step {len(per_step)}"
    was, from_start = "", True
    start = w.first_probe
    if start is not None and start is not s:
        before = _gate(start, g.name)
        if before is not None:
            then = before.saturation if g.name == "candidate" else before.low
            from_start = then > GATE_SHUT
            was = f"; was {pct(then)} at step {start.step}"
    return Finding(f"{words} (mean {num(g.mean, 2)}{through}{was})", value=share, from_start=from_start)


def _gates_cause(w: Window, f: Finding) -> str:
    name = next((n for n in GATE_ROLE if f"the {n} " in f.evidence), "")
    c = w.config
    if name == "forget" and c is not None and c.model == "lstm" and c.forget_bias < 1.0 and f.from_start:
        return f"its bias starts at {setting(c.forget_bias)}: {GATE_ROLE[name]}"
    if not f.from_start:
        return f"training pushed it there (lr {setting(w.lr)}): {GATE_ROLE.get(name, '')}".rstrip(": ")
    return GATE_ROLE.get(name, "")


def _gates_fix(w: Window, f: Finding) -> Fix | None:
    c = w.config
    if c is None:
        return Fix("check the gate's bias and lower the lr")
    if "the forget " in f.evidence and f.from_start:
        fix = _forget_bias_fix(w)
        if fix is not None:
            return fix
    if f.from_start:
        return _recurrent_init_fix(w)
    return _lr_fix(w, 0.1)


# info ----------------------------------------------------------------------------------------------------------------
def _converged(w: Window) -> Finding | None:
    t = w.trend
    if t.kind != "converged":
        return None
    ref, name = w.reference
    acc = f", accuracy {pct(w.now.accuracy)}" if w.now.accuracy is not None else ""
    return Finding(
        f"converged: loss {num(t.level)} (median of the last 3), {pct(t.level / ref)} of the {name} {num(ref)}{acc}",
        value=t.level,
    )


def _healthy(w: Window) -> Finding | None:
    r, u = w.ratio, w.update
    if not _fin(r):
        return None
    parts = [f"{_gets(w, r)} ({sci(VANISHING_BELOW, 1)} to {sci(EXPLODING_ABOVE, 1)} is healthy)"]
    if _fin(u) and UPDATE_TOO_SMALL <= u <= UPDATE_TOO_BIG:  # outside: no claim (e.g. tiny, on a falling loss)
        parts.append(f"updates {sci(u)} of the weights ({sci(UPDATE_TOO_SMALL, 1)} to {num(UPDATE_TOO_BIG)})")
    return Finding("healthy: " + "; ".join(parts), value=r)


def _unmeasured(w: Window) -> Finding | None:
    s = w.grads
    measured = s is not None and (_fin(w.ratio) or any(_fin(s.flow(e)) for e in s.entries))
    return None if measured else Finding("no gradient measured yet on this network")


def _stale(w: Window) -> Finding | None:
    s = w.now
    old = [name for name, at in (("gradient", s.grad_step), ("probe-set", s.probe_step)) if s.stale(at)]
    if not old:
        return None
    return Finding(f"the {' and '.join(old)} figures are from before the rebuild at step {s.build_step}",
                   short=f"figures from before the rebuild at step {s.build_step}")  # fmt: skip


def _no_words(w: Window, f: Finding) -> str:
    return ""


def _no_fix(w: Window, f: Finding) -> Fix | None:
    return None


WARNINGS = ("exploding", "dead", "saturated", "gates", "vanishing", "too_fast", "slow", "stuck")

# The rules, most severe first: its key, level, condition (with the evidence), cause, fix, and the keys it explains.
# Alerts are ordered by level, then by this table; an alert is merged into the first that explains it.
RULES: tuple[Rule, ...] = (
    Rule("diverged", "error", _diverged, _diverged_cause, _diverged_fix, explains=WARNINGS),
    Rule("exploding", "warning", _exploding, _exploding_cause, _exploding_fix, explains=("too_fast", "stuck")),
    Rule("dead", "warning", _dead, _dead_cause, _dead_fix, explains=("vanishing", "slow", "stuck")),
    Rule(
        "saturated", "warning", _saturated, _saturated_cause, _saturated_fix, explains=("vanishing", "slow", "stuck")
    ),  # fmt: skip
    Rule("gates", "warning", _gates, _gates_cause, _gates_fix, explains=("vanishing", "slow", "stuck")),
    Rule("vanishing", "warning", _vanishing, _vanishing_cause, _vanishing_fix, explains=("slow", "stuck")),
    Rule(
        "too_fast",
        "warning",
        _too_fast,
        lambda w, f: f"the lr ({setting(w.lr)}) overshoots",
        lambda w, f: _lr_fix(w, 0.1),
        explains=("stuck",),
    ),  # fmt: skip
    Rule(
        "slow", "warning", _slow, lambda w, f: f"the lr ({setting(w.lr)}) is too small", _slow_fix, explains=("stuck",)
    ),
    Rule("stuck", "warning", _stuck, _stuck_cause, _no_fix, alone=True),
    Rule("converged", "info", _converged, _no_words, _no_fix, explains=WARNINGS),
    Rule("healthy", "info", _healthy, _no_words, _no_fix, alone=True),
    Rule("stale", "info", _stale, lambda w, f: "waiting for a fresh measurement", _no_fix),
    Rule("unmeasured", "info", _unmeasured, _no_words, _no_fix, alone=True),
)
RULE_KEYS = tuple(r.key for r in RULES)
_RULE = {r.key: r for r in RULES}


Found = tuple[Alert, "bool | None", frozenset[str]]  # an alert, from the start?, the rules merged into it


def _explains(a: Found, b: Found) -> bool:
    """Does alert ``a`` explain ``b``: by the table -- of its own rule or of one merged into it -- unless ``b`` was
    there from the start and ``a`` came later (a cause comes before its effect); or by proposing the same changes
    (one problem seen from two sides)?"""
    (x, x_start, x_rules), (y, y_start, _) = a, b
    table = any(y.key in _RULE[k].explains for k in x_rules)
    if table and not (y_start is True and x_start is False):
        return True
    same = x.fix is not None and y.fix is not None and bool(x.fix.changes) and x.fix.changes == y.fix.changes
    return same and x.level == y.level == "warning"


def _merge(found: list[Found]) -> list[Alert]:
    """Fold each alert into the first (in table order) that explains it; drop the 'alone' ones when another
    warning or error stands; order by level (stable: table order within a level)."""
    problems = {a.key for a, _, _ in found if a.level != "info"}  # before merging: a converged net's too
    out = list(found)
    merged = True
    while merged:
        merged = False
        for i, j in ((i, j) for i in range(len(out)) for j in range(len(out)) if i != j):
            if _explains(out[i], out[j]) and not (j < i and _explains(out[j], out[i])):
                (a, start, rules), (b, _, b_rules) = out[i], out[j]
                out[i] = (replace(a, explains=a.explains + (b.key,) + b.explains), start, rules | b_rules)
                del out[j]
                merged = True
                break
    alerts = [a for a, _, _ in out if not _RULE[a.key].alone or not (problems - {a.key})]
    if any(a.key == "healthy" for a in alerts):
        alerts = [a for a in alerts if a.key != "unmeasured"]
    return sorted(alerts, key=lambda a: LEVELS[a.level])


def diagnose_window(snaps: Iterable[Snapshot] | Window) -> list[Alert]:
    """Every alert that applies to the newest network among ``snaps`` (oldest first), most severe first."""
    w = snaps if isinstance(snaps, Window) else Window.of(snaps)
    found: list[Found] = []
    for rule in RULES:
        f = rule.when(w)
        if f is None:
            continue
        e = f.entry
        alert = Alert(
            rule.level,
            rule.key,
            f.evidence,
            rule.cause(w, f),
            rule.fix(w, f),
            e.name if e is not None else None,
            e.index if e is not None else None,
            short=f.short,
        )
        found.append((alert, f.from_start, frozenset({rule.key})))
    return _merge(found)


def diagnose(snaps: Snapshot | Iterable[Snapshot]) -> list[Alert]:
    """The alerts of one snapshot (no trend: only what one snapshot shows), or of a window of snapshots."""
    return diagnose_window([snaps] if isinstance(snaps, Snapshot) else snaps)


def one_line(snaps: Snapshot | Iterable[Snapshot]) -> str:
    """The most severe alert's text."""
    return diagnose(snaps)[0].text


class Doctor:
    """Watches the snapshots of one or more runs and diagnoses each from a bounded window of its current network.

    ``observe`` every snapshot as it comes (twins by ``Snapshot.run``); ``diagnose(run)`` when the alerts are drawn.
    A rebuild (``build_step`` changes) or a step back in time (a replay's seek) starts the run's window again; the
    first snapshot of the network is kept beyond the window, as the reference of 'up from ... at step ...'.
    """

    def __init__(self, size: int = WINDOW) -> None:
        if size < 1:
            raise ValueError("the window holds at least one snapshot")
        self.size = size
        self._windows: dict[str, deque[Snapshot]] = {}
        self._first: dict[str, Snapshot] = {}
        self._last_run: str | None = None

    def observe(self, snap: Snapshot) -> None:
        run = snap.run
        win = self._windows.get(run)
        if win is None or not win or win[-1].build_step != snap.build_step or snap.step < win[-1].step:
            win = self._windows[run] = deque(maxlen=self.size)
            self._first[run] = snap
        elif win[-1].step == snap.step:  # the same step again (paused, or a poll with nothing new): the newest
            replaced = win.pop()
            if self._first[run] is replaced:
                self._first[run] = snap
        win.append(snap)
        self._last_run = run

    def window(self, run: str | None = None) -> tuple[Snapshot, ...]:
        """The snapshots the doctor reads for ``run`` (default: the last observed), oldest first."""
        key = self._last_run if run is None else run
        if key is None or key not in self._windows:
            return ()
        win = tuple(self._windows[key])
        first = self._first[key]
        return win if first is win[0] else (first, *win)

    def diagnose(self, run: str | None = None) -> list[Alert]:
        snaps = self.window(run)
        if not snaps:
            return [Alert("info", "unmeasured", "no snapshot yet")]
        return diagnose_window(snaps)

    def reset(self, run: str | None = None) -> None:
        """Forget ``run`` (or every run)."""
        if run is None:
            self._windows.clear()
            self._first.clear()
            self._last_run = None
        else:
            self._windows.pop(run, None)
            self._first.pop(run, None)
