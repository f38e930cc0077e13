"""Channel layer fan-out: what one group_send costs with N sockets' channels in the process.

Each of N channels stands for one socket: it is in a group of its own (`unit:<id>`) and in one
shared group (`directory`), and a task waits on it as a consumer does. Then:

* targeted: --sends group_sends, each to one socket's own group, one after another; latency
  send -> received, and the process's CPU per send;
* broadcast: --broadcasts group_sends to the shared group; time until the last of the N
  channels has the message, and CPU per broadcast.

Layers: Channels' in-memory layer, channels_redis' core layer (RedisChannelLayer) and its pub/sub
layer (RedisPubSubChannelLayer), on --redis under a prefix of their own.

    .venv/bin/python bench/layer_fanout.py --sockets 1,100,1000,3000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from pathlib import Path

from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer


def make_layer(kind: str, redis_url: str):
    prefix = f"fanout-bench-{os.getpid()}"
    if kind == "memory":
        return InMemoryChannelLayer(capacity=1500, expiry=30)
    if kind == "core":
        return RedisChannelLayer(hosts=[redis_url], prefix=prefix, capacity=1500, expiry=30)
    return RedisPubSubChannelLayer(hosts=[redis_url], prefix=prefix)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]


async def run(kind: str, n: int, args) -> dict:
    layer = make_layer(kind, args.redis)
    channels = [await layer.new_channel() for _ in range(n)]
    for i, channel in enumerate(channels):
        await layer.group_add(f"unit.{i}", channel)
        await layer.group_add("directory", channel)
    arrivals: dict[int, list[float]] = {}

    async def consume(channel: str) -> None:
        while True:
            message = await layer.receive(channel)
            arrivals.setdefault(message["n"], []).append(time.perf_counter())

    tasks = [asyncio.create_task(consume(c)) for c in channels]
    await asyncio.sleep(0.5)
    sent: dict[int, float] = {}

    async def settle(number: int, expected: int) -> None:
        deadline = time.perf_counter() + 30
        while len(arrivals.get(number, [])) < expected and time.perf_counter() < deadline:
            await asyncio.sleep(0.0005)

    cpu0 = time.process_time()
    for k in range(args.sends):
        sent[k] = time.perf_counter()
        await layer.group_send(f"unit.{random.randrange(n)}", {"type": "feed.event", "n": k})
        await settle(k, 1)
    targeted_cpu = (time.process_time() - cpu0) / args.sends
    targeted = [(arrivals[k][0] - sent[k]) * 1000 for k in range(args.sends) if k in arrivals]

    cpu0 = time.process_time()
    broadcast_last, lost = [], 0
    for b in range(args.broadcasts):
        k = 10_000_000 + b
        sent[k] = time.perf_counter()
        await layer.group_send("directory", {"type": "feed.event", "n": k})
        await settle(k, n)
        got = arrivals.get(k, [])
        lost += n - len(got)
        if got:
            broadcast_last.append((max(got) - sent[k]) * 1000)
    broadcast_cpu = (time.process_time() - cpu0) / args.broadcasts

    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for i, channel in enumerate(channels):
        await layer.group_discard(f"unit.{i}", channel)
        await layer.group_discard("directory", channel)
    if kind != "memory":
        await layer.flush()
    return {
        "layer": kind,
        "sockets": n,
        "targeted_frames": f"{len(targeted)}/{args.sends}",
        "targeted_p50_ms": statistics.median(targeted) if targeted else None,
        "targeted_p99_ms": pct(targeted, 99) if targeted else None,
        "targeted_cpu_ms": targeted_cpu * 1000,
        "broadcast_all_in_p50_ms": statistics.median(broadcast_last) if broadcast_last else None,
        "broadcast_all_in_max_ms": max(broadcast_last) if broadcast_last else None,
        "broadcast_lost": lost,
        "broadcast_cpu_ms": broadcast_cpu * 1000,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sockets", default="1,100,1000,3000")
    p.add_argument("--layers", default="memory,core,pubsub")
    p.add_argument("--sends", type=int, default=200)
    p.add_argument("--broadcasts", type=int, default=10)
    p.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/6"))
    args = p.parse_args()
    print(f"# layer fan-out {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"load {Path('/proc/loadavg').read_text().split()[:3]}")  # fmt: skip
    print("| layer | sockets | targeted got | p50 ms | p99 ms | CPU/send ms "
          "| broadcast all-in p50 ms | max ms | lost | CPU/broadcast ms |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in [int(x) for x in args.sockets.split(",")]:
        for kind in args.layers.split(","):
            r = asyncio.run(run(kind, n, args))
            print(
                f"| {kind} | {n} | {r['targeted_frames']} | {r['targeted_p50_ms']:.2f} "
                f"| {r['targeted_p99_ms']:.2f} | {r['targeted_cpu_ms']:.2f} "
                f"| {r['broadcast_all_in_p50_ms']:.1f} | {r['broadcast_all_in_max_ms']:.1f} "
                f"| {r['broadcast_lost']} | {r['broadcast_cpu_ms']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
