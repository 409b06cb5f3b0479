"""Modal screens: the help screen (its key tables made from gradtui.tui.keys) and the activation picker."""

from __future__ import annotations

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown, OptionList
from textual.widgets.option_list import Option

from ...engine.activations import ACTIVATIONS, make_activation
from ..keys import KEYS, help_table

INTRO = """\
# gradtui — what you are looking at

gradtui trains a small neural network (in NumPy) on a toy task **right now** — or shows a recording of one, or a
PyTorch run being written by `gradtui.probe` — and shows how the learning signal, the gradient, flows back
through it. Layer 1 is the one next to the input; it is drawn at the **bottom** of every panel.

## Panels
- **Gradient flow** — one bar per layer: ‖∂L/∂W‖, the size of the gradient of the loss with respect to that
  layer's weights on the last training step, on a **log scale** (each step of the axis is ×10). `sig` is the
  backward signal ‖∂L/∂h‖/√N arriving at the layer's output. The headline **vanishing ratio** is layer 1's signal
  divided by the last layer's: below 1e-3 the first layers barely learn (vanishing gradients); far above 1 they
  explode. For a recurrent network the rows are time steps and the bars the gradient reaching each step.
- **Gradient history** — the same magnitudes over time: one column per snapshot, one row per layer, brighter =
  larger (shade glyphs `·░▒▓█` order the levels without colour). Vanishing gradients are dark bottom rows. ▼ marks
  a change you made.
- **Activations** — per layer, a histogram of the outputs h = f(z) over a fixed probe set of training examples,
  with mean μ and standard deviation σ. A collapsing σ means the signal is dying on the way forward.
- **Selected layer** — the histogram of that layer's pre-activations z, with the activation's derivative f′(z)
  drawn over it (•, top = its largest value). Mass where f′ ≈ 0 learns nothing: saturation (sigmoid/tanh tails) or
  death (ReLU's negative side).
- **Dead & saturated units** — *dead*: a unit whose f′(z) is exactly 0 for every probe example (a ReLU that never
  fires): it will never learn again. *sat*: the share of (example, unit) pairs where |f′(z)| is below 5 % of the
  activation's maximum slope. The map shows every unit of the selected layer: █ dead, · alive.
- **Loss & accuracy** — mini-batch training loss and test loss (log scale), accuracy on the probe set and on the
  test set; vertical lines are your changes.
- **Decision boundary** — what the network predicts over the input plane (paler = less sure), with training points.

## Recurrent networks (`m` switches the model: MLP → vanilla RNN → LSTM → GRU)
A recurrent cell reads a sequence of T steps (`{`/`}` change T) of a task (`d`: the adding problem, temporal order,
copy) and is trained by backpropagation through time. The rows of the panels are then **time steps**, t = 1 (the
first input) at the bottom: the flow shows ‖∂L/∂h_t‖/√N, the gradient that reaches step t, and its headline the
**through-time ratio** step 1 / step T. A vanilla RNN's gradient shrinks at every step back: the early steps get
nothing, and the loss stays at the task's **baseline** (the dotted line of the loss chart: what a guess that ignores
the input scores). An LSTM keeps a cell state c_t that the forget gate can carry unchanged: the gradient reaches
the early steps once it has learned to (often after a long flat start).
- **Gates** (in place of the decision boundary) — per gate over the probe set: its mean, the share *shut* (below
  0.05) and *open* (above 0.95), its mean at every step (a sparkline, step 1 at the left), and the LSTM's cell-state
  norm ‖c_t‖/√N over time; below, every parameter array's gradient norm and update ratio (the weights are shared by
  all steps). A shut forget gate erases the cell state at every step; `g` sets the LSTM's forget-gate bias (1 or 0).
- **Activations / selected step** — the histogram of h_t (kept for 32 evenly spaced steps, the first and the last
  among them) and of its pre-activation (a_t for the RNN, the cell state c_t for the LSTM) with tanh′ over it.
  `↑`/`↓` move between the steps that have one.
- **Dead & saturated** — per step: a ReLU cell's units whose derivative is 0 at that step for every probe sequence;
  the share of h_t in the activation's flat tails.
- `c` turns clipping (at global norm 1) on and off: through time the gradient can explode.
- **Alerts** — what is wrong, in words, with the evidence, the cause and what usually fixes it; `x` tries the fix
  in a twin, side by side.

A figure measured before the network was last rebuilt is dimmed and says "from step N": it describes the old
network.
"""

OUTRO = """
Changing the model, activation, depth, width, initialiser, batch norm, residual, dataset, task or sequence length
**rebuilds** the network from the same seed (same data, same batch order, same weights where shapes allow), so
settings compare fairly. The learning rate, optimiser and clipping change **live**, without a reset. A key that does
not apply to the model (batch norm on an LSTM, the sequence length on an MLP) says why.
"""


def help_markdown(mode: str) -> str:
    title = {"live": "Keys", "compare": "Keys (compare mode)", "replay": "Keys (replay and watch)"}[mode]
    return f"{INTRO}\n## {title}\n{help_table(KEYS[mode])}\n{OUTRO}"


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def __init__(self, mode: str = "live") -> None:
        super().__init__()
        self.mode = mode

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(help_markdown(self.mode))

    def action_dismiss(self, result=None) -> None:  # type: ignore[override]
        self.dismiss(None)


class ActivationPicker(ModalScreen[str | None]):
    """Every registry entry with its formula (or ``only`` those: a vanilla RNN cell's); Enter picks, Escape
    cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str, only: tuple[str, ...] | None = None) -> None:
        super().__init__()
        self.current = current
        self.names = [n for n in ACTIVATIONS if only is None or n in only]

    def compose(self) -> ComposeResult:
        options = []
        for name in self.names:
            act = make_activation(name, 1, np.dtype(np.float64))
            options.append(Option(f"{name:<11} {act.formula}", id=name))
        ol = OptionList(*options, id="picker")
        ol.border_title = "Activation (Enter: choose, Esc: cancel)"
        yield ol

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.highlighted = self.names.index(self.current) if self.current in self.names else 0
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
