"""Text from a file never reaches the terminal raw (issue 10): a recording with escape sequences, bidi overrides,
NUL and lone surrogates in every text field, replayed in the real dashboard and exported to CSV."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from conftest import make_snapshot
from uitest import painted, ready

from gradtui.engine import Divergence, Event, GateStats, RunMeta, Snapshot
from gradtui.export import export_csv
from gradtui.record import Recorder, Recording, load_recording
from gradtui.replay import RecordingSource
from gradtui.tui.app import GradTUI

# an OSC that sets the terminal's title, a CSI that clears it, a C1 CSI, bidi overrides and isolates, NUL, a lone
# surrogate, a line separator
EVIL = "\x1b]0;pwned\x07\x1b[2J\x9b31m\u202e\u2066\x00\ud800\u2028"
BAD = set(EVIL) - set("]0;pwned[2J31m")
assert set("\x1b\x07\x9b\u202e\u2066\x00\ud800\u2028") == BAD


def hostile(n: str) -> str:
    return f"{n}{EVIL}"


def hostile_snapshots() -> list[Snapshot]:
    """Every text field a recording carries to the screen, hostile: entry names and kinds, the activation's name,
    label and formula, the run tag, the run's meta (the status line shows its summary when there is no config),
    event kinds and texts, the divergence's words, gate names."""
    base = make_snapshot(depth=3, width=8)
    act = dataclasses.replace(base.entries[0].act, name=hostile("act"), label=hostile("lab"), formula=hostile("f"))
    entries = tuple(dataclasses.replace(e, name=hostile(f"n{e.index}"), kind=hostile("k"), act=act)
                    for e in base.entries)  # fmt: skip
    meta = RunMeta(model=hostile("model"), summary=hostile("summary"), optimizer=hostile("opt"), lr=0.1)
    events = (Event(1, 0, hostile("start"), hostile("text")), Event(2, 150, "change", hostile("change")))
    gates = (GateStats(hostile("gate"), 0.5, 0.1, 0.1),)
    common = dict(config=None, source="probe", meta=meta, entries=entries, run=hostile("run"), gates=gates,
                  paused=False)  # fmt: skip
    out = []
    for k, step in enumerate((100, 150, 200, 250)):
        out.append(base.replace(**common, step=step, run_step=step, probe_step=step, test_step=step, seq=k + 1,
                                loss=1.0 / (k + 1), events=events[: 1 + (step >= 150)]))  # fmt: skip
    div = Divergence(250, 2, hostile("what"), hostile("message"), hostile("name"))
    out[-1] = out[-1].replace(diverged=div)
    return out


def write(path: Path) -> Path:
    with Recorder(path) as rec:
        for s in hostile_snapshots():
            rec.write(s)
    return path


def screen_text(app: GradTUI) -> str:
    """Everything painted: every widget's lines (their borders and titles too), and the app's title."""
    parts = [app.title, app.sub_title]
    for w in app.screen.query("*"):
        if w.region.width and w.region.height:
            parts.append(painted(w))
    return "\n".join(parts)


async def test_hostile_text_in_a_recording_never_reaches_the_screen(tmp_path):
    path = write(tmp_path / "evil.jsonl")
    app = GradTUI(RecordingSource(Recording(path)), fps=50, color="truecolor")
    seen = []
    async with app.run_test(size=(160, 50)) as pilot:
        await ready(pilot)
        await asyncio.wait_for(app.wait_for_snapshot(), 20)
        for keys in [(), ("end",), ("1",), ("2",), ("3",), ("4",), ("5",), ("6",), ("6", "home"), ("down", "down")]:
            await pilot.press(*keys)
            await pilot.pause()
            seen.append(screen_text(app))
        await pilot.press("question_mark")
        await pilot.pause()
        seen.append(screen_text(app))
    assert app.return_code in (None, 0) and getattr(app, "crash_log", None) is None
    text = "\n".join(seen)
    assert not BAD & set(text), sorted(repr(c) for c in BAD & set(text))
    # the fields did reach the screen, made safe (so the assertion above is about them)
    for shown in ("n1?]0;pwned", "summary?]0;pwned", "what?]0;pwned"):
        assert shown in text, shown


def test_hostile_text_in_a_recording_never_reaches_the_csv(tmp_path):
    snaps, _ = load_recording(write(tmp_path / "evil.jsonl"))
    paths = export_csv(snaps, tmp_path / "out")
    text = "".join(p.read_text(encoding="utf-8") for p in paths)
    assert not BAD & set(text), sorted(repr(c) for c in BAD & set(text))
    for shown in ("n1?]0;pwned", "text?]0;pwned", "run?]0;pwned"):
        assert shown in text, shown
