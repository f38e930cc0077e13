"""The one-process channel layer (server.feed.layer.FeedInMemoryLayer): what Channels' in-memory
layer promises, without its sweep of every channel on every send."""

from __future__ import annotations

import asyncio
import threading

from asgiref.sync import async_to_sync

from server.feed.layer import FeedInMemoryLayer
from tests.server.sync.test_consumers import HANG_SECONDS, run, until


async def drained(layer: FeedInMemoryLayer, channel: str) -> list[dict]:
    out = []
    while layer.channels.get(channel) is not None and not layer.channels[channel].empty():
        out.append(await asyncio.wait_for(layer.receive(channel), HANG_SECONDS))
    return out


def test_a_group_send_reaches_every_member_once_in_order_and_no_one_else():
    layer = FeedInMemoryLayer()

    async def scenario():
        members = [await layer.new_channel() for _ in range(3)]
        outsider = await layer.new_channel()
        for channel in members:
            await layer.group_add("feed.unit.1", channel)
        await layer.group_add("feed.unit.2", outsider)
        for n in range(5):
            await layer.group_send("feed.unit.1", {"type": "feed.event", "n": n})
        for channel in members:
            assert [m["n"] for m in await drained(layer, channel)] == [0, 1, 2, 3, 4]
        assert await drained(layer, outsider) == []

    run(scenario)


def test_a_full_channel_misses_a_group_message_and_the_others_still_get_it():
    layer = FeedInMemoryLayer(capacity=2)

    async def scenario():
        full, roomy = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("g", full)
        await layer.group_add("g", roomy)
        for n in range(2):
            await layer.send(full, {"type": "x", "n": n})
        await layer.group_send("g", {"type": "x", "n": 9})
        assert [m["n"] for m in await drained(layer, full)] == [0, 1]
        assert [m["n"] for m in await drained(layer, roomy)] == [9]

    run(scenario)


def test_a_channel_whose_messages_expire_unread_leaves_its_groups_and_a_live_one_stays():
    layer = FeedInMemoryLayer(expiry=-1)  # every message is expired as soon as it is put
    layer.SWEEP_SECONDS = 0

    async def scenario():
        dead, live = await layer.new_channel(), await layer.new_channel()
        await layer.group_add("g", dead)
        await layer.group_add("g", live)
        await layer.send(dead, {"type": "x"})
        await layer.group_send("g", {"type": "y"})  # sweeps first: `dead` had an expired message
        assert set(layer.groups["g"]) == {live}

    run(scenario)


def waiting_on(layer: FeedInMemoryLayer, channel: str) -> int:
    """How many receivers wait on the channel's mailbox now."""
    mailbox = layer.channels.get(channel)
    return len(mailbox._waiters) if mailbox is not None else 0


def test_a_receiver_waiting_on_an_empty_channel_gets_the_next_message_and_one_cancelled_none():
    layer = FeedInMemoryLayer()

    async def scenario():
        channel = await layer.new_channel()
        cancelled = asyncio.ensure_future(layer.receive(channel))
        waiting = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(0)  # both are waiting now
        cancelled.cancel()
        await layer.send(channel, {"type": "x", "n": 1})
        assert (await asyncio.wait_for(waiting, HANG_SECONDS))["n"] == 1
        assert cancelled.cancelled()
        assert channel not in layer.channels  # an empty channel is not kept

    run(scenario)


def test_a_receiver_woken_then_cancelled_hands_the_message_to_the_next_receiver():
    layer = FeedInMemoryLayer()

    async def scenario():
        channel = await layer.new_channel()
        first = asyncio.ensure_future(layer.receive(channel))
        second = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(0)
        await layer.send(channel, {"type": "x", "n": 1})  # wakes the first...
        first.cancel()  # ...which is cancelled before it runs
        assert (await asyncio.wait_for(second, HANG_SECONDS))["n"] == 1

    run(scenario)


def test_a_message_sent_from_a_thread_of_its_own_wakes_a_receiver_on_an_otherwise_idle_loop():
    # A thread the server did not start (no `sync_to_async` above it) runs `async_to_sync` on a
    # loop of its own: the receiver's loop must still be woken, not left until something else
    # stirs it (on a quiet server, the next heartbeat).
    layer = FeedInMemoryLayer()

    async def scenario():
        loop = asyncio.get_running_loop()
        channel = await layer.new_channel()
        received = threading.Event()
        seen: list[bool] = []

        def publisher() -> None:
            async_to_sync(layer.send)(channel, {"type": "x", "n": 1})
            seen.append(received.wait(HANG_SECONDS))
            loop.call_soon_threadsafe(lambda: None)  # lets a receiver never woken finish

        receiving = asyncio.ensure_future(layer.receive(channel))
        await until(lambda: waiting_on(layer, channel) == 1)  # before anything is sent
        thread = threading.Thread(target=publisher)
        thread.start()
        message = await receiving
        received.set()
        await asyncio.to_thread(thread.join, HANG_SECONDS)
        assert message["n"] == 1
        assert seen == [True]

    run(scenario)


def test_a_group_message_sent_from_a_thread_of_its_own_reaches_every_member_once_in_order():
    layer = FeedInMemoryLayer()

    async def scenario():
        members = [await layer.new_channel() for _ in range(2)]
        for channel in members:
            await layer.group_add("feed.unit.1", channel)
        receiving = [asyncio.ensure_future(layer.receive(c)) for c in members]
        await until(lambda: all(waiting_on(layer, c) == 1 for c in members))

        def publisher() -> None:
            for n in range(3):
                async_to_sync(layer.group_send)("feed.unit.1", {"type": "x", "n": n})

        await asyncio.to_thread(publisher)
        firsts = [m["n"] for m in await asyncio.wait_for(asyncio.gather(*receiving), HANG_SECONDS)]
        assert firsts == [0, 0]
        for channel in members:
            assert [m["n"] for m in await drained(layer, channel)] == [1, 2]

    run(scenario)
