"""gradtui.fmt: one spelling per quantity. ``setting`` round-trips exactly with the fewest digits and a short
exponent; the other formatters' rules; no module outside fmt formats a number by hand (``:g``, ``:.1e``, ``%g``);
and one learning rate is spelled alike in the headless header, the dashboard's status line and the alert."""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import make_snapshot
from hypothesis import given
from hypothesis import strategies as st
from uitest import fake_app, rendered

from gradtui import cli, fmt
from gradtui.engine import Change, Config
from gradtui.engine.spelling import setting

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "gradtui"

finite = st.floats(allow_nan=False, allow_infinity=False)
finite32 = st.floats(allow_nan=False, allow_infinity=False, width=32)


def significant_digits(text: str) -> str:
    """The significant digits of a decimal spelling: '-0.00120e5' -> '12'."""
    mantissa = text.lstrip("-").split("e")[0].replace(".", "")
    return mantissa.lstrip("0").rstrip("0") or "0"


# ---- setting ------------------------------------------------------------------------------------------------------
@given(finite)
def test_setting_reads_back_as_the_same_float64_with_the_fewest_digits(x):
    text = setting(x)
    assert float(text) == x and math.copysign(1, float(text)) == math.copysign(1, x)
    # repr is Python's shortest round-trip spelling: no more digits than it needs
    assert significant_digits(text) == significant_digits(repr(x))


@given(finite32)
def test_setting_of_a_float32_reads_back_as_the_same_float32(x):
    v = np.float32(x)
    text = setting(v)
    assert np.float32(float(text)) == v
    # the float32's own shortest digits (NumPy's repr), not the float64 expansion (0.1f is 0.10000000149011612)
    assert significant_digits(text) == significant_digits(np.format_float_positional(v, unique=True, trim="-"))


@given(finite)
def test_setting_has_a_short_exponent_and_no_trailing_zeros(x):
    text = setting(x)
    assert "+" not in text and "e-0" not in text and "e0" not in text
    mantissa = text.split("e")[0]
    assert not mantissa.endswith("."), text
    if "." in mantissa:
        assert not mantissa.endswith("0"), text
    a = abs(x)
    positional = a == 0 or 1e-4 <= a < 1e6
    assert ("e" not in text) == positional, text


@pytest.mark.parametrize(
    "value, text",
    [
        (3e-7, "3e-7"), (0.1, "0.1"), (0.003, "0.003"), (1e-3, "0.001"), (1e-4, "0.0001"), (9.9e-5, "9.9e-5"),
        (2.0, "2"), (1.0, "1"), (0.5, "0.5"), (-1.5, "-1.5"), (250000.0, "250000"), (999999.0, "999999"),
        (1e6, "1e6"), (1.5e16, "1.5e16"), (2.0**-24, "5.960464477539063e-8"), (0.1234567, "0.1234567"), (7, "7"),
        (0.0, "0"),
        (math.inf, "inf"), (-math.inf, "-inf"), (math.nan, fmt.MISSING), (None, fmt.MISSING),
    ],
)  # fmt: skip
def test_setting_examples(value, text):
    assert setting(value) == text
    assert fmt.setting(value) == text  # fmt re-exports the engine's rule: one spelling


def test_config_summary_and_change_text_spell_settings_exactly():
    c = Config(lr=3e-7, clip=2.5)
    assert "sgd lr=3e-7 " in c.summary()
    assert "lr=1.2345e-7" in Config(lr=1.2345e-7).summary()  # :g said 1.2345e-07; num() would say 1.23e-7
    r = Config.for_model("lstm", lr=3e-7, clip=0.25, forget_bias=0.5)
    assert r.summary().endswith("adam lr=3e-7 clip 0.25") and "forget bias 0.5" in r.summary()
    assert Change("lr", 3e-7).describe(0.1) == "lr 0.1 -> 3e-7"


# ---- the other formatters -----------------------------------------------------------------------------------------
@given(st.floats(min_value=-1e300, max_value=1e300).filter(lambda x: x != 0))
def test_sci_has_a_short_exponent_and_two_digits(x):
    text = fmt.sci(x)
    assert re.fullmatch(r"-?\d\.\de(0|-?[1-9]\d*)", text), text
    assert abs(float(text) - x) <= abs(x) * 0.051


def test_the_formatters_spell_missing_and_infinite_alike():
    for f in (fmt.sci, fmt.num, fmt.pct, fmt.count, setting):
        assert f(math.nan) == fmt.MISSING and f(None) == fmt.MISSING
    for f in (fmt.sci, fmt.num, setting):
        assert f(math.inf) == "inf" and f(-math.inf) == "-inf"
    assert fmt.sci(0.0) == "0" and fmt.sci(3e-7) == "3.0e-7" and fmt.num(12345.0) == "1.23e4"


# ---- no number is formatted by hand outside fmt -------------------------------------------------------------------
# A printf-style float spec: ":g", ":.3g", ":.1e", ":+.2E" in an f-string or str.format, "%g" / "%.2e" with %.
_SPEC = re.compile(r"^[^{}]*?[#0]?\d*(\.\d+)?[eEgG]$")
_BRACE = re.compile(r"\{[^{}]*:[^{}]*?\d*(\.\d+)?[eEgG]\}")
_PERCENT = re.compile(r"%[-+ #0]*\d*(\.\d+)?[eEgG]")

# The justified exceptions: whole files, and functions that compute with a spelling rather than show one
ALLOWED = {
    "gradtui/fmt.py": "the formatters themselves",
    "gradtui/engine/spelling.py": "setting's own digit search",
}
ALLOWED_FUNCTIONS = {
    ("gradtui/record.py", "_ftoa"): "a float's exact shortest JSON spelling, read back by the reader",
    ("gradtui/engine/stats.py", "round_out"): "rounding a histogram range outwards, through its digits",
}


def _is_rounding(node: ast.JoinedStr, parents: dict[int, ast.AST]) -> bool:
    """``float(f"{x:.2g}")``: a value rounded to N digits, not a number spelled for a reader."""
    parent = parents.get(id(node))
    return (
        isinstance(parent, ast.Call)
        and isinstance(parent.func, ast.Name)
        and parent.func.id == "float"
        and parent.args == [node]
    )


def hand_formatted(source: str, skip: frozenset[str] = frozenset()) -> list[int]:
    """The line numbers in ``source`` that format a float with a g/e spec (rounding with ``float(...)`` excepted,
    and whatever is inside the functions named in ``skip``)."""
    tree = ast.parse(source)
    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    skipped = {
        id(n)
        for f in ast.walk(tree)
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)) and f.name in skip
        for n in ast.walk(f)
    }
    lines = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.JoinedStr):
            for part in node.values:
                spec = part.format_spec if isinstance(part, ast.FormattedValue) else None
                text = "".join(c.value for c in spec.values if isinstance(c, ast.Constant)) if spec else ""
                if spec is not None and _SPEC.match(text) and not _is_rounding(node, parents):
                    lines.add(part.lineno)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            parent = parents.get(id(node))
            if (isinstance(parent, ast.Attribute) and parent.attr == "format" and _BRACE.search(node.value)) or (
                isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.Mod) and _PERCENT.search(node.value)
            ):
                lines.add(node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "format"
            and len(node.args) == 2
            and isinstance(node.args[1], ast.Constant)
            and _SPEC.match(str(node.args[1].value))
        ):
            lines.add(node.lineno)
    return sorted(lines)


def test_the_scan_finds_hand_formatted_numbers():
    bad = (
        'a = f"{x:g}"\nb = f"lr {lr:.1e} ok"\nc = "{:.3g}".format(x)\nd = "%g" % x\ne = format(x, ".2e")\n'
        'f = f"{n:,}"\ng = f"{s:>8}"\nh = float(f"{x:.2g}")\ni = f"{x:{w}}"\n'
    )
    assert hand_formatted(bad) == [1, 2, 3, 4, 5]
    assert hand_formatted('def exact(x):\n    return f"{x:.3e}"\n', frozenset({"exact"})) == []
    assert hand_formatted('def shown(x):\n    return f"{x:.3e}"\n', frozenset({"exact"})) == [2]


def test_no_module_formats_a_number_by_hand():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in ALLOWED:
            continue
        skip = frozenset(name for file, name in ALLOWED_FUNCTIONS if file == rel)
        found += [f"{rel}:{n}" for n in hand_formatted(path.read_text(), skip)]
    assert found == [], "use gradtui.fmt (setting, sci, num) instead of a :g / :.Ne / %g spec"


# ---- one learning rate, one spelling ------------------------------------------------------------------------------
def spelled_lr(text: str, pattern: str) -> str:
    m = re.search(pattern, text)
    assert m, text
    return m[1]


@pytest.mark.parametrize("lr", ["3e-7", "1.2345e-7"])  # 1.2345e-7: :g said 1.2345e-07, num() says 1.23e-7
async def test_one_lr_is_spelled_alike_in_the_header_the_status_line_and_the_alert(capsys, lr):
    # headless: relu + He at so small an lr trains far too slowly; the doctor says so in its diagnosis line
    args = ["run", "--lr", lr, "--activation", "relu", "--init", "he", "--steps", "300"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    header = spelled_lr(out.splitlines()[0], r"\blr=(\S+)")
    alert = spelled_lr(out, r"the lr \((\S+)\) is too small")
    # the dashboard's status line, for the same settings
    config = Config(lr=float(lr), activation="relu", init="he", depth=4, width=16, samples=400, probe_size=128)
    async with fake_app(snap=make_snapshot(config=config)) as (app, pilot, _):
        status = spelled_lr(rendered(app.dashboard.query_one("#status")), r"\blr (\S+)")
    assert header == status == alert == lr
