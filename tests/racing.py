"""Running calls at the same moment, each on its own thread and database connection: how the
PostgreSQL tests make two dispatchers, or two copies of one tablet batch, really collide."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import connection


def race(*calls: Callable[[], Any]) -> list[Any]:
    """What each call returned (or raised), in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except BaseException as exc:  # reported to the test, not lost in the thread
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a racer never finished"
    return results


def wait_for_a_lock_waiter(seconds: float = 60) -> None:
    """Return once another connection to this database is waiting on a lock: proof that the
    other side of a race has reached the lock this connection holds (a fixed sleep only hopes
    so). Called from inside the holding transaction; PostgreSQL only."""
    deadline = time.monotonic() + seconds
    with connection.cursor() as cursor:
        while True:
            # The activity view is a snapshot per transaction: clear it to see changes.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] > 0:
                return
            assert time.monotonic() < deadline, f"nobody waited on a lock within {seconds} s"
            time.sleep(0.01)
