"""The sockets' token checks, read together (server.sync.consumers.TokenStandings): each socket
still gets its own token's standing, read after it asked."""

from __future__ import annotations

import asyncio
import datetime

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from server.accounts.models import Device, DeviceToken
from server.accounts.services import revoke_device
from server.sync.consumers import TokenStandings
from tests.server.sync.test_consumers import run, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def token_id(key: str) -> int:
    return DeviceToken.objects.get(key_hash=DeviceToken.hash(key)).pk


def test_checks_asked_together_each_get_their_own_token_s_standing(people):
    good, signed_out, expired, revoked = (
        token_id(token_for(name)) for name in ("care1", "care3", "officer1", "dispatcher")
    )
    DeviceToken.objects.filter(pk=signed_out).update(revoked_at=timezone.now())
    yesterday = timezone.now() - datetime.timedelta(days=1)
    DeviceToken.objects.filter(pk=expired).update(expires_at=yesterday)
    revoke_device(actor=people["admin"], device=Device.objects.get(tokens__pk=revoked))
    asked = [good, signed_out, expired, revoked, good, 10**9]  # twice, and one never issued

    async def scenario():
        answers = await asyncio.gather(*(TokenStandings.of(t) for t in asked))
        assert answers == [None, 4401, 4401, 4403, None, 4403]

    run(scenario)


def test_a_check_asked_after_a_revocation_sees_it(people):
    key = token_for("care1")
    tid = token_id(key)

    async def scenario():
        assert await TokenStandings.of(tid) is None
        device = await database_sync_to_async(Device.objects.get)(tokens__pk=tid)
        await database_sync_to_async(revoke_device)(actor=people["admin"], device=device)
        assert await TokenStandings.of(tid) == 4403

    run(scenario)
