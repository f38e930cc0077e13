"""The feed socket under attack, on a real Daphne process: random and malformed frames, frames too
big, floods, and hundreds of sockets opening and dying. Whatever a socket sends, the process stays
up, the answer is an `error` frame or a documented close (never a crashed consumer: 1011), the
well-behaved sockets beside it keep receiving every event, and the process keeps serving.

These tests assert behaviour only. How long a dispatch takes to arrive under a flood, and how the
process's memory and descriptors move through churn, are measured by bench/feed_fuzz_figures.py
and recorded in docs/benchmarks.md ("Websocket fuzzing"): figures on a shared machine are not a
pass/fail line.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import threading
import time
from pathlib import Path

import pytest
import requests
import websocket
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import Desk, own_database_prefix, serve

pytestmark = pytest.mark.e2e

CAD_PREFIX = "2026-FUZZ-"
# Closes a socket may get: the feed's own (module docstring of server.sync.consumers), and the
# websocket layer's for frames that break the protocol itself (1007 text that is not UTF-8,
# 1009 a message over Daphne's 1 MiB limit).
FEED_CLOSES = {4400, 4401, 4403, 4408, 4429}
PROTOCOL_CLOSES = {1000, 1002, 1007, 1009}
SERVER_FRAMES = {"welcome", "event", "error", "ping", "pong"}
ERROR_CODES = {
    "malformed",
    "unknown_type",
    "forbidden_stream",
    "bad_ack",
    "rate_limited",
    "cursor_ahead",
}
# Random sockets per run; CARE_FUZZ_EXAMPLES raises it for long runs.
EXAMPLES = int(os.environ.get("CARE_FUZZ_EXAMPLES", "100"))
# Rounds of 150 short-lived sockets; CARE_FUZZ_CHURN_ROUNDS raises it for a longer run.
CHURN_ROUNDS = int(os.environ.get("CARE_FUZZ_CHURN_ROUNDS", "3"))
# Only guards against a hang: a dispatch that takes this long has not arrived at all.
HANG_SECONDS = 60


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak) of a process, in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def open_fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/ws/feed/"


def hello(token: str, cursors=None) -> str:
    return json.dumps(
        {
            "type": "hello",
            "token": token,
            "cursors": cursors if cursors is not None else {},
            "client_time": "2026-11-23T10:00:00-08:00",
        }
    )


def connect(url: str, timeout: float = 10) -> websocket.WebSocket:
    # No Origin header: a native tablet's socket (a browser's must come from an allowed host).
    return websocket.create_connection(ws_url(url), timeout=timeout, suppress_origin=True)


def read_until(ws: websocket.WebSocket, stop, seconds: float = 5) -> tuple[list[dict], int | None]:
    """Frames the server sends until `stop(frame)` or it closes: (frames, close code or None)."""
    frames: list[dict] = []
    deadline = time.monotonic() + seconds
    ws.settimeout(seconds)
    while time.monotonic() < deadline:
        try:
            opcode, raw = ws.recv_data(control_frame=True)
        except websocket.WebSocketTimeoutException:
            break
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            return frames, -1  # dropped without a close frame
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return frames, struct.unpack("!H", raw[:2])[0] if len(raw) >= 2 else 1005
        if opcode != websocket.ABNF.OPCODE_TEXT:
            continue
        frame = json.loads(raw)
        assert isinstance(frame, dict) and frame.get("type") in SERVER_FRAMES, frame
        if frame["type"] == "error":
            assert frame.get("code") in ERROR_CODES, frame
        frames.append(frame)
        if stop(frame):
            return frames, None
    raise AssertionError(f"no answer within {seconds} s; got {frames[-3:]}")


class Watcher:
    """A well-behaved device: says hello, applies every event, acks, answers pings."""

    def __init__(self, url: str, token: str):
        self.ws = connect(url)
        self.ws.send(hello(token))
        welcome = json.loads(self.ws.recv())
        assert welcome["type"] == "welcome", welcome
        self.streams = welcome["streams"]
        self.seqs: dict[str, list[int]] = {s: [] for s in self.streams}
        self.closed_with: int | None = None
        self.dispatched_at: dict[str, float] = {}  # assignment id → when its dispatch arrived
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self) -> None:
        self.ws.settimeout(None)
        while True:
            try:
                opcode, raw = self.ws.recv_data(control_frame=True)
            except Exception:  # socket gone: the test's checks say so
                self.closed_with = self.closed_with or -1
                return
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                self.closed_with = struct.unpack("!H", raw[:2])[0] if len(raw) >= 2 else 1005
                return
            if opcode != websocket.ABNF.OPCODE_TEXT:
                continue
            frame = json.loads(raw)
            if frame["type"] == "event":
                self.seqs[frame["stream"]].append(frame["seq"])
                if frame["kind"] == "assignment.dispatched":
                    self.dispatched_at[frame["data"]["id"]] = time.monotonic()
                self.ws.send(
                    json.dumps({"type": "ack", "stream": frame["stream"], "seq": frame["seq"]})
                )
            elif frame["type"] == "ping":
                self.ws.send(json.dumps({"type": "pong"}))


class Target:
    """One Daphne process on its own database; a dispatcher dispatching now and then; two
    watchers (a CARE-1 tablet and the dispatcher's board) who must never notice the attack."""

    def __init__(self, system):
        self.system = system
        self.url = system.start_daphne()
        self.pid = system.pid(self.url)
        self.tokens = {u: self.sign_in(u) for u in ("care1", "care2", "dispatcher")}
        self.desk = Desk(self.url, CAD_PREFIX)
        self.desk_lock = threading.Lock()  # one console: the checks and the thread take turns
        self.watchers = [Watcher(self.url, self.tokens[u]) for u in ("care2", "dispatcher")]
        self.stop = threading.Event()
        self.dispatcher = threading.Thread(target=self._dispatching, daemon=True)
        self.dispatcher.start()

    def sign_in(self, username: str) -> str:
        answer = requests.post(
            f"{self.url}/api/v1/auth/token",
            json={"username": username, "password": "care-demo", "device_name": "fuzz"},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["token"]

    def _dispatching(self) -> None:
        while not self.stop.wait(0.5):
            self.dispatch()

    def dispatch(self) -> str | None:
        with self.desk_lock:
            return self.desk.dispatch()

    def ends(self, user: str) -> dict[str, int]:
        """Where `user`'s streams end now: a hello with these cursors replays nothing old."""
        ws = connect(self.url)
        ws.send(hello(self.tokens[user], {}))
        streams = json.loads(ws.recv())["streams"]
        ws.close()
        return {
            s: seqs[-1] if seqs else 0 for s, seqs in self.truth(self.tokens[user], streams).items()
        }

    def rss(self) -> dict[str, int]:
        return rss_kib(self.pid)

    def delivery_seconds(self) -> float:
        """Dispatch, and wait for the event to reach the CARE watcher's socket; the seconds it
        took are for the benchmark's figures, never asserted."""
        with self.desk_lock:
            started = time.monotonic()
            assignment = self.desk.dispatch()
        assert assignment is not None
        watcher = self.watchers[0]
        while assignment not in watcher.dispatched_at:
            assert time.monotonic() - started < HANG_SECONDS, "the dispatch never arrived"
            time.sleep(0.005)
        return watcher.dispatched_at[assignment] - started

    def alive(self) -> bool:
        return self.system.processes[0].poll() is None

    def truth(self, token: str, streams: list[str]) -> dict[str, list[int]]:
        events = []
        cursors = {s: 0 for s in streams}
        while True:
            page = requests.get(
                f"{self.url}/api/v1/sync/pull",
                params={"cursors": ",".join(f"{s}:{n}" for s, n in cursors.items())},
                headers={"Authorization": f"Token {token}"},
                timeout=10,
            ).json()
            events += page["events"]
            cursors.update(page["cursors"])
            if not page.get("has_more"):
                break
        return {s: [e["seq"] for e in events if e["stream"] == s] for s in streams}

    def assert_watchers_unhurt(self) -> None:
        """The process is up, and each watcher's socket is open and has had every event of its
        streams, once each, in order, a fresh dispatch included."""
        assert self.alive(), "the Daphne process died"
        # A consumer that crashed on a socket its device had already left shows only here.
        log = self.system.tmp_path / f"daphne-{self.url.rsplit(':', 1)[1]}.log"
        assert "Exception inside application" not in log.read_text()
        assert self.dispatch() is not None
        for watcher, user in zip(self.watchers, ("care2", "dispatcher"), strict=True):
            expected = self.truth(self.tokens[user], watcher.streams)
            deadline = time.monotonic() + 10
            while watcher.seqs != expected and time.monotonic() < deadline:
                time.sleep(0.1)
                expected = self.truth(self.tokens[user], watcher.streams)
            assert watcher.closed_with is None, f"{user}'s socket closed {watcher.closed_with}"
            assert watcher.seqs == expected, user

    def close(self) -> None:
        self.stop.set()
        self.dispatcher.join(10)
        for watcher in self.watchers:
            watcher.ws.close()
        # Nothing is checked after this: don't wait out Daphne's graceful shutdown.
        self.system.kill(self.url)


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    systems = serve(
        tmp_path_factory.mktemp("fuzz"),
        prefix=own_database_prefix("fuzz"),
        CARE_FEED_HEARTBEAT_SECONDS="5",
    )
    system = next(systems)
    try:
        target = Target(system)
        try:
            yield target
        finally:
            target.close()
    finally:
        systems.close()  # stops what is left and drops the database


# ---- frames ------------------------------------------------------------------------------------

# Strings a JSON parser hands over that a careless server chokes on: lone surrogates, NUL.
awkward_text = st.text(st.characters(exclude_categories=()), max_size=40) | st.sampled_from(
    ["\ud800", "a\udfff", "\x00", "unit:1\x00"]
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | awkward_text,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
stream_names = st.sampled_from(["unit:1", "unit:2", "user:1", "dispatch", "directory"]) | st.text(
    max_size=20
)
absurd_seqs = (
    st.sampled_from([0, -1, 2**31, 2**63, 10**30, -(10**30)]) | st.integers() | json_values
)
cursors = json_values | st.dictionaries(stream_names, absurd_seqs, max_size=5)
known_types = st.sampled_from(["hello", "ack", "ping", "pong", "event", "welcome", "error", ""])
typed_frames = st.fixed_dictionaries(
    {"type": known_types | st.text(max_size=30)},
    optional={
        "stream": stream_names | json_values,
        "seq": absurd_seqs,
        "token": json_values,
        "cursors": cursors,
        "data": json_values,
    },
)
text_frames = (
    typed_frames.map(json.dumps)
    | json_values.map(json.dumps)
    | st.text(max_size=200)
    | st.sampled_from(['{"type": "ack"', "[" * 5000 + "]" * 5000, '{"type": 1}', "null"])
)
frames = st.one_of(
    text_frames.map(lambda t: ("text", t)),
    st.binary(max_size=200).map(lambda b: ("binary", b)),
    typed_frames.map(lambda f: ("binary", json.dumps(f).encode())),
)


def send(ws: websocket.WebSocket, frame: tuple[str, str | bytes]) -> None:
    kind, payload = frame
    if kind == "text":
        ws.send(payload)
    else:
        ws.send_binary(payload)


def well_formed(cursors) -> bool:
    return isinstance(cursors, dict) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in cursors.values()
    )


def test_random_frames_get_an_error_frame_or_a_documented_close_and_never_crash_a_socket(target):
    token = target.tokens["care1"]
    outcomes: dict[str, int] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        hello_cursors=st.none() | cursors,
        authed=st.booleans(),
        script=st.lists(frames, min_size=1, max_size=8),
    )
    # Frames that once crashed the consumer (close 1011 and a traceback instead of an answer).
    @example(None, True, [("text", "[" * 5000 + "]" * 5000)])  # deeper than json.loads goes
    @example(None, True, [("text", json.dumps({"type": "ack", "stream": ["unit:1"], "seq": 1}))])
    @example(None, False, [("text", json.dumps({"type": "hello", "token": "\ud800"}))])
    def one_socket(hello_cursors, authed, script):
        ws = connect(target.url)
        try:
            if authed:
                ws.send(hello(token, hello_cursors))
                _, code = read_until(ws, lambda f: f["type"] == "welcome")
                if code is not None:
                    # Only a hello whose cursors are not an object of stream → seq is refused.
                    assert code == 4400, code
                    assert not well_formed(hello_cursors), hello_cursors
                    outcomes["hello refused 4400"] = outcomes.get("hello refused 4400", 0) + 1
                    return
            if not authed:
                # A first frame that is not a hello with a good token closes the socket. (Read
                # the close at once: one left unanswered ends in a reset that loses the frame.)
                send(ws, script[0])
                _, code = read_until(ws, lambda f: False)
                assert code in (4400, 4401), code
                outcomes[f"closed {code}"] = outcomes.get(f"closed {code}", 0) + 1
                return
            for frame in script:
                send(ws, frame)
            # Welcomed: junk gets error frames, never a close; the socket still answers a ping.
            ws.send(json.dumps({"type": "ping"}))
            _, code = read_until(ws, lambda f: f["type"] == "pong")
            assert code is None, f"a welcomed socket was closed {code} after {script!r}"
            outcomes["welcomed, answered"] = outcomes.get("welcomed, answered", 0) + 1
        finally:
            ws.close()

    one_socket()
    print(f"random frames: {outcomes}")
    target.assert_watchers_unhurt()


# ---- frames too big ----------------------------------------------------------------------------


def padded_ping(size: int) -> str:
    """A ping frame of exactly `size` bytes."""
    frame = json.dumps({"type": "ping", "pad": ""})
    return json.dumps({"type": "ping", "pad": "x" * (size - len(frame))})


def send_big(ws: websocket.WebSocket, payload: str | bytes) -> int | None:
    """Send one large frame and read what comes back: the close code, or None if still open."""
    try:
        if isinstance(payload, bytes):
            ws.send_binary(payload)
        else:
            ws.send(payload)
        ws.send(json.dumps({"type": "ping"}))
    except (OSError, websocket.WebSocketException):
        return -1  # the server hung up while the frame was still going out
    _, code = read_until(ws, lambda f: f["type"] == "pong")
    return code


def send_oversized(ws: websocket.WebSocket, size: int) -> int | None:
    """Start a text frame that declares `size` bytes and send its first 64 KiB: the websocket
    layer judges the frame by its header, so the rest never needs to go out (and a send still
    running when the server hangs up can't blur the answer)."""
    wire = websocket.ABNF(1, 0, 0, 0, websocket.ABNF.OPCODE_TEXT, 1, b"y" * size).format()
    ws.sock.sendall(wire[: 64 * 1024])
    _, code = read_until(ws, lambda f: False)
    return code


def test_frames_over_64_kib_close_the_socket_and_the_process_shrugs_off_megabytes(target):
    token, cursors = target.tokens["care1"], target.ends("care1")

    def welcomed() -> websocket.WebSocket:
        ws = connect(target.url)
        ws.send(hello(token, cursors))
        read_until(ws, lambda f: f["type"] == "welcome")
        return ws

    # Exactly 64 KiB is still a frame; one byte more is not (the feed closes 4400).
    assert send_big(welcomed(), padded_ping(64 * 1024)) is None
    assert send_big(welcomed(), padded_ping(64 * 1024 + 1)) == 4400
    # Before hello, too.
    assert send_big(connect(target.url), "x" * (64 * 1024 + 1)) == 4400
    # Past Daphne's 1 MiB limit the websocket layer refuses the frame from its header alone:
    # autobahn fails the connection by dropping it (failByDrop), so no close frame comes (-1).
    assert send_oversized(welcomed(), 1024 * 1024 + 1) == -1
    for _ in range(4):
        assert send_oversized(welcomed(), 16 * 1024 * 1024) == -1
    # ... and the socket beside them is still served.
    assert send_big(welcomed(), padded_ping(1024)) is None
    target.assert_watchers_unhurt()


# ---- floods ------------------------------------------------------------------------------------


def flood(url: str, first: str | None, frames: int) -> int | None:
    """Open a socket, say `first`, then send `frames` pings as fast as the socket takes them;
    returns how the server ended it."""
    ws = connect(url)
    try:
        if first is not None:
            ws.send(first)
        ping = json.dumps({"type": "ping"})
        for _ in range(frames):
            try:
                ws.send(ping)
            except (OSError, websocket.WebSocketException):
                break  # closed under us: the answer is in the close frame
        # A flood must be ended by the server: no answer within the wait fails the test.
        _, code = read_until(ws, lambda f: False, seconds=HANG_SECONDS)
        return code
    finally:
        ws.close()


def test_floods_are_closed_4429_while_the_other_sockets_keep_their_events(target):
    token, cursors = target.tokens["care1"], target.ends("care1")
    quiet = [target.delivery_seconds() for _ in range(3)]
    endings: list[int | str | None] = []

    def flooding(first: str | None) -> None:
        try:
            endings.append(flood(target.url, first, 1000))
        except AssertionError as exc:  # kept, so the assertion below names it
            endings.append(f"not ended: {exc}")

    floods = [
        threading.Thread(target=flooding, args=(first,))
        for first in [hello(token, cursors)] * 6 + [None, "junk"]
    ]
    for thread in floods:
        thread.start()
    under_flood = [target.delivery_seconds() for _ in range(3)]
    for thread in floods:
        thread.join(60)
    print(
        f"floods: endings {sorted(endings, key=str)}; dispatch → watcher "
        f"{max(quiet) * 1000:.0f} ms quiet, {max(under_flood) * 1000:.0f} ms under flood"
    )
    # Welcomed floods are throttled then closed 4429; a flood with no hello dies at frame one.
    assert sorted(endings, key=str) == [4400] + [4401] + [4429] * 6
    # Every dispatch made during the floods reached the watcher (delivery_seconds waits for it).
    assert len(under_flood) == 3
    target.assert_watchers_unhurt()


# ---- churn -------------------------------------------------------------------------------------


def abort(ws_or_socket) -> None:
    """Hang up without a close frame: a TCP reset, as a tablet losing power or signal does."""
    sock = getattr(ws_or_socket, "sock", ws_or_socket)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def churn_one(url: str, kind: int, token: str, cursors: dict[str, int]) -> None:
    """One short-lived socket of one of six kinds."""
    port = int(url.rsplit(":", 1)[1])
    if kind == 0:  # half an HTTP upgrade, then gone
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        raw.sendall(b"GET /ws/feed/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websock")
        abort(raw)
        return
    ws = connect(url, timeout=5)
    if kind == 1:  # opens and closes politely, says nothing
        ws.close()
    elif kind == 2:  # half a hello frame on the wire, then gone
        wire = websocket.ABNF.create_frame(hello(token, cursors), websocket.ABNF.OPCODE_TEXT)
        data = wire.format()
        ws.sock.sendall(data[: len(data) // 2])
        abort(ws)
    elif kind == 3:  # hello, and gone before the welcome
        ws.send(hello(token, cursors))
        abort(ws)
    else:  # welcomed, then closes politely (4) or vanishes (5)
        ws.send(hello(token, cursors))
        read_until(ws, lambda f: f["type"] == "welcome")
        ws.close() if kind == 4 else abort(ws)


def churn(
    url: str, sockets: int, token: str, cursors: dict[str, int], threads: int = 8
) -> list[str]:
    """`sockets` short-lived sockets of every kind, `threads` at a time; returns what went wrong:
    a socket the process would not take, or a hello it never welcomed (each one, by kind)."""
    failures: list[str] = []

    def worker(n: int) -> None:
        for i in range(n, sockets, threads):
            try:
                churn_one(url, i % 6, token, cursors)
            except (OSError, websocket.WebSocketException) as exc:
                failures.append(f"kind {i % 6}: not taken: {exc!r}")
            except AssertionError as exc:  # read_until: the welcome never came
                failures.append(f"kind {i % 6}: not welcomed: {exc}")

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(120)
    return failures


def test_hundreds_of_sockets_opening_and_dying_are_each_taken_and_leave_the_feed_serving(target):
    token, cursors = target.tokens["care1"], target.ends("care1")
    assert churn(target.url, 150, token, cursors) == []  # the first round, caches still cold

    # Sockets that connect and never say a word: the server closes them 4401 after 10 s. Each
    # is read as it waits (a close left unanswered ends in a TCP reset that loses the frame).
    silent_codes: list[int | None] = []

    def silent_socket() -> None:
        ws = connect(target.url, timeout=20)
        silent_codes.append(read_until(ws, lambda f: False, seconds=HANG_SECONDS)[1])

    silent = [threading.Thread(target=silent_socket) for _ in range(30)]
    for thread in silent:
        thread.start()
    for _ in range(CHURN_ROUNDS):
        assert churn(target.url, 150, token, cursors) == []
    for thread in silent:
        thread.join(HANG_SECONDS + 10)
    assert silent_codes == [4401] * 30
    # After it all, a new tablet is welcomed as the first one was.
    ws = connect(target.url)
    ws.send(hello(token, cursors))
    frames, code = read_until(ws, lambda f: f["type"] == "welcome")
    assert code is None and frames[-1]["type"] == "welcome"
    ws.close()
    target.assert_watchers_unhurt()
