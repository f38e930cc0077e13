"""The safety bar under a real display (Xvfb) with a real tablet core and server: a touch
shorter than the hold sends nothing, a full hold sends the emergency, and the check-in prompt
shows once it is due and is answered in one tap."""

from __future__ import annotations

import os
import time

import pytest

pytest.importorskip("kivy", reason="Kivy is not installed (pip install -e '.[tablet]')")
if not os.environ.get("DISPLAY"):
    pytest.skip("needs a display: run under xvfb-run", allow_module_level=True)
os.environ.setdefault("KIVY_NO_ARGS", "1")

from django.db import OperationalError
from kivy.clock import Clock

from mobile.ui.safety_bar import SafetyBar
from server.dispatch.models import Emergency
from tests.mobile.client.conftest import field_server, tablet_for  # noqa: F401


def run_clock_until(condition, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        Clock.tick()
    return True


def emergencies() -> int | None:
    """How many emergencies the server holds; None while the live server is writing the table
    (SQLite's shared in-memory cache locks it), so the caller asks again."""
    try:
        return Emergency.objects.count()
    except OperationalError:
        return None


@pytest.fixture
def bar(field_server, tablet_for):  # noqa: F811 - fixtures
    username, care, spd = field_server.new_crew()
    call = field_server.dispatch(care, spd)
    tablet = tablet_for(username)
    widget = SafetyBar()
    widget.bind_tablet(tablet)
    return widget, tablet, call


def test_a_short_touch_sends_nothing_and_a_full_hold_sends_the_emergency(bar):
    widget, _, _ = bar
    widget.hold_started()
    Clock.tick()
    widget.hold_ended()
    assert widget.hold_progress == 0
    assert run_clock_until(lambda: emergencies() == 0)  # read once the table is free

    widget.hold_started()
    assert run_clock_until(lambda: bool(emergencies()))
    widget.hold_ended()
    assert run_clock_until(lambda: "dispatch" in widget.banner.lower())
    assert run_clock_until(lambda: emergencies() == 1)  # one press, one emergency


def test_the_check_in_prompt_shows_when_due_and_one_tap_answers_it(bar):
    widget, tablet, call = bar
    held = tablet.store.assignment(call["care"])
    held.update(
        status="on_scene",
        on_scene_at="2026-01-01T10:00:00+00:00",
        partners=[{"kind": "spd", "status": "cleared", "cleared_at": "2026-01-01T10:05:00+00:00"}],
    )
    with tablet.store.transaction() as db:
        tablet.store.put_assignment(db, held)
    widget.refresh()
    assert widget.check_in_for == call["care"]
    widget.answer_check_in()
    assert widget.check_in_for == ""
    assert [m.type for m in tablet.store.pending()] == ["check_in.create"]
