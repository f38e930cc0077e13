"""The live feed: one websocket to `/ws/feed/`, the fast path for the server's changes.

`hello` carries the token and the stored cursors; the server replays what the tablet missed and
then forwards new events. Each event is applied (and its cursor stored) through the sync engine,
then acked. A `seq` beyond the next expected number means a frame was lost: the engine pulls the
gap from the database before going on. While the socket will not stay up the engine's pull keeps
the tablet current, and the feed reconnects with backoff. Close code 4403 means this device was
revoked: the store is wiped.

The socket carries one write the other way: the emergency button's press (`send_emergency`),
because an open socket is the quickest way to the board; the safety rules fall back to HTTP and
the outbox when it is down or does not answer.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from typing import Any

import websocket

from mobile.client.store import iso, now
from mobile.client.sync_engine import SyncEngine

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED, CLOSE_REVOKED = 4401, 4403
PING_EVERY_SECONDS = 25.0


def feed_url(server_url: str) -> str:
    base = server_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base[len("https://") :] + "/ws/feed/"
    return "ws://" + base.removeprefix("http://") + "/ws/feed/"


class _Answer:
    """The socket's answer to one emergency frame, awaited by the thread that sent it."""

    def __init__(self) -> None:
        self.arrived = threading.Event()
        self.frame: dict[str, Any] = {}

    def give(self, frame: dict[str, Any]) -> None:
        self.frame = frame
        self.arrived.set()


class LiveFeed:
    def __init__(
        self,
        engine: SyncEngine,
        *,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        connect_timeout: float = 5.0,
        rng: random.Random | None = None,
    ):
        self.engine = engine
        self.store = engine.store
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.connect_timeout = connect_timeout
        self.rng = rng or random.Random()
        self.failures = 0
        self.events_applied = 0
        self.gaps_replayed = 0
        self._socket: websocket.WebSocket | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Emergency frames sent and not yet answered, by emergency id.
        self._awaiting: dict[str, _Answer] = {}
        self._awaiting_lock = threading.Lock()

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="care-feed", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._close()
        if self._thread is not None:
            self._thread.join(timeout)

    def _close(self) -> None:
        self._give_up_waiting()
        sock, self._socket = self._socket, None
        if sock is not None:
            try:
                sock.close()
            except Exception:  # already gone
                logger.debug("socket close failed", exc_info=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            outcome = self.run_once()
            self.engine.feed_live = False
            if outcome in ("revoked", "signed_out"):
                return
            # While the socket won't stay up, the engine's pull carries the feed.
            self.engine.nudge()
            self.failures += 1
            self._stop.wait(self.reconnect_delay())

    def reconnect_delay(self) -> float:
        """Doubling from `base_delay` per failure up to `max_delay`, with jitter (half to all
        of it) so a fleet of tablets that lost the same server doesn't return in step."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(self.failures - 1, 0))
        return self.rng.uniform(ceiling / 2, ceiling)

    # ---- one connection ----------------------------------------------------------------------

    def run_once(self) -> str:
        """Connect, say hello, apply frames until the socket ends; returns why it ended."""
        token, server_url = self.store.token, self.store.server_url
        if not token or not server_url:
            return "signed_out"
        try:
            sock = websocket.create_connection(feed_url(server_url), timeout=self.connect_timeout)
        except (OSError, websocket.WebSocketException):
            return "unreachable"
        self._socket = sock
        try:
            sock.send(
                json.dumps(
                    {
                        "type": "hello",
                        "token": token,
                        "cursors": self.store.cursors(),
                        "client_time": iso(now()),
                    }
                )
            )
            sock.settimeout(PING_EVERY_SECONDS)
            return self._listen(sock)
        except (OSError, websocket.WebSocketException):
            return self._closed(sock)
        finally:
            self._close()

    def is_revoked(self) -> bool:
        """Say hello and see whether the server closes with 4403 (this device was revoked)."""
        token, server_url = self.store.token, self.store.server_url
        if not token or not server_url:
            return False
        try:
            sock = websocket.create_connection(feed_url(server_url), timeout=self.connect_timeout)
        except (OSError, websocket.WebSocketException):
            return False
        try:
            sock.send(json.dumps({"type": "hello", "token": token, "cursors": {}}))
            while True:
                opcode, raw = sock.recv_data()
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    return len(raw) >= 2 and int.from_bytes(raw[:2], "big") == CLOSE_REVOKED
                if json.loads(raw).get("type") == "welcome":
                    return False
        except (OSError, ValueError, websocket.WebSocketException):
            return False
        finally:
            sock.close()

    def _listen(self, sock: websocket.WebSocket) -> str:
        while not self._stop.is_set():
            try:
                opcode, raw = sock.recv_data()
            except websocket.WebSocketTimeoutException:
                sock.send(json.dumps({"type": "ping"}))
                continue
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return self._close_reason(raw)
            try:
                frame = json.loads(raw)
            except ValueError:
                continue
            self.handle(sock, frame)
        return "stopped"

    def _closed(self, sock: websocket.WebSocket) -> str:
        return self._close_reason(getattr(sock, "close_frame", None) and b"")

    def _close_reason(self, raw: bytes | None) -> str:
        code = int.from_bytes(raw[:2], "big") if raw and len(raw) >= 2 else 0
        if code == CLOSE_REVOKED:
            self.store.wipe()
            self.engine._update(
                online=False, revoked=True, queued=0, last_error="This tablet was revoked."
            )
            return "revoked"
        if code == CLOSE_UNAUTHENTICATED:
            self.engine._update(signed_out=True, last_error="Sign in again.")
            return "signed_out"
        return "closed"

    def handle(self, sock: websocket.WebSocket, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "welcome":
            self.failures = 0
            self.engine.feed_live = True
            self.engine._update(online=True)
            self.engine.connection_works()
        elif kind == "event":
            self._event(sock, frame)
        elif kind == "emergency.accepted":
            self._answered(frame.get("id"), frame)
        elif kind == "error" and frame.get("ref"):
            self._answered(frame.get("ref"), frame)

    # ---- the emergency frame -----------------------------------------------------------------

    def send_emergency(self, body: dict[str, Any], deadline: float) -> dict[str, Any] | None:
        """Send the emergency over the open socket and wait up to `deadline` seconds for the
        server's answer: the emergency as stored, or None when the socket is down, the server
        refused it, or no answer came in time (the caller then tries HTTP). Called from the
        screen's thread while the feed's own thread reads the answer; websocket-client locks
        its sends, so the frame can't interleave with an ack."""
        sock = self._socket
        if sock is None or not self.engine.feed_live:
            return None
        answer = _Answer()
        with self._awaiting_lock:
            self._awaiting[body["id"]] = answer
        try:
            sock.send(json.dumps({"type": "emergency.start", **body}))
            answer.arrived.wait(deadline)
        except (OSError, websocket.WebSocketException):
            return None
        finally:
            with self._awaiting_lock:
                self._awaiting.pop(body["id"], None)
        if answer.frame.get("type") != "emergency.accepted":
            if answer.frame:
                logger.warning("the socket refused the emergency: %s", answer.frame)
            return None
        return answer.frame.get("emergency") or {}

    def _answered(self, emergency_id: Any, frame: dict[str, Any]) -> None:
        with self._awaiting_lock:
            answer = self._awaiting.get(emergency_id) if isinstance(emergency_id, str) else None
        if answer is not None:
            answer.give(frame)

    def _give_up_waiting(self) -> None:
        """The socket ended: no answer is coming, so nobody waits out the deadline for one."""
        with self._awaiting_lock:
            waiting = list(self._awaiting.values())
        for answer in waiting:
            answer.arrived.set()

    def _event(self, sock: websocket.WebSocket, frame: dict[str, Any]) -> None:
        stream, seq = frame.get("stream"), frame.get("seq")
        if not isinstance(stream, str) or not isinstance(seq, int):
            return
        cursor = self.store.cursors().get(stream, 0)
        if seq <= cursor:
            sock.send(json.dumps({"type": "ack", "stream": stream, "seq": cursor}))
            return  # a replay of something already applied
        if seq > cursor + 1:
            # A frame went missing: replay the gap (and this one) from the database.
            self.gaps_replayed += 1
            self.engine.pull()
        else:
            self.engine.apply_events([frame], {})
            self.events_applied += 1
        sock.send(json.dumps({"type": "ack", "stream": stream, "seq": max(seq, cursor)}))
