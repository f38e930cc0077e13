"""The tablet's colours: every text on every fill the screens use reads at 4.5:1 or better
(WCAG AA), including a disabled button such as a service already logged."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("kivy", reason="Kivy is not installed (pip install -e '.[tablet]')")
os.environ.setdefault("KIVY_NO_ARGS", "1")

from mobile.ui import widgets
from mobile.ui.widgets import (
    DISABLED_TEXT,
    FILLS,
    INK,
    MESSAGE,
    PAPER,
    BigButton,
    BigToggle,
    contrast,
    dimmed,
)

AA = 4.5


def test_the_contrast_ratio_is_wcags():
    assert contrast((1, 1, 1), (0, 0, 0)) == pytest.approx(21)
    assert contrast((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)) == pytest.approx(1)
    # A known pair: #767676 on white is the lightest grey that passes AA.
    assert contrast((0x76 / 255,) * 3, (1, 1, 1)) == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize("name", sorted(FILLS))
def test_white_text_reads_on_every_fill_enabled_and_disabled(name):
    fill = FILLS[name]
    assert contrast(INK, fill) >= AA, name
    assert contrast(DISABLED_TEXT, dimmed(fill)) >= AA, name


def test_messages_and_plain_text_read_on_the_background():
    assert contrast(MESSAGE, PAPER) >= AA
    assert contrast(INK, PAPER) >= AA


@pytest.mark.parametrize("tint", [widgets.GREEN, widgets.GREY, widgets.BLUE, widgets.AMBER])
def test_a_logged_service_button_as_the_screen_draws_it_reads_at_aa(tint):
    """The button's own kv rule, not the palette alone: disabled (logged) and enabled."""
    for disabled in (False, True):
        button = BigButton(text="De-escalation — logged", tint=tint, disabled=disabled)
        text = button.disabled_color if disabled else button.color
        assert contrast(text, button.background_color) >= AA, (tint, disabled)


def test_a_toggle_reads_at_aa_up_and_down():
    for state in ("normal", "down"):
        toggle = BigToggle(text="Route: intranasal", state=state)
        assert contrast(toggle.color, toggle.background_color) >= AA, state
