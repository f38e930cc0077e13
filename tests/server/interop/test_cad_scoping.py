"""Every CAD record is the calling CAD's own: a second CAD's key (a training CAD beside the live
one) sending the same incident id can neither read, update nor cancel the live CAD's call. Calls
made here by a dispatcher belong to no CAD and are read by any CAD key, as they are delivered."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from server.accounts.system_clients import create_system_client
from server.dispatch.models import Incident

from .conftest import valley_document


@pytest.fixture
def training(people) -> APIClient:
    _, key = create_system_client(actor=None, kind="cad", name="Training CAD")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return api


def _cancelled() -> dict:
    cancel = valley_document()
    comp = cancel["incidentComponent"]
    comp["lastUpdateTimeStamp"] = "2026-11-18T14:20:00-08:00"
    comp["incidentStatusCommonRegistryText"] = ["Cancelled"]
    comp["dispositionComponent"] = [
        {
            "$id": "disp-1",
            "lastUpdateTimeStamp": "2026-11-18T14:20:00-08:00",
            "updatedByAgencyReference": {"$ref": "agency-valleycom"},
            "dispositionCommonRegistryCode": "Cancelled by caller",
        }
    ]
    return cancel


def _renoted() -> dict:
    newer = valley_document()
    newer["notesComponent"].append(
        {
            "$id": "note-3",
            "lastUpdateTimeStamp": "2026-11-18T14:08:00-08:00",
            "updatedByAgencyReference": {"$ref": "agency-valleycom"},
            "notesActionComments": "TRAINING NOTE",
        }
    )
    return newer


def test_another_cads_cancel_with_the_same_incident_id_leaves_the_live_call_open(
    send, training, client_for, units
):
    incident_id = send(valley_document()).json()["incident"]
    dispatched = client_for("dispatcher").post(
        f"/api/v1/incidents/{incident_id}/dispatch",
        {"care_unit": units["CARE-1"].pk, "spd_unit": units["2M12"].pk},
        format="json",
    )
    assert dispatched.status_code == 201
    answer = training.post("/api/v1/eido", _cancelled(), format="json")
    # A call of the training CAD's own, under its own CAD number.
    assert answer.status_code == 201, answer.content
    assert answer.json()["incident"] != incident_id
    assert answer.json()["cad_number"] != Incident.objects.get(pk=incident_id).cad_number
    live = Incident.objects.get(pk=incident_id)
    assert live.status == "dispatched"
    assert {a.status for a in live.assignments.all()} == {"dispatched"}


def test_another_cads_newer_note_does_not_reach_the_live_call(send, training):
    incident_id = send(valley_document()).json()["incident"]
    training.post("/api/v1/eido", _renoted(), format="json")
    assert "TRAINING NOTE" not in Incident.objects.get(pk=incident_id).narrative


def test_the_live_cad_still_updates_and_cancels_its_own_call(send, training):
    incident_id = send(valley_document()).json()["incident"]
    training.post("/api/v1/eido", _cancelled(), format="json")
    assert send(_renoted()).json()["outcome"] == "updated"
    assert send(_cancelled()).json()["outcome"] == "updated"
    assert Incident.objects.get(pk=incident_id).status == "cancelled"


def test_the_training_cads_call_is_its_own_and_its_later_documents_reach_it(send, training):
    live_id = send(valley_document()).json()["incident"]
    own_id = training.post("/api/v1/eido", valley_document(), format="json").json()["incident"]
    assert own_id != live_id
    assert training.post("/api/v1/eido", _renoted(), format="json").json()["outcome"] == "updated"
    assert "TRAINING NOTE" in Incident.objects.get(pk=own_id).narrative
    assert "TRAINING NOTE" not in Incident.objects.get(pk=live_id).narrative
    assert training.post("/api/v1/eido", _cancelled(), format="json").status_code == 200
    assert Incident.objects.get(pk=own_id).status == "cancelled"
    assert Incident.objects.get(pk=live_id).status != "cancelled"


def test_a_cad_reads_only_the_calls_it_sent(send, cad, training, client_for):
    incident_id = send(valley_document()).json()["incident"]
    assert cad[1].get(f"/api/v1/incidents/{incident_id}/eido").status_code == 200
    assert training.get(f"/api/v1/incidents/{incident_id}/eido").status_code == 404
    assert client_for("dispatcher").get(f"/api/v1/incidents/{incident_id}/eido").status_code == 200


def test_a_cad_reads_a_call_made_by_a_dispatcher_as_it_is_delivered_to_it(training, dispatched):
    call = dispatched()
    assert training.get(f"/api/v1/incidents/{call['incident']['id']}/eido").status_code == 200
