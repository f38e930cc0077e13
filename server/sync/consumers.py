"""`/ws/feed/`: the live half of the change feed.

The socket is the fast path; the database is the truth. After `hello` the consumer joins the
stream groups, replays from the database everything after the device's cursors, then forwards live
events. It keeps the last seq it sent per stream: a live event at or below it is a duplicate and
is dropped; one beyond the next number means the layer lost something, so it replays the gap from
the database first.
"""

from __future__ import annotations

import asyncio
import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils import timezone

from server.accounts.models import DeviceToken
from server.sync.access import readable_streams
from server.sync.models import Event
from server.sync.services import group_name

logger = logging.getLogger(__name__)

HELLO_TIMEOUT_SECONDS = 10
MAX_FRAME_BYTES = 64 * 1024
CLOSE_MALFORMED, CLOSE_UNAUTHENTICATED, CLOSE_REVOKED = 4400, 4401, 4403


@database_sync_to_async
def _authenticate(key: str):
    """(user, device, streams) for a live token; 'revoked' for a revoked device; else None."""
    token = (
        DeviceToken.objects.select_related("device", "device__user", "device__user__unit")
        .filter(key_hash=DeviceToken.hash(key))
        .first()
    )
    if token is None:
        return None
    if token.device.revoked_at:
        return "revoked"
    if token.revoked_at or token.expires_at <= timezone.now():
        return None
    user = token.device.user
    return user, token.device, readable_streams(user)


@database_sync_to_async
def _events_after(stream: str, seq: int, upto: int | None = None) -> list[dict]:
    events = Event.objects.filter(stream_id=stream, seq__gt=seq).order_by("seq")
    if upto is not None:
        events = events.filter(seq__lte=upto)
    return [e.as_frame() for e in events[:5000]]


class FeedConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        self.device = None
        self.sent: dict[str, int] = {}
        self.groups_joined: list[str] = []
        await self.accept()
        self.hello_timer = asyncio.get_running_loop().call_later(
            HELLO_TIMEOUT_SECONDS, lambda: asyncio.ensure_future(self._hello_timeout())
        )

    async def _hello_timeout(self) -> None:
        if self.device is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)

    async def disconnect(self, code: int) -> None:
        self.hello_timer.cancel()
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        raw = text_data if text_data is not None else (bytes_data or b"").decode("utf-8", "replace")
        if len(raw.encode()) > MAX_FRAME_BYTES:
            await self.close(code=CLOSE_MALFORMED)
            return
        try:
            frame = json.loads(raw)
        except ValueError:
            frame = None
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self._error("malformed", "Frames are JSON objects with a 'type'.")
            if self.device is None:
                await self.close(code=CLOSE_MALFORMED)
            return
        if self.device is None:
            await self._hello(frame)
        elif frame["type"] == "ping":
            await self._send({"type": "pong", "server_time": timezone.now().isoformat()})
        elif frame["type"] == "ack":
            pass  # delivery receipts are recorded by the live-feed work
        else:
            await self._error("unknown_type", f"Unknown frame type '{frame['type']}'.")

    async def _hello(self, frame: dict) -> None:
        if frame["type"] != "hello" or not isinstance(frame.get("token"), str):
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        found = await _authenticate(frame["token"])
        if found == "revoked":
            await self.close(code=CLOSE_REVOKED)
            return
        if found is None:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        user, device, streams = found
        cursors = frame.get("cursors") or {}
        if not isinstance(cursors, dict) or not all(
            isinstance(v, int) and v >= 0 for v in cursors.values()
        ):
            await self.close(code=CLOSE_MALFORMED)
            return
        refused = sorted(set(cursors) - set(streams))
        if refused:
            await self._error("forbidden_stream", f"You may not read {', '.join(refused)}.")
        self.device = device
        self.hello_timer.cancel()
        for stream in streams:
            group = group_name(stream)
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await self._send(
            {
                "type": "welcome",
                "device": str(device.pk),
                "user": user.pk,
                "streams": streams,
                "server_time": timezone.now().isoformat(),
            }
        )
        for stream in streams:
            self.sent[stream] = int(cursors.get(stream, 0))
            await self._replay(stream)

    async def _replay(self, stream: str, upto: int | None = None) -> None:
        for event in await _events_after(stream, self.sent[stream], upto):
            await self._send({"type": "event", **event})
            self.sent[stream] = event["seq"]

    async def feed_event(self, message: dict) -> None:
        event = message["event"]
        stream, seq = event["stream"], event["seq"]
        if stream not in self.sent or seq <= self.sent[stream]:
            return
        if seq > self.sent[stream] + 1:
            await self._replay(stream, upto=seq - 1)
        await self._send({"type": "event", **event})
        self.sent[stream] = seq

    async def _error(self, code: str, message: str) -> None:
        await self._send({"type": "error", "code": code, "message": message})

    async def _send(self, frame: dict) -> None:
        await self.send(text_data=json.dumps(frame, default=str))
