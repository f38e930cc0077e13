"""The tail every dispatch write shares (`server.feed.services.audit_and_publish`): one audit
row, then the same event for the board and for the one the change concerns, the tablet's
mutation id on that stream only."""

from __future__ import annotations

import uuid

from server.audit.models import AuditEntry
from server.feed.models import Event
from server.feed.services import audit_and_publish, change_transaction, unit_stream


def _events(stream: str) -> list[Event]:
    return list(Event.objects.filter(stream__name=stream).order_by("seq"))


def test_a_write_tail_audits_once_and_tells_the_board_and_the_unit_the_same(people, units):
    unit = units["CARE-1"]
    mutation = uuid.uuid4()
    with change_transaction():
        audit_and_publish(
            audit={
                "actor": people["dispatcher"],
                "action": "backup.requested",
                "obj": unit,
                "after": {"urgent": True},
            },
            kind="test.note",
            data={"n": 7},
            to=unit_stream(unit.pk),
            mutation_id=mutation,
        )

    rows = AuditEntry.objects.filter(action="backup.requested")
    assert [(r.actor_id, r.after) for r in rows] == [(people["dispatcher"].pk, {"urgent": True})]
    board, crew = _events("dispatch"), _events(f"unit:{unit.pk}")
    assert [(e.kind, e.data, e.mutation_id) for e in board] == [("test.note", {"n": 7}, None)]
    assert [(e.kind, e.data, e.mutation_id) for e in crew] == [("test.note", {"n": 7}, mutation)]


def test_a_tail_without_an_audit_or_a_stream_of_its_own_writes_only_the_board_event(units):
    before = AuditEntry.objects.count()
    with change_transaction():
        audit_and_publish(kind="test.note", data={"n": 1})

    assert AuditEntry.objects.count() == before
    assert [e.data for e in _events("dispatch")] == [{"n": 1}]
    assert _events(f"unit:{units['CARE-1'].pk}") == []
