"""The feed's priority lane, through the real ASGI application and channel layer: emergencies and
backups go out before routine events, overtake the routine events already queued for a socket,
and are sent again until the device acks them; routine events are sent once."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer

from server.feed.models import Event, Stream
from server.feed.services import (
    change_transaction,
    feed_message,
    group_name,
    priority_group_name,
    publish_event,
    unit_stream,
)
from tests.server.sync.test_consumers import (
    HANG_SECONDS,
    frames,
    fresh_layer,  # noqa: F401 - the fixture, reused
    group_size,
    run,
    signed_in,
    token_for,
)

pytestmark = pytest.mark.django_db(transaction=True)

# Payloads of the declared shapes (server/feed/event_kinds.py), as the safety services send them.
EMERGENCY = {
    "id": "e1", "unit": 7, "call_sign": "CARE-1", "kind": "care",
    "started_at": "2026-12-07T22:03:00+00:00", "latitude": None, "longitude": None,
    "position_at": None, "acknowledged_at": None, "ended_at": None, "alerted_units": [],
    "incident": None,
}  # fmt: skip
BACKUP_SENT = {
    "id": "b1", "assignment": "a1", "incident": "i1", "unit": 7, "call_sign": "CARE-1",
    "cad_number": "SPD-1", "address": "300 Pine St", "urgent": True, "reason": None,
    "reason_label": "", "requested_at": "2026-12-07T22:03:00+00:00", "answered_by": "1",
    "answered_at": "2026-12-07T22:04:00+00:00", "sent_call_sign": "2M12",
}  # fmt: skip
BACKLOG = 90  # routine events queued for the socket (the in-memory layer holds 100 a channel)


@pytest.fixture(autouse=True)
def slow_resends(settings):
    """No re-send within a test unless the test asks for one."""
    settings.CARE_FEED_PRIORITY_RESEND_SECONDS = 600


def store_unheard(stream: str, kind: str, count: int = 1) -> list[Event]:
    """Events stored and numbered as the feed numbers them, that the layer has not heard of yet:
    what the test then tells the layer, and when, stands for a busy publisher."""
    row, _ = Stream.objects.get_or_create(name=stream)
    first = row.last_seq + 1
    Stream.objects.filter(name=stream).update(last_seq=row.last_seq + count)
    return Event.objects.bulk_create(
        Event(stream_id=stream, seq=first + n, kind=kind, data={"n": n}) for n in range(count)
    )


async def ready(streams: list[str]) -> None:
    """Wait for the socket's hello to be over: its replay done and its priority lane open (the
    layer counts a member in each stream's priority group)."""
    layer = get_channel_layer()
    deadline = asyncio.get_running_loop().time() + HANG_SECONDS
    for stream in streams:
        while not await group_size(layer, priority_group_name(stream)):
            assert asyncio.get_running_loop().time() < deadline, "no priority lane opened"
            await asyncio.sleep(0.02)


async def ends(*streams: str) -> dict[str, int]:
    """Each stream's last seq now: cursors with nothing to replay."""

    def read() -> dict[str, int]:
        found = dict(Stream.objects.filter(name__in=streams).values_list("name", "last_seq"))
        return {stream: found.get(stream, 0) for stream in streams}

    return await database_sync_to_async(read)()


def test_a_commit_tells_the_priority_lane_before_any_routine_event_of_the_same_commit(people):
    unit = unit_stream(people["care1"].unit_id)

    async def scenario():
        layer = get_channel_layer()
        listener = await layer.new_channel()
        await layer.group_add(group_name("directory"), listener)
        await layer.group_add(priority_group_name(unit), listener)

        def one_commit() -> None:
            with change_transaction():  # as every service writes
                publish_event(stream="directory", kind="test.event", data={})
                publish_event(stream=unit, kind="emergency.started", data=EMERGENCY)

        await database_sync_to_async(one_commit)()
        heard = [await asyncio.wait_for(layer.receive(listener), HANG_SECONDS) for _ in range(2)]
        assert [(m["stream"], m["kind"]) for m in heard] == [
            (unit, "emergency.started"),
            ("directory", "test.event"),
        ]

    run(scenario)


def test_an_emergency_overtakes_the_routine_events_queued_for_a_socket(people):
    if not isinstance(get_channel_layer(), InMemoryChannelLayer):
        # Over Redis the layer's one reader hands each message over as it comes, and the socket
        # drains them as fast: no queue builds for the emergency to overtake in a test.
        pytest.skip("queues a backlog on the socket's channel: the in-memory layer only")
    token = token_for("care1")
    unit = unit_stream(people["care1"].unit_id)

    async def scenario():
        ws, _ = await signed_in(token, await ends("directory", unit))
        await ready(["directory", unit])
        routine = await database_sync_to_async(store_unheard)("directory", "test.event", BACKLOG)
        (emergency,) = await database_sync_to_async(store_unheard)(unit, "emergency.started")
        layer = get_channel_layer()
        # As a busy publisher leaves them: every routine event queued on the socket's channel
        # before the socket gets a turn, then the emergency, as `_push_all` sends it.
        pushes = [layer.group_send(group_name("directory"), feed_message(e)) for e in routine]
        message = feed_message(emergency)
        pushes += [
            layer.group_send(priority_group_name(unit), message),
            layer.group_send(group_name(unit), message),
        ]
        await asyncio.gather(*pushes)
        got = [(f["stream"], f["seq"]) for f in await frames(ws) if f["type"] == "event"]

        directory = [seq for stream, seq in got if stream == "directory"]
        assert directory == [e.seq for e in routine]  # every routine event, once, in order
        assert [seq for stream, seq in got if stream == unit] == [emergency.seq]  # once
        # ... and the emergency went out while routine events were still waiting.
        assert got.index((unit, emergency.seq)) < got.index(("directory", routine[-1].seq))
        await ws.disconnect()

    run(scenario)


def test_a_routine_event_queued_for_a_socket_waits_its_turn(people):
    """The other side of the rule: the same backlog, a routine event behind it comes last."""
    token = token_for("care1")
    unit = unit_stream(people["care1"].unit_id)

    async def scenario():
        ws, _ = await signed_in(token, await ends("directory", unit))
        await ready(["directory", unit])
        routine = await database_sync_to_async(store_unheard)("directory", "test.event", BACKLOG)
        (later,) = await database_sync_to_async(store_unheard)(unit, "test.event")
        layer = get_channel_layer()
        pushes = [layer.group_send(group_name("directory"), feed_message(e)) for e in routine]
        pushes.append(layer.group_send(group_name(unit), feed_message(later)))
        await asyncio.gather(*pushes)
        got = [(f["stream"], f["seq"]) for f in await frames(ws) if f["type"] == "event"]
        assert got[-1] == (unit, later.seq)
        assert len(got) == BACKLOG + 1
        await ws.disconnect()

    run(scenario)


def test_an_emergency_is_sent_again_until_the_device_acks_it(people, settings):
    settings.CARE_FEED_PRIORITY_RESEND_SECONDS = 0.2
    token = token_for("care1")
    unit = unit_stream(people["care1"].unit_id)

    async def scenario():
        ws, _ = await signed_in(token, {unit: 0})
        await frames(ws)
        await database_sync_to_async(publish_event)(
            stream=unit, kind="emergency.started", data=EMERGENCY
        )
        first = await ws.receive_json_from(HANG_SECONDS)
        again = await ws.receive_json_from(HANG_SECONDS)  # not acked: here it is again
        assert first["kind"] == again["kind"] == "emergency.started"
        assert again["seq"] == first["seq"]

        await ws.send_json_to({"type": "ack", "stream": unit, "seq": first["seq"]})
        await frames(ws)  # a re-send already on its way when the ack came
        assert await ws.receive_nothing(1.0)  # five re-send intervals: nothing more
        await ws.disconnect()

    run(scenario)


def test_a_routine_event_is_sent_once_even_when_never_acked(people, settings):
    settings.CARE_FEED_PRIORITY_RESEND_SECONDS = 0.2
    token = token_for("care1")
    unit = unit_stream(people["care1"].unit_id)

    async def scenario():
        ws, _ = await signed_in(token, {unit: 0})
        await frames(ws)
        await database_sync_to_async(publish_event)(stream=unit, kind="test.event", data={})
        got = await ws.receive_json_from(HANG_SECONDS)
        assert got["kind"] == "test.event"
        assert await ws.receive_nothing(1.0)
        await ws.disconnect()

    run(scenario)


def test_a_device_that_never_acks_is_sent_an_emergency_a_bounded_number_of_times(people, settings):
    settings.CARE_FEED_PRIORITY_RESEND_SECONDS = 0.05
    settings.CARE_FEED_PRIORITY_RESENDS = 3
    token = token_for("care1")
    unit = unit_stream(people["care1"].unit_id)

    async def scenario():
        ws, _ = await signed_in(token, {unit: 0})
        await frames(ws)
        await database_sync_to_async(publish_event)(
            stream=unit, kind="backup.sent", data=BACKUP_SENT
        )
        got = [f for f in await frames(ws, quiet=1.0) if f["type"] == "event"]
        assert [f["kind"] for f in got] == ["backup.sent"] * 4  # sent, then three re-sends
        await ws.disconnect()

    run(scenario)
