"""GET /api/v1/incidents/{id}/eido: the call as an EIDO document for the CAD — both agencies,
each unit's status in NENA's words, a caution while the scene is unsafe, the disposition at the
end, and nothing clinical. Every document is checked against NENA's own schema (vendored under
server/interop/standards/) and against the members NENA defines, so no field of ours rides along."""

from __future__ import annotations

import datetime
import uuid

import pytest

from server.dispatch.models import Emergency
from server.interop.conformance import eido_errors
from server.interop.eido_in import read_document
from tests.server.interop.emitted import assert_valid_eido, undeclared


def eido(client, incident_id: str) -> dict:
    answer = client.get(f"/api/v1/incidents/{incident_id}/eido")
    assert answer.status_code == 200, answer.content
    return answer.json()


def units_by_name(document: dict) -> dict[str, str]:
    return {
        u["emergencyResourceName"]: u["primaryUnitStatusRegistryText"]
        for u in document["emergencyResourceComponent"]
    }


def test_a_new_call_is_pending_with_both_agencies_and_its_place(new_call, client_for):
    incident = new_call()
    document = eido(client_for("dispatcher"), incident["id"])
    assert_valid_eido(document)
    comp = document["incidentComponent"]
    assert comp["internalIncidentId"] == incident["cad_number"]
    assert comp["incidentTypeInternalCode"] == "DOWN - CHECK FOR DOWN PERSON"
    assert comp["incidentStatusCommonRegistryText"] == ["Pending"]
    assert comp["locationReference"] == [{"$ref": document["locationComponent"][0]["$id"]}]
    assert {t for a in document["agencyComponent"] for t in a["agencyType"]} == {"ems", "police"}
    assert document["emergencyResourceComponent"] == []
    assert document["dispatchComponent"] == []
    # Our own reader takes our location back as the same point.
    where = read_document(document).where
    assert (where.latitude, where.longitude) == (47.6107, -122.3396)
    assert where.address == ""  # kept as civicAddress LOC, which a reader shows as free text


def test_units_report_their_status_and_an_unsafe_scene_is_a_caution_with_the_note(
    dispatched, move, client_for
):
    call = dispatched()
    for step in ("acknowledged", "en_route", "on_scene"):
        assert move("officer1", call["spd"], step).status_code == 200
    assert move("care1", call["care"], "acknowledged").status_code == 200
    unsafe = move("officer1", call["spd"], "scene_unsafe", note="Dog loose in the yard.")
    assert unsafe.status_code == 200
    document = eido(client_for("dispatcher"), call["incident"]["id"])
    assert_valid_eido(document)
    assert units_by_name(document) == {"2M12": "OnScene", "CARE-1": "Acknowledged"}
    [caution] = document["cautionComponent"]
    assert caution["cautionTypeCommonRegistryText"] == "Scene Unsafe"
    [note] = document["notesComponent"]
    assert document["incidentComponent"]["notesReference"] == [{"$ref": note["$id"]}]
    assert note["notesActionComments"] == "Dog loose in the yard."
    assert note["cautionReference"] == [{"$ref": caution["$id"]}]

    assert move("officer1", call["spd"], "scene_safe").status_code == 200
    assert "cautionComponent" not in eido(client_for("dispatcher"), call["incident"]["id"])


def test_a_closed_call_carries_its_disposition(dispatched, move, client_for):
    call = dispatched()
    for who, assignment in (("officer1", call["spd"]), ("care1", call["care"])):
        for step in ("acknowledged", "en_route", "on_scene", "cleared"):
            assert move(who, assignment, step).status_code == 200
    document = eido(client_for("dispatcher"), call["incident"]["id"])
    assert_valid_eido(document)
    comp = document["incidentComponent"]
    assert comp["incidentStatusCommonRegistryText"] == ["Closed"]
    [disposition] = comp["dispositionComponent"]
    assert disposition["dispositionCommonRegistryCode"] == "Assistance Rendered"
    assert set(units_by_name(document).values()) == {"Available"}


def test_a_cancelled_call_says_so(new_call, client_for):
    incident = new_call()
    client_for("dispatcher").post(
        f"/api/v1/incidents/{incident['id']}/cancel", {"reason": "Caller hung up."}, format="json"
    )
    document = eido(client_for("dispatcher"), incident["id"])
    assert_valid_eido(document)
    [disposition] = document["incidentComponent"]["dispositionComponent"]
    assert disposition["dispositionCommonRegistryCode"] == "Cancelled"


def test_a_member_nena_does_not_define_is_caught_wherever_it_stands(new_call, client_for):
    document = eido(client_for("dispatcher"), new_call()["id"])
    document["incidentComponent"]["narrative"] = "anything"
    document["locationComponent"][0]["naloxone"] = 1
    assert undeclared(document) == ["/incidentComponent/narrative", "/locationComponent/0/naloxone"]


def test_nena_s_schema_refuses_a_document_missing_what_it_requires(new_call, client_for):
    document = eido(client_for("dispatcher"), new_call()["id"])
    del document["updatedByAgencyReference"]
    document["incidentComponent"]["locationReference"] = {"$ref": "x"}  # one, not an array
    assert len(eido_errors(document)) == 2


def test_a_cad_key_may_read_it(new_call, cad):
    assert cad[1].get(f"/api/v1/incidents/{new_call()['id']}/eido").status_code == 200


@pytest.mark.parametrize("username", ["care1", "officer1", "coordinator", None])
def test_field_units_coordinators_and_the_public_may_not(username, new_call, client_for):
    incident = new_call()
    answer = client_for(username).get(f"/api/v1/incidents/{incident['id']}/eido")
    assert answer.status_code in (401, 403)


def test_an_unknown_incident_is_a_404(client_for, people):
    answer = client_for("dispatcher").get(
        "/api/v1/incidents/00000000-0000-4000-8000-000000000000/eido"
    )
    assert answer.status_code == 404


def unit_named(document: dict, name: str) -> dict:
    [unit] = [
        u for u in document["emergencyResourceComponent"] if u["emergencyResourceName"] == name
    ]
    return unit


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def test_a_unit_s_emergency_on_the_call_carries_its_start_acknowledgement_and_end(
    dispatched, client_for, units
):
    call = dispatched()
    pressed = datetime.datetime.now(datetime.UTC)  # on the call, after its dispatch
    emergency_id = str(uuid.uuid4())
    started = client_for("care1").post(
        "/api/v1/emergencies",
        {"id": emergency_id, "unit": units["CARE-1"].pk, "started_at": pressed.isoformat()},
        format="json",
    )
    assert started.status_code == 201, started.content

    # While it is open: the start only, and the unit's local status says so.
    open_now = unit_named(eido(client_for("dispatcher"), call["incident"]["id"]), "CARE-1")
    [state] = open_now["unitEmergencyStateComponent"]
    assert at(state["startTimestamp"]) == pressed
    assert "acknowledgementTimestamp" not in state
    assert open_now["unitStatusInternal"] == ["Emergency"]

    acknowledged = client_for("dispatcher").post(f"/api/v1/emergencies/{emergency_id}/acknowledge")
    assert acknowledged.status_code == 200, acknowledged.content
    ended = client_for("care1").post(
        f"/api/v1/emergencies/{emergency_id}/end", {"pin_verified": True}, format="json"
    )
    assert ended.status_code == 200, ended.content

    document = eido(client_for("dispatcher"), call["incident"]["id"])
    assert_valid_eido(document)
    stored = Emergency.objects.get(pk=emergency_id)
    care = unit_named(document, "CARE-1")
    [state] = care["unitEmergencyStateComponent"]
    assert state["$id"] == f"emergency-{emergency_id}"
    assert at(state["startTimestamp"]) == pressed
    assert at(state["acknowledgementTimestamp"]) == stored.acknowledged_at
    assert at(state["stopTimestamp"]) == stored.ended_at
    assert pressed < stored.acknowledged_at <= stored.ended_at
    assert "unitStatusInternal" not in care  # ended: no longer in trouble
    assert at(care["lastUpdateTimeStamp"]) >= stored.ended_at
    assert at(document["incidentComponent"]["lastUpdateTimeStamp"]) >= stored.ended_at
    police = unit_named(document, "2M12")
    assert "unitEmergencyStateComponent" not in police
    assert "unitStatusInternal" not in police


def test_a_call_without_an_emergency_has_no_emergency_state_on_any_unit(
    dispatched, client_for, units
):
    call = dispatched()
    # Another unit's emergency, on no call of this one's, stays out of it.
    elsewhere = client_for("care3").post(
        "/api/v1/emergencies",
        {"id": str(uuid.uuid4()), "unit": units["CARE-2"].pk, "started_at": now()},
        format="json",
    )
    assert elsewhere.status_code == 201, elsewhere.content
    document = eido(client_for("dispatcher"), call["incident"]["id"])
    assert_valid_eido(document)
    assert len(document["emergencyResourceComponent"]) == 2
    for unit in document["emergencyResourceComponent"]:
        assert "unitEmergencyStateComponent" not in unit
        assert "unitStatusInternal" not in unit


# ---- NENA's dereference operation: GET /EIDO/{IncidentId} ---------------------------------


def test_a_cad_dereferences_its_own_call_by_the_id_it_sent(send, cad):
    from tests.server.interop.conftest import valley_document

    assert send(valley_document()).status_code == 201
    answer = cad[1].get("/api/v1/EIDO/VC26-118733")
    assert answer.status_code == 200, answer.content
    document = answer.json()
    assert_valid_eido(document)
    assert document["incidentComponent"]["internalIncidentId"] == "VC26-118733"


def test_a_call_made_here_is_dereferenced_by_its_cad_number_or_its_id(new_call, cad):
    incident = new_call()
    for name in (incident["cad_number"], incident["id"], f"incident-{incident['id']}"):
        answer = cad[1].get(f"/api/v1/EIDO/{name}")
        assert answer.status_code == 200, (name, answer.content)
        assert answer.json()["incidentComponent"]["documentIdentification"] == [incident["id"]]


def test_an_id_that_names_no_incident_is_a_404_in_the_error_shape(cad, people):
    answer = cad[1].get("/api/v1/EIDO/VC00-000000")
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"


def test_only_a_cad_key_may_dereference(new_call, client_for):
    incident = new_call()
    answer = client_for("dispatcher").get(f"/api/v1/EIDO/{incident['cad_number']}")
    assert answer.status_code == 403
