"""Where an idle socket's bytes go: one Daphne process (as `make run` starts it, DEBUG off), N
sockets that say hello and then only answer pings; the process's VmRSS before and after, per
socket, and with `--trace` Python's own allocations of the same span, diffed from two
`tracemalloc` snapshots taken inside the process (by source line, then by file).

    .venv/bin/python bench/feed_idle_memory.py --sockets 1000            # RSS per socket
    .venv/bin/python bench/feed_idle_memory.py --sockets 1000 --trace    # + where, by line

`tracemalloc` adds its own bookkeeping to RSS: read the RSS figure from a run without `--trace`.
The database is SQLite unless DATABASE_URL says otherwise; REDIS_URL picks the Redis layer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import requests
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")

from tests.e2e.conftest import own_database_prefix, serve  # noqa: E402
from tests.e2e.test_feed_fuzz import rss_kib  # noqa: E402

CONNECT_AT_ONCE = 5
RETRIES = 5
SETTLE_SECONDS = 3.0
# Daphne keeps a closed connection's objects until its next sweep (a few seconds).
WARM_SOCKETS_GONE_SECONDS = 15.0


def start_daphne(env: dict[str, str], folder: Path, trace: bool) -> tuple[subprocess.Popen, str]:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    app = "bench.feed_memory_asgi:application" if trace else "server.asgi:application"
    process = subprocess.Popen(
        [sys.executable, "deploy/serve.py", "--fd", str(listener.fileno()), app],
        cwd=ROOT,
        env={**env, "BENCH_SNAPSHOT_DIR": str(folder)},
        stdout=(folder / "daphne.log").open("a"),
        stderr=subprocess.STDOUT,
        pass_fds=[listener.fileno()],
    )
    listener.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                return process, url
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"Daphne did not start; see {folder / 'daphne.log'}")


def snapshot(process: subprocess.Popen, folder: Path, name: str) -> tracemalloc.Snapshot:
    """Ask the process for a snapshot (SIGUSR2, bench/feed_memory_asgi.py) and load it."""
    path = folder / f"{name}.snapshot"
    request = folder / "snapshot-to"
    request.write_text(str(path))
    process.send_signal(signal.SIGUSR2)
    deadline = time.monotonic() + 120
    while not path.exists() or request.exists():
        if time.monotonic() > deadline:
            raise SystemExit("no snapshot from the process")
        time.sleep(0.2)
    return tracemalloc.Snapshot.load(str(path))


class Idle:
    """Sockets that said hello and answer pings, nothing else."""

    def __init__(self, url: str, token: str, count: int) -> None:
        self.url = url.replace("http://", "ws://") + "/ws/feed/"
        self.token, self.count = token, count
        self.sockets: list = []
        self.tasks: list[asyncio.Task] = []
        self.retried = 0

    async def _one(self, gate: asyncio.Semaphore, ready: list) -> None:
        async with gate:
            for attempt in range(RETRIES):
                ws = await connect(self.url, ping_interval=None, open_timeout=60, max_queue=None)
                await ws.send(json.dumps({"type": "hello", "token": self.token, "cursors": {}}))
                try:
                    while json.loads(await ws.recv()).get("type") != "welcome":
                        pass
                    break
                except ConnectionClosed:  # a hello not answered in 10 s on a loaded machine
                    self.retried += 1
                    if attempt == RETRIES - 1:
                        raise
            self.sockets.append(ws)
            ready.append(ws)
        try:
            async for message in ws:
                if json.loads(message).get("type") == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
        except Exception:  # closed at the end
            pass

    async def open(self) -> None:
        gate = asyncio.Semaphore(CONNECT_AT_ONCE)
        ready: list = []
        self.tasks = [asyncio.ensure_future(self._one(gate, ready)) for _ in range(self.count)]
        while len(ready) < self.count:
            failed = [t for t in self.tasks if t.done() and t.exception()]
            if failed:
                raise failed[0].exception()
            await asyncio.sleep(0.1)

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()
        for task in self.tasks:
            task.cancel()


def print_objects(folder: Path, sockets: int) -> None:
    """Live objects by type, and what holds each asyncio.Queue, per socket (after - before)."""
    before = json.loads((folder / "before.objects").read_text())
    after = json.loads((folder / "after.objects").read_text())
    for part, title in (("kinds", "objects by type"), ("queue_holders", "queues held by")):
        print(f"{title} (a socket):")
        changes = {k: v - before[part].get(k, 0) for k, v in after[part].items()}
        for name, added in sorted(changes.items(), key=lambda kv: -kv[1])[:20]:
            if added / sockets >= 0.5:
                print(f"  {added / sockets:6.1f}  {name}")


def print_diff(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, sockets: int) -> None:
    keep = [tracemalloc.Filter(False, tracemalloc.__file__)]
    before, after = before.filter_traces(keep), after.filter_traces(keep)
    total = sum(s.size_diff for s in after.compare_to(before, "filename"))
    print(f"traced by Python: {total / 1024:+.0f} KiB, {total / sockets / 1024:.1f} KiB a socket")
    print("by line (KiB a socket, blocks a socket):")
    for stat in after.compare_to(before, "lineno")[:30]:
        frame = stat.traceback[0]
        name = frame.filename.replace(str(ROOT) + "/", "").split("site-packages/")[-1]
        print(
            f"  {stat.size_diff / sockets / 1024:6.2f}  {stat.count_diff / sockets:5.1f}  "
            f"{name}:{frame.lineno}"
        )
    print("by file:")
    for stat in after.compare_to(before, "filename")[:15]:
        name = stat.traceback[0].filename.split("site-packages/")[-1]
        print(f"  {stat.size_diff / sockets / 1024:6.2f}  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--trace", action="store_true", help="diff tracemalloc snapshots too")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="care-bench-memory-"))
    systems = serve(folder, prefix=own_database_prefix("bench_memory"))
    system = next(systems)
    env = {
        **system.env,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "CARE_TABLET_ENROLMENT_REQUIRED": "false",  # the bench's device signs in without a code
    }
    process, url = start_daphne(env, folder, args.trace)
    try:
        token = requests.post(
            f"{url}/api/v1/auth/token",
            json={"username": "care1", "password": "care-demo", "device_name": "memory"},
            timeout=30,
        )
        assert token.status_code == 201, token.text
        token = token.json()["token"]
        layer = "Redis" if env.get("REDIS_URL") else "in-memory"
        print(
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {layer} layer, "
            f"{'PostgreSQL' if env['DATABASE_URL'].startswith('postgres') else 'SQLite'}"
        )

        async def run() -> None:
            warm = Idle(url, token, 20)  # the first sockets fill caches and pools
            await warm.open()
            await warm.close()
            await asyncio.sleep(WARM_SOCKETS_GONE_SECONDS)
            first = snapshot(process, folder, "before") if args.trace else None
            rss_before = rss_kib(process.pid)["VmRSS"]
            idle = Idle(url, token, args.sockets)
            started = time.monotonic()
            await idle.open()
            opened = time.monotonic() - started
            await asyncio.sleep(SETTLE_SECONDS)
            rss_after = rss_kib(process.pid)["VmRSS"]
            print(
                f"{args.sockets} idle sockets (opened in {opened:.0f} s, {idle.retried} hellos "
                f"tried again): VmRSS {rss_before} -> "
                f"{rss_after} KiB, {(rss_after - rss_before) / args.sockets:.1f} KiB a socket"
            )
            if args.trace:
                print_diff(first, snapshot(process, folder, "after"), args.sockets)
                print_objects(folder, args.sockets)
            await idle.close()

        asyncio.run(run())
    finally:
        process.terminate()
        process.wait(timeout=30)
        systems.close()


if __name__ == "__main__":
    main()
