"""Twins in lockstep: one training step of every active run per tick, so that runs that share a seed also share
the step counter (and the batch order) while all of them run. The dashboard's trainer loop and the headless
``gradtui compare`` both step their runs with ``step_together``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .trainer import BaseTrainer

__all__ = ["plain_step", "step_together"]


def plain_step(trainer: BaseTrainer, measure: bool) -> bool:
    return trainer.step(measure=measure)


def step_together(
    trainers: Sequence[BaseTrainer],
    active: Sequence[bool],
    measure: bool,
    step: Callable[[BaseTrainer, bool], bool] = plain_step,
) -> tuple[int, bool]:
    """One step of every trainer whose ``active`` is true (a diverged one stands still: ``step`` returns False).
    Returns (the steps taken, whether a run diverged on this tick). ``step(trainer, measure)`` takes the step
    (the BLAS thread chooser's ``ThreadChooser.step`` times it)."""
    stepped, diverged = 0, False
    for trainer, on in zip(trainers, active):
        if on:
            ok = step(trainer, measure)
            stepped += ok
            diverged |= not ok
    return stepped, diverged
