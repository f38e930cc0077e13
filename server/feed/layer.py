"""The feed's Redis pub/sub channel layer: channels_redis' own, told when Redis comes back.

channels_redis' pub/sub layer subscribes again by itself after Redis restarts or fails over, and
says nothing: whatever was published while the connection was down is gone, and a socket that
missed it would show stale data until its stream's next event revealed the gap. This layer puts
one `feed.layer_restored` message on every channel of the process when a subscription connection
comes back; the feed's sockets then send what they missed from the database (the feed's events
are the truth, the layer only says "look"). Group memberships live in the process and survive.

Settings: `CARE_CHANNEL_LAYER=pubsub` (the default with `REDIS_URL`; `docs/deployment.md`).
Without `REDIS_URL`, `FeedInMemoryLayer` below: Channels' in-memory layer without its per-send
sweep of every channel.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
    _wrap_close,  # closes a loop's layer with its loop, as the parent's _get_layer does
)
from channels_redis.utils import create_pool
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

LAYER_RESTORED = {"type": "feed.layer_restored"}


class _TellingPubSub(PubSub):
    """redis-py's subscription connection, which resubscribes on every reconnection; this one
    then tells the layer's consumers that what was published meanwhile never came."""

    def __init__(self, *args: Any, loop_layer: _LoopLayer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loop_layer = loop_layer

    async def on_connect(self, connection: Any) -> None:
        # Called on every connect; with channels already subscribed it is a reconnection.
        was_subscribed = bool(self.channels or self.patterns)
        await super().on_connect(connection)
        if was_subscribed:
            self.loop_layer.tell_every_channel(LAYER_RESTORED)


class _Shard(RedisSingleShardConnection):
    def _ensure_redis(self) -> None:
        if self._redis is None:
            self._redis = Redis(connection_pool=create_pool(self.host))
            self._pubsub = _TellingPubSub(
                self._redis.connection_pool, loop_layer=self.channel_layer
            )


class _LoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._shards = [_Shard(shard.host, self) for shard in self._shards]

    def tell_every_channel(self, message: dict[str, Any]) -> None:
        """Queue `message` for every consumer of this process (they are all in this loop)."""
        data = self.channel_layer.serialize(message)
        for queue in list(self.channels.values()):
            queue.put_nowait(data)


class ReconnectAwarePubSubLayer(RedisPubSubChannelLayer):
    """`channels_redis.pubsub.RedisPubSubChannelLayer`, with `_LoopLayer` per event loop."""

    def _get_layer(self) -> RedisPubSubLoopLayer:
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = _LoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
        return layer


class Mailbox:
    """A channel's messages, for the in-memory layer: the part of `asyncio.Queue` the layer uses
    (and its parent's expiry sweep reads: `_queue`, `empty`, `get_nowait`). An `asyncio.Queue`
    is four deques and an Event, about 2.8 KiB, and every socket holds two channels (its own and
    the priority lane's) waiting: this is one deque and a list of the receivers waiting."""

    __slots__ = ("_queue", "_waiters", "maxsize")

    def __init__(self, maxsize: int = 0) -> None:
        self._queue: collections.deque = collections.deque()
        self._waiters: list[asyncio.Future] = []
        self.maxsize = maxsize

    def empty(self) -> bool:
        return not self._queue

    def qsize(self) -> int:
        return len(self._queue)

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self._queue)

    def put_nowait(self, item: Any) -> None:
        if self.full():
            raise asyncio.QueueFull
        self._queue.append(item)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
                break

    def get_nowait(self) -> Any:
        if not self._queue:
            raise asyncio.QueueEmpty
        return self._queue.popleft()

    async def get(self) -> Any:
        while not self._queue:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                # Cancelled after being woken: hand the wake-up to the next receiver waiting.
                if waiter.done() and not waiter.cancelled() and self._queue:
                    self._waiters.remove(waiter)
                    for other in self._waiters:
                        if not other.done():
                            other.set_result(None)
                            break
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        return self._queue.popleft()


class FeedInMemoryLayer(InMemoryChannelLayer):
    """Channels' in-memory layer (one process: `make run`, the tests), made to scale with the
    sockets of a broadcast rather than their square.

    The parent sweeps every channel and group for expired messages on every send, receive and
    group send, copies each message once per member, and starts a task per member of a group
    send: at 100 sockets on one unit each event cost 100 sweeps of every channel. Here the sweep
    runs at most once a second (a dead channel still leaves its groups when its messages expire),
    a group send puts the message on each member's queue directly, and the message is shared:
    the feed's messages are built once per publish and only read by the sockets."""

    SWEEP_SECONDS = 1.0
    _swept_at = 0.0
    _loop: asyncio.AbstractEventLoop | None = None  # the receivers' loop: the server's

    def _receivers_loop_if_elsewhere(self) -> asyncio.AbstractEventLoop | None:
        """The receivers' loop when this send runs on another one (`async_to_sync` in a thread
        the server did not start makes a loop of its own): the mailboxes are the receivers'
        loop's, not safe to touch from another thread, and a waiter woken from there is not
        run until that loop next stirs."""
        loop = self._loop
        if loop is None or loop is asyncio.get_running_loop() or not loop.is_running():
            return None
        return loop

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept_at >= self.SWEEP_SECONDS:
            self._swept_at = now
            super()._clean_expired()

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        if loop := self._receivers_loop_if_elsewhere():
            await _on(loop, self.send(channel, message))
            return
        self._put(channel, message)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        if loop := self._receivers_loop_if_elsewhere():
            await _on(loop, self.group_send(group, message))
            return
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            with contextlib.suppress(ChannelFull):  # as the parent: a full channel misses it
                self._put(channel, message)

    async def receive(self, channel: str) -> dict[str, Any]:
        """The parent's receive, without making (and throwing away) a queue on every call."""
        self.require_valid_channel_name(channel)
        self._loop = asyncio.get_running_loop()
        self._clean_expired()
        queue = self._queue(channel)
        try:
            _, message = await queue.get()
        finally:
            if queue.empty():
                self.channels.pop(channel, None)
        return message

    def _queue(self, channel: str) -> Mailbox:
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = Mailbox(self.get_capacity(channel))
        return queue

    def _put(self, channel: str, message: dict[str, Any]) -> None:
        # Not `setdefault(channel, Queue())`: that made a queue for every member of every send.
        queue = self._queue(channel)
        try:
            queue.put_nowait((time.time() + self.expiry, message))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None


async def _on(loop: asyncio.AbstractEventLoop, coroutine: Any) -> None:
    """Run `coroutine` on `loop` (another thread's) and wait for it here."""
    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, loop))
