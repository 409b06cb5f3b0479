"""Determinism, live changes, import isolation, config validation, optimisers and data."""

from __future__ import annotations

import ast
import importlib.util
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from gradtui.engine import Change, Config, ConfigError, Trainer
from gradtui.engine.data import DATASETS, make_dataset
from gradtui.engine.optim import make_optimiser

ROOT = Path(__file__).resolve().parents[1]
ENGINE = ROOT / "gradtui" / "engine"


def small(**kw) -> Config:
    base = dict(depth=3, width=16, samples=400, probe_size=128)
    base.update(kw)
    return Config(**base)


def weights(t: Trainer) -> list[np.ndarray]:
    return [p.copy() for _, p, _ in t.net.params()]


def record_batches(t: Trainer, steps: int) -> list[np.ndarray]:
    """The inputs of the next ``steps`` training batches, seen through the network's forward."""
    seen: list[np.ndarray] = []
    forward = t.net.forward

    def spy(x, *args, **kwargs):
        seen.append(np.array(x))
        return forward(x, *args, **kwargs)

    t.net.forward = spy
    try:
        for _ in range(steps):
            assert t.step()
    finally:
        del t.net.forward
    return seen


# --- 9. determinism and live changes -------------------------------------------------------------------------------


def test_same_config_same_run():
    a, b = Trainer(small()), Trainer(small())
    losses_a, losses_b = [], []
    for _ in range(20):
        assert a.step() and b.step()
        losses_a.append(a.snapshot().loss)
        losses_b.append(b.snapshot().loss)
    assert losses_a == losses_b
    assert len(set(losses_a)) > 1  # it did train
    for p, q in zip(weights(a), weights(b)):
        np.testing.assert_array_equal(p, q)


def test_a_different_seed_gives_a_different_run():
    a, b = Trainer(small()), Trainer(small(seed=1))
    assert not np.array_equal(a.net.blocks[0].dense.W, b.net.blocks[0].dense.W)


@pytest.mark.parametrize("other", ["tanh", "relu", "gelu", "prelu"])
def test_changing_only_the_activation_keeps_the_initial_weights_and_the_batches(other):
    a, b = Trainer(small(activation="sigmoid")), Trainer(small(activation=other))
    wa, wb = [b_.dense.W for b_ in a.net.blocks] + [a.net.out.W], [b_.dense.W for b_ in b.net.blocks] + [b.net.out.W]
    for p, q in zip(wa, wb):
        assert p.shape == q.shape
        np.testing.assert_array_equal(p, q)
    for x, y in zip(record_batches(a, 3), record_batches(b, 3)):
        np.testing.assert_array_equal(x, y)


def test_live_learning_rate_change_keeps_the_network_and_takes_effect():
    a, b = Trainer(small(lr=0.1, dtype="float64")), Trainer(small(lr=0.1, dtype="float64"))
    for _ in range(5):
        assert a.step() and b.step()
    net, before = a.net, weights(a)
    event = a.apply(Change("lr", 0.2))
    assert a.net is net and a.config.lr == 0.2 and a.run_step == 5
    for p, q in zip(weights(a), before):
        np.testing.assert_array_equal(p, q)
    assert event.kind == "change" and "rebuilt" not in event.text and a.events[-1] is event
    assert a.step() and b.step()
    for pa, pb, p0 in zip(weights(a), weights(b), before):  # the same batch and gradient, twice the step (SGD)
        np.testing.assert_allclose(pa - p0, 2 * (pb - p0), rtol=1e-9, atol=1e-15)


def test_changing_the_activation_rebuilds_from_the_seed_and_logs_it():
    t = Trainer(small(activation="sigmoid"))
    initial = weights(t)
    for _ in range(5):
        assert t.step()
    net = t.net
    event = t.apply(Change("activation", "tanh"))
    assert t.net is not net and t.config.activation == "tanh"
    assert t.run_step == 0 and t.step_count == 5  # the timeline goes on
    assert event.kind == "change" and "rebuilt" in event.text and "tanh" in event.text
    assert event.step == 5 and t.events[-1] is event
    for p, q in zip(weights(t), initial):
        np.testing.assert_array_equal(p, q)
    assert t.snapshot().events[-1] == event


@pytest.mark.parametrize(
    "change",
    [Change("lr", -1.0), Change("lr", float("nan")), Change("depth", 0), Change("activation", "nope"),
     Change("init", "normal"), Change("optimizer", "rmsprop"), Change("output", "linear"), Change("bogus", 1)],
    ids=lambda c: f"{c.field}={c.value}",
)  # fmt: skip
def test_an_illegal_change_raises_and_changes_nothing(change):
    t = Trainer(small())
    assert t.step()
    config, net, opt, n_events = t.config, t.net, t.opt, len(t.events)
    with pytest.raises(ConfigError) as info:
        t.apply(change)
    assert "\n" not in str(info.value) and str(info.value)
    assert t.config is config and t.net is net and t.opt is opt and len(t.events) == n_events
    assert t.step()


def test_any_change_after_divergence_rebuilds_and_resumes():
    t = Trainer(small(activation="linear", init="he", lr=1e3, dtype="float32"))
    steps = 0
    while t.step() and steps < 100:
        steps += 1
    assert t.diverged is not None
    t.apply(Change("lr", 0.01))
    assert t.diverged is None and t.run_step == 0
    assert t.step()


@pytest.mark.skipif(importlib.util.find_spec("sklearn") is not None, reason="digits can be made here")
def test_a_dataset_that_cannot_be_made_here_is_refused_and_changes_nothing():
    """Without scikit-learn, "digits" cannot be built: refused as a ConfigError, and the run stays as it was
    (it once raised a plain ValueError after setting the config, leaving a "digits" run training on the spiral)."""
    t = Trainer(small())
    config, net = t.config, t.net
    with pytest.raises(ConfigError, match="scikit-learn"):
        t.apply(Change("dataset", "digits"))
    assert t.config is config and t.net is net
    with pytest.raises(ConfigError, match="scikit-learn"):
        Config(dataset="digits")


# --- 10. import isolation ------------------------------------------------------------------------------------------


def modules_loaded_by(statement: str) -> tuple[list[str], list[str]]:
    """In a fresh interpreter: (new non-stdlib top-level modules other than numpy and gradtui, UI modules loaded)."""
    code = textwrap.dedent(
        f"""
        import sys
        before = set(sys.modules)
        {statement}
        new = {{m.split(".")[0] for m in set(sys.modules) - before}}
        print(" ".join(sorted(n for n in new if n not in sys.stdlib_module_names and n not in ("numpy", "gradtui"))))
        print(" ".join(m for m in ("textual", "rich", "plotext") if m in sys.modules))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    third_party, ui = out.stdout.split("\n")[:2]
    return third_party.split(), ui.split()


def test_importing_the_engine_loads_no_ui_or_third_party_module():
    assert modules_loaded_by("import gradtui.engine, gradtui.engine.gradcheck") == ([], [])
    assert modules_loaded_by("import rich.text") == (["rich"], ["rich"])  # the probe does see them


# Optional extras an engine module may import lazily, inside a function (data.py: sklearn for "digits").
LAZY_OPTIONAL = {("data.py", "sklearn")}


def imports_of(path: Path):
    """(module, relative?, at module level?) of every import statement in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    in_function = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            in_function.update(id(n) for n in ast.walk(node) if n is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, False, id(node) not in in_function
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level > 0, id(node) not in in_function


def foreign_imports(files) -> list[str]:
    """Imports that are not numpy, the standard library, relative, or gradtui.engine (nor an allowed lazy extra)."""
    bad = []
    for f in files:
        for module, relative, top in imports_of(f):
            root = module.split(".")[0]
            ok = (
                relative
                or root in sys.stdlib_module_names
                or root == "numpy"
                or module == "gradtui.engine"
                or module.startswith("gradtui.engine.")
                or ((f.name, root) in LAZY_OPTIONAL and not top)
            )
            if not ok:
                bad.append(f"{f.name}: {module}")
    return bad


def test_engine_source_imports_only_numpy_the_standard_library_and_itself():
    files = sorted(ENGINE.glob("*.py"))
    assert {"activations.py", "network.py", "trainer.py", "gradcheck.py"} <= {f.name for f in files}
    assert foreign_imports(files) == []


def test_the_import_scan_catches_foreign_imports(tmp_path):
    ok = tmp_path / "data.py"
    ok.write_text("import math\nimport numpy as np\nfrom . import x\nfrom gradtui.engine.y import z\n"
                  "def f():\n    from sklearn.datasets import load_digits\n")  # fmt: skip
    bad = tmp_path / "stats.py"
    bad.write_text("import sklearn\nfrom rich.text import Text\nimport gradtui.tui\ndef f():\n    import textual\n")
    assert foreign_imports([ok]) == []
    assert foreign_imports([bad]) == [
        "stats.py: sklearn",
        "stats.py: rich.text",
        "stats.py: gradtui.tui",
        "stats.py: textual",
    ]


# --- 11. config validation -----------------------------------------------------------------------------------------

BAD = [
    ("depth", dict(depth=0)),
    ("depth", dict(depth=101)),
    ("depth", dict(depth=2.5)),
    ("depth", dict(depth=True)),
    ("width", dict(width=2000)),
    ("width", dict(width=0)),
    ("activation", dict(activation="nope")),
    ("initialiser", dict(init="normal")),
    ("initialiser", dict(init="normal:abc")),
    ("initialiser", dict(init="normal:-1")),
    ("initialiser", dict(init="he:2")),
    ("initialiser", dict(init="bogus")),
    ("sigmoid", dict(output="sigmoid", dataset="spiral")),
    ("softmax or sigmoid", dict(output="linear", dataset="moons")),
    ("regression", dict(output="softmax", dataset="sine")),
    ("output", dict(output="tanh")),
    ("lr", dict(lr=0.0)),
    ("lr", dict(lr=-1.0)),
    ("lr", dict(lr=float("nan"))),
    ("lr", dict(lr=float("inf"))),
    ("lr", dict(lr="0.1")),
    ("optimizer", dict(optimizer="rmsprop")),
    ("momentum", dict(momentum=1.0)),
    ("weight_decay", dict(weight_decay=-0.1)),
    ("clip", dict(clip=-1.0)),
    ("dataset", dict(dataset="mnist")),
    ("samples", dict(samples=10)),
    ("noise", dict(noise=-0.1)),
    ("batch_size", dict(batch_size=0)),
    ("seed", dict(seed=-1)),
    ("dtype", dict(dtype="float16")),
    ("leaky_slope", dict(leaky_slope=2.0)),
    ("bias_init", dict(bias_init=100.0)),
    ("probe_size", dict(probe_size=0)),
    ("hist_bins", dict(hist_bins=1)),
]


@pytest.mark.parametrize(("word", "kw"), BAD, ids=[",".join(f"{k}={v!r}" for k, v in d.items()) for _, d in BAD])
def test_bad_config_values_raise_a_one_line_config_error(word, kw):
    with pytest.raises(ConfigError) as info:
        Config(**kw)
    msg = str(info.value)
    assert msg and "\n" not in msg and len(msg) < 200
    assert word in msg


def test_good_configs_and_the_output_chosen_for_each_dataset():
    assert Config().output_kind == "softmax"  # spiral: 3 classes
    assert Config(dataset="moons").output_kind == "sigmoid"
    assert Config(dataset="moons", output="softmax").output_kind == "softmax"
    assert Config(dataset="sine").output_kind == "linear"
    assert Config(activation="silu").activation == "swish"  # aliases are canonicalised
    assert Config(init="normal:0.01", momentum=0.0, clip=0.0, weight_decay=0.0).init == "normal:0.01"


def test_config_replace_and_dict_round_trip():
    c = Config(depth=4, activation="tanh")
    assert c.replace(width=8).width == 8 and c.replace(width=8).depth == 4
    with pytest.raises(ConfigError, match="nope"):
        c.replace(nope=1)
    with pytest.raises(ConfigError):
        c.replace(depth=-1)
    assert Config.from_dict(c.to_dict()) == c
    assert Config.from_dict({**c.to_dict(), "from_the_future": 1}) == c


# --- optimisers ----------------------------------------------------------------------------------------------------


def params(dtype=np.float64):
    r = np.random.default_rng(0)
    W, b = r.normal(size=(3, 2)).astype(dtype), r.normal(size=2).astype(dtype)
    return [("W", W, r.normal(size=W.shape).astype(dtype)), ("b", b, r.normal(size=b.shape).astype(dtype))]


def test_sgd_weight_decay_touches_only_weight_matrices():
    ps = params()
    before = [p.copy() for _, p, _ in ps]
    make_optimiser("sgd", ps, lr=0.1, weight_decay=0.5).step()
    (_, W, dW), (_, b, db) = ps
    np.testing.assert_allclose(W, before[0] - 0.1 * (dW + 0.5 * before[0]), rtol=1e-14)
    np.testing.assert_allclose(b, before[1] - 0.1 * db, rtol=1e-14)


def test_momentum_accumulates_velocity():
    ps = params()
    W0 = ps[0][1].copy()
    opt = make_optimiser("momentum", ps, lr=0.1, momentum=0.9)
    opt.step()
    opt.step()  # same gradient twice: -lr g, then -lr g (1 + mu)
    np.testing.assert_allclose(ps[0][1], W0 - 0.1 * ps[0][2] * (1 + 1.9), rtol=1e-14)


def test_adam_first_step_moves_each_parameter_by_about_lr():
    ps = params()
    before = [p.copy() for _, p, _ in ps]
    make_optimiser("adam", ps, lr=1e-3).step()
    for (_, p, g), p0 in zip(ps, before):
        np.testing.assert_allclose(p - p0, -1e-3 * np.sign(g), rtol=1e-4)  # eps = 1e-8 in the denominator


def test_clipping_scales_the_global_norm_to_the_limit():
    ps = params()
    before = [p.copy() for _, p, _ in ps]
    total = math.sqrt(sum(float(np.sum(g * g)) for _, _, g in ps))
    opt = make_optimiser("sgd", ps, lr=1.0, clip=total / 4)
    opt.step()
    step = math.sqrt(sum(float(np.sum((p - p0) ** 2)) for (_, p, _), p0 in zip(ps, before)))
    assert opt.last_clip_scale == pytest.approx(0.25)
    assert step == pytest.approx(total / 4, rel=1e-12)


def test_clipping_a_huge_but_finite_float32_gradient_still_takes_a_step():
    ps = params(np.float32)
    for _, _, g in ps:
        g *= np.float32(1e20)  # finite in float32; its square is not
    before = [p.copy() for _, p, _ in ps]
    opt = make_optimiser("sgd", ps, lr=1.0, clip=1.0)
    with np.errstate(over="ignore"):  # as inside Trainer.step
        opt.step()
    step = math.sqrt(sum(float(np.sum((p.astype(np.float64) - p0) ** 2)) for (_, p, _), p0 in zip(ps, before)))
    assert step == pytest.approx(1.0, rel=1e-5)  # engine: 0.0, the gradient was scaled by clip / inf


# --- data ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [n for n in DATASETS if n != "digits"])
def test_datasets_are_deterministic_and_split(name):
    a, b, c = make_dataset(name, 300, 0.1, 0), make_dataset(name, 300, 0.1, 0), make_dataset(name, 300, 0.1, 1)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.X_train, c.X_train)
    assert len(a.X_train) + len(a.X_test) <= 300 and len(a.X_test) == pytest.approx(0.2 * 300, abs=2)
    assert a.X_train.dtype == np.float64 and np.isfinite(a.X_train).all()
    if a.classes:
        assert set(np.unique(a.y_train)) == set(range(a.classes))


def test_adam_takes_its_beta1_from_the_momentum_setting():
    """--momentum says it is Adam's beta1: the first two Adam steps, computed by hand, with b1 = 0.5 and 0.9."""
    from gradtui.engine.optim import Adam

    for b1 in (0.5, 0.9):
        p = np.array([1.0, -2.0])
        g = np.zeros(2)
        opt = Adam([("b", p, g)], lr=0.1, momentum=b1)
        m = v = np.zeros(2)
        expected = p.copy()
        for t, grad in enumerate((np.array([0.3, -0.1]), np.array([-0.2, 0.4])), 1):
            g[...] = grad
            opt.step()
            m = b1 * m + (1 - b1) * grad
            v = 0.999 * v + 0.001 * grad * grad
            expected = expected - 0.1 * np.sqrt(1 - 0.999**t) / (1 - b1**t) * m / (np.sqrt(v) + 1e-8)
            np.testing.assert_allclose(p, expected, rtol=1e-12)


def test_a_live_momentum_change_reaches_adam():
    t = Trainer(Config(optimizer="adam", lr=0.01, depth=2, width=8, samples=200, probe_size=32))
    t.apply(Change("momentum", 0.5))
    assert t.opt.beta1 == 0.5
