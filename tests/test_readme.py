"""The README tells the truth about the app: its key tables are the key table the screens bind (gradtui.tui.keys),
its quick-start and test commands are the ones CI runs, every panel it names is a panel of the dashboard (by the
titles the widgets draw), and every alert it quotes is one the doctor produces (tests/test_alert_fit.py's alerts:
the doctor's scenario table and hand-made windows)."""

from __future__ import annotations

import re
from pathlib import Path

from gradtui.tui.keys import COMMON, COMPARE, LIVE, REPLAY, readme_tables
from gradtui.tui.screens.compare import CompareScreen
from gradtui.tui.screens.live import LiveScreen
from gradtui.tui.screens.modals import help_markdown
from gradtui.tui.screens.replay import ReplayScreen

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_key_tables_are_the_bound_keys():
    for mode, table in readme_tables().items():
        assert f"<!-- keys: {mode} -->\n{table}\n" in README, f"the README's {mode} key table differs from keys.py"


def test_every_key_in_the_tables_is_bound_on_its_screen_and_in_its_help():
    for screen, keys in ((LiveScreen, LIVE), (CompareScreen, COMPARE), (ReplayScreen, REPLAY)):
        bound = {(b.key, b.action) for b in screen.BINDINGS}  # type: ignore[union-attr]
        for k in [*keys, *COMMON]:
            assert (k.keys, k.action) in bound, (screen.__name__, k.keys)
        mode = {LiveScreen: "live", CompareScreen: "compare", ReplayScreen: "replay"}[screen]
        help_ = help_markdown(mode)
        for k in keys:
            if not k.action.startswith(("view(", "select(")):
                assert k.help in help_, (mode, k.keys)


def test_the_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    block = re.search(r"Set up and run the tests.*?```bash\n(.*?)\n```", README, re.S)
    assert block, "the README has a test command"
    steps = [s.strip() for s in block.group(1).split("&&")]
    after_venv = [s for s in steps if not s.startswith(("python3 -m venv", ". .venv"))]
    for step in after_venv:
        assert step in ci, f"CI does not run the README's {step!r}"


def test_the_quick_start_is_one_command_that_starts_the_app():
    block = re.search(r"## Quick start.*?```bash\n(.*?)\n```", README, re.S)
    assert block
    assert block.group(1).count("\n") == 0 and block.group(1).rstrip().endswith("gradtui")


def test_the_readme_holds_the_recording_format_and_the_alerts_as_the_docs_state_them():
    # docs/schema.md (whose tables test_record checks against the writer) and docs/alerts.md (checked against the
    # doctor's rules) are included in the README word for word, so the three cannot drift apart
    schema = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8").strip()
    assert schema in README
    alerts = (ROOT / "docs" / "alerts.md").read_text(encoding="utf-8").strip()
    body = alerts.split("\n", 1)[1]  # the README gives it a heading of its own level
    assert "### What the alerts mean\n" + body in README


# ---- the panels ------------------------------------------------------------------------------------------------------
def _panel_table(heading_row: str) -> list[str]:
    """The bold names in the first column of the README's table that starts with ``heading_row``."""
    block = README.split(heading_row + "\n", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\| \*\*(.+?)\*\*", block, re.M)


async def test_the_readme_panels_are_the_dashboards_panel_titles():
    """Both panel tables (an MLP's, and a recurrent run's "through time") against the titles the panels of the real
    dashboard draw for such a snapshot (any of a title's forms, longest to shortest), and the other way round."""
    from conftest import make_snapshot
    from test_doctor import time_snapshot
    from uitest import fake_app

    from gradtui.tui.history import History
    from gradtui.tui.widgets.base import Panel, PanelView
    from gradtui.tui.widgets.boundary import BoundaryPanel
    from gradtui.tui.widgets.gates import GatesPanel
    from gradtui.tui.widgets.status import AlertsLine, StatusBar

    async with fake_app(size=(120, 40), snap=make_snapshot()) as (app, pilot, _):
        panels = list(app.dashboard.query(Panel))
        shown = [p for p in panels if p.display and p.region.area]
        mlp = [p.titles() for p in shown]
        assert GatesPanel not in {type(p) for p in shown} and len(mlp) == 7
        assert app.dashboard.query_one(StatusBar) and app.dashboard.query_one(AlertsLine)
        await pilot.press("q")
    time = []
    for p in panels:  # the same widgets on a recurrent run's snapshot: the gates panel takes the boundary's place
        if isinstance(p, BoundaryPanel):
            continue
        p.view = PanelView(time_snapshot(0.5, model="lstm"), History())
        time.append(p.titles())
    assert len(time) == 7
    chrome = {"Status line", "Alerts"}
    for names, titles, what in (
        (_panel_table("| panel | what it shows |"), mlp, "panels"),
        (_panel_table("| panel | through time |"), time, "panels through time"),
    ):
        named = [n.split(" (")[0] for n in names if n not in chrome]
        for n in named:
            assert any(n in forms for forms in titles), f"the README's {what} name {n!r}: no panel has that title"
        for forms in titles:
            assert any(f in named for f in forms), f"the panel titled {forms[0]!r} is not in the README's {what}"
    assert chrome <= set(_panel_table("| panel | what it shows |"))


# ---- the alerts ------------------------------------------------------------------------------------------------------
NUMBER = r"-?\d[\d,]*(?:\.\d+)?(?:e-?\d+)?"


def alert_quotes() -> list[str]:
    """The alert texts the README quotes: the italic quotes (*"..."*) of its paragraphs and table rows about the
    doctor and the alerts, and the plain quotes of docs/alerts.md's section (included in the README)."""
    quotes = []
    for para in re.split(r"\n\s*\n|\n(?=\|)", README):
        if "doctor" in para or para.startswith("| **Alerts**"):
            quotes += re.findall(r'\*"(.+?)"\*', para, re.S)
    section = README.split("### What the alerts mean\n", 1)[1].split("\n## ", 1)[0]
    quotes += re.findall(r'(?<![*\w])"([^"*`]{6,}?)"(?![*\w])', section)
    return list(dict.fromkeys(" ".join(q.split()) for q in quotes))


def quote_pattern(quote: str) -> re.Pattern[str]:
    """A quote as a pattern: its numbers any number (the README's are examples), an ellipsis any text."""
    out = ""
    for part in re.split(r"(\s*…\s*|" + NUMBER + ")", quote):
        if part.strip() == "…":
            out += ".*?"
        elif re.fullmatch(NUMBER, part or "x"):
            out += NUMBER
        else:
            out += re.escape(part)
    return re.compile(out)


def test_every_alert_the_readme_quotes_is_one_the_doctor_produces():
    from test_alert_fit import doctor_texts

    texts = doctor_texts()
    quotes = alert_quotes()
    assert len(quotes) >= 10 and any(q.startswith("vanishing: layer 1 gets") for q in quotes), quotes
    for q in quotes:
        pattern = quote_pattern(q)
        assert any(pattern.search(t) for t in texts), f"the README quotes an alert the doctor never says: {q!r}"
    assert not quote_pattern("vanishing: layer 1 gets 2.0e-6 of layer 10's gradient signal — try He init").search(
        "\n".join(texts)
    )  # the check can fail: a fix the doctor does not give for that cause
