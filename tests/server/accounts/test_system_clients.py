"""System clients (a CAD, a partner): keys issued once and kept only as a hash, held to their own
endpoint family, refused once revoked or deactivated, rotated and revoked in admin, audited."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command
from rest_framework.response import Response
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework.views import APIView

from server.accounts import system_clients
from server.accounts.models import Role, SystemClient, User
from server.accounts.permissions import CAD_KEY, PARTNER_KEY
from server.audit.models import AuditEntry
from server.audit.services import record_audit
from tests.conftest import PASSWORD


class CadDoor(APIView):
    roles = {"GET": (CAD_KEY,)}

    def get(self, request):
        return Response({"client": request.auth.name})


class PartnerDoor(APIView):
    roles = {"GET": (PARTNER_KEY,)}

    def get(self, request):
        return Response({"client": request.auth.name})


def knock(view: type[APIView], key: str) -> int:
    request = APIRequestFactory().get("/door", HTTP_AUTHORIZATION=f"Api-Key {key}")
    return view.as_view()(request).status_code


def issue(kind: str = "cad", name: str = "Seattle CAD", **extra) -> tuple[SystemClient, str]:
    return system_clients.create_system_client(actor=None, kind=kind, name=name, **extra)


def keyed(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def test_the_command_prints_the_key_once_and_stores_only_its_hash(db):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_system_client", "cad", "Seattle CAD", stdout=out, stderr=err)
    key = out.getvalue().strip()
    client = SystemClient.objects.get(name="Seattle CAD")
    assert re.fullmatch(r"[0-9a-f]{8}\.[A-Za-z0-9_-]{43}", key)
    assert key.startswith(client.key_prefix + ".")
    assert client.key_hash != key and key not in str(SystemClient.objects.values().get())
    assert "shown only this once" in err.getvalue()
    assert (client.kind, client.scope, client.user.role) == ("cad", "cad", Role.SYSTEM)
    assert knock(CadDoor, key) == 200


def test_a_partner_needs_the_organization_it_acts_for(db):
    with pytest.raises(CommandError, match="organization"):
        call_command("create_system_client", "partner", "Food bank", stdout=io.StringIO())
    out = io.StringIO()
    call_command(
        "create_system_client", "partner", "Food bank", "--organization", "org-17", stdout=out
    )
    assert SystemClient.objects.get(name="Food bank").organization_id == "org-17"


def test_two_clients_may_not_share_a_name(db):
    issue()
    with pytest.raises(system_clients.Conflict):
        issue()


def test_a_cad_key_opens_cad_doors_only(people):
    _, key = issue()
    assert knock(CadDoor, key) == 200
    assert knock(PartnerDoor, key) == 403


def test_a_partner_key_opens_partner_doors_only(people):
    _, key = issue("partner", "Food bank", organization_id="org-17")
    assert knock(PartnerDoor, key) == 200
    assert knock(CadDoor, key) == 403


def test_a_system_key_opens_no_person_endpoint(people):
    _, key = issue()
    client = keyed(key)
    for path in ("/api/v1/incidents", "/api/v1/me", "/api/v1/units", "/api/v1/sync/pull"):
        assert client.get(path).status_code == 403, path


def test_unknown_wrong_and_malformed_keys_are_refused(db):
    client, key = issue()
    prefix = client.key_prefix
    secret = key.split(".")[1]
    for bad in ("nonsense", f"{prefix}.wrong-secret", f"00000000.{secret}", f"{prefix}."):
        assert knock(CadDoor, bad) == 401, bad


def test_a_revoked_key_is_refused_exactly_as_an_unknown_key_is(db):
    client, key = issue()
    system_clients.revoke(actor=None, client=client)
    revoked = keyed(key).get("/api/v1/incidents")
    unknown = keyed(f"{client.key_prefix}.{'x' * 43}").get("/api/v1/incidents")
    never = keyed("nonsense").get("/api/v1/incidents")
    assert revoked.status_code == unknown.status_code == never.status_code == 401
    assert revoked.json() == unknown.json() == never.json()
    assert revoked["WWW-Authenticate"] == unknown["WWW-Authenticate"]
    assert knock(CadDoor, key) == 401


def test_a_deactivated_client_is_refused(db):
    client, key = issue()
    SystemClient.objects.filter(pk=client.pk).update(active=False)
    assert knock(CadDoor, key) == 401


def test_rotating_stops_the_old_key_at_once_and_the_new_one_works(db):
    client, old = issue()
    new = system_clients.rotate_key(actor=None, client=client)
    assert knock(CadDoor, old) == 401
    assert knock(CadDoor, new) == 200
    assert client.rotated_at is not None


def test_a_revoked_client_gets_no_new_key(db):
    client, _ = issue()
    system_clients.revoke(actor=None, client=client)
    with pytest.raises(system_clients.Conflict):
        system_clients.rotate_key(actor=None, client=client)


def test_the_system_account_can_never_sign_in_with_a_password(people):
    client, _ = issue()
    user = client.user
    user.set_password(PASSWORD)  # even if someone set one
    user.save()
    answer = APIClient().post(
        "/api/v1/auth/token",
        {"username": user.username, "password": PASSWORD, "device_name": "x"},
        format="json",
    )
    assert answer.status_code == 401


def test_audit_rows_written_for_a_key_name_the_system_client(db):
    client, _ = issue()
    entry = record_audit(actor=client.user, action="test.done", object_type="x", object_id="1")
    entry.refresh_from_db()
    assert entry.system_client_id == client.pk
    assert entry.actor_label == "cad:Seattle CAD"


def test_audit_rows_for_a_person_name_the_person_and_no_client(people):
    entry = record_audit(actor=people["dispatcher"], action="t", object_type="x", object_id="1")
    assert entry.system_client_id is None and entry.actor_label == "dispatcher"


def superuser(client) -> User:
    admin = User.objects.create_superuser("root", password=PASSWORD, role=Role.ADMIN)
    client.force_login(admin)
    return admin


def test_admin_issues_a_key_and_shows_it_once(client, db):
    admin = superuser(client)
    answer = client.post(
        "/admin/accounts/systemclient/add/",
        {"kind": "cad", "name": "Valley CAD", "organization_id": ""},
        follow=True,
    )
    made = SystemClient.objects.get(name="Valley CAD")
    text = answer.content.decode()
    key = re.search(rf"{made.key_prefix}\.[A-Za-z0-9_-]{{43}}", text).group(0)
    assert knock(CadDoor, key) == 200
    assert AuditEntry.objects.get(action="system_client.created").actor == admin


def test_a_new_key_is_on_the_answering_page_only_never_in_a_cookie_or_message(client, db):
    superuser(client)
    added = client.post(
        "/admin/accounts/systemclient/add/",
        {"kind": "partner", "name": "Harbor", "organization_id": "org-1"},
    )
    made = SystemClient.objects.get(name="Harbor")
    key = re.search(rf"{made.key_prefix}\.[A-Za-z0-9_-]{{43}}", added.content.decode()).group(0)
    assert added.status_code == 200
    assert "no-store" in added["Cache-Control"]
    rotated = client.post(
        "/admin/accounts/systemclient/", {"action": "rotate", "_selected_action": [made.pk]}
    )
    made.refresh_from_db()
    new = re.search(rf"{made.key_prefix}\.[A-Za-z0-9_-]{{43}}", rotated.content.decode()).group(0)
    secrets_ = (key.split(".")[1], new.split(".")[1])
    for answer in (added, rotated):
        assert "messages" not in answer.cookies  # signed, not encrypted: never a key in it
        for morsel in answer.cookies.values():
            assert not any(secret in morsel.value for secret in secrets_)
    stored = " ".join(str(v) for v in client.cookies.values())
    assert not any(secret in stored for secret in secrets_)
    later = client.get("/admin/accounts/systemclient/").content.decode()
    assert not any(secret in later for secret in secrets_)
    audit = " ".join(str(e.after) for e in AuditEntry.objects.all())
    assert not any(secret in audit for secret in secrets_)


def test_admin_rotates_and_revokes_with_audit_rows_naming_the_administrator(client, db):
    admin = superuser(client)
    made, old = issue()
    answer = client.post(
        "/admin/accounts/systemclient/",
        {"action": "rotate", "_selected_action": [made.pk]},
        follow=True,
    )
    made.refresh_from_db()
    new = re.search(rf"{made.key_prefix}\.[A-Za-z0-9_-]{{43}}", answer.content.decode()).group(0)
    assert knock(CadDoor, old) == 401 and knock(CadDoor, new) == 200
    client.post(
        "/admin/accounts/systemclient/", {"action": "revoke", "_selected_action": [made.pk]}
    )
    assert knock(CadDoor, new) == 401
    rows = AuditEntry.objects.filter(object_type="accounts.systemclient").order_by("id")
    assert [(r.action, r.actor) for r in rows] == [
        ("system_client.created", None),
        ("system_client.key_rotated", admin),
        ("system_client.revoked", admin),
    ]
