"""The tablet's safety rules against the real server: hold-to-send, the emergency sent at once
over the live socket, else over HTTP, else queued and sent first on reconnect ahead of older
queued changes; the acknowledgement reaching the tablet; check-in prompts and one-tap answers."""

from __future__ import annotations

import datetime
import json

import pytest
import requests
from django.utils import timezone

from mobile.client.api import ApiError
from mobile.client.safety import HoldToSend, check_in_due
from mobile.client.tablet import Tablet
from server.accounts.models import User
from server.dispatch.models import Assignment, CheckIn, Emergency, RosterEntry, Shift, Unit
from server.dispatch.safety.services import acknowledge_emergency
from server.feed.models import Event
from tests.conftest import SHIFTS_SINCE, put_on_shift
from tests.e2e import conftest as e2e
from tests.mobile.client.faults import faulty_session

served_system = e2e.served_system  # Daphne processes on their own database, for the socket

HANG_SECONDS = 30.0  # only a guard against a hang


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


def emergency_posts(network) -> list[str]:
    """How each HTTP try of the emergency went ("ok", "offline", ...)."""
    return [fault for fault, path in network.seen if path == "/api/v1/emergencies"]


class SilentSocket:
    """A half-dead socket: it takes frames and never answers."""

    def __init__(self):
        self.sent: list[dict] = []

    def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    def close(self) -> None:
        pass


class RefusingSocket(SilentSocket):
    """A socket whose server answers every emergency frame with an error frame."""

    def __init__(self, feed):
        super().__init__()
        self.feed = feed

    def send(self, text: str) -> None:
        super().send(text)
        ref = json.loads(text)["id"]
        refusal = {"type": "error", "code": "database_unavailable", "message": "test", "ref": ref}
        self.feed.handle(self, refusal)


def on_the_socket(tablet, socket) -> None:
    """The feed as if its socket were open and welcomed, with `socket` in place of the wire."""
    tablet.feed._socket = socket
    tablet.engine.feed_live = True


@pytest.mark.e2e
def test_with_the_feed_open_the_emergency_goes_over_the_socket_and_http_is_not_needed(
    served_system, tmp_path
):
    url = served_system.start_daphne()
    session, network = faulty_session()
    tablet = Tablet(tmp_path / "care1.sqlite3", server_url=url, session=session)
    try:
        tablet.sign_in("care1", "care-demo", "care1-tablet")
        tablet.safety.socket_seconds = HANG_SECONDS  # a slow machine is not a dead socket here
        tablet.feed.start()
        assert e2e.until(lambda: tablet.engine.feed_live, HANG_SECONDS)
        network.offline()  # HTTP can't get through: only the socket can carry it
        view = tablet.safety.send_emergency(unit=tablet.store.get_setting("user")["unit"]["id"])
        assert view.sent
        assert tablet.store.queued_count() == 0
        assert emergency_posts(network) == []
        # The board has it: the dispatcher acknowledges it, and that reaches the tablet.
        board = requests.Session()
        token = board.post(
            f"{url}/api/v1/auth/token",
            json={"username": "dispatcher", "password": "care-demo", "device_name": "board"},
            timeout=10,
        ).json()["token"]
        board.headers["Authorization"] = f"Token {token}"
        answer = board.post(f"{url}/api/v1/emergencies/{view.id}/acknowledge", timeout=10)
        assert answer.status_code == 200, answer.text
        assert e2e.until(lambda: tablet.safety.emergency().acknowledged, HANG_SECONDS)
    finally:
        tablet.close()


def test_a_socket_that_does_not_accept_the_emergency_in_time_leaves_it_to_http(crew):
    tablet, network, _, care = crew
    socket = SilentSocket()
    on_the_socket(tablet, socket)
    tablet.safety.socket_seconds = 0.2
    view = tablet.safety.send_emergency(unit=care.pk)
    assert [(f["type"], f["id"], f["unit"]) for f in socket.sent] == [
        ("emergency.start", view.id, care.pk)
    ]
    assert emergency_posts(network) == ["ok"]
    assert view.sent
    assert tablet.store.queued_count() == 0
    assert Emergency.objects.filter(pk=view.id, unit=care).exists()


def test_an_emergency_the_socket_refuses_and_http_can_t_send_waits_first_in_the_outbox(crew):
    tablet, network, _, care = crew
    on_the_socket(tablet, RefusingSocket(tablet.feed))
    network.offline()
    tablet.recorder.transition(crew[2]["care"], "acknowledged")
    view = tablet.safety.send_emergency(unit=care.pk)
    assert not view.sent
    assert emergency_posts(network) == ["offline"]
    assert tablet.store.pending()[0].type == "emergency.start"
    assert not Emergency.objects.filter(pk=view.id).exists()
    network.online()
    assert tablet.engine.sync_once()
    assert Emergency.objects.filter(pk=view.id).exists()
    assert tablet.store.queued_count() == 0
    assert tablet.safety.emergency().sent


def test_with_the_socket_down_an_emergency_goes_at_once_over_http_and_is_acknowledged(crew):
    tablet, network, call, care = crew
    assert not tablet.engine.feed_live  # the feed was never started
    view = tablet.safety.send_emergency(unit=care.pk, latitude=47.61, longitude=-122.34)
    assert view.sent
    assert emergency_posts(network) == ["ok"]
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
    stream = (
        Event.objects.filter(stream_id=f"unit:{care.pk}")
        .exclude(kind="assignment.dispatched")
        .order_by("seq")
    )
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


def test_a_second_hold_while_one_is_open_re_alerts_it_and_the_pin_ends_exactly_that_one(crew):
    tablet, _, _, care = crew
    first = tablet.safety.send_emergency(unit=care.pk)
    assert not first.realerted
    again = tablet.safety.send_emergency(unit=care.pk)
    assert again.id == first.id and again.realerted
    assert again.message == "Emergency still open: everyone alerted again."
    assert Emergency.objects.filter(unit=care).count() == 1
    assert tablet.safety.end_emergency(pin_ok=True).ended
    tablet.engine.sync_once()
    assert Emergency.objects.get(pk=first.id).ended_with_pin
    assert not Emergency.objects.filter(unit=care, ended_at__isnull=True).exists()


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


def test_the_responder_signs_on_sets_duty_status_and_signs_off_from_the_tablet(crew, people):
    tablet, _, _, care = crew
    person = User.objects.get(username=tablet.store.get_setting("user")["username"])
    # The day as a supervisor sets it up: off duty, then rostered on the unit for today.
    Shift.objects.filter(user=person).update(ended_at=timezone.now())
    today = timezone.localdate()
    RosterEntry.objects.create(
        unit=care, user=person, first_day=today, last_day=today, created_by=people["admin"]
    )
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
    put_on_shift(officer, spd, since=SHIFTS_SINCE)
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
