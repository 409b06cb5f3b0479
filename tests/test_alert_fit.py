"""The alerts line fits its sentences by rule (issue item 4): at every width from 60 to 220 columns, every alert the
doctor produces is shown in a form that fits, and no number is ever cut: each number on the line is a whole number
of the alert's full text.

The alerts: every row of the doctor's scenario table (real trainers, tests/test_doctor.py), a few more real runs, and
hand-made windows for what a trainer never leaves (a user's model with long module names, stale and unmeasured
figures, extreme magnitudes). ``doctor_texts`` is also what tests/test_readme.py checks the README's quotes against.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import replace

import numpy as np
from conftest import make_snapshot
from test_doctor import ROWS, module_snapshot, scenario, series, snap, time_snapshot, train
from threadpoolctl import threadpool_limits
from uitest import fake_app, rendered

from gradtui.doctor import Alert, Doctor, diagnose, diagnose_window
from gradtui.engine import Config, DeadUnits, Divergence
from gradtui.tui.widgets.status import ALERT_MARGIN, AlertsLine, fit_sentence

WIDTHS = range(60, 221)
# a number as the doctor writes it (gradtui.fmt): 12, -4, 0.0138, 2.0e-6, 1.8e3, 12,345, 58% (the % is not needed)
NUMBER = re.compile(r"(?<![\w.,])-?\d[\d,]*(?:\.\d+)?(?:e-?\d+)?(?![\w.])")
CUT = re.compile(r"(\d|e-|\d,|\d\.|\de)…")


def _long_module_snapshot(**kw):
    s = module_snapshot(**kw)
    names = ["encoder.layers.11.attention.self.query_key_value", "encoder.layers.11.mlp.act", "lm_head.decoder"]
    return replace(s, entries=tuple(replace(e, name=n) for e, n in zip(s.entries, names)))


@functools.cache
def doctor_alerts() -> tuple[Alert, ...]:
    """Every alert of the scenario table, and of the hand-made windows below."""
    out: list[Alert] = []
    with threadpool_limits(limits=1, user_api="blas"):
        for row in ROWS:
            out += scenario(row.id).alerts
        # an LSTM early on a long task (its cause names the forget gate); an RNN without clipping (the LSTM fix)
        out += train(Config.for_model("lstm", seq_len=100, probe_size=64), 150, 50).alerts
        out += train(Config.for_model("rnn", forget_bias=0.0, clip=0.0, seq_len=100, probe_size=64), 0, 50).alerts
    dead = [replace(e, dead=DeadUnits(np.arange(20), np.full(20, 50))) for e in module_snapshot().entries]
    hand = [
        *(diagnose(_long_module_snapshot(vanishing_ratio=v)) for v in (1e-9, 0.5, 1.5e9)),
        diagnose(module_snapshot(layers=tuple(dead))),
        diagnose(_long_module_snapshot(diverged=Divergence(12345, 2, "activations", "x", "encoder.layers.11.mlp.act"))),
        *(diagnose(time_snapshot(v)) for v in (1e-7, 0.5, 1e9)),
        *(diagnose(snap(vanishing_ratio=v)) for v in (2.2250738585072014e-308, 1.234e-3, 0.5, 987.6, 1.7e308)),
        diagnose(snap(vanishing_ratio=math.nan)),  # unmeasured
        diagnose(make_snapshot(step=1234567, run_step=0, grad_step=1234000, probe_step=1234000)),  # stale
        diagnose_window(
            series(
                [1.2 + 0.002 * (-1) ** i for i in range(6)],
                Config(lr=1e-5, depth=4, width=16),
                layer_overrides={i: {"update_ratio": 1e-7} for i in range(1, 5)},
            )
        ),  # fmt: skip
        Doctor().diagnose(),
        # a recurrent run flat at its task's baseline
        diagnose_window(
            [
                time_snapshot(0.5, step=50 * (i + 1), loss=1 / 6 + 5e-4 * (-1) ** i, baseline_loss=1 / 6)
                for i in range(6)
            ]
        ),  # fmt: skip
    ]
    for alerts in hand:
        out += alerts
    return tuple(out)


def doctor_texts() -> list[str]:
    """The full text of every alert in ``doctor_alerts``."""
    return [a.text for a in doctor_alerts()]


def check_line(shown: str, full: str, forms: tuple[str, ...], room: int) -> None:
    """``shown`` fits, is one of the forms or a form cut after a whole word, and cuts no number."""
    assert len(shown) <= room, (room, shown)
    assert not CUT.search(shown), (room, shown)
    whole = set(NUMBER.findall(" ".join(forms)))
    for n in NUMBER.findall(shown):
        assert n in whole, (room, n, shown, full)
    if shown not in forms:
        assert shown.endswith("…"), (room, shown)
        head = shown[:-1].rstrip()  # a form's start, cut where a space was (the dash, colon ... before it dropped)
        assert any(f.startswith(head) and f[len(head) : len(head) + 1] in tuple(" —–-;:,(") for f in forms), shown


def test_every_alert_fits_every_width_without_cutting_a_number():
    alerts = doctor_alerts()
    keys = {a.key for a in alerts}
    assert {"diverged", "exploding", "dead", "saturated", "gates", "vanishing", "too_fast", "slow", "stuck"} <= keys
    assert {"converged", "healthy", "stale", "unmeasured"} <= keys
    cut = 0
    for a in alerts:
        for width in WIDTHS:
            room = width - ALERT_MARGIN
            shown = fit_sentence(a.forms, room)
            check_line(shown, a.text, a.forms, room)
            cut += shown.endswith("…")
    # the short forms carry nearly every alert whole: a cut (after a word) is the rare last resort
    assert cut < len(alerts) * len(WIDTHS) // 50, cut


def test_every_form_keeps_the_numbers_of_the_full_text():
    for a in doctor_alerts():
        whole = NUMBER.findall(a.text)
        for form in a.forms:
            assert set(NUMBER.findall(form)) <= set(whole), (form, a.text)
            assert "\n" not in form


def test_the_last_resort_cuts_after_a_whole_word():
    text = "healthy: layer 1 gets 9.8e-1 of layer 10's gradient signal (1e-3 to 1e3 is healthy)"
    for room in range(2, len(text) + 5):
        shown = fit_sentence((text,), room)
        assert len(shown) <= room and not CUT.search(shown), shown
        for n in NUMBER.findall(shown):
            assert n in NUMBER.findall(text), shown
    assert fit_sentence((text,), 66) == "healthy: layer 1 gets 9.8e-1 of layer 10's gradient signal…"
    assert fit_sentence((text,), 70) == "healthy: layer 1 gets 9.8e-1 of layer 10's gradient signal…"  # no "(1e-3 to"
    assert fit_sentence(("a", "b"), 10) == "a" and fit_sentence((text, "short"), 10) == "short"


async def test_the_real_alerts_line_at_every_width():
    """The widget in the real app: every alert, two at a time, at widths from 60 to 220 columns."""
    alerts = list(doctor_alerts())
    pairs = [alerts[i : i + 2] for i in range(0, len(alerts), 2)]
    async with fake_app(size=(60, 24)) as (app, pilot, _):
        line = app.dashboard.query_one(AlertsLine)
        for width in range(60, 221, 8):
            await pilot.resize_terminal(width, 24)
            await pilot.pause()
            room = line.size.width - ALERT_MARGIN
            assert room >= width - ALERT_MARGIN - 2
            for pair in pairs:
                line.show(pair)
                text = rendered(line).splitlines()
                assert len(text) == len(pair)
                for drawn, a in zip(text, pair):
                    assert len(drawn) <= line.size.width, drawn
                    check_line(drawn[4:], a.text, a.forms, room)
