"""The BLAS thread chooser on a fake clock and fake training steps (no timing, no sleeping), and --threads."""

from __future__ import annotations

import numpy as np
import pytest

from gradtui import cli
from gradtui.blas import ThreadChooser, cpu_count, parse_threads
from gradtui.engine.lockstep import step_together


class FakeMachine:
    """Steps whose duration depends on the BLAS thread count and on whether a neighbour hogs the CPU.

    ``rates[(threads, busy)]`` is steps per second; ``noise`` a relative jitter (seeded, so runs repeat).
    """

    def __init__(self, rates: dict[tuple[int, bool], float], noise: float = 0.0, seed: int = 0) -> None:
        self.rates, self.noise = rates, noise
        self.rng = np.random.default_rng(seed)
        self.now = 0.0
        self.threads = 1
        self.busy = False
        self.switches: list[int] = []  # every count applied
        self.steps_at: dict[int, int] = {}  # steps taken per count

    def clock(self) -> float:
        return self.now

    def set_threads(self, n: int) -> None:
        self.threads = n
        self.switches.append(n)

    def step(self, measure: bool = False) -> bool:
        self.steps_at[self.threads] = self.steps_at.get(self.threads, 0) + 1
        dt = 1.0 / self.rates[(self.threads, self.busy)]
        if self.noise:
            dt *= 1.0 + self.noise * self.rng.uniform(-1, 1)
        self.now += dt
        return True

    def train(self, trainer: object, seconds: float) -> int:
        """Call trainer.step() until ``seconds`` of fake time have passed; returns the steps taken."""
        end, n = self.now + seconds, 0
        while self.now < end:
            trainer.step()  # type: ignore[attr-defined]
            n += 1
        return n


class FakeTrainer:
    def __init__(self, machine: FakeMachine) -> None:
        self._step = machine.step


class Timed:
    """A trainer whose steps go through the chooser, as the training loops take them (engine.lockstep)."""

    def __init__(self, inner, chooser) -> None:
        self.inner, self.chooser = inner, chooser

    def step(self, measure: bool = False) -> bool:
        return step_together([self.inner], [True], measure, step=self.chooser.step)[0] > 0


def setup(rates, width=256, threads=None, cpus=2, **kw):
    m = FakeMachine(rates, **kw)
    chooser = ThreadChooser(threads, cpus=cpus, set_threads=m.set_threads, clock=m.clock)
    inner = FakeTrainer(m)
    inner.step = lambda measure=False: m.step(measure)
    chooser.rebuilt(width)
    return m, chooser, Timed(inner, chooser)


# idle: two threads are 1.5x faster; busy (two neighbours): two threads are 10x slower, one thread 0.65x of idle
WIDE_NET = {(1, False): 100.0, (2, False): 150.0, (1, True): 65.0, (2, True): 15.0}


def test_an_idle_machine_gets_two_threads_a_busy_one_gets_one():
    m, chooser, t = setup(WIDE_NET)
    assert chooser.measuring
    m.train(t, 2.0)
    assert not chooser.measuring and chooser.threads == 2 == m.threads
    assert chooser.history[-1].reason == "rebuilt"
    assert chooser.history[-1].rates[2] == pytest.approx(150.0) and chooser.history[-1].rates[1] == pytest.approx(100.0)

    m2, chooser2, t2 = setup(WIDE_NET)
    m2.busy = True
    m2.train(t2, 2.0)
    assert chooser2.threads == 1 == m2.threads


def test_the_trial_is_interleaved_and_short():
    m, chooser, t = setup(WIDE_NET)
    steps = m.train(t, 2.0)
    assert m.switches == [1, 2, 1, 2]  # bursts at 1, 2, 2, 1 (ABBA), then the winner; nothing more while settled
    assert chooser.history[0].at < 0.5  # four bursts of 0.06 s and a step or two of warm-up
    assert steps > 100


def test_a_count_that_is_far_slower_costs_a_few_steps_not_a_full_trial():
    slow = {**WIDE_NET, (2, True): 2.0}  # two threads beside busy neighbours: 0.5 s a step
    m, chooser, t = setup(slow)
    m.busy = True
    m.train(t, 5.0)
    assert chooser.threads == 1
    assert m.steps_at[2] <= 2  # the slow steps are timed as they come, and the trial ends after one burst each
    assert m.switches == [1, 2, 1]


def test_a_neighbour_starting_triggers_a_new_trial_that_goes_back_to_one_thread():
    m, chooser, t = setup(WIDE_NET)
    m.train(t, 30.0)
    assert chooser.threads == 2 and len(chooser.history) == 1
    m.busy = True  # two CPU-bound processes start
    m.train(t, 10.0)
    assert chooser.threads == 1
    assert [d.reason for d in chooser.history] == ["rebuilt", "rate fell"]
    m.train(t, 60.0)  # the load stays: no more trials (the reference moved with it)
    assert len(chooser.history) == 2 and chooser.threads == 1


def test_the_neighbour_leaving_brings_two_threads_back():
    m, chooser, t = setup(WIDE_NET)
    m.busy = True
    m.train(t, 60.0)
    assert chooser.threads == 1
    m.busy = False  # one thread now runs at 100 steps/s instead of 65: a rise beyond 1.3x, so time both again
    m.train(t, 10.0)
    assert chooser.threads == 2 and chooser.history[-1].reason == "rate rose"


def test_a_small_change_of_rate_is_not_a_reason_to_measure_again():
    rates = {**WIDE_NET, (2, True): 140.0}  # a light neighbour: 150 -> 140 steps/s
    m, chooser, t = setup(rates)
    m.train(t, 10.0)
    m.busy = True
    m.train(t, 60.0)
    assert len(chooser.history) == 1 and chooser.threads == 2


def test_equal_speeds_with_noise_never_flap():
    rates = {(1, False): 100.0, (2, False): 102.0, (1, True): 100.0, (2, True): 102.0}  # within the 5 % margin
    m, chooser, t = setup(rates, noise=0.3, seed=3)
    m.train(t, 600.0)
    assert len({d.threads for d in chooser.history}) == 1
    assert chooser.threads == chooser.history[0].threads
    assert m.switches.count(2) <= 2 * len(chooser.history)  # only trials switch


def test_trials_stay_within_the_budget_when_the_load_keeps_changing():
    m, chooser, t = setup(WIDE_NET)
    for i in range(200):  # a neighbour that comes and goes every 3 seconds
        m.busy = i % 2 == 1
        m.train(t, 3.0)
    assert len(chooser.history) > 2  # it does re-check...
    assert chooser.trial_seconds <= chooser.budget * chooser.total_seconds + 1.0  # ...at a bounded cost


@pytest.mark.parametrize(
    ("width", "threads", "cpus", "expected"), [(32, None, 2, 1), (512, None, 1, 1), (512, 2, 2, 2)]
)
def test_tiny_nets_one_cpu_and_a_pinned_count_take_no_trial(width, threads, cpus, expected):
    m, chooser, t = setup(WIDE_NET, width=width, threads=threads, cpus=cpus)
    assert not chooser.measuring
    m.busy = True  # even when the pinned count is the slow one
    m.train(t, 30.0)
    assert chooser.threads == expected == m.threads and not chooser.history


def test_a_rebuild_starts_a_new_trial():
    m, chooser, t = setup(WIDE_NET)
    m.train(t, 5.0)
    chooser.rebuilt(64)  # now too narrow: one thread, no trial
    assert chooser.threads == 1 and not chooser.measuring
    chooser.rebuilt(512)
    assert chooser.measuring


def test_a_step_that_does_nothing_is_not_timed():
    m, chooser, t = setup(WIDE_NET)
    inner = FakeTrainer(m)
    inner.step = lambda measure=False: False  # a diverged trainer: step() returns False at once
    before = chooser.total_seconds
    assert chooser.step(inner) is False
    assert chooser.total_seconds == before


# --- --threads -----------------------------------------------------------------------------------------------------


def test_parse_threads():
    assert parse_threads("auto") is None and parse_threads("AUTO") is None
    assert parse_threads("1") == 1
    assert parse_threads(str(cpu_count())) == cpu_count()
    for bad in ("0", "-1", str(cpu_count() + 1), "two", "1.5"):
        with pytest.raises(Exception, match="auto"):
            parse_threads(bad)


@pytest.mark.parametrize("command", [[], ["run"], ["compare", "relu", "tanh"]])
def test_threads_flag_on_every_training_command(command):
    parser = cli.build_parser()
    ns = parser.parse_args([*command, "--threads", "1"]) if command else parser.parse_args(["--threads", "1"])
    assert ns.threads == 1
    assert parser.parse_args([*command, "--threads", "auto"]).threads is None
    assert not hasattr(parser.parse_args(command), "threads")  # not given: auto (the config does not see it)
    assert "threads" not in cli.config_from_args(ns).to_dict()


def test_a_bad_threads_value_is_one_line_and_status_2(capsys):
    assert cli.main(["run", "--threads", "0", "--steps", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gradtui: error:") and "--threads" in err and err.count("\n") == 1


def test_run_with_pinned_threads_trains(capsys):
    assert cli.main(["run", "--threads", "1", "--steps", "20", "--every", "10", "--depth", "2", "--width", "8"]) == 0
    assert "step 20" in capsys.readouterr().out
