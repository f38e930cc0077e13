"""The care records API as the tablet, the coordinator and an officer use it: the answers, the
status codes and the error shapes the contract promises, and what is written (or not)."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.test import Client
from django.utils import timezone

from server.accounts.models import User
from server.care.models import (
    Encounter,
    NaloxoneAdministration,
    Referral,
    ReferralUpdate,
    ServiceGiven,
    ServiceType,
    SurveyResponse,
)
from server.dispatch.models import Assignment

DESC_MOBILE_CRISIS = "0b7f0a52-5d2c-4c57-9b65-6f1d1a4e0001"
CRISIS_SOLUTIONS_CENTER = "0b7f0a52-5d2c-4c57-9b65-6f1d1a4e0002"


def at() -> str:
    """Care is recorded just after the dispatch that sent the team (the fixtures dispatch now):
    the same time on every call in a test, so a retried record is the same record."""
    latest = Assignment.objects.order_by("-dispatched_at").values_list("dispatched_at", flat=True)
    return ((latest.first() or timezone.now()) + datetime.timedelta(seconds=1)).isoformat()


@pytest.fixture
def call(dispatched):
    return dispatched()


@pytest.fixture
def care1(client_for):
    return client_for("care1")


def put_encounter(client, encounter_id, assignment, **fields):
    return client.put(
        f"/api/v1/encounters/{encounter_id}", {"assignment": assignment, **fields}, format="json"
    )


@pytest.fixture
def encounter(call, care1) -> str:
    encounter_id = str(uuid.uuid4())
    answer = put_encounter(
        care1, encounter_id, call["care"], people_contacted=1, disposition="referred", notes="Hi."
    )
    assert answer.status_code == 201, answer.content
    return encounter_id


def body_for(kind: str, encounter: str, **extra) -> dict:
    base = {
        "service": {"service": "de-escalation", "occurred_at": at(), "note": "Talked it through."},
        "naloxone": {
            "administered_at": at(),
            "dose_mg": "4",
            "doses": 1,
            "route": "intranasal",
            "response": "unknown",
            "ems_called": True,
        },
        "referral": {"service": DESC_MOBILE_CRISIS, "consent": True, "made_at": at()},
        "survey": {"consent": True, "answers": {"respected": 5, "helped": 4}, "answered_at": at()},
    }[kind]
    return {"id": str(uuid.uuid4()), "encounter": encounter, **base, **extra}


PATHS = {
    "service": "/api/v1/services-given",
    "naloxone": "/api/v1/naloxone-administrations",
    "referral": "/api/v1/referrals",
    "survey": "/api/v1/surveys",
}
MODELS = {
    "service": ServiceGiven,
    "naloxone": NaloxoneAdministration,
    "referral": Referral,
    "survey": SurveyResponse,
}
DIFFERENT = {
    "service": {"service": "first-aid"},
    "naloxone": {"dose_mg": "8"},
    "referral": {"service": CRISIS_SOLUTIONS_CENTER},
    "survey": {"answers": {"respected": 2}},
}


def record(client, kind: str, encounter: str, **extra):
    return client.post(PATHS[kind], body_for(kind, encounter, **extra), format="json")


def made(client, kind: str, encounter: str, **extra) -> dict:
    answer = record(client, kind, encounter, **extra)
    assert answer.status_code == 201, answer.content
    return answer.json()


def in_utc(body: dict) -> dict:
    """The answer with its times as instants: a replay may write the same time in UTC."""
    return {
        k: datetime.datetime.fromisoformat(v).astimezone(datetime.UTC) if k.endswith("_at") else v
        for k, v in body.items()
    }


def patch_referral(client, referral_id, **body):
    return client.patch(f"/api/v1/referrals/{referral_id}", body, format="json")


def mark_scene_safe(move, call) -> None:
    for to in ("acknowledged", "en_route", "on_scene", "scene_safe"):
        assert move("officer1", call["spd"], to).status_code == 200


# ---- encounters ----------------------------------------------------------------------------


def test_put_creates_the_encounter_under_the_tablets_uuid_and_get_reads_it_back(
    encounter, call, care1
):
    seen = care1.get(f"/api/v1/encounters/{encounter}")
    assert seen.status_code == 200
    body = seen.json()
    assert body["id"] == encounter
    assert body["assignment"] == call["care"]
    assert (body["version"], body["disposition"], body["notes"]) == (1, "referred", "Hi.")
    assert body["services"] == [] and body["naloxone"] == [] and body["referrals"] == []


def test_the_same_put_retried_answers_200_with_the_same_encounter_and_makes_no_copy(
    encounter, call, care1
):
    again = put_encounter(
        care1, encounter, call["care"], people_contacted=1, disposition="referred", notes="Hi."
    )
    assert again.status_code == 200
    assert again.json()["id"] == encounter
    assert again.json()["version"] == 1
    assert Encounter.objects.count() == 1


def test_a_put_with_only_the_assignment_opens_an_empty_encounter(call, care1):
    answer = put_encounter(care1, uuid.uuid4(), call["care"])
    assert answer.status_code == 201, answer.content
    assert answer.json()["people_contacted"] == 1


def test_a_second_encounter_id_for_the_same_assignment_answers_409_naming_the_first(
    encounter, call, care1
):
    answer = put_encounter(care1, uuid.uuid4(), call["care"], people_contacted=2)
    assert answer.status_code == 409
    assert answer.json()["server"] == {"encounter": encounter}
    assert answer.json()["detail"]
    assert Encounter.objects.count() == 1


def test_edits_from_version_1_merge_field_by_field_and_a_clash_answers_version_conflict(
    encounter, call, care1
):
    first = put_encounter(care1, encounter, call["care"], base_version=1, notes="Took water.")
    assert first.status_code == 200
    assert first.json()["version"] == 2
    second = put_encounter(
        care1, encounter, call["care"], base_version=1, disposition="stabilized-on-scene"
    )
    assert second.status_code == 200
    assert (second.json()["notes"], second.json()["disposition"]) == (
        "Took water.",
        "stabilized-on-scene",
    )

    clash = put_encounter(care1, encounter, call["care"], base_version=1, notes="Left.")
    assert clash.status_code == 409
    body = clash.json()
    assert body["code"] == "version_conflict"
    assert body["server"]["notes"] == "Took water."
    assert body["server"]["version"] == 3
    assert Encounter.objects.get(pk=encounter).notes == "Took water."

    current = put_encounter(care1, encounter, call["care"], base_version=3, notes="Left.")
    assert current.status_code == 200
    assert current.json()["notes"] == "Left."


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"disposition": "arrested"}, "disposition"),
        ({"people_contacted": 51}, "people_contacted"),
        ({"client_initials": "ABCDE"}, "client_initials"),
        ({"client_birth_year": 1850}, "client_birth_year"),
        ({"base_version": 0}, "base_version"),
    ],
)
def test_a_bad_encounter_field_answers_400_naming_the_field(fields, field, call, care1):
    answer = put_encounter(care1, uuid.uuid4(), call["care"], **fields)
    assert answer.status_code == 400
    assert field in answer.json()["fields"]
    assert not Encounter.objects.exists()


# ---- records created by UUID ----------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(PATHS))
def test_a_record_posted_again_with_the_same_id_and_data_answers_the_same_and_adds_nothing(
    kind, encounter, care1
):
    body = body_for(kind, encounter)
    first = care1.post(PATHS[kind], body, format="json")
    assert first.status_code == 201, first.content
    again = care1.post(PATHS[kind], body, format="json")
    assert again.status_code in (200, 201)
    assert in_utc(again.json()) == in_utc(first.json())
    assert MODELS[kind].objects.count() == 1


@pytest.mark.parametrize("kind", sorted(PATHS))
def test_a_record_id_reused_with_different_data_answers_409_id_reused_and_changes_nothing(
    kind, encounter, care1
):
    body = body_for(kind, encounter)
    assert care1.post(PATHS[kind], body, format="json").status_code == 201
    stored = MODELS[kind].objects.values().get(pk=body["id"])
    answer = care1.post(PATHS[kind], body | DIFFERENT[kind], format="json")
    assert answer.status_code == 409
    assert answer.json()["code"] == "id_reused"
    assert MODELS[kind].objects.values().get(pk=body["id"]) == stored


@pytest.mark.parametrize("kind", sorted(PATHS))
def test_a_record_on_an_encounter_that_does_not_exist_answers_404(kind, call, care1):
    answer = record(care1, kind, str(uuid.uuid4()))
    assert answer.status_code == 404
    assert not MODELS[kind].objects.exists()


# ---- naloxone -------------------------------------------------------------------------------


@pytest.mark.parametrize("dose", ["0", "-1", "16.01", "17"])
def test_a_naloxone_dose_at_or_below_zero_or_over_16_mg_answers_400_on_dose_mg(
    dose, encounter, care1
):
    answer = record(care1, "naloxone", encounter, dose_mg=dose)
    assert answer.status_code == 400
    assert "dose_mg" in answer.json()["fields"]
    assert not NaloxoneAdministration.objects.exists()


def test_a_naloxone_dose_of_16_mg_is_accepted(encounter, care1):
    assert made(care1, "naloxone", encounter, dose_mg="16")["dose_mg"] == "16.00"


def test_a_dose_recorded_with_one_tap_keeps_its_dose_and_route_as_not_yet_recorded(
    encounter, care1
):
    body = body_for("naloxone", encounter)
    for field in ("dose_mg", "route", "response"):
        body.pop(field)
    answer = care1.post(PATHS["naloxone"], body, format="json")
    assert answer.status_code == 201, answer.content
    given = answer.json()
    assert (given["dose_mg"], given["route"], given["response"]) == (None, None, "unknown")
    stored = NaloxoneAdministration.objects.get(pk=given["id"])
    assert (stored.dose_mg, stored.route) == (None, "")


def test_a_dose_and_route_chosen_later_can_be_taken_back_to_not_yet_recorded(encounter, care1):
    given = made(care1, "naloxone", encounter, dose_mg=None, route=None)
    path = f"/api/v1/naloxone-administrations/{given['id']}"
    chosen = care1.patch(path, {"dose_mg": "4", "route": "intranasal"}, format="json")
    assert (chosen.json()["dose_mg"], chosen.json()["route"]) == ("4.00", "intranasal")
    undone = care1.patch(path, {"dose_mg": None, "route": None}, format="json")
    assert undone.status_code == 200, undone.content
    assert (undone.json()["dose_mg"], undone.json()["route"]) == (None, None)


@pytest.mark.parametrize(("field", "value"), [("route", "oral"), ("response", "cured")])
def test_a_naloxone_route_or_response_outside_the_nemsis_list_answers_400(
    field, value, encounter, care1
):
    answer = record(care1, "naloxone", encounter, **{field: value})
    assert answer.status_code == 400
    assert field in answer.json()["fields"]


def test_patching_a_naloxone_record_corrects_dose_route_and_response(encounter, care1):
    given = made(care1, "naloxone", encounter)
    answer = care1.patch(
        f"/api/v1/naloxone-administrations/{given['id']}",
        {"dose_mg": "2", "route": "intramuscular", "response": "improved", "doses": 2},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["dose_mg"], body["route"], body["response"], body["doses"], body["version"]) == (
        "2.00",
        "intramuscular",
        "improved",
        2,
        2,
    )
    seen = care1.get(f"/api/v1/encounters/{encounter}").json()["naloxone"][0]
    assert seen["route"] == "intramuscular"


@pytest.mark.parametrize(("field", "value"), [("dose_mg", "0"), ("dose_mg", "20"), ("route", "iv")])
def test_patching_a_naloxone_record_with_a_bad_value_answers_400_and_changes_nothing(
    field, value, encounter, care1
):
    given = made(care1, "naloxone", encounter)
    answer = care1.patch(
        f"/api/v1/naloxone-administrations/{given['id']}", {field: value}, format="json"
    )
    assert answer.status_code == 400
    assert field in answer.json()["fields"]
    stored = NaloxoneAdministration.objects.get(pk=given["id"])
    assert (str(stored.dose_mg), stored.route, stored.version) == ("4.00", "intranasal", 1)


def test_only_the_unit_that_gave_naloxone_can_correct_it(encounter, care1, client_for):
    given = made(care1, "naloxone", encounter)
    path = f"/api/v1/naloxone-administrations/{given['id']}"
    assert client_for("care3").patch(path, {"dose_mg": "2"}, format="json").status_code == 404
    assert client_for("officer1").patch(path, {"dose_mg": "2"}, format="json").status_code == 403
    assert client_for("coordinator").patch(path, {"dose_mg": "2"}, format="json").status_code == 403
    assert NaloxoneAdministration.objects.get(pk=given["id"]).version == 1


# ---- referrals ------------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["7d5c1f0e-3b2a-4c9d-8e7f-000000000404", "mobile-crisis"])
def test_a_referral_to_an_unknown_directory_service_answers_400_on_service(
    service, encounter, care1
):
    answer = record(care1, "referral", encounter, service=service)
    assert answer.status_code == 400
    assert "service" in answer.json()["fields"]
    assert not Referral.objects.exists()


def test_a_referral_needs_consent_recorded_yes_or_no(encounter, care1):
    body = body_for("referral", encounter)
    del body["consent"]
    answer = care1.post("/api/v1/referrals", body, format="json")
    assert answer.status_code == 400
    assert "consent" in answer.json()["fields"]
    assert made(care1, "referral", encounter, consent=False)["consent"] is False


def test_a_coordinator_moves_a_referral_from_made_to_contacted_to_connected(
    encounter, care1, client_for
):
    referral = made(care1, "referral", encounter)
    coordinator = client_for("coordinator")
    contacted = patch_referral(coordinator, referral["id"], status="contacted", base_version=1)
    assert contacted.status_code == 200, contacted.content
    assert (contacted.json()["status"], contacted.json()["version"]) == ("contacted", 2)
    connected = patch_referral(coordinator, referral["id"], status="connected", base_version=2)
    assert connected.status_code == 200
    assert Referral.objects.get(pk=referral["id"]).status == "connected"


@pytest.mark.parametrize(
    ("path", "jump"),
    [([], "connected"), (["closed"], "contacted"), (["contacted", "connected"], "made")],
)
def test_a_referral_jump_not_in_the_flow_answers_409_with_current_and_requested(
    path, jump, encounter, care1, client_for
):
    referral = made(care1, "referral", encounter)
    coordinator = client_for("coordinator")
    for status in path:
        assert patch_referral(coordinator, referral["id"], status=status).status_code == 200
    current = path[-1] if path else "made"
    answer = patch_referral(coordinator, referral["id"], status=jump, note="Trying.")
    assert answer.status_code == 409
    body = answer.json()
    assert (body["current"], body["requested"]) == (current, jump)
    assert body["detail"]
    assert Referral.objects.get(pk=referral["id"]).status == current
    assert ReferralUpdate.objects.count() == len(path)


def test_a_referral_patch_from_an_old_version_answers_version_conflict(
    encounter, care1, client_for
):
    referral = made(care1, "referral", encounter)
    coordinator = client_for("coordinator")
    assert (
        patch_referral(coordinator, referral["id"], note="Called.", base_version=1).status_code
        == 200
    )
    answer = patch_referral(coordinator, referral["id"], status="declined", base_version=1)
    assert answer.status_code == 409
    assert answer.json()["code"] == "version_conflict"
    assert answer.json()["server"]["version"] == 2


def test_coordinator_follow_up_notes_and_due_dates_are_kept_as_updates(
    encounter, care1, client_for
):
    referral = made(care1, "referral", encounter)
    coordinator = client_for("coordinator")
    due = timezone.localdate() + datetime.timedelta(days=3)
    answer = patch_referral(
        coordinator, referral["id"], note="Left a voicemail.", follow_up_due=due.isoformat()
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "made"
    assert answer.json()["follow_up_due"] == due.isoformat()
    patch_referral(coordinator, referral["id"], status="contacted", note="Spoke with her.")

    rows = list(ReferralUpdate.objects.filter(referral_id=referral["id"]))
    assert [(r.from_status, r.to_status, r.note) for r in rows] == [
        ("made", "made", "Left a voicemail."),
        ("made", "contacted", "Spoke with her."),
    ]
    assert rows[0].follow_up_due == due
    assert rows[0].author == User.objects.get(username="coordinator")

    updates = coordinator.get(f"/api/v1/referrals/{referral['id']}").json()["updates"]
    assert [u["note"] for u in updates] == ["Left a voicemail.", "Spoke with her."]
    assert updates[0]["author"] == "coordinator"


def test_overdue_lists_only_open_referrals_whose_follow_up_date_has_passed(
    encounter, care1, client_for
):
    coordinator = client_for("coordinator")
    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    tomorrow = (timezone.localdate() + datetime.timedelta(days=1)).isoformat()

    def referral(due: str | None, *statuses: str) -> str:
        made_one = made(care1, "referral", encounter)["id"]
        if due:
            patch_referral(coordinator, made_one, follow_up_due=due)
        for status in statuses:
            assert patch_referral(coordinator, made_one, status=status).status_code == 200
        return made_one

    overdue_made = referral(yesterday)
    overdue_contacted = referral(yesterday, "contacted")
    referral(tomorrow)
    referral(None)
    referral(yesterday, "contacted", "connected")
    referral(yesterday, "closed")

    answer = coordinator.get("/api/v1/referrals?overdue=true")
    assert answer.status_code == 200
    assert {r["id"] for r in answer.json()} == {overdue_made, overdue_contacted}
    assert len(coordinator.get("/api/v1/referrals").json()) == 6


# ---- surveys --------------------------------------------------------------------------------


def test_a_survey_with_consent_and_answers_from_1_to_5_is_kept(encounter, care1):
    answer = made(care1, "survey", encounter, answers={"respected": 1, "would_call_again": 5})
    assert answer["encounter"] == encounter
    assert SurveyResponse.objects.get(pk=answer["id"]).answers == {
        "respected": 1,
        "would_call_again": 5,
    }


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"consent": False}, "consent"),
        ({"answers": {"respected": 0}}, "answers.respected"),
        ({"answers": {"helped": 6}}, "answers.helped"),
        ({"answers": {"mood": 3}}, "answers.mood"),
    ],
)
def test_a_survey_without_consent_or_with_a_bad_answer_answers_400_naming_it(
    extra, field, encounter, care1
):
    answer = record(care1, "survey", encounter, **extra)
    assert answer.status_code == 400
    assert field in answer.json()["fields"]
    assert not SurveyResponse.objects.exists()


# ---- before the scene is safe ---------------------------------------------------------------


def test_care_recorded_before_the_scene_is_safe_is_accepted_but_flagged(encounter, care1):
    assert care1.get(f"/api/v1/encounters/{encounter}").json()["before_scene_safe"] is True
    for kind in ("service", "naloxone", "referral"):
        answer = record(care1, kind, encounter)
        assert answer.status_code == 201
        assert answer.json()["before_scene_safe"] is True


def test_care_recorded_after_the_officer_marks_the_scene_safe_is_not_flagged(call, care1, move):
    mark_scene_safe(move, call)
    answer = put_encounter(care1, uuid.uuid4(), call["care"], people_contacted=1)
    assert answer.status_code == 201
    assert answer.json()["before_scene_safe"] is False
    for kind in ("service", "naloxone", "referral"):
        assert made(care1, kind, answer.json()["id"])["before_scene_safe"] is False


@pytest.fixture
def staff(client_for):
    """A supervisor: a single day's figures are a range of days, which only staff may ask."""
    return client_for("admin")


def _metrics(client) -> dict:
    answer = client.get("/api/v1/metrics?from=2026-11-18&to=2026-11-18")
    assert answer.status_code == 200
    return answer.json()


def test_the_metrics_count_flagged_records_and_suppress_a_count_under_11(
    encounter, call, care1, move, staff
):
    assert _metrics(staff)["records_before_scene_safe"] == "<11"
    for _ in range(10):
        made(care1, "service", encounter)
    assert _metrics(staff)["records_before_scene_safe"] == 11

    mark_scene_safe(move, call)
    for _ in range(3):
        assert made(care1, "service", encounter)["before_scene_safe"] is False
    figures = _metrics(staff)
    assert figures["records_before_scene_safe"] == 11
    assert figures["services_given"] == 13


def test_the_metrics_report_zero_flagged_records_as_zero(call, care1, move, staff):
    mark_scene_safe(move, call)
    put_encounter(care1, uuid.uuid4(), call["care"])
    assert _metrics(staff)["records_before_scene_safe"] == 0


# ---- who may record and read care -----------------------------------------------------------


def test_care_cannot_be_put_on_the_spd_assignment_of_the_call(call, care1, client_for):
    # Not their unit's assignment: the responder is told it doesn't exist.
    assert put_encounter(care1, uuid.uuid4(), call["spd"]).status_code == 404
    # Even an administrator, who may see it, is refused with a reason.
    answer = put_encounter(client_for("admin"), uuid.uuid4(), call["spd"])
    assert answer.status_code == 400
    assert "assignment" in answer.json()["fields"]
    assert not Encounter.objects.exists()


def test_a_responder_of_another_unit_gets_404_for_every_care_record(
    encounter, call, care1, client_for
):
    referral = made(care1, "referral", encounter)
    naloxone = made(care1, "naloxone", encounter)
    care3 = client_for("care3")
    assert put_encounter(care3, encounter, call["care"], notes="Mine now").status_code == 404
    assert put_encounter(care3, uuid.uuid4(), call["care"]).status_code == 404
    assert care3.get(f"/api/v1/encounters/{encounter}").status_code == 404
    assert care3.get(f"/api/v1/referrals/{referral['id']}").status_code == 404
    assert care3.get("/api/v1/referrals").json() == []
    assert patch_referral(care3, referral["id"], note="x").status_code == 404
    assert (
        care3.patch(
            f"/api/v1/naloxone-administrations/{naloxone['id']}", {"doses": 2}, format="json"
        ).status_code
        == 404
    )
    for kind in PATHS:
        assert record(care3, kind, encounter).status_code == 404
    assert Encounter.objects.get(pk=encounter).notes == "Hi."
    assert ServiceGiven.objects.count() == 0


def test_an_officer_is_refused_403_on_every_care_endpoint(encounter, call, care1, client_for):
    referral = made(care1, "referral", encounter)
    naloxone = made(care1, "naloxone", encounter)
    officer = client_for("officer1")
    answers = [
        put_encounter(officer, uuid.uuid4(), call["care"]),
        put_encounter(officer, uuid.uuid4(), call["spd"]),
        officer.get(f"/api/v1/encounters/{encounter}"),
        officer.get("/api/v1/referrals"),
        officer.get(f"/api/v1/referrals/{referral['id']}"),
        patch_referral(officer, referral["id"], note="x"),
        officer.patch(
            f"/api/v1/naloxone-administrations/{naloxone['id']}", {"doses": 2}, format="json"
        ),
        *[record(officer, kind, encounter) for kind in PATHS],
    ]
    assert [a.status_code for a in answers] == [403] * len(answers)
    assert all("notes" not in a.json() and "Hi." not in a.content.decode() for a in answers)
    assert Encounter.objects.count() == 1


def test_a_coordinator_reads_encounters_and_referrals_but_cannot_record_care(
    encounter, call, client_for
):
    referral = made(client_for("care1"), "referral", encounter)
    coordinator = client_for("coordinator")
    read = coordinator.get(f"/api/v1/encounters/{encounter}")
    assert read.status_code == 200
    assert read.json()["id"] == encounter
    assert "notes" not in read.json() and "Hi." not in read.content.decode()  # minimum necessary
    assert [r["id"] for r in read.json()["referrals"]] == [referral["id"]]
    one = coordinator.get(f"/api/v1/referrals/{referral['id']}")
    assert one.status_code == 200
    assert one.json()["service"] == DESC_MOBILE_CRISIS and one.json()["encounter"] == encounter
    queue = coordinator.get("/api/v1/referrals")
    assert [r["id"] for r in queue.json()] == [referral["id"]]
    assert put_encounter(coordinator, encounter, call["care"], notes="x").status_code == 403
    assert record(coordinator, "service", encounter).status_code == 403


# ---- catalogs are data an administrator edits -----------------------------------------------


def test_a_service_type_deactivated_in_admin_is_no_longer_offered_or_accepted(
    encounter, care1, people
):
    admin = User.objects.create_superuser("root", "root@example.org", "root-pass")
    browser = Client()
    browser.force_login(admin)
    transport = ServiceType.objects.get(code="transport")
    answer = browser.post(
        f"/admin/care/servicetype/{transport.pk}/change/",
        {"code": "transport", "label": transport.label, "order": transport.order, "_save": "Save"},
    )
    assert answer.status_code == 302, answer.content
    assert ServiceType.objects.get(pk=transport.pk).active is False

    offered = [s["code"] for s in care1.get("/api/v1/protocol").json()["services"]]
    assert "transport" not in offered
    assert "first-aid" in offered
    refused = record(care1, "service", encounter, service="transport")
    assert refused.status_code == 400
    assert "service" in refused.json()["fields"]
    assert made(care1, "service", encounter, service="first-aid")["service"] == "first-aid"
