"""Acks through Redis (server/sync/ack_stream.py): a socket process appends each ack to a Redis
stream and makes no database call for it; one writer stores them with the semantics of a process
storing its own (forward-only cursors, delivered once, each ack's own arrival time), across a
writer killed mid-batch and a Redis restarted under the sockets."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from django.db import DatabaseError
from django.utils import timezone

from server.accounts.models import Device
from server.accounts.services import issue_device_token
from server.dispatch.models import Assignment
from server.feed.models import DeviceCursor, Event
from server.feed.services import publish_event, unit_stream
from server.sync import ack_stream
from server.sync.ack_stream import GROUP, AckStream, AckWriter
from tests.conftest import PASSWORD
from tests.e2e.conftest import own_redis  # noqa: F401 - the fixture, reused
from tests.server.sync.test_consumers import (
    HANG_SECONDS,
    event_of_kind,
    signed_in,
    until,
)

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def acks_through_redis(settings):
    """The socket processes' setting, on a stream of this test's own."""
    channel_layers.backends = {}
    settings.CARE_FEED_HEARTBEAT_SECONDS = 60
    settings.CARE_ACK_WATCH_SECONDS = 60
    settings.CARE_ACKS_THROUGH_REDIS = True
    settings.CARE_ACK_STREAM = f"test.acks.{uuid.uuid4().hex}"
    yield settings
    redis.Redis.from_url(settings.REDIS_URL).delete(settings.CARE_ACK_STREAM)
    channel_layers.backends = {}


def writer(settings, **options) -> AckWriter:
    made = AckWriter(redis.Redis.from_url(settings.REDIS_URL), **options)
    made.ensure_group()
    return made


def write_all(made: AckWriter) -> int:
    """Store everything waiting; how many acks that was."""
    total = 0
    while taken := made.write_once(block_ms=None):
        total += taken
    return total


def tablet(username: str) -> Device:
    return issue_device_token(username=username, password=PASSWORD, device_name="t")[1]


def cursor(device: Device, stream: str) -> int | None:
    found = DeviceCursor.objects.filter(device=device, stream_id=stream).first()
    return found.acked_seq if found else None


def waiting_in_stream(settings) -> int:
    return redis.Redis.from_url(settings.REDIS_URL).xlen(settings.CARE_ACK_STREAM)


def submit(device: Device, stream: str, seqs: list[int]) -> list[str]:
    """Acks heard by a socket process, in this order; the refusals it was told of."""
    refused: list[str] = []

    async def refusal(detail: str) -> None:
        refused.append(detail)

    async def heard() -> None:
        for seq in seqs:
            ack_stream.submit_ack(device, stream, seq, refusal)
        appender = AckStream._by_loop.get(asyncio.get_running_loop())
        if appender is not None and appender.appender is not None:
            await appender.appender
        # Acks the appender could not hand to Redis are stored by this process's own writer.
        batches = ack_stream.AckBatch._by_loop.get(asyncio.get_running_loop())
        if batches is not None and batches.writer is not None:
            await batches.writer

    async_to_sync(heard)()
    return refused


def test_a_socket_acks_into_the_stream_and_only_the_writer_moves_the_cursor(people, settings):
    device = tablet("care1")
    stream = unit_stream(people["care1"].unit_id)
    for n in range(3):
        publish_event(stream=stream, kind="k", data={"n": n})

    submit(device, stream, [1, 2, 3])
    assert waiting_in_stream(settings) == 3
    assert cursor(device, stream) is None  # nothing stored by the socket's process

    assert write_all(writer(settings)) == 3
    assert cursor(device, stream) == 3
    assert waiting_in_stream(settings) == 0  # stored entries leave the stream


def test_acks_stored_late_or_twice_never_move_a_cursor_back_nor_mark_a_dispatch_twice(
    people, settings, dispatched
):
    call = dispatched()
    device, other = tablet("care1"), tablet("care1")
    stream = unit_stream(people["care1"].unit_id)
    dispatch_seq = Event.objects.get(stream_id=stream, kind="assignment.dispatched").seq
    publish_event(stream=stream, kind="k", data={})
    last = dispatch_seq + 1

    submit(device, stream, [last, dispatch_seq])  # a late ack after a later one
    submit(other, stream, [dispatch_seq])  # the unit's other tablet, later
    first_writer = writer(settings)
    assert write_all(first_writer) == 3
    assert cursor(device, stream) == last
    assert cursor(other, stream) == dispatch_seq
    delivered = Assignment.objects.get(pk=call["care"]).delivered_at
    assert delivered is not None

    # The same acks again (a writer that stored them and died before taking them off the stream).
    submit(device, stream, [dispatch_seq, last])
    submit(other, stream, [dispatch_seq])
    assert write_all(first_writer) == 3
    assert cursor(device, stream) == last
    assert Assignment.objects.get(pk=call["care"]).delivered_at == delivered
    told = Event.objects.filter(stream_id="dispatch", kind="assignment.delivered")
    assert [e.data["id"] for e in told] == [call["care"]]


def test_the_delivered_time_is_when_the_socket_heard_the_ack_not_when_the_writer_stored_it(
    people, settings, dispatched
):
    call = dispatched()
    device = tablet("care1")
    stream = unit_stream(people["care1"].unit_id)
    seq = Event.objects.get(stream_id=stream, kind="assignment.dispatched").seq
    before = timezone.now()
    submit(device, stream, [seq])
    heard_by = timezone.now()
    write_all(writer(settings))
    delivered = Assignment.objects.get(pk=call["care"]).delivered_at
    assert before <= delivered <= heard_by


def test_a_writer_killed_mid_batch_leaves_its_acks_to_the_next_writer_which_stores_them_once(
    people, settings
):
    device = tablet("care1")
    stream = unit_stream(people["care1"].unit_id)
    for n in range(4):
        publish_event(stream=stream, kind="k", data={"n": n})
    submit(device, stream, [1, 2])

    killed = writer(settings, name="killed")
    taken = killed._next_entries(block_ms=None)  # read, then killed before storing
    assert len(taken) == 2
    submit(device, stream, [3, 4])

    # The next writer: entries held by another are taken over only once that one looks dead.
    patient = writer(settings, name="patient", claim_idle_ms=3_600_000)
    assert write_all(patient) == 2  # the new acks; the dead writer's are not taken yet
    assert cursor(device, stream) == 4
    assert waiting_in_stream(settings) == 2

    taking_over = writer(settings, name="next", claim_idle_ms=0)
    assert write_all(taking_over) == 2
    assert waiting_in_stream(settings) == 0
    assert cursor(device, stream) == 4  # the older acks stored after did not move it back
    pending = redis.Redis.from_url(settings.REDIS_URL).xpending(settings.CARE_ACK_STREAM, GROUP)
    assert pending["pending"] == 0


def test_a_writer_whose_database_fails_keeps_the_batch_and_stores_it_on_the_next_round(
    people, settings, monkeypatch
):
    device = tablet("care1")
    stream = unit_stream(people["care1"].unit_id)
    publish_event(stream=stream, kind="k", data={})
    submit(device, stream, [1])
    made = writer(settings)
    real = ack_stream.record_acks

    def database_lost(receipts):
        raise DatabaseError("the database went away (test)")

    monkeypatch.setattr(ack_stream, "record_acks", database_lost)
    with pytest.raises(DatabaseError):
        made.write_once(block_ms=None)
    assert cursor(device, stream) is None
    monkeypatch.setattr(ack_stream, "record_acks", real)
    assert write_all(made) == 1
    assert cursor(device, stream) == 1


def test_acks_survive_a_redis_restart_stored_by_the_socket_process_while_redis_is_away(
    people,
    settings,
    own_redis,  # noqa: F811 - pytest fixture injection
):
    settings.REDIS_URL = own_redis.url
    device = tablet("care1")
    stream = unit_stream(people["care1"].unit_id)
    for n in range(3):
        publish_event(stream=stream, kind="k", data={"n": n})
    made = writer(settings)
    submit(device, stream, [1])
    assert write_all(made) == 1

    own_redis.kill()
    try:
        # Redis away: the socket's process stores the ack itself rather than drop it.
        assert submit(device, stream, [2]) == []
        assert cursor(device, stream) == 2
    finally:
        own_redis.start()

    # Back, empty (no persistence): the writer makes its group again and reads from the start.
    submit(device, stream, [3])
    assert cursor(device, stream) == 2
    stored = 0
    for _ in range(5):  # the first rounds reconnect and find the group gone, and make it again
        try:
            stored += made.write_once(block_ms=None)
        except redis.ConnectionError:
            continue
        if stored:
            break
    assert stored == 1
    assert cursor(device, stream) == 3


def test_a_live_socket_ack_goes_through_the_stream_to_the_cursor(people, settings):
    token, device = issue_device_token(username="care1", password=PASSWORD, device_name="t")
    stream = unit_stream(people["care1"].unit_id)
    made = writer(settings)

    async def scenario():
        ws, _ = await signed_in(token)
        await database_sync_to_async(publish_event)(stream=stream, kind="test.after", data={})
        pushed = await event_of_kind(ws, "test.after", HANG_SECONDS)
        await ws.send_json_to({"type": "ack", "stream": stream, "seq": pushed["seq"]})
        await until(lambda: waiting_in_stream(settings) == 1)
        assert await database_sync_to_async(cursor)(device, stream) is None
        assert await database_sync_to_async(write_all)(made) == 1
        assert await database_sync_to_async(cursor)(device, stream) == pushed["seq"]
        await ws.disconnect()

    async_to_sync(scenario)()
