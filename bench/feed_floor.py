"""The floor for the feed benchmark: a minimal websocket server built on the `websockets` library
that speaks just enough of `/ws/feed/` (hello -> welcome, ping -> pong, event frames) and does no
authentication, database or channel layer work.

A control socket sends `{"type": "bench.send", "streams": [...]}` (one event to the socket holding
each stream) or `{"type": "bench.broadcast"}` (one event to every socket, with
`websockets.broadcast`). Send times go to the commit log in the same format as bench/feed_asgi.py.

    python bench/feed_floor.py PORT COMMIT_LOG [SECONDS]
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time

from websockets.asyncio.server import broadcast, serve

PAYLOAD = {  # about the size of a real assignment.dispatched event's data
    "assignment": {"id": "00000000-0000-0000-0000-000000000000", "status": "dispatched"},
    "incident": {
        "cad_number": "BENCH-000000000000",
        "call_type": "DOWN - CHECK FOR DOWN PERSON",
        "address": "1st Ave & Pike St",
        "latitude": 47.6097,
        "longitude": -122.3422,
        "priority": 3,
    },
    "partners": [{"unit": 0, "call_sign": "BENCH-S0000", "kind": "spd", "status": "dispatched"}],
}


class Floor:
    def __init__(self, commit_log: str):
        self.log = open(commit_log, "a", buffering=1)  # noqa: SIM115
        self.by_stream: dict[str, object] = {}
        self.feed_sockets: set = set()
        self.seqs: dict[str, itertools.count] = {}

    def _frame(self, stream: str, kind: str) -> tuple[str, int]:
        seq = next(self.seqs.setdefault(stream, itertools.count(1)))
        frame = {"type": "event", "stream": stream, "seq": seq, "kind": kind, "data": PAYLOAD}
        return json.dumps(frame), seq

    def _note(self, stream: str, seq: int) -> None:
        self.log.write(f"{stream} {seq} {time.time():.6f}\n")

    async def handle(self, ws) -> None:
        async for raw in ws:
            frame = json.loads(raw)
            kind = frame.get("type")
            if kind == "hello":
                streams = frame["token"].split(",")
                for stream in streams:
                    self.by_stream[stream] = ws
                self.feed_sockets.add(ws)
                await ws.send(json.dumps({"type": "welcome", "streams": streams}))
            elif kind == "ping":
                await ws.send(json.dumps({"type": "pong", "server_time": time.time()}))
            elif kind == "bench.send":
                for stream, event_kind in frame["streams"]:
                    text, seq = self._frame(stream, event_kind)
                    self._note(stream, seq)
                    target = self.by_stream.get(stream)
                    if target is not None:
                        await target.send(text)
            elif kind == "bench.broadcast":
                text, seq = self._frame("directory", "directory.updated")
                self._note("directory", seq)
                broadcast(self.feed_sockets, text)
        self.feed_sockets.discard(ws)


async def main(port: int, commit_log: str, seconds: float) -> None:
    floor = Floor(commit_log)
    async with serve(floor.handle, "127.0.0.1", port, max_queue=None):
        print("listening", flush=True)
        await asyncio.sleep(seconds)  # bounded: the server stops by itself


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], float(sys.argv[3]) if sys.argv[3:] else 600))
