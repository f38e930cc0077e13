"""The peer programs' figures: the share of eligible calls CARE reached, police backup asked for
and its time to arrive, and the supervisors' page of eligible calls sent police only."""

from __future__ import annotations

import datetime
import re
import uuid

from django.test import Client
from django.utils import timezone

from server.accounts.models import Role, User
from server.care.models import Disposition, Encounter
from server.dispatch.models import Assignment, BackupRequest, Incident
from server.reports.peer_figures import dispatcher_outcomes, peer_counts, police_only_report
from tests.server.dispatch.conftest import reference  # noqa: F401 - the fast reference data


def test_backup_is_counted_with_its_minutes_from_request_to_the_officer_on_scene(
    dispatched, people
):
    call = dispatched()
    care = Assignment.objects.get(pk=call["care"])
    requested = timezone.now() - datetime.timedelta(minutes=30)
    backup = Assignment.objects.get(pk=call["spd"])
    Assignment.objects.filter(pk=backup.pk).update(
        on_scene_at=requested + datetime.timedelta(minutes=8)
    )
    Assignment.objects.filter(pk=care.pk).update(on_scene_at=requested)
    BackupRequest.objects.create(
        id=uuid.uuid4(),
        assignment=care,
        incident=care.incident,
        requested_by=people["care1"],
        requested_at=requested,
        answered_by=backup,
        answered_at=requested,
    )
    counts = peer_counts(Incident.objects.all())
    assert counts["backup_requested"] == 1
    assert counts["backup_minutes_median"] == 8.0
    assert counts["eligible_calls"] == 1
    assert counts["eligible_calls_care_responded"] == 1
    assert dispatcher_outcomes(people["dispatcher"])["peer_outcomes"]["backup_requested"] == 1


def test_the_peer_figures_are_for_staff_and_withhold_small_counts(dispatched, client, client_for):
    dispatched()
    assert client.get("/api/v1/metrics/peer").status_code == 401  # not public: see peer_api
    answer = client_for("coordinator").get("/api/v1/metrics/peer")
    assert answer.status_code == 200
    figures = answer.json()
    # One eligible call, which CARE has not reached yet: the same suppression as the public's.
    assert figures["eligible_calls"] == "<11"
    assert figures["eligible_care_responded"] == 0
    assert figures["eligible_care_responded_share"] == "<11"
    assert figures["median_backup_to_arrival_minutes"] is None


def test_the_supervisor_page_groups_police_only_calls_by_reason_dispatcher_and_week(
    new_call, client_for, units, people
):
    incident = new_call()
    answer = client_for("dispatcher").post(
        f"/api/v1/incidents/{incident['id']}/dispatch",
        {
            "care_unit": None,
            "spd_unit": units["2M12"].pk,
            "police_only_code": "safety_after_screening",
            "override_reason": "weapon reported by a neighbour",
        },
        format="json",
    )
    assert answer.status_code == 201, answer.content
    received = Incident.objects.get(pk=incident["id"]).received_at.date()
    report = police_only_report(start=received, end=received)
    assert report["police_only"] == 1
    assert report["by"]["reason"] == [("safety_after_screening", 1)]
    assert report["by"]["dispatcher"] == [("dispatcher", 1)]

    page = Client()
    page.force_login(people["admin"])
    shown = page.get(f"/reports/police-only/?from={received}&to={received}")
    assert shown.status_code == 200
    assert "safety_after_screening" in shown.content.decode()
    assert "weapon reported by a neighbour" not in shown.content.decode()  # the note stays in
    page.force_login(people["dispatcher"])
    assert page.get("/reports/police-only/").status_code == 403


def test_the_board_shows_the_peer_figures_of_the_dispatchers_own_calls_only(
    dispatched, new_call, people
):
    mine = dispatched()
    theirs = new_call()
    colleague = User.objects.create_user(username="dispatcher2", role=Role.DISPATCHER)
    Incident.objects.filter(pk=theirs["id"]).update(created_by=colleague)
    Assignment.objects.filter(pk=mine["care"]).update(on_scene_at=timezone.now())
    Encounter.objects.create(
        id=uuid.uuid4(),
        recorded_by=people["care1"],
        assignment=Assignment.objects.get(pk=mine["care"]),
        started_at=timezone.now(),
        disposition=Disposition.objects.get(code="transported"),
    )
    board = Client()
    board.force_login(people["dispatcher"])

    page = board.get("/dispatch/").content.decode()

    panel = page.split('id="peer-outcomes"')[1].split("</dl>")[0]
    # Their call, eligible and not reached, would make it 1 of 2.
    assert "<dd>1 of 1 (100.0 %)</dd>" in panel
    assert re.search(r"<dt>Transports</dt><dd>1</dd>", panel)
    assert re.search(r"<dt>Declined services</dt><dd>0</dd>", panel)
