"""The doctor (gradtui.doctor).

1. A scenario table: each row is a configuration trained headless by a real Trainer for a number of steps (0: at
   initialisation), its snapshots fed to a Doctor; the alerts it must raise and must not raise, and a check that
   the run really shows what the row claims (the figure itself, read from the snapshots, not from the doctor).
2. The fixed twins: for each row's alert with a fix that has engine Changes, a fresh Trainer from the same seed
   with the fix applied to the row's configuration does not raise that alert after the same number of steps.
3. Unit tests on hand-made figures: the loss trend, the merging, NaN and stale figures, the window, the other
   axes ("time", "module"), and docs/alerts.md against the rules table.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest
from conftest import make_layer, make_snapshot
from threadpoolctl import threadpool_info, threadpool_limits

from gradtui.doctor import (
    RULES,
    UPDATE_TOO_SMALL,
    Alert,
    Doctor,
    Fix,
    Window,
    diagnose,
    diagnose_window,
    loss_trend,
    one_line,
)
from gradtui.engine import Change, Config, DeadUnits, Divergence, Event, RunMeta, Snapshot, Trainer, make_trainer

ROOT = Path(__file__).resolve().parent.parent
CHANCE3 = math.log(3)  # the chance-level loss on the spiral's three classes
WARNINGS = tuple(r.key for r in RULES if r.level == "warning")
PROBLEMS = ("diverged", *WARNINGS)
S = dict(samples=600, probe_size=128)  # a smaller training and probe set than the defaults: the claims still hold


@pytest.fixture(autouse=True)
def one_blas_thread():
    with threadpool_limits(limits=1, user_api="blas"):  # see test_behaviour.py: faster on a busy 2-core machine
        yield


# ---- the scenario table ---------------------------------------------------------------------------------------------
@dataclass
class Run:
    snaps: list[Snapshot]
    alerts: list[Alert]

    @property
    def last(self) -> Snapshot:
        return self.snaps[-1]

    @property
    def shown(self) -> list[str]:
        return [a.key for a in self.alerts]

    @property
    def raised(self) -> set[str]:
        """Shown, or merged into a shown alert (the one that explains it)."""
        return {k for a in self.alerts for k in (a.key, *a.explains)}

    def alert(self, key: str) -> Alert:
        return next(a for a in self.alerts if a.key == key or key in a.explains)

    @property
    def window(self) -> Window:
        return Window.of(self.snaps)


def train(config: Config, steps: int, every: int, changes: tuple[tuple[int, Change], ...] = ()) -> Run:
    t = make_trainer(config)
    doctor = Doctor()
    snaps = [t.snapshot()]
    done = 0
    for at, change in (*changes, (steps, None)):
        snaps += list(t.run(at - done, every=every))
        done = at
        if change is not None:
            t.apply(change)
    for s in snaps:
        doctor.observe(s)
    return Run(snaps, doctor.diagnose())


def median_update(s: Snapshot) -> float:
    return statistics.median(e.update_ratio for e in s.entries)


def died_in_training(s: Snapshot) -> float:
    """The largest share of a layer's units that are dead now and were alive at the first measurement."""
    return max(int((e.dead.since > s.build_step).sum()) / e.units for e in s.entries if e.dead is not None)


def changes_of(run: Run, key: str) -> dict[str, object]:
    fix = run.alert(key).fix
    assert fix is not None
    return {c.field: c.value for c in fix.changes}


@dataclass(frozen=True)
class Row:
    id: str
    config: Config
    steps: int
    must: tuple[str, ...]  # raised (shown, or merged into the alert that explains it)
    must_not: tuple[str, ...]  # not shown
    shows: Callable[[Run], None]  # asserts that the run really shows what the row claims, from its figures
    every: int = 50
    changes: tuple[tuple[int, Change], ...] = ()  # live changes: (after step, change)
    first: str | None = None  # the most severe alert
    twins: tuple[str, ...] | None = None  # the alerts whose fix is tried in a twin (None: every problem of must)


def _default_0(r: Run) -> None:
    assert r.last.vanishing_ratio < 1e-3
    assert changes_of(r, "vanishing") == {"activation": "relu", "init": "he"}  # the README's cure; Xavier is in place


def _default_300(r: Run) -> None:
    assert r.last.vanishing_ratio < 1e-3
    assert median_update(r.last) < UPDATE_TOO_SMALL  # the old one-snapshot rule said "raise the learning rate" here
    assert r.window.trend.kind == "flat"
    assert not any("raise the lr" in a.text for a in r.alerts)


def _lr_raised(r: Run) -> None:
    assert r.last.config is not None and r.last.config.lr == 5.0
    assert r.last.vanishing_ratio < 1e-3 and median_update(r.last) < UPDATE_TOO_SMALL  # the report
    assert not any("raise the lr" in a.text for a in r.alerts)
    # ReLU at lr 5 diverges within a few steps: the cure comes with a learning rate ReLU takes
    assert changes_of(r, "vanishing") == {"activation": "relu", "init": "he", "lr": 0.1}


def _readme_cure(r: Run) -> None:
    # 2-D inputs leave many units of layer 2 with z <= 0 for every example at initialisation: the old rule
    # (10 % dead) raised a warning on the README's own cure at once
    assert max(e.dead_fraction for e in r.last.entries) >= 0.1
    assert "1e-3 to 1e3 is healthy" in r.alert("healthy").text


def _converged(r: Run) -> None:
    assert r.last.loss < 0.05 * CHANCE3 and r.last.accuracy == 1.0


def _dying(r: Run) -> None:
    assert died_in_training(r.last) >= 0.1
    assert changes_of(r, "dead") == {"lr": 0.1}


def _diverged(r: Run) -> None:
    assert r.last.diverged is not None
    assert changes_of(r, "diverged") == {"lr": 0.1}


def _saturated_init(r: Run) -> None:
    assert max(e.saturation for e in r.last.entries) > 0.5
    assert changes_of(r, "saturated") == {"init": "xavier"}


def _saturated_100(r: Run) -> None:
    assert max(e.saturation for e in r.last.entries) > 0.5 and r.last.vanishing_ratio < 1e-3
    assert changes_of(r, "saturated") == {"init": "xavier"}


def _exploding_init(r: Run) -> None:
    assert r.last.vanishing_ratio > 1e3
    assert changes_of(r, "exploding") == {"init": "he"}


def _exploded_then_diverged(r: Run) -> None:
    assert r.last.diverged is not None and r.snaps[0].vanishing_ratio > 1e3
    assert changes_of(r, "diverged") == {"init": "he"}  # the cause was there from the start: not the lr


def _slow(r: Run) -> None:
    assert median_update(r.last) < UPDATE_TOO_SMALL and r.window.trend.kind == "flat"
    assert changes_of(r, "slow") == {"lr": pytest.approx(0.01)}


def _cured(r: Run) -> None:
    assert r.last.vanishing_ratio > 1e-3  # while the same net without the cure has 2e-6 (the default rows)


def _converged_saturated(r: Run) -> None:
    assert max(e.saturation for e in r.last.entries) > 0.5  # the saturation rule's condition holds ...
    assert r.last.loss < 0.05 * CHANCE3  # ... on a network that has learned: no warning


def _saturated_in_training(r: Run) -> None:
    assert r.snaps[0].entries[-1].saturation < 0.5 < max(e.saturation for e in r.last.entries)
    assert changes_of(r, "saturated") == {"lr": 1e-3}  # Xavier is in place: not "use Xavier init"


def _too_fast(r: Run) -> None:
    w = r.window
    assert w.trend.kind == "flat" and w.trend.level > 0.5 * CHANCE3 and w.segment_update >= 1e-2
    assert changes_of(r, "too_fast") == {"lr": pytest.approx(0.1)}


def _blown_up(r: Run) -> None:
    assert r.snaps[0].loss < 2 * CHANCE3 and r.last.loss > 10 * CHANCE3
    assert changes_of(r, "exploding") == {"lr": 1e-3}


def _stuck(r: Run) -> None:
    assert r.window.trend.kind == "flat" and r.window.trend.level > 0.5 * CHANCE3
    assert r.alert("stuck").fix is None


def _regression_diverged(r: Run) -> None:
    assert r.last.diverged is not None
    assert changes_of(r, "diverged") == {"lr": 1e-3}  # 0.01, a tenth, still diverges on the regression


def _regression_converged(r: Run) -> None:
    data = Trainer(r.last.config).dataset  # the chance level of a regression: predicting the mean
    assert r.last.loss < 0.05 * float(np.var(data.y_train))
    assert "of the loss of predicting the mean" in r.alert("converged").text


# recurrent runs (axis "time"): the adding problem; T = 40 rather than the 100, where the same story takes
# ~1,200 steps: at T = 40 a tanh RNN's gradient reaching step 1 is still 4e-5 of step 40's after 400 steps (at
# T = 30 it learns the task), while an LSTM from the same seed has escaped by then (0.3, its loss at half the baseline)
ADDING = 1 / 6


def _rnn_forgets(r: Run) -> None:
    assert r.last.axis == "time" and r.last.vanishing_ratio < 1e-3 and r.last.loss > 0.9 * ADDING
    assert changes_of(r, "vanishing") == {"model": "lstm"}
    assert "stuck" in r.alert("vanishing").explains  # at the baseline because it cannot remember: one alert


def _lstm_carries(r: Run) -> None:
    assert r.last.vanishing_ratio > 1e-2 and r.last.loss < 0.6 * ADDING


def _forget_bias_0(r: Run) -> None:
    assert r.last.vanishing_ratio < 1e-6
    assert changes_of(r, "vanishing") == {"forget_bias": 1.0}
    assert "half shut (bias 0)" in r.alert("vanishing").text


def _forget_gate_shut(r: Run) -> None:
    forget = next(g for g in r.last.gates if g.name == "forget")
    assert forget.low > 0.5 and r.last.vanishing_ratio < 1e-3
    assert changes_of(r, "gates") == {"forget_bias": 1.0}
    assert r.alert("gates").text.startswith("the forget gate is shut (below 0.05) for")


def _rnn_explodes_unclipped(r: Run) -> None:
    assert r.last.diverged is not None and r.snaps[0].vanishing_ratio > 1e3
    assert changes_of(r, "diverged") == {"clip": 1.0}


def _rnn_saturated(r: Run) -> None:
    assert max(e.saturation for e in r.last.entries) > 0.5  # tanh'(a_t) < 0.05 for most of the probe set's states
    assert r.last.vanishing_ratio > 1e3  # and the few unsaturated paths grow back in time: std-1 weights, H = 32
    assert changes_of(r, "exploding") == changes_of(r, "saturated") == {"recurrent_init": "orthogonal"}  # one alert


RNN = dict(seq_len=40, probe_size=64)
F64 = dict(S, dtype="float64")
EXPLODING = dict(activation="relu", recurrent_init="normal:0.5", clip=0.0, optimizer="sgd", lr=0.01)

ROWS = [
    Row("default-init", Config(**S), 0, ("vanishing",), ("slow", "healthy", "dead", "exploding"), first="vanishing",
        shows=_default_0),
    Row("default-300", Config(**S), 300, ("vanishing",), ("slow", "healthy", "converged"), first="vanishing",
        shows=_default_300),
    Row("default-lr-x50", Config(**S), 400, ("vanishing",), ("slow", "healthy"),
        changes=((100, Change("lr", 5.0)),), shows=_lr_raised),
    Row("relu-he-10-init", Config(activation="relu", init="he", **S), 0, ("healthy",), PROBLEMS,
        shows=_readme_cure),
    Row("relu-he-converged", Config(activation="relu", init="he", depth=4, **S), 600, ("converged", "healthy"),
        PROBLEMS, every=100, shows=_converged),
    Row("relu-lr-1-dying", Config(activation="relu", init="he", depth=4, lr=1.0, **S), 300, ("dead",),
        ("healthy", "converged", "slow"), first="dead", shows=_dying),
    Row("relu-lr-1e3-diverges", Config(activation="relu", init="he", depth=4, width=16, lr=1e3, **S), 50,
        ("diverged",), ("healthy", *WARNINGS), every=10, first="diverged", shows=_diverged),
    Row("tanh-normal1-init", Config(activation="tanh", init="normal:1.0", **S), 0, ("saturated", "exploding"),
        ("healthy", "vanishing"), shows=_saturated_init),
    Row("tanh-normal1-100", Config(activation="tanh", init="normal:1.0", **S), 100, ("saturated", "vanishing"),
        ("healthy", "slow"), first="saturated", shows=_saturated_100),
    Row("relu-normal1-init", Config(activation="relu", init="normal:1.0", depth=6, **S), 0, ("exploding",),
        ("healthy", "vanishing"), first="exploding", shows=_exploding_init),
    Row("relu-normal1-100", Config(activation="relu", init="normal:1.0", depth=6, **S), 100, ("diverged",),
        ("healthy", *WARNINGS), every=20, first="diverged", shows=_exploded_then_diverged),
    Row("lr-1e-5", Config(activation="relu", init="he", depth=4, lr=1e-5, **S), 300, ("slow",),
        ("healthy", "converged", "vanishing"), first="slow", shows=_slow),
    Row("sigmoid-batchnorm", Config(batchnorm=True, **S), 300, ("healthy",), PROBLEMS, shows=_cured),
    Row("sigmoid-residual", Config(residual=True, **S), 300, ("healthy",), PROBLEMS, shows=_cured),
    Row("tanh-normal1-4-converged", Config(activation="tanh", init="normal:1.0", depth=4, **S), 200, ("converged",),
        PROBLEMS, shows=_converged_saturated),
    # seed 5: layers 2-3 go from 0 % to 97-100 % saturated within 25 steps and stay there, the same on every BLAS
    # kernel (seeds 0-2 and 7 also learn a little at Adam's lr 0.3, and whether the loss counts as flat, so whether
    # "too fast" joins, depended on the kernel)
    Row("tanh-adam-saturates", Config(activation="tanh", depth=3, width=16, optimizer="adam", lr=0.3, **S, seed=5), 100,
        ("saturated",), ("healthy", "converged"), every=25, first="saturated", shows=_saturated_in_training),
    # The next three train at an lr too large to settle: chaotic, so float32 rounding, which differs between BLAS
    # kernels, decides where they land (in float32 under OPENBLAS_CORETYPE=Haswell, 4 of 6 seeds of the first row
    # were healthy; under SkylakeX none). In float64 the same seed takes the same path on the Haswell, SkylakeX and
    # Sandybridge kernels (the figures agree to the digits shown), and the seeds are ones far from the rules' lines:
    # too fast: updates 3.4e-2 a step (the line: 1e-2); stuck: 4.6e-3, loss flat at 95 % of chance; blown up: 76x
    Row("leaky-sgd-too-fast", Config(activation="leaky_relu", init="he", depth=3, width=16, lr=1.0, **F64, seed=4),
        200, ("too_fast",), ("healthy", "converged", "slow"), every=25, shows=_too_fast),
    Row("leaky-adam-blows-up", Config(activation="leaky_relu", init="he", depth=4, optimizer="adam", lr=1.0, **F64),
        100, ("exploding",), ("healthy", "converged"), every=25, first="exploding", shows=_blown_up),
    Row("leaky-sgd-stuck", Config(activation="leaky_relu", init="he", depth=3, lr=2.0, **F64, seed=3), 300, ("stuck",),
        ("healthy", "converged"), every=25, shows=_stuck),
    Row("sine-relu-diverges", Config(activation="relu", init="he", depth=3, dataset="sine", **S), 50, ("diverged",),
        ("healthy", *WARNINGS), every=10, first="diverged", shows=_regression_diverged),
    Row("sine-tanh-converged", Config(activation="tanh", depth=3, dataset="sine", optimizer="adam", lr=0.01, **S),
        400, ("converged", "healthy"), PROBLEMS, shows=_regression_converged),
    Row("rnn-tanh-adding-T40-400", Config.for_model("rnn", **RNN), 400, ("vanishing", "stuck"),
        ("healthy", "converged", "exploding", "dead", "gates", "saturated"), first="vanishing", shows=_rnn_forgets,
        twins=("vanishing",)),
    Row("lstm-adding-T40-400", Config.for_model("lstm", **RNN), 400, ("healthy",), PROBLEMS, shows=_lstm_carries),
    Row("lstm-forget-bias-0-init", Config.for_model("lstm", forget_bias=0.0, seq_len=50, probe_size=64), 0,
        ("vanishing",), ("healthy", "exploding"), first="vanishing", shows=_forget_bias_0),
    Row("lstm-forget-bias--4-init", Config.for_model("lstm", forget_bias=-4.0, **RNN), 0, ("gates", "vanishing"),
        ("healthy", "exploding", "saturated"), first="gates", shows=_forget_gate_shut),
    Row("rnn-relu-unclipped-diverges", Config.for_model("rnn", **EXPLODING, **RNN), 50, ("diverged",),
        ("healthy", *WARNINGS), every=10, first="diverged", shows=_rnn_explodes_unclipped),
    Row("rnn-tanh-normal1-init", Config.for_model("rnn", recurrent_init="normal:1.0", **RNN), 0,
        ("exploding", "saturated"), ("healthy", "gates", "vanishing"), first="exploding", shows=_rnn_saturated),
]  # fmt: skip
BY_ID = {row.id: row for row in ROWS}


@functools.cache
def scenario(row_id: str) -> Run:
    row = BY_ID[row_id]
    return train(row.config, row.steps, row.every, row.changes)


@pytest.mark.parametrize("row_id", list(BY_ID))
def test_scenario(row_id):
    row, run = BY_ID[row_id], scenario(row_id)
    assert run.last.step == row.steps or run.last.diverged is not None
    missing = set(row.must) - run.raised
    assert not missing, f"{row_id}: {missing} not raised: {[a.text for a in run.alerts]}"
    wrong = set(row.must_not) & set(run.shown)
    assert not wrong, f"{row_id}: {wrong} raised: {[a.text for a in run.alerts]}"
    if row.first is not None:
        assert run.alerts[0].key == row.first, [a.text for a in run.alerts]
    row.shows(run)


def verdicts() -> dict[str, list[list[object]]]:
    """What the user sees of every row and acts on: its alerts in order, each with its fix's changes (JSON's types)."""
    return {
        row.id: [
            [a.key, [[c.field, c.value] for c in (a.fix.changes if a.fix else ())]] for a in scenario(row.id).alerts
        ]
        for row in ROWS
    }


# OpenBLAS kernels (OPENBLAS_CORETYPE, read when NumPy loads it) and the CPU flags each needs
KERNELS = {"SkylakeX": {"avx512f", "avx512bw", "avx512vl", "avx512dq"}, "Haswell": {"avx2", "fma"},
           "Sandybridge": {"avx"}}  # fmt: skip


def other_kernels() -> list[str]:
    blas = next((i for i in threadpool_info() if i.get("internal_api") == "openblas"), None)
    cpuinfo = Path("/proc/cpuinfo")
    if blas is None or not cpuinfo.exists():
        return []
    flags = set(next((ln for ln in cpuinfo.read_text().splitlines() if ln.startswith("flags")), "").split())
    here = str(blas.get("architecture", "")).lower()
    return [k for k, need in KERNELS.items() if need <= flags and k.lower() != here][:2]


def test_the_verdicts_do_not_depend_on_the_blas_kernel():
    """Each BLAS kernel rounds float32 sums its own way, and a chaotic run amplifies the difference: a row whose
    verdict changed with the kernel once passed here and failed on CI's machine. Every row's verdict, computed again
    in a process that runs NumPy on other kernels this CPU can run, must be the same."""
    kernels = other_kernels()
    if not kernels:
        pytest.skip("NumPy does not use OpenBLAS on x86 here: no other kernel to compare with")
    here = verdicts()
    code = "import json, sys; sys.path.insert(0, sys.argv[1]); import test_doctor as t; print(json.dumps(t.verdicts()))"
    for kernel in kernels:
        env = {**os.environ, "OPENBLAS_CORETYPE": kernel, "OPENBLAS_NUM_THREADS": "1"}
        out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], env=env, capture_output=True,
                             text=True, check=True, timeout=300).stdout  # fmt: skip
        there = json.loads(out)
        changed = {k: (here[k], there[k]) for k in here if here[k] != there[k]}
        assert not changed, f"under OPENBLAS_CORETYPE={kernel}: {changed}"


@pytest.mark.parametrize("row_id", list(BY_ID))
def test_no_fix_is_already_in_place_and_every_text_is_one_line(row_id):
    run, config = scenario(row_id), BY_ID[row_id].config
    current = run.last.config
    assert current is not None
    for a in run.alerts:
        assert a.text and "\n" not in a.text and not re.search(r"\bnan\b", a.text) and "—" not in a.evidence
        assert len(a.text) <= 200, a.text
        if a.fix is None:
            continue
        for c in a.fix.changes:
            assert getattr(current, c.field) != c.value, f"{row_id}: {a.key} proposes {c} that is in place"
        assert (a.fix.apply(current) != current) == bool(a.fix.changes)
    if config.init == "xavier":
        assert not any("Xavier" in a.text for a in run.alerts)


TWINS = [
    (row.id, key)
    for row in ROWS
    for key in (row.must if row.twins is None else row.twins)
    if key in PROBLEMS and key != "stuck"  # stuck: no fix
]


@pytest.mark.parametrize(("row_id", "key"), TWINS)
def test_the_fix_works_in_a_twin_from_the_same_seed(row_id, key):
    """The strongest test that the words are true: apply the alert's fix to the configuration in a fresh Trainer
    (same seed: the same data, batches and, where the shapes allow, initial weights) and train as long."""
    row, run = BY_ID[row_id], scenario(row_id)
    a = run.alert(key)
    if a.fix is None or not a.fix.changes:
        pytest.skip(f"{key} has no fix with changes in {row_id}")
    assert run.last.config is not None
    fixed = a.fix.apply(run.last.config)  # the settings in force at the end, with the fix
    twin = train(fixed, row.steps, row.every)
    assert key not in twin.raised, f"{row_id}: {fixed.summary()} still raises {key}: {[x.text for x in twin.alerts]}"
    assert twin.last.diverged is None, twin.alerts[0].text


def test_every_rule_is_covered_by_rows_where_it_must_and_must_not_appear():
    must = {k for row in ROWS for k in row.must}
    must_not = {k for row in ROWS for k in row.must_not}
    every = {r.key for r in RULES}
    # "stale" and "unmeasured" need figures that a trainer never leaves (it measures after every rebuild): they
    # are covered by the hand-made snapshots below, and must not appear on any row
    assert every - {"stale", "unmeasured"} <= must and every - {"stale", "unmeasured"} <= must_not
    assert not any({"stale", "unmeasured"} & set(scenario(row.id).shown) for row in ROWS)


# ---- the loss trend -------------------------------------------------------------------------------------------------
STEPS = list(range(50, 450, 50))  # 8 points


def noise(n: int, scale: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0, scale, n)


def test_trend_falling_flat_rising_converged():
    x = np.array(STEPS, float)
    assert loss_trend(STEPS, 1.1 * np.exp(-x / 400), CHANCE3).kind == "falling"
    assert loss_trend(STEPS, 1.1 + noise(8, 0.01), CHANCE3).kind == "flat"
    assert loss_trend(STEPS, 0.3 * np.exp(x / 400), CHANCE3).kind == "rising"
    assert loss_trend(STEPS, 0.02 * np.exp(-x / 400), CHANCE3).kind == "converged"
    t = loss_trend(STEPS, 1.0 - 0.001 * x, CHANCE3)
    assert t.kind == "falling" and t.start == pytest.approx(0.95, rel=0.02) and t.end == pytest.approx(0.6, rel=0.05)
    assert t.steps == 350 and t.points == 8 and t.level == pytest.approx(0.65)


def test_trend_of_a_noisy_loss():
    x = np.array(STEPS, float)
    falling = np.exp(-x / 300) * (1 + noise(8, 0.05))
    assert loss_trend(STEPS, falling, CHANCE3).kind == "falling"
    flat = 1.0 * (1 + noise(8, 0.3, seed=1))  # large noise, no trend
    assert loss_trend(STEPS, flat, CHANCE3).kind == "flat"
    # a converged loss whose noise doubles it from one point to the next is no rising trend
    tiny = 0.004 * (1 + np.abs(noise(8, 0.8, seed=2))) * np.linspace(1, 2, 8)
    assert loss_trend(STEPS, tiny, CHANCE3).kind == "converged"


def test_trend_needs_points_and_steps_and_ignores_non_finite_losses():
    assert loss_trend(STEPS[:3], [1.0, 0.5, 0.2], CHANCE3).kind == "unknown"
    assert loss_trend([1, 2, 3, 4, 5], [1.0, 0.8, 0.6, 0.4, 0.2], CHANCE3).kind == "unknown"  # 4 steps
    with_nan = [1.0, math.nan, 0.8, 0.6, math.inf, 0.4, 0.3, 0.2]
    assert loss_trend(STEPS, with_nan, CHANCE3).kind == "falling"
    # without a reference there is no "converged", only the direction
    assert loss_trend(STEPS, 0.02 * np.exp(-np.array(STEPS) / 400)).kind == "falling"


def test_trend_is_of_the_newest_points():
    steps = list(range(10, 170, 10))  # 16 points: a fast fall, then a plateau
    losses = [5.0, 3.0, 2.0, 1.5, 1.2, 1.1, 1.05, 1.02] + [1.0 + 0.001 * (-1) ** i for i in range(8)]
    assert loss_trend(steps, losses, CHANCE3).kind == "flat"


# ---- hand-made snapshots --------------------------------------------------------------------------------------------
SIG = Config(depth=4, width=16, **S)  # sigmoid xavier sgd 0.1
RELU = Config(activation="relu", init="he", depth=4, width=16, **S)


def snap(config: Config = RELU, step: int = 100, **kw) -> Snapshot:
    kw.setdefault("paused", False)
    return make_snapshot(config=config, step=step, **kw)


def series(losses, config: Config = RELU, start: int = 50, every: int = 50, **kw) -> list[Snapshot]:
    return [snap(config, start + i * every, loss=v, **kw) for i, v in enumerate(losses)]


def keys(alerts: list[Alert]) -> list[str]:
    return [a.key for a in alerts]


def flat(n: int = 6, level: float = 1.09) -> list[float]:
    return [level + 0.002 * (-1) ** i for i in range(n)]


def tiny_updates(**kw) -> dict[int, dict]:
    return {i: {"update_ratio": 1e-7, **kw} for i in range(1, 5)}


def test_healthy_states_the_healthy_range():
    alerts = diagnose(snap(vanishing_ratio=0.5))
    assert keys(alerts) == ["healthy"]
    assert alerts[0].text == (
        "healthy: layer 1 gets 5.0e-1 of layer 4's gradient signal (1e-3 to 1e3 is healthy);"
        " updates 1.0e-3 of the weights (1e-5 to 0.1)"
    )
    assert one_line(snap(vanishing_ratio=0.5)) == alerts[0].text


def test_vanishing_evidence_cause_fix():
    a = diagnose(snap(SIG, vanishing_ratio=3.2e-7))[0]
    assert (a.level, a.key, a.entry, a.index) == ("warning", "vanishing", "L1", 1)
    assert a.evidence == "vanishing: layer 1 gets 3.2e-7 of layer 4's gradient signal"
    assert a.cause == "sigmoid's slope (≤ 0.25) shrinks it at every layer"
    assert a.fix == Fix("try ReLU + He init", (Change("activation", "relu"), Change("init", "he")))
    assert a.text == f"{a.evidence} — {a.cause} — {a.fix.text}"
    assert diagnose(snap(RELU, vanishing_ratio=0.0))[0].evidence.endswith(
        "layer 1 gets none of layer 4's gradient signal"
    )


@pytest.mark.parametrize(
    ("config", "fix"),
    [
        (Config(activation="tanh", init="normal:0.01", depth=4, **S), {"init": "xavier"}),
        (Config(activation="relu", init="xavier", depth=4, **S), {"init": "he"}),  # He is ReLU's, not Xavier
        (Config(activation="relu", init="he", depth=4, **S), {"batchnorm": True}),
        (Config(activation="relu", init="he", batchnorm=True, depth=4, **S), {"residual": True}),
        (Config(activation="selu", init="he", depth=4, **S), {"init": "lecun"}),
        (Config(batchnorm=True, residual=True, depth=4, **S), {"activation": "relu", "init": "he"}),
    ],
)
def test_the_vanishing_fix_is_one_that_is_not_in_place(config, fix):
    a = diagnose(snap(config, vanishing_ratio=1e-6))[0]
    assert a.key == "vanishing" and a.fix is not None
    assert {c.field: c.value for c in a.fix.changes} == fix


def test_no_fix_left_is_said_as_none():
    c = Config(activation="relu", init="he", batchnorm=True, residual=True, depth=4, **S)
    a = diagnose(snap(c, vanishing_ratio=1e-6))[0]
    assert a.key == "vanishing" and a.fix is None and a.text == f"{a.evidence} — {a.cause}"


def test_exploding_fix_order_and_clipping_only_when_off():
    he = Config(activation="relu", init="he", batchnorm=True, depth=4, **S)
    a = diagnose(snap(he, vanishing_ratio=5e3))[0]
    assert a.key == "exploding" and a.fix == Fix("clip gradients (clip 1)", (Change("clip", 1.0),))
    assert diagnose(snap(he.replace(clip=1.0), vanishing_ratio=5e3))[0].fix is None


def test_vanishing_explains_slow_learning():
    snaps = series(flat(), SIG, vanishing_ratio=2e-6, layer_overrides=tiny_updates())
    alerts = diagnose_window(snaps)
    assert keys(alerts) == ["vanishing"] and alerts[0].explains == ("slow", "stuck")
    assert not any("raise the lr" in a.text for a in alerts)
    # the same flat loss and tiny updates without vanishing: the lr is too small, and the fix raises it
    small = RELU.replace(lr=1e-5)
    alerts = diagnose_window(series(flat(), small, vanishing_ratio=0.5, layer_overrides=tiny_updates()))
    assert keys(alerts) == ["slow"] and alerts[0].explains == ("stuck",)
    assert alerts[0].fix == Fix("raise the lr to 0.1", (Change("lr", 0.1),))  # updates 1e-7 x 1e4: ~1e-3
    assert alerts[0].text.startswith("the loss is flat at 1.09 over 250 steps; updates are 1.0e-7 of the weights")


def test_a_fault_that_came_later_does_not_explain_one_from_the_start():
    dead = {i: {"dead": 8, "dead_step": 100} for i in (2, 3)}  # 8 of 16 units died at step 100
    start = snap(RELU, 0, run_step=0, vanishing_ratio=1e-5, loss=1.1)
    later = snap(RELU, 100, vanishing_ratio=1e-5, layer_overrides=dead)
    alerts = diagnose_window([start, later])
    assert set(keys(alerts)) == {"dead", "vanishing"}  # vanishing was there at step 0: the dying cannot explain it
    start = snap(RELU, 0, run_step=0, vanishing_ratio=0.5, loss=1.1)
    alerts = diagnose_window([start, later])
    assert keys(alerts) == ["dead"] and alerts[0].explains == ("vanishing",)  # both came with training


def test_alerts_with_the_same_fix_are_one_problem():
    c = Config(activation="tanh", init="normal:1.0", depth=4, **S)
    saturated = {i: {"saturation": 0.9, "activation": "tanh"} for i in range(1, 5)}
    alerts = diagnose(snap(c, vanishing_ratio=5e3, layer_overrides=saturated))
    assert keys(alerts) == ["exploding"] and alerts[0].explains == ("saturated",)
    assert alerts[0].fix == Fix("use Xavier init", (Change("init", "xavier"),))


def test_divergence_explains_everything():
    d = Divergence(812, 4, "weights", "diverged at step 812: layer 4's weights went NaN/Inf", "L4")
    over = {i: {"grad_norm": math.nan, "update_ratio": math.nan, "dead": 9} for i in range(1, 5)}
    alerts = diagnose(snap(RELU, 812, vanishing_ratio=1e-9, diverged=d, layer_overrides=over))
    assert keys(alerts) == ["diverged"] and set(alerts[0].explains) == {"vanishing", "dead"}
    a = alerts[0]
    assert (a.level, a.entry, a.index) == ("error", "L4", 4)
    assert (
        a.text
        == "diverged at step 812: layer 4's weights went NaN/Inf — the steps overshoot (lr 0.1) — lower the lr to 0.01"
    )
    out = Divergence(9, 5, "activations", "diverged at step 9: the output layer's activations went NaN/Inf", "output")
    assert diagnose(snap(RELU, 9, diverged=out))[0].evidence.startswith("diverged at step 9: the output layer's")


def test_a_converged_network_raises_no_warning():
    dead = {i: {"dead": 10, "dead_step": 100} for i in range(1, 5)}
    snaps = series([0.03, 0.02, 0.015, 0.012, 0.011, 0.01], RELU, vanishing_ratio=5e-4, layer_overrides=dead)
    alerts = diagnose_window(snaps)
    assert keys(alerts) == ["converged"] and set(alerts[0].explains) == {"dead", "vanishing"}
    assert alerts[0].text == "converged: loss 0.011 (median of the last 3), 1.0% of the chance level 1.1, accuracy 75%"


def test_nan_figures_never_raise_an_alert():
    nan = math.nan
    over = {i: dict(grad_norm=nan, signal_norm=nan, update_ratio=nan, saturation=nan) for i in range(1, 5)}
    alerts = diagnose(snap(SIG, vanishing_ratio=nan, layer_overrides=over))
    assert keys(alerts) == ["unmeasured"] and alerts[0].level == "info"
    # step 0: no update yet; an all-zero weight matrix: an infinite update ratio
    assert keys(diagnose(snap(layer_overrides={i: {"update_ratio": nan} for i in range(1, 5)}))) == ["healthy"]
    assert keys(diagnose(snap(layer_overrides={1: {"update_ratio": math.inf}}))) == ["healthy"]


def test_stale_figures_never_raise_an_alert():
    """Figures measured before the last rebuild describe another network: they are not diagnosed."""
    dead = {i: {"dead": 12, "dead_step": 40} for i in range(1, 5)}
    s = snap(RELU, 100, run_step=10, probe_step=50, grad_step=50, vanishing_ratio=1e-9, layer_overrides=dead)
    alerts = diagnose(s)
    assert keys(alerts) == ["stale", "unmeasured"]
    assert alerts[0].text == (
        "the gradient and probe-set figures are from before the rebuild at step 90 — waiting for a fresh measurement"
    )
    fresh = replace(s, grad_step=100)  # the gradients are new, the probe set's figures are not
    assert keys(diagnose(fresh)) == ["vanishing", "stale"]


def test_dead_units_count_only_when_they_died_in_training_or_are_most_of_a_layer():
    at_init = {2: {"dead": 5, "dead_step": 0}}  # 31 % of layer 2 dead from the start: normal on 2-D data
    assert keys(diagnose(snap(RELU, 0, run_step=0, layer_overrides=at_init))) == ["healthy"]
    most = {2: {"dead": 9, "dead_step": 0}}  # 56 % from the start
    a = diagnose(snap(RELU, 0, run_step=0, layer_overrides=most))[0]
    assert a.key == "dead" and a.evidence == "56% of layer 2's units are dead (dead from the start)"
    assert a.fix == Fix("use leaky ReLU", (Change("activation", "leaky_relu"),))
    died = {3: {"dead": 2, "dead_step": 80}}  # 2 of 16 = 12.5 % died at step 80
    a = diagnose(snap(RELU, 100, layer_overrides=died))[0]
    assert (a.key, a.entry) == ("dead", "L3") and a.evidence == "12% of layer 3's units are dead (2 died in training)"
    assert a.fix == Fix("lower the lr to 0.01", (Change("lr", 0.01),))
    assert keys(diagnose(snap(RELU, 100, layer_overrides={3: {"dead": 1, "dead_step": 80}}))) == ["healthy"]


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_saturation_is_an_alert_for_sigmoid_and_tanh_only(activation):
    c = Config(activation=activation, depth=4, width=16, **S)
    sat = {2: {"saturation": 0.834, "activation": activation}}
    a = diagnose(snap(c, vanishing_ratio=0.5, layer_overrides=sat))[0]
    assert (a.key, a.index) == ("saturated", 2)
    assert a.evidence == "layer 2 is 83% saturated (f′ < 5% of its max)"
    assert a.fix == Fix("try batch norm", (Change("batchnorm", True),))  # Xavier is in place
    half = {2: {"saturation": 0.5, "activation": activation}}
    assert keys(diagnose(snap(c, vanishing_ratio=0.5, layer_overrides=half))) == ["healthy"]
    relu = {i: {"saturation": 0.7} for i in range(1, 5)}  # ReLU's inactive half: normal
    assert keys(diagnose(snap(RELU, vanishing_ratio=0.5, layer_overrides=relu))) == ["healthy"]


def test_saturated_from_the_start_when_any_saturated_layer_already_was():
    """Normal(1) init saturates layers 2-4 at once; training then pushes layer 1 just past them. The init is the
    cause, and the layer named is one the init saturated, not the near-tie that crossed the line in training."""
    c = Config(activation="tanh", init="normal:1.0", depth=4, width=16, **S)

    def at(step: int, sats: list[float]) -> Snapshot:
        over = {i + 1: {"saturation": v, "activation": "tanh"} for i, v in enumerate(sats)}
        return snap(c, step, run_step=step, vanishing_ratio=0.5, loss=1.1, layer_overrides=over)

    start = at(0, [0.40, 0.77, 0.76, 0.75])
    (a,) = diagnose_window([start, at(100, [0.99, 0.98, 0.97, 0.95])])
    assert (a.key, a.index) == ("saturated", 2) and "was 77% at step 0; 4 layers over 50%" in a.evidence
    assert a.fix == Fix("use Xavier init", (Change("init", "xavier"),))
    assert "normal:1.0 weights put z in tanh's flat tails" in a.text
    # no layer saturated at the start: training did it (Xavier is not the cure; the lr 0.1 is safe: batch norm)
    (a,) = diagnose_window([at(0, [0.40, 0.30, 0.20, 0.10]), at(100, [0.99, 0.98, 0.97, 0.95])])
    assert (a.key, a.index) == ("saturated", 1) and "was 40% at step 0" in a.evidence
    assert "training pushed z into tanh's flat tails" in a.text
    assert a.fix == Fix("try batch norm", (Change("batchnorm", True),))


# ---- the Doctor and its window ------------------------------------------------------------------------------------
def test_a_live_change_starts_a_new_trend():
    """A rising loss before the lr was lowered is not blamed on the new lr; after it, the new settings are judged."""
    rising = series([0.5, 0.6, 0.75, 0.9, 1.0, 1.05], RELU, vanishing_ratio=0.5)
    lower = RELU.replace(lr=0.01)
    doc = Doctor()
    for s in rising:
        doc.observe(s)
    assert "too_fast" in keys(doc.diagnose())
    for i, v in enumerate([1.0, 0.98, 0.95]):
        doc.observe(snap(lower, 350 + 50 * i, loss=v, vanishing_ratio=0.5))
    w = Window.of(doc.window())
    assert w.changed_at == 350 and w.trend.kind == "unknown" and len(w.snaps) == 9
    assert keys(doc.diagnose()) == ["healthy"]


def test_a_rebuild_or_a_step_back_starts_a_new_window_and_twins_have_their_own():
    doc = Doctor(size=4)
    for s in series([1.0, 0.9, 0.8, 0.7, 0.6, 0.5]):
        doc.observe(s)
    assert [s.step for s in doc.window()] == [50, 150, 200, 250, 300]  # the first of the network is kept
    rebuilt = snap(RELU.replace(activation="tanh"), 310, run_step=0)
    doc.observe(rebuilt)
    assert doc.window() == (rebuilt,)
    doc.observe(snap(RELU, 120))  # a replay seeking back
    assert [s.step for s in doc.window()] == [120]
    doc.observe(snap(RELU, 100, run="B", vanishing_ratio=1e-6))
    assert keys(doc.diagnose("B")) == ["vanishing"] and keys(doc.diagnose("")) == ["healthy"]
    assert keys(doc.diagnose()) == ["vanishing"]  # the last observed run
    doc.reset()
    assert doc.window() == () and keys(doc.diagnose()) == ["unmeasured"]


def test_window_of_keeps_the_newest_network_only():
    old = series([1.0, 0.9], SIG, vanishing_ratio=1e-6)
    new = [snap(RELU, 200, run_step=0), snap(RELU, 250, run_step=50)]
    w = Window.of(old + new)
    assert w.snaps == tuple(new) and keys(diagnose_window(old + new)) == ["healthy"]
    with pytest.raises(ValueError):
        Window.of([])


# ---- other axes -----------------------------------------------------------------------------------------------------
def time_snapshot(ratio: float, model: str = "rnn", **kw) -> Snapshot:
    entries = tuple(
        make_layer(t, 16, activation="tanh", name=f"t={t}", kind=model, grad_norm=1e-3, signal_norm=10.0 ** (t - 8))
        for t in range(1, 9)
    )
    meta = RunMeta(model=model, summary="rnn 8 steps", optimizer="adam", lr=1e-3)
    return replace(make_snapshot(layers=entries, axis="time", vanishing_ratio=ratio, meta=meta, **kw), config=None)


def test_through_time():
    a = diagnose(time_snapshot(1e-7))[0]
    assert a.key == "vanishing" and a.entry == "t=1"
    assert a.text == (
        "vanishing: step 1 gets 1.0e-7 of the gradient reaching step 8 — a plain RNN's state forgets: it shrinks at"
        " every step back in time — use an LSTM or GRU"
    )
    assert a.fix is not None and a.fix.changes == ()
    assert diagnose(time_snapshot(1e-7, model="lstm"))[0].fix is None  # already gated: no LSTM to suggest
    a = diagnose(time_snapshot(3e4))[0]
    assert a.key == "exploding" and a.evidence == "exploding: step 1 gets 3.0e4× the gradient reaching step 8"
    assert a.fix == Fix("clip the gradient norm (e.g. to 1), or use an LSTM or GRU")
    sat = replace(time_snapshot(0.5), entries=tuple(replace(e, saturation=0.8) for e in time_snapshot(0.5).entries))
    assert diagnose(sat)[0].evidence == "step 1 is 80% saturated (f′ < 5% of its max; 8 steps over 50%)"


def test_dead_units_through_time_are_counted_in_steps_not_layers():
    entries = tuple(
        make_layer(t, 16, activation="relu", name=f"t={t}", kind="rnn", dead=8 if t > 2 else 0, dead_step=50,
                   signal_norm=0.1)
        for t in range(1, 9)
    )  # fmt: skip
    meta = RunMeta(model="rnn", summary="rnn relu 8 steps", optimizer="adam", lr=1e-3)
    s = replace(make_snapshot(layers=entries, axis="time", meta=meta), config=None)
    a = next(a for a in diagnose(s) if a.key == "dead")
    assert a.evidence == "50% of step 3's units are dead (8 died in training; 6 steps over 10%)"
    assert "layer" not in a.text
    mlp = make_snapshot(layer_overrides={i: {"dead": 8} for i in (2, 3)})  # the MLP still counts layers
    assert "; 2 layers over 10%" in next(a for a in diagnose(mlp) if a.key == "dead").evidence


def test_the_gates_alert_says_how_a_gate_shuts_through_time():
    from gradtui.engine.stats import GateStats

    shut = np.linspace(0.2, 0.9, 8)
    forget = GateStats("forget", 0.1, float(shut.mean()), 0.0, None, np.full(8, 0.1), shut, np.zeros(8))
    s = time_snapshot(0.5, model="lstm", gates=(forget,))
    a = next(a for a in diagnose(s) if a.key == "gates")
    assert a.evidence == (
        "the forget gate is shut (below 0.05) for 55% of its entries (mean 0.1; 20% at step 1 → 90% at step 8)"
    )
    older = time_snapshot(0.5, model="lstm", gates=(replace(forget, low_steps=None, high_steps=None),))  # a recording
    assert next(a for a in diagnose(older) if a.key == "gates").evidence.endswith("of its entries (mean 0.1)")
    even = time_snapshot(0.5, model="lstm", gates=(replace(forget, low_steps=np.full(8, 0.55)),))  # no change in time
    assert next(a for a in diagnose(even) if a.key == "gates").evidence.endswith("of its entries (mean 0.1)")


def test_the_lstm_the_doctor_proposes_has_forget_bias_1_and_clipping_even_after_g_and_no_clip():
    # g set the LSTM's forget bias to 0, c turned clipping off, M went back to the RNN: the settings a switch between
    # cells keeps; the fix's LSTM must not start with them (it would alert "forget-gate bias 1" at once)
    rnn = Config.for_model("rnn", forget_bias=0.0, clip=0.0, seq_len=100, probe_size=64)
    run = train(rnn, 0, 50)
    fix = run.alert("vanishing").fix
    assert fix is not None and fix.text == "switch to an LSTM (forget-gate bias 1, clip 1)"
    assert changes_of(run, "vanishing") == {"model": "lstm", "forget_bias": 1.0, "clip": 1.0}
    twin = fix.apply(rnn)
    assert (twin.model, twin.forget_bias, twin.clip, twin.seq_len) == ("lstm", 1.0, 1.0, 100)
    alerts = train(twin, 0, 50).alerts
    assert not any("forget-gate bias" in a.text or "bias 0" in a.text for a in alerts), [a.text for a in alerts]
    same = Config.for_model("rnn", seq_len=100, probe_size=64)  # bias 1 and clip 1 already: only the model changes
    assert changes_of(train(same, 0, 50), "vanishing") == {"model": "lstm"}


def module_snapshot(**kw) -> Snapshot:
    names = ["encoder.fc1", "encoder.act", "decoder.fc2"]
    entries = tuple(make_layer(i, 32, name=n, kind="module") for i, n in enumerate(names, 1))
    meta = RunMeta(model="torch", summary="MyNet 1.2M params, AdamW lr 3e-4", optimizer="adamw", lr=3e-4)
    values = dict(layers=entries, axis="module", source="probe", meta=meta)
    return replace(make_snapshot(**{**values, **kw}), config=None)  # make_snapshot fills in a Config


def test_a_users_model_gets_fixes_in_words():
    a = diagnose(module_snapshot(vanishing_ratio=1e-6))[0]
    assert a.evidence == "vanishing: encoder.fc1 gets 1.0e-6 of decoder.fc2's gradient signal"
    assert a.fix is not None and a.fix.changes == () and a.fix.text
    dead = [replace(e, dead=DeadUnits(np.arange(20), np.full(20, 50))) for e in module_snapshot().entries]
    a = diagnose(module_snapshot(layers=tuple(dead)))[0]
    assert a.key == "dead" and a.fix == Fix("lower the lr (now 0.0003) or use LeakyReLU")
    snaps = [module_snapshot(step=50 * (i + 1), loss=v) for i, v in enumerate(flat(6, 2.0))]
    slow = [replace(s, entries=tuple(replace(e, update_ratio=1e-6) for e in s.entries)) for s in snaps]
    a = diagnose_window(slow)[0]
    assert a.key == "slow" and a.fix == Fix("raise the lr to 0.3 (now 0.0003)")
    d = Divergence(7, 2, "activations", "diverged", "encoder.act")
    assert (
        diagnose(module_snapshot(diverged=d))[0].evidence
        == "diverged at step 7: encoder.act's activations went NaN/Inf"
    )


def test_every_rule_runs_on_every_axis_without_settings():
    """No rule needs an engine Config: on a snapshot without one, every rule's words are built, none crashes."""
    nan = math.nan
    for s in (module_snapshot(vanishing_ratio=v) for v in (nan, 0.0, 1e-9, 0.5, 1e9)):
        for alert in diagnose(s):
            assert alert.fix is None or alert.fix.changes == ()
    for s in (time_snapshot(v) for v in (nan, 0.0, 1e-9, 0.5, 1e9)):
        assert diagnose(s)


# ---- the words ------------------------------------------------------------------------------------------------------
def test_alert_text_and_the_dashboards_own_messages():
    a = Alert("warning", "slow", "the loss is flat", "the lr is too small", Fix("raise the lr to 0.1"))
    assert a.text == "the loss is flat — the lr is too small — raise the lr to 0.1"
    assert Alert("error", "app", "the trainer died").text == "the trainer died"  # as the alerts line makes them
    assert Fix("x", (Change("lr", 0.5), Change("batchnorm", True))).apply(RELU) == RELU.replace(lr=0.5, batchnorm=True)
    assert Fix("x").apply(RELU) == RELU


def test_docs_list_every_rule_with_its_level():
    text = (ROOT / "docs" / "alerts.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \|", text, re.M)
    assert rows == [(r.key, r.level) for r in RULES]


def test_events_do_not_matter_only_the_settings():
    """A recording's change events need no parsing: the settings in each snapshot mark the live changes."""
    ev = (Event(1, 0, "start", "start"), Event(2, 120, "change", "lr 0.1 -> 0.01"))
    snaps = series(flat(), RELU, vanishing_ratio=0.5, events=ev)
    assert Window.of(snaps).changed_at is None


def test_a_loss_this_low_is_converged_before_it_has_a_direction():
    """Right after a live change there are too few losses for a trend; a loss at 1 % of chance is still converged,
    and its tiny updates are not 'learning slowly' (the old one-snapshot rule said so of converged networks)."""
    snaps = [snap(RELU, 100, loss=0.011, vanishing_ratio=0.5, layer_overrides=tiny_updates())]
    assert Window.of(snaps).trend.kind == "converged"
    alerts = diagnose_window(snaps)
    assert keys(alerts) == ["converged", "healthy"] and "updates" not in alerts[1].text  # no claim on tiny ones


def test_tiny_updates_before_the_loss_has_a_trend_are_slow_but_not_called_healthy():
    small = RELU.replace(lr=1e-5)
    nan_updates = {i: {"update_ratio": math.nan} for i in range(1, 5)}  # step 0: no update taken yet
    first = snap(small, 0, run_step=0, loss=1.1, vanishing_ratio=0.5, layer_overrides=nan_updates)
    later = snap(small, 50, loss=1.1, vanishing_ratio=0.5, layer_overrides=tiny_updates())
    a = diagnose_window([first, later])[0]
    assert a.key == "slow" and a.evidence == "updates are 1.0e-7 of the weights (healthy ~1e-3)"
    # tiny updates on a falling loss: it learns; "healthy" then makes no claim about the updates
    falling = series([1.0, 0.8, 0.6, 0.45, 0.35, 0.3], small, vanishing_ratio=0.5, layer_overrides=tiny_updates())
    (a,) = diagnose_window(falling)
    assert a.key == "healthy" and "updates" not in a.text


def test_most_severe_first_then_table_order():
    d = Divergence(9, None, "loss", "diverged at step 9: the loss went non-finite")
    alerts = diagnose(snap(RELU, 9, diverged=d, probe_step=3, run_step=4))  # probe figures from before the build
    assert keys(alerts) == ["diverged", "stale"] and alerts[0].evidence == "diverged at step 9: the loss went NaN/Inf"
    tanh = Config(activation="tanh", depth=4, width=16, **S)
    over = {i: {"saturation": 0.9, "activation": "tanh", "update_ratio": 0.5} for i in range(1, 5)}
    # saturated (Xavier in place: batch norm) and updates of 50 % a step (a tenth of the lr): two problems, two fixes
    assert keys(diagnose(snap(tanh, vanishing_ratio=0.5, layer_overrides=over))) == ["saturated", "too_fast"]


def test_the_same_step_again_replaces_the_newest():
    doc = Doctor()
    a, b = snap(RELU, 100, loss=1.0), snap(RELU, 100, loss=0.9, paused=True)
    doc.observe(a)
    doc.observe(b)
    assert doc.window() == (b,)


def test_relu_without_he_when_he_is_in_place():
    c = Config(init="he", depth=4, width=16, **S)  # sigmoid with He: ReLU is the change, He is in place
    a = diagnose(snap(c, vanishing_ratio=1e-6))[0]
    assert a.fix == Fix("try ReLU", (Change("activation", "relu"),))
