"""gradtui and its dashboard never import torch; gradtui.probe loads on first use, and says what to install when
torch is missing."""

from __future__ import annotations

import subprocess
import sys

DASHBOARD = [
    "gradtui", "gradtui.cli", "gradtui.cli.files", "gradtui.record", "gradtui.replay", "gradtui.doctor",
    "gradtui.session", "gradtui.tui.app", "gradtui.tui.widgets.flow", "gradtui.tui.widgets.units",
    "gradtui.tui.widgets.activations", "gradtui.tui.screens.replay",
]  # fmt: skip


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_importing_gradtui_and_the_dashboard_does_not_import_torch():
    imports = "; ".join(f"import {m}" for m in DASHBOARD)
    r = _run(f"import sys; {imports}; print('torch' in sys.modules)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_gradtui_probe_without_torch_names_the_extra():
    r = _run("import sys; sys.modules['torch'] = None\nimport gradtui\ntry:\n    gradtui.probe\n"
             "except ImportError as e:\n    print(e)")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "pip install 'gradtui[torch]'" in r.stdout
