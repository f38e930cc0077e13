"""The feed's Redis pub/sub channel layer: channels_redis' own, told when Redis comes back.

channels_redis' pub/sub layer subscribes again by itself after Redis restarts or fails over, and
says nothing: whatever was published while the connection was down is gone, and a socket that
missed it would show stale data until its stream's next event revealed the gap. This layer puts
one `feed.layer_restored` message on every channel of the process when a subscription connection
comes back; the feed's sockets then send what they missed from the database (the feed's events
are the truth, the layer only says "look"). Group memberships live in the process and survive.

Settings: `CARE_CHANNEL_LAYER=pubsub` (the default with `REDIS_URL`; `docs/deployment.md`).
"""

from __future__ import annotations

import asyncio
from typing import Any

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
