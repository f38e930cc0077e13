"""A receiving organization's Task update reaches the coordinator live: it runs the care command,
which publishes the follow-up on the `referrals` stream a coordinator's page reads; another
organization can't update the Task and publishes nothing; the partner's words stay text."""

# ruff: noqa: F811 - the exchange's fixtures are reused from test_fhir, injected by name

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator

from server.accounts.services import issue_device_token
from server.asgi import application
from server.care.models import Referral
from server.feed.models import Event, Stream
from server.sync.access import readable_streams
from tests.conftest import PASSWORD
from tests.server.interop.test_fhir import (  # noqa: F401 - the fixtures, reused
    HARBOR,
    _patch,
    eastside,
    harbor,
    referral,
)

HARBOR_NAME = "Harbor Light Outreach"  # the organization's name in the HSDS publication
PARTNER_TEXT = '<img src=x onerror="alert(1)"> No beds for couples tonight'
HANG_SECONDS = 30  # only guards against a hang: a frame that takes this long is not coming


def _follow_ups() -> list[Event]:
    return list(Event.objects.filter(stream_id="referrals").order_by("seq"))


def test_a_coordinator_reads_the_referrals_stream_and_field_people_do_not(people):
    assert "referrals" in readable_streams(people["coordinator"])
    assert "referrals" in readable_streams(people["admin"])
    for field_person in ("care1", "officer1", "dispatcher"):
        assert "referrals" not in readable_streams(people[field_person])


def test_a_partners_rejection_is_published_on_the_referrals_stream_with_its_organization(
    referral, harbor
):
    answer = _patch(
        harbor, referral, {"status": "rejected", "statusReason": {"text": PARTNER_TEXT}}
    )

    assert answer.status_code == 200, answer.content
    (event,) = _follow_ups()
    assert event.kind == "referral.followed_up"
    assert event.data["id"] == str(referral.pk)
    assert event.data["status"] == "closed"
    assert event.data["status_label"] == "Closed"
    assert event.data["version"] == Referral.objects.get(pk=referral.pk).version
    update = event.data["update"]
    assert update["by"] == HARBOR_NAME
    assert (update["from_status"], update["to_status"]) == ("made", "closed")
    assert PARTNER_TEXT in update["note"]  # the partner's words, as they were typed


def test_completing_from_made_publishes_each_step_in_order(referral, harbor):
    answer = _patch(
        harbor, referral,
        {"status": "completed", "output": [{"type": {"text": "outcome"}, "valueString": "Bed 12"}]},
    )  # fmt: skip
    # A Task may not go from requested to completed directly.
    assert answer.status_code == 409
    assert _follow_ups() == []

    _patch(harbor, referral, {"status": "accepted"})
    _patch(
        harbor, referral,
        {"status": "completed", "output": [{"type": {"text": "outcome"}, "valueString": "Bed 12"}]},
    )  # fmt: skip

    steps = [
        (e.data["update"]["from_status"], e.data["update"]["to_status"]) for e in _follow_ups()
    ]
    assert steps == [("made", "contacted"), ("contacted", "connected")]
    assert "Bed 12" in _follow_ups()[-1].data["update"]["note"]


def test_another_organization_can_not_update_the_task_and_nothing_is_published(referral, eastside):
    patched = _patch(eastside, referral, {"status": "accepted"})
    task = {
        "resourceType": "Task",
        "id": str(referral.pk),
        "status": "accepted",
        "intent": "order",
        "focus": {"reference": f"ServiceRequest/{referral.pk}"},
        "owner": {"reference": f"Organization/{HARBOR}"},
    }
    put = eastside.put(f"/fhir/Task/{referral.pk}", task, format="json")

    assert patched.status_code == 404
    assert put.status_code == 404
    assert Referral.objects.get(pk=referral.pk).status == "made"
    assert _follow_ups() == []


def test_a_coordinators_own_follow_up_is_published_for_the_other_coordinators(referral, client_for):
    answer = client_for("coordinator").patch(
        f"/api/v1/referrals/{referral.pk}", {"status": "contacted", "note": "Called"}, format="json"
    )

    assert answer.status_code == 200, answer.content
    (event,) = _follow_ups()
    assert event.data["update"]["by"] == "coordinator"
    assert event.data["update"]["note"] == "Called"


def test_the_referral_page_names_the_organization_and_shows_its_words_as_text(
    referral, harbor, client, people
):
    _patch(harbor, referral, {"status": "rejected", "statusReason": {"text": PARTNER_TEXT}})
    client.force_login(people["coordinator"])

    page = client.get(f"/coordinator/referrals/{referral.pk}/").content.decode()
    queue = client.get("/coordinator/").content.decode()

    assert HARBOR_NAME in page and HARBOR_NAME in queue
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    assert "<img src=x" not in page


@pytest.mark.django_db(transaction=True)
def test_a_coordinators_open_socket_hears_the_partners_task_update(referral, harbor, people):
    channel_layers.backends = {}  # the in-memory layer belongs to one event loop
    key, _ = issue_device_token(username="coordinator", password=PASSWORD, device_name="console")
    streams = readable_streams(people["coordinator"])
    ends = dict(Stream.objects.filter(name__in=streams).values_list("name", "last_seq"))
    cursors = {s: ends.get(s, 0) for s in streams}

    async def scenario() -> dict:
        ws = WebsocketCommunicator(application, "/ws/feed/")
        connected, _ = await ws.connect()
        assert connected
        try:
            await ws.send_json_to({"type": "hello", "token": key, "cursors": cursors})
            welcome = json.loads(await ws.receive_from(HANG_SECONDS))
            assert welcome["type"] == "welcome" and "referrals" in welcome["streams"]
            answer = await database_sync_to_async(_patch)(
                harbor, referral, {"status": "accepted"}, f'W/"{referral.version}"'
            )
            assert answer.status_code == 200, answer.content
            loop = asyncio.get_running_loop()
            deadline = loop.time() + HANG_SECONDS
            while loop.time() < deadline:
                frame = json.loads(await ws.receive_from(HANG_SECONDS))
                if frame["type"] == "event" and frame["kind"] == "referral.followed_up":
                    return frame
            raise AssertionError(f"no follow-up after {HANG_SECONDS} s")
        finally:
            await ws.disconnect()

    frame = async_to_sync(scenario)()
    channel_layers.backends = {}
    assert frame["stream"] == "referrals"
    assert frame["data"]["id"] == str(referral.pk)
    assert frame["data"]["status_label"] == "Contacted"
    assert frame["data"]["update"]["by"] == HARBOR_NAME
