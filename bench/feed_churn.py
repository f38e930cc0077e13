"""The socket process's memory over a long churn: sockets of every kind opening and dying
(tests/e2e/test_feed_fuzz.py's six kinds, 150 a round) for `--minutes`, with the resident memory
(VmRSS from /proc) and open descriptors of the Daphne process read after every round.

A leak of a few hundred bytes a socket is invisible in three rounds and plain after thousands of
sockets: the figure that matters is the slope over the run's second half, once caches and the
allocator's arenas have filled.

    .venv/bin/python bench/feed_churn.py --minutes 30
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python bench/feed_churn.py --minutes 30
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")

from tests.e2e.conftest import own_database_prefix, serve  # noqa: E402
from tests.e2e.test_feed_fuzz import Target, churn, open_fds  # noqa: E402

SOCKETS_PER_ROUND = 150
SETTLE_SECONDS = 1.0  # the last sockets' cleanup runs before memory is read


def sample(target: Target) -> tuple[int, int]:
    time.sleep(SETTLE_SECONDS)
    return target.rss()["VmRSS"], open_fds(target.pid)


def slope_kib_per_1000_sockets(points: list[tuple[int, int]]) -> float:
    """Least-squares slope of RSS over sockets churned, in KiB per 1,000 sockets."""
    n = len(points)
    if n < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return cov / var * 1000 if var else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="care-bench-churn-"))
    systems = serve(
        folder, prefix=own_database_prefix("bench_churn"), CARE_FEED_HEARTBEAT_SECONDS="5"
    )
    # The demo is loaded in development mode; the socket process runs in production's. In DEBUG,
    # Django keeps each database connection's last 9,000 queries (nothing resets that log outside
    # a request), which was most of what a DEBUG socket process grew by. No balancer terminates
    # TLS here, so no redirect to https.
    system = next(systems)
    system.env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        CARE_TABLET_ENROLMENT_REQUIRED="false",  # the bench's tablets sign in without a code
    )
    target = Target(system)
    try:
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}", flush=True)
        token, cursors = target.tokens["care1"], target.ends("care1")
        churn(target.url, SOCKETS_PER_ROUND, token, cursors)  # warm-up
        baseline, fds_before = sample(target)
        print(f"after warm-up: VmRSS {baseline} KiB, open fds {fds_before}", flush=True)
        points: list[tuple[int, int]] = []
        failures = 0
        started = time.monotonic()
        while time.monotonic() - started < args.minutes * 60:
            # A tablet reconnects with the cursors it holds: where its streams end now. Cursors
            # kept from the start would make every welcomed socket replay all that the
            # dispatcher has sent since, a load growing with the run instead of a churn.
            cursors = target.ends("care1")
            failures += len(churn(target.url, SOCKETS_PER_ROUND, token, cursors))
            rss, fds = sample(target)
            points.append(((len(points) + 1) * SOCKETS_PER_ROUND, rss))
            minute = (time.monotonic() - started) / 60
            print(f"{minute:5.1f} min  {points[-1][0]:6d} sockets  VmRSS {rss} KiB  fds {fds}")
            sys.stdout.flush()
        second_half = points[len(points) // 2 :]
        print(
            f"churned {points[-1][0] if points else 0} sockets in {args.minutes:g} min "
            f"({failures} not taken or not welcomed); VmRSS {baseline} -> {points[-1][1]} KiB "
            f"({points[-1][1] - baseline:+d}); peak VmHWM {target.rss()['VmHWM']} KiB; "
            f"slope over the whole run {slope_kib_per_1000_sockets(points):.1f} KiB per 1,000 "
            f"sockets, over the second half {slope_kib_per_1000_sockets(second_half):.1f}; "
            f"open fds {fds_before} -> {open_fds(target.pid)}"
        )
    finally:
        target.close()
        systems.close()


if __name__ == "__main__":
    main()
