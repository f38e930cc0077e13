"""The live feed socket, through the real ASGI application (Origin guard, router, consumer, channel
layer, database): hello and welcome, live pushes, acks, replay and gaps, heartbeats, revocation,
and bad frames that must not hurt the process or anyone else's socket."""

from __future__ import annotations

import asyncio
import datetime
import json
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.db import OperationalError
from django.utils import timezone

from server.accounts.models import Device, DeviceToken, User
from server.accounts.services import issue_device_token, revoke_device, sign_out
from server.asgi import application
from server.care.services import upsert_encounter
from server.dispatch.models import Assignment, Emergency
from server.feed.models import DeviceCursor, Event, Stream
from server.feed.services import publish_event, unit_stream
from server.sync import ack_batch, consumers
from tests.conftest import PASSWORD
from tests.e2e.conftest import own_redis  # noqa: F401 - the fixture, reused

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_layer(settings):
    """The in-memory layer's queues belong to one event loop; each test runs its own loop."""
    channel_layers.backends = {}
    settings.CARE_FEED_HEARTBEAT_SECONDS = 60
    settings.CARE_ACK_WATCH_SECONDS = 60
    yield
    channel_layers.backends = {}


# Only guards against a hang: a frame or close that takes this long is not coming.
HANG_SECONDS = 30


def run(scenario) -> None:
    async_to_sync(scenario)()


async def until(check, seconds: float = HANG_SECONDS) -> None:
    """Wait (on the event loop) for `check()` to hold; fails only if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        assert loop.time() < deadline, f"still waiting after {seconds} s"
        await asyncio.sleep(0.02)


async def answering_pings_until_closed(ws: WebsocketCommunicator) -> tuple[int, list[dict]]:
    """A live device: answers the server's pings until the server closes the socket."""
    before = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANG_SECONDS
    while loop.time() < deadline:
        message = await ws.receive_output(HANG_SECONDS)
        if message["type"] == "websocket.close":
            return message.get("code"), before
        frame = json.loads(message["text"])
        before.append(frame)
        if frame["type"] == "ping":
            await ws.send_json_to({"type": "pong"})
    raise AssertionError(f"still open after {HANG_SECONDS} s, pinging")


class WatchRounds:
    """Counts the acknowledgement watch's rounds (the real check runs each time), failing the
    first `failing` of them as a database outage would."""

    def __init__(self, monkeypatch, failing: int = 0):
        self.done = 0
        self.failing = failing
        real = consumers.raise_overdue_acknowledgements

        def counted(**options):
            self.done += 1
            if self.done <= self.failing:
                raise OperationalError("the database went away (test)")
            return real(**options)

        monkeypatch.setattr(consumers, "raise_overdue_acknowledgements", counted)


def token_for(username: str) -> str:
    key, _ = issue_device_token(
        username=username, password=PASSWORD, device_name=f"{username}-feed-test"
    )
    return key


def hello(token: str, cursors: dict | None = None) -> dict:
    return {
        "type": "hello",
        "token": token,
        "cursors": cursors or {},
        "client_time": "2026-11-18T14:00:00-08:00",
    }


async def socket(headers: list | None = None) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(application, "/ws/feed/", headers=headers or [])
    connected, _ = await ws.connect()
    assert connected
    return ws


async def signed_in(token: str, cursors: dict | None = None) -> tuple[WebsocketCommunicator, dict]:
    ws = await socket()
    await ws.send_json_to(hello(token, cursors))
    welcome = await ws.receive_json_from()
    assert welcome["type"] == "welcome", welcome
    return ws, welcome


async def frames(ws: WebsocketCommunicator, quiet: float = 0.3) -> list[dict]:
    """Every frame until the socket has been quiet for `quiet` seconds."""
    out = []
    while not await ws.receive_nothing(quiet):
        out.append(await ws.receive_json_from())
    return out


async def frames_until_marker(ws: WebsocketCommunicator, stream: str) -> list[dict]:
    """Every frame before a marker event published now on `stream` (one the socket reads)."""
    await database_sync_to_async(publish_event)(stream=stream, kind="test.marker", data={})
    out = []
    while (frame := await ws.receive_json_from(HANG_SECONDS)).get("kind") != "test.marker":
        out.append(frame)
    return out


async def close_code(ws: WebsocketCommunicator, timeout: float = 3) -> tuple[int, list[dict]]:
    """Read until the server closes; the close code and the frames before it."""
    before = []
    while True:
        message = await ws.receive_output(timeout)
        if message["type"] == "websocket.close":
            return message.get("code"), before
        before.append(json.loads(message["text"]))


async def event_of_kind(ws: WebsocketCommunicator, kind: str, timeout: float = 3) -> dict:
    while True:
        frame = await ws.receive_json_from(timeout)
        if frame["type"] == "event" and frame["kind"] == kind:
            return frame


# ---- hello ---------------------------------------------------------------------------------


def test_a_device_is_welcomed_with_the_streams_its_role_may_read(people):
    token = token_for("care1")

    async def scenario():
        ws, welcome = await signed_in(token)
        assert set(welcome["streams"]) == {
            f"user:{people['care1'].pk}",
            unit_stream(people["care1"].unit_id),
            "directory",
        }
        assert "dispatch" not in welcome["streams"]
        await ws.disconnect()

    run(scenario)


@pytest.mark.parametrize(
    ("first_frame", "code"),
    [
        ("not json at all", 4400),
        (json.dumps({"type": "hello", "token": "not-a-token", "cursors": {}}), 4401),
        (json.dumps({"type": "ping"}), 4401),
        (json.dumps({"type": "hello", "token": "x", "cursors": {}}) + " " * 70_000, 4400),
    ],
    ids=["not-json", "bad-token", "no-hello", "oversized"],
)
def test_a_bad_first_frame_closes_the_socket_with_its_code(people, first_frame, code):
    async def scenario():
        ws = await socket()
        await ws.send_to(text_data=first_frame)
        assert (await close_code(ws))[0] == code

    run(scenario)


def test_a_socket_that_never_says_hello_is_closed_4401(people, monkeypatch):
    monkeypatch.setattr(consumers, "HELLO_TIMEOUT_SECONDS", 0.2)

    async def scenario():
        ws = await socket()
        assert (await close_code(ws))[0] == 4401

    run(scenario)


def test_cursors_for_streams_the_device_may_not_read_get_an_error_and_nothing_from_them(people):
    token = token_for("officer1")

    async def scenario():
        publish_dispatch = database_sync_to_async(publish_event)
        await publish_dispatch(stream="dispatch", kind="test.secret", data={"n": 1})
        ws = await socket()
        await ws.send_json_to(hello(token, {"dispatch": 0, f"user:{people['care1'].pk}": 0}))
        got = await frames(ws)
        assert got[0]["type"] == "error" and got[0]["code"] == "forbidden_stream"
        assert got[1]["type"] == "welcome"
        assert not [f for f in got if f["type"] == "event"]
        await ws.disconnect()

    run(scenario)


# ---- origin --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ([], True),
        ([(b"origin", b"http://localhost:8000")], True),
        ([(b"origin", b"https://evil.example")], False),
    ],
    ids=["native-tablet-no-origin", "our-own-page", "another-site"],
)
def test_browsers_must_come_from_an_allowed_host_and_tablets_send_no_origin(headers, allowed):
    async def scenario():
        ws = WebsocketCommunicator(application, "/ws/feed/", headers=headers)
        connected, _ = await ws.connect()
        assert connected is allowed
        await ws.disconnect()

    run(scenario)


# ---- live events, acks, delivery -----------------------------------------------------------


def test_a_dispatch_is_pushed_live_and_the_first_ack_marks_it_delivered_for_the_dispatcher(
    people, dispatched
):
    care, dispatcher = token_for("care1"), token_for("dispatcher")

    async def scenario():
        tablet, _ = await signed_in(care)
        board, _ = await signed_in(dispatcher)
        call = await database_sync_to_async(dispatched)()
        pushed = await event_of_kind(tablet, "assignment.dispatched")
        assert pushed["stream"] == unit_stream(people["care1"].unit_id)
        assert pushed["data"]["id"] == call["care"]
        await frames(board)

        await tablet.send_json_to({"type": "ack", "stream": pushed["stream"], "seq": pushed["seq"]})
        delivered = await event_of_kind(board, "assignment.delivered")
        assert delivered["data"]["id"] == call["care"]
        assert delivered["data"]["delivered_at"] is not None

        # Acking the same event again is harmless: no second delivered event. A later event is
        # published first (nothing is written beside the ack writer: an in-memory SQLite refuses
        # two writers at once), then the repeated ack and, behind it on the same writer, an ack
        # of the later event, seen written...
        await database_sync_to_async(publish_event)(
            stream=pushed["stream"], kind="test.after", data={}
        )
        after = await event_of_kind(tablet, "test.after", HANG_SECONDS)
        await tablet.send_json_to({"type": "ack", "stream": pushed["stream"], "seq": pushed["seq"]})
        await tablet.send_json_to({"type": "ack", "stream": after["stream"], "seq": after["seq"]})
        await until(lambda: acked(care, after["stream"]) == after["seq"])
        # ... then a marker behind anything the repeated ack could have published.
        later = await frames_until_marker(board, "dispatch")
        assert not [f for f in later if f.get("kind") == "assignment.delivered"]
        await tablet.disconnect()
        await board.disconnect()

    run(scenario)
    care_assignment = Assignment.objects.get(pk=dispatched_ids(people)["care"])
    assert care_assignment.delivered_at is not None
    spd_assignment = Assignment.objects.get(pk=dispatched_ids(people)["spd"])
    assert spd_assignment.delivered_at is None  # the officer's tablet never acked
    cursor = DeviceCursor.objects.get(stream_id=unit_stream(people["care1"].unit_id))
    assert cursor.acked_seq == 2  # the dispatch (1), then the later event the test acked


def dispatched_ids(people) -> dict[str, str]:
    return {a.kind: str(a.pk) for a in Assignment.objects.all()}


def test_an_ack_for_a_seq_never_sent_or_a_stream_not_read_gets_an_error(people):
    token = token_for("care1")

    async def scenario():
        ws, _ = await signed_in(token)
        mine = unit_stream(people["care1"].unit_id)
        await ws.send_json_to({"type": "ack", "stream": mine, "seq": 5})
        assert (await ws.receive_json_from())["code"] == "bad_ack"
        await ws.send_json_to({"type": "ack", "stream": "dispatch", "seq": 1})
        assert (await ws.receive_json_from())["code"] == "forbidden_stream"
        await ws.send_json_to({"type": "ack", "stream": mine, "seq": "1"})
        assert (await ws.receive_json_from())["code"] == "bad_ack"
        await ws.disconnect()

    run(scenario)
    assert not DeviceCursor.objects.exists()


# ---- replay and gaps -----------------------------------------------------------------------


def test_a_device_reconnecting_with_its_cursors_gets_exactly_what_it_missed(people):
    token = token_for("dispatcher")
    publish = database_sync_to_async(publish_event)

    async def scenario():
        for n in range(1, 4):
            await publish(stream="dispatch", kind="test.n", data={"n": n})
        ws, _ = await signed_in(token, {"dispatch": 0})
        first = [f["seq"] for f in await frames(ws) if f["type"] == "event"]
        assert first == [1, 2, 3]
        await ws.disconnect()
        for n in range(4, 7):
            await publish(stream="dispatch", kind="test.n", data={"n": n})
        ws, _ = await signed_in(token, {"dispatch": 3})
        await publish(stream="dispatch", kind="test.n", data={"n": 7})
        again = [f["seq"] for f in await frames(ws) if f["type"] == "event"]
        assert again == [4, 5, 6, 7]
        await ws.disconnect()

    run(scenario)


def _commit_without_push(stream: str) -> None:
    """An event the channel layer never hears of: what a dropped group_send looks like."""
    row, _ = Stream.objects.get_or_create(name=stream)
    Stream.objects.filter(name=stream).update(last_seq=row.last_seq + 1)
    Event.objects.create(stream_id=stream, seq=row.last_seq + 1, kind="test.lost", data={})


def test_a_live_event_after_a_lost_one_makes_the_socket_replay_the_gap_first(people):
    token = token_for("dispatcher")

    async def scenario():
        ws, _ = await signed_in(token, {"dispatch": 0})
        await frames(ws)
        await database_sync_to_async(publish_event)(stream="dispatch", kind="test.a", data={})
        await database_sync_to_async(_commit_without_push)("dispatch")
        await database_sync_to_async(publish_event)(stream="dispatch", kind="test.c", data={})
        got = [(f["seq"], f["kind"]) for f in await frames(ws) if f["type"] == "event"]
        assert got == [(1, "test.a"), (2, "test.lost"), (3, "test.c")]
        await ws.disconnect()

    run(scenario)


# ---- revocation, sign-out, heartbeats ------------------------------------------------------


def test_revoking_a_device_closes_its_socket_4403_and_leaves_others_open(people):
    revoked_key, other_key = token_for("care1"), token_for("care3")
    device = Device.objects.get(tokens__key_hash=DeviceToken.hash(revoked_key))

    async def scenario():
        doomed, _ = await signed_in(revoked_key)
        bystander, _ = await signed_in(other_key)
        await frames(doomed)
        await frames(bystander)
        await database_sync_to_async(revoke_device)(
            actor=people["admin"], device=device, reason="tablet lost"
        )
        assert (await close_code(doomed))[0] == 4403
        await bystander.send_json_to({"type": "ping"})
        assert (await bystander.receive_json_from())["type"] == "pong"
        await bystander.disconnect()
        # And it can't come back.
        ws = await socket()
        await ws.send_json_to(hello(revoked_key))
        assert (await close_code(ws))[0] == 4403

    run(scenario)


def test_signing_out_closes_the_sockets_of_that_token_4401(people):
    key = token_for("officer1")
    token = DeviceToken.objects.get(key_hash=DeviceToken.hash(key))

    async def scenario():
        ws, _ = await signed_in(key)
        await frames(ws)
        await database_sync_to_async(sign_out)(token=token)
        assert (await close_code(ws))[0] == 4401

    run(scenario)


def test_the_server_pings_and_reaps_a_socket_that_stops_answering(people, settings):
    settings.CARE_FEED_HEARTBEAT_SECONDS = 0.2
    quiet_key, lively_key = token_for("care1"), token_for("care3")

    async def scenario():
        quiet, welcome = await signed_in(quiet_key)
        lively, _ = await signed_in(lively_key)
        assert welcome["heartbeat_seconds"] == 0.2
        pings_answered = 0
        code, before = None, []
        loop = asyncio.get_running_loop()
        hang = loop.time() + HANG_SECONDS
        # Until the quiet one is reaped and the lively one has lived through rounds past that.
        while (code is None or pings_answered < 4) and loop.time() < hang:
            if not await lively.receive_nothing(0.05):
                frame = await lively.receive_json_from()
                if frame["type"] == "ping":
                    await lively.send_json_to({"type": "pong"})
                    pings_answered += 1
            if code is None and not await quiet.receive_nothing(0.05):
                message = await quiet.receive_output()
                if message["type"] == "websocket.close":
                    code = message["code"]
                else:
                    before.append(json.loads(message["text"]))
        assert code == 4408
        assert any(f["type"] == "ping" for f in before)
        assert pings_answered >= 4
        await lively.send_json_to({"type": "ping"})
        assert (await event_or_pong(lively))["type"] == "pong"
        await lively.disconnect()

    run(scenario)


def test_a_token_revoked_behind_the_sockets_back_closes_it_at_the_next_token_check_beat(
    people, settings, monkeypatch
):
    """The revocation's close message is the fast path; here it is never sent (the row changed
    directly), so only the heartbeat's re-check can notice. It reads the token every fourth beat:
    three pings go out first, then the socket closes."""
    settings.CARE_FEED_HEARTBEAT_SECONDS = 0.2
    settings.CARE_FEED_TOKEN_CHECK_BEATS = 4
    monkeypatch.setattr(consumers.random, "randrange", lambda n: 0)  # no head start in the cycle
    key = token_for("care1")

    async def scenario():
        ws, _ = await signed_in(key)
        await database_sync_to_async(
            DeviceToken.objects.filter(key_hash=DeviceToken.hash(key)).update
        )(revoked_at=timezone.now())
        pings, code = 0, None
        while code is None:
            message = await ws.receive_output(timeout=10)
            if message["type"] == "websocket.close":
                code = message["code"]
            elif json.loads(message["text"])["type"] == "ping":
                pings += 1
                await ws.send_json_to({"type": "pong"})
        assert code == 4401
        assert pings == 3

    run(scenario)


async def frames_until_pong(ws: WebsocketCommunicator) -> list[dict]:
    """The frames before the answer to a ping the test just sent."""
    out = []
    while (frame := await ws.receive_json_from(HANG_SECONDS))["type"] != "pong":
        out.append(frame)
    return out


async def event_or_pong(ws: WebsocketCommunicator) -> dict:
    while True:
        frame = await ws.receive_json_from()
        if frame["type"] != "ping":
            return frame


# ---- bad frames after hello ----------------------------------------------------------------


def test_bad_frames_after_hello_get_error_frames_and_the_socket_carries_on(people):
    token = token_for("care1")

    async def scenario():
        ws, _ = await signed_in(token)
        await frames(ws)
        await ws.send_to(text_data="{not json")
        assert (await ws.receive_json_from())["code"] == "malformed"
        await ws.send_json_to(["a", "list"])
        assert (await ws.receive_json_from())["code"] == "malformed"
        await ws.send_json_to({"type": "subscribe", "stream": "dispatch"})
        assert (await ws.receive_json_from())["code"] == "unknown_type"
        await ws.send_json_to({"type": "ping"})
        assert (await ws.receive_json_from())["type"] == "pong"
        await ws.disconnect()

    run(scenario)


def test_a_frame_over_64_kib_closes_the_socket_4400(people):
    token = token_for("care1")

    async def scenario():
        ws, _ = await signed_in(token)
        await frames(ws)
        await ws.send_json_to({"type": "ping", "padding": "x" * (64 * 1024)})
        assert (await close_code(ws))[0] == 4400

    run(scenario)


def test_a_flood_of_a_thousand_frames_is_throttled_then_closed_4429_and_others_are_unhurt(
    people,
):
    flood_key, calm_key = token_for("care1"), token_for("dispatcher")

    async def scenario():
        flooder, _ = await signed_in(flood_key)
        calm, _ = await signed_in(calm_key)
        await frames(flooder)
        await frames(calm)
        for _ in range(1000):
            await flooder.send_json_to({"type": "ping"})
        code, before = await close_code(flooder, timeout=5)
        assert code == 4429
        pongs = [f for f in before if f["type"] == "pong"]
        assert 0 < len(pongs) < 1000
        assert any(f.get("code") == "rate_limited" for f in before)
        await calm.send_json_to({"type": "ping"})
        assert (await calm.receive_json_from())["type"] == "pong"
        await database_sync_to_async(publish_event)(stream="dispatch", kind="test.after", data={})
        assert (await event_of_kind(calm, "test.after"))["seq"] == 1
        await calm.disconnect()

    run(scenario)


# ---- acknowledgement deadline --------------------------------------------------------------


async def alerts_until_marker(board: WebsocketCommunicator) -> list[dict]:
    """The overdue alerts the board got before a marker event published now, behind them: what
    hasn't arrived by the marker was never sent (the stream is delivered in order)."""
    await database_sync_to_async(publish_event)(stream="dispatch", kind="test.marker", data={})
    alerts = []
    while True:
        frame = await board.receive_json_from(HANG_SECONDS)
        if frame.get("kind") == "test.marker":
            return alerts
        if frame.get("kind") == "assignment.ack_overdue":
            alerts.append(frame)


def test_an_assignment_nobody_acknowledges_raises_one_alert_on_the_dispatch_stream(
    people, dispatched, settings, monkeypatch
):
    settings.CARE_ACK_TIMEOUT_SECONDS = 0
    settings.CARE_ACK_WATCH_SECONDS = 0.1
    token = token_for("dispatcher")
    rounds = WatchRounds(monkeypatch)

    async def scenario():
        board, _ = await signed_in(token)
        call = await database_sync_to_async(dispatched)()
        alerts = [await event_of_kind(board, "assignment.ack_overdue", HANG_SECONDS)]
        alerts.append(await event_of_kind(board, "assignment.ack_overdue", HANG_SECONDS))
        assert sorted(a["data"]["id"] for a in alerts) == sorted([call["care"], call["spd"]])
        assert all(a["data"]["delivered"] is False for a in alerts)
        # Three more rounds of the watch find the same overdue assignments, and raise nothing.
        seen = rounds.done
        await until(lambda: rounds.done >= seen + 3)
        assert await alerts_until_marker(board) == []
        await board.disconnect()

    run(scenario)
    assert Event.objects.filter(kind="assignment.ack_overdue").count() == 2


def test_an_acknowledgement_watch_round_that_fails_does_not_end_the_watch(
    people, dispatched, settings, monkeypatch
):
    settings.CARE_ACK_TIMEOUT_SECONDS = 0
    settings.CARE_ACK_WATCH_SECONDS = 0.1
    token = token_for("dispatcher")
    rounds = WatchRounds(monkeypatch, failing=2)

    async def scenario():
        board, _ = await signed_in(token)
        call = await database_sync_to_async(dispatched)()
        alerts = [await event_of_kind(board, "assignment.ack_overdue", HANG_SECONDS)]
        alerts.append(await event_of_kind(board, "assignment.ack_overdue", HANG_SECONDS))
        assert rounds.done >= 3  # two failed rounds, then the one that raised them
        assert sorted(a["data"]["id"] for a in alerts) == sorted([call["care"], call["spd"]])
        await board.disconnect()

    run(scenario)


# ---- audiences -----------------------------------------------------------------------------


def test_the_officer_socket_never_carries_care_clinical_records(people, dispatched, move):
    care_key, officer_key = token_for("care1"), token_for("officer1")
    note = "Met at the bus stop; talked about housing and the detox waitlist."

    def the_call_with_a_care_record() -> None:
        call = dispatched()
        for to in ("acknowledged", "en_route", "on_scene", "scene_safe"):
            assert move("officer1", call["spd"], to).status_code == 200
        upsert_encounter(
            actor=people["care1"],
            encounter_id=uuid.uuid4(),
            assignment_id=call["care"],
            changes={"people_contacted": 1, "disposition": "referred", "notes": note},
        )

    async def scenario():
        care, _ = await signed_in(care_key)
        officer, _ = await signed_in(officer_key)
        await database_sync_to_async(the_call_with_a_care_record)()
        # A marker behind the call's events on each unit's stream: what hasn't come by the
        # marker was never sent (a late frame can't pass for an absent one).
        to_care = await frames_until_marker(care, unit_stream(people["care1"].unit_id))
        to_officer = await frames_until_marker(officer, unit_stream(people["officer1"].unit_id))
        assert any(f.get("kind") == "encounter.updated" for f in to_care)
        assert note in json.dumps(to_care)
        assert any(f.get("kind") == "assignment.updated" for f in to_officer)
        assert note not in json.dumps(to_officer)
        clinical = ("encounter.", "service.", "naloxone.", "referral.")
        assert not [f for f in to_officer if str(f.get("kind", "")).startswith(clinical)]
        await care.disconnect()
        await officer.disconnect()

    run(scenario)


def test_a_cursor_past_the_end_of_a_stream_is_reported_and_new_events_still_arrive(people):
    token = token_for("dispatcher")
    publish = database_sync_to_async(publish_event)

    async def scenario():
        await publish(stream="dispatch", kind="test.n", data={})
        ws = await socket()
        await ws.send_json_to(hello(token, {"dispatch": 40}))
        got = await frames(ws)
        assert got[0]["type"] == "welcome"
        assert got[1]["code"] == "cursor_ahead"
        await publish(stream="dispatch", kind="test.n", data={})
        assert (await event_of_kind(ws, "test.n"))["seq"] == 2
        await ws.disconnect()

    run(scenario)


def test_a_device_far_behind_gets_every_event_replayed_batch_after_batch(people, monkeypatch):
    monkeypatch.setattr(consumers, "REPLAY_BATCH", 4)
    token = token_for("dispatcher")
    publish = database_sync_to_async(publish_event)

    async def scenario():
        for n in range(10):
            await publish(stream="dispatch", kind="test.n", data={"n": n})
        ws, _ = await signed_in(token, {"dispatch": 1})
        seqs = [f["seq"] for f in await frames(ws) if f["type"] == "event"]
        assert seqs == list(range(2, 11))
        await ws.disconnect()

    run(scenario)


async def forget_group(layer, group: str) -> None:
    """Drop a group's members the way the layer's own expiry would, on either layer."""
    if hasattr(layer, "groups"):  # in-memory
        layer.groups.pop(group, None)
        return
    await layer.connection(layer.consistent_hash(group)).delete(layer._group_key(group))


async def group_size(layer, group: str) -> int:
    if isinstance(layer, RedisPubSubChannelLayer):  # members kept in the process, by group channel
        here = layer._get_layer()
        return len(here.groups.get(here._get_group_channel_name(group), ()))
    if hasattr(layer, "groups"):
        return len(layer.groups.get(group, {}))
    return await layer.connection(layer.consistent_hash(group)).zcard(layer._group_key(group))


def test_a_socket_whose_group_membership_lapsed_joins_again_and_gets_what_it_missed(
    people, settings
):
    """channels-redis forgets a group membership after a day; a board left open must not go
    deaf. The lapse is made here by leaving the group behind the socket's back."""
    settings.CARE_FEED_HEARTBEAT_SECONDS = 0.2
    settings.CARE_FEED_GROUP_REFRESH_SECONDS = 0.5
    if "pubsub" in settings.CHANNEL_LAYERS["default"]["BACKEND"].lower():
        # Pub/sub memberships live in the process and never lapse: the lapse is the core
        # layer's, so that is the layer this test runs on.
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [settings.REDIS_HOST]},
            }
        }
        channel_layers.backends = {}
    token = token_for("dispatcher")

    async def scenario():
        ws, _ = await signed_in(token, {"dispatch": 0})
        await frames(ws, quiet=0.1)
        layer = channel_layers["default"]
        await forget_group(layer, "feed.dispatch")
        await database_sync_to_async(publish_event)(stream="dispatch", kind="test.missed", data={})
        got = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3
        while not got and loop.time() < deadline:
            if not await ws.receive_nothing(0.05):
                frame = await ws.receive_json_from()
                if frame["type"] == "ping":
                    await ws.send_json_to({"type": "pong"})
                elif frame["type"] == "event":
                    got.append(frame["kind"])
        assert got == ["test.missed"]
        assert await group_size(layer, "feed.dispatch") == 1  # a member again
        await ws.disconnect()

    run(scenario)


@pytest.fixture
def layer_on_own_redis(settings, own_redis):  # noqa: F811 - pytest fixture injection
    """The channel layer on a Redis of the test's own, which the test may kill."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{**settings.REDIS_HOST, "address": own_redis.url}]},
        }
    }
    channel_layers.backends = {}
    return own_redis


@pytest.fixture
def pubsub_on_own_redis(settings, own_redis):  # noqa: F811 - pytest fixture injection
    """The pub/sub layer the deployment uses, on a Redis the test may kill and start again."""
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "server.feed.layer.ReconnectAwarePubSubLayer",
            "CONFIG": {"hosts": [{**settings.REDIS_HOST, "address": own_redis.url}]},
        }
    }
    channel_layers.backends = {}
    return own_redis


def test_a_pubsub_socket_gets_what_was_published_while_redis_was_away_without_reconnecting(
    people, pubsub_on_own_redis
):
    """Pub/sub subscribes again by itself when Redis returns, and what was published meanwhile
    never arrives: the open socket is told, and sends the missed event from the database."""
    token = token_for("dispatcher")

    async def scenario():
        ws, _ = await signed_in(token, {"dispatch": 0})
        await frames(ws, quiet=0.1)
        assert [f["kind"] for f in await frames_until_marker(ws, "dispatch")] == []
        pubsub_on_own_redis.kill()
        await database_sync_to_async(publish_event)(stream="dispatch", kind="test.missed", data={})
        pubsub_on_own_redis.start()
        got = await event_of_kind(ws, "test.missed", timeout=HANG_SECONDS)
        assert got["stream"] == "dispatch"
        # Live again, in order, on the same socket.
        await database_sync_to_async(publish_event)(stream="dispatch", kind="test.after", data={})
        after = await event_of_kind(ws, "test.after", timeout=HANG_SECONDS)
        assert after["seq"] == got["seq"] + 1
        await ws.disconnect()

    run(scenario)


def test_a_socket_closing_while_redis_is_down_closes_cleanly(people, layer_on_own_redis):
    """The layer can't be told the socket left its groups; the membership lapses by the layer's
    expiry instead, and the close must not become a crash (a traceback, cleanup skipped)."""
    token = token_for("dispatcher")

    async def scenario():
        await database_sync_to_async(publish_event)(stream="dispatch", kind="test.n", data={})
        # Counted per process (sockets of earlier tests the server closed may still count).
        counted_before = consumers.AckWatch.sockets
        ws, _ = await signed_in(token, {"dispatch": 0})
        assert (await event_of_kind(ws, "test.n"))["seq"] == 1
        assert consumers.AckWatch.sockets == counted_before + 1
        layer_on_own_redis.kill()
        try:
            # An ack still being written as the socket goes: it is a database write, Redis or not.
            await ws.send_json_to({"type": "ack", "stream": "dispatch", "seq": 1})
            await ws.disconnect()  # raises what the application raised
        finally:
            layer_on_own_redis.start()
        # The socket's cleanup ran: it no longer counts towards the acknowledgement watch...
        assert consumers.AckWatch.sockets == counted_before
        # ... and the ack it sent last was written.
        await until(lambda: acked(token, "dispatch") == 1)

    run(scenario)


def acked(key: str, stream: str) -> int:
    """The device's acknowledged seq on `stream` (read in a thread: the test runs in a loop)."""
    from concurrent.futures import ThreadPoolExecutor

    def read() -> int:
        try:
            cursor = DeviceCursor.objects.filter(
                device__tokens__key_hash=DeviceToken.hash(key), stream_id=stream
            ).first()
        except OperationalError:  # SQLite: the ack writer's transaction holds the table; not yet
            return -1
        return cursor.acked_seq if cursor else 0

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(read).result()


def test_a_socket_closing_leaves_every_group_it_joined(people):
    token = token_for("dispatcher")

    async def scenario():
        ws, welcome = await signed_in(token)
        layer = channel_layers["default"]
        groups = ["feed.dispatch", *(f"feed.{s}" for s in welcome["streams"])]
        assert await group_size(layer, "feed.dispatch") == 1
        await ws.disconnect()
        for group in groups:
            assert await group_size(layer, group) == 0, group

    run(scenario)


def test_events_published_while_the_layer_is_down_are_stored_and_replayed(
    people, layer_on_own_redis
):
    """The live push fails (Redis is away); the write that made the event must not, and a
    device that connects once Redis is back gets the event from the database."""
    token = token_for("dispatcher")
    layer_on_own_redis.kill()
    try:
        event = publish_event(stream="dispatch", kind="test.while_down", data={"n": 1})
    finally:
        layer_on_own_redis.start()
    assert Event.objects.filter(stream_id="dispatch", seq=event.seq).exists()

    async def scenario():
        ws, _ = await signed_in(token, {"dispatch": 0})
        assert (await event_of_kind(ws, "test.while_down", HANG_SECONDS))["seq"] == event.seq
        await ws.disconnect()

    run(scenario)


# ---- tokens that stop being good ----------------------------------------------------------


def test_a_token_expired_at_hello_is_closed_4401_without_a_welcome(people):
    key = token_for("care1")
    DeviceToken.objects.filter(key_hash=DeviceToken.hash(key)).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )

    async def scenario():
        ws = await socket()
        await ws.send_json_to(hello(key))
        code, before = await close_code(ws, HANG_SECONDS)
        assert code == 4401 and before == []

    run(scenario)


@pytest.mark.parametrize(
    ("lapse", "code"),
    [
        ("expired", 4401),
        ("token_revoked", 4401),
        ("device_revoked", 4403),
    ],
)
def test_a_token_that_lapses_with_no_message_is_caught_at_the_heartbeat(
    people, settings, lapse, code
):
    """The heartbeat re-checks the token: an expiry sends no message, and a revocation's message
    may be lost. Here the database changes behind the socket's back."""
    settings.CARE_FEED_HEARTBEAT_SECONDS = 0.2
    key = token_for("care1")
    tokens = DeviceToken.objects.filter(key_hash=DeviceToken.hash(key))
    past = timezone.now() - datetime.timedelta(seconds=1)

    def lapse_now() -> None:
        if lapse == "expired":
            tokens.update(expires_at=past)
        elif lapse == "token_revoked":
            tokens.update(revoked_at=past)
        else:
            Device.objects.filter(tokens__in=tokens).update(revoked_at=past)

    async def scenario():
        ws, _ = await signed_in(key)
        await database_sync_to_async(lapse_now)()
        closed_with, _ = await answering_pings_until_closed(ws)
        assert closed_with == code

    run(scenario)


def test_a_revocation_between_the_token_check_and_joining_the_groups_closes_4403(
    people, monkeypatch
):
    """The revocation's close goes to the device's group, which this socket hasn't joined yet:
    only the look after joining can catch it."""
    key = token_for("care1")
    device = Device.objects.get(tokens__key_hash=DeviceToken.hash(key))
    checked = consumers._authenticate

    async def checked_then_revoked(token: str):
        found = await checked(token)
        await database_sync_to_async(revoke_device)(
            actor=people["admin"], device=device, reason="tablet lost"
        )
        return found

    monkeypatch.setattr(consumers, "_authenticate", checked_then_revoked)

    async def scenario():
        ws = await socket()
        await ws.send_json_to(hello(key))
        code, before = await close_code(ws, HANG_SECONDS)
        assert code == 4403
        assert not [f for f in before if f["type"] == "welcome"]

    run(scenario)


def test_an_ack_whose_write_fails_does_not_hurt_the_socket_and_later_acks_are_written(
    people, monkeypatch
):
    token = token_for("dispatcher")
    writes = {"n": 0}
    real = ack_batch._record_acks

    async def first_write_fails(receipts):
        writes["n"] += 1
        if writes["n"] == 1:
            raise OperationalError("the database went away (test)")
        return await real(receipts)

    monkeypatch.setattr(ack_batch, "_record_acks", first_write_fails)

    async def scenario():
        for _ in range(2):
            await database_sync_to_async(publish_event)(stream="dispatch", kind="test.n", data={})
        ws, _ = await signed_in(token, {"dispatch": 0})
        await ws.send_json_to({"type": "ack", "stream": "dispatch", "seq": 1})
        await until(lambda: writes["n"] == 1)
        await ws.send_json_to({"type": "ping"})
        assert [f["seq"] for f in await frames_until_pong(ws) if f["type"] == "event"] == [1, 2]
        await ws.send_json_to({"type": "ack", "stream": "dispatch", "seq": 2})
        await until(lambda: acked(token, "dispatch") == 2)
        await ws.disconnect()

    run(scenario)


def test_a_socket_whose_redis_goes_away_is_closed_4503_to_reconnect(people, layer_on_own_redis):
    """Redis restarting loses every group: a socket left open would be deaf. It is closed with
    4503 (the layer is out of reach), and the device's reconnect finds it all again."""
    token = token_for("dispatcher")

    async def scenario():
        ws, _ = await signed_in(token, {"dispatch": 0})
        await frames(ws, quiet=0.1)
        layer_on_own_redis.kill()
        try:
            code, _ = await close_code(ws, timeout=10)
        finally:
            layer_on_own_redis.start()
        assert code == 4503
        await database_sync_to_async(publish_event)(stream="dispatch", kind="test.missed", data={})
        # As the tablet does: reconnect after a pause, again while the socket closes 4503 (the
        # layer's pool may still hold a connection to the Redis that went away).
        for _ in range(5):
            again = await socket()
            await again.send_json_to(hello(token, {"dispatch": 0}))
            first = await again.receive_output(3)
            if first["type"] == "websocket.send":
                break
            assert first == {"type": "websocket.close", "code": 4503}
            await asyncio.sleep(0.2)
        assert json.loads(first["text"])["type"] == "welcome"
        assert [f["kind"] for f in await frames(again) if f["type"] == "event"] == ["test.missed"]
        await again.disconnect()

    run(scenario)


# ---- the emergency button's frame -------------------------------------------------------


def emergency_frame(unit: int, emergency_id: str | None = None, **extra) -> dict:
    return {
        "type": "emergency.start",
        "id": emergency_id or str(uuid.uuid4()),
        "unit": unit,
        "started_at": timezone.now().isoformat(),
        **extra,
    }


async def answer_to(ws: WebsocketCommunicator, ref: str | None) -> dict:
    """The socket's answer to an emergency frame: its acceptance or its error (events pushed
    meanwhile, like the unit's own `emergency.started`, are passed over)."""
    while True:
        frame = await ws.receive_json_from(HANG_SECONDS)
        if frame["type"] == "emergency.accepted" and frame["id"] == ref:
            return frame
        if frame["type"] == "error" and frame.get("ref") == ref:
            return frame


def test_an_emergency_sent_over_the_socket_is_accepted_and_alerts_the_dispatch_board(people):
    care, dispatcher = token_for("care1"), token_for("dispatcher")
    unit = people["care1"].unit_id
    sent = emergency_frame(unit, latitude=47.61, longitude=-122.34)

    async def scenario():
        tablet, _ = await signed_in(care)
        board, _ = await signed_in(dispatcher)
        await frames(tablet)
        await frames(board)
        await tablet.send_json_to(sent)
        accepted = await answer_to(tablet, sent["id"])
        assert accepted["emergency"]["id"] == sent["id"]
        assert accepted["emergency"]["unit"] == unit
        assert accepted["emergency"]["latitude"] == 47.61
        alert = await event_of_kind(board, "emergency.started", HANG_SECONDS)
        assert alert["data"]["id"] == sent["id"]
        assert alert["data"]["call_sign"] == "CARE-1"
        await tablet.disconnect()
        await board.disconnect()

    run(scenario)
    emergency = Emergency.objects.get(pk=sent["id"])
    assert emergency.started_by == people["care1"]
    assert emergency.device.name == "care1-feed-test"


def instant(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def test_an_emergency_frame_sent_twice_is_one_emergency(people):
    care, dispatcher = token_for("care1"), token_for("dispatcher")
    unit = people["care1"].unit_id

    async def scenario():
        tablet, _ = await signed_in(care)
        board, _ = await signed_in(dispatcher)
        await frames(tablet)
        await frames(board)
        sent = emergency_frame(unit)
        await tablet.send_json_to(sent)
        first = await answer_to(tablet, sent["id"])
        await tablet.send_json_to(sent)
        again = await answer_to(tablet, sent["id"])
        assert again["emergency"]["id"] == first["emergency"]["id"]
        started_at = [instant(a["emergency"]["started_at"]) for a in (first, again)]
        assert started_at[0] == started_at[1]
        on_board = await frames_until_marker(board, "dispatch")
        started = [f for f in on_board if f.get("kind") == "emergency.started"]
        assert [f["data"]["id"] for f in started] == [sent["id"]]
        await tablet.disconnect()
        await board.disconnect()

    run(scenario)
    assert Emergency.objects.count() == 1


def test_an_emergency_for_another_unit_is_refused_by_an_error_frame_and_the_socket_stays_open(
    people,
):
    care, dispatcher = token_for("care1"), token_for("dispatcher")
    other_unit = people["care3"].unit_id

    async def scenario():
        tablet, _ = await signed_in(care)
        board, _ = await signed_in(dispatcher)
        await frames(tablet)
        await frames(board)
        sent = emergency_frame(other_unit)
        await tablet.send_json_to(sent)
        refused = await answer_to(tablet, sent["id"])
        assert refused["type"] == "error"
        assert refused["code"] == "forbidden"
        # A dispatcher is not a responder in the field: no emergency from the board either.
        from_board = emergency_frame(other_unit)
        await board.send_json_to(from_board)
        assert (await answer_to(board, from_board["id"]))["code"] == "forbidden"
        await tablet.send_json_to({"type": "ping"})
        await frames_until_pong(tablet)  # answered: the socket is still open
        await tablet.disconnect()
        await board.disconnect()

    run(scenario)
    assert not Emergency.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id": "not-a-uuid"}, "id"),
        ({"started_at": "yesterday-ish"}, "started_at"),
        ({"unit": None}, "unit"),
        ({"latitude": 91.0, "longitude": 0.0}, "latitude"),
        ({"latitude": 47.6}, "latitude"),
        ({"started_at": "2999-01-01T00:00:00+00:00"}, "started_at"),
    ],
    ids=["id", "time", "no-unit", "latitude-off-the-globe", "latitude-alone", "in-the-future"],
)
def test_a_malformed_emergency_frame_gets_an_invalid_error_naming_the_field(people, changes, field):
    token = token_for("care1")
    sent = {**emergency_frame(people["care1"].unit_id), **changes}

    async def scenario():
        ws, _ = await signed_in(token)
        await frames(ws)
        await ws.send_json_to(sent)
        refused = await answer_to(ws, sent["id"])
        assert refused["code"] == "invalid"
        assert field in refused["fields"]
        await ws.send_json_to({"type": "ping"})
        await frames_until_pong(ws)  # answered: the socket is still open
        await ws.disconnect()

    run(scenario)
    assert not Emergency.objects.exists()


def test_an_emergency_frame_without_an_id_or_with_odd_values_is_an_error_not_a_crash(people):
    token = token_for("care1")

    async def scenario():
        ws, _ = await signed_in(token)
        await frames(ws)
        for odd in (
            {"type": "emergency.start"},
            {"type": "emergency.start", "id": 7, "unit": [], "started_at": {"a": 1}},
            {"type": "emergency.start", "id": ["x"], "unit": "1e309", "latitude": "NaN"},
        ):
            await ws.send_json_to(odd)
            refused = await answer_to(ws, None)
            assert refused["code"] == "invalid"
            assert "ref" not in refused
        await ws.send_json_to({"type": "ping"})
        await frames_until_pong(ws)  # answered: the socket is still open
        await ws.disconnect()

    run(scenario)
    assert not Emergency.objects.exists()


def test_a_person_deactivated_behind_the_socket_s_back_can_not_send_an_emergency_over_it(
    people,
):
    token = token_for("care1")
    unit = people["care1"].unit_id

    async def scenario():
        ws, _ = await signed_in(token)
        await frames(ws)
        # A bulk update sends no signal: the socket was not closed, and is still open.
        await database_sync_to_async(
            lambda: User.objects.filter(pk=people["care1"].pk).update(is_active=False)
        )()
        sent = emergency_frame(unit)
        await ws.send_json_to(sent)
        code, before = await close_code(ws)
        assert code == 4401
        assert before[-1]["type"] == "error"
        assert before[-1]["code"] == "authentication_failed"
        assert before[-1]["ref"] == sent["id"]
        await ws.disconnect()

    run(scenario)
    assert not Emergency.objects.exists()
