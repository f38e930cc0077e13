"""The device side of the feed benchmark: one asyncio process holding many `/ws/feed/` sockets.

Each socket says hello with its token and cursors, waits for welcome, then heartbeats with `ping`
frames at a random phase, acks events (like the tablet does) and writes down when each event frame
arrived (a device whose spec says `ack_every: S` acks cumulatively instead: the highest seq of
each stream, every S seconds). It prints `ready <n>` once every socket has its welcome, and stops
on `stop` from stdin or after --max-seconds, whichever comes first, then writes
`socket stream seq kind unix_time` lines.

    python bench/feed_client.py --urls ws://127.0.0.1:8000/ws/feed/ --devices devices.json \
        --out received.txt
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time

from websockets.asyncio.client import connect

CONNECT_AT_ONCE = 25


class Device:
    def __init__(
        self, index: int, url: str, token: str, cursors: dict[str, int], args, ack_every=0.0
    ):
        self.index, self.url, self.token, self.cursors = index, url, token, cursors
        self.args = args
        self.ack_every = ack_every
        self.highest: dict[str, int] = {}
        self.received: list[tuple[int, str, int, str, float]] = []
        self.ws = None
        self.failed = ""

    async def open(self, gate: asyncio.Semaphore) -> None:
        async with gate:
            try:
                self.ws = await connect(
                    self.url, max_queue=None, ping_interval=None, open_timeout=30
                )
                hello = {
                    "type": "hello",
                    "token": self.token,
                    "cursors": self.cursors,
                    "client_time": time.time(),
                }
                await self.ws.send(json.dumps(hello))
                while True:
                    frame = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
                    if frame.get("type") == "welcome":
                        return
                    if frame.get("type") != "event":
                        self.failed = f"before welcome: {frame}"
                        return
            except Exception as exc:  # counted and reported, not fatal
                self.failed = f"{type(exc).__name__}: {exc}"

    async def listen(self) -> None:
        try:
            async for raw in self.ws:
                now = time.time()
                frame = json.loads(raw)
                kind = frame.get("type")
                if kind == "event":
                    stream, seq = frame["stream"], frame["seq"]
                    self.received.append((self.index, stream, seq, frame.get("kind", ""), now))
                    if self.args.ack and self.ack_every:
                        self.highest[stream] = max(seq, self.highest.get(stream, 0))
                    elif self.args.ack:
                        await self.ws.send(
                            json.dumps({"type": "ack", "stream": stream, "seq": seq})
                        )
                elif kind == "ping":  # a server heartbeat, if the server sends one
                    await self.ws.send(json.dumps({"type": "pong", "client_time": now}))
        except Exception as exc:  # the socket died: say why
            self.failed = self.failed or f"{type(exc).__name__}: {exc}"

    async def ack_now_and_then(self) -> None:
        """Cumulative acks: the highest seq stored per stream, every `ack_every` seconds."""
        acked: dict[str, int] = {}
        while True:
            await asyncio.sleep(self.ack_every)
            for stream, seq in list(self.highest.items()):
                if seq > acked.get(stream, 0):
                    try:
                        await self.ws.send(
                            json.dumps({"type": "ack", "stream": stream, "seq": seq})
                        )
                    except Exception:  # the listener records why the socket died
                        return
                    acked[stream] = seq

    async def heartbeat(self) -> None:
        interval = self.args.ping_interval
        await asyncio.sleep(random.uniform(0, interval))
        while True:
            try:
                await self.ws.send(json.dumps({"type": "ping", "client_time": time.time()}))
            except Exception:  # the listener records why the socket died
                return
            await asyncio.sleep(interval)


async def _stop_signal(max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    reader = loop.run_in_executor(None, sys.stdin.readline)
    try:
        await asyncio.wait_for(reader, max_seconds)
    except TimeoutError:
        print("max-seconds reached", file=sys.stderr, flush=True)


async def main(args) -> None:
    with open(args.devices) as f:
        specs = json.load(f)
    urls = args.urls.split(",")
    devices = [
        Device(
            i, urls[i % len(urls)], spec["token"], spec["cursors"], args, spec.get("ack_every", 0)
        )
        for i, spec in enumerate(specs)
    ]
    started = time.monotonic()
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    tasks: list[asyncio.Task] = []

    async def open_and_serve(device: Device) -> None:
        # Each socket answers and sends heartbeats from its welcome on, as a tablet does: the
        # first of 3,000 sockets would otherwise sit silent while the rest connect, and the
        # server reaps a socket silent for 2.5 heartbeats (4408).
        await device.open(gate)
        if device.failed:
            return
        tasks.append(asyncio.create_task(device.listen()))
        if args.ping_interval > 0:
            tasks.append(asyncio.create_task(device.heartbeat()))
        if args.ack and device.ack_every:
            tasks.append(asyncio.create_task(device.ack_now_and_then()))

    await asyncio.gather(*(open_and_serve(d) for d in devices))
    live = [d for d in devices if not d.failed]
    print(f"ready {len(live)} {time.monotonic() - started:.1f}", flush=True)
    await _stop_signal(args.max_seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(d.ws.close() for d in live), return_exceptions=True)
    with open(args.out, "w") as out:
        for d in devices:
            for index, stream, seq, kind, at in d.received:
                out.write(f"{index} {stream} {seq} {kind} {at:.6f}\n")
    failures = [d.failed for d in devices if d.failed]
    which = [d.index for d in devices if d.failed][:10]
    said = f": {failures[0]} (sockets {which})" if failures else ""
    print(f"done {len(failures)} failed{said}", flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--urls", required=True, help="comma-separated; sockets spread round-robin")
    p.add_argument("--devices", required=True, help="JSON list of {token, cursors}")
    p.add_argument("--out", required=True)
    p.add_argument("--ping-interval", type=float, default=10.0)
    p.add_argument("--no-ack", dest="ack", action="store_false")
    p.add_argument("--max-seconds", type=float, default=300.0)
    return p.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
