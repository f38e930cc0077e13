"""The live feed client on its own: applied frames tell the sync engine's listeners (so screens
redraw without polling), replays don't, and while the socket won't stay up it reconnects with a
doubling, jittered, capped delay and hands the feed to the engine's pull in between."""

from __future__ import annotations

import json
import random
import socket
import threading
import time

import pytest

from mobile.client.api import ApiClient
from mobile.client.live_feed import LiveFeed
from mobile.client.store import Store
from mobile.client.sync_engine import SyncEngine, SyncState

DISPATCHED = {
    "id": "care-1",
    "kind": "care",
    "status": "dispatched",
    "version": 1,
    "partners": [],
    "incident": {"call_type": "welfare-check", "address": "3rd Ave & Pike St"},
}


class Socket:
    """Where the feed sends its acks."""

    def __init__(self) -> None:
        self.sent: list[dict] = []

    def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


@pytest.fixture
def engine(tmp_path, refused_url):
    store = Store(tmp_path / "tablet.sqlite3")
    engine = SyncEngine(store, ApiClient(refused_url, timeout=0.5))
    yield engine
    store.close()


def frame(seq: int, status: str = "dispatched") -> dict:
    kind = "assignment.dispatched" if seq == 1 else "assignment.updated"
    data = {**DISPATCHED, "status": status, "version": seq}
    return {"type": "event", "stream": "unit:7", "seq": seq, "kind": kind, "data": data}


def test_a_frame_applied_from_the_socket_tells_the_engines_listeners(engine):
    heard: list[SyncState] = []
    engine.add_listener(heard.append)
    feed, sock = LiveFeed(engine), Socket()
    feed.handle(sock, frame(1))
    assert engine.store.assignment("care-1")["status"] == "dispatched"
    assert [s.server_changes for s in heard] == [1]
    feed.handle(sock, frame(2, "cancelled"))
    assert [s.server_changes for s in heard] == [1, 2]
    assert sock.sent[-1] == {"type": "ack", "stream": "unit:7", "seq": 2}


def test_a_replayed_frame_is_acked_but_tells_nobody(engine):
    feed, sock = LiveFeed(engine), Socket()
    feed.handle(sock, frame(1))
    heard: list[SyncState] = []
    engine.add_listener(heard.append)
    feed.handle(sock, frame(1))
    assert heard == []
    assert sock.sent[-1] == {"type": "ack", "stream": "unit:7", "seq": 1}


def test_reconnect_delays_double_from_the_base_with_jitter_up_to_the_ceiling(engine):
    feed = LiveFeed(engine, base_delay=0.5, max_delay=30.0, rng=random.Random(4))
    for failures, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (40, 30.0)]:
        feed.failures = failures
        delays = [feed.reconnect_delay() for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), failures
        assert len(set(delays)) == 50  # jittered, not in step
    feed.handle(Socket(), {"type": "welcome"})
    assert feed.failures == 0 and engine.feed_live


class Refuser:
    """A port that takes connections and closes them at once: a server that won't stay up."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.arrivals: list[float] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.arrivals.append(time.monotonic())
            conn.close()


def test_while_the_socket_wont_stay_up_the_feed_backs_off_and_the_engine_pulls(engine):
    refuser = Refuser()
    engine.store.set_settings(token="t0k3n", server_url=f"http://127.0.0.1:{refuser.port}")
    nudged: list[SyncState] = []
    engine.add_listener(nudged.append)  # each failed connection nudges the engine to pull
    feed = LiveFeed(engine, base_delay=0.04, max_delay=0.32, rng=random.Random(1))
    chosen: list[float] = []
    real_delay = feed.reconnect_delay

    def recorded_delay() -> float:
        chosen.append(real_delay())
        return chosen[-1]

    feed.reconnect_delay = recorded_delay  # the waits the feed asks for, not how long they took
    feed.start()
    deadline = time.monotonic() + 60  # only guards against a feed that stopped retrying
    while len(refuser.arrivals) < 7 and time.monotonic() < deadline:
        time.sleep(0.01)
    feed.stop()
    refuser.listener.close()
    assert len(refuser.arrivals) >= 7  # it kept coming back
    # The n-th wait is between half and all of min(0.32, 0.04 * 2**(n-1)): 0.04, 0.08, 0.16,
    # then the 0.32 ceiling.
    ceilings = [0.04, 0.08, 0.16, 0.32, 0.32, 0.32]
    assert len(chosen) >= 6
    for n, (delay, ceiling) in enumerate(zip(chosen, ceilings, strict=False), start=1):
        assert ceiling / 2 <= delay <= ceiling, (n, chosen)
    assert len(nudged) >= 6 and not engine.feed_live


def test_the_feeds_welcome_after_an_outage_sends_the_queue_at_once_not_after_the_retry_timer(
    engine,
):
    engine.failures = 7  # the retry timer would wait up to a minute
    woken = []
    engine._wake = type("Wake", (), {"set": lambda self: woken.append(True)})()
    LiveFeed(engine).handle(Socket(), {"type": "welcome"})
    assert woken and engine.failures == 0


def test_a_welcome_with_nothing_queued_and_no_outage_wakes_nothing(engine):
    woken = []
    engine._wake = type("Wake", (), {"set": lambda self: woken.append(True)})()
    LiveFeed(engine).handle(Socket(), {"type": "welcome"})
    assert woken == []
