"""Reference data edited in admin goes through its commands: the model's checks, the supervisor's
role, an audit row with before and after, and the feed event its readers need."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from server.accounts.models import Role, User
from server.audit.models import AuditEntry
from server.dispatch.incidents import commands
from server.dispatch.models import CallType, Unit
from server.errors import Conflict
from server.feed.models import Event
from tests.conftest import PASSWORD
from tests.server.test_admin_walk import read_form


def _signed_in(username: str, role: str) -> Client:
    User.objects.create_superuser(username, f"{username}@example.org", PASSWORD, role=role)
    browser = Client()
    assert browser.login(username=username, password=PASSWORD)
    return browser


@pytest.fixture
def supervisor(people) -> Client:
    return _signed_in("chief", Role.ADMIN)


def test_a_unit_taken_out_of_service_in_admin_is_audited_and_told_to_the_board(supervisor, units):
    unit = units["CARE-2"]
    page = supervisor.get(f"/admin/dispatch/unit/{unit.pk}/change/")
    form, _ = read_form(page.content.decode(), "unit_form")
    del form["in_service"]  # the box unticked, the rest as shown

    answer = supervisor.post(f"/admin/dispatch/unit/{unit.pk}/change/", {**form, "_save": "Save"})

    assert answer.status_code == 302
    assert Unit.objects.get(pk=unit.pk).in_service is False
    [entry] = AuditEntry.objects.filter(action="unit.changed", object_id=str(unit.pk))
    assert (entry.before["in_service"], entry.after["in_service"]) == (True, False)
    assert Event.objects.filter(stream_id="dispatch", kind="unit.updated").exists()


def test_a_call_type_in_use_is_not_deleted_and_the_command_says_why(people, dispatched):
    dispatched()
    in_use = CallType.objects.filter(incidents__isnull=False).first()

    with pytest.raises(Conflict, match="make it inactive instead"):
        commands.delete_call_type.execute(actor=people["admin"], data={"record_id": in_use.pk})

    assert CallType.objects.filter(pk=in_use.pk).exists()
    assert not AuditEntry.objects.filter(action="calltype.deleted").exists()


def test_a_call_type_nobody_used_is_deleted_with_an_audit_row(supervisor, reference):
    unused = CallType.objects.create(code="TEST - NEVER USED", eligible=False)

    supervisor.post(f"/admin/dispatch/calltype/{unused.pk}/delete/", {"post": "yes"})

    assert not CallType.objects.filter(pk=unused.pk).exists()
    [entry] = AuditEntry.objects.filter(action="calltype.deleted")
    assert entry.before["code"] == "TEST - NEVER USED"


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.ADMIN])
def test_only_the_supervisor_role_edits_reference_data_even_with_the_admin_permission(people, role):
    """Django's own permission lets a staff account open the page; the command decides."""
    person = User.objects.create_user("desk", password=PASSWORD, role=role, is_staff=True)
    person.user_permissions.add(*Permission.objects.filter(codename__endswith="_calltype"))
    browser = Client()
    assert browser.login(username="desk", password=PASSWORD)
    call_type = CallType.objects.get(eligible=True, code__startswith="DOWN")
    form = {"code": call_type.code, "active": "on", "_save": "Save"}  # eligible unticked

    browser.post(f"/admin/dispatch/calltype/{call_type.pk}/change/", form, follow=True)

    changed = AuditEntry.objects.filter(action="calltype.changed").exists()
    assert CallType.objects.get(pk=call_type.pk).eligible is not changed
    assert changed is (role == Role.ADMIN)
