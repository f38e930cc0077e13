"""Rows written together at the end of a run of an offline batch.

A tablet back from a 12-hour shift sends hundreds of records that only accumulate (services
given, naloxone administrations, referrals, survey answers). Each is checked by the same service
function the REST API calls; while a `WriteBatch` is open those functions hand their rows here
instead of inserting them one by one, and `flush` writes every table with one insert (and every
stream's numbers with one update). The caller runs the whole run in one transaction, so the run
lands whole or not at all.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.dispatch import Signal

from server.audit.models import AuditEntry
from server.feed.services import EventDraft, publish_events

# Sent after a batch's records of one model are inserted (`records`: the saved instances), for
# what would otherwise listen to each record's post_save.
records_written = Signal()

_open: contextvars.ContextVar[WriteBatch | None] = contextvars.ContextVar(
    "care_write_batch", default=None
)


@dataclass
class WriteBatch:
    records: dict[tuple[type[models.Model], Any], models.Model] = field(default_factory=dict)
    audit_entries: list[AuditEntry] = field(default_factory=list)
    events: list[EventDraft] = field(default_factory=list)
    claims: list[models.Model] = field(default_factory=list)
    _lookups: dict[Any, Any] = field(default_factory=dict)

    def lookup(self, key: Any, load: Callable[[], Any]) -> Any:
        """Reference rows (catalog entries, the encounter, scene safety) read once per run:
        nothing in a run of accumulating records changes them."""
        if key not in self._lookups:
            self._lookups[key] = load()
        return self._lookups[key]

    def pending(self, model: type[models.Model], pk: uuid.UUID) -> models.Model | None:
        """A record this run already holds under that id (the same record sent twice)."""
        return self.records.get((model, pk))

    def add(self, record: models.Model, *, audit: AuditEntry, events: list[EventDraft]) -> None:
        self.records[(type(record), record.pk)] = record
        self.audit_entries.append(audit)
        self.events.extend(events)

    def flush(self) -> None:
        """Claims first: on PostgreSQL a copy of this run on another connection waits here and
        then fails on the primary key, before anything else of it is written."""
        if self.claims:
            type(self.claims[0]).objects.bulk_create(self.claims)
        by_model: dict[type[models.Model], list[models.Model]] = defaultdict(list)
        for record in self.records.values():
            by_model[type(record)].append(record)
        for model, rows in by_model.items():
            model.objects.bulk_create(rows)
            # bulk_create sends no post_save: listeners (the dashboard's changed-day marks) hear
            # of the rows here, all at once.
            records_written.send(sender=model, records=rows)
        AuditEntry.objects.bulk_create(self.audit_entries)
        publish_events(self.events)


def open_write_batch() -> WriteBatch | None:
    return _open.get()


@contextlib.contextmanager
def write_batch() -> Iterator[WriteBatch]:
    batch = WriteBatch()
    token = _open.set(batch)
    try:
        yield batch
    finally:
        _open.reset(token)
