"""Screening a 911 call through POST /api/v1/incidents: call type, pilot area, pilot hours and the
exclusion questions, all read from data an administrator edits, never from code."""

from __future__ import annotations

import datetime
import json

import pytest
from django.forms.models import model_to_dict
from django.test import Client

from server.accounts.models import Role, User
from server.dispatch.incidents.screening import within_pilot_hours
from server.dispatch.models import Area, CallType, Incident, Protocol, ScreeningQuestion
from tests.conftest import CENTRAL_DISTRICT, DOWNTOWN, PASSWORD, local_time

UTC = datetime.UTC
EXCLUSIONS = ["weapons", "violence", "medical_emergency", "imminent_danger"]


# ---- helpers -------------------------------------------------------------------------------


# Where DOWNTOWN COMMERICAL (pilot) meets FIRST HILL (not pilot) along I-5, from the source
# data (fixtures/seattle/spd-mcpp-areas.geojson): vertices 30 and 31 of the downtown ring, which
# FIRST HILL's ring also lists, form a 150 m edge running north-west to south-east. Downtown lies
# to its south-west (the city centre side of the freeway), First Hill to its north-east. The two
# points below sit about 5 m either side of that edge's midpoint (-122.328797, 47.605842),
# written as plain numbers so the server's geometry is checked against the map, not itself.
JUST_INSIDE = {"latitude": 47.605820, "longitude": -122.328856}  # south-west: downtown
JUST_OUTSIDE = {"latitude": 47.605863, "longitude": -122.328738}  # north-east: First Hill
# Vertex 30 itself: listed by both rings, so exactly on the shared border.
ON_THE_BORDER = {"latitude": 47.606439349706385, "longitude": -122.329278982625}


@pytest.fixture
def admin_site(people) -> Client:
    """A supervisor signed in to Django admin."""
    user = User.objects.create_superuser(
        "supervisor", "supervisor@example.org", PASSWORD, role=Role.ADMIN
    )
    client = Client()
    client.force_login(user)
    return client


def _form_value(value):
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M:%S")
    return "" if value is None else value


def admin_saves(client: Client, obj, **changes) -> None:
    """Submit obj's Django admin change form with `changes`, as a supervisor would."""
    data = {**model_to_dict(obj), **changes}
    # An unticked checkbox is simply absent from a submitted form.
    form = {k: _form_value(v) for k, v in data.items() if v is not False}
    url = f"/admin/{obj._meta.app_label}/{obj._meta.model_name}/{obj.pk}/change/"
    answer = client.post(url, form)
    assert answer.status_code == 302, answer.content.decode()[:2000]


def reasons_of(incident: dict) -> list[str]:
    return incident["eligibility"]["reasons"]


# ---- the eligible call ---------------------------------------------------------------------


def test_an_eligible_downtown_call_inside_hours_is_recommended_for_dual_dispatch(new_call):
    incident = new_call()
    assert incident["eligibility"] == {
        "eligible": True,
        "reasons": [],
        "recommendation": "dual_dispatch",
    }
    assert incident["in_pilot_area"] is True
    assert incident["area"] == "DOWNTOWN COMMERICAL"
    stored = Incident.objects.get(pk=incident["id"])
    assert stored.eligible is True
    assert stored.recommendation == "dual_dispatch"


def test_the_spd_beat_and_area_of_the_location_are_recorded(new_call):
    downtown = new_call(**DOWNTOWN)
    assert downtown["beat"] == "M1"  # 3rd Ave & Pine St
    assert Incident.objects.get(pk=downtown["id"]).beat == "M1"
    central = new_call(**CENTRAL_DISTRICT)
    assert central["beat"] not in ("", "M1")
    assert central["area"] not in ("", "DOWNTOWN COMMERICAL")
    assert central["in_pilot_area"] is False


# ---- the pilot area border -----------------------------------------------------------------


def test_a_point_just_inside_the_pilot_area_border_is_eligible(new_call):
    incident = new_call(**JUST_INSIDE)
    assert incident["area"] == "DOWNTOWN COMMERICAL"
    assert incident["in_pilot_area"] is True
    assert incident["eligibility"]["eligible"] is True
    assert incident["eligibility"]["recommendation"] == "dual_dispatch"


def test_a_point_just_outside_the_pilot_area_border_is_police_only_with_the_area_named(
    new_call,
):
    incident = new_call(**JUST_OUTSIDE)
    assert incident["area"] == "FIRST HILL"
    assert incident["in_pilot_area"] is False
    assert incident["eligibility"]["eligible"] is False
    assert incident["eligibility"]["recommendation"] == "police_only"
    assert incident["area"]  # the non-pilot area it fell in
    assert reasons_of(incident) == [
        f"The location is outside the CARE pilot area ({incident['area']})."
    ]


def test_a_point_exactly_on_the_shared_border_counts_as_inside_the_pilot_area(new_call):
    incident = new_call(**ON_THE_BORDER)
    assert incident["in_pilot_area"] is True
    assert incident["eligibility"]["eligible"] is True


# ---- pilot hours ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hour", "minute", "eligible"),
    [(10, 59, False), (11, 0, True), (22, 59, True), (23, 0, False)],
    ids=["10:59", "11:00", "22:59", "23:00"],
)
def test_pilot_hours_run_from_11_00_up_to_but_not_including_23_00_seattle_time(
    new_call, hour, minute, eligible
):
    # Sent in UTC: the server must judge the hours in Seattle's time, not the sender's.
    received = local_time(hour, minute).astimezone(UTC)
    incident = new_call(received_at=received.isoformat())
    assert incident["eligibility"]["eligible"] is eligible
    if eligible:
        assert incident["eligibility"]["recommendation"] == "dual_dispatch"
        assert reasons_of(incident) == []
    else:
        assert incident["eligibility"]["recommendation"] == "police_only"
        assert reasons_of(incident) == [
            f"Received at {hour:02d}:{minute:02d}, outside CARE hours 11:00–23:00."
        ]


def test_pilot_hours_follow_daylight_saving_time():
    protocol = Protocol(
        pilot_start=datetime.time(11), pilot_end=datetime.time(23), timezone="America/Los_Angeles"
    )
    # 18:30 UTC is 11:30 in July (PDT, UTC-7) but 10:30 in December (PST, UTC-8).
    assert within_pilot_hours(protocol, datetime.datetime(2026, 7, 1, 18, 30, tzinfo=UTC))
    assert not within_pilot_hours(protocol, datetime.datetime(2026, 12, 1, 18, 30, tzinfo=UTC))


@pytest.mark.parametrize(
    ("hour", "minute", "inside"),
    [
        (21, 59, False),
        (22, 0, True),
        (23, 59, True),
        (0, 0, True),
        (5, 59, True),
        (6, 0, False),
        (12, 0, False),
    ],
)
def test_pilot_hours_that_run_past_midnight_include_the_late_night_and_the_early_morning(
    hour, minute, inside
):
    night_shift = Protocol(
        pilot_start=datetime.time(22), pilot_end=datetime.time(6), timezone="America/Los_Angeles"
    )
    assert within_pilot_hours(night_shift, local_time(hour, minute)) is inside


FRIDAY_NIGHT_ONLY = [(4, datetime.time(20), datetime.time(2))]  # Friday 20:00 to Saturday 02:00


@pytest.mark.parametrize(
    ("day", "hour", "inside"),
    [
        (20, 19, False),  # Friday 19:00, before the window opens
        (20, 20, True),  # Friday 20:00
        (20, 23, True),
        (21, 1, True),  # Saturday 01:00: still Friday night's hours
        (21, 2, False),  # Saturday 02:00: closed
        (21, 21, False),  # Saturday evening: no row of its own
        (20, 1, False),  # Friday 01:00 belongs to Thursday night, which has no hours
    ],
)
def test_a_weekday_row_past_midnight_covers_that_evening_and_the_next_morning_only(
    day, hour, inside
):
    protocol = Protocol(
        pilot_start=datetime.time(11), pilot_end=datetime.time(23), timezone="America/Los_Angeles"
    )
    received = local_time(hour, day=day)  # 20 November 2026 is a Friday
    assert within_pilot_hours(protocol, received, FRIDAY_NIGHT_ONLY) is inside


# ---- exclusion questions and call types ----------------------------------------------------


@pytest.mark.parametrize("question", EXCLUSIONS)
def test_each_exclusion_answered_yes_makes_the_call_police_only_with_its_own_reason(
    new_call, question
):
    incident = new_call(screening={**dict.fromkeys(EXCLUSIONS, False), question: True})
    assert incident["eligibility"]["eligible"] is False
    assert incident["eligibility"]["recommendation"] == "police_only"
    assert reasons_of(incident) == [ScreeningQuestion.objects.get(key=question).reason]


def test_the_four_exclusions_each_give_a_different_reason(reference):
    reasons = set(
        ScreeningQuestion.objects.filter(key__in=EXCLUSIONS).values_list("reason", flat=True)
    )
    assert len(reasons) == len(EXCLUSIONS)
    assert all(r.strip() for r in reasons)


def test_a_call_type_care_does_not_respond_to_is_police_only_with_the_type_named(new_call):
    incident = new_call(call_type="NUISANCE")
    assert incident["eligibility"]["eligible"] is False
    assert incident["eligibility"]["recommendation"] == "police_only"
    assert reasons_of(incident) == ["Call type 'NUISANCE' is not one CARE responds to."]


def test_a_welfare_check_is_an_eligible_call_type_too(new_call):
    incident = new_call(call_type="SERVICE - WELFARE CHECK")
    assert incident["eligibility"]["recommendation"] == "dual_dispatch"


def test_every_failed_check_is_its_own_reason(new_call):
    incident = new_call(
        call_type="NUISANCE",
        received_at=local_time(23, 30).isoformat(),
        screening={**dict.fromkeys(EXCLUSIONS, False), "weapons": True, "violence": True},
        **CENTRAL_DISTRICT,
    )
    reasons = reasons_of(incident)
    assert incident["eligibility"]["recommendation"] == "police_only"
    assert len(reasons) == 5
    assert any("NUISANCE" in r for r in reasons)
    assert any("outside the CARE pilot area" in r for r in reasons)
    assert any("23:30" in r for r in reasons)
    assert ScreeningQuestion.objects.get(key="weapons").reason in reasons
    assert ScreeningQuestion.objects.get(key="violence").reason in reasons


def test_a_person_who_has_left_means_no_unit_is_needed(new_call):
    incident = new_call(screening={**dict.fromkeys(EXCLUSIONS, False), "person_gone": True})
    assert incident["eligibility"]["eligible"] is False
    assert incident["eligibility"]["recommendation"] == "no_response"
    assert reasons_of(incident) == [ScreeningQuestion.objects.get(key="person_gone").reason]


# ---- the protocol is data ------------------------------------------------------------------


def test_an_admin_making_a_call_type_eligible_changes_the_screening_without_code(
    new_call, admin_site, client_for
):
    before = new_call(call_type="NUISANCE")
    assert before["eligibility"]["eligible"] is False

    admin_saves(admin_site, CallType.objects.get(code="NUISANCE"), eligible=True)

    after = new_call(call_type="NUISANCE")
    assert after["eligibility"] == {
        "eligible": True,
        "reasons": [],
        "recommendation": "dual_dispatch",
    }
    published = client_for("care1").get("/api/v1/protocol").json()["eligible_call_types"]
    assert "NUISANCE" in published
    # A call already screened keeps the answer it was given at the time.
    assert Incident.objects.get(pk=before["id"]).eligible is False


def test_an_admin_making_a_call_type_ineligible_sends_those_calls_police_only(new_call, admin_site):
    admin_saves(
        admin_site, CallType.objects.get(code="DOWN - CHECK FOR DOWN PERSON"), eligible=False
    )
    incident = new_call()
    assert incident["eligibility"]["recommendation"] == "police_only"
    assert reasons_of(incident) == [
        "Call type 'DOWN - CHECK FOR DOWN PERSON' is not one CARE responds to."
    ]


def test_an_admin_adding_an_area_to_the_pilot_makes_calls_there_eligible(new_call, admin_site):
    outside = new_call(**CENTRAL_DISTRICT)
    assert outside["in_pilot_area"] is False

    admin_saves(admin_site, Area.objects.get(name=outside["area"]), in_pilot=True)

    now_inside = new_call(**CENTRAL_DISTRICT)
    assert now_inside["area"] == outside["area"]
    assert now_inside["in_pilot_area"] is True
    assert now_inside["eligibility"]["recommendation"] == "dual_dispatch"


def test_an_admin_taking_an_area_out_of_the_pilot_makes_calls_there_police_only(
    new_call, admin_site
):
    admin_saves(admin_site, Area.objects.get(name="DOWNTOWN COMMERICAL"), in_pilot=False)
    incident = new_call(**DOWNTOWN)
    assert incident["in_pilot_area"] is False
    assert reasons_of(incident) == [
        "The location is outside the CARE pilot area (DOWNTOWN COMMERICAL)."
    ]


def test_an_admin_changing_the_pilot_hours_changes_which_calls_are_eligible(
    new_call, admin_site, reference
):
    assert new_call(received_at=local_time(9).isoformat())["eligibility"]["eligible"] is False
    assert new_call(received_at=local_time(21).isoformat())["eligibility"]["eligible"] is True

    protocol = Protocol.objects.get()
    admin_saves(admin_site, protocol, pilot_start=datetime.time(8), pilot_end=datetime.time(20))

    morning = new_call(received_at=local_time(9).isoformat())
    evening = new_call(received_at=local_time(21).isoformat())
    assert morning["eligibility"]["eligible"] is True
    assert evening["eligibility"]["eligible"] is False
    assert reasons_of(evening) == ["Received at 21:00, outside CARE hours 08:00–20:00."]
