"""What a responder's tablet reads of rosters and sign-on requests: their own entries and
requests, never a colleague's; `day=today` means the server's day, so a tablet whose clock or time
zone differs asks about the day the roster means."""

from __future__ import annotations

import datetime

from django.utils import timezone

from server.accounts.models import User
from server.dispatch.models import RosterEntry, SignOnRequest


def _roster(unit, person, day) -> RosterEntry:
    admin = User.objects.get(username="admin")
    return RosterEntry.objects.create(
        unit=unit, user=person, first_day=day, last_day=day, created_by=admin
    )


def test_a_responder_reads_their_own_roster_for_today_and_not_a_colleague_s(
    client_for, people, units
):
    today = timezone.localdate()
    _roster(units["CARE-1"], people["care1"], today)
    _roster(units["CARE-2"], people["care3"], today)
    _roster(units["CARE-2"], people["care1"], today + datetime.timedelta(days=1))
    mine = client_for("care1").get("/api/v1/rosters?day=today").json()
    assert [(e["username"], e["call_sign"]) for e in mine] == [("care1", "CARE-1")]
    everyone = client_for("dispatcher").get("/api/v1/rosters?day=today").json()
    assert {e["username"] for e in everyone} == {"care1", "care3"}


def test_sign_on_requests_for_today_leave_out_other_days_and_other_people(
    client_for, people, units
):
    today = timezone.localdate()
    asked = client_for("care1").post(
        "/api/v1/sign-on-requests", {"unit": units["CARE-2"].pk}, format="json"
    )
    assert asked.status_code == 201, asked.content
    SignOnRequest.objects.create(
        unit=units["CARE-1"], user=people["care1"], day=today - datetime.timedelta(days=1)
    )
    SignOnRequest.objects.create(unit=units["CARE-1"], user=people["care3"], day=today)

    todays = client_for("care1").get("/api/v1/sign-on-requests?day=today").json()
    assert [(r["call_sign"], r["day"]) for r in todays] == [("CARE-2", today.isoformat())]
    every_day = client_for("care1").get("/api/v1/sign-on-requests").json()
    assert {r["day"] for r in every_day} == {today.isoformat(), str(today - datetime.timedelta(1))}
    assert {r["username"] for r in every_day} == {"care1"}


def test_a_day_that_is_not_a_date_is_refused_with_a_sentence(client_for, people):
    answer = client_for("care1").get("/api/v1/sign-on-requests?day=someday")
    assert answer.status_code == 400
    assert answer.json()["fields"] == {"day": ["Not a date."]}
