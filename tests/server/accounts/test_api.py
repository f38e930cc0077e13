"""The sign-in endpoints over HTTP: lockout answers, token rotation, and the admin login's lockout
and password rules."""

from __future__ import annotations

import datetime

from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from server.accounts.models import DeviceToken, User
from server.audit.models import AuditEntry
from tests.conftest import PASSWORD


def token_request(client: APIClient, username: str, password: str):
    return client.post(
        "/api/v1/auth/token",
        {"username": username, "password": password, "device_name": "tablet"},
        format="json",
    )


def test_a_wrong_password_answers_401_with_a_readable_message(people):
    answer = token_request(APIClient(), "care1", "nope")
    assert answer.status_code == 401
    assert answer.json() == {"code": "bad_credentials", "detail": "Wrong username or password."}


def test_five_wrong_passwords_lock_the_token_endpoint_with_a_json_429(people):
    client = APIClient()
    codes = [token_request(client, "care1", "nope").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    answer = token_request(client, "care1", PASSWORD)
    assert answer.status_code == 429
    body = answer.json()
    assert body["code"] == "locked_out"
    assert "locked" in body["detail"] and "Try again in 10 minutes" in body["detail"]
    assert body["locked_until"]
    assert 590 <= int(answer["Retry-After"]) <= 601


def test_the_people_list_in_admin_shows_who_is_locked(people, client):
    for _ in range(5):
        token_request(APIClient(), "care1", "nope")
    people["admin"].is_staff = True
    people["admin"].is_superuser = True
    people["admin"].save()
    client.force_login(people["admin"])
    page = client.get("/admin/accounts/user/").content.decode()
    assert "Locked until" in page
    until = timezone.localtime(timezone.now() + datetime.timedelta(minutes=10))
    assert (
        until.strftime("%H:%M") in page
        or (until - datetime.timedelta(minutes=1)).strftime("%H:%M") in page
    )


def test_rotation_answers_a_new_token_and_the_old_one_gets_401(people):
    client = APIClient()
    first = token_request(client, "care1", PASSWORD).json()
    client.credentials(HTTP_AUTHORIZATION=f"Token {first['token']}")
    rotated = client.post("/api/v1/auth/token/rotate")
    assert rotated.status_code == 201
    assert rotated.json()["device_id"] == first["device_id"]
    assert client.get("/api/v1/me").status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Token {rotated.json()['token']}")
    assert client.get("/api/v1/me").json()["username"] == "care1"


def test_rotation_without_a_token_answers_401(db):
    assert APIClient().post("/api/v1/auth/token/rotate").status_code == 401


def test_rotation_from_a_browser_session_is_refused_with_a_reason(people, client):
    client.force_login(people["admin"])
    answer = client.post("/api/v1/auth/token/rotate")
    # Signed in, so not 403: the request is well-formed for a person but has no device token.
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"
    assert "device token" in answer.json()["detail"]


def admin_login(client, username: str, password: str, **meta):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        follow=False,
        **meta,
    )


def test_admin_login_succeeds_and_is_audited(people, client):
    people["admin"].is_staff = True
    people["admin"].save()
    answer = admin_login(client, "admin", PASSWORD)
    assert answer.status_code == 302
    assert AuditEntry.objects.filter(action="auth.login", actor=people["admin"]).exists()


def test_admin_login_locks_after_five_failures_and_says_so(people, client):
    people["admin"].is_staff = True
    people["admin"].save()
    for _ in range(5):
        admin_login(client, "admin", "nope")
    answer = admin_login(client, "admin", PASSWORD)
    assert answer.status_code == 200  # the form again, not the admin index
    assert b"Too many failed sign-ins" in answer.content
    assert AuditEntry.objects.filter(action="auth.login_failed", object_id="admin").count() == 5


def test_failures_at_the_admin_count_toward_the_token_lockout(people, client):
    for _ in range(5):
        admin_login(client, "care1", "nope")
    assert token_request(APIClient(), "care1", PASSWORD).status_code == 429


def test_an_admin_setting_a_weak_password_is_refused_by_the_validators(people, client):
    people["admin"].is_staff = True
    people["admin"].is_superuser = True
    people["admin"].save()
    client.force_login(people["admin"])
    target = people["care1"]
    answer = client.post(
        f"/admin/accounts/user/{target.pk}/password/",
        {"password1": "12345678", "password2": "12345678"},
    )
    assert answer.status_code == 200
    assert b"too common" in answer.content or b"entirely numeric" in answer.content
    target.refresh_from_db()
    assert target.check_password(PASSWORD)


def test_an_admin_adding_a_person_with_a_short_password_is_refused(people, client):
    people["admin"].is_staff = True
    people["admin"].is_superuser = True
    people["admin"].save()
    client.force_login(people["admin"])
    answer = client.post(
        "/admin/accounts/user/add/",
        {
            "username": "newcomer",
            "password1": "abc",
            "password2": "abc",
            "usable_password": "true",
            "role": "care_responder",
        },
    )
    assert answer.status_code == 200
    assert b"too short" in answer.content
    assert not User.objects.filter(username="newcomer").exists()


def test_an_admin_can_unlock_a_locked_person(people, client):
    for _ in range(5):
        token_request(APIClient(), "care1", "nope")
    people["admin"].is_staff = True
    people["admin"].is_superuser = True
    people["admin"].save()
    client.force_login(people["admin"])
    client.post(
        "/admin/accounts/user/",
        {"action": "unlock", "_selected_action": [people["care1"].pk]},
    )
    assert token_request(APIClient(), "care1", PASSWORD).status_code == 201


def test_the_web_sign_in_page_shares_the_lockout(people, client):
    for _ in range(5):
        client.post("/login/", {"username": "coordinator", "password": "nope"})
    signed_in = client.post("/login/", {"username": "coordinator", "password": PASSWORD})
    assert signed_in.status_code == 200  # the form again: no session was started
    assert "locked" in signed_in.content.decode()  # and it says why
    assert "_auth_user_id" not in client.session
    assert token_request(APIClient(), "coordinator", PASSWORD).status_code == 429
    trail = AuditEntry.objects.filter(object_id="coordinator")
    assert trail.filter(action="auth.login_failed", after__channel="/login/").count() == 5
    assert trail.filter(action="auth.locked_out", after__channel="/login/").exists()


def test_a_web_sign_in_is_audited(people, client):
    answer = client.post("/login/", {"username": "coordinator", "password": PASSWORD})
    assert answer.status_code == 302
    assert AuditEntry.objects.filter(
        action="auth.login", actor=people["coordinator"], after__channel="/login/"
    ).exists()


def test_an_expired_token_answers_401_saying_to_sign_in_again(people):
    client = APIClient()
    token = token_request(client, "care1", PASSWORD).json()["token"]
    DeviceToken.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    answer = client.get("/api/v1/me")
    assert answer.status_code == 401
    assert "sign in again" in answer.json()["detail"]
    assert client.post("/api/v1/auth/token/rotate").status_code == 401


def test_a_new_token_lives_as_long_as_the_setting_says(people, settings):
    settings.CARE_TOKEN_TTL_HOURS = 12
    token_request(APIClient(), "care1", PASSWORD)
    lifetime = DeviceToken.objects.get().expires_at - timezone.now()
    assert datetime.timedelta(hours=11, minutes=59) < lifetime <= datetime.timedelta(hours=12)


def test_a_revoked_device_answers_401_with_code_revoked_and_a_signed_out_one_does_not(people):
    from server.accounts.models import Device
    from server.accounts.services import revoke_device, sign_out

    revoked, signed_out = APIClient(), APIClient()
    keys = [token_request(APIClient(), "care1", PASSWORD).json()["token"] for _ in range(2)]
    revoked.credentials(HTTP_AUTHORIZATION=f"Token {keys[0]}")
    signed_out.credentials(HTTP_AUTHORIZATION=f"Token {keys[1]}")
    device = Device.objects.get(tokens__key_hash=DeviceToken.hash(keys[0]))
    revoke_device(actor=people["admin"], device=device, reason="Tablet lost")
    sign_out(token=DeviceToken.objects.get(key_hash=DeviceToken.hash(keys[1])))

    gone = revoked.get("/api/v1/me")
    assert gone.status_code == 401
    assert gone.json()["code"] == "revoked"
    assert "revoked" in gone.json()["detail"]
    expired = signed_out.get("/api/v1/me")
    assert expired.status_code == 401
    assert expired.json()["code"] != "revoked"


def test_a_lock_earned_from_one_address_leaves_the_person_signing_in_from_theirs(people, client):
    attacker = {"REMOTE_ADDR": "198.51.100.66"}
    for _ in range(5):
        client.post("/login/", {"username": "care1", "password": "nope"}, **attacker)
    refused = APIClient().post(
        "/api/v1/auth/token",
        {"username": "care1", "password": PASSWORD, "device_name": "tablet"},
        format="json",
        **attacker,
    )
    assert refused.status_code == 429
    assert token_request(APIClient(), "care1", PASSWORD).status_code == 201


def test_spraying_the_admin_login_over_many_usernames_is_throttled_per_address(
    people, client, settings
):
    sprayer = {"REMOTE_ADDR": "203.0.113.9"}
    for n in range(settings.CARE_LOCKOUT_ADDRESS_FAILURES):
        admin_login(client, f"guess{n}", "Summer2026!", **sprayer)
    people["admin"].is_staff = True
    people["admin"].save()
    answer = admin_login(client, "admin", PASSWORD, **sprayer)
    assert answer.status_code == 200 and b"Too many failed sign-ins" in answer.content
    assert admin_login(Client(), "admin", PASSWORD).status_code == 302
