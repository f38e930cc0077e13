"""The figures the websocket fuzz tests used to assert, measured instead of judged: how long a
dispatch takes to reach a tablet while eight sockets flood the feed, and how the Daphne process's
memory (VmRSS/VmHWM from /proc) and open descriptors move through frames too big and through
rounds of 150 sockets opening and dying.

    .venv/bin/python bench/feed_fuzz_figures.py                 # SQLite file database
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/feed_fuzz_figures.py
    CARE_FUZZ_CHURN_ROUNDS=20 ...                               # watch longer for a slow leak

The behaviour (closes, deliveries, nothing lost) is asserted by tests/e2e/test_feed_fuzz.py.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")

from tests.e2e.conftest import own_database_prefix, serve  # noqa: E402
from tests.e2e.test_feed_fuzz import (  # noqa: E402
    CHURN_ROUNDS,
    Target,
    churn,
    connect,
    flood,
    hello,
    open_fds,
    send_oversized,
)

SETTLE_SECONDS = 1.0  # a pause before reading memory, so the last sockets' cleanup is counted


def settled(target: Target) -> tuple[int, int]:
    time.sleep(SETTLE_SECONDS)
    return target.rss()["VmRSS"], open_fds(target.pid)


def flood_delivery(target: Target) -> None:
    token, cursors = target.tokens["care1"], target.ends("care1")
    quiet = [target.delivery_seconds() for _ in range(5)]
    floods = [
        threading.Thread(target=flood, args=(target.url, first, 1000))
        for first in [hello(token, cursors)] * 6 + [None, "junk"]
    ]
    for thread in floods:
        thread.start()
    loaded = [target.delivery_seconds() for _ in range(5)]
    for thread in floods:
        thread.join(120)
    print(
        "dispatch -> tablet socket: quiet median "
        f"{statistics.median(quiet) * 1000:.0f} ms (max {max(quiet) * 1000:.0f}); "
        f"under 8 floods median {statistics.median(loaded) * 1000:.0f} ms "
        f"(max {max(loaded) * 1000:.0f})"
    )


def frames_too_big(target: Target) -> None:
    before, _ = settled(target)
    token, cursors = target.tokens["care1"], target.ends("care1")
    for size in [1024 * 1024 + 1] + [16 * 1024 * 1024] * 4:
        ws = connect(target.url)
        ws.send(hello(token, cursors))
        ws.recv()
        send_oversized(ws, size)
    after, _ = settled(target)
    print(f"frames too big: VmRSS {before} -> {after} KiB ({after - before:+d} KiB)")


def churn_memory(target: Target) -> None:
    token, cursors = target.tokens["care1"], target.ends("care1")
    churn(target.url, 150, token, cursors)  # warm-up: caches and allocator arenas fill once
    baseline, fds_before = settled(target)
    rounds = []
    for _ in range(CHURN_ROUNDS):
        failures = churn(target.url, 150, token, cursors)
        rss, _ = settled(target)
        rounds.append(rss)
        if failures:
            print(f"  round {len(rounds)}: {len(failures)} sockets failed: {failures[:3]}")
    after, fds_after = settled(target)
    print(
        f"churn of {150 * CHURN_ROUNDS} sockets: VmRSS baseline {baseline} KiB, after each round "
        f"{rounds} KiB, settled {after} KiB ({after - baseline:+d} KiB); "
        f"VmHWM {target.rss()['VmHWM']} KiB; open fds {fds_before} -> {fds_after}"
    )


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="care-bench-fuzz-"))
    systems = serve(
        folder, prefix=own_database_prefix("bench_fuzz"), CARE_FEED_HEARTBEAT_SECONDS="5"
    )
    system = next(systems)
    target = Target(system)
    try:
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
        flood_delivery(target)
        frames_too_big(target)
        churn_memory(target)
    finally:
        target.close()
        systems.close()


if __name__ == "__main__":
    main()
