"""Widgets every screen shares: big touch targets (≥ 48 dp), high contrast, stable ids.

`stable_id` names a widget for people testing the app (and its test driver): it never depends on
position, so a test presses "to-en_route" whatever the layout.

Every button asks the app's tap guard before taking a touch: a control that appeared, moved or
changed its words in the last 500 ms ignores the touch (the finger was aimed at what was there
before) and the app says that nothing was recorded.
"""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ColorProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.button import Button
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput
from kivy.uix.togglebutton import ToggleButton
from kivy.uix.widget import Widget

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


class Guarded:
    """A control that asks the app's tap guard before it takes a touch, and logs what it did."""

    def on_touch_down(self, touch):
        if not self.disabled and self.collide_point(*touch.pos):
            guard = getattr(App.get_running_app(), "tap_guard", None)
            if guard is not None and not guard.allows(self.stable_id or str(id(self))):
                App.get_running_app().refused(self)
                return True  # swallowed: aimed at what was here before the layout changed
            if hasattr(App.get_running_app(), "acted"):
                App.get_running_app().acted()
        return super().on_touch_down(touch)

    def on_release(self) -> None:
        taps = getattr(App.get_running_app(), "tap_log", None)
        if taps is not None:
            taps.append(self.stable_id)


class BigButton(Guarded, Button):
    stable_id = StringProperty("")
    tint = ColorProperty(BLUE)
    current = BooleanProperty(False)  # highlighted though not tappable (the status it is in)


class UndoButton(BigButton):
    said = StringProperty("")  # the choice it takes back, in the responder's words


class BigToggle(Guarded, ToggleButton):
    stable_id = StringProperty("")


class Field(TextInput):
    stable_id = StringProperty("")


class Text(Label):
    """A label that wraps to its width and grows to its text."""

    stable_id = StringProperty("")
    tint = ColorProperty((0, 0, 0, 0))


class Page(ScrollView):
    """A record's scrolling page. It opens at its top; when its content grows or shrinks (a
    referral made lower down), what is on screen stays where it is: Kivy keeps the scroll as a
    fraction, which would slide everything under a finger on its way."""

    def add_widget(self, widget, *args, **kwargs):
        super().add_widget(widget, *args, **kwargs)
        self._content_height = widget.height
        widget.bind(height=self._content_resized)

    def _content_resized(self, _content, height: float) -> None:
        before, self._content_height = self._content_height, height
        old_overflow, new_overflow = before - self.height, height - self.height
        if old_overflow <= 0 or new_overflow <= 0:
            return
        from_top = (1 - self.scroll_y) * old_overflow
        self.scroll_y = min(1.0, max(0.0, 1 - from_top / new_overflow))

    def to_top(self) -> None:
        self.scroll_y = 1


def drawn(widget: Widget):
    """Every widget drawn under `widget` (no transparent ancestor)."""
    if widget.opacity <= 0:
        return
    yield widget
    for child in widget.children:
        yield from drawn(child)


def layout_places() -> dict[str, tuple]:
    """What each touch target offers, and where, on screen now: a control whose entry differs
    from before may have a finger on its way that was aimed at something else."""
    found = {}
    for child in Window.children:
        for w in drawn(child):
            if isinstance(w, ButtonBehavior | TextInput):
                x, y = w.to_window(*w.pos)
                name = getattr(w, "stable_id", "") or str(id(w))
                found[name] = (getattr(w, "text", ""), round(x), round(y), round(w.width))
    return found


def emergency_under(touch) -> Widget | None:
    """The emergency button, if the touch is on it: help comes from under every sheet."""
    bar = getattr(App.get_running_app(), "safety_bar", None)
    button = bar.ids.get("emergency") if bar is not None else None
    if button is None or button.disabled or button.parent is None:
        return None
    x, y = button.parent.to_widget(*touch.pos)
    return button if button.collide_point(x, y) else None


class Sheet(ModalView):
    """A sheet over the screen that leaves the emergency button working."""

    def on_touch_down(self, touch):
        button = emergency_under(touch)
        if button is not None:
            return button.on_touch_down(touch)
        return super().on_touch_down(touch)


class ConfirmSheet(Sheet):
    """'Mark Person down, 300 Pine St cleared?' — yes or no, big, apart."""

    question = StringProperty("")
    yes_text = StringProperty("")

    def __init__(self, on_yes, **kwargs):
        super().__init__(**kwargs)
        self.on_yes = on_yes

    def answer(self, yes: bool) -> None:
        self.dismiss()
        if yes:
            self.on_yes()
