"""Every key of every mode, in one table: the screens' bindings, the key bar, the help screen and the README's key
table are all made from (or checked against) it.

Each ``Key`` has its Textual key names, its action, a short label for the key bar, the help text, when it applies
("rebuild", "live", "view", ...), and its place in the key bar (lower ``bar`` = more important; 0: always shown;
None: not in the bar).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

__all__ = [
    "COMMON",
    "COMPARE",
    "KEYS",
    "LIVE",
    "Key",
    "REPLAY",
    "bindings",
    "every_key",
    "help_table",
    "readme_table",
    "readme_tables",
]


@dataclass(frozen=True)
class Key:
    keys: str  # Textual key names, comma-separated ("plus,equals_sign")
    action: str
    label: str  # short, for the key bar
    help: str  # what it does, for the help screen and the README
    applies: str = ""  # "rebuild": rebuilds from the seed; "live": applied at once; "" for view keys
    bar: int | None = None  # place in the key bar (0: always shown); None: not in it
    display: str | None = None  # how the key is written ("+", "↑/↓"); default: the first key name
    needs: str = ""  # the source's capability it needs: "seek" (set here); "change" and "fork" follow (``need``)

    @property
    def shown(self) -> str:
        return self.display or self.keys.split(",")[0]

    @property
    def name(self) -> str:
        """The action's method name (``depth`` for ``depth(1)``)."""
        return self.action.split("(")[0]

    @property
    def need(self) -> str:
        """The capability of the source this key needs to do anything: "change" (a key that changes the run, or
        pauses or steps it), "fork" (twins), "seek" (a cursor), or "" (a view key, every source)."""
        if self.needs:
            return self.needs
        if self.name in FORK_ACTIONS:
            return "fork"
        return "change" if self.applies in ("rebuild", "live") else ""


FORK_ACTIONS = ("fork", "fix", "unfork", "target")  # twins: the source must be able to fork


# keys every mode has
COMMON = [
    Key("question_mark", "help", "help", "help: every panel, metric and key in plain words", bar=0, display="?"),
    Key("q,ctrl+c", "quit", "quit", "quit (as ctrl+c)", bar=0, display="q"),
    Key(
        "up", "select(1)", "layer ↑", "select the layer above (the next time step with histograms, module)", display="↑"
    ),  # fmt: skip
    Key("down", "select(-1)", "layer ↓", "select the layer below", display="↓"),
    Key("slash", "find", "find", "select by name: type part of one (L3, layers.41, t=57), Enter selects", display="/"),
    Key("pageup", "page(1)", "page ↑", "when not every row fits: the window of rows a page up", display="PgUp"),
    Key("pagedown", "page(-1)", "page ↓", "the window of rows a page down", display="PgDn"),
    *[Key(str(k), f"view({k - 1})", f"view {k}", "", display=str(k)) for k in range(1, 7)],
    Key("s", "save_svg", "screenshot", "save an SVG screenshot (gradtui-stepN.svg)"),
    Key("ctrl+p", "command_palette", "commands", "command palette: every action that applies now, searchable"),
]

LIVE = [
    Key(
        "m",
        "model(1)",
        "model",
        "next model: MLP → vanilla RNN → LSTM → GRU → MLP (a cell trains on a sequence task)",
        "rebuild",
        bar=3,
    ),  # fmt: skip
    Key("M", "model(-1)", "prev model", "previous model", "rebuild"),
    Key("a", "activation(1)", "activation", "next activation", "rebuild", bar=1),
    Key("A", "activation(-1)", "prev act.", "previous activation", "rebuild"),
    Key("p", "pick", "pick act.", "pick an activation from the list (with formulas)", "rebuild"),
    Key(
        "plus,equals_sign",
        "depth(1)",
        "deeper",
        "deeper (1, 2, 3, … 10, 12, 15, 20, 25, 30, 40, 50, … 100)",
        "rebuild",
        bar=5,
        display="+",
    ),  # fmt: skip
    Key("minus", "depth(-1)", "shallower", "shallower", "rebuild", bar=6, display="-"),
    Key("right_square_bracket", "width(1)", "wider", "wider (×2, up to 1024)", "rebuild", bar=9, display="]"),
    Key("left_square_bracket", "width(-1)", "narrower", "narrower (÷2, down to 1)", "rebuild", bar=10, display="["),
    Key(
        "i",
        "init(1)",
        "init",
        "next initialiser (he, he_uniform, xavier, xavier_uniform, lecun, orthogonal, normal:1.0, normal:0.01; a "
        "recurrent model: of its recurrent weights, orthogonal, identity, xavier_uniform, normal:1.0, normal:0.01)",
        "rebuild",
        bar=2,
    ),  # fmt: skip
    Key("I", "init(-1)", "prev init", "previous initialiser", "rebuild"),
    Key("b", "toggle('batchnorm')", "batchnorm", "batch norm on/off (MLP)", "rebuild", bar=3),
    Key("r", "toggle('residual')", "residual", "residual connections on/off (MLP)", "rebuild", bar=4),
    Key(
        "d",
        "dataset(1)",
        "dataset",
        "next dataset (a recurrent model: next task: adding, order, copy)",
        "rebuild",
        bar=11,
    ),  # fmt: skip
    Key("D", "dataset(-1)", "prev data", "previous dataset (task)", "rebuild"),
    Key(
        "right_curly_bracket",
        "seq_len(1)",
        "T longer",
        "recurrent: longer sequences (T = 10, 20, 30, 40, 50, 100, 200, 300, 500, 1000)",
        "rebuild",
        bar=5,
        display="}",
    ),  # fmt: skip
    Key(
        "left_curly_bracket", "seq_len(-1)", "T shorter", "recurrent: shorter sequences", "rebuild", bar=6, display="{"
    ),  # fmt: skip
    Key("g", "forget_bias", "forget bias", "LSTM: forget-gate bias 1 / 0", "rebuild", bar=4),
    Key("c", "clip", "clip", "gradient clipping at norm 1 on/off", "live", bar=9),
    Key("o", "optimizer", "optimizer", "next optimiser (sgd, momentum, adam)", "live", bar=12),
    Key("l", "lr(1)", "lr ↑", "learning rate up (1-2-5 steps)", "live", bar=7),
    Key("L", "lr(-1)", "lr ↓", "learning rate down", "live", bar=8),
    Key("space", "pause", "pause", "pause / resume", "live", bar=1),
    Key("n", "step", "step", "one training step (pauses first)", "live"),
    Key(
        "greater_than_sign",
        "speed(1)",
        "faster",
        "faster: raise the steps/s cap (no cap at the top)",
        "live",
        bar=14,
        display=">",
    ),  # fmt: skip
    Key(
        "less_than_sign",
        "speed(-1)",
        "slower",
        "slower: cap training at fewer steps/s, to watch it happen",
        "live",
        bar=13,
        display="<",
    ),  # fmt: skip
    Key(
        "ctrl+r",
        "reset",
        "reset",
        "reset: rebuild from the seed (after the trainer stopped: start a new one)",
        "rebuild",
    ),  # fmt: skip
    Key("x", "fix", "try fix", "try the doctor's suggested fix in a twin, side by side with this run", "", bar=2),
    Key("f", "fork", "fork", "fork the run into a twin (compare side by side)", "", bar=15),
    Key("R", "record", "record", "start / stop recording to gradtui-stepN.jsonl (gradtui replay FILE)"),
]

COMPARE = [
    *[k for k in LIVE if k.action not in ("fix", "record")],
    Key("t", "target", "next twin", "which twin the keys change", "", bar=1),
    Key("P", "pause_all", "pause all", "pause / resume every twin (space: the selected one)", "live", bar=2),
    Key("F", "unfork", "unfork", "back to one run (the selected twin)", "", bar=3),
    Key("R", "record", "record", "start / stop recording every twin to one file (gradtui replay FILE --run B)"),
]

REPLAY = [
    Key("space", "play", "play", "play / pause", bar=1, needs="seek"),
    Key("right", "seek(1)", "step →", "one snapshot forward", bar=2, display="→", needs="seek"),
    Key("left", "seek(-1)", "← step", "one snapshot back", bar=3, display="←", needs="seek"),
    Key("home", "seek_to(0)", "start", "to the first snapshot", bar=6, display="Home", needs="seek"),
    Key(
        "end",
        "seek_to(-1)",
        "end",
        "to the last snapshot (watch: follow the newest)",
        bar=4,
        display="End",
        needs="seek",
    ),
    Key("e", "event(1)", "next event", "to the next event (a change, a reset, a divergence)", bar=5, needs="seek"),
    Key("E", "event(-1)", "prev event", "to the previous event", needs="seek"),
    Key("greater_than_sign", "play_speed(1)", "faster", "play faster", bar=7, display=">", needs="seek"),
    Key("less_than_sign", "play_speed(-1)", "slower", "play slower", bar=8, display="<", needs="seek"),
]

KEYS = {"live": LIVE, "compare": COMPARE, "replay": REPLAY}


def bindings(keys: list[Key], *, common: bool = True) -> list[Binding]:
    """Textual bindings for ``keys`` (and the common keys). The key bar is gradtui's own (KeyBar), so no binding
    is shown by Textual's footer."""
    out = []
    for k in [*keys, *(COMMON if common else [])]:
        out.append(Binding(k.keys, k.action, k.label, show=False, key_display=k.display, tooltip=k.help))
    return out


def every_key() -> list[Key]:
    """The app's key table: every key of every mode (a key name once, in its first mode's meaning)."""
    out, seen = [], set()
    for k in [*LIVE, *COMPARE, *REPLAY]:
        names = tuple(n for n in k.keys.split(",") if n not in seen)
        if names:
            out.append(k)
            seen |= set(names)
    return out


def action_needs() -> dict[str, str]:
    """Each key action's method name -> the capability it needs (see ``Key.need``)."""
    return {k.name: k.need for k in [*LIVE, *COMPARE, *REPLAY, *COMMON]}


def unavailable(have: list[Key]) -> list[Binding]:
    """Bindings for the keys of the app's key table that are not in ``have`` (a mode's own keys): each runs the
    screen's ``why_not`` with the key's action, which says in words why it does nothing in this mode -- no key
    does nothing silently."""
    taken = {name for k in have for name in k.keys.split(",")} | {n for k in COMMON for n in k.keys.split(",")}
    out = []
    for k in [*LIVE, *COMPARE, *REPLAY]:
        names = [n for n in k.keys.split(",") if n not in taken]
        if names:
            out.append(Binding(",".join(names), f"why_not({k.action!r})", k.label, show=False))
            taken |= set(names)
    return out


def help_table(keys: list[Key]) -> str:
    """The help screen's key table (Markdown) for one mode."""
    rows = ["| key | does |", "|---|---|"]
    seen = set()
    for k in [*keys, *COMMON]:
        if k.action.startswith("view(") or k.action.startswith("select("):
            continue
        if (k.shown, k.help) in seen:
            continue
        seen.add((k.shown, k.help))
        rows.append(f"| `{_md(k.shown)}` | {k.help} |")
    rows.append("| `↑` / `↓` | select a layer (a time step, a module) |")
    rows.append("| `1`–`6` | one panel large (in a small terminal: which panel); again: all panels |")
    return "\n".join(rows)


def readme_table(keys: list[Key], *, applied: bool = True) -> str:
    """The README's key table for ``keys`` (Markdown): a test checks the README holds exactly this, so the README,
    the help screen and the bindings cannot drift apart. ``python -m gradtui.tui.keys`` prints every table."""
    rows = ["| key | does |" + (" applied |" if applied else ""), "|---|---|" + ("---|" if applied else "")]
    for k in keys:
        if k.action.startswith(("view(", "select(")):
            continue
        rows.append(f"| `{_md(k.shown)}` | {k.help} |" + (f" {k.applies or '—'} |" if applied else ""))
    return "\n".join(rows)


def readme_tables() -> dict[str, str]:
    """Every key table the README has, by the mode it documents."""
    compare_only = [k for k in COMPARE if k not in LIVE]
    return {
        "live": readme_table(LIVE),
        "compare": readme_table(compare_only),
        "replay": readme_table(REPLAY, applied=False),
        "common": readme_table(COMMON, applied=False),
    }


def _md(text: str) -> str:
    """A key's text in a Markdown table cell (``|`` escaped)."""
    return text.replace("|", "\\|")


if __name__ == "__main__":  # python -m gradtui.tui.keys: the README's key tables
    for mode, table in readme_tables().items():
        print(f"<!-- keys: {mode} -->\n{table}\n")
