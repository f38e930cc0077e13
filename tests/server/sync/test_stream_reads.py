"""The streams each socket's person may read, re-read by the sockets of a process together
(server.sync.consumers.StreamsAllowed): each socket still gets its own person's streams, read
after it asked, and a read asked while another is in flight shares the next one."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from server.accounts.models import DeviceToken, User
from server.dispatch.models import Shift
from server.sync.consumers import ReadTogether, StreamsAllowed
from tests.server.sync.test_consumers import HANG_SECONDS, run, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def token_id(key: str) -> int:
    return DeviceToken.objects.get(key_hash=DeviceToken.hash(key)).pk


def test_streams_asked_together_are_each_persons_own(people, units):
    names = ("dispatcher", "care1", "care3", "officer1", "coordinator")
    ids = {name: token_id(token_for(name)) for name in names}
    gone = token_id(token_for("officer2"))
    User.objects.filter(username="officer2").update(is_active=False)
    pk = {name: people[name].pk for name in names}
    expected = [
        [f"user:{pk['dispatcher']}", "dispatch"],
        [f"user:{pk['care1']}", f"unit:{units['CARE-1'].pk}", "directory"],
        [f"user:{pk['care3']}", f"unit:{units['CARE-2'].pk}", "directory"],
        [f"user:{pk['officer1']}", f"unit:{units['2M12'].pk}"],
        [f"user:{pk['coordinator']}", "directory", "referrals"],
        [],  # deactivated
        [],  # a token never issued
        [f"user:{pk['care1']}", f"unit:{units['CARE-1'].pk}", "directory"],  # asked twice
    ]
    asked = [*ids.values(), gone, 10**9, ids["care1"]]

    async def scenario():
        answers = await asyncio.gather(*(StreamsAllowed.of(t) for t in asked))
        assert [list(a) for a in answers] == expected

    run(scenario)


def test_a_responder_reads_a_unit_stream_from_their_shift_s_floor(people, units):
    Shift.objects.filter(user=people["care1"], ended_at__isnull=True).update(stream_floor=7)
    tid = token_id(token_for("care1"))

    async def scenario():
        allowed = await StreamsAllowed.of(tid)
        assert allowed.floor(f"unit:{units['CARE-1'].pk}") == 7
        assert allowed.floor("directory") == 0

    run(scenario)


def test_a_read_asked_after_signing_off_no_longer_has_the_unit(people, units):
    tid = token_id(token_for("care1"))
    unit = f"unit:{units['CARE-1'].pk}"

    async def scenario():
        assert unit in await StreamsAllowed.of(tid)
        await database_sync_to_async(
            Shift.objects.filter(user=people["care1"], ended_at__isnull=True).update
        )(ended_at=timezone.now())
        assert unit not in await StreamsAllowed.of(tid)

    run(scenario)


def test_reads_asked_while_one_is_in_flight_share_the_next_and_each_gets_its_own_answer():
    rounds: list[list[int]] = []

    async def scenario():
        in_flight, release = asyncio.Event(), asyncio.Event()

        async def doubled(keys: list[int]) -> dict[int, int]:
            rounds.append(sorted(keys))
            in_flight.set()
            await release.wait()  # held in flight while the others ask
            return {key: key * 2 for key in keys}

        reads = ReadTogether(doubled)
        first = asyncio.ensure_future(reads.of(1))
        await asyncio.wait_for(in_flight.wait(), HANG_SECONDS)
        rest = asyncio.gather(*(reads.of(k) for k in (2, 3, 2)))
        release.set()
        assert await asyncio.wait_for(first, HANG_SECONDS) == 2
        assert await asyncio.wait_for(rest, HANG_SECONDS) == [4, 6, 4]

    asyncio.run(scenario())
    assert rounds == [[1], [2, 3]]


def test_a_failed_read_fails_each_socket_that_asked_in_it_and_the_next_read_is_made_anew():
    calls = []

    async def flaky(keys: list[int]) -> dict[int, int]:
        calls.append(sorted(keys))
        if len(calls) == 1:
            raise ConnectionError("database out of reach")
        return dict.fromkeys(keys, 0)

    reads = ReadTogether(flaky)

    async def scenario():
        with pytest.raises(ConnectionError):
            await reads.of(5)
        assert await reads.of(5) == 0

    asyncio.run(scenario())
    assert calls == [[5], [5]]
