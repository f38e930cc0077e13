"""POST /api/v1/eido: a CAD's document (NENA-STA-021 EIDO 1.0, written by hand from NENA's schema
and checked against it) becomes an incident, screened as a typed call, on the board at once;
later documents apply in order, once; what NENA's schema refuses is refused by JSON pointer."""

from __future__ import annotations

import datetime
import json

from server.audit.models import AuditEntry
from server.dispatch.models import CallType, Incident, ScreeningQuestion
from server.feed.models import Event
from server.interop.conformance import eido_errors
from server.interop.models import CadDocument, CallTypeMapping, CautionMapping
from tests.server.interop.conftest import valley_document

CIVIC_ONLY = (
    '<presence xmlns="urn:ietf:params:xml:ns:pidf" '
    'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
    'xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr" entity="pres:x@example.org">'
    "<tuple id='c'><status><gp:geopriv><gp:location-info><ca:civicAddress>"
    "<ca:A3>Seattle</ca:A3><ca:HNO>600</ca:HNO><ca:PRD>E</ca:PRD><ca:RD>Pine</ca:RD>"
    "<ca:STS>St</ca:STS></ca:civicAddress></gp:location-info></gp:geopriv></status></tuple>"
    "</presence>"
)
POINT = (
    '<presence xmlns="urn:ietf:params:xml:ns:pidf" '
    'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gml="http://www.opengis.net/gml" '
    'entity="pres:x@example.org"><tuple id="g"><status><gp:geopriv><gp:location-info>'
    "<gml:Point><gml:pos>47.6107 -122.3396</gml:pos></gml:Point>"
    "</gp:location-info></gp:geopriv></status></tuple></presence>"
)


def later(stamp: str, seconds: int) -> str:
    moment = datetime.datetime.fromisoformat(stamp) + datetime.timedelta(seconds=seconds)
    return moment.isoformat()


def dispatch_events(kind: str = "") -> list[Event]:
    events = Event.objects.filter(stream_id="dispatch").order_by("seq")
    return list(events.filter(kind=kind) if kind else events)


def test_another_agencys_document_becomes_a_screened_call_on_the_board(send):
    answer = send(valley_document())
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["outcome"] == "created"
    incident = Incident.objects.get(pk=body["incident"])
    assert incident.cad_number == "VC26-118733"
    assert incident.call_type.code == "DOWN - CHECK FOR DOWN PERSON"
    assert (incident.latitude, incident.longitude) == (47.61072, -122.33958)  # circle centre
    assert incident.address == "1520 3rd Ave, Seattle (at Pine St)"
    assert incident.narrative == (
        "Male lying on sidewalk outside the bus shelter, not responding to RP.\n"
        "RP says male is breathing, moved an arm when called to."
    )
    assert incident.received_at == datetime.datetime.fromisoformat("2026-11-18T14:05:02-08:00")
    assert (incident.priority, incident.beat, incident.source) == (3, "M1", "cad")
    assert incident.status == "screened" and incident.eligible
    assert incident.recommendation == "dual_dispatch"
    [created] = dispatch_events("incident.created")
    assert created.data["id"] == str(incident.pk)
    assert created.data["source"] == "cad" and created.data["recommendation"] == "dual_dispatch"


def test_the_raw_document_is_kept_with_the_incident_under_the_retention_setting(send, settings):
    settings.CARE_EIDO_RETENTION_DAYS = 30
    document = valley_document()
    incident_id = send(document).json()["incident"]
    kept = CadDocument.objects.get(incident_id=incident_id)
    assert kept.document == document and kept.outcome == "created"
    assert datetime.timedelta(days=29) < kept.expires_at - kept.received_at
    assert kept.expires_at - kept.received_at <= datetime.timedelta(days=30)


def test_the_audit_row_names_the_cad_as_the_actor(send, cad):
    incident_id = send(valley_document()).json()["incident"]
    row = AuditEntry.objects.get(action="incident.created", object_id=incident_id)
    assert row.system_client == cad[0]
    assert row.actor_label == "cad:Valley CAD"


def test_the_same_document_again_gives_the_same_answer_and_changes_nothing(send):
    first = send(valley_document()).json()
    events = len(dispatch_events())
    again = send(valley_document())
    assert again.status_code == 200
    assert again.json() == first | {"outcome": "duplicate"}
    assert len(dispatch_events()) == events
    assert Incident.objects.count() == 1


def test_an_older_document_is_answered_stale_and_ignored(send):
    send(valley_document())
    older = valley_document()
    comp = older["incidentComponent"]
    comp["lastUpdateTimeStamp"] = later(comp["lastUpdateTimeStamp"], -60)
    comp["incidentCommonPriorityNumber"] = 1
    answer = send(older)
    assert answer.status_code == 200 and answer.json()["outcome"] == "stale"
    assert Incident.objects.get().priority == 3


def test_a_newer_note_is_added_to_the_narrative(send):
    send(valley_document())
    newer = valley_document()
    newer["notesComponent"].append(
        {
            "$id": "note-3",
            "lastUpdateTimeStamp": "2026-11-18T14:08:00-08:00",
            "updatedByAgencyReference": {"$ref": "agency-valleycom"},
            "notesActionComments": "Now sitting up, <b>asking</b> for water.",
        }
    )
    answer = send(newer)
    assert answer.json()["outcome"] == "updated"
    assert Incident.objects.get().narrative.endswith("\nNow sitting up, asking for water.")
    assert dispatch_events("incident.updated")


def test_a_civic_address_only_call_waits_as_needing_a_location_then_is_placed(send):
    document = valley_document()
    document["locationComponent"][0]["locationByValue"] = CIVIC_ONLY
    del document["locationComponent"][0]["crossStreetByValue"]
    answer = send(document)
    assert answer.status_code == 201
    incident = Incident.objects.get()
    assert incident.status == "needs_location"
    assert (incident.latitude, incident.longitude) == (None, None)
    assert incident.address == "600 E Pine St, Seattle"
    assert dispatch_events("incident.created")[0].data["status"] == "needs_location"

    placed = valley_document()
    placed["locationComponent"][0]["locationByValue"] = POINT
    placed["locationComponent"][0]["lastUpdateTimeStamp"] = "2026-11-18T14:09:00-08:00"
    assert send(placed).json()["outcome"] == "updated"
    incident.refresh_from_db()
    assert incident.status == "screened" and incident.latitude == 47.6107
    assert incident.in_pilot_area and incident.eligible


def test_a_location_by_reference_is_kept_as_needing_a_location(send):
    document = valley_document()
    document["locationComponent"][0] = {
        "$id": "loc-1",
        "lastUpdateTimeStamp": "2026-11-18T14:05:31-08:00",
        "updatedByAgencyReference": {"$ref": "agency-valleycom"},
        "locationTypeDescriptionRegistryText": "Incident",
        "locationByReferenceUrl": "https://lis.example.org/loc/8f2e",
    }
    assert send(document).status_code == 201
    incident = Incident.objects.get()
    assert incident.status == "needs_location"
    assert incident.address == "Location by reference"


def test_a_call_transfer_without_an_incident_is_kept_not_dropped(send):
    document = valley_document()
    del document["incidentComponent"]
    answer = send(document)
    assert answer.status_code == 201, answer.content
    incident = Incident.objects.get()
    assert incident.cad_number == "call-1"
    assert incident.status == "screened"  # it carried a location
    assert incident.call_type.code == "CAD CALL (NO TYPE)" and not incident.eligible


def test_a_malformed_document_names_the_json_pointer_of_each_bad_field(send):
    document = valley_document()
    del document["incidentComponent"]["incidentTypeCommonRegistryText"]
    document["callComponent"][0]["lastUpdateTimeStamp"] = 17
    document["notesComponent"][1]["notesActionComments"] = ["not", "text"]
    answer = send(document)
    assert answer.status_code == 422
    fields = answer.json()["fields"]
    assert answer.json()["code"] == "invalid_eido"
    assert set(fields) == {
        "/incidentComponent/incidentTypeCommonRegistryText",
        "/callComponent/0/lastUpdateTimeStamp",
        "/notesComponent/1/notesActionComments",
    }
    assert not Incident.objects.exists()


def test_a_time_without_its_offset_is_refused_by_its_pointer(send):
    document = valley_document()
    document["callComponent"][0]["callStartTimestamp"] = "2026-11-18T14:05:02"
    answer = send(document)
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_eido"
    assert set(answer.json()["fields"]) == {"/callComponent/0/callStartTimestamp"}


def test_a_dangling_reference_and_an_unreadable_pidf_are_warned_of_and_the_call_kept(send):
    document = valley_document()
    document["incidentComponent"]["locationReference"] = [{"$ref": "loc-404"}]
    document["locationComponent"][0]["locationByValue"] = "<presence><unclosed>"
    del document["locationComponent"][0]["crossStreetByValue"]
    answer = send(document)
    assert answer.status_code == 201, answer.content
    assert set(answer.json()["warnings"]) == {
        "/incidentComponent/locationReference/0",
        "/locationComponent/0/locationByValue",
    }
    assert Incident.objects.get().status == "needs_location"


def test_a_body_that_is_not_json_is_a_400(send, cad):
    answer = cad[1].post("/api/v1/eido", "{not json", content_type="application/json")
    assert answer.status_code == 400
    assert answer.json()["fields"] == {"/": ["Not a JSON document."]}


def test_a_wrong_version_and_a_non_object_are_refused(send):
    document = valley_document()
    document["eidoVersion"] = "2.0"
    assert "/eidoVersion" in send(document).json()["fields"]
    assert send([1, 2]).status_code == 422


def test_an_oversized_document_is_a_413_and_stores_nothing(send, settings):
    settings.CARE_EIDO_MAX_BYTES = 2000
    document = valley_document()
    assert len(json.dumps(document)) > 2000
    answer = send(document)
    assert answer.status_code == 413 and answer.json()["code"] == "too_large"
    assert not Incident.objects.exists()


def test_a_caution_flag_answers_the_screening_question_an_administrator_mapped(send):
    CautionMapping.objects.create(
        caution_text="prior contact", question=ScreeningQuestion.objects.get(key="violence")
    )
    body = send(valley_document()).json()
    incident = Incident.objects.get(pk=body["incident"])
    assert incident.screening["violence"] is True
    assert body["recommendation"] == "police_only" and not body["eligible"]


def test_the_call_type_comes_through_the_administrators_mapping(send):
    welfare = CallType.objects.get(code="SERVICE - WELFARE CHECK")
    CallTypeMapping.objects.create(source="internal", cad_code="WELF", call_type=welfare)
    document = valley_document()
    document["incidentComponent"]["incidentTypeInternalCode"] = "WELF"
    send(document)
    assert Incident.objects.get().call_type == welfare


def test_an_apco_type_maps_when_the_internal_code_is_unknown(send):
    welfare = CallType.objects.get(code="SERVICE - WELFARE CHECK")
    CallTypeMapping.objects.create(source="apco", cad_code="Check Welfare", call_type=welfare)
    document = valley_document()
    comp = document["incidentComponent"]
    comp["incidentTypeInternalCode"] = "XYZ-UNKNOWN"
    comp["incidentTypeCommonRegistryText"] = "Check Welfare"
    send(document)
    assert Incident.objects.get().call_type == welfare


def test_a_cad_cancel_cancels_the_call_and_frees_its_units(send, client_for, units):
    incident_id = send(valley_document()).json()["incident"]
    dispatched = client_for("dispatcher").post(
        f"/api/v1/incidents/{incident_id}/dispatch",
        {"care_unit": units["CARE-1"].pk, "spd_unit": units["2M12"].pk},
        format="json",
    )
    assert dispatched.status_code == 201
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
    assert send(cancel).json()["outcome"] == "updated"
    incident = Incident.objects.get(pk=incident_id)
    assert incident.status == "cancelled"
    assert incident.cancel_reason == "Cancelled in the CAD: Cancelled by caller"
    assert {a.status for a in incident.assignments.all()} == {"cancelled"}


def test_only_a_cad_key_may_post(send, client_for, people):
    from server.accounts.system_clients import create_system_client

    assert client_for("dispatcher").post("/api/v1/eido", {}, format="json").status_code == 403
    _, partner_key = create_system_client(
        actor=None, kind="partner", name="Food bank", organization_id="org-1"
    )
    other = client_for(None)
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {partner_key}")
    assert other.post("/api/v1/eido", valley_document(), format="json").status_code == 403
    assert client_for(None).post("/api/v1/eido", {}, format="json").status_code in (401, 403)
    assert not Incident.objects.exists()


def test_the_board_shows_a_cad_call_waiting_for_a_location_marked_from_the_cad(
    send, client, people
):
    document = valley_document()
    document["locationComponent"][0]["locationByValue"] = CIVIC_ONLY
    send(document)
    client.force_login(people["dispatcher"])
    board = client.get("/dispatch/board/").content.decode()
    row = board[board.index("VC26-118733") :][:600]
    assert "from CAD" in row and "Needs a location" in row


def test_raw_documents_past_their_retention_are_pruned_and_the_incident_stays(send):
    from django.utils import timezone

    from server.interop.services import prune_documents

    send(valley_document())
    assert prune_documents(timezone.now()) == 0
    later_on = timezone.now() + datetime.timedelta(days=366)
    assert prune_documents(later_on) == 1
    assert not CadDocument.objects.exists() and Incident.objects.count() == 1


def test_a_beat_longer_than_ours_is_cut_and_the_call_kept(send):
    document = valley_document()
    document["locationComponent"][0]["locationByValue"] = CIVIC_ONLY
    document["incidentComponent"]["beatOrDispatchGroupText"] = "NORTHWEST-7-SECTOR"
    assert send(document).status_code == 201
    assert Incident.objects.get().beat == "NORTHWEST-"


def test_a_call_with_no_location_says_so_instead_of_outside_the_pilot_area(send):
    document = valley_document()
    document["locationComponent"][0]["locationByValue"] = CIVIC_ONLY
    send(document)
    reasons = Incident.objects.get().eligibility_reasons
    assert reasons[0].startswith("The call has no location yet")
    assert not any("outside the CARE pilot area" in r for r in reasons)


def test_a_new_call_type_named_by_the_cad_carries_no_formula_or_markup(send):
    document = valley_document()
    comp = document["incidentComponent"]
    comp["incidentTypeInternalCode"] = '=HYPERLINK("http://x")<script>'
    comp["incidentTypeCommonRegistryText"] = "Other"
    send(document)
    code = Incident.objects.get().call_type.code
    assert code == "HYPERLINK( HTTP //X ) SCRIPT"
    assert not CallType.objects.get(code=code).eligible


def test_an_external_entity_in_the_pidf_lo_is_never_read(send):
    document = valley_document()
    document["locationComponent"][0]["locationByValue"] = (
        '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + CIVIC_ONLY.replace("<ca:A3>Seattle</ca:A3>", "<ca:A3>&x;</ca:A3>")
    )
    answer = send(document)
    assert answer.status_code in (201, 422)
    if answer.status_code == 201:
        assert "root:" not in Incident.objects.get().address


# ---- documents as NENA's schema shapes them ------------------------------------------------


def _prologue(stamp: str = "2026-11-18T14:05:31-08:00") -> dict:
    return {"lastUpdateTimeStamp": stamp, "updatedByAgencyReference": {"$ref": "agency-valleycom"}}


def _location(location_id: str, pidf: str) -> dict:
    return {
        "$id": location_id,
        **_prologue(),
        "locationTypeDescriptionRegistryText": "Incident",
        "locationByValue": pidf,
    }


def test_the_referenced_location_is_taken_among_several_not_the_first(send):
    document = valley_document()
    document["locationComponent"].insert(0, _location("loc-caller-home", CIVIC_ONLY))
    assert eido_errors(document) == []
    assert send(document).status_code == 201
    incident = Incident.objects.get()
    assert (incident.latitude, incident.longitude) == (47.61072, -122.33958)


def test_a_location_reached_only_through_a_call_or_a_person_is_resolved(send):
    for holder in ("callComponent", "personComponent"):
        document = valley_document()
        document["incidentComponent"]["internalIncidentId"] = f"VC-{holder}"
        del document["incidentComponent"]["locationReference"]
        document["callComponent"][0].pop("locationReference")
        document["locationComponent"] = [
            _location("loc-elsewhere", CIVIC_ONLY),
            _location("loc-point", POINT),
        ]
        if holder == "personComponent":
            document["personComponent"] = [
                {
                    "$id": "person-1",
                    **_prologue(),
                    "personIncidentRoleRegistryText": ["Subject"],
                    "locationReference": [{"$ref": "loc-point"}],
                }
            ]
        else:
            document["callComponent"][0]["locationReference"] = [{"$ref": "loc-point"}]
        assert eido_errors(document) == []
        assert send(document).status_code == 201
        incident = Incident.objects.get(cad_number=f"VC-{holder}")
        assert incident.latitude == 47.6107, holder


def test_the_earliest_of_several_calls_is_when_the_call_was_received(send):
    document = valley_document()
    second = {**document["callComponent"][0], "$id": "call-2"}
    second["callStartTimestamp"] = "2026-11-18T14:03:10-08:00"  # an earlier caller
    document["callComponent"].append(second)
    send(document)
    received = Incident.objects.get().received_at
    assert received == datetime.datetime.fromisoformat("2026-11-18T14:03:10-08:00")


def test_a_cross_street_sent_as_pidf_lo_reads_as_its_street(send):
    document = valley_document()
    document["locationComponent"][0]["crossStreetByValue"] = [
        CIVIC_ONLY.replace("<ca:HNO>600</ca:HNO>", "")
    ]
    send(document)
    assert Incident.objects.get().address == "1520 3rd Ave, Seattle (at E Pine St, Seattle)"


def test_a_valid_eido_with_neither_incident_nor_call_is_refused_for_that_reason(send):
    document = valley_document()
    del document["incidentComponent"]
    del document["callComponent"]
    assert eido_errors(document) == []
    answer = send(document)
    assert answer.status_code == 422
    assert answer.json()["code"] == "eido_without_call"
    assert not Incident.objects.exists()


def test_a_document_nena_refuses_is_invalid_eido_with_nena_s_reasons(send):
    document = valley_document()
    document["incidentComponent"]["locationReference"] = {"$ref": "loc-1"}  # one, not an array
    del document["updatedByAgencyReference"]
    answer = send(document)
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_eido"
    assert set(answer.json()["fields"]) == {
        "/incidentComponent/locationReference",
        "/updatedByAgencyReference",
    }
