"""The coordinator console: who may open it, the queue's filters and paging, and follow-ups
written through the care service, with every look at a referral audited."""

from __future__ import annotations

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from server.audit.models import AuditEntry
from server.care.models import Referral, ReferralUpdate
from server.reports.sample_history import write_sample_history
from tests.conftest import PASSWORD


@pytest.fixture
def referrals(people) -> list[Referral]:
    write_sample_history(
        start=timezone.localdate() - datetime.timedelta(days=3), days=3, calls_per_day=45
    )
    made = list(Referral.objects.order_by("made_at"))
    assert len(made) > 25
    return made


def signed_in(username: str, **options) -> Client:
    client = Client(**options)
    assert client.login(username=username, password=PASSWORD)
    return client


def test_the_console_sends_a_stranger_to_sign_in_and_refuses_other_roles(people, client):
    assert client.get("/coordinator/")["Location"].startswith("/login/?next=/coordinator/")
    assert signed_in("dispatcher").get("/coordinator/").status_code == 403
    assert signed_in("care1").get("/coordinator/").status_code == 403
    assert signed_in("coordinator").get("/coordinator/").status_code == 200


def test_the_queue_filters_by_status_and_pages_by_25(referrals):
    coordinator = signed_in("coordinator")

    first = coordinator.get("/coordinator/").content.decode()
    connected = coordinator.get("/coordinator/?status=connected").content.decode()

    assert f"{len(referrals)} referrals" in first
    assert first.count("/coordinator/referrals/") == 25
    assert "page=2" in first
    n = sum(1 for r in referrals if r.status == "connected")
    assert f"{n} referral" in connected
    assert "Unable to reach</td>" not in connected


def test_an_overdue_follow_up_is_highlighted(referrals):
    Referral.objects.update(follow_up_due=None)
    late = next(r for r in referrals if r.status == "made")
    Referral.objects.filter(pk=late.pk).update(
        follow_up_due=timezone.localdate() - datetime.timedelta(days=2)
    )

    page = signed_in("coordinator").get("/coordinator/?overdue=1").content.decode()

    assert "1 referral." in page
    assert 'class="overdue"' in page and "overdue</span>" in page


def test_opening_a_referral_is_audited_and_shows_the_encounter_summary(referrals):
    referral = referrals[0]
    before = AuditEntry.objects.filter(action="referral.viewed").count()

    page = signed_in("coordinator").get(f"/coordinator/referrals/{referral.pk}/")

    assert page.status_code == 200
    assert "Encounter summary" in page.content.decode()
    assert AuditEntry.objects.filter(action="referral.viewed").count() == before + 1


def test_a_follow_up_moves_the_status_and_keeps_the_note_and_due_date(referrals):
    referral = next(r for r in referrals if r.status == "made")
    due = timezone.localdate() + datetime.timedelta(days=5)

    answer = signed_in("coordinator").post(
        f"/coordinator/referrals/{referral.pk}/",
        {
            "status": "contacted",
            "note": "Left a message with intake.",
            "follow_up_due": due.isoformat(),
            "version": referral.version,
        },
    )

    assert answer.status_code == 302
    referral.refresh_from_db()
    assert referral.status == "contacted" and referral.follow_up_due == due
    update = ReferralUpdate.objects.get(referral=referral)
    assert update.note == "Left a message with intake." and update.author.username == "coordinator"


def test_a_follow_up_the_flow_does_not_allow_shows_why_and_changes_nothing(referrals):
    referral = next(r for r in referrals if r.status == "made")

    answer = signed_in("coordinator").post(
        f"/coordinator/referrals/{referral.pk}/", {"status": "connected", "follow_up_due": "soon"}
    )

    assert answer.status_code == 200
    assert "YYYY-MM-DD" in answer.content.decode()
    answer = signed_in("coordinator").post(
        f"/coordinator/referrals/{referral.pk}/", {"status": "connected"}
    )
    assert "can&#x27;t become connected" in answer.content.decode()
    referral.refresh_from_db()
    assert referral.status == "made"


def test_a_follow_up_without_the_csrf_token_is_refused(referrals):
    referral = referrals[0]
    client = signed_in("coordinator", enforce_csrf_checks=True)

    answer = client.post(f"/coordinator/referrals/{referral.pk}/", {"note": "x"})

    assert answer.status_code == 403
    assert not ReferralUpdate.objects.filter(referral=referral).exists()
