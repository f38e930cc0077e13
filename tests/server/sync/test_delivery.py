"""Delivery receipts: cursors that only move forward, the delivered time a dispatcher sees, and
the overdue-acknowledgement alert raised once however many processes look."""

from __future__ import annotations

import datetime
import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from server.accounts.models import Device
from server.accounts.services import issue_device_token
from server.audit.models import AuditEntry
from server.dispatch.incidents.delivery import raise_overdue_acknowledgements
from server.dispatch.models import Assignment
from server.errors import InvalidInput
from server.feed.cursors import Receipt, record_ack, record_acks
from server.feed.models import DeviceCursor, Event
from server.feed.services import publish_event, unit_stream
from tests.conftest import PASSWORD


def tablet(username: str) -> Device:
    return issue_device_token(username=username, password=PASSWORD, device_name="t")[1]


def unit_events(people, username: str, kind: str) -> list[Event]:
    stream = unit_stream(people[username].unit_id)
    return list(Event.objects.filter(stream_id=stream, kind=kind).order_by("seq"))


@pytest.mark.django_db
def test_a_cursor_moves_forward_only(people):
    device = tablet("dispatcher")
    for n in range(3):
        publish_event(stream="dispatch", kind="k", data={"n": n})
    assert record_ack(device=device, stream="dispatch", seq=2) == 2
    assert record_ack(device=device, stream="dispatch", seq=1) == 2
    assert record_ack(device=device, stream="dispatch", seq=3) == 3
    assert DeviceCursor.objects.get(device=device, stream_id="dispatch").acked_seq == 3


@pytest.mark.django_db
def test_an_ack_past_the_end_of_a_stream_is_refused(people):
    device = tablet("dispatcher")
    publish_event(stream="dispatch", kind="k", data={})
    for bad in (2, 0, -1):
        with pytest.raises(InvalidInput):
            record_ack(device=device, stream="dispatch", seq=bad)
    assert not DeviceCursor.objects.exists()


@pytest.mark.django_db
def test_the_first_ack_of_a_dispatch_sets_delivered_once_audited_and_told_to_dispatch(
    people, dispatched
):
    call = dispatched()
    first, second = tablet("care1"), tablet("care1")
    seq = unit_events(people, "care1", "assignment.dispatched")[0].seq
    stream = unit_stream(people["care1"].unit_id)

    record_ack(device=first, stream=stream, seq=seq)
    delivered = Assignment.objects.get(pk=call["care"]).delivered_at
    assert delivered is not None
    record_ack(device=second, stream=stream, seq=seq)  # the unit's other tablet, later
    assert Assignment.objects.get(pk=call["care"]).delivered_at == delivered

    told = Event.objects.filter(stream_id="dispatch", kind="assignment.delivered")
    assert [e.data["id"] for e in told] == [call["care"]]
    audit = AuditEntry.objects.filter(action="assignment.delivered")
    assert [(a.object_id, a.device_id) for a in audit] == [(call["care"], first.pk)]
    assert Assignment.objects.get(pk=call["spd"]).delivered_at is None


@pytest.mark.django_db
def test_a_batch_of_acks_keeps_each_acks_arrival_as_the_delivered_time_and_refuses_only_the_bad(
    people, dispatched
):
    call = dispatched()
    care, board = tablet("care1"), tablet("dispatcher")
    stream = unit_stream(people["care1"].unit_id)
    seq = unit_events(people, "care1", "assignment.dispatched")[0].seq
    heard = timezone.now() - datetime.timedelta(seconds=7)  # waited in the batch since
    dispatch_end = Event.objects.filter(stream_id="dispatch").order_by("-seq")[0].seq

    outcome = record_acks(
        [
            Receipt(care, stream, seq, heard),
            Receipt(care, "dispatch", dispatch_end + 50, heard),  # past the end: refused
            Receipt(board, "dispatch", dispatch_end, heard),
        ]
    )

    assert outcome[0] is None and outcome[2] is None
    assert f"no event {dispatch_end + 50}" in outcome[1]
    assert Assignment.objects.get(pk=call["care"]).delivered_at == heard
    cursors = dict(DeviceCursor.objects.values_list("stream_id", "acked_seq"))
    assert cursors == {stream: seq, "dispatch": dispatch_end}
    assert DeviceCursor.objects.get(stream_id="dispatch").device_id == board.pk


@pytest.mark.django_db
def test_in_a_batch_the_earliest_ack_of_a_dispatch_delivers_it_whichever_tablet_sent_it(
    people, dispatched
):
    call = dispatched()
    first, second = tablet("care1"), tablet("care1")  # two tablets of one unit
    stream = unit_stream(people["care1"].unit_id)
    seq = unit_events(people, "care1", "assignment.dispatched")[0].seq
    now = timezone.now()
    earlier, later = now - datetime.timedelta(seconds=9), now - datetime.timedelta(seconds=2)

    outcome = record_acks(
        [
            Receipt(first, stream, seq, later),
            Receipt(second, stream, seq, earlier),
            Receipt(second, stream, seq, later),  # the same ack again: old news
        ]
    )

    assert outcome == [None, None, None]
    assert Assignment.objects.get(pk=call["care"]).delivered_at == earlier
    audit = AuditEntry.objects.get(action="assignment.delivered")
    assert audit.device_id == second.pk
    cursors = DeviceCursor.objects.filter(stream_id=stream)
    assert sorted(c.acked_seq for c in cursors) == [seq, seq]


@pytest.mark.django_db
def test_no_alert_before_the_deadline_and_one_alert_after_it(people, dispatched, settings):
    settings.CARE_ACK_TIMEOUT_SECONDS = 30
    call = dispatched()
    assert raise_overdue_acknowledgements() == []
    later = timezone.now() + datetime.timedelta(seconds=31)
    raised = raise_overdue_acknowledgements(now=later)
    assert sorted(str(a.pk) for a in raised) == sorted([call["care"], call["spd"]])
    assert raise_overdue_acknowledgements(now=later + datetime.timedelta(minutes=5)) == []
    alerts = Event.objects.filter(stream_id="dispatch", kind="assignment.ack_overdue")
    assert alerts.count() == 2
    assert all(a.data["seconds_waiting"] >= 31 for a in alerts)
    assert AuditEntry.objects.filter(action="assignment.ack_overdue").count() == 2


@pytest.mark.django_db
def test_an_acknowledged_assignment_raises_no_alert_and_a_delivered_one_says_so(
    people, dispatched, move
):
    call = dispatched()
    assert move("officer1", call["spd"], "acknowledged").status_code == 200
    seq = unit_events(people, "care1", "assignment.dispatched")[0].seq
    record_ack(device=tablet("care1"), stream=unit_stream(people["care1"].unit_id), seq=seq)
    raised = raise_overdue_acknowledgements(now=timezone.now() + datetime.timedelta(minutes=1))
    assert [str(a.pk) for a in raised] == [call["care"]]
    alert = Event.objects.get(kind="assignment.ack_overdue")
    assert alert.data["delivered"] is True
    assert "received call" in alert.data["message"]
    assert "not acknowledged" in alert.data["message"]


@pytest.mark.django_db
def test_the_watch_command_raises_overdue_alerts_once(people, dispatched, settings):
    settings.CARE_ACK_TIMEOUT_SECONDS = 0
    dispatched()
    out = io.StringIO()
    call_command("watch_acknowledgements", "--once", stdout=out)
    call_command("watch_acknowledgements", "--once", stdout=out)
    assert out.getvalue().count("ack overdue") == 2
    assert Event.objects.filter(kind="assignment.ack_overdue").count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_several_processes_checking_at_once_raise_each_alert_exactly_once(
    people, dispatched, settings
):
    settings.CARE_ACK_TIMEOUT_SECONDS = 0
    dispatched()
    watchers = 6
    start = threading.Barrier(watchers)
    errors: list[BaseException] = []

    def watch() -> None:
        try:
            start.wait()
            raise_overdue_acknowledgements()
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=watch) for _ in range(watchers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert Event.objects.filter(kind="assignment.ack_overdue").count() == 2
    seqs = list(Event.objects.filter(stream_id="dispatch").values_list("seq", flat=True))
    assert sorted(seqs) == list(range(1, len(seqs) + 1))
