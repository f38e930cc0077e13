"""Widgets every screen shares: big touch targets (≥ 48 dp), high contrast, stable ids.

`stable_id` names a widget for people testing the app (and its test driver): it never depends on
position, so a test presses "to-en_route" whatever the layout.
"""

from __future__ import annotations

from pathlib import Path

from kivy.lang import Builder
from kivy.properties import ColorProperty, StringProperty
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.textinput import TextInput
from kivy.uix.togglebutton import ToggleButton

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

# High-contrast palette (white on near-black; status colours readable in sunlight).
INK = (1, 1, 1, 1)
PAPER = (0.07, 0.08, 0.1, 1)
BLUE = (0.1, 0.35, 0.8, 1)
GREEN = (0.05, 0.5, 0.2, 1)
AMBER = (0.75, 0.45, 0.0, 1)
RED = (0.7, 0.1, 0.1, 1)
GREY = (0.3, 0.32, 0.36, 1)


class BigButton(Button):
    stable_id = StringProperty("")
    tint = ColorProperty(BLUE)


class BigToggle(ToggleButton):
    stable_id = StringProperty("")


class Field(TextInput):
    stable_id = StringProperty("")


class Text(Label):
    """A label that wraps to its width and grows to its text."""

    stable_id = StringProperty("")
    tint = ColorProperty((0, 0, 0, 0))
