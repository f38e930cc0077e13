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

# High-contrast palette: white text on every fill at a contrast of at least 4.5:1 (WCAG AA),
# checked by the tests with `contrast` below; status colours stay readable in sunlight.
INK = (1, 1, 1, 1)
PAPER = (0.07, 0.08, 0.1, 1)
BLUE = (0.1, 0.35, 0.8, 1)
GREEN = (0.05, 0.5, 0.2, 1)
AMBER = (0.62, 0.36, 0.0, 1)
RED = (0.7, 0.1, 0.1, 1)
GREY = (0.3, 0.32, 0.36, 1)
CARD = (0.15, 0.17, 0.21, 1)
MESSAGE = (1, 0.85, 0.3, 1)  # the app's one-line messages, on PAPER
# A disabled button (e.g. a service already logged) keeps its colour, darker, and its text stays
# near-white: Kivy's default (30 % white) is unreadable in sunlight.
DISABLED_TEXT = (0.92, 0.92, 0.92, 1)
FILLS = {"blue": BLUE, "green": GREEN, "amber": AMBER, "red": RED, "grey": GREY, "card": CARD}


def dimmed(tint) -> list[float]:
    """A disabled button's fill: its own colour at 60 %."""
    return [c * 0.6 for c in tint[:3]] + [1]


def _luminance(colour) -> float:
    def channel(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in colour[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(foreground, background) -> float:
    """WCAG contrast ratio between two opaque colours (1 to 21)."""
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


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
