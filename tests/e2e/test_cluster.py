"""The production topology on one machine (deploy/cluster.py): HAProxy in front, two socket
processes, an API process, the acknowledgement watcher, PostgreSQL and a Redis channel layer.
Tablets connected through the balancer keep every event, in order and once, while the socket
process holding most of them is killed, a new one is started in its place, and then the busiest
socket process is killed again."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis
import requests
import websocket

from tests.e2e.conftest import ROOT, demo_template, own_database_prefix, welfare_check
from tests.e2e.test_daphne_serves_the_demo import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

DEADLINE_SECONDS = 120  # generous: a busy shared machine starts Django slowly


def haproxy() -> str | None:
    return shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None
    )


def wait_for(what: str, condition, seconds: float = DEADLINE_SECONDS):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


class RunningCluster:
    def __init__(self, tmp_path: Path, env: dict[str, str], sockets: int = 2, api: int = 1):
        self.state_file = tmp_path / "cluster.json"
        self.output = (tmp_path / "cluster.out").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "deploy/cluster.py",
                "--port",
                "0",
                "--sockets",
                str(sockets),
                "--api",
                str(api),
                "--state",
                str(self.state_file),
                "--work",
                str(tmp_path / "cluster"),
            ],
            cwd=ROOT,
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )
        self.url = wait_for("the cluster serves", self._serving)

    def _serving(self) -> str | None:
        if self.process.poll() is not None:
            raise AssertionError(Path(self.output.name).read_text())
        state = self.state()
        if not state or any(m["pid"] is None for m in state["members"].values()):
            return None
        try:
            if requests.get(state["url"] + "/healthz", timeout=2).status_code == 200:
                return state["url"]
        except requests.RequestException:
            return None
        return None

    def state(self) -> dict | None:
        try:
            return json.loads(self.state_file.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def sockets_per_process(self) -> dict[str, int]:
        """Open connections per socket process, as HAProxy counts them (its runtime API)."""
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(Path(self.state()["work"]) / "haproxy.sock"))
            s.sendall(b"show stat\n")
            raw = b""
            while chunk := s.recv(65536):
                raw += chunk
        lines = raw.decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
        return {r["svname"]: int(r["scur"]) for r in rows if r["pxname"] == "sockets"
                and r["svname"].startswith("ws")}  # fmt: skip

    def kill_busiest_socket_process(self) -> tuple[str, int]:
        name = max(self.sockets_per_process().items(), key=lambda item: item[1])[0]
        member = self.state()["members"][name]
        os.kill(member["pid"], signal.SIGKILL)
        return name, member["pid"]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            state = self.state() or {"members": {}}
            for member in state["members"].values():
                if member["pid"]:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(member["pid"], signal.SIGKILL)
            self.process.kill()
            self.process.wait()


class Tablet(threading.Thread):
    """A tablet's live feed through the balancer: on any disconnect it reconnects with the
    cursors of what it has stored, as mobile/client does."""

    def __init__(self, url: str, token: str):
        super().__init__(daemon=True)
        self.url, self.token = url.replace("http", "ws") + "/ws/feed/", token
        self.received: list[dict] = []
        self.cursors: dict[str, int] = {}
        self.connections = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            with contextlib.suppress(websocket.WebSocketException, OSError, ValueError):
                self._session()
            if not self.stopped.is_set():
                time.sleep(0.2)  # a tablet's back-off before it tries again

    def _session(self) -> None:
        ws = websocket.create_connection(self.url, timeout=10)
        try:
            ws.send(json.dumps({"type": "hello", "token": self.token, "cursors": self.cursors}))
            welcome = json.loads(ws.recv())
            if welcome.get("type") != "welcome":
                return
            self.connections += 1
            for stream in welcome["streams"]:
                self.cursors.setdefault(stream, 0)
            ws.settimeout(0.5)
            while not self.stopped.is_set():
                try:
                    frame = json.loads(ws.recv())
                except websocket.WebSocketTimeoutException:
                    continue
                if frame.get("type") == "event":
                    self.received.append(frame)
                    self.cursors[frame["stream"]] = frame["seq"]
        finally:
            ws.close()

    def seqs(self, stream: str) -> list[int]:
        return [e["seq"] for e in self.received if e["stream"] == stream]


class Desk(threading.Thread):
    """A dispatcher through the balancer: a call to CARE-1 + 2M12 or CARE-2 + 2K21, then its
    cancel, over and over until told to stop."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.session = requests.Session()
        token = sign_in(url, "dispatcher")["token"]
        self.session.headers["Authorization"] = f"Token {token}"
        units = self.session.get(f"{url}/api/v1/units", timeout=10).json()
        self.units = {u["call_sign"]: u["id"] for u in units}
        self.calls = 0
        self.failures: list[str] = []
        self.stopped = threading.Event()

    def post(self, path: str, body: dict) -> dict:
        answer = self.session.post(f"{self.url}/api/v1/{path}", json=body, timeout=30)
        if answer.status_code not in (200, 201):
            self.failures.append(f"{path}: {answer.status_code} {answer.text[:200]}")
        return answer.json()

    def run(self) -> None:
        pairs = [("CARE-1", "2M12"), ("CARE-2", "2K21")]
        while not self.stopped.is_set():
            care, spd = pairs[self.calls % 2]
            self.calls += 1
            incident = self.post("incidents", welfare_check(f"2026-CLUSTER-{self.calls:04d}"))
            self.post(
                f"incidents/{incident['id']}/dispatch",
                {"care_unit": self.units[care], "spd_unit": self.units[spd]},
            )
            self.post(f"incidents/{incident['id']}/cancel", {"reason": "caller gone"})


@pytest.fixture
def cluster(tmp_path, own_redis):
    if haproxy() is None:
        pytest.skip("haproxy is not installed (apt-get install -y haproxy)")
    url, drop = demo_template.copy_to(tmp_path, own_database_prefix("cluster"))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": own_redis.url,  # a Redis of its own: no other test's groups
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "server.settings",
    }
    running = RunningCluster(tmp_path, env)
    try:
        yield running
    finally:
        running.stop()
        drop()


def test_tablets_behind_the_balancer_keep_every_event_in_order_while_socket_processes_die(
    cluster,
):
    people = {name: sign_in(cluster.url, name) for name in ("care1", "care2", "care3", "care4")}
    tablets = [Tablet(cluster.url, person["token"]) for person in people.values()]
    for tablet in tablets:
        tablet.start()
    wait_for("every tablet is welcomed", lambda: all(t.connections for t in tablets))
    wait_for(
        "both socket processes hold tablets",
        lambda: all(n > 0 for n in cluster.sockets_per_process().values()),
    )

    desk = Desk(cluster.url)
    desk.start()
    wait_for("every tablet gets live events", lambda: all(t.received for t in tablets))

    # 1. The socket process holding most tablets dies; the supervisor starts another on its socket.
    connections_before = sum(t.connections for t in tablets)
    killed, old_pid = cluster.kill_busiest_socket_process()
    wait_for(
        "a new process replaces the killed one",
        lambda: cluster.state()["members"][killed]["pid"] != old_pid,
    )
    wait_for(
        "its tablets reconnect", lambda: sum(t.connections for t in tablets) > connections_before
    )
    port = cluster.state()["members"][killed]["port"]
    wait_for(
        "the new process is healthy",
        lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200,
    )
    calls_then = desk.calls
    wait_for("calls keep coming", lambda: desk.calls >= calls_then + 3)

    # 2. Again, whichever process holds most tablets now.
    connections_before = sum(t.connections for t in tablets)
    cluster.kill_busiest_socket_process()
    wait_for(
        "the tablets reconnect again",
        lambda: sum(t.connections for t in tablets) > connections_before,
    )
    calls_then = desk.calls
    wait_for("calls keep coming", lambda: desk.calls >= calls_then + 3)
    desk.stopped.set()
    desk.join(timeout=60)
    assert not desk.failures, desk.failures

    # Every tablet ends with exactly what the database holds for it: each event once, in order.
    def stored(person: dict, stream: str) -> list[int]:
        answer = requests.get(
            f"{cluster.url}/api/v1/sync/pull",
            params={"cursors": f"{stream}:0", "limit": 1000},
            headers={"Authorization": f"Token {person['token']}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        return [e["seq"] for e in answer.json()["events"]]

    def caught_up(tablet: Tablet, person: dict) -> bool:
        return all(tablet.seqs(s)[-1:] == stored(person, s)[-1:] for s in tablet.cursors)

    for tablet, person in zip(tablets, people.values(), strict=True):
        wait_for("the tablet catches up", lambda t=tablet, p=person: caught_up(t, p))
    for tablet in tablets:
        tablet.stopped.set()
    for tablet, person in zip(tablets, people.values(), strict=True):
        tablet.join(timeout=10)
        unit_stream = f"unit:{person['user']['unit']['id']}"
        assert len(tablet.seqs(unit_stream)) >= 4
        for stream in tablet.cursors:
            assert tablet.seqs(stream) == stored(person, stream), stream
    assert sum(t.connections for t in tablets) >= len(tablets) + 2


class AckingTablet(Tablet):
    """A tablet that acks each event as it stores it, as mobile/client does."""

    def _session(self) -> None:
        ws = websocket.create_connection(self.url, timeout=10)
        try:
            ws.send(json.dumps({"type": "hello", "token": self.token, "cursors": self.cursors}))
            if json.loads(ws.recv()).get("type") != "welcome":
                return
            self.connections += 1
            ws.settimeout(0.5)
            while not self.stopped.is_set():
                try:
                    frame = json.loads(ws.recv())
                except websocket.WebSocketTimeoutException:
                    continue
                if frame.get("type") == "event":
                    self.received.append(frame)
                    self.cursors[frame["stream"]] = frame["seq"]
                    ws.send(json.dumps({"type": "ack", "stream": frame["stream"],
                                        "seq": frame["seq"]}))  # fmt: skip
        finally:
            ws.close()


def test_acks_go_through_redis_to_the_ack_writer_which_stores_each_once_after_being_killed(
    cluster, own_redis
):
    tablet = AckingTablet(cluster.url, sign_in(cluster.url, "care1")["token"])
    tablet.start()
    wait_for("the tablet is welcomed", lambda: tablet.connections)
    desk = Desk(cluster.url)  # not started: one call at a time, by hand
    board = {"Authorization": f"Token {sign_in(cluster.url, 'dispatcher')['token']}"}

    def dispatch(number: int) -> tuple[str, str]:
        """(incident, CARE-1's assignment) of a new call dispatched to CARE-1 and 2M12."""
        incident = desk.post("incidents", welfare_check(f"2026-ACKS-{number:04d}"))
        answer = desk.post(
            f"incidents/{incident['id']}/dispatch",
            {"care_unit": desk.units["CARE-1"], "spd_unit": desk.units["2M12"]},
        )
        assert not desk.failures, desk.failures
        care = next(a["id"] for a in answer["assignments"] if a["call_sign"] == "CARE-1")
        return incident["id"], care

    def delivered(assignment: str) -> int:
        """How many times the dispatch board was told the assignment reached its unit."""
        answer = requests.get(
            f"{cluster.url}/api/v1/sync/pull",
            params={"cursors": "dispatch:0", "limit": 1000},
            headers=board,
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        events = answer.json()["events"]
        return sum(
            1
            for e in events
            if e["kind"] == "assignment.delivered" and e["data"]["id"] == assignment
        )

    call, first = dispatch(1)
    wait_for("the first dispatch is delivered", lambda: delivered(first))
    desk.post(f"incidents/{call}/cancel", {"reason": "caller gone"})  # the units are free again

    # The writer dies; the cluster starts another, which stores what the sockets append meanwhile.
    writer = cluster.state()["members"]["write_acks"]
    os.kill(writer["pid"], signal.SIGKILL)
    _, second = dispatch(2)
    wait_for(
        "a new ack writer runs",
        lambda: cluster.state()["members"]["write_acks"]["pid"] not in (None, writer["pid"]),
    )
    wait_for("the second dispatch is delivered", lambda: delivered(second))
    tablet.stopped.set()
    tablet.join(timeout=10)
    assert not desk.failures, desk.failures
    assert (delivered(first), delivered(second)) == (1, 1)

    # They went by the stream: the writers' group read them; none is left waiting.
    acks, key = redis.Redis.from_url(own_redis.url), f"{os.environ['CHANNEL_LAYER_PREFIX']}.acks"
    group = next(g for g in acks.xinfo_groups(key) if g["name"] == b"writers")
    assert group["entries-read"] >= 2
    wait_for("no ack is left in the stream", lambda: acks.xlen(key) == 0)
