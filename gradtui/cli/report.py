"""What the headless commands print: the per-entry table of a snapshot, its figures in one line, and the doctor's
alerts. Rich only (no Textual); numbers by gradtui.fmt, like the dashboard's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..doctor import Alert
from ..engine import Snapshot
from ..fmt import count, num, pct, safe_text, sci

__all__ = [
    "HeadlessConsole", "compare_table", "console_for", "figures", "gate_table", "layer_table", "param_table",
    "print_alerts", "ratio_line", "report", "run_name",
]  # fmt: skip

RUN_NAMES = "ABCD"
MAX_STEP_ROWS = 20  # a recurrent run's table shows at most this many time steps (the first and the last among them)


def run_name(s: Snapshot) -> str:
    """What tells twins apart: the MLP's activation; a recurrent run's cell (the vanilla RNN's with its
    activation, when not tanh); the model for a source without settings."""
    c = s.config
    if c is None:
        return s.meta.model
    if not c.recurrent:
        return c.activation
    return f"rnn {c.activation}" if c.model == "rnn" and c.activation != "tanh" else c.model


def spread(n: int, k: int) -> list[int]:
    """At most ``k`` of n indices, evenly spaced, the first and the last among them."""
    if n <= k:
        return list(range(n))
    return sorted({round(i * (n - 1) / (k - 1)) for i in range(k)})


LEVEL_STYLE = {"error": "bold red", "warning": "yellow", "info": "green"}


class HeadlessConsole(Console):
    """Rich's Console, but a reader that has gone (``gradtui run | head``) stays a BrokenPipeError for
    ``gradtui.cli.main`` to end on (exit status 141), instead of Rich's SystemExit(1), which reads as a divergence."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(32, "Broken pipe")


def console_for(out: IO[str]) -> Console:
    console = HeadlessConsole(file=out, highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 120)
    return console


def layer_table(s: Snapshot, width: int) -> Table:
    """The per-entry figures; one space between columns below 100 columns, so that it fits 80."""
    if s.axis == "time":
        return step_table(s, width)
    word = {"layer": "layer", "time": "step", "module": "module"}[s.axis]
    table = Table(
        box=box.SIMPLE_HEAD,
        title=f"step {count(s.step)}: {safe_text(s.summary, 200)}",
        title_justify="left",
        padding=(0, 1) if width >= 100 else (0, 0),
        pad_edge=False,
        caption="grad W, grad b: gradient norms of the last step; signal: |dL/dh|/sqrt(N) reaching the "
        f"{word}; ΔW/W: update ratio; dead: units with f' = 0 on every probe example; sat: f' < 5% of its max; "
        "mean, std: of the activations",
        caption_justify="left",
    )
    for name in (word, "units", "grad W", "grad b", "signal", "ΔW/W", "dead", "sat", "mean", "std"):
        table.add_column(name, justify="right", no_wrap=True)
    for e in s.entries:
        table.add_row(
            safe_text(e.name, 40),
            str(e.units),
            sci(e.grad_norm),
            sci(e.bias_grad_norm),
            sci(e.signal_norm),
            sci(e.update_ratio),
            "—" if e.dead is None else f"{e.dead_count} ({pct(e.dead_fraction)})" if e.dead_count else "0",
            pct(e.saturation),
            num(e.mean),
            num(e.std),
        )
    return table


def step_table(s: Snapshot, width: int) -> Table:
    """A recurrent run's figures per time step (at most MAX_STEP_ROWS of them)."""
    rows = spread(len(s.entries), MAX_STEP_ROWS)
    lstm = any(e.cell_norm == e.cell_norm for e in s.entries)
    can_die = any(e.dead is not None for e in s.entries)
    shown = f" ({len(rows)} of {len(s.entries)} steps)" if len(rows) < len(s.entries) else ""
    title = f"step {count(s.step)}: {safe_text(s.summary, 200)}{shown}"
    table = Table(
        box=box.SIMPLE_HEAD,
        title=title,
        title_justify="left",
        min_width=min(len(title), width),  # the title on one line, where it fits
        padding=(0, 1) if width >= 100 else (0, 0),
        pad_edge=False,
        caption="signal: |dL/dh_t|/sqrt(N), the gradient reaching time step t in the last step"
        + ("; |c_t|: the cell state's norm /sqrt(N)" if lstm else "")
        + "; sat: share of h_t in its activation's flat tails; mean, std: of h_t over the probe set"
        + ("; dead: units with f' = 0 at that step for every probe sequence" if can_die else ""),
        caption_justify="left",
    )
    columns = ["t", "signal", *(["|c_t|"] if lstm else []), "sat", "mean", "std", *(["dead"] if can_die else [])]
    for name in columns:
        table.add_column(name, justify="right", no_wrap=True)
    for i in rows:
        e = s.entries[i]
        row = [str(e.index), sci(e.signal_norm), *([sci(e.cell_norm)] if lstm else []), pct(e.saturation),
               num(e.mean), num(e.std)]  # fmt: skip
        if can_die:
            row.append("—" if e.dead is None else f"{e.dead_count} ({pct(e.dead_fraction)})" if e.dead_count else "0")
        table.add_row(*row)
    return table


def param_table(s: Snapshot) -> Table:
    """Per parameter array of the measured step: its gradient norm and update ratio."""
    title = "parameters (shared by every time step)"
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False, min_width=len(title))
    for name in ("parameter", "grad", "ΔW/W"):
        table.add_column(name, justify="right", no_wrap=True)
    for p in s.params:
        table.add_row(safe_text(p.name, 40), sci(p.grad_norm), sci(p.update_ratio))
    return table


def gate_table(s: Snapshot) -> Table:
    """Per gate over the probe set: its mean, and the shares saturated shut and open."""
    title = "gates (probe set, every step)"
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False, min_width=len(title))
    for name in ("gate", "mean", "< 0.05", "> 0.95", "first → last step"):
        table.add_column(name, justify="right", no_wrap=True)
    for g in s.gates:
        trend = f"{num(g.steps[0], 2)} → {num(g.steps[-1], 2)}" if g.steps is not None and len(g.steps) else "—"
        table.add_row(safe_text(g.name, 30), num(g.mean), pct(g.low), pct(g.high), trend)
    return table


def figures(s: Snapshot) -> str:
    parts = [f"step {count(s.step)}", f"loss {num(s.loss)}"]
    if s.accuracy is not None:
        parts.append(f"accuracy {pct(s.accuracy)}")
    parts.append(f"test loss {num(s.test_loss)}")
    if s.test_accuracy is not None:
        parts.append(f"test accuracy {pct(s.test_accuracy)}")
    if s.baseline_loss == s.baseline_loss:
        parts.append(f"baseline {num(s.baseline_loss)}")
    parts.append(f"{'through-time' if s.axis == 'time' else 'vanishing'} ratio {sci(s.vanishing_ratio)}")
    if s.steps_per_sec == s.steps_per_sec:
        parts.append(f"{count(s.steps_per_sec)} steps/s")
    return "  ".join(parts)


def print_alerts(console: Console, alerts: Sequence[Alert], prefix: str = "diagnosis: ") -> None:
    for a in alerts:
        console.print(Text(prefix) + Text(safe_text(a.text), LEVEL_STYLE.get(a.level, "")), soft_wrap=True)


def report(out: IO[str], s: Snapshot, alerts: Sequence[Alert], *, interrupted: bool) -> None:
    console = console_for(out)
    console.print(layer_table(s, console.width))
    if s.params:
        console.print(param_table(s))
    if s.gates:
        console.print(gate_table(s))
    console.print(figures(s), markup=False, soft_wrap=True)
    if s.diverged is not None:
        console.print(
            Text(f"DIVERGED: the run stopped at step {count(s.diverged.step)} ({s.diverged.what} went NaN/Inf)",
                 "bold red"),
            soft_wrap=True,
        )  # fmt: skip
    if interrupted:
        console.print(Text(f"interrupted at step {count(s.step)}", "yellow"), soft_wrap=True)
    print_alerts(console, alerts)


def compare_table(snaps: Sequence[Snapshot], width: int) -> Table:
    time_axis = all(s.axis == "time" for s in snaps)
    word, flow = ("t", "signal") if time_axis else ("layer", "grad W")
    table = Table(box=box.SIMPLE_HEAD, padding=(0, 1) if width >= 100 else (0, 0), pad_edge=False,
                  title=f"step {count(snaps[0].step)}", title_justify="left")  # fmt: skip
    table.add_column(word, justify="right")
    for i, s in enumerate(snaps):
        name = run_name(s)
        for col in (flow, "dead", "sat"):
            table.add_column(f"{RUN_NAMES[i]}:{name} {col}" if col == flow else col, justify="right", no_wrap=True)
    depth = min(len(s.entries) for s in snaps)
    for li in spread(depth, MAX_STEP_ROWS) if time_axis else range(depth):
        row = [safe_text(snaps[0].entries[li].name.removeprefix("t="), 40)]
        for s in snaps:
            e = s.entries[li]
            row += [sci(s.flow(e)), "—" if e.dead is None else str(e.dead_count), pct(e.saturation)]
        table.add_row(*row)
    return table


def ratio_line(snaps: Sequence[Snapshot]) -> str:
    """ "L1: relu gets 4.1e4× the gradient of sigmoid" for the runs with the most and least gradient (a recurrent
    run: "t=1: lstm gets 2.3e5× the gradient of rnn", the gradient reaching time step 1)."""
    g: list[tuple[float, str]] = []
    for s in snaps:
        if s.entries:
            f = s.flow(s.entries[0])
            name = run_name(s)
            if f == f and f > 0 and f != float("inf"):
                g.append((f, name))
    word = "time step 1" if snaps and snaps[0].axis == "time" else "layer 1"
    if len(g) < 2:
        return f"{word}: no gradient to compare"
    (hi, a), (lo, b) = max(g), min(g)
    return f"{snaps[0].entries[0].name}: {a} gets {sci(hi / lo)}× the gradient of {b}"
