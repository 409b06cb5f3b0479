"""The framework adapters on the real packages: a PyTorch Lightning callback and a Hugging Face Trainer callback
record what gradtui.probe records, with the gradients read where the frameworks' own grad-norm logging reads them."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

from gradtui.record import load_recording  # noqa: E402

STEPS = 12


def _data(n: int = 96):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 6, generator=g)
    return x, (x[:, 0] > 0).long()


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc1 = nn.Linear(6, 16)
        self.fc2 = nn.Linear(16, 2)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))  # an F.* call: paired with fc1


def _check(path, steps_written: list[int]) -> None:
    snaps, warnings = load_recording(path)
    assert not warnings
    assert [s.step for s in snaps] == steps_written
    last = snaps[-1]
    names = [e.name for e in last.entries]
    assert names[-2:] == ["net.fc1", "net.fc2"] or names[-2:] == ["fc1", "fc2"]
    fc1 = last.entries[-2]
    assert fc1.act is not None and fc1.act.name == "gelu" and fc1.hist is not None
    assert all(e.grad_norm > 0 and e.update_ratio > 0 for e in last.entries)
    assert all(math.isfinite(s.loss) for s in snaps[1:])
    assert last.source == "probe" and last.axis == "module"


def test_lightning_callback(tmp_path):
    pl = pytest.importorskip("lightning.pytorch")
    from gradtui.probe.lightning import GradtuiCallback

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = Net()
            self.seen: list[float] = []

        def training_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self.net(x), y)  # not self(x): the adapter starts the measured forward

        def on_before_optimizer_step(self, optimizer):
            g = self.net.fc1.weight.grad
            self.seen.append(float(torch.linalg.vector_norm(g, dtype=torch.float64)))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    x, y = _data()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    out = tmp_path / "pl.jsonl"
    cb = GradtuiCallback(every=5, out=str(out))
    module = Module()
    trainer = pl.Trainer(max_steps=STEPS, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[cb])  # fmt: skip
    trainer.fit(module, loader)
    _check(out, [1, 5, 10])
    assert cb.probe is not None
    last = cb.probe.latest
    fc1 = next(e for e in last.entries if e.name == "net.fc1")
    assert math.isclose(fc1.grad_norm, module.seen[9], rel_tol=1e-6)  # step 10's gradient, as Lightning saw it
    assert "SGD" in last.meta.summary


def test_lightning_callback_with_gradient_accumulation_steps_per_optimizer_step(tmp_path):
    pl = pytest.importorskip("lightning.pytorch")
    from gradtui.probe.lightning import GradtuiCallback

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = Net()

        def training_step(self, batch, batch_idx):
            return F.cross_entropy(self.net(batch[0]), batch[1])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    x, y = _data()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    cb = GradtuiCallback(every=2)
    trainer = pl.Trainer(max_steps=4, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[cb],
                         accumulate_grad_batches=3)  # fmt: skip
    trainer.fit(Module(), loader)
    assert cb.probe is not None and cb.probe.steps == 4  # optimizer steps, not the 12 micro-batches
    assert [s.step for s in cb.probe.snapshots] == [1, 2, 4]


def test_hugging_face_trainer_callback(tmp_path):
    transformers = pytest.importorskip("transformers")
    from gradtui.probe.hf import GradtuiCallback

    class HFNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = Net()

        def forward(self, x, labels=None):
            logits = self.net(x)
            return {"loss": F.cross_entropy(logits, labels), "logits": logits}

    class Data(torch.utils.data.Dataset):
        def __init__(self) -> None:
            self.x, self.y = _data()

        def __len__(self) -> int:
            return len(self.x)

        def __getitem__(self, i):
            return {"x": self.x[i], "labels": self.y[i]}

    out = tmp_path / "hf.jsonl"
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "hf"), max_steps=STEPS, per_device_train_batch_size=8, learning_rate=0.1,
        logging_steps=1, report_to="none", save_strategy="no", use_cpu=True, disable_tqdm=True,
        dataloader_num_workers=0, optim="sgd", lr_scheduler_type="constant", max_grad_norm=0.0,
    )  # fmt: skip
    cb = GradtuiCallback(every=5, out=str(out))
    model = HFNet()
    seen: list[float] = []

    class Seen(transformers.TrainerCallback):  # the gradient where the Trainer is about to step with it
        def on_pre_optimizer_step(self, args, state, control, **kwargs):
            seen.append(float(torch.linalg.vector_norm(model.net.fc1.weight.grad, dtype=torch.float64)))

    trainer = transformers.Trainer(model=model, args=args, train_dataset=Data(), callbacks=[cb, Seen()])
    trainer.train()
    _check(out, [1, 5, 10])
    assert cb.probe is not None and cb.probe.steps == STEPS
    assert len(seen) == STEPS
    fc1 = next(e for e in cb.probe.latest.entries if e.name == "net.fc1")
    assert math.isclose(fc1.grad_norm, seen[9], rel_tol=1e-6)  # step 10's gradient, as direct torch computes it
    first = next(e for e in cb.probe.snapshots[0].entries if e.name == "net.fc1")
    assert math.isclose(first.grad_norm, seen[0], rel_tol=1e-6)
