"""Entry names in the panels: a module path that does not fit is cut from the left, so that its end -- which module
it is -- stays (``…layers.2.mlp.fc1``); the engine's short names are never touched."""

from __future__ import annotations

from gradtui.tui.draw import short_name as cut_name


def test_a_long_module_path_keeps_its_end():
    name = "encoder.layers.2.mlp.fc1"
    assert cut_name(name, 30) == name
    assert cut_name(name, 18) == "…layers.2.mlp.fc1"  # starts at a whole path segment
    assert cut_name(name, 6) == "…fc1"
    for width in range(1, 30):
        cut = cut_name(name, width)
        assert len(cut) <= width and (cut == name or cut.startswith("…"))
        assert name.endswith(cut.lstrip("…"))


def test_short_names_are_left_alone():
    assert [cut_name(f"L{i}", 3) for i in (1, 10)] == ["L1", "L10"]
