"""The tablet's roster rules against the real server: each unit of the responder's kind says
whether they are on its roster today; a unit they are not on offers to ask a supervisor, the ask
waits for an answer that arrives on the feed (approved: sign on; declined: said so); a sign-on the
server refuses as not rostered turns into the ask; offline, asking says it needs a connection and
sends or keeps nothing."""

from __future__ import annotations

import pytest
from django.utils import timezone

from mobile.client import roster
from mobile.client.api import ApiError
from server.accounts.models import User
from server.dispatch.models import RosterEntry, Shift, SignOnRequest, Unit
from server.dispatch.units import shifts
from tests.mobile.client.faults import faulty_session


@pytest.fixture
def off_duty(field_server, tablet_for, people):
    """A responder signed off, rostered today on their own team's unit and on no other; a
    second team's unit of their kind exists. (tablet, own unit, other unit, person)"""
    username, care, _ = field_server.new_crew()
    other = Unit.objects.create(call_sign=f"CARE-Z{care.call_sign[-6:]}", kind="care")
    person = User.objects.get(username=username)
    Shift.objects.filter(user=person).update(ended_at=timezone.now())
    today = timezone.localdate()
    RosterEntry.objects.create(
        unit=care, user=person, first_day=today, last_day=today, created_by=people["admin"]
    )
    session, network = faulty_session()
    tablet = tablet_for(username, session=session)
    return tablet, care, other, person, network


def test_each_unit_says_whether_the_responder_is_on_its_roster_today(off_duty, units):
    tablet, care, other, _, _ = off_duty
    rows = {row.call_sign: row for row in tablet.roster.load()}
    assert rows[care.call_sign].offer == roster.SIGN_ON
    assert rows[care.call_sign].option == f"{care.call_sign} · on your roster today"
    assert rows[other.call_sign].offer == roster.ASK
    assert "ask a supervisor" in rows[other.call_sign].words
    assert all(not sign.startswith(("SPD-", "2M", "2K")) for sign in rows)  # CARE teams only


def test_a_rostered_responder_signs_on_directly_with_nothing_to_ask(off_duty):
    tablet, care, _, _, _ = off_duty
    tablet.roster.load()
    tablet.safety.sign_on(unit=care.pk)
    assert tablet.roster.standing(care.pk).offer == roster.SIGNED_ON
    assert not SignOnRequest.objects.exists()


def test_an_ask_waits_and_a_supervisor_s_approval_on_the_feed_lets_them_sign_on(off_duty, people):
    tablet, _, other, person, _ = off_duty
    tablet.roster.load()
    asked = tablet.roster.ask(other.pk, "My partner is on it today")
    assert asked.offer == roster.WAITING
    assert asked.words.startswith("Asked — waiting for a supervisor")
    (request,) = SignOnRequest.objects.filter(user=person)
    assert request.unit_id == other.pk and request.status == "pending"

    shifts.decide_sign_on_request(actor=people["admin"], request_id=request.pk, approve=True)
    assert tablet.roster.standing(other.pk).offer == roster.WAITING  # not told yet
    tablet.engine.sync_once()  # the feed's events reach the tablet
    approved = tablet.roster.standing(other.pk)
    assert (approved.offer, approved.approved) == (roster.SIGN_ON, True)
    assert "approved" in approved.words
    shift = tablet.safety.sign_on(unit=other.pk)
    assert Shift.objects.get(pk=shift["id"]).unit_id == other.pk


def test_a_declined_request_says_a_supervisor_declined(off_duty, people):
    tablet, _, other, person, _ = off_duty
    tablet.roster.load()
    tablet.roster.ask(other.pk)
    request = SignOnRequest.objects.get(user=person)
    shifts.decide_sign_on_request(actor=people["admin"], request_id=request.pk, approve=False)
    tablet.engine.sync_once()
    declined = tablet.roster.standing(other.pk)
    assert declined.offer == roster.DECLINED
    assert declined.words.startswith("A supervisor declined")
    with pytest.raises(ApiError):  # and the server still refuses the sign-on
        tablet.safety.sign_on(unit=other.pk)


def test_a_sign_on_refused_as_not_rostered_offers_the_ask_right_there(off_duty):
    tablet, care, _, person, _ = off_duty
    tablet.roster.load()
    # The supervisor took them off the roster after the tablet last looked.
    RosterEntry.objects.filter(user=person).update(cancelled_at=timezone.now())
    assert tablet.roster.standing(care.pk).offer == roster.SIGN_ON  # what the tablet last knew
    with pytest.raises(ApiError) as refused:
        tablet.safety.sign_on(unit=care.pk)
    assert refused.value.code == roster.NOT_ROSTERED
    assert tablet.roster.refused_sign_on(care.pk).offer == roster.ASK


def test_offline_asking_says_it_needs_a_connection_and_sends_or_keeps_nothing(off_duty):
    tablet, _, other, _, network = off_duty
    tablet.roster.load()
    network.offline()
    with pytest.raises(roster.NeedsConnection) as told:
        tablet.roster.ask(other.pk)
    assert "needs a connection" in str(told.value)
    assert tablet.roster.standing(other.pk).offer == roster.ASK
    assert not tablet.store.mutations()  # nothing queued to go later unseen
    network.online()
    assert not SignOnRequest.objects.exists()


def test_an_event_about_someone_else_s_request_changes_nothing(off_duty):
    tablet, _, other, person, _ = off_duty
    tablet.roster.load()
    stranger = {"id": "x", "unit": other.pk, "user": person.pk + 1000, "status": "approved"}
    with tablet.store.transaction() as db:
        tablet.roster.take_event(db, "sign_on_request.updated", stranger)
    assert tablet.roster.standing(other.pk).offer == roster.ASK


def test_a_shared_tablet_never_shows_the_last_person_s_roster(off_duty):
    tablet, care, _, person, _ = off_duty
    tablet.roster.load()
    assert tablet.roster.standing(care.pk).offer == roster.SIGN_ON
    user = tablet.store.get_setting("user")
    tablet.store.set_settings(user={**user, "id": person.pk + 1000})  # someone else signed in
    assert tablet.roster.standings() == []
