"""Modal screens: the help screen and the activation picker."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown, OptionList
from textual.widgets.option_list import Option

from ..engine.activations import ACTIVATIONS, make_activation

HELP = """\
# gradtui — what you are looking at

gradtui trains a small neural network (a multi-layer perceptron, in NumPy) on a toy dataset **right now**, and
shows how the learning signal — the gradient — flows back through it, layer by layer. Layer 1 is the one next to the
input; it is drawn at the **bottom** of every panel.

## Panels
- **Gradient flow** — one bar per hidden layer: ‖∂L/∂W‖, the size of the gradient of the loss with respect to that
  layer's weights on the last training step, on a **log scale** (each step of the axis is ×10). `sig` is the backward
  signal ‖∂L/∂h‖/√N arriving at the layer's output. The headline **vanishing ratio** is layer 1's signal divided by
  the last layer's: below 1e-3 the first layers barely learn (vanishing gradients); far above 1 they explode.
- **Gradient history** — the same magnitudes over time: one column per snapshot, one row per layer, brighter =
  larger. Vanishing gradients are dark bottom rows. ▼ marks a change you made.
- **Activations** — per layer, a histogram of the outputs h = f(z) over a fixed probe set of 512 training examples,
  with mean μ and standard deviation σ. A collapsing σ means the signal is dying on the way forward.
- **Selected layer** — the histogram of that layer's pre-activations z (the activation's input), with the
  activation's derivative f′(z) drawn over it (•, top = its largest value). Mass where f′ ≈ 0 learns nothing:
  that is saturation (sigmoid/tanh tails) or death (ReLU's negative side).
- **Dead & saturated units** — *dead*: a unit whose f′(z) is exactly 0 for every probe example (a ReLU that never
  fires) — it will never learn again. *sat*: the share of (example, unit) pairs where |f′(z)| is below 5 % of the
  activation's maximum slope. The map shows every unit of the selected layer: █ dead, · alive.
- **Loss & accuracy** — mini-batch training loss and test loss (log scale), accuracy on the probe set and on the
  test set; vertical lines are your changes.
- **Decision boundary** — what the network predicts over the input plane (paler = less sure), with training points.
- **Alerts** — what is wrong, in words, and what usually fixes it.

## Keys
| key | does |
|---|---|
| `a` / `A` | next / previous activation |
| `p` | pick an activation from the full list |
| `+` / `-` | deeper / shallower |
| `]` / `[` | wider / narrower (×2 / ÷2) |
| `i` / `I` | next / previous weight initialiser |
| `b` | batch norm on/off |
| `r` | residual connections on/off |
| `o` | next optimiser (sgd, momentum, adam) |
| `l` / `L` | learning rate up / down (1-2-5 steps) |
| `d` | next dataset |
| `space` | pause / resume |
| `n` | one training step (when paused) |
| `ctrl+r` | reset: rebuild from the seed |
| `↑` / `↓` | select a layer |
| `1`–`6` | show one panel large (again: back to all) |
| `f` / `F` | fork the run into a twin to compare side by side / back to one run |
| `t` | with twins: which twin the keys change (`space` pauses it alone, `P` pauses all) |
| `R` | start / stop recording the snapshots to a `.jsonl` file (replay it with `gradtui replay FILE`) |
| `s` | save an SVG screenshot |
| `ctrl+p` | command palette (every action, searchable) |
| `?` | this help |
| `q` | quit |

In a replay (`gradtui replay FILE`): `space` play/pause, `←`/`→` step, `Home`/`End`, `e`/`E` next/previous event,
`>`/`<` faster/slower.

Changing the activation, depth, width, initialiser, batch norm, residual or dataset **rebuilds** the network from
the same seed (same data, same batch order, same weights where shapes allow), so settings compare fairly. The
learning rate and optimiser change **live**, without a reset.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body"):
            yield Markdown(HELP)

    def action_dismiss(self, result=None) -> None:  # type: ignore[override]
        self.dismiss(None)


class ActivationPicker(ModalScreen[str | None]):
    """Every registry entry with its formula; Enter picks, Escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        options = []
        for name in ACTIVATIONS:
            act = make_activation(name, 1, "float64")
            options.append(Option(f"{name:<11} {act.formula}", id=name))
        ol = OptionList(*options, id="picker")
        ol.border_title = "Activation (Enter: choose, Esc: cancel)"
        yield ol

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.highlighted = list(ACTIVATIONS).index(self.current) if self.current in ACTIVATIONS else 0
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
