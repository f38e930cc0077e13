"""A run of new accumulating records in one push (a long offline shift) is checked one by one and
written together: a fixed number of statements however long the run, events numbered in order, one
audit entry per record, and exactly the answers the one-at-a-time path gives when it can't be
written together."""

from __future__ import annotations

import datetime
import functools
import uuid

import pytest
from django.utils import timezone

from server.audit.models import AuditEntry
from server.care.models import NaloxoneAdministration, ServiceGiven
from server.feed.models import Event
from server.sync.models import AppliedMutation
from tests.racing import race
from tests.server.sync.conftest import care1_tablet, change, push, results, statuses


def services(encounter: str, count: int, code: str = "basic-needs") -> list[dict]:
    return [
        change("service.create", uuid.uuid4(), {"encounter": encounter, "service": code})
        for _ in range(count)
    ]


def test_a_run_of_records_costs_the_same_statements_whether_it_holds_ten_or_a_hundred(
    encounter, care1, django_assert_max_num_queries
):
    # Token check, device clock, the dedupe lookup, reference reads, one insert per table,
    # one stream update, savepoints: a bound that no per-record statement fits under.
    with django_assert_max_num_queries(40) as ten:
        assert statuses(results(care1, *services(encounter, 10))) == ["applied"] * 10
    with django_assert_max_num_queries(len(ten.captured_queries) + 200) as hundred:
        assert statuses(results(care1, *services(encounter, 100))) == ["applied"] * 100
    per_record_statements = [
        q["sql"] for q in hundred.captured_queries if "INSERT" in q["sql"] or "UPDATE" in q["sql"]
    ]
    # One statement per table, or a few where SQLite's variable limit splits a bulk insert:
    # never one per record (100 here).
    assert len(per_record_statements) < 20, per_record_statements
    assert ServiceGiven.objects.count() == 110


def test_a_runs_events_follow_the_stream_in_push_order_each_with_its_mutation_id(encounter, care1):
    before = Event.objects.filter(stream__name__startswith="unit:").order_by("-seq").first()
    run = services(encounter, 25)
    results(care1, *run)
    events = list(Event.objects.filter(stream_id=before.stream_id, seq__gt=before.seq))
    assert [e.seq for e in events] == list(range(before.seq + 1, before.seq + 26))
    assert [str(e.mutation_id) for e in events] == [m["id"] for m in run]
    assert [e.data["id"] for e in events] == [m["entity_id"] for m in run]


def test_every_record_of_a_run_gets_its_own_audit_entry(encounter, care1):
    run = services(encounter, 12)
    results(care1, *run)
    audited = AuditEntry.objects.filter(action="service.recorded").values_list(
        "object_id", flat=True
    )
    assert sorted(audited) == sorted(m["entity_id"] for m in run)


def test_a_refused_record_inside_a_run_is_answered_and_kept_and_the_rest_are_applied(
    encounter, care1
):
    run = services(encounter, 3)
    run.insert(1, *services(encounter, 1, code="not-a-service"))
    found = results(care1, *run)
    assert statuses(found) == ["applied", "rejected", "applied", "applied"]
    assert "not a service in the catalog" in found[1]["reason"]
    assert ServiceGiven.objects.count() == 3
    again = results(care1, *run)
    assert statuses(again) == ["duplicate"] * 4
    assert [a["original_status"] for a in again] == ["applied", "rejected", "applied", "applied"]


def test_a_record_stored_earlier_under_a_runs_id_sends_the_run_one_at_a_time(encounter, care1):
    earlier = services(encounter, 1)[0]
    assert statuses(results(care1, earlier)) == ["applied"]
    resent = {**earlier, "id": str(uuid.uuid4())}  # the same record under a new mutation id
    reused = {**services(encounter, 1, code="first-aid")[0], "entity_id": earlier["entity_id"]}
    run = [*services(encounter, 2), resent, reused, *services(encounter, 2)]
    events_before = Event.objects.count()

    found = results(care1, *run)

    assert statuses(found) == ["applied", "applied", "applied", "rejected", "applied", "applied"]
    assert found[3]["code"] == "id_reused"
    assert ServiceGiven.objects.count() == 5
    # The run's failed write left nothing behind: one event and one audit entry per new record.
    assert Event.objects.count() == events_before + 4
    assert AuditEntry.objects.filter(action="service.recorded").count() == 5
    assert AppliedMutation.objects.filter(pk__in=[m["id"] for m in run]).count() == len(run)


def test_the_same_record_twice_in_one_run_is_kept_once(encounter, care1):
    first = services(encounter, 1)[0]
    twice = {**first, "id": str(uuid.uuid4())}
    other = {**services(encounter, 1, code="first-aid")[0], "entity_id": first["entity_id"]}
    found = results(care1, first, twice, other)
    assert statuses(found) == ["applied", "applied", "rejected"]
    assert found[2]["code"] == "id_reused"
    assert ServiceGiven.objects.filter(pk=first["entity_id"]).count() == 1
    assert Event.objects.filter(data__id=first["entity_id"]).count() == 1


def test_naloxone_and_services_mixed_in_one_run_are_all_kept(encounter, care1):
    dose = change(
        "naloxone.create", uuid.uuid4(), {"encounter": encounter, "dose_mg": "4", "doses": 1}
    )
    run = [*services(encounter, 2), dose, *services(encounter, 2)]
    assert statuses(results(care1, *run)) == ["applied"] * 5
    assert NaloxoneAdministration.objects.get(pk=dose["entity_id"]).dose_mg == 4
    assert ServiceGiven.objects.count() == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_long_run_sent_twice_at_once_keeps_every_record_exactly_once(
    on_scene, encounter, people
):
    first, second = care1_tablet(), care1_tablet()
    for _ in range(3):
        run = services(encounter, 40)
        answers = race(functools.partial(push, first, *run), functools.partial(push, second, *run))
        for answer in answers:
            assert not isinstance(answer, BaseException), answer
            assert answer.status_code == 200, answer.content
        pairs = zip(answers[0].json()["results"], answers[1].json()["results"], strict=True)
        for a, b in pairs:
            assert sorted([a["status"], b["status"]]) == ["applied", "duplicate"], (a, b)
        for m in run:
            assert Event.objects.filter(mutation_id=m["id"]).count() == 1
    assert ServiceGiven.objects.count() == 120
    assert AuditEntry.objects.filter(action="service.recorded").count() == 120


def test_records_written_together_still_mark_a_closed_days_figures_changed(dispatched, care1):
    """A tablet back after midnight sends care given on yesterday's call: the dashboard must
    recompute yesterday, as it would for records sent one at a time."""
    from server.reports.daily import zone
    from server.reports.models import ChangedDay

    afternoon = datetime.time(14, 0, tzinfo=zone())  # inside CARE's hours
    yesterday = datetime.datetime.combine(timezone.localdate(timezone=zone()), afternoon)
    yesterday -= datetime.timedelta(days=1)
    call = dispatched(received_at=yesterday.isoformat())
    steps = [
        change("assignment.transition", call["care"], {"to": to})
        for to in ("acknowledged", "en_route", "on_scene")
    ]
    encounter_id = str(uuid.uuid4())
    opened = change("encounter.upsert", encounter_id, {"assignment": call["care"]})
    assert statuses(results(care1, *steps, opened)) == ["applied"] * 4
    ChangedDay.objects.all().delete()  # as a roll-up would have left it

    assert statuses(results(care1, *services(encounter_id, 5))) == ["applied"] * 5

    assert ChangedDay.objects.filter(day=yesterday.date()).exists()
