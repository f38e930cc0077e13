"""The figures peer programs publish, on the public dashboard, its CSV and GET /api/v1/metrics:
for a whole closed period only, with the same small-cell and complementary suppression as every
other public count. The calls are written here one by one, and every expected figure is worked
out by hand from them in the comments."""

from __future__ import annotations

import csv
import datetime
import io
import re
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from server.care.models import Disposition, Encounter
from server.dispatch.models import (
    Assignment,
    AssignmentStatus,
    BackupRequest,
    CallType,
    DispatchModel,
    Incident,
    IncidentStatus,
    Recommendation,
    ResponseSent,
    UnitKind,
)
from server.reports.metrics import PEER_MEASURES, PEER_TOTALS
from server.reports.models import PublishedMonth

SEATTLE = ZoneInfo("America/Los_Angeles")
MARKER = "Qzv5518 Jane Roe 1980-02-03"


@pytest.fixture(autouse=True)
def _published_when_closed(settings):
    settings.CARE_PUBLIC_FIGURES_DELAY_DAYS = 0


def last_month() -> datetime.date:
    """The first day of the month before this one, in Seattle: closed, so published (no delay)."""
    today = timezone.localdate(timezone=SEATTLE)
    return (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)


@pytest.fixture
def month_calls(people, units):
    """month_calls(...) writes calls received on the 10th of last month, between 12:00 and
    13:00, all of one call type and area; each call's free text holds MARKER."""
    call_type = CallType.objects.order_by("code").first()
    noon = datetime.datetime.combine(last_month().replace(day=10), datetime.time(12), SEATTLE)
    made = {"n": 0}

    def call(*, eligible: bool, care_arrives: bool) -> Assignment | None:
        made["n"] += 1
        received = noon + datetime.timedelta(seconds=made["n"])
        incident = Incident.objects.create(
            id=uuid.uuid4(),
            cad_number=f"PEER-{made['n']}",
            call_type=call_type,
            priority=3,
            address=MARKER,
            latitude=47.61,
            longitude=-122.34,
            narrative=MARKER,
            received_at=received,
            area="Downtown",
            in_pilot_area=True,
            eligible=eligible,
            recommendation=Recommendation.DUAL_DISPATCH,
            dispatch_model=DispatchModel.NINE_ONE_ONE_LED,
            status=IncidentStatus.CLOSED,
            response=ResponseSent.DUAL,
            override_reason=MARKER,
            resolution_note=MARKER,
            created_by=people["dispatcher"],
            dispatched_at=received + datetime.timedelta(minutes=1),
            closed_at=received + datetime.timedelta(hours=3),
        )
        if not care_arrives:
            return None
        return Assignment.objects.create(
            id=uuid.uuid4(),
            incident=incident,
            unit=units["CARE-1"],
            kind=UnitKind.CARE,
            status=AssignmentStatus.CLEARED,
            dispatched_at=incident.dispatched_at,
            on_scene_at=incident.dispatched_at + datetime.timedelta(minutes=10),
            cleared_at=incident.dispatched_at + datetime.timedelta(minutes=70),
            safety_note=MARKER,
        )

    def encounter(care: Assignment, disposition: str | None) -> None:
        Encounter.objects.create(
            id=uuid.uuid4(),
            recorded_by=people["care1"],
            assignment=care,
            started_at=care.on_scene_at,
            disposition=Disposition.objects.get(code=disposition) if disposition else None,
            notes=MARKER,
        )

    def backup(care: Assignment, minutes_to_arrive: int) -> None:
        requested = care.on_scene_at + datetime.timedelta(minutes=5)
        officers = Assignment.objects.create(
            id=uuid.uuid4(),
            incident=care.incident,
            unit=units["2M12"],
            kind=UnitKind.SPD,
            status=AssignmentStatus.CLEARED,
            dispatched_at=requested,
            on_scene_at=requested + datetime.timedelta(minutes=minutes_to_arrive),
            safety_note=MARKER,
        )
        BackupRequest.objects.create(
            id=uuid.uuid4(),
            assignment=care,
            incident=care.incident,
            urgent=True,
            requested_by=people["care1"],
            requested_at=requested,
            answered_by=officers,
            answered_at=requested,
        )

    return {"call": call, "encounter": encounter, "backup": backup}


@pytest.fixture
def enough_calls(month_calls):
    """42 eligible dual-dispatched calls; CARE arrived on 30. Of their 30 encounters, 12 ended
    with the person not found and 18 declined services. 12 of those calls asked for backup,
    whose officers arrived after 5, 6, ... 16 minutes."""
    teams = [month_calls["call"](eligible=True, care_arrives=True) for _ in range(30)]
    for _ in range(12):
        month_calls["call"](eligible=True, care_arrives=False)
    for n, care in enumerate(teams):
        month_calls["encounter"](care, "unable-to-locate" if n < 12 else "declined-services")
    for n, care in enumerate(teams[:12]):
        month_calls["backup"](care, 5 + n)


def test_the_public_figures_of_a_closed_month_include_the_peer_programs_figures(
    enough_calls, client
):
    answer = client.get(f"/api/v1/metrics?period={last_month():%Y-%m}")

    assert answer.status_code == 200, answer.content
    figures = answer.json()
    assert figures["eligible_calls"] == 42
    assert figures["eligible_care_responded"] == 30
    assert figures["eligible_care_responded_share"] == 71.4  # 30 / 42 = 71.43 %
    assert figures["backup_requested"] == 12
    assert figures["backup_to_arrival_calls"] == 12
    # Twelve times, 5 to 16 minutes: the middle two are 10 and 11.
    assert figures["median_backup_to_arrival_minutes"] == 10.5
    assert figures["person_not_found"] == 12
    assert figures["declined_services"] == 18
    assert figures["transports"] == 0
    assert "backup_requested" in figures["definitions"]


def test_a_peer_figure_under_11_is_withheld_and_so_is_the_count_that_would_give_it_away(
    month_calls, client
):
    call = month_calls["call"]
    # 20 calls CARE reached: 6 eligible, 14 not; 12 more eligible calls it did not reach.
    teams = [call(eligible=True, care_arrives=True) for _ in range(6)]
    teams += [call(eligible=False, care_arrives=True) for _ in range(14)]
    for _ in range(12):
        call(eligible=True, care_arrives=False)
    # 20 encounters: 4 people not found, 16 declined services.
    for n, care in enumerate(teams):
        month_calls["encounter"](care, "unable-to-locate" if n < 4 else "declined-services")
    # 5 backups, all answered.
    for care in teams[:5]:
        month_calls["backup"](care, 9)

    figures = client.get(f"/api/v1/metrics?period={last_month():%Y-%m}").json()

    assert figures["encounters"] == 20
    assert figures["person_not_found"] == "<11"
    # Shown, 20 encounters less 16 declined less 0 transported would leave the 4 not found
    # (and the encounters without a disposition, none here): the 16 is withheld with it.
    assert figures["declined_services"] == "withheld"
    assert figures["transports"] == 0
    # 6 eligible calls reached: under 11. Its complements are 18 - 6 = 12 eligible calls not
    # reached and 20 - 6 = 14 calls reached that were not eligible, neither under 11.
    assert figures["eligible_calls"] == 18
    assert figures["care_responded"] == 20
    assert figures["eligible_care_responded"] == "<11"
    assert figures["eligible_care_responded_share"] == "<11"
    assert figures["backup_requested"] == "<11"
    assert figures["backup_to_arrival_calls"] == "<11"
    # A median over 5 requests is not published.
    assert figures["median_backup_to_arrival_minutes"] == "<11"


def test_the_open_month_is_refused_and_the_public_cannot_ask_a_range_of_days(enough_calls, client):
    this_month = timezone.localdate(timezone=SEATTLE).replace(day=1)
    first = last_month()

    current = client.get(f"/api/v1/metrics?period={this_month:%Y-%m}")
    ranged = client.get(f"/api/v1/metrics?from={first}&to={first.replace(day=28)}")
    page = client.get(f"/dashboard/?from={first}&to={first.replace(day=28)}")
    staff_only = client.get(f"/api/v1/metrics/peer?from={first}&to={first.replace(day=28)}")

    assert current.status_code == 400
    assert "published on" in current.json()["detail"]
    assert "backup_requested" not in current.json()
    assert ranged.status_code == 400
    assert ranged.json()["code"] == "invalid"
    assert "backup_requested" not in ranged.json()
    assert page.status_code == 400
    assert 'id="peer-figures"' not in page.content.decode()
    assert staff_only.status_code == 401


def test_the_public_page_and_csv_show_the_peer_figures_and_no_word_anyone_typed(
    enough_calls, client
):
    period = f"{last_month():%Y-%m}"
    page = client.get(f"/dashboard/?period={period}")
    download = client.get(f"/dashboard.csv?period={period}")

    assert page.status_code == download.status_code == 200
    body = page.content.decode()
    shown = dict(re.findall(r'data-figure="([a-z_]+)">([^<]*)<', body))
    assert shown["eligible_care_responded_share"] == "71.4%"
    assert shown["eligible_care_responded"] == "30"
    assert shown["backup_requested"] == "12"
    assert shown["median_backup_to_arrival_minutes"] == "10.5"
    assert shown["person_not_found"] == "12"
    assert shown["declined_services"] == "18"
    assert shown["transports"] == "0"
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    for row in (
        ["figures", "eligible_care_responded", "30"],
        ["figures", "eligible_care_responded_share", "71.4"],
        ["figures", "backup_requested", "12"],
        ["figures", "median_backup_to_arrival_minutes", "10.5"],
        ["figures", "person_not_found", "12"],
        ["figures", "declined_services", "18"],
        ["figures", "transports", "0"],
    ):
        assert row in rows
    for where in (body, download.content.decode()):
        for piece in ("Qzv5518", "Jane Roe", "1980-02-03"):
            assert piece not in where


def test_a_month_published_before_the_peer_figures_were_counted_gets_them_once(
    enough_calls, client
):
    period = f"{last_month():%Y-%m}"
    first = client.get(f"/api/v1/metrics?period={period}").json()
    stored = PublishedMonth.objects.get(month=last_month())
    # As a month published by the code before: no peer parts, not marked as having them.
    PublishedMonth.objects.filter(pk=stored.pk).update(
        figures=[f for f in stored.figures if f[0] not in PEER_TOTALS],
        durations=[d for d in stored.durations if d[0] not in PEER_MEASURES],
        has_peer_figures=False,
    )
    # A record changed after publication moves only the peer figures being added, once.
    Incident.objects.filter(eligible=True).update(eligible=False)
    Encounter.objects.filter(disposition__code="unable-to-locate").update(disposition=None)

    again = client.get(f"/api/v1/metrics?period={period}").json()
    BackupRequest.objects.all().delete()
    later = client.get(f"/api/v1/metrics?period={period}").json()

    assert again["eligible_calls"] == first["eligible_calls"] == 42  # as first published
    assert again["backup_requested"] == 12
    assert again["person_not_found"] == 0  # added from the calls as they stood then
    assert later == again
