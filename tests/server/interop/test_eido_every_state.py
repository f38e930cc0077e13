"""Every EIDO we emit, in every state a call passes through, validates against NENA's own schema:
the document a dispatcher or CAD reads (GET /api/v1/incidents/{id}/eido) and the document queued
for the CAD's endpoint after the same change."""

from __future__ import annotations

import datetime
import json
import uuid

import pytest

from server.interop.delivery import enqueue_changes
from server.interop.models import CadDelivery
from tests.server.interop.emitted import assert_valid_eido


@pytest.fixture
def cad_endpoint(settings):
    settings.CARE_CAD_ENDPOINT_URL = "http://127.0.0.1:9/eido"  # queued only, never sent here
    settings.CARE_CAD_SIGNING_SECRET = "shared"


def checked(client_for, incident_id: str) -> dict:
    """The document read now and the one queued for the CAD by the last change, both checked."""
    answer = client_for("dispatcher").get(f"/api/v1/incidents/{incident_id}/eido")
    assert answer.status_code == 200, answer.content
    document = answer.json()
    assert_valid_eido(document)
    assert enqueue_changes() >= 1, "the change queued no delivery"
    queued = json.loads(CadDelivery.objects.order_by("-created_at").first().body)
    assert_valid_eido(queued)
    return document


def statuses(document: dict) -> dict[str, str]:
    return {
        u["emergencyResourceName"]: u["primaryUnitStatusRegistryText"]
        for u in document["emergencyResourceComponent"]
    }


def test_a_call_walked_from_new_to_cleared_is_valid_eido_at_every_step(
    cad_endpoint, new_call, client_for, units, move
):
    incident = new_call()
    document = checked(client_for, incident["id"])
    assert document["incidentComponent"]["incidentStatusCommonRegistryText"] == ["Pending"]
    dispatched = client_for("dispatcher").post(
        f"/api/v1/incidents/{incident['id']}/dispatch",
        {"care_unit": units["CARE-1"].pk, "spd_unit": units["2M12"].pk},
        format="json",
    )
    assert dispatched.status_code == 201, dispatched.content
    by_kind = {a["kind"]: a["id"] for a in dispatched.json()["assignments"]}
    assert statuses(checked(client_for, incident["id"])) == {
        "CARE-1": "Dispatched",
        "2M12": "Dispatched",
    }
    steps = [
        ("officer1", "spd", "acknowledged", "Acknowledged"),
        ("officer1", "spd", "en_route", "Enroute"),
        ("officer1", "spd", "on_scene", "OnScene"),
        ("officer1", "spd", "scene_unsafe", "OnScene"),
        ("officer1", "spd", "scene_safe", "OnScene"),
        ("care1", "care", "acknowledged", "Acknowledged"),
        ("care1", "care", "en_route", "Enroute"),
        ("care1", "care", "on_scene", "OnScene"),
        ("officer1", "spd", "cleared", "Available"),
        ("care1", "care", "cleared", "Available"),
    ]
    for who, kind, to, expected in steps:
        answer = move(who, by_kind[kind], to, note="Loose dog." if to == "scene_unsafe" else "")
        assert answer.status_code == 200, (to, answer.content)
        document = checked(client_for, incident["id"])
        name = "CARE-1" if kind == "care" else "2M12"
        assert statuses(document)[name] == expected, to
        assert ("cautionComponent" in document) == (to == "scene_unsafe")
    assert document["incidentComponent"]["incidentStatusCommonRegistryText"] == ["Closed"]


def test_a_cancelled_call_is_valid_eido_before_and_after_its_dispatch(
    cad_endpoint, dispatched, new_call, client_for
):
    waiting = new_call()
    sent = dispatched()
    for incident_id in (waiting["id"], sent["incident"]["id"]):
        answer = client_for("dispatcher").post(
            f"/api/v1/incidents/{incident_id}/cancel", {"reason": "Caller hung up."}, format="json"
        )
        assert answer.status_code == 200, answer.content
        document = checked(client_for, incident_id)
        [disposition] = document["incidentComponent"]["dispositionComponent"]
        assert disposition["dispositionCommonRegistryCode"] == "Cancelled"
    assert set(statuses(document).values()) == {"Available"}


def test_an_emergency_open_and_then_ended_is_valid_eido_on_its_unit(
    cad_endpoint, dispatched, client_for, units
):
    call = dispatched()
    emergency_id = str(uuid.uuid4())
    started = client_for("care1").post(
        "/api/v1/emergencies",
        {
            "id": emergency_id,
            "unit": units["CARE-1"].pk,
            "started_at": datetime.datetime.now(datetime.UTC).isoformat(),
        },
        format="json",
    )
    assert started.status_code == 201, started.content
    care = _care(checked(client_for, call["incident"]["id"]))
    assert care["unitStatusInternal"] == ["Emergency"]
    assert "stopTimestamp" not in care["unitEmergencyStateComponent"][0]
    for path, body in (("acknowledge", {}), ("end", {"pin_verified": True})):
        who = "dispatcher" if path == "acknowledge" else "care1"
        answer = client_for(who).post(
            f"/api/v1/emergencies/{emergency_id}/{path}", body, format="json"
        )
        assert answer.status_code == 200, answer.content
    care = _care(checked(client_for, call["incident"]["id"]))
    assert "unitStatusInternal" not in care
    assert "stopTimestamp" in care["unitEmergencyStateComponent"][0]


def _care(document: dict) -> dict:
    return next(
        u for u in document["emergencyResourceComponent"] if u["emergencyResourceName"] == "CARE-1"
    )


def test_police_backup_sent_to_the_call_is_valid_eido_with_the_third_unit(
    cad_endpoint, dispatched, client_for, units, move
):
    call = dispatched()
    for step in ("acknowledged", "en_route", "on_scene", "scene_safe", "cleared"):
        assert move("officer1", call["spd"], step).status_code == 200
    asked = client_for("care1").post(
        f"/api/v1/assignments/{call['care']}/backup",
        {"id": str(uuid.uuid4()), "urgent": True, "reason": "escalating"},
        format="json",
    )
    assert asked.status_code == 201, asked.content
    checked(client_for, call["incident"]["id"])
    sent = client_for("dispatcher").post(
        f"/api/v1/incidents/{call['incident']['id']}/backup",
        {"spd_unit": units["2K21"].pk},
        format="json",
    )
    assert sent.status_code == 201, sent.content
    document = checked(client_for, call["incident"]["id"])
    assert statuses(document) == {"CARE-1": "Dispatched", "2M12": "Available", "2K21": "Dispatched"}
    [police] = [
        d for d in document["dispatchComponent"] if d["agencyReference"]["$ref"] == "agency-spd"
    ]
    assert len(police["emergencyResourceReference"]) == 2
