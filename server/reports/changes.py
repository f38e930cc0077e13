"""Marks a closed day changed whenever a call received on it, or anything the figures count about
that call, is saved or deleted, so the dashboard computes that day from the calls until it is
rolled up again.

Connected to the models' save and delete signals (apps.py) rather than called from each service:
every write path (services, the tablet sync, the admin, a shell) goes through them. An offline
batch's records, written together, arrive through `records_written`. Other writes that bypass
signals (bulk_create, QuerySet.update, COPY) must roll the days up themselves, as
load_sample_history and the benchmark do.
"""

from __future__ import annotations

import datetime

from django.db import connection
from django.db.models import Model, Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from server.care.models import (
    Encounter,
    NaloxoneAdministration,
    Referral,
    ServiceGiven,
    SurveyResponse,
)
from server.dispatch.models import Assignment, BackupRequest, Incident
from server.feed.write_batch import records_written
from server.reports.daily import zone
from server.reports.models import ChangedDay

# How to find the call a record belongs to, from the record's own foreign key.
CALL_OF = {
    Assignment: lambda record: Q(pk=record.incident_id),
    BackupRequest: lambda record: Q(pk=record.incident_id),
    Encounter: lambda record: Q(assignments__id=record.assignment_id),
    ServiceGiven: lambda record: Q(assignments__encounter__id=record.encounter_id),
    NaloxoneAdministration: lambda record: Q(assignments__encounter__id=record.encounter_id),
    Referral: lambda record: Q(assignments__encounter__id=record.encounter_id),
    SurveyResponse: lambda record: Q(assignments__encounter__id=record.encounter_id),
}


def _start_of_today() -> datetime.datetime:
    here = zone()
    return datetime.datetime.combine(timezone.localdate(timezone=here), datetime.time(), here)


def mark_day_changed(day: datetime.date) -> None:
    """One statement in the writer's transaction: the mark commits or rolls back with the change."""
    table = ChangedDay._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (day, changes) VALUES (%s, 1) "
            f"ON CONFLICT (day) DO UPDATE SET changes = {table}.changes + 1",
            [day],
        )


def call_changed(sender: type[Model], instance: Model, **kwargs) -> None:
    """A record counted in the figures was saved or deleted: mark its call's day if it is over."""
    if sender is Incident:
        received = instance.received_at if instance.received_at < _start_of_today() else None
    else:
        calls = Incident.objects.filter(
            CALL_OF[sender](instance), received_at__lt=_start_of_today()
        ).values_list("received_at", flat=True)
        received = next(iter(calls.order_by()[:1]), None)
    if received is not None:
        mark_day_changed(received.astimezone(zone()).date())


def records_changed(sender: type[Model], records: list[Model], **kwargs) -> None:
    """Many records of one kind written at once (an offline batch): each closed day once."""
    # Records of one batch mostly share an encounter: one condition per distinct parent.
    conditions = {str(q): q for q in (CALL_OF[sender](record) for record in records)}
    calls = Q()
    for condition in conditions.values():
        calls |= condition
    received = (
        Incident.objects.filter(calls, received_at__lt=_start_of_today())
        .values_list("received_at", flat=True)
        .order_by()
    )
    for day in sorted({at.astimezone(zone()).date() for at in received}):
        mark_day_changed(day)


def watch_counted_records() -> None:
    records_written.connect(records_changed, dispatch_uid="reports-records-written")
    for model in (Incident, *CALL_OF):
        post_save.connect(call_changed, sender=model, dispatch_uid=f"reports-{model.__name__}")
        post_delete.connect(
            call_changed, sender=model, dispatch_uid=f"reports-del-{model.__name__}"
        )
