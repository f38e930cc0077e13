"""What the assignment screen shows, decided in the client core: the scene, whether the encounter
may open and with which warning, the partner line, and status buttons that never move."""

from __future__ import annotations

import datetime

import pytest

from mobile.client.assignment_view import (
    NO_OFFICER,
    SAFE,
    UNCHECKED,
    UNSAFE,
    assignment_view,
    banner_as_known,
    confirm_question,
    open_assignments,
    partner_line,
)
from server.dispatch.incidents.lifecycle import published_table

PACIFIC = datetime.timezone(datetime.timedelta(hours=-8))


@pytest.fixture
def protocol() -> dict:
    """The lifecycle exactly as the server publishes it in `GET /api/v1/protocol`."""
    return published_table()


def care(status: str, officer: dict | None = None) -> dict:
    partners = [] if officer is None else [{"kind": "spd", "call_sign": "2M12", **officer}]
    return {
        "id": "a-1",
        "kind": "care",
        "status": status,
        "incident": {"call_type": "Person down", "address": "300 Pine St"},
        "partners": partners,
    }


def buttons(view) -> list[tuple[str, bool, bool, bool, bool]]:
    return [(b.state, b.current, b.enabled, b.emphasised, b.confirm) for b in view.buttons]


def test_a_care_responder_always_sees_the_same_four_status_buttons_in_the_same_order(protocol):
    seen = []
    for status in ("dispatched", "acknowledged", "en_route", "on_scene"):
        view = assignment_view(care(status), protocol, "care_responder")
        seen.append([b.state for b in view.buttons])
    assert seen == [["acknowledged", "en_route", "on_scene", "cleared"]] * 4


def test_the_current_status_is_highlighted_and_the_next_step_emphasised_not_moved(protocol):
    view = assignment_view(care("en_route"), protocol, "care_responder")
    assert buttons(view) == [
        ("acknowledged", False, False, False, False),
        ("en_route", True, False, False, False),
        ("on_scene", False, True, True, False),
        ("cleared", False, False, False, True),
    ]


def test_cleared_ends_the_units_part_and_asks_for_a_confirmation_naming_the_call(protocol):
    view = assignment_view(care("on_scene"), protocol, "care_responder")
    (cleared,) = [b for b in view.buttons if b.state == "cleared"]
    assert cleared.enabled and cleared.confirm and not cleared.emphasised
    question = confirm_question(care("on_scene"), protocol, "cleared")
    assert "Person down, 300 Pine St" in question and "cleared" in question


def test_an_officer_on_scene_is_pointed_at_scene_safe_and_needs_a_note_for_unsafe(protocol):
    officer = {**care("on_scene"), "kind": "spd", "partners": []}
    view = assignment_view(officer, protocol, "spd_officer")
    assert [b.state for b in view.buttons] == [
        "acknowledged",
        "en_route",
        "on_scene",
        "scene_safe",
        "scene_unsafe",
        "cleared",
    ]
    assert [b.state for b in view.buttons if b.emphasised] == ["scene_safe"]
    assert view.note_needed and not view.show_encounter


@pytest.mark.parametrize(
    ("officer", "scene", "warned"),
    [
        ({"status": "on_scene", "scene_safe_at": None}, UNCHECKED, "not marked safe"),
        ({"status": "scene_unsafe", "scene_safe_at": None}, UNSAFE, "marked the scene unsafe"),
        ({"status": "scene_safe", "scene_safe_at": "2026-11-18T22:07:00+00:00"}, SAFE, ""),
        (None, NO_OFFICER, ""),
    ],
)
def test_care_on_scene_may_open_the_encounter_before_scene_safe_with_a_clear_warning(
    protocol, officer, scene, warned
):
    view = assignment_view(care("on_scene", officer), protocol, "care_responder")
    assert view.scene == scene
    assert view.may_open_encounter
    if warned:
        assert warned in view.encounter_warning and "flagged" in view.encounter_warning
    else:
        assert view.encounter_warning == ""


def test_the_encounter_stays_closed_until_the_team_is_on_scene_and_says_why(protocol):
    view = assignment_view(care("en_route"), protocol, "care_responder")
    assert view.show_encounter and not view.may_open_encounter
    assert "once you are on scene" in view.encounter_warning


def test_the_partner_line_says_one_thing(protocol):
    safe = care("on_scene", {"status": "scene_safe", "scene_safe_at": "2026-11-18T22:07:00+00:00"})
    assert partner_line(safe, protocol, PACIFIC) == "2M12 marked the scene safe at 14:07."
    unsafe = care("on_scene", {"status": "scene_unsafe", "scene_safe_at": None})
    assert partner_line(unsafe, protocol, PACIFIC) == "2M12 marked the scene unsafe."
    moving = care("on_scene", {"status": "en_route", "scene_safe_at": None})
    assert partner_line(moving, protocol, PACIFIC) == "2M12: en route."
    assert partner_line(care("on_scene"), protocol) == "No other unit on this call."


def test_the_officers_why_is_on_the_unsafe_banner(protocol):
    officer = {"status": "scene_unsafe", "scene_safe_at": None, "safety_note": "Knife seen."}
    view = assignment_view(care("on_scene", officer), protocol, "care_responder")
    assert view.banner.startswith("Scene unsafe") and "Officer: Knife seen." in view.banner


def test_offline_the_scene_banner_is_what_the_tablet_last_knew_and_when(protocol):
    banner = assignment_view(care("on_scene", {"status": "en_route"}), protocol, "care_responder")
    waiting = "Wait for scene safe: the officer has not marked the scene yet."
    assert banner.banner == waiting
    assert banner_as_known(waiting, True, "2026-12-07T22:03:10-08:00", PACIFIC) == waiting
    assert banner_as_known(waiting, False, "2026-12-07T22:03:10-08:00", PACIFIC) == (
        f"Offline. Last known at 22:03: {waiting}"
    )
    assert banner_as_known(waiting, False, None, PACIFIC) == (
        f"Offline. Last known before the connection dropped: {waiting}"
    )


def test_offline_a_call_with_no_officer_shows_no_scene_banner_at_all():
    assert banner_as_known("", False, "2026-12-07T22:03:10-08:00", PACIFIC) == ""


def test_the_inbox_holds_open_assignments_newest_first_and_drops_cleared_and_cancelled(protocol):
    held = [
        {**care("en_route"), "id": "old", "dispatched_at": "2026-11-18T20:00:00+00:00"},
        {**care("dispatched"), "id": "new", "dispatched_at": "2026-11-18T21:00:00+00:00"},
        {**care("cleared"), "id": "done", "dispatched_at": "2026-11-18T22:00:00+00:00"},
        {**care("cancelled"), "id": "off", "dispatched_at": "2026-11-18T22:30:00+00:00"},
    ]
    assert [a["id"] for a in open_assignments(held, protocol)] == ["new", "old"]
