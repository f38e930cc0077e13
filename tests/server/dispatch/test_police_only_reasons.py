"""Police-only reasons are a list of codes an administrator edits: dispatchers choose from it, the
program's own codes are not offered, and a code in use can't be deleted."""

from __future__ import annotations

import pytest
from django.test import Client

from server.accounts.models import Role, User
from server.dispatch.models import PoliceOnlyReason
from tests.conftest import PASSWORD, call_body


@pytest.fixture
def supervisor(people) -> Client:
    user = User.objects.create_superuser(
        "supervisor", "supervisor@example.org", PASSWORD, role=Role.ADMIN
    )
    client = Client()
    client.force_login(user)
    return client


def police_only(client_for, units, code: str):
    dispatcher = client_for("dispatcher")
    incident = dispatcher.post("/api/v1/incidents", call_body(), format="json").json()
    return dispatcher.post(
        f"/api/v1/incidents/{incident['id']}/dispatch",
        {"spd_unit": units["2M12"].pk, "police_only_code": code, "override_reason": "busy"},
        format="json",
    )


def test_the_protocol_offers_dispatchers_the_active_codes_but_not_the_programs_own(client_for):
    offered = client_for("dispatcher").get("/api/v1/protocol").json()["police_only_reasons"]

    codes = [r["code"] for r in offered]
    assert {"no_care_team", "supervisor_decision", "other"} <= set(codes)
    assert not {"care_withdrawn", "screening"} & set(codes)
    assert all(r["label"] for r in offered)


def test_an_administrator_adds_a_reason_and_dispatchers_can_choose_it(
    supervisor, client_for, units
):
    added = supervisor.post(
        "/admin/dispatch/policeonlyreason/add/",
        {"code": "bridge_closed", "label": "Bridge closed", "active": "on", "order": 9},
    )
    assert added.status_code == 302, added.content[:500]

    answer = police_only(client_for, units, "bridge_closed")

    assert answer.status_code == 201, answer.content
    codes = [
        r["code"]
        for r in client_for("dispatcher").get("/api/v1/protocol").json()["police_only_reasons"]
    ]
    assert "bridge_closed" in codes


def test_a_reason_made_inactive_is_refused_and_one_in_use_cannot_be_deleted(
    supervisor, client_for, units
):
    assert police_only(client_for, units, "supervisor_decision").status_code == 201
    reason = PoliceOnlyReason.objects.get(code="supervisor_decision")

    supervisor.post(f"/admin/dispatch/policeonlyreason/{reason.pk}/delete/", {"post": "yes"})
    assert PoliceOnlyReason.objects.filter(code="supervisor_decision").exists()

    PoliceOnlyReason.objects.filter(pk=reason.pk).update(active=False)
    refused = police_only(client_for, units, "supervisor_decision")
    assert refused.status_code == 400
    assert list(refused.json()["fields"]) == ["police_only_code"]
