"""The `/` key's filter: type part of an entry's name (a layer ``L3``, a module ``layers.41``, a time step ``t=57``),
see the entries that match, Enter selects the highlighted one (the first at first), Esc cancels."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ..draw import short_name

SHOWN = 50  # matches listed at most (the rest are counted)


def matching(names: Sequence[str], query: str) -> list[int]:
    """The entries whose name contains ``query`` (case-insensitive): an exact match first, then in their order
    (``L3`` before ``L30``; ``layers.41`` selects the first module of that block). An empty query matches none."""
    q = query.strip().casefold()
    if not q:
        return []
    hits = [i for i, n in enumerate(names) if q in n.casefold()]
    exact = [i for i in hits if names[i].casefold() == q]
    return exact + [i for i in hits if i not in exact]


class FindScreen(ModalScreen[str | None]):
    """Returns the chosen entry's name (the screen finds it again in its newest snapshot), or None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", "next match", show=False),
        Binding("up", "move(-1)", "previous match", show=False),
    ]
    DEFAULT_CSS = """
    FindScreen { align: center middle; }
    #find { width: 70%; max-width: 90; height: auto; max-height: 80%; border: round $accent; background: $surface; }
    #find-matches { height: auto; max-height: 16; border: none; }
    #find-note { height: 1; color: $text-muted; }
    """

    def __init__(self, names: Sequence[str], noun: str = "entries") -> None:
        super().__init__()
        self.names = list(names)
        self.noun = noun
        self.hits: list[int] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="find") as box:
            box.border_title = f"Select by name ({len(self.names)} {self.noun}; Enter: select, Esc: cancel)"
            yield Input(placeholder="part of a name, e.g. layers.4 or L3", id="find-input")
            yield OptionList(id="find-matches")
            yield Static("", id="find-note")

    def on_mount(self) -> None:
        self.query_one(OptionList).can_focus = False  # typing stays in the input; ↑/↓ move the highlight
        self.query_one(Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.hits = matching(self.names, event.value)
        ol = self.query_one(OptionList)
        ol.clear_options()
        width = max(10, ol.content_size.width - 2) if ol.content_size.width else 60
        ol.add_options([Option(short_name(self.names[i], width), id=str(i)) for i in self.hits[:SHOWN]])
        if self.hits:
            ol.highlighted = 0
        more = len(self.hits) - SHOWN
        note = "" if not event.value.strip() else f"no {self.noun} match {event.value.strip()!r}"
        if self.hits:
            note = f"{len(self.hits)} match" + ("es" if len(self.hits) > 1 else "")
            note += f" ({more} more not listed)" if more > 0 else ""
        self.query_one("#find-note", Static).update(note)

    def action_move(self, delta: int) -> None:
        ol = self.query_one(OptionList)
        if ol.option_count:
            ol.highlighted = max(0, min(ol.option_count - 1, (ol.highlighted or 0) + delta))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        ol = self.query_one(OptionList)
        if not self.hits or ol.highlighted is None:
            self.query_one("#find-note", Static).update(
                f"no {self.noun} match {event.value.strip()!r}" if event.value.strip() else "type part of a name"
            )
            self.app.bell()
            return
        self.dismiss(self.names[self.hits[ol.highlighted]])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.dismiss(self.names[int(event.option.id)])

    def action_cancel(self) -> None:
        self.dismiss(None)
