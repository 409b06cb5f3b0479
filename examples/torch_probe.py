"""gradtui.probe on a small PyTorch model, trained on the CPU: run it, and watch it from a second terminal.

    python examples/torch_probe.py                  # trains a few minutes, writing runs/exp1.jsonl
    gradtui watch runs/exp1.jsonl                   # in a second tmux pane: the dashboard, live

A small transformer-shaped network without attention -- 6 pre-norm residual layers (LayerNorm, then an MLP:
Linear -> GELU -> Linear) -- and a plain ReLU tail, on a 2-D spiral, with AdamW: the flow panel shows its 24
modules by their paths (``encoder.layers.3.mlp.fc1``), the activation panels the GELU and ReLU histograms, the
units panel the ReLU units that die.
"""

from __future__ import annotations

import argparse
import math

import torch
from torch import nn

import gradtui


class MLP(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(d, 4 * d)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Layer(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.mlp = MLP(d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mlp(self.norm(x))


class Encoder(nn.Module):
    def __init__(self, d: int, depth: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(Layer(d) for _ in range(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class Net(nn.Module):
    def __init__(self, d: int = 32, depth: int = 6, tail: int = 4) -> None:
        super().__init__()
        self.embed = nn.Linear(2, d)
        self.encoder = Encoder(d, depth)
        self.tail = nn.Sequential(*[m for _ in range(tail) for m in (nn.Linear(d, d), nn.ReLU(inplace=True))])
        self.head = nn.Linear(d, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.tail(self.encoder(self.embed(x))))


def spiral(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    y = torch.randint(0, 3, (n,), generator=g)
    r = torch.rand(n, generator=g)
    t = 4 * r + y * (2 * math.pi / 3) + 0.2 * torch.randn(n, generator=g)
    return torch.stack([r * torch.sin(t), r * torch.cos(t)], 1), y


def main(steps: int = 6000, every: int = 50, out: str = "runs/exp1.jsonl", lr: float = 3e-3) -> gradtui.probe.Probe:
    torch.set_num_threads(1)  # a model this small trains fastest on one CPU thread (more only add waiting)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x_test, y_test = spiral(512, g)
    model = Net()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    with gradtui.probe(model, opt, every=every, out=out) as probe:
        for step in range(1, steps + 1):
            x, y = spiral(128, g)
            logits = model(x)
            loss = loss_fn(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            test = {}
            if step % (10 * every) == 0:  # a held-out figure now and then: shown with the step it was taken at
                with torch.no_grad():
                    t_logits = model(x_test)
                test = dict(
                    test_loss=loss_fn(t_logits, y_test), test_accuracy=(t_logits.argmax(1) == y_test).float().mean()
                )
            probe.step(loss=loss, accuracy=(logits.argmax(1) == y).float().mean(), **test)
    return probe


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--out", default="runs/exp1.jsonl")
    ap.add_argument("--lr", type=float, default=3e-3)
    ns = ap.parse_args()
    main(ns.steps, ns.every, ns.out, ns.lr)
    print(f"wrote {ns.out}: gradtui replay {ns.out}")
