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

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._swept_at >= self.SWEEP_SECONDS:
            self._swept_at = now
            super()._clean_expired()

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        self._put(channel, message)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            with contextlib.suppress(ChannelFull):  # as the parent: a full channel misses it
                self._put(channel, message)

    def _put(self, channel: str, message: dict[str, Any]) -> None:
        queue = self.channels.setdefault(channel, asyncio.Queue(maxsize=self.get_capacity(channel)))
        try:
            queue.put_nowait((time.time() + self.expiry, message))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None
