"""Enrolled tablets: a supervisor's one-time code, a tablet identity that every sign-in names,
and one revocation for a lost tablet."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from server.accounts import services
from server.accounts.models import Device, EnrolmentCode, Tablet
from server.audit.models import AuditEntry
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def enrolment_required(settings):
    settings.CARE_TABLET_ENROLMENT_REQUIRED = True


def new_code(people) -> str:
    """A supervisor at the board (a browser session: no tablet of their own needed)."""
    supervisor = APIClient()
    supervisor.force_login(people["admin"])
    answer = supervisor.post("/api/v1/tablets/enrolment-codes")
    assert answer.status_code == 201, answer.content
    assert answer.json()["qr_svg"].startswith("data:image/svg+xml")
    return answer.json()["code"]


def enrol(code: str, name: str = "CARE-1 tablet A"):
    return APIClient().post("/api/v1/tablets/enrol", {"code": code, "name": name}, format="json")


def sign_in(username: str, tablet: dict | None):
    body = {"username": username, "password": PASSWORD, "device_name": "tablet"}
    if tablet:
        body |= {"tablet_id": tablet["tablet_id"], "tablet_secret": tablet["tablet_secret"]}
    return APIClient().post("/api/v1/auth/token", body, format="json")


def test_a_supervisors_code_enrols_a_tablet_whose_sign_ins_then_get_tokens(
    people, enrolment_required
):
    tablet = enrol(new_code(people))
    assert tablet.status_code == 201
    answer = sign_in("care1", tablet.json())
    assert answer.status_code == 201, answer.content
    device = Device.objects.get(pk=answer.json()["device_id"])
    assert str(device.tablet_id) == tablet.json()["tablet_id"]
    assert AuditEntry.objects.filter(action="tablet.enrolled").count() == 1


def test_a_code_used_a_second_time_is_refused_and_enrols_nothing(people):
    code = new_code(people)
    assert enrol(code).status_code == 201
    again = enrol(code, "someone else's tablet")
    assert again.status_code == 400
    assert again.json()["code"] == "enrolment_refused"
    assert "already used" in again.json()["detail"]
    assert Tablet.objects.count() == 1


def test_an_expired_code_is_refused(people):
    code = new_code(people)
    EnrolmentCode.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    answer = enrol(code)
    assert answer.status_code == 400 and "expired" in answer.json()["detail"]
    assert not Tablet.objects.exists()


def test_a_code_lives_ten_minutes_by_default(people):
    new_code(people)
    made = EnrolmentCode.objects.get()
    assert made.expires_at - made.created_at == pytest.approx(
        datetime.timedelta(minutes=10), abs=datetime.timedelta(seconds=5)
    )


def test_an_unknown_code_and_a_nameless_tablet_are_refused_with_their_fields(people):
    unknown = enrol("NOTACODE99")
    assert unknown.status_code == 400 and "code" in unknown.json()["fields"]
    nameless = enrol(new_code(people), "   ")
    assert nameless.status_code == 400 and "name" in nameless.json()["fields"]


def test_only_a_supervisor_makes_enrolment_codes(client_for):
    for username in ("dispatcher", "care1", "officer1", "coordinator"):
        assert client_for(username).post("/api/v1/tablets/enrolment-codes").status_code == 403
    assert APIClient().post("/api/v1/tablets/enrolment-codes").status_code == 401


def test_an_unenrolled_tablet_is_refused_with_a_reason_when_enrolment_is_required(
    people, enrolment_required
):
    answer = sign_in("care1", None)
    assert answer.status_code == 403
    assert answer.json()["code"] == "tablet_not_enrolled"
    forged = sign_in(
        "care1", {"tablet_id": "6d3c2a8e-0000-4000-8000-000000000000", "tablet_secret": "x"}
    )
    assert forged.status_code == 403 and forged.json()["code"] == "tablet_not_enrolled"
    assert not Device.objects.exists()


def test_a_wrong_tablet_secret_is_refused_even_when_enrolment_is_not_required(people):
    tablet = enrol(new_code(people)).json()
    answer = sign_in("care1", {**tablet, "tablet_secret": "guess"})
    assert answer.status_code == 403 and answer.json()["code"] == "tablet_not_enrolled"


def test_revoking_a_lost_tablet_once_ends_every_sign_in_on_it_and_refuses_the_next(
    people, enrolment_required
):
    tablet = enrol(new_code(people)).json()
    first, second = sign_in("care1", tablet).json(), sign_in("care3", tablet).json()
    other_tablet = enrol(new_code(people)).json()
    elsewhere = sign_in("care1", other_tablet).json()
    services.revoke_device(
        actor=people["admin"], device=Device.objects.get(pk=first["device_id"]), reason="lost"
    )
    for token in (first["token"], second["token"]):
        me = APIClient().get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {token}")
        assert me.status_code == 401 and me.json()["code"] == "revoked"
    again = sign_in("care3", tablet)
    assert again.status_code == 403 and again.json()["code"] == "tablet_revoked"
    kept = APIClient().get("/api/v1/me", HTTP_AUTHORIZATION=f"Token {elsewhere['token']}")
    assert kept.status_code == 200


def test_deactivating_a_person_leaves_their_tablet_for_the_next_responder(
    people, enrolment_required
):
    tablet = enrol(new_code(people)).json()
    assert sign_in("care1", tablet).status_code == 201
    services.deactivate_person(actor=people["admin"], user=people["care1"])
    assert Tablet.objects.get(pk=tablet["tablet_id"]).revoked_at is None
    assert sign_in("care3", tablet).status_code == 201
