"""Offline push as a tablet uses it: every kind of change, retries and reused ids, conflicts, a call
cancelled while the tablet was offline, bad changes in a batch, clock skew, roles, bad bodies, and
the same batch sent twice at once on PostgreSQL."""

from __future__ import annotations

import datetime
import functools
import uuid
from collections import Counter

import pytest
from django.utils import timezone

from server.accounts.models import Device
from server.audit.models import AuditEntry
from server.care.models import (
    Encounter,
    NaloxoneAdministration,
    Referral,
    ServiceGiven,
    SurveyResponse,
)
from server.dispatch.models import Assignment, AssignmentTransition
from server.feed.models import Event
from server.sync.models import AppliedMutation
from tests.racing import race
from tests.server.dispatch.conftest import reference  # noqa: F401 - the fast reference data
from tests.server.sync.conftest import (
    DESC_MOBILE_CRISIS,
    PUSH,
    care1_tablet,
    change,
    push,
    results,
    statuses,
)


def every_care_change(encounter: str) -> list[dict]:
    service_id, naloxone_id, referral_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    return [
        change("service.create", service_id, {"encounter": encounter, "service": "first-aid"}),
        change("naloxone.create", naloxone_id, {"encounter": encounter, "dose_mg": "4"}),
        change("naloxone.update", naloxone_id, {"response": "improved", "ems_called": True}),
        change(
            "referral.create",
            referral_id,
            {"encounter": encounter, "service": DESC_MOBILE_CRISIS, "consent": True},
        ),
        change("referral.update", referral_id, {"status": "contacted", "note": "Called."}),
        change(
            "survey.create",
            uuid.uuid4(),
            {"encounter": encounter, "consent": True, "answers": {"respected": 5}},
        ),
    ]


# ---- applied -------------------------------------------------------------------------------


def test_a_transition_pushed_offline_is_applied_with_device_and_server_time(call, care1):
    moved = change("assignment.transition", call["care"], {"to": "acknowledged"})
    [result] = results(care1, moved)
    assert result["status"] == "applied"
    assert result["server"]["status"] == "acknowledged"
    row = AssignmentTransition.objects.get(mutation_id=moved["id"])
    assert row.to_status == "acknowledged" and row.device is not None
    assert row.occurred_at == datetime.datetime.fromisoformat(moved["occurred_at"])
    assert row.recorded_at > row.occurred_at  # server time kept beside device time


def test_the_tablet_hears_its_own_change_back_tagged_with_the_mutation_id(call, care1, units):
    moved = change("assignment.transition", call["care"], {"to": "acknowledged"})
    results(care1, moved)
    echo = Event.objects.get(stream_id=f"unit:{units['CARE-1'].pk}", kind="assignment.updated")
    assert str(echo.mutation_id) == moved["id"]


def test_every_kind_of_care_record_is_applied_through_the_same_services(encounter, care1, units):
    batch = every_care_change(encounter)
    found = results(care1, *batch)
    assert statuses(found) == ["applied"] * len(batch), found
    assert ServiceGiven.objects.get(pk=batch[0]["entity_id"]).service.code == "first-aid"
    naloxone = NaloxoneAdministration.objects.get(pk=batch[1]["entity_id"])
    assert naloxone.response == "improved" and naloxone.ems_called and naloxone.version == 2
    assert Referral.objects.get(pk=batch[3]["entity_id"]).status == "contacted"
    assert SurveyResponse.objects.filter(pk=batch[5]["entity_id"]).exists()
    echoes = set(
        Event.objects.filter(stream_id=f"unit:{units['CARE-1'].pk}").values_list(
            "mutation_id", flat=True
        )
    )
    assert {uuid.UUID(m["id"]) for m in batch} <= echoes  # every change's echo is recognizable


def test_changes_to_one_entity_apply_in_the_order_sent_not_by_device_time(call, care1):
    now = timezone.now()
    acknowledged = change(
        "assignment.transition", call["care"], {"to": "acknowledged"}, occurred_at=now.isoformat()
    )
    en_route = change(
        "assignment.transition",
        call["care"],
        {"to": "en_route"},
        # The tablet's clock stepped back a minute between the two taps (a time sync).
        occurred_at=(now - datetime.timedelta(minutes=1)).isoformat(),
    )
    assert statuses(results(care1, acknowledged, en_route)) == ["applied", "applied"]
    assert Assignment.objects.get(pk=call["care"]).status == "en_route"


def test_a_transition_dated_well_before_the_last_one_is_rejected_and_changes_nothing(call, care1):
    now = timezone.now()
    acknowledged = change(
        "assignment.transition", call["care"], {"to": "acknowledged"}, occurred_at=now.isoformat()
    )
    backdated = change(
        "assignment.transition",
        call["care"],
        {"to": "en_route"},
        occurred_at=(now - datetime.timedelta(minutes=30)).isoformat(),
    )
    first, second = results(care1, acknowledged, backdated)
    assert (first["status"], second["status"]) == ("applied", "rejected")
    assert second["code"] == "invalid" and "occurred_at" in second["fields"]
    assert Assignment.objects.get(pk=call["care"]).status == "acknowledged"


def test_a_transition_dated_after_the_dispatch_but_before_the_last_change_is_rejected(call, care1):
    now = timezone.now()
    # Dispatched an hour ago (the server's clock); acknowledged five minutes ago.
    Assignment.objects.filter(pk=call["care"]).update(
        dispatched_at=now - datetime.timedelta(hours=1)
    )
    AssignmentTransition.objects.filter(assignment_id=call["care"]).update(
        occurred_at=now - datetime.timedelta(hours=1)
    )
    acknowledged = change(
        "assignment.transition",
        call["care"],
        {"to": "acknowledged"},
        occurred_at=(now - datetime.timedelta(minutes=5)).isoformat(),
    )
    before_it = change(
        "assignment.transition",
        call["care"],
        {"to": "en_route"},
        occurred_at=(now - datetime.timedelta(minutes=30)).isoformat(),
    )
    after_it = {**before_it, "id": str(uuid.uuid4()), "occurred_at": now.isoformat()}
    first, second, third = results(care1, acknowledged, before_it, after_it)
    assert statuses([first, second, third]) == ["applied", "rejected", "applied"]
    assert "occurred_at" in second["fields"]


def test_a_clock_known_to_be_an_hour_fast_has_its_times_put_in_server_terms(call, care1):
    ahead = timezone.now() + datetime.timedelta(hours=1)
    moved = change("assignment.transition", call["care"], {"to": "acknowledged"})
    moved["occurred_at"] = (ahead - datetime.timedelta(minutes=1)).isoformat()
    [answer] = results(care1, moved, device_time=ahead)
    assert answer["status"] == "applied"
    kept = AssignmentTransition.objects.get(mutation_id=moved["id"])
    # A minute before the batch was sent, by the server's clock (give or take the round trip).
    expected = timezone.now() - datetime.timedelta(minutes=1)
    assert abs((kept.occurred_at - expected).total_seconds()) < 60
    sent = AppliedMutation.objects.get(pk=moved["id"]).occurred_at
    assert sent == ahead - datetime.timedelta(minutes=1)  # the device's own time, kept as data


def test_an_encounter_and_records_on_it_in_one_batch_apply_in_order(on_scene, care1):
    encounter_id = str(uuid.uuid4())
    opened = change("encounter.upsert", encounter_id, {"assignment": on_scene["care"]})
    batch = [opened, *every_care_change(encounter_id)]
    assert statuses(results(care1, *batch)) == ["applied"] * len(batch)
    assert Encounter.objects.get(pk=encounter_id).mutation_id == uuid.UUID(opened["id"])


# ---- duplicates and reused ids -------------------------------------------------------------


def test_a_retried_batch_answers_duplicate_with_the_first_answer_and_applies_nothing_twice(
    encounter, care1
):
    batch = every_care_change(encounter)
    first = results(care1, *batch)
    events = Event.objects.count()
    again = results(care1, *batch)
    assert statuses(again) == ["duplicate"] * len(batch)
    for before, after in zip(first, again, strict=True):
        assert after["original_status"] == before["status"] == "applied"
        assert after["server"] == before["server"]
    assert Event.objects.count() == events
    assert NaloxoneAdministration.objects.get(pk=batch[1]["entity_id"]).version == 2


def test_the_same_change_twice_in_one_batch_is_applied_once(encounter, care1):
    recorded = change(
        "service.create", uuid.uuid4(), {"encounter": encounter, "service": "transport"}
    )
    found = results(care1, recorded, recorded)
    assert statuses(found) == ["applied", "duplicate"]
    assert ServiceGiven.objects.filter(pk=recorded["entity_id"]).count() == 1
    assert Event.objects.filter(mutation_id=recorded["id"]).count() == 1


def test_a_retried_rejection_is_answered_as_the_same_rejection(call, care1):
    bad = change("assignment.transition", call["care"], {"to": "cleared"})
    [first] = results(care1, bad)
    [again] = results(care1, bad)
    assert first["status"] == "rejected"
    assert again["status"] == "duplicate" and again["original_status"] == "rejected"
    assert again["reason"] == first["reason"]


def test_a_mutation_id_reused_with_different_data_is_refused_and_never_applied(encounter, care1):
    recorded = change(
        "service.create", uuid.uuid4(), {"encounter": encounter, "service": "basic-needs"}
    )
    results(care1, recorded)
    reused = {**recorded, "entity_id": str(uuid.uuid4())}
    [answer] = results(care1, reused)
    assert answer["status"] == "rejected" and answer["code"] == "id_reused"
    assert "different data" in answer["reason"]
    assert not ServiceGiven.objects.filter(pk=reused["entity_id"]).exists()
    # The first answer is still the one kept.
    assert AppliedMutation.objects.get(pk=recorded["id"]).status == "applied"


def test_a_mutation_id_reused_with_different_data_on_the_same_record_is_refused(encounter, care1):
    edited = change("encounter.upsert", encounter, {"notes": "Eating now."})
    [first] = results(care1, edited)
    assert first["status"] == "applied"
    [answer] = results(care1, {**edited, "data": {"notes": "Left before we arrived."}})
    assert answer["status"] == "rejected" and answer["code"] == "id_reused"
    assert Encounter.objects.get(pk=encounter).notes == "Eating now."
    # The same change sent again is still a retry.
    [again] = results(care1, edited)
    assert again["status"] == "duplicate"


def test_another_account_reusing_a_mutation_id_learns_nothing_of_the_first(call, client_for):
    moved = change("assignment.transition", call["care"], {"to": "acknowledged"})
    results(client_for("care1"), moved)
    [answer] = results(client_for("care3"), moved)
    assert answer["status"] == "rejected" and "server" not in answer
    assert "another account" in answer["reason"]


# ---- conflicts and rejections --------------------------------------------------------------


def test_an_encounter_edit_on_a_stale_version_merges_other_fields_and_conflicts_on_the_same(
    encounter, care1
):
    [edited] = results(care1, change("encounter.upsert", encounter, {"notes": "Eating now."}))
    assert edited["status"] == "applied" and edited["server"]["version"] == 2
    stale_same = change("encounter.upsert", encounter, {"notes": "Left."}, base_version=1)
    stale_other = change("encounter.upsert", encounter, {"people_contacted": 3}, base_version=1)
    clash, merged = results(care1, stale_same, stale_other)
    assert clash["status"] == "conflict"
    assert clash["server"]["notes"] == "Eating now." and "notes" in clash["reason"]
    assert merged["status"] == "applied"
    stored = Encounter.objects.get(pk=encounter)
    assert (stored.notes, stored.people_contacted) == ("Eating now.", 3)


def test_a_referral_update_on_an_old_version_is_a_conflict_with_the_servers_copy(encounter, care1):
    referral_id = uuid.uuid4()
    made = change(
        "referral.create",
        referral_id,
        {"encounter": encounter, "service": DESC_MOBILE_CRISIS, "consent": True},
    )
    moved = change("referral.update", referral_id, {"status": "contacted"}, base_version=1)
    stale = change("referral.update", referral_id, {"status": "declined"}, base_version=1)
    found = results(care1, made, moved, stale)
    assert statuses(found) == ["applied", "applied", "conflict"]
    assert found[2]["server"]["status"] == "contacted"


def test_a_transition_on_a_call_cancelled_while_offline_is_rejected_with_the_reason(
    call, care1, client_for
):
    cancelled = client_for("dispatcher").post(
        f"/api/v1/incidents/{call['incident']['id']}/cancel",
        {"reason": "Caller says he walked away"},
        format="json",
    )
    assert cancelled.status_code == 200
    [answer] = results(care1, change("assignment.transition", call["care"], {"to": "acknowledged"}))
    assert answer["status"] == "rejected"
    assert "cancelled while you were offline" in answer["reason"]
    assert "walked away" in answer["reason"]
    assert answer["server"]["status"] == "cancelled"


def test_a_bad_change_in_the_middle_of_a_batch_sinks_nothing_else(encounter, care1):
    good = change(
        "service.create", uuid.uuid4(), {"encounter": encounter, "service": "basic-needs"}
    )
    bad = change("service.create", uuid.uuid4(), {"encounter": encounter, "service": "juggling"})
    nonsense = change("assignment.teleport", uuid.uuid4(), {})
    also_good = change(
        "service.create", uuid.uuid4(), {"encounter": encounter, "service": "transport"}
    )
    found = results(care1, good, bad, nonsense, also_good)
    assert statuses(found) == ["applied", "rejected", "rejected", "applied"]
    assert "juggling" in found[1]["reason"]
    assert "not a kind of change" in found[2]["reason"]
    assert not ServiceGiven.objects.filter(pk=bad["entity_id"]).exists()
    assert (
        ServiceGiven.objects.filter(pk__in=[good["entity_id"], also_good["entity_id"]]).count() == 2
    )


def test_a_record_on_an_encounter_the_server_never_got_is_rejected_readably(on_scene, care1):
    orphan = change(
        "service.create", uuid.uuid4(), {"encounter": str(uuid.uuid4()), "service": "basic-needs"}
    )
    [answer] = results(care1, orphan)
    assert answer["status"] == "rejected" and "No such encounter" in answer["reason"]


# ---- roles ---------------------------------------------------------------------------------


def test_an_officer_may_push_transitions_but_never_care_records(encounter, call, client_for):
    officer = client_for("officer1")
    moved = change("assignment.transition", call["spd"], {"to": "acknowledged"})
    care = every_care_change(encounter)
    found = results(officer, moved, *care)
    assert statuses(found) == ["applied"] + ["rejected"] * len(care)
    assert all(r["code"] == "forbidden" and "SPD officers" in r["reason"] for r in found[1:])
    assert not ServiceGiven.objects.filter(pk=care[0]["entity_id"]).exists()


@pytest.mark.parametrize("username", ["dispatcher", "coordinator"])
def test_roles_without_a_tablet_in_the_field_may_not_push(username, client_for, people):
    answer = push(client_for(username))
    assert answer.status_code == 403
    assert answer.json()["code"]


def test_a_push_without_a_device_token_is_refused(people, client_for):
    from rest_framework.test import APIClient

    browser = APIClient()
    browser.force_authenticate(people["care1"])
    answer = push(browser)
    assert answer.status_code == 403 and "token" in answer.json()["detail"]


# ---- malformed bodies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[]",
        '{"mutations": []}',
        '{"device_time": "yesterday-ish", "mutations": []}',
        '{"device_time": "2026-11-23T10:00:00Z", "mutations": {"a": 1}}',
        '{"device_time": "2026-11-23T10:00:00Z", "mutations": [42]}',
        '{"device_time": "2026-11-23T10:00:00Z", "mutations": [{"type": "service.create"}]}',
        '{"device_time": "2026-11-23T10:00:00Z", "mutations": [{"id": "not-a-uuid"}]}',
    ],
)
def test_a_malformed_body_answers_400_json_and_changes_nothing(body, care1):
    answer = care1.post(PUSH, body, content_type="application/json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] in ("invalid", "malformed") and answer.json()["detail"]
    assert not AppliedMutation.objects.exists()


def test_a_change_missing_its_fields_is_rejected_on_its_own(call, care1):
    found = results(care1, {"id": str(uuid.uuid4()), "type": "service.create"})
    assert found[0]["status"] == "rejected" and found[0]["code"] == "invalid"
    assert "entity_id" in found[0]["fields"] and "occurred_at" in found[0]["fields"]


# ---- clock skew ----------------------------------------------------------------------------


def test_a_device_clock_off_by_more_than_two_minutes_is_flagged_and_audited(call, care1):
    answer = push(care1, device_time=timezone.now() + datetime.timedelta(minutes=10))
    assert 590 < answer.json()["clock_skew_seconds"] < 610
    device = Device.objects.get(user__username="care1")
    assert device.clock_skew_flagged and 590 < device.clock_skew_seconds < 610
    assert AuditEntry.objects.filter(action="device.clock_skew_flagged").count() == 1
    push(care1, device_time=timezone.now())
    device.refresh_from_db()
    assert not device.clock_skew_flagged and abs(device.clock_skew_seconds) < 5
    assert AuditEntry.objects.filter(action="device.clock_skew_cleared").count() == 1


def test_a_skew_under_two_minutes_is_kept_but_not_flagged(call, care1):
    push(care1, device_time=timezone.now() - datetime.timedelta(seconds=90))
    device = Device.objects.get(user__username="care1")
    assert -95 < device.clock_skew_seconds < -85 and not device.clock_skew_flagged


def test_a_device_time_in_the_future_beyond_the_measured_skew_is_clamped_and_flagged(call, care1):
    sent = timezone.now() + datetime.timedelta(hours=1)
    moved = change("assignment.transition", call["care"], {"to": "acknowledged"})
    moved["occurred_at"] = sent.isoformat()
    [answer] = results(care1, moved)
    assert answer["status"] == "applied" and answer["clock_flagged"] is True
    kept = AppliedMutation.objects.get(pk=moved["id"])
    assert kept.clock_flagged and kept.occurred_at == sent  # what the device said, as data
    row = AssignmentTransition.objects.get(mutation_id=moved["id"])
    assert row.occurred_at <= timezone.now() + datetime.timedelta(seconds=5)


# ---- the same batch twice at once, on PostgreSQL --------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_batch_sent_twice_at_once_applies_every_change_exactly_once(on_scene, people, units):
    first, second = care1_tablet(), care1_tablet()
    for round_ in range(5):
        encounter_id = str(uuid.uuid4())
        opened = change(
            "encounter.upsert", encounter_id, {"assignment": on_scene["care"], "notes": "Hi."}
        )
        if round_:
            opened["data"] = {"assignment": on_scene["care"], "notes": f"Round {round_}."}
            opened["entity_id"] = str(Encounter.objects.get().pk)
            encounter_id = opened["entity_id"]
        batch = [opened, *every_care_change(encounter_id)]
        answers = race(
            functools.partial(push, first, *batch), functools.partial(push, second, *batch)
        )
        for answer in answers:
            assert not isinstance(answer, BaseException), answer
            assert answer.status_code == 200, answer.content
        pairs = zip(answers[0].json()["results"], answers[1].json()["results"], strict=True)
        for a, b in pairs:
            assert sorted([a["status"], b["status"]]) == ["applied", "duplicate"], (a, b)
        for m in batch:
            # One event per stream it is published on (a referral's follow-up is also on
            # `referrals`, for the coordinators), never a second from the second push.
            echoes = Counter(
                Event.objects.filter(mutation_id=m["id"]).values_list("stream_id", flat=True)
            )
            assert echoes and set(echoes.values()) == {1}, (m["type"], echoes)
        assert AppliedMutation.objects.filter(pk__in=[m["id"] for m in batch]).count() == len(batch)
    assert Encounter.objects.count() == 1
    assert ServiceGiven.objects.count() == 5 and SurveyResponse.objects.count() == 5


# ---- a fault of the server's own ------------------------------------------------------------


@pytest.fixture
def service_create_fails_after_writing(monkeypatch):
    """The service.create handler writes its record and event, then the server fails (a bug, a
    lost connection): the push must keep none of it."""
    from server.sync import push as push_module

    run = push_module._run

    def writes_then_fails(command, actor, device, mutation):
        written = run(command, actor, device, mutation)
        if command.name == "service.create":
            raise RuntimeError("a fault of the server's own (test)")
        return written

    monkeypatch.setattr(push_module, "_run", writes_then_fails)
    return lambda: monkeypatch.setattr(push_module, "_run", run)


def test_a_server_fault_during_a_push_keeps_nothing_and_answers_retryable(
    encounter, care1, service_create_fails_after_writing
):
    events_before, audit_before = Event.objects.count(), AuditEntry.objects.count()
    service = change(
        "service.create", uuid.uuid4(), {"encounter": encounter, "service": "first-aid"}
    )

    [result] = results(care1, service)

    assert result["status"] == "rejected"
    assert result["retryable"] is True and result["code"] == "server_error"
    assert not ServiceGiven.objects.filter(pk=service["entity_id"]).exists()
    assert not AppliedMutation.objects.filter(pk=service["id"]).exists()  # no answer kept
    assert Event.objects.count() == events_before and AuditEntry.objects.count() == audit_before
    # The same change sent again once the fault is gone is applied, not "duplicate".
    service_create_fails_after_writing()
    [again] = results(care1, service)
    assert again["status"] == "applied"
    assert ServiceGiven.objects.filter(pk=service["entity_id"]).count() == 1


def test_a_server_fault_in_a_run_of_records_loses_only_the_change_it_struck(
    encounter, care1, monkeypatch
):
    from server.sync import push as push_module

    run = push_module._run
    doomed = uuid.uuid4()

    def fails_on_one(command, actor, device, mutation):
        written = run(command, actor, device, mutation)
        if str(mutation.entity_id) == str(doomed):
            raise RuntimeError("a fault of the server's own (test)")
        return written

    monkeypatch.setattr(push_module, "_run", fails_on_one)
    first = change("service.create", uuid.uuid4(), {"encounter": encounter, "service": "first-aid"})
    struck = change("service.create", doomed, {"encounter": encounter, "service": "first-aid"})
    last = change("service.create", uuid.uuid4(), {"encounter": encounter, "service": "first-aid"})

    found = results(care1, first, struck, last)

    assert statuses(found) == ["applied", "rejected", "applied"]
    assert found[1]["retryable"] is True
    assert set(ServiceGiven.objects.values_list("pk", flat=True)) == {
        uuid.UUID(first["entity_id"]),
        uuid.UUID(last["entity_id"]),
    }
    assert not AppliedMutation.objects.filter(pk=struck["id"]).exists()
