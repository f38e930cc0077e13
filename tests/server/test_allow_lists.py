"""What an SPD officer, a coordinator and a partner organization's key receive, key by key.

The privacy wall checked by its allow-lists, not by looking for sentinel text: every answer these
three can get — REST under /api/v1, the partner's FHIR resources, `/api/v1/sync/pull` events, the
snapshot and the live socket — must carry exactly the keys written out below, nested objects
included. A key added to any of their shapes (an officer's assignment gaining `naloxone_given`, a
coordinator's `encounter_summary` gaining `notes`) fails here until it is written into this file,
which is the review of what that audience may read. The shapes are written from docs/security.md
("Minimum necessary, per role") and the presenters' docstrings, independently of the code.

A GET the authorization matrix opens to the officer or the coordinator without a row in
`SHAPED_GETS` fails `test_every_answer_an_officer_or_coordinator_may_read_has_its_shape_here`.
"""

from __future__ import annotations

import datetime
import json
import uuid
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.utils import timezone
from rest_framework.test import APIClient

from server.accounts import system_clients
from server.accounts.services import issue_device_token
from server.asgi import application
from server.care.models import Referral
from server.dispatch.models import Emergency, RosterEntry
from server.feed.services import unit_stream
from server.interop.hsds import import_hsds
from tests.conftest import PASSWORD
from tests.server.test_authorization_matrix import EXPECTED_API, fill, served

HSDS = Path(__file__).parent / "interop" / "hsds" / "publication.json"
HARBOR = "6a0c1f3e-2b1d-4e6f-9a3b-000000000001"
NIGHT_SHELTER = "8d2e5c10-1a2b-4c3d-8e9f-000000000001"

# ---- the shapes, written out -----------------------------------------------------------------

# An assignment as a unit in the field reads it (its own, and the partner unit's state).
CALL = {
    "id", "cad_number", "call_type", "priority", "address", "latitude", "longitude", "beat",
    "narrative", "received_at", "status", "source",
}  # fmt: skip
PARTNER = {"assignment", "unit", "call_sign", "kind", "status", "scene_safe_at", "safety_note"}
POLICE_ASSIGNMENT = {
    "id", "unit", "call_sign", "kind", "status", "version", "dispatched_at", "delivered_at",
    "acknowledged_at", "on_scene_at", "scene_safe_at", "cleared_at", "safety_note", "incident",
    "partners",
}  # fmt: skip
# The CARE crew's own shape of the same events: today the same keys, written apart so that a key
# added for the crew is a decision about the crew, and one added for the police another.
CREW_ASSIGNMENT = {
    "id", "unit", "call_sign", "kind", "status", "version", "dispatched_at", "delivered_at",
    "acknowledged_at", "on_scene_at", "scene_safe_at", "cleared_at", "safety_note", "incident",
    "partners",
}  # fmt: skip
STEP = {"from", "to", "occurred_at", "recorded_at"}
STEP_WITH_NOTE = {"from", "to", "occurred_at", "recorded_at", "note"}

UNIT = {"id", "call_sign", "kind", "status", "home_beat", "position", "duty_status", "signed_on"}
SIGNED_ON = {"user", "username", "since"}
STAFFING = {"id", "call_sign", "kind", "duty_status", "duty_status_at", "signed_on"}
STAFFING_SIGNED_ON = {"user", "username", "since", "vehicle"}
SHIFT = {
    "id", "unit", "call_sign", "user", "username", "partner", "vehicle", "started_at", "ended_at",
}  # fmt: skip
ROSTER_ENTRY = {
    "id", "unit", "call_sign", "user", "username", "first_day", "last_day", "note", "cancelled",
}  # fmt: skip
SIGN_ON_REQUEST = {
    "id", "unit", "call_sign", "user", "username", "day", "reason", "status", "requested_at",
    "decided_at",
}  # fmt: skip
EMERGENCY = {
    "id", "unit", "call_sign", "kind", "started_at", "latitude", "longitude", "position_at",
    "incident", "acknowledged_at", "ended_at", "alerted_units",
}  # fmt: skip
EMERGENCY_REALERTED = {
    "id", "unit", "call_sign", "kind", "started_at", "latitude", "longitude", "position_at",
    "incident", "acknowledged_at", "ended_at", "alerted_units", "realerted_at",
}  # fmt: skip
EMERGENCY_CALL = {"id", "cad_number", "address"}
POSITION_ANSWER = {"unit", "status"}
CAUTIONS = {"incident", "radius_m", "cautions"}
CAUTION = {"kind", "date", "note", "distance_m"}
ME = {"id", "username", "full_name", "role", "unit"}
ME_UNIT = {"id", "call_sign", "kind"}
TOKEN = {"token", "device_id", "user"}

# A coordinator's follow-up view (docs/security.md, "Minimum necessary, per role").
REFERRAL = {
    "id", "encounter", "service", "consent", "status", "made_at", "note", "follow_up_due",
    "version", "before_scene_safe",
}  # fmt: skip
REFERRAL_ROW = REFERRAL | {"service_name", "unit"}
REFERRAL_DETAIL = REFERRAL | {"service_name", "encounter_summary", "updates"}
REFERRAL_UPDATE = {"from", "to", "note", "follow_up_due", "author", "at"}
FOLLOW_UP_SUMMARY = {
    "id", "assignment", "version", "started_at", "people_contacted", "client_initials",
    "client_birth_year", "disposition", "services", "naloxone_given", "referrals",
}  # fmt: skip
# The crew's own record of the encounter, for contrast: its notes, not the follow-up summary.
CREW_ENCOUNTER = {
    "id", "assignment", "version", "started_at", "people_contacted", "client_initials",
    "client_birth_year", "disposition", "notes", "before_scene_safe",
}  # fmt: skip
FOLLOW_UP_EVENT = {"id", "status", "status_label", "version", "follow_up_due", "update"}
FOLLOW_UP_EVENT_UPDATE = {"at", "by", "from_status", "to_status", "note", "follow_up_due"}
DIRECTORY_SERVICE = {
    "id", "name", "organization", "category", "description", "phone", "address", "hours", "url",
    "opening", "capacity",
}  # fmt: skip

Shape = set[str] | tuple[set[str], ...]  # one exact key set, or a choice of exact key sets

# Every feed event: the frame, and its data by kind for each audience.
FRAME = {"stream", "seq", "kind", "data", "mutation_id", "created_at"}
SOCKET_FRAME = FRAME | {"type"}
POLICE_EVENTS = {
    "assignment.dispatched": POLICE_ASSIGNMENT,
    "assignment.updated": POLICE_ASSIGNMENT,
    "assignment.partner_updated": POLICE_ASSIGNMENT,
    "emergency.started": (EMERGENCY, EMERGENCY_REALERTED),
    "emergency.alert": (EMERGENCY, EMERGENCY_REALERTED),
    "emergency.acknowledged": EMERGENCY,
    "emergency.ended": EMERGENCY,
    "unit.updated": STAFFING,
    "roster.updated": ROSTER_ENTRY,
    "sign_on_request.updated": SIGN_ON_REQUEST,
}
# The directory changed: an import's counts, or one supervisor's edit (no record in either).
DIRECTORY_IMPORTED = {"added", "changed", "deactivated", "refused"}
DIRECTORY_EDITED = {"changed"}
COORDINATOR_EVENTS = {
    "referral.followed_up": FOLLOW_UP_EVENT,
    "directory.updated": (DIRECTORY_IMPORTED, DIRECTORY_EDITED),
}

# The snapshot, per audience.
PROTOCOL = {
    "transitions", "transition_actors", "transition_note_required", "assignment_states",
    "eligible_call_types", "call_types", "screening_questions", "pilot_hours", "dispatch_model",
    "hotline_name", "police_only_reasons", "positions", "pilot_area", "map_tile_url",
    "check_in_minutes", "check_in_grace_minutes", "emergency_hold_seconds", "caution_radius_m",
    "backup_reasons", "duty_statuses", "program_hours", "services", "dispositions",
    "survey_questions", "naloxone", "referral_statuses", "limits", "event_kinds",
    "mutation_types",
}  # fmt: skip
POLICE_SNAPSHOT = {"cursors", "server_time", "assignments", "protocol"}
COORDINATOR_SNAPSHOT = {"cursors", "server_time", "assignments", "protocol", "directory"}
PULL = {"events", "cursors", "has_more"}
PUSH_ANSWER = {"results", "server_time", "clock_skew_seconds"}
PUSH_APPLIED = {"id", "status", "server"}
PUSH_REFUSED = {"id", "status", "reason", "code", "server"}

# A partner organization's FHIR resources (server/interop/fhir.py), element by element.
REFERENCE = {"reference", "identifier", "display"}
DISPLAY = {"display"}
TASK = {
    "resourceType", "id", "meta", "status", "intent", "focus", "for", "authoredOn",
    "lastModified", "requester", "owner", "businessStatus",
}  # fmt: skip
SERVICE_REQUEST = {
    "resourceType", "id", "meta", "status", "intent", "category", "code", "subject", "authoredOn",
    "requester", "performer", "supportingInfo",
}  # fmt: skip
CONSENT = {
    "resourceType", "id", "status", "scope", "category", "patient", "dateTime", "performer",
    "organization", "policyRule", "provision",
}  # fmt: skip
ORGANIZATION = {"resourceType", "id", "identifier", "name"}
BUNDLE = {"resourceType", "id", "type", "entry"}
SEARCH_BUNDLE = {"resourceType", "type", "total", "entry"}

# Every GET the matrix opens to the officer or the coordinator, and the test here that checks
# the keys of its answer. (Schema and docs describe the API; metrics are public aggregates.)
SHAPED_GETS = {
    "GET    me": "test_an_officers_other_answers_carry_exactly_their_fields",
    "GET    protocol": "test_an_officers_snapshot_carries_exactly_its_fields",
    "GET    units": "test_an_officers_other_answers_carry_exactly_their_fields",
    "GET    assignments": "test_an_officers_assignments_carry_exactly_the_police_fields",
    "GET    assignments/<uuid:assignment_id>":
        "test_an_officers_assignments_carry_exactly_the_police_fields",
    "GET    rosters": "test_an_officers_other_answers_carry_exactly_their_fields",
    "GET    sign-on-requests": "test_an_officers_other_answers_carry_exactly_their_fields",
    "GET    incidents/<uuid:incident_id>/cautions":
        "test_an_officers_other_answers_carry_exactly_their_fields",
    "GET    directory/services": "test_a_coordinators_snapshot_carries_exactly_its_fields",
    "GET    directory.hsds.json": "not personal: the published directory (test_hsds.py)",
    "GET    encounters/<uuid:encounter_id>":
        "test_a_coordinators_encounter_and_referrals_carry_exactly_the_follow_up_fields",
    "GET    referrals":
        "test_a_coordinators_encounter_and_referrals_carry_exactly_the_follow_up_fields",
    "GET    referrals/<uuid:referral_id>":
        "test_a_coordinators_encounter_and_referrals_carry_exactly_the_follow_up_fields",
    "GET    sync/pull": "test_every_event_an_officer_pulls_carries_exactly_its_kinds_fields",
    "GET    sync/snapshot": "test_an_officers_snapshot_carries_exactly_its_fields",
    "GET    metrics": "not personal: public aggregates",
    "GET    metrics/peer": "not personal: suppressed aggregates (tests/server/reports)",
    "GET    schema/": "not a record: the OpenAPI description",
    "GET    docs/": "not a record: the API's documentation page",
}  # fmt: skip


# ---- checking a body against a shape -------------------------------------------------------


def keys(body: dict) -> set[str]:
    assert isinstance(body, dict), body
    return set(body.keys())


def check_assignment(body: dict, shape: set[str]) -> None:
    """An assignment, its call and each partner unit's state: every level exact."""
    assert keys(body) == shape
    assert keys(body["incident"]) == CALL
    assert body["partners"], "the call has a partner unit: its shape must be checked too"
    for partner in body["partners"]:
        assert keys(partner) == PARTNER


def check_staffing(body: dict) -> None:
    assert keys(body) == STAFFING
    for person in body["signed_on"]:
        assert keys(person) == STAFFING_SIGNED_ON


def check_emergency(body: dict, shapes: Shape = EMERGENCY) -> None:
    check_keys(body, shapes)
    if body["incident"] is not None:
        assert keys(body["incident"]) == EMERGENCY_CALL


def check_follow_up_event(body: dict) -> None:
    assert keys(body) == FOLLOW_UP_EVENT
    assert keys(body["update"]) == FOLLOW_UP_EVENT_UPDATE


def check_keys(body: dict, shapes: Shape) -> None:
    if isinstance(shapes, tuple):
        assert keys(body) in shapes, sorted(keys(body))
    else:
        assert keys(body) == shapes


def check_event(frame: dict, table: dict[str, Shape], frame_shape: set[str] = FRAME) -> None:
    """The frame's keys, then its data's by the kind's shape, nested objects included."""
    assert keys(frame) == frame_shape
    kind = frame["kind"]
    assert kind in table, f"{kind} reaches this audience with no shape declared here"
    data, shape = frame["data"], table[kind]
    if shape is POLICE_ASSIGNMENT or shape is CREW_ASSIGNMENT:
        check_assignment(data, shape)
    elif kind.startswith("emergency."):
        check_emergency(data, shape)
    elif shape is STAFFING:
        check_staffing(data)
    elif shape is FOLLOW_UP_EVENT:
        check_follow_up_event(data)
    else:
        check_keys(data, shape)


# ---- the call every test reads -----------------------------------------------------------------


def api(client: APIClient, method: str, path: str, body: dict | None = None, status=(200, 201)):
    answer = getattr(client, method)(path, body or {}, format="json")
    assert answer.status_code in status, (path, answer.status_code, answer.content[:300])
    return answer.json()


@pytest.fixture
def call(dispatched, client_for, people) -> dict:
    """A dual call with every record the three audiences might be shown something of: the
    officer's and the crew's steps with notes, an encounter with notes, a service, a naloxone
    administration, a referral to a partner and its follow-up, a survey, an emergency from
    CARE-1 (which alerts the officer's unit), an officer's duty status and sign-on request."""
    import_hsds(None, str(HSDS), "harbor-and-eastside")
    made = dispatched()
    care1, officer = client_for("care1"), client_for("officer1")
    for to in ("acknowledged", "en_route", "on_scene"):
        api(officer, "post", f"/api/v1/assignments/{made['spd']}/transitions", {"to": to})
    api(
        officer,
        "post",
        f"/api/v1/assignments/{made['spd']}/transitions",
        {"to": "scene_unsafe", "note": "Dog loose in the yard"},
    )
    api(officer, "post", f"/api/v1/assignments/{made['spd']}/transitions", {"to": "scene_safe"})
    api(
        care1,
        "post",
        f"/api/v1/assignments/{made['care']}/transitions",
        {"to": "acknowledged", "note": "Crew words about the person"},
    )
    at = timezone.now().isoformat()
    ids = {k: str(uuid.uuid4()) for k in ("encounter", "service", "naloxone", "referral")}
    api(
        care1,
        "put",
        f"/api/v1/encounters/{ids['encounter']}",
        {"assignment": made["care"], "people_contacted": 1, "client_initials": "JD",
         "notes": "Crew notes"},
    )  # fmt: skip
    api(care1, "post", "/api/v1/services-given", {
        "id": ids["service"], "encounter": ids["encounter"], "service": "de-escalation",
        "occurred_at": at, "note": "Service note",
    })  # fmt: skip
    api(care1, "post", "/api/v1/naloxone-administrations", {
        "id": ids["naloxone"], "encounter": ids["encounter"], "administered_at": at,
        "dose_mg": "4", "doses": 1, "route": "intranasal", "response": "improved",
        "ems_called": True,
    })  # fmt: skip
    api(care1, "post", "/api/v1/referrals", {
        "id": ids["referral"], "encounter": ids["encounter"], "service": NIGHT_SHELTER,
        "consent": True, "made_at": at, "note": "Referral note",
    })  # fmt: skip
    api(care1, "post", "/api/v1/surveys", {
        "id": str(uuid.uuid4()), "encounter": ids["encounter"], "consent": True,
        "answers": {"respected": 5}, "answered_at": at,
    })  # fmt: skip
    api(
        client_for("coordinator"),
        "patch",
        f"/api/v1/referrals/{ids['referral']}",
        {"status": "contacted", "note": "Left a message"},
    )
    emergency = api(care1, "post", "/api/v1/emergencies", {
        "id": str(uuid.uuid4()), "unit": people["care1"].unit_id, "started_at": at,
    })  # fmt: skip
    api(client_for("dispatcher"), "post", f"/api/v1/emergencies/{emergency['id']}/acknowledge")
    # Pressed again while still open: the officer's unit is alerted again, saying so.
    api(care1, "post", "/api/v1/emergencies", {
        "id": str(uuid.uuid4()), "unit": people["care1"].unit_id, "started_at": at,
    })  # fmt: skip
    return {
        **made,
        **ids,
        "incident": made["incident"]["id"],
        "latitude": made["incident"]["latitude"],
        "longitude": made["incident"]["longitude"],
        "emergency": emergency["id"],
    }


# ---- the officer ------------------------------------------------------------------------------


def test_an_officers_assignments_carry_exactly_the_police_fields(call, client_for):
    officer = client_for("officer1")
    listed = api(officer, "get", "/api/v1/assignments")
    assert [a["id"] for a in listed] == [call["spd"]]
    check_assignment(listed[0], POLICE_ASSIGNMENT)
    detail = api(officer, "get", f"/api/v1/assignments/{call['spd']}")
    check_assignment({k: v for k, v in detail.items() if k != "transitions"}, POLICE_ASSIGNMENT)
    assert keys(detail) == POLICE_ASSIGNMENT | {"transitions"}
    for step in detail["transitions"]:
        assert keys(step) == STEP_WITH_NOTE  # the officer's own steps, notes and all
    moved = api(
        officer, "post", f"/api/v1/assignments/{call['spd']}/transitions", {"to": "cleared"}
    )
    check_assignment(moved, POLICE_ASSIGNMENT)


def test_an_officers_pushed_changes_are_answered_in_exactly_the_police_fields(call, client_for):
    def transition(to: str) -> dict:
        return {
            "id": str(uuid.uuid4()),
            "type": "assignment.transition",
            "entity_id": call["spd"],
            "occurred_at": timezone.now().isoformat(),
            "data": {"to": to},
        }

    answer = api(client_for("officer1"), "post", "/api/v1/sync/push", {
        "device_time": timezone.now().isoformat(),
        # Cleared, then a step no cleared assignment may take: refused with the record as it is.
        "mutations": [transition("cleared"), transition("en_route")],
    })  # fmt: skip
    assert keys(answer) == PUSH_ANSWER
    applied, refused = answer["results"]
    assert keys(applied) == PUSH_APPLIED and applied["status"] == "applied"
    check_assignment(applied["server"], POLICE_ASSIGNMENT)
    assert keys(refused) == PUSH_REFUSED and refused["status"] == "rejected"
    check_assignment(refused["server"], POLICE_ASSIGNMENT)


def test_an_officer_reads_the_cares_crews_steps_without_their_words(call, client_for, people):
    """The officer's unit is not the CARE unit: a CARE step it can see has no note key at all."""
    from server.dispatch.models import Assignment

    # The officer reads its own assignment; the crew's steps are on the CARE assignment, which a
    # dispatcher reads whole and the officer can't open (404): the step shape is the dispatcher's.
    assert client_for("officer1").get(f"/api/v1/assignments/{call['care']}").status_code == 404
    dispatcher = api(client_for("dispatcher"), "get", f"/api/v1/assignments/{call['care']}")
    assert [keys(s) for s in dispatcher["transitions"]] == [STEP]
    crew = api(client_for("care1"), "get", f"/api/v1/assignments/{call['care']}")
    assert [keys(s) for s in crew["transitions"]] == [STEP_WITH_NOTE]
    assert Assignment.objects.get(pk=call["care"]).transitions.count() == 1


def test_an_officers_other_answers_carry_exactly_their_fields(call, client_for, people):
    officer = client_for("officer1")
    me = api(officer, "get", "/api/v1/me")
    assert keys(me) == ME and keys(me["unit"]) == ME_UNIT
    for unit in api(officer, "get", "/api/v1/units"):
        assert keys(unit) == UNIT
        assert unit["position"] is None  # positions are the board's, not the field's
        for person in unit["signed_on"]:
            assert keys(person) == SIGNED_ON
    Emergency.objects.create(  # a month ago, on another call at the same corner
        id=uuid.uuid4(), unit=people["care3"].unit, started_by=people["care3"],
        started_at=timezone.now() - datetime.timedelta(days=30),
        latitude=call["latitude"], longitude=call["longitude"],
    )  # fmt: skip
    cautions = api(officer, "get", f"/api/v1/incidents/{call['incident']}/cautions")
    assert keys(cautions) == CAUTIONS
    assert [keys(c) for c in cautions["cautions"]] == [CAUTION]
    unit_id = people["officer1"].unit_id
    position = api(officer, "post", f"/api/v1/units/{unit_id}/position", {
        "latitude": 47.61, "longitude": -122.33, "recorded_at": timezone.now().isoformat(),
    }, status=(202,))  # fmt: skip
    assert keys(position) == POSITION_ANSWER
    check_staffing(
        api(officer, "post", f"/api/v1/units/{unit_id}/duty-status", {"status": "on_break"})
    )
    request = api(officer, "post", "/api/v1/sign-on-requests", {"unit": unit_id})
    assert keys(request) == SIGN_ON_REQUEST
    requests = api(officer, "get", "/api/v1/sign-on-requests")
    assert requests and all(keys(r) == SIGN_ON_REQUEST for r in requests)
    RosterEntry.objects.create(
        unit_id=unit_id, user=people["officer1"], first_day=timezone.localdate(),
        last_day=timezone.localdate(), created_by=people["admin"], note="Covering 2M12",
    )  # fmt: skip
    rosters = api(officer, "get", "/api/v1/rosters")
    assert rosters and all(keys(e) == ROSTER_ENTRY for e in rosters)
    api(officer, "post", f"/api/v1/assignments/{call['spd']}/transitions", {"to": "cleared"})
    shift = people["officer1"].shifts.get(ended_at__isnull=True)
    assert keys(api(officer, "post", f"/api/v1/shifts/{shift.pk}/end")) == SHIFT
    assert keys(api(officer, "post", "/api/v1/shifts", {"unit": unit_id})) == SHIFT
    check_emergency(
        api(
            officer,
            "post",
            "/api/v1/emergencies",
            {
                "id": str(uuid.uuid4()),
                "unit": unit_id,
                "started_at": timezone.now().isoformat(),
            },
        )
    )
    token = APIClient().post(
        "/api/v1/auth/token",
        {"username": "officer1", "password": PASSWORD, "device_name": "allow-list"},
        format="json",
    )
    assert keys(token.json()) == TOKEN and keys(token.json()["user"]) == ME


def test_every_event_an_officer_pulls_carries_exactly_its_kinds_fields(call, client_for):
    pulled = api(client_for("officer1"), "get", "/api/v1/sync/pull")
    assert keys(pulled) == PULL
    for frame in pulled["events"]:
        check_event(frame, POLICE_EVENTS)
    seen = {f["kind"] for f in pulled["events"]}
    # The call reached the officer's streams as each of these kinds: all were checked above.
    assert {
        "assignment.dispatched",
        "assignment.updated",
        "assignment.partner_updated",
        "emergency.alert",
        "emergency.acknowledged",
    } <= seen
    realerted = [f for f in pulled["events"] if "realerted_at" in f["data"]]
    assert [f["kind"] for f in realerted] == ["emergency.alert"]


def test_an_officers_snapshot_carries_exactly_its_fields(call, client_for):
    officer = client_for("officer1")
    snapshot = api(officer, "get", "/api/v1/sync/snapshot")
    assert keys(snapshot) == POLICE_SNAPSHOT
    assert keys(snapshot["protocol"]) == PROTOCOL
    assert keys(api(officer, "get", "/api/v1/protocol")) == PROTOCOL
    assert [a["id"] for a in snapshot["assignments"]] == [call["spd"]]
    for assignment in snapshot["assignments"]:
        check_assignment(assignment, POLICE_ASSIGNMENT)


# ---- the coordinator --------------------------------------------------------------------------


def test_a_coordinators_encounter_and_referrals_carry_exactly_the_follow_up_fields(
    call, client_for
):
    coordinator = client_for("coordinator")
    encounter = api(coordinator, "get", f"/api/v1/encounters/{call['encounter']}")
    assert keys(encounter) == FOLLOW_UP_SUMMARY
    assert encounter["naloxone_given"] is True and encounter["services"] == ["de-escalation"]
    assert [keys(r) for r in encounter["referrals"]] == [REFERRAL]
    listed = api(coordinator, "get", "/api/v1/referrals")
    assert [keys(r) for r in listed] == [REFERRAL_ROW]
    detail = api(coordinator, "get", f"/api/v1/referrals/{call['referral']}")
    assert keys(detail) == REFERRAL_DETAIL
    assert keys(detail["encounter_summary"]) == FOLLOW_UP_SUMMARY
    assert detail["encounter_summary"]["referrals"] == []
    assert [keys(u) for u in detail["updates"]] == [REFERRAL_UPDATE]
    moved = api(coordinator, "patch", f"/api/v1/referrals/{call['referral']}", {
        "status": "connected", "note": "Bed found", "base_version": detail["version"],
    })  # fmt: skip
    assert keys(moved) == REFERRAL


def test_the_crew_reads_the_whole_encounter_where_the_coordinator_reads_the_summary(
    call, client_for
):
    """The other side of the coordinator's allow-list: the crew's shape is the whole record."""
    crew = api(client_for("care1"), "get", f"/api/v1/referrals/{call['referral']}")
    assert keys(crew) == REFERRAL_DETAIL
    assert keys(crew["encounter_summary"]) == CREW_ENCOUNTER


def test_every_event_a_coordinator_pulls_carries_exactly_its_kinds_fields(call, client_for):
    pulled = api(client_for("coordinator"), "get", "/api/v1/sync/pull")
    assert keys(pulled) == PULL
    for frame in pulled["events"]:
        check_event(frame, COORDINATOR_EVENTS)
    assert "referral.followed_up" in {f["kind"] for f in pulled["events"]}


def test_a_coordinators_snapshot_carries_exactly_its_fields(call, client_for):
    coordinator = client_for("coordinator")
    snapshot = api(coordinator, "get", "/api/v1/sync/snapshot")
    assert keys(snapshot) == COORDINATOR_SNAPSHOT
    assert keys(snapshot["protocol"]) == PROTOCOL
    assert snapshot["assignments"] == []
    services = api(coordinator, "get", "/api/v1/directory/services")
    assert services and snapshot["directory"]
    for service in [*snapshot["directory"], *services]:
        assert keys(service) == DIRECTORY_SERVICE


# ---- the partner organization's key -----------------------------------------------------------


@pytest.fixture
def harbor(db) -> APIClient:
    _, key = system_clients.create_system_client(
        actor=None, kind="partner", name="Harbor Light", organization_id=HARBOR
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def check_task(task: dict) -> None:
    assert keys(task) == TASK
    assert keys(task["meta"]) == {"versionId"}
    assert keys(task["focus"]) == {"reference"}
    assert keys(task["for"]) == DISPLAY and keys(task["requester"]) == DISPLAY
    assert keys(task["owner"]) == REFERENCE
    assert keys(task["owner"]["identifier"]) == {"system", "value"}
    assert keys(task["businessStatus"]) == {"text"}


def check_service_request(request: dict) -> None:
    assert keys(request) == SERVICE_REQUEST
    assert [keys(c) for c in request["category"]] == [{"text"}]
    assert keys(request["code"]) == {"text"}
    assert keys(request["subject"]) == DISPLAY and keys(request["requester"]) == DISPLAY
    assert [keys(p) for p in request["performer"]] == [REFERENCE]
    assert [keys(s) for s in request["supportingInfo"]] == [{"reference"}]


def check_consent(consent: dict) -> None:
    assert keys(consent) == CONSENT
    assert keys(consent["scope"]) == {"coding"}
    assert [keys(c) for c in consent["scope"]["coding"]] == [{"system", "code"}]
    assert keys(consent["patient"]) == DISPLAY
    assert [keys(p) for p in consent["performer"]] == [DISPLAY]
    assert [keys(o) for o in consent["organization"]] == [DISPLAY]
    assert keys(consent["policyRule"]) == {"text"}
    assert keys(consent["provision"]) == {"type"}


def test_a_partner_keys_fhir_resources_carry_exactly_their_elements(call, harbor):
    referral = call["referral"]
    check_task(api(harbor, "get", f"/fhir/Task/{referral}"))
    check_service_request(api(harbor, "get", f"/fhir/ServiceRequest/{referral}"))
    check_consent(api(harbor, "get", f"/fhir/Consent/{referral}"))
    bundle = api(harbor, "get", f"/fhir/Bundle/{referral}")
    assert keys(bundle) == BUNDLE
    assert [keys(e) for e in bundle["entry"]] == [{"fullUrl", "resource"}] * 4
    request, task, consent, organization = (e["resource"] for e in bundle["entry"])
    check_service_request(request)
    check_task(task)
    check_consent(consent)
    assert keys(organization) == ORGANIZATION
    assert [keys(i) for i in organization["identifier"]] == [{"system", "value"}]
    found = api(harbor, "get", "/fhir/Task")
    assert keys(found) == SEARCH_BUNDLE
    assert [keys(e) for e in found["entry"]] == [{"fullUrl", "resource", "search"}]
    check_task(found["entry"][0]["resource"])
    version = Referral.objects.get(pk=referral).version
    answer = harbor.generic(
        "PATCH",
        f"/fhir/Task/{referral}",
        json.dumps(
            {
                "status": "completed",
                "output": [{"type": {"text": "outcome"}, "valueString": "Bed assigned"}],
            }
        ),
        content_type="application/merge-patch+json",
        HTTP_IF_MATCH=f'W/"{version}"',
    )
    assert answer.status_code == 200, answer.content
    updated = answer.json()
    # An outcome the partner wrote adds its own element, and only that.
    assert keys(updated) == TASK | {"output"}
    assert [keys(o) for o in updated["output"]] == [{"type", "valueString"}]


# ---- the live socket ---------------------------------------------------------------------------


def socket_token(username: str) -> str:
    key, _ = issue_device_token(username=username, password=PASSWORD, device_name="allow-list")
    return key


@pytest.mark.django_db(transaction=True)
def test_the_live_socket_sends_police_and_crew_the_dispatch_in_exactly_their_shapes(
    new_call, client_for, units
):
    """The same kind on two unit streams: the officer's frame and the crew's, each exact."""
    channel_layers.backends = {}  # the in-memory layer belongs to one event loop
    tokens = {who: socket_token(who) for who in ("officer1", "care1")}
    incident = new_call()

    async def first_dispatch(ws: WebsocketCommunicator) -> dict:
        while True:
            frame = await ws.receive_json_from(30)
            if frame.get("type") == "event" and frame["kind"] == "assignment.dispatched":
                return frame

    async def scenario() -> dict[str, dict]:
        sockets = {}
        for who, token in tokens.items():
            ws = WebsocketCommunicator(application, "/ws/feed/")
            connected, _ = await ws.connect()
            assert connected
            await ws.send_json_to({"type": "hello", "token": token, "cursors": {}})
            assert (await ws.receive_json_from(30))["type"] == "welcome"
            sockets[who] = ws
        from channels.db import database_sync_to_async

        await database_sync_to_async(client_for("dispatcher").post)(
            f"/api/v1/incidents/{incident['id']}/dispatch",
            {"care_unit": units["CARE-1"].pk, "spd_unit": units["2M12"].pk},
            format="json",
        )
        got = {who: await first_dispatch(ws) for who, ws in sockets.items()}
        for ws in sockets.values():
            await ws.disconnect()
        return got

    try:
        got = async_to_sync(scenario)()
    finally:
        channel_layers.backends = {}
    police, crew = got["officer1"], got["care1"]
    assert police["stream"] == unit_stream(units["2M12"].pk)
    assert crew["stream"] == unit_stream(units["CARE-1"].pk)
    check_event(police, POLICE_EVENTS, SOCKET_FRAME)
    check_event(crew, {"assignment.dispatched": CREW_ASSIGNMENT}, SOCKET_FRAME)
    assert police["data"]["kind"] == "spd" and crew["data"]["kind"] == "care"


@pytest.mark.django_db(transaction=True)
def test_the_live_socket_sends_a_coordinator_follow_ups_in_exactly_their_shape(call, client_for):
    channel_layers.backends = {}
    token = socket_token("coordinator")
    referral = Referral.objects.get(pk=call["referral"])

    async def scenario() -> dict:
        from channels.db import database_sync_to_async

        ws = WebsocketCommunicator(application, "/ws/feed/")
        connected, _ = await ws.connect()
        assert connected
        await ws.send_json_to({"type": "hello", "token": token, "cursors": {}})
        assert (await ws.receive_json_from(30))["type"] == "welcome"
        moved = await database_sync_to_async(client_for("coordinator").patch)(
            f"/api/v1/referrals/{referral.pk}",
            {"status": "connected", "note": "Bed found", "base_version": referral.version},
            format="json",
        )
        assert moved.status_code == 200, moved.content
        while True:
            frame = await ws.receive_json_from(30)
            if frame.get("kind") == "referral.followed_up" and frame["data"]["version"] > (
                referral.version
            ):
                break
        await ws.disconnect()
        return frame

    try:
        frame = async_to_sync(scenario)()
    finally:
        channel_layers.backends = {}
    assert frame["stream"] == "referrals"
    check_event(frame, COORDINATOR_EVENTS, SOCKET_FRAME)


def test_a_partner_key_reads_nothing_under_the_api_but_the_public_answers(call, harbor):
    """The partner's shapes are its FHIR resources (above): every other GET refuses its key."""
    public = {"GET metrics", "GET schema/", "GET docs/"}
    ids = {
        "incident_id": call["incident"],
        "assignment_id": call["care"],
        "encounter_id": call["encounter"],
        "referral_id": call["referral"],
    }
    answered = set()
    for key in sorted(served()["api"]):
        method, route = key.split(" ", 1)
        if method != "GET":
            continue
        status = harbor.get(fill(f"api/v1/{route}", ids)).status_code
        if status < 400:
            answered.add(key)
        else:
            assert status in (401, 403, 404), (key, status)
    assert answered == public


# ---- nothing reachable without a shape ---------------------------------------------------------


def test_every_answer_an_officer_or_coordinator_may_read_has_its_shape_here():
    readable = {
        key
        for key, answers in EXPECTED_API.items()
        if key.startswith("GET ") and "ok" in (answers["spd_officer"], answers["coordinator"])
    }
    declared = {" ".join(row.split()) for row in SHAPED_GETS}
    assert readable == declared, (
        f"without a shape here: {sorted(readable - declared)}; "
        f"no longer readable: {sorted(declared - readable)}"
    )
