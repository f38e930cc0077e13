"""The tablet's safety rules against the real server: hold-to-send, the emergency sent at once
over HTTP or, offline, queued and sent first on reconnect ahead of older queued changes; the
acknowledgement reaching the tablet; check-in prompts and one-tap answers."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from mobile.client.api import ApiError
from mobile.client.safety import HoldToSend, check_in_due
from server.accounts.models import User
from server.dispatch.models import Assignment, CheckIn, Emergency, Shift, Unit
from server.dispatch.safety import acknowledge_emergency
from server.feed.models import Event
from tests.mobile.client.faults import faulty_session


@pytest.fixture
def crew(field_server, tablet_for):
    username, care, spd = field_server.new_crew()
    call = field_server.dispatch(care, spd)
    session, network = faulty_session()
    tablet = tablet_for(username, session=session, timeout=5)
    return tablet, network, call, care


def test_a_touch_shorter_than_the_hold_sends_nothing_and_a_full_hold_fires_once():
    button = HoldToSend(hold_seconds=2)
    button.press(at=10.0)
    assert button.tick(at=11.0) is False
    assert button.release(at=11.9) is False
    button.press(at=20.0)
    assert button.progress(at=21.0) == 0.5
    assert button.tick(at=22.0) is True
    assert button.tick(at=22.5) is False
    assert button.release(at=23.0) is False


def test_the_check_in_is_asked_only_once_the_officers_have_cleared():
    arrived = "2026-11-18T14:00:00-08:00"
    officer = {"kind": "spd", "status": "scene_safe", "cleared_at": None}
    assignment = {
        "kind": "care",
        "status": "on_scene",
        "on_scene_at": arrived,
        "partners": [officer],
    }
    assert check_in_due(assignment, last_answer=None, minutes=20) is None
    officer.update(status="cleared", cleared_at="2026-11-18T14:10:00-08:00")
    due = check_in_due(assignment, last_answer=None, minutes=20)
    assert due == datetime.datetime.fromisoformat("2026-11-18T14:30:00-08:00")
    later = check_in_due(assignment, last_answer="2026-11-18T14:25:00-08:00", minutes=20)
    assert later == datetime.datetime.fromisoformat("2026-11-18T14:45:00-08:00")


def test_an_emergency_goes_at_once_over_http_and_the_acknowledgement_reaches_the_tablet(crew):
    tablet, _, call, care = crew
    view = tablet.safety.send_emergency(unit=care.pk, latitude=47.61, longitude=-122.34)
    assert view.sent
    assert tablet.store.queued_count() == 0  # HTTP took it: nothing left to push
    emergency = Emergency.objects.get(pk=view.id)
    assert str(emergency.incident_id) == call["incident"]
    acknowledge_emergency(actor=User.objects.get(username="dispatcher"), emergency_id=view.id)
    tablet.engine.sync_once()
    assert tablet.safety.emergency().acknowledged
    assert tablet.safety.emergency().message == "Dispatch has your alert."


def test_an_emergency_made_offline_is_sent_first_on_reconnect(crew):
    tablet, network, call, care = crew
    network.offline()
    for to in ("acknowledged", "en_route"):
        tablet.recorder.transition(call["care"], to)
    view = tablet.safety.send_emergency(unit=care.pk)
    assert not view.sent
    assert tablet.store.pending()[0].type == "emergency.start"
    network.online()
    assert tablet.engine.sync_once()
    stream = Event.objects.filter(stream_id=f"unit:{care.pk}").exclude(
        kind="assignment.dispatched"
    ).order_by("seq")
    assert stream.values_list("kind", flat=True).first() == "emergency.started"
    assert Emergency.objects.filter(pk=view.id).exists()
    assert Assignment.objects.get(pk=call["care"]).status == "en_route"
    assert tablet.safety.emergency().sent


def test_the_responder_ends_the_emergency_after_the_pin(crew):
    tablet, _, _, care = crew
    view = tablet.safety.send_emergency(unit=care.pk)
    assert tablet.safety.end_emergency(pin_ok=False).ended is False
    assert tablet.safety.end_emergency(pin_ok=True).ended
    tablet.engine.sync_once()
    assert Emergency.objects.get(pk=view.id).ended_with_pin


def test_a_check_in_answered_offline_counts_at_the_tablet_s_time(crew):
    tablet, network, call, _ = crew
    for to in ("acknowledged", "en_route", "on_scene"):
        tablet.recorder.transition(call["care"], to)
    assert tablet.engine.sync_once()
    network.offline()
    tablet.safety.answer_check_in(call["care"])
    answered = timezone.now()
    network.online()
    assert tablet.engine.sync_once()
    stored = CheckIn.objects.get(assignment_id=call["care"])
    assert abs((stored.at - answered).total_seconds()) < 5


def test_the_responder_signs_on_sets_duty_status_and_signs_off_from_the_tablet(crew):
    tablet, _, _, care = crew
    offered = [u["call_sign"] for u in tablet.safety.units_to_sign_on()]
    assert care.call_sign in offered
    assert all(not sign.startswith("SPD-") for sign in offered)
    shift = tablet.safety.sign_on(unit=care.pk, vehicle="Van 2")
    assert Shift.objects.get(pk=shift["id"]).vehicle == "Van 2"
    assert tablet.safety.set_duty_status(care.pk, "on_break")["duty_status"] == "on_break"
    assert Unit.objects.get(pk=care.pk).duty_status == "on_break"
    with pytest.raises(ApiError):  # still on its call: the last person can't sign off
        tablet.safety.sign_off()


def test_an_officer_s_tablet_shows_a_care_team_s_emergency_until_it_ends(
    field_server, tablet_for, people
):
    username, care, spd = field_server.new_crew()
    call = field_server.dispatch(care, spd)
    officer = User.objects.create_user(
        username=f"officer-{spd.call_sign}", password="care-demo", role="spd_officer", unit=spd
    )
    officer_tablet = tablet_for(officer.username)
    care_tablet = tablet_for(username)
    view = care_tablet.safety.send_emergency(unit=care.pk)
    officer_tablet.engine.sync_once()
    assert care.call_sign in officer_tablet.safety.nearby_alert()
    assert call["incident"]
    care_tablet.safety.end_emergency(pin_ok=True)
    care_tablet.engine.sync_once()
    officer_tablet.engine.sync_once()
    assert officer_tablet.safety.nearby_alert() == ""
    assert Emergency.objects.get(pk=view.id).ended_at is not None
