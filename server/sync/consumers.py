"""`/ws/feed/`: the live half of the change feed.

The socket is the fast path; the database is the truth. After `hello` the consumer joins the
stream groups, replays from the database everything after the device's cursors, then forwards live
events. It keeps the last seq it sent per stream: a live event at or below it is a duplicate and
is dropped; one beyond the next number means the layer lost something, so it replays the gap from
the database first.

Frames a device sends after `welcome`: `ack {stream, seq}` (cumulative: ack the highest seq you
have stored, not each event), `ping` (answered with `pong`), `pong` (the answer to the server's
`ping`), and one write: `emergency.start {id, unit, started_at, latitude?, longitude?}`, the
emergency button's press, sent here first because the socket is already open when seconds count.
It runs the same command as `POST /api/v1/emergencies` and the offline push, as the socket's
person and device, and is answered `emergency.accepted {id, emergency}` or an
`error {code, message, ref}` frame with the REST door's code; a repeated id is the same emergency.
Anything else gets an `error {code, message}` frame and the socket stays open.

Close codes: 4400 malformed (a bad first frame, or any frame over 64 KiB) · 4401 no or bad token,
no `hello` within 10 s, or signed out · 4403 device revoked · 4408 stopped answering heartbeats ·
4429 flooding (more than a second's worth of frames over the rate limit) · 4503 the channel layer
(Redis) was lost: reconnect.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.utils import timezone
from redis.exceptions import RedisError

from server.accounts.models import DeviceToken
from server.dispatch.incidents.delivery import raise_overdue_acknowledgements
from server.dispatch.safety import commands as safety_commands
from server.dispatch.safety.services import raise_check_in_lapses
from server.errors import CareFieldError
from server.feed.codes import (
    CLOSE_FLOODING,
    CLOSE_LAYER_LOST,
    CLOSE_MALFORMED,
    CLOSE_REVOKED,
    CLOSE_SILENT,
    CLOSE_UNAUTHENTICATED,
)
from server.feed.models import Event, Stream
from server.feed.services import device_group, group_name, is_priority, priority_group_name
from server.sync.access import ReadableStreams, readable_streams, readable_streams_of
from server.sync.ack_stream import submit_ack

logger = logging.getLogger(__name__)

HELLO_TIMEOUT_SECONDS = 10
MAX_FRAME_BYTES = 64 * 1024
REPLAY_BATCH = 500  # events read from the database at a time while replaying


def heartbeat_seconds() -> float:
    return float(getattr(settings, "CARE_FEED_HEARTBEAT_SECONDS", 20))


def group_refresh_seconds() -> float:
    """How often a socket joins its groups again. channels-redis forgets a membership after its
    `group_expiry` (a day by default): a dispatch board left open longer would go deaf."""
    return float(getattr(settings, "CARE_FEED_GROUP_REFRESH_SECONDS", 3600))


def token_check_beats() -> int:
    """The token is read again every this many heartbeats (not every one: at a thousand sockets
    that was most of the process's database work). A revocation or sign-out still closes the
    socket at once through the device's group; this re-check is the backstop should that message
    be lost, so a revoked token's socket closes within this many heartbeats."""
    return max(1, int(getattr(settings, "CARE_FEED_TOKEN_CHECK_BEATS", 3)))


def frames_per_second() -> float:
    return float(getattr(settings, "CARE_FEED_FRAMES_PER_SECOND", 50))


def ack_watch_seconds() -> float:
    return float(getattr(settings, "CARE_ACK_WATCH_SECONDS", 5))


def priority_resend_seconds() -> float:
    """How long a priority frame (an emergency, a backup) waits for the device's ack before it
    is sent again."""
    return float(getattr(settings, "CARE_FEED_PRIORITY_RESEND_SECONDS", 2))


def priority_resends() -> int:
    """How many times it is sent again at most: a device that never acks (an old client) is not
    sent the same frame for ever; a reconnect replays it from the database anyway."""
    return int(getattr(settings, "CARE_FEED_PRIORITY_RESENDS", 30))


def _event_parts(message: dict) -> tuple[str, int, str, str]:
    """(stream, seq, kind, frame text) of a `feed.event` message. The publisher encodes the frame
    once for every socket (server.feed.services.feed_message); a message carrying the event as a
    dict (published by an older process during a rolling deploy) is encoded here."""
    if "frame" in message:
        return message["stream"], message["seq"], message["kind"], message["frame"]
    event = message["event"]
    text = json.dumps({"type": "event", **event}, default=str)
    return event["stream"], event["seq"], event["kind"], text


@database_sync_to_async
def _authenticate(key: str):
    """(user, device, token id, streams) for a live token; 'revoked' for a revoked device."""
    token = (
        DeviceToken.objects.select_related("device", "device__user", "device__user__unit")
        .filter(key_hash=DeviceToken.hash(key))
        .first()
    )
    if token is None:
        return None
    if token.device.revoked_at:
        return "revoked"
    if token.revoked_at or token.expires_at <= timezone.now() or not token.device.user.is_active:
        return None
    user = token.device.user
    return user, token.device, token.pk, readable_streams(user)


class ReadTogether:
    """Reads of one kind by the sockets of one event loop, made together: while one read is in
    flight, the sockets asking meanwhile wait and share the next query. A thousand sockets each
    asking on its own took a thousand turns of the one thread that also replays events to them
    (the feed bench's profile, docs/benchmarks.md); no socket is ever answered from an old read.

    `read_many(keys)` answers every key it is given (a database function run on a thread)."""

    def __init__(self, read_many: Callable[[list], Awaitable[dict]]) -> None:
        self.read_many = read_many
        self._by_loop: dict[asyncio.AbstractEventLoop, _Round] = {}

    async def of(self, key: Hashable) -> Any:
        loop = asyncio.get_running_loop()
        batch = self._by_loop.get(loop)
        if batch is None:
            self._by_loop = {lp: b for lp, b in self._by_loop.items() if not lp.is_closed()}
            batch = self._by_loop[loop] = _Round(self.read_many)
        answer = loop.create_future()
        batch.waiting.setdefault(key, []).append(answer)
        if batch.reader is None or batch.reader.done():
            batch.reader = loop.create_task(batch.read())
        return await answer


class _Round:
    """One loop's waiting askers and its reader, alive while any wait."""

    def __init__(self, read_many: Callable[[list], Awaitable[dict]]) -> None:
        self.read_many = read_many
        self.waiting: dict = {}
        self.reader: asyncio.Task | None = None

    async def read(self) -> None:
        while self.waiting:
            taken, self.waiting = self.waiting, {}
            try:
                found = await self.read_many(list(taken))
            except Exception as exc:  # each asker handles it as its own read's failure
                for answers in taken.values():
                    for answer in answers:
                        if not answer.done():
                            answer.set_exception(exc)
                continue
            for key, answers in taken.items():
                for answer in answers:
                    if not answer.done():  # its socket may have closed meanwhile
                        answer.set_result(found[key])


@database_sync_to_async
def _token_standings(token_ids: list[int]) -> dict[int, int | None]:
    """The standing of each token, in one query: None while good, else its socket's close code
    (a token gone from the database counts as revoked)."""
    now = timezone.now()
    standings: dict[int, int | None] = dict.fromkeys(token_ids, CLOSE_REVOKED)
    for token in DeviceToken.objects.select_related("device").filter(pk__in=token_ids):
        if token.device.revoked_at:
            continue
        lapsed = token.revoked_at or token.expires_at <= now
        standings[token.pk] = CLOSE_UNAUTHENTICATED if lapsed else None
    return standings


@database_sync_to_async
def _streams_allowed(token_ids: list[int]) -> dict[int, ReadableStreams]:
    """What each token's person may read today, in two queries for all of them: a new role or
    unit (even one saved by a bulk update that sent no signal) or a deactivation narrows it; a
    token gone from the database reads nothing."""
    tokens = DeviceToken.objects.select_related("device__user").filter(pk__in=token_ids)
    person_of = {token.pk: token.device.user for token in tokens}
    streams = readable_streams_of(list({u.pk: u for u in person_of.values()}.values()))
    return {
        token_id: streams[person_of[token_id].pk] if token_id in person_of else ReadableStreams([])
        for token_id in token_ids
    }


# None while the token is good; else the close code its socket should get.
TokenStandings = ReadTogether(_token_standings)
StreamsAllowed = ReadTogether(_streams_allowed)


async def _token_standing(token_id: int) -> int | None:
    return await TokenStandings.of(token_id)


async def _streams_allowed_now(token_id: int) -> ReadableStreams:
    return await StreamsAllowed.of(token_id)


class SocketRefused(Exception):
    """The socket's token no longer stands: the write is refused and the socket closed."""

    def __init__(self, close_code: int, code: str, message: str) -> None:
        super().__init__(message)
        self.close_code, self.code, self.message = close_code, code, message


@database_sync_to_async
def _start_emergency(token_id: int, data: dict) -> dict:
    """The emergency button's press, as `POST /api/v1/emergencies` runs it: the token is read
    again first (its person may have been deactivated or signed out since `hello`, by a door
    that sent no message), so the write is made by whoever holds the token now."""
    token = (
        DeviceToken.objects.select_related("device", "device__user", "device__user__unit")
        .filter(pk=token_id)
        .first()
    )
    if token is None or token.device.revoked_at:
        raise SocketRefused(CLOSE_REVOKED, "revoked", "This device was revoked by a supervisor.")
    user = token.device.user
    if token.revoked_at or token.expires_at <= timezone.now() or not user.is_active:
        raise SocketRefused(
            CLOSE_UNAUTHENTICATED,
            "authentication_failed",
            "This token is unknown, expired or revoked; sign in again.",
        )
    return safety_commands.start_emergency(actor=user, device=token.device, data=data)


@database_sync_to_async
def _stream_ends(streams: list[str]) -> dict[str, int]:
    return dict(Stream.objects.filter(name__in=streams).values_list("name", "last_seq"))


@database_sync_to_async
def _events_after(stream: str, seq: int, upto: int | None = None) -> list[dict]:
    events = Event.objects.filter(stream_id=stream, seq__gt=seq).order_by("seq")
    if upto is not None:
        events = events.filter(seq__lte=upto)
    return [e.as_frame() for e in events[:REPLAY_BATCH]]


class FrameBudget:
    """Token bucket: `rate` frames a second on average, bursts up to twice that. Frames over the
    budget are dropped; more than a second's worth of drops within one second is a flood."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.burst = rate * 2
        self.tokens = self.burst
        self.stamp = time.monotonic()
        self.window_start = self.stamp
        self.dropped_in_window = 0

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if now - self.window_start >= 1:
            self.window_start, self.dropped_in_window = now, 0
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        self.dropped_in_window += 1
        return False

    @property
    def flooding(self) -> bool:
        return self.dropped_in_window > self.rate


class AckWatch:
    """One loop per process, alive while the process has sockets: raises overdue-acknowledgement
    alerts. Every Daphne process may run it; each alert is claimed by a conditional update, so
    it is raised once however many processes look."""

    sockets = 0
    task: asyncio.Task | None = None

    @classmethod
    def socket_opened(cls) -> None:
        cls.sockets += 1
        loop = asyncio.get_running_loop()
        if cls.task is None or cls.task.done() or cls.task.get_loop() is not loop:
            cls.task = loop.create_task(cls._run())

    @classmethod
    def socket_closed(cls) -> None:
        cls.sockets = max(0, cls.sockets - 1)
        if cls.sockets == 0 and cls.task is not None:
            cls.task.cancel()
            cls.task = None

    @classmethod
    async def _run(cls) -> None:
        while cls.sockets > 0:
            await asyncio.sleep(ack_watch_seconds())
            try:
                await database_sync_to_async(raise_overdue_acknowledgements)()
                await database_sync_to_async(raise_check_in_lapses)()
            except Exception:  # a database hiccup must not end the watch
                logger.exception("overdue-acknowledgement check failed")


class FeedConsumer(AsyncWebsocketConsumer):
    # What `_release` looks at, should the socket end before `connect` set them.
    hello_timer: asyncio.TimerHandle | None = None
    heartbeat: asyncio.Task | None = None
    groups_joined: list[str] = []
    counted = False
    released = False
    priority_task: asyncio.Task | None = None
    resender: asyncio.Task | None = None
    priority_groups: frozenset[str] = frozenset()

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except (OSError, RedisError):
            # The channel layer went away under the socket (Redis restarting). Its groups went
            # with it, so the socket would stay open but deaf: close it (4503), and
            # the device reconnects, joins again and replays what it missed from the database.
            logger.warning("channel layer lost; the socket is closed to reconnect", exc_info=True)
            if self.released:  # the device had hung up already
                return
            await self._release()
            await send({"type": "websocket.close", "code": CLOSE_LAYER_LOST})

    async def dispatch(self, message: dict) -> None:
        """Channels' dispatch without its hop to the database thread before every message
        (`aclose_old_connections`, Channels 4.2+). That hop put every frame of every socket in
        the queue of the one thread that also runs the process's database work: at 100 sockets a
        broadcast waited behind 100 turns of it. Every database call here goes through
        `database_sync_to_async`, which closes stale connections itself, before and after."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.device = None
        self.token_id: int | None = None
        self.sent: dict[str, int] = {}
        self.groups_joined: list[str] = []
        self.heartbeat: asyncio.Task | None = None
        self.last_heard = time.monotonic()
        self.budget = FrameBudget(frames_per_second())
        self.warned_at = 0.0
        self.closing = False
        # One sender per stream at a time: the priority lane and the main channel both deliver.
        self.delivering = asyncio.Lock()
        self.priority_channel: str | None = None
        self.awaiting_ack: dict[tuple[str, int], list] = {}
        await self.accept()
        AckWatch.socket_opened()
        self.counted = True
        self.hello_timer = asyncio.get_running_loop().call_later(
            HELLO_TIMEOUT_SECONDS, lambda: asyncio.ensure_future(self._hello_timeout())
        )

    async def _hello_timeout(self) -> None:
        if self.device is None:
            await self._close(CLOSE_UNAUTHENTICATED)

    async def disconnect(self, code: int) -> None:
        await self._release()

    async def _release(self) -> None:
        """Stop the socket's timers and leave its groups; once, however the socket ended."""
        if self.released:
            return
        self.released = True
        if self.hello_timer is not None:
            self.hello_timer.cancel()
        if self.heartbeat is not None:
            self.heartbeat.cancel()
        if self.counted:
            AckWatch.socket_closed()
        await self._close_priority_lane()
        for group in self.groups_joined:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception:
                # The layer is out of reach (Redis restarting). The membership then lapses by
                # the layer's group expiry, and sends to this gone channel are dropped meanwhile.
                logger.info("could not leave %s as the socket closed", group, exc_info=True)
        self.groups_joined = []

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if self.closing:
            return
        self.last_heard = time.monotonic()
        if not self.budget.take():
            await self._over_budget()
            return
        raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
        if len(raw.encode()) > MAX_FRAME_BYTES:
            await self._close(CLOSE_MALFORMED)
            return
        try:
            frame = json.loads(raw)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
            frame = None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self._error("malformed", "Frames are JSON objects with a 'type'.")
            if self.device is None:
                await self._close(CLOSE_MALFORMED)
            return
        if self.device is None:
            await self._hello(frame)
        elif frame["type"] == "ping":
            await self._send({"type": "pong", "server_time": timezone.now().isoformat()})
        elif frame["type"] == "pong":
            pass  # last_heard is already updated
        elif frame["type"] == "ack":
            await self._ack(frame)
        elif frame["type"] == "emergency.start":
            await self._emergency(frame)
        else:
            await self._error("unknown_type", f"Unknown frame type '{frame['type']}'.")

    async def _over_budget(self) -> None:
        if self.budget.flooding:
            await self._close(CLOSE_FLOODING)
            return
        now = time.monotonic()
        if now - self.warned_at >= 1:  # one warning a second, not one per dropped frame
            self.warned_at = now
            await self._error(
                "rate_limited",
                f"Too many frames: at most {frames_per_second():g} a second; extra frames are "
                "dropped, and a flood closes the socket (4429).",
            )

    async def _hello(self, frame: dict) -> None:
        token = frame.get("token")
        # Tokens are ASCII; anything else (a lone surrogate can't even be hashed) is no token.
        if frame["type"] != "hello" or not isinstance(token, str) or not token.isascii():
            await self._close(CLOSE_UNAUTHENTICATED)
            return
        found = await _authenticate(token)
        if found == "revoked":
            await self._close(CLOSE_REVOKED)
            return
        if found is None:
            await self._close(CLOSE_UNAUTHENTICATED)
            return
        user, device, token_id, streams = found
        cursors = frame.get("cursors") or {}
        if not isinstance(cursors, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in cursors.values()
        ):
            await self._close(CLOSE_MALFORMED)
            return
        refused = sorted(set(cursors) - set(streams))
        if refused:
            await self._error("forbidden_stream", f"You may not read {', '.join(refused)}.")
        self.device, self.token_id = device, token_id
        self.hello_timer.cancel()
        for group in [device_group(device.pk), *(group_name(s) for s in streams)]:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        # A revocation that committed between the token check and joining the device's group
        # sent its close to nobody: look once more now that we would hear it.
        standing = await _token_standing(token_id)
        if standing is not None:
            await self._close(standing)
            return
        await self._send(
            {
                "type": "welcome",
                "device": str(device.pk),
                "user": user.pk,
                "streams": streams,
                "server_time": timezone.now().isoformat(),
                "heartbeat_seconds": heartbeat_seconds(),
            }
        )
        ends = await _stream_ends(streams)
        for stream in streams:
            # Below the person's floor is another crew's (sync/access.py): start from there.
            cursor = max(cursors.get(stream, 0), streams.floor(stream))
            self.sent[stream] = await self._starting_point(stream, cursor, ends)
            await self._replay(stream)
        self.heartbeat = asyncio.ensure_future(self._beat())

    async def _starting_point(self, stream: str, cursor: int, ends: dict[str, int]) -> int:
        """A cursor past the stream's end (a device that kept its cursors while the server's
        database was restored) would make every new event look like a duplicate: start from the
        end instead, and say so, so the tablet can pull the stream afresh."""
        end = ends.get(stream, 0)
        if cursor <= end:
            return cursor
        await self._error(
            "cursor_ahead",
            f"Your cursor {stream}:{cursor} is past the last event ({end}); resync that stream.",
        )
        return end

    async def _beat(self) -> None:
        """Ping every interval; a socket silent for two and a half intervals is dead and reaped.
        Every few beats it also re-checks the token, in case a revocation's message was lost."""
        interval = heartbeat_seconds()
        joined_at = time.monotonic()
        # Sockets start at different points of the cycle, so a thousand that reconnected
        # together (a restarted process) don't all read the database on the same beat.
        beats = random.randrange(token_check_beats())
        await self._sync_priority_lane()
        while True:
            await asyncio.sleep(interval)
            if time.monotonic() - joined_at > group_refresh_seconds():
                await self._rejoin()
                joined_at = time.monotonic()
            if time.monotonic() - self.last_heard > interval * 2.5:
                await self._close(CLOSE_SILENT)
                return
            beats += 1
            # The token and the streams its person may read now, read together every few beats
            # (revocation and deactivation also close the socket at once, over the device group).
            if beats % token_check_beats() == 0 and (
                await self._token_lapsed() or await self._follow_stream_changes()
            ):
                return
            await self._sync_priority_lane()  # a stream opened or closed since the last beat
            await self._send({"type": "ping", "server_time": timezone.now().isoformat()})

    async def _follow_stream_changes(self) -> bool:
        """Leave the streams the person may no longer read, and join the ones they now may (a
        responder signed on to another unit); whether that closed the socket (a deactivated
        person reads nothing)."""
        allowed = await _streams_allowed_now(self.token_id)
        if not allowed:  # deactivated (every person reads at least their own stream)
            await self._close(CLOSE_UNAUTHENTICATED)
            return True
        for stream in [s for s in self.sent if s not in allowed]:
            del self.sent[stream]  # feed_event drops what isn't in `sent`, before any await
            group = group_name(stream)
            if group in self.groups_joined:
                self.groups_joined.remove(group)
                await self.channel_layer.group_discard(group, self.channel_name)
            await self._error("stream_closed", f"You may no longer read {stream}.")
        for stream in sorted(set(allowed) - set(self.sent)):
            # As a hello without a cursor for it: from the start of what the person may read
            # (their floor on a unit they just joined). `sent` first, so a live event arriving
            # while joining finds its gap replayed.
            self.sent[stream] = allowed.floor(stream)
            group = group_name(stream)
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
            await self._send({"type": "stream_opened", "stream": stream})
            await self._replay(stream)
        return False

    async def _token_lapsed(self) -> bool:
        """Read the token again; close the socket (and say so) if it no longer stands."""
        standing = await _token_standing(self.token_id)
        if standing is not None:
            await self._close(standing)
        return standing is not None

    async def _rejoin(self) -> None:
        """Join every group again (resetting the layer's expiry), then send whatever a lapsed
        membership may have missed meanwhile."""
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self._sync_priority_lane(refresh=True)
        for stream in list(self.sent):
            await self._replay(stream)

    async def _ack(self, frame: dict) -> None:
        stream, seq = frame.get("stream"), frame.get("seq")
        if not isinstance(stream, str) or stream not in self.sent:
            await self._error("forbidden_stream", f"You don't read {stream!r}; nothing to ack.")
            return
        if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= self.sent[stream]:
            await self._error(
                "bad_ack", f"Ack a seq you were sent on {stream}: 1 to {self.sent[stream]}."
            )
            return
        # Stored beside delivery, never in front of it: by the ack writer over Redis, or by this
        # process's own writer task (server.sync.ack_stream).
        submit_ack(self.device, stream, seq, self._refused_ack)
        self._priority_acked(stream, seq)

    async def _emergency(self, frame: dict) -> None:
        """Run the emergency command; answer with the emergency or the REST door's error code.
        A bad frame is answered, never closes the socket: the tablet falls back to HTTP."""
        ref = frame.get("id") if isinstance(frame.get("id"), str) else None
        data = {key: value for key, value in frame.items() if key != "type"}
        try:
            emergency = await _start_emergency(self.token_id, data)
        except SocketRefused as exc:
            await self._error(exc.code, exc.message, ref=ref)
            await self._close(exc.close_code)
            return
        except CareFieldError as exc:
            await self._error(exc.code, exc.detail, ref=ref, fields=exc.fields or None)
            return
        except (OperationalError, InterfaceError):
            logger.warning("database unavailable for an emergency frame", exc_info=True)
            await self._error(
                "database_unavailable",
                "The server lost its database for a moment; the emergency may not have been "
                "saved. Send it again.",
                ref=ref,
            )
            return
        except Exception:  # never a crashed socket: the tablet still has HTTP and its queue
            logger.exception("emergency frame failed")
            await self._error(
                "server_error", "Something went wrong on the server; send it again.", ref=ref
            )
            return
        await self._send(
            {"type": "emergency.accepted", "id": emergency["id"], "emergency": emergency}
        )

    async def _refused_ack(self, detail: str) -> None:
        await self._error("bad_ack", detail)

    async def _replay(self, stream: str, upto: int | None = None) -> None:
        """Everything after what was sent (up to `upto`), a batch at a time, however far behind."""
        async with self.delivering:
            await self._replay_unlocked(stream, upto)

    async def _replay_unlocked(self, stream: str, upto: int | None = None) -> None:
        while True:
            batch = await _events_after(stream, self.sent[stream], upto)
            for event in batch:
                text = json.dumps({"type": "event", **event}, default=str)
                await self._send_event(stream, event["seq"], event["kind"], text)
            if len(batch) < REPLAY_BATCH:
                return

    async def feed_event(self, message: dict) -> None:
        """A live event, from the main channel or the priority lane, whichever brings it first:
        sent once, in seq order (a gap is replayed from the database first)."""
        stream, seq, kind, text = _event_parts(message)
        async with self.delivering:
            if stream not in self.sent or seq <= self.sent[stream]:
                return
            if seq > self.sent[stream] + 1:
                await self._replay_unlocked(stream, upto=seq - 1)
            await self._send_event(stream, seq, kind, text)

    async def _send_event(self, stream: str, seq: int, kind: str, text: str) -> None:
        await self._send_text(text)
        if stream in self.sent:  # not a stream the socket left while this frame went out
            self.sent[stream] = seq
        if is_priority(kind):
            self._await_ack(stream, seq, text)

    # ---- the priority lane: emergencies and backups ----------------------------------------

    async def _sync_priority_lane(self, refresh: bool = False) -> None:
        """Listen to the priority groups of the streams the socket reads, on a channel of its own
        (opened on first use), so an emergency never waits behind the routine events queued on
        the socket's main channel. `refresh` joins them all again (the layer's group expiry)."""
        if self.closing or self.released:
            return
        if self.priority_channel is None:
            self.priority_channel = await self.channel_layer.new_channel()
            self.priority_task = asyncio.ensure_future(self._priority_lane())
        wanted = frozenset(priority_group_name(stream) for stream in self.sent)
        joining = wanted if refresh else wanted - self.priority_groups
        leaving = self.priority_groups - wanted
        self.priority_groups = wanted
        for group in sorted(joining):
            await self.channel_layer.group_add(group, self.priority_channel)
        for group in sorted(leaving):
            await self.channel_layer.group_discard(group, self.priority_channel)
        if self.released:  # the socket ended while joining: leave what was just joined
            await self._close_priority_lane()

    async def _priority_lane(self) -> None:
        try:
            while True:
                message = await self.channel_layer.receive(self.priority_channel)
                if message.get("type") == "feed.event":
                    await self.feed_event(message)
        except (OSError, RedisError):
            # The layer is lost; the main channel closes the socket (4503) or catches up.
            logger.info("priority lane closed: channel layer lost", exc_info=True)

    async def _close_priority_lane(self) -> None:
        for task in (self.priority_task, self.resender):
            if task is not None:
                task.cancel()
        groups, self.priority_groups = self.priority_groups, frozenset()
        for group in groups:
            try:
                await self.channel_layer.group_discard(group, self.priority_channel)
            except Exception:  # out of reach: the membership lapses by the layer's expiry
                logger.info("could not leave %s as the socket closed", group, exc_info=True)

    def _await_ack(self, stream: str, seq: int, text: str) -> None:
        """Keep a priority frame until the device acks it (acks are cumulative per stream)."""
        self.awaiting_ack[(stream, seq)] = [text, 0]
        if self.resender is None or self.resender.done():
            self.resender = asyncio.ensure_future(self._resend_until_acked())

    def _priority_acked(self, stream: str, seq: int) -> None:
        for key in [k for k in self.awaiting_ack if k[0] == stream and k[1] <= seq]:
            del self.awaiting_ack[key]

    async def _resend_until_acked(self) -> None:
        """Send each unacked priority frame again every few seconds (the device drops a seq it
        has and acks it again), up to `priority_resends()` times."""
        while self.awaiting_ack and not self.closing:
            await asyncio.sleep(priority_resend_seconds())
            for key in sorted(self.awaiting_ack):
                entry = self.awaiting_ack.get(key)
                if entry is None:  # acked meanwhile
                    continue
                if entry[1] >= priority_resends():
                    del self.awaiting_ack[key]
                    continue
                entry[1] += 1
                await self._send_text(entry[0])

    async def feed_layer_restored(self, message: dict) -> None:
        """The pub/sub layer's Redis came back (server.feed.layer): what was published while it
        was away never arrived. The memberships survived (they live in this process), so the
        socket catches up from the database in place; no reconnect storm after a failover."""
        for stream in list(self.sent):
            await self._replay(stream)

    async def device_closed(self, message: dict) -> None:
        """The device was revoked or signed out (server.feed.services.close_device_sockets)."""
        if message.get("token") in (None, self.token_id):
            await self._close(message["code"])

    async def _close(self, code: int) -> None:
        if not self.closing:  # frames already in flight must not close it twice
            self.closing = True
            await self.close(code=code)

    async def _error(self, code: str, message: str, **extra) -> None:
        """An error frame; `extra` (the frame's `ref`, its `fields`) only where it has a value."""
        frame = {"type": "error", "code": code, "message": message}
        frame.update({key: value for key, value in extra.items() if value is not None})
        await self._send(frame)

    async def _send(self, frame: dict) -> None:
        await self._send_text(json.dumps(frame, default=str))

    async def _send_text(self, text: str) -> None:
        try:
            await self.send(text_data=text)
        except Exception:
            # The device hung up while this frame was on its way (Daphne: autobahn's
            # Disconnected). Its disconnect message is queued behind this one and cleans up
            # (groups, heartbeat); crashing here would skip that and leave the groups behind.
            logger.debug("send to a socket that has gone", exc_info=True)
            self.closing = True
