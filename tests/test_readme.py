"""The README tells the truth about the app: its key tables are the key table the screens bind (gradtui.tui.keys),
its quick-start and test commands are the ones CI runs, and every panel it names exists."""

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
