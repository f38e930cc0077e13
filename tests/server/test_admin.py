"""Django admin as a supervisor uses it: opening a person's clinical record is audited, the incident
export writes what was selected (and no spreadsheet formula from free text), and the records made
in the field or by the feed can be read but not added, changed or deleted there."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from django.test import Client

from server.accounts.models import Role, User
from server.audit.models import AuditEntry
from server.care.models import Encounter
from server.care.services import upsert_encounter
from server.dispatch.models import Assignment, AssignmentTransition, Incident
from server.feed.models import Event
from tests.conftest import PASSWORD


@pytest.fixture
def supervisor(people) -> Client:
    user = User.objects.create_superuser(
        "supervisor", "supervisor@example.org", PASSWORD, role=Role.ADMIN
    )
    browser = Client()
    assert browser.login(username="supervisor", password=PASSWORD)
    browser.user = user
    return browser


@pytest.fixture
def encounter(dispatched, people) -> Encounter:
    call = dispatched()
    return upsert_encounter(
        actor=people["care1"],
        encounter_id=uuid.uuid4(),
        assignment_id=call["care"],
        changes={"people_contacted": 1, "disposition": "referred", "notes": "Asked for a bed."},
    )


def test_opening_an_encounter_in_admin_is_audited_with_who_and_which(supervisor, encounter):
    page = supervisor.get(f"/admin/care/encounter/{encounter.pk}/change/")

    assert page.status_code == 200
    assert "Asked for a bed." in page.content.decode()
    [entry] = AuditEntry.objects.filter(action="encounter.viewed")
    assert entry.actor_id == supervisor.user.pk
    assert (entry.object_type, entry.object_id) == ("care.encounter", str(encounter.pk))


def test_the_encounter_list_alone_records_no_view_of_a_record(supervisor, encounter):
    assert supervisor.get("/admin/care/encounter/").status_code == 200
    assert not AuditEntry.objects.filter(action="encounter.viewed").exists()


def test_an_encounter_cannot_be_added_changed_or_deleted_in_admin(supervisor, encounter):
    assert supervisor.get("/admin/care/encounter/add/").status_code == 403
    # Every field is read-only: a forged form post changes nothing.
    supervisor.post(
        f"/admin/care/encounter/{encounter.pk}/change/", {"notes": "Rewritten.", "_save": "Save"}
    )
    assert supervisor.post(f"/admin/care/encounter/{encounter.pk}/delete/").status_code == 403
    stored = Encounter.objects.get(pk=encounter.pk)
    assert stored.notes == "Asked for a bed." and stored.version == encounter.version


def _export(supervisor, incidents: list[Incident]) -> list[list[str]]:
    answer = supervisor.post(
        "/admin/dispatch/incident/",
        {"action": "export_csv", "_selected_action": [str(i.pk) for i in incidents]},
    )
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/csv")
    assert answer["Content-Disposition"].startswith('attachment; filename="incidents-')
    return list(csv.reader(io.StringIO(answer.content.decode())))


def test_the_incident_export_writes_the_selected_calls_and_only_those(
    supervisor, new_call, dispatched
):
    chosen = Incident.objects.get(pk=dispatched(cad_number="2026-ADMIN-0001")["incident"]["id"])
    Incident.objects.get(pk=new_call(cad_number="2026-ADMIN-0002")["id"])  # not selected

    rows = _export(supervisor, [chosen])

    assert rows[0] == [
        "cad_number",
        "received_at",
        "call_type__code",
        "priority",
        "area",
        "beat",
        "eligible",
        "recommendation",
        "response",
        "status",
        "police_only_code",
        "police_only_note",
        "override_reason",
        "dispatch_model",
    ]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    # Written from the call the fixtures make: 3rd & Pine, a person down, sent to both units.
    assert row["cad_number"] == "2026-ADMIN-0001"
    assert row["call_type__code"] == "DOWN - CHECK FOR DOWN PERSON"
    assert (row["priority"], row["area"], row["beat"]) == ("3", "DOWNTOWN COMMERICAL", "M1")
    assert (row["eligible"], row["recommendation"]) == ("True", "dual_dispatch")
    assert (row["response"], row["police_only_code"], row["override_reason"]) == ("dual", "", "")


def test_free_text_in_the_incident_export_cannot_become_a_spreadsheet_formula(
    supervisor, new_call, client_for, units
):
    incident = new_call(cad_number="2026-ADMIN-0003")
    answer = client_for("dispatcher").post(
        f"/api/v1/incidents/{incident['id']}/dispatch",
        {
            "care_unit": None,
            "spd_unit": units["2M12"].pk,
            "police_only_code": "other",
            "override_reason": '=HYPERLINK("http://example.invalid","help")',
        },
        format="json",
    )
    assert answer.status_code == 201, answer.content

    [_, row] = _export(supervisor, [Incident.objects.get(pk=incident["id"])])

    reason = row[11]  # police_only_note: the override reason is kept as the internal note
    assert "HYPERLINK" in reason  # the text is kept...
    assert reason[0] not in "=+-@\t\r"  # ...but a spreadsheet reads it as text, not a formula


@pytest.mark.parametrize(
    "listing",
    [
        "/admin/dispatch/assignmenttransition/",
        "/admin/feed/event/",
        "/admin/sync/appliedmutation/",
    ],
)
def test_records_the_field_and_the_feed_write_are_read_only_in_admin(
    supervisor, dispatched, move, listing
):
    call = dispatched()
    assert move("care1", call["care"], "acknowledged").status_code == 200
    assert supervisor.get(listing).status_code == 200
    assert supervisor.get(f"{listing}add/").status_code == 403
    model = {
        "/admin/dispatch/assignmenttransition/": AssignmentTransition,
        "/admin/feed/event/": Event,
    }.get(listing)
    if model is None:
        return  # no applied mutation without a push; the add page is what is checked
    record = model.objects.order_by("pk").last()
    page = supervisor.get(f"{listing}{record.pk}/change/")
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert supervisor.post(f"{listing}{record.pk}/change/", {"_save": "Save"}).status_code == 403
    assert supervisor.post(f"{listing}{record.pk}/delete/", {"post": "yes"}).status_code == 403
    assert model.objects.filter(pk=record.pk).exists()


def test_an_assignment_cannot_be_added_or_deleted_in_admin(supervisor, dispatched):
    call = dispatched()
    assert supervisor.get("/admin/dispatch/assignment/add/").status_code == 403
    delete = supervisor.post(f"/admin/dispatch/assignment/{call['care']}/delete/", {"post": "yes"})
    assert delete.status_code == 403
    assert Assignment.objects.filter(pk=call["care"]).exists()
