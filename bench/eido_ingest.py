"""CAD ingest: EIDO documents posted to one Daphne process on PostgreSQL.

Two figures (docs/benchmarks.md):

* sustained ingest: --documents new calls posted by --concurrency clients as fast as they are
  answered; documents per second over the whole run;
* document received -> dispatch board frame: --rate documents a second for --duration seconds
  while a dispatch console's socket listens on the `dispatch` stream; the time from starting
  each POST to the `incident.created` frame for that call arriving (one machine, one clock).

The documents are the replay's (server/interop/replay.py): a generated demo day's rows, renumbered
so every one is a new call. The bench makes and drops its own database.

    .venv/bin/python bench/eido_ingest.py --documents 1000 --concurrency 8 --rate 10 --duration 30
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
import websocket

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.feed_latency import (  # noqa: E402 - after the path is set
    PY,
    drop_database,
    free_port,
    prepare_database,
    server_env,
    setup_django,
    time_in,
    wait_for_port,
)


def documents(count: int, tag: str) -> list[dict]:
    from server.interop.replay import demo_day, row_to_eido

    day = datetime.date.today() - datetime.timedelta(days=1)
    rows = list(demo_day(day, seed=11))
    out = []
    for i in range(count):
        row = dict(rows[i % len(rows)])
        row["CAD Event Number"] = f"{tag}{i:07d}"
        out.append(row_to_eido(row))
    return out


def credentials() -> tuple[str, str]:
    """A CAD key, and a dispatcher's device token for the board's socket."""
    import secrets

    from server.accounts.models import Device, DeviceToken, Role, User
    from server.accounts.system_clients import create_system_client

    _, key = create_system_client(actor=None, kind="cad", name=f"bench CAD {secrets.token_hex(3)}")
    user, _ = User.objects.get_or_create(
        username="bench-dispatcher", defaults={"role": Role.DISPATCHER}
    )
    device = Device.objects.create(user=user, name="eido benchmark console")
    token = secrets.token_urlsafe(32)
    DeviceToken.objects.create(
        device=device, key_hash=DeviceToken.hash(token), expires_at=time_in(hours=2)
    )
    return key, token


class Board:
    """The dispatch console's socket: records when each call's `incident.created` frame lands."""

    def __init__(self, url: str, token: str):
        from server.feed.models import Stream

        last = Stream.objects.filter(name="dispatch").values_list("last_seq", flat=True).first()
        self.ws = websocket.create_connection(url, timeout=30)
        hello = {"type": "hello", "token": token, "cursors": {"dispatch": last or 0}}
        self.ws.send(json.dumps(hello | {"client_time": time.time()}))
        while json.loads(self.ws.recv()).get("type") != "welcome":
            pass
        self.arrived: dict[str, float] = {}
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        while True:
            try:
                frame = json.loads(self.ws.recv())
            except Exception:
                return
            now = time.monotonic()
            if frame.get("type") == "event" and frame.get("kind") == "incident.created":
                self.arrived.setdefault(frame["data"]["cad_number"], now)
                self.ws.send(json.dumps({"type": "ack", "stream": "dispatch", "seq": frame["seq"]}))

    def wait_for(self, numbers: list[str], seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not all(n in self.arrived for n in numbers):
            time.sleep(0.05)


def post_all(base: str, key: str, docs: list[dict], concurrency: int) -> tuple[float, dict]:
    local = threading.local()
    outcomes: dict[str, int] = {}
    lock = threading.Lock()

    def post(doc: dict) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers["Authorization"] = f"Api-Key {key}"
        answer = local.session.post(f"{base}/api/v1/eido", json=doc, timeout=60)
        outcome = answer.json().get("outcome", f"HTTP {answer.status_code}")
        with lock:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(post, docs))
    return time.monotonic() - started, outcomes


def paced(base: str, key: str, docs: list[dict], rate: float, board: Board) -> list[float]:
    session = requests.Session()
    session.headers["Authorization"] = f"Api-Key {key}"
    sent: dict[str, float] = {}
    start = time.monotonic()
    for i, doc in enumerate(docs):
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        number = doc["incidentComponent"]["internalIncidentId"]
        sent[number] = time.monotonic()
        session.post(f"{base}/api/v1/eido", json=doc, timeout=60)
    board.wait_for(list(sent))
    return [(board.arrived[n] - t) * 1000 for n, t in sent.items() if n in board.arrived]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--db-name", default="care_eido_bench")
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--duration", type=float, default=30)
    args = parser.parse_args()
    args.fresh_db = True
    url = prepare_database(args)
    setup_django(url)
    key, token = credentials()
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="eido-bench-"))
    log = work / "daphne.log"
    env = server_env(url)
    proc = subprocess.Popen(
        [PY, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "server.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, proc, log)
        base = f"http://127.0.0.1:{port}"
        post_all(base, key, documents(20, "W"), 2)  # warm up
        elapsed, outcomes = post_all(base, key, documents(args.documents, "S"), args.concurrency)
        board = Board(f"ws://127.0.0.1:{port}/ws/feed/", token)
        paced_docs = documents(int(args.rate * args.duration), "P")
        latencies = paced(base, key, paced_docs, args.rate, board)
    finally:
        proc.terminate()
        proc.wait(30)
        drop_database(args)
    print(f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, {platform.processor()}")
    print(
        f"ingest: {args.documents} documents, {args.concurrency} clients, {elapsed:.1f} s, "
        f"{args.documents / elapsed:.0f} documents/s, outcomes {outcomes}"
    )
    print(
        f"board frame at {args.rate:g}/s for {args.duration:g} s: {len(latencies)} of "
        f"{len(paced_docs)} arrived; ms p50 {statistics.median(latencies):.1f}, "
        f"p95 {pct(latencies, 95):.1f}, p99 {pct(latencies, 99):.1f}, max {max(latencies):.1f}"
    )


if __name__ == "__main__":
    main()
