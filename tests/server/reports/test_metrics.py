"""The public figures, computed on calls whose times we know, and never revealing a count under
11 — not in a cell, not by subtraction, not through a median of a handful of calls."""

from __future__ import annotations

import csv
import datetime
import io
import uuid

import pytest

from server.care.models import (
    DirectoryService,
    Encounter,
    NaloxoneAdministration,
    Referral,
    SurveyResponse,
)
from server.dispatch.models import (
    Assignment,
    CallType,
    Incident,
    IncidentStatus,
    ResponseSent,
    UnitKind,
)
from server.reports.metrics import SUPPRESSED, WITHHELD, program_metrics
from tests.conftest import local_time

DAY = datetime.date(2026, 11, 18)
DOWN = "DOWN - CHECK FOR DOWN PERSON"
WELFARE = "SERVICE - WELFARE CHECK"
MIN = datetime.timedelta(minutes=1)


@pytest.fixture
def history(people, units):
    """call(...) writes one finished call with the times given, in minutes after dispatch."""
    made = {"n": 0}

    def call(
        *,
        call_type: str = DOWN,
        area: str = "BELLTOWN",
        hour: int = 14,
        day: int = 18,
        care_arrives: int | None = 10,
        spd_safe: int | None = 8,
        spd_clears: int | None = 12,
        care_clears: int | None = 40,
        response: str = ResponseSent.DUAL,
        eligible: bool = True,
        status: str = IncidentStatus.CLOSED,
        police_only_code: str | None = None,
    ) -> Incident:
        made["n"] += 1
        received = local_time(hour, day=day)
        dispatched = received + MIN
        incident = Incident.objects.create(
            cad_number=f"T{made['n']:06d}",
            call_type=CallType.objects.get_or_create(code=call_type)[0],
            priority=3,
            address="3rd Ave & Pine St",
            latitude=47.61,
            longitude=-122.34,
            received_at=received,
            area=area,
            eligible=eligible,
            recommendation="dual_dispatch",
            dispatch_model="911_led",
            status=status,
            response=response,
            police_only_code_id=police_only_code,
            created_by=people["dispatcher"],
        )
        at = lambda m: None if m is None else dispatched + m * MIN  # noqa: E731
        if response in (ResponseSent.DUAL, ResponseSent.POLICE_ONLY):
            Assignment.objects.create(
                incident=incident,
                unit=units["2M12"],
                kind=UnitKind.SPD,
                status="cleared",
                dispatched_at=dispatched,
                on_scene_at=at(5),
                scene_safe_at=at(spd_safe),
                cleared_at=at(spd_clears),
            )
        if response == ResponseSent.DUAL:
            Assignment.objects.create(
                incident=incident,
                unit=units["CARE-1"],
                kind=UnitKind.CARE,
                status="cleared",
                dispatched_at=dispatched,
                on_scene_at=at(care_arrives),
                cleared_at=at(care_clears),
            )
        return incident

    return call


def figures(start: datetime.date = DAY, end: datetime.date = DAY) -> dict:
    return program_metrics(start=start, end=end)


def small_counts_in(value, path: str = "") -> list[str]:
    """Every whole number from 1 to 10 anywhere in the figures (hours of day are labels)."""
    found = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key != "hour":
                found += small_counts_in(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            found += small_counts_in(inner, f"{path}[{i}]")
    elif isinstance(value, int) and not isinstance(value, bool) and 0 < value < 11:
        found.append(f"{path}={value}")
    return found


def test_calls_care_responded_to_are_counted_by_call_type_area_and_hour(history):
    for _ in range(12):
        history(call_type=DOWN, area="BELLTOWN", hour=14)
    for _ in range(11):
        history(call_type=WELFARE, area="SODO", hour=15)
    for _ in range(11):
        history(response=ResponseSent.DUAL, care_arrives=None, care_clears=None)  # never arrived

    m = figures()

    assert m["care_responded"] == 23
    assert m["dual_dispatched"] == 34
    assert m["care_responded_by_call_type"] == [
        {"call_type": DOWN, "count": 12},
        {"call_type": WELFARE, "count": 11},
    ]
    assert {r["area"]: r["count"] for r in m["care_responded_by_area"]} == {
        "BELLTOWN": 12,
        "SODO": 11,
    }
    by_hour = {r["hour"]: r["count"] for r in m["care_responded_by_hour"]}
    assert by_hour[14] == 12 and by_hour[15] == 11 and by_hour[3] == 0
    assert len(by_hour) == 24


def test_median_times_and_police_time_freed_follow_their_definitions(history):
    # CARE arrives 1..11 minutes after dispatch (median 6); SPD clears 4 minutes after scene safe;
    # CARE stays 30 minutes; SPD clears at 12, CARE at 6+30..: freed = care_clears - spd_clears.
    for arrive in range(1, 12):
        history(care_arrives=arrive, spd_safe=8, spd_clears=12, care_clears=arrive + 30)

    m = figures()

    assert m["median_dispatch_to_arrival_minutes"] == 6.0
    assert m["median_scene_safe_to_spd_clear_minutes"] == 4.0
    assert m["median_care_time_on_scene_minutes"] == 30.0
    # Freed per call: (arrive + 30) - 12 minutes, arrive = 1..11 -> 19..29, total 264 minutes.
    assert m["police_time_freed_hours"] == round(264 / 60, 1)
    assert m["police_time_freed_calls"] == 11


def test_police_time_freed_is_zero_when_care_clears_before_the_officers(history):
    for _ in range(11):
        history(care_arrives=5, spd_safe=8, spd_clears=50, care_clears=30)

    assert figures()["police_time_freed_hours"] == 0.0


def test_a_count_under_11_and_every_figure_derived_from_it_is_suppressed(history):
    for arrive in range(1, 6):
        history(care_arrives=arrive)

    m = figures()

    assert m["care_responded"] == SUPPRESSED
    assert m["median_dispatch_to_arrival_minutes"] == SUPPRESSED
    assert m["median_care_time_on_scene_minutes"] == SUPPRESSED
    assert m["police_time_freed_hours"] == SUPPRESSED
    assert small_counts_in(m) == []


def test_a_lone_small_cell_takes_the_next_smallest_with_it_so_subtraction_reveals_nothing(
    history,
):
    for _ in range(20):
        history(call_type=DOWN)
    for _ in range(12):
        history(call_type=WELFARE)
    for _ in range(3):
        history(call_type="DISTURBANCE - OTHER")

    by_type = {r["call_type"]: r["count"] for r in figures()["care_responded_by_call_type"]}

    assert by_type == {DOWN: 20, WELFARE: WITHHELD, "DISTURBANCE - OTHER": SUPPRESSED}


def test_eligible_police_only_calls_phone_resolutions_and_hotline_referrals_are_counted(history):
    for _ in range(11):
        history(response=ResponseSent.POLICE_ONLY, police_only_code="no_care_team")
    for _ in range(2):
        history(response=ResponseSent.POLICE_ONLY, police_only_code="supervisor_decision")
    for _ in range(11):
        history(response=ResponseSent.NONE, status=IncidentStatus.RESOLVED_BY_PHONE)
    for _ in range(4):
        history(response=ResponseSent.NONE, status=IncidentStatus.REFERRED_TO_HOTLINE)

    m = figures()

    assert m["eligible_police_only"] == 13
    assert m["eligible_police_only_reasons"] == [
        {"reason": "no_care_team", "label": "No CARE team available", "count": WITHHELD},
        {"reason": "supervisor_decision", "label": "Supervisor decision", "count": SUPPRESSED},
    ]
    assert m["referred_to_hotline"] == SUPPRESSED
    # The 28 eligible calls less the 13 sent police only and 11 resolved by phone would leave
    # the 4 referred to a hotline: the phone count is withheld with it.
    assert m["eligible_calls"] == 28
    assert m["resolved_by_phone"] == WITHHELD


def test_naloxone_referrals_and_client_experience_are_counted_with_their_outcomes(history, people):
    care1 = people["care1"]
    service = DirectoryService.objects.first()
    for i in range(12):
        incident = history()
        encounter = Encounter.objects.create(
            id=uuid.uuid4(),
            recorded_by=care1,
            assignment=incident.assignments.get(kind=UnitKind.CARE),
            started_at=incident.received_at,
        )
        NaloxoneAdministration.objects.create(
            id=uuid.uuid4(),
            recorded_by=care1,
            encounter=encounter,
            administered_at=incident.received_at,
            doses=1,
            dose_mg=4,
            route="intranasal",
            response="improved",
            ems_called=i < 11,
        )
        Referral.objects.create(
            id=uuid.uuid4(),
            recorded_by=care1,
            encounter=encounter,
            service=service,
            consent=True,
            status="connected" if i < 11 else "made",
            made_at=incident.received_at,
        )
        SurveyResponse.objects.create(
            id=uuid.uuid4(),
            recorded_by=care1,
            encounter=encounter,
            consent=True,
            answers={"respected": 5 if i < 6 else 3},
            answered_at=incident.received_at,
        )

    m = figures()

    assert m["naloxone_administrations"] == 12
    # 11 of 12 with EMS called would reveal the 1 without: the part is withheld.
    assert m["naloxone_ems_called"] == WITHHELD
    assert {r["response"]: r["count"] for r in m["naloxone_by_response"]}["Improved"] == 12
    assert m["referrals_made"] == 12
    assert m["referrals_connected"] == WITHHELD
    # 11 of 12 connected leaves 1 not connected: the share would reveal it.
    assert m["referrals_connected_share"] == SUPPRESSED
    respected = next(q for q in m["client_experience"]["questions"] if q["key"] == "respected")
    assert respected["answers"] == 12
    assert respected["average"] == 4.0
    assert respected["agree_share"] == SUPPRESSED  # 6 agree, 6 don't
    assert m["client_experience"]["responses"] == 12


def test_a_part_is_shown_when_its_whole_minus_it_is_11_or_more(history):
    for _ in range(11):
        history(eligible=True)
    for _ in range(11):
        history(eligible=False, response=ResponseSent.POLICE_ONLY)

    m = figures()

    assert (m["calls"], m["eligible_calls"]) == (22, 11)


def test_a_part_that_would_reveal_a_small_remainder_is_withheld(history):
    for _ in range(12):
        history(eligible=True)
    history(eligible=False, response=ResponseSent.POLICE_ONLY)

    m = figures()

    assert (m["calls"], m["eligible_calls"]) == (13, WITHHELD)
    assert small_counts_in(m) == []


def test_the_date_range_is_local_days_inclusive(history):
    for _ in range(11):
        history(day=17, hour=23)
    for _ in range(12):
        history(day=18, hour=11)

    assert figures()["care_responded"] == 12
    assert figures(DAY - datetime.timedelta(days=1), DAY)["care_responded"] == 23


def test_the_figures_take_a_bounded_number_of_queries_however_many_calls(
    history, django_assert_max_num_queries
):
    for hour in range(11, 23):
        history(hour=hour)

    with django_assert_max_num_queries(14):
        figures()


def test_the_csv_holds_the_same_values_as_the_api(history, client, people):
    for _ in range(15):
        history()
    for _ in range(3):
        history(call_type=WELFARE)
    client.force_login(people["coordinator"])

    api = client.get("/api/v1/metrics?from=2026-11-18&to=2026-11-18").json()
    answer = client.get("/dashboard.csv?from=2026-11-18&to=2026-11-18")

    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    assert rows[0] == ["section", "item", "value"]
    # Written from the 18 calls above (15 down, 3 welfare; 14:00 in Belltown), not from the view.
    expected = [
        ["range", "from", "2026-11-18"],
        ["range", "to", "2026-11-18"],
        ["figures", "calls", "18"],
        ["figures", "care_responded", "18"],
        ["figures", "naloxone_administrations", "0"],
        ["care_responded_by_call_type", WELFARE, SUPPRESSED],
        # 15 would give away the 3 welfare checks (18 - 15), so it is withheld too.
        ["care_responded_by_call_type", "DOWN - CHECK FOR DOWN PERSON", "withheld"],
        ["care_responded_by_area", "BELLTOWN", "18"],
        ["care_responded_by_hour", "13", "0"],
        ["care_responded_by_hour", "14", "18"],
        ["client_experience", "responses", "0"],
        ["client_experience", "helped.average", ""],
    ]
    assert rows[1:3] == expected[:2]
    for row in expected:
        assert row in rows
    # Every single figure the API answers is in the CSV with the same value.
    for key, value in api.items():
        not_figures = ("from", "to", "period", "period_label")
        if not isinstance(value, (list, dict)) and key not in not_figures:
            assert ["figures", key, "" if value is None else str(value)] in rows
