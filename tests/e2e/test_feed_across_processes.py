"""The feed as production runs it: two Daphne processes on one PostgreSQL database and one Redis
channel layer. A change made through one process reaches a tablet connected to the other; when
the tablet's process dies mid-stream, the tablet reconnects to the survivor with its cursors and
ends up with every event exactly once."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests
import websocket

from tests.e2e.test_daphne_serves_the_demo import CALL, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


def open_feed(url: str, token: str, cursors: dict[str, int]) -> tuple[websocket.WebSocket, dict]:
    ws = websocket.create_connection(url.replace("http", "ws") + "/ws/feed/", timeout=10)
    ws.send(
        json.dumps(
            {
                "type": "hello",
                "token": token,
                "cursors": cursors,
                "client_time": CALL["received_at"],
            }
        )
    )
    welcome = json.loads(ws.recv())
    assert welcome["type"] == "welcome", welcome
    return ws, welcome


# Only guards against a hang: events that take this long are not coming.
HANG_SECONDS = 120


def read_events(ws: websocket.WebSocket, got: list[dict], *, until, quiet: float = 2.0) -> None:
    """Append event frames to `got` until `until()` holds and the socket has gone quiet, or the
    connection dies."""
    ws.settimeout(quiet)
    deadline = time.monotonic() + HANG_SECONDS
    while True:
        try:
            frame = json.loads(ws.recv())
        except websocket.WebSocketTimeoutException:
            if until():
                return
            assert time.monotonic() < deadline, f"still waiting after {HANG_SECONDS} s"
            continue
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            return
        if frame["type"] == "event":
            got.append(frame)


class Dispatcher:
    """Makes calls through one process: create, dispatch CARE-1 + 2M12, the CARE team
    acknowledges and goes en route, then the call is cancelled. Every step is an event on the
    CARE unit's stream."""

    def __init__(self, url: str, dispatcher: dict, care: dict):
        self.url = url
        self.as_dispatcher = {"Authorization": f"Token {dispatcher['token']}"}
        self.as_care = {"Authorization": f"Token {care['token']}"}
        units = self.get("/api/v1/units", self.as_dispatcher)
        self.units = {u["call_sign"]: u["id"] for u in units}
        self.calls_made = 0

    def get(self, path: str, headers: dict):
        answer = requests.get(self.url + path, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def post(self, path: str, body: dict, headers: dict) -> dict:
        answer = requests.post(self.url + path, json=body, headers=headers, timeout=10)
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    def dispatch_one(self) -> tuple[str, str]:
        self.calls_made += 1
        incident = self.post(
            "/api/v1/incidents",
            {**CALL, "cad_number": f"2026-FEED-{self.calls_made:04d}"},
            self.as_dispatcher,
        )
        made = self.post(
            f"/api/v1/incidents/{incident['id']}/dispatch",
            {"care_unit": self.units["CARE-1"], "spd_unit": self.units["2M12"]},
            self.as_dispatcher,
        )
        care = next(a for a in made["assignments"] if a["unit"] == self.units["CARE-1"])
        return incident["id"], care["id"]

    def run_call(self) -> None:
        incident, care_assignment = self.dispatch_one()
        for to in ("acknowledged", "en_route"):
            self.post(
                f"/api/v1/assignments/{care_assignment}/transitions", {"to": to}, self.as_care
            )
        self.post(
            f"/api/v1/incidents/{incident}/cancel", {"reason": "caller gone"}, self.as_dispatcher
        )


def test_a_push_crosses_processes_and_a_tablet_survives_its_process_dying(served_system):
    device_side = served_system.start_daphne()
    dispatch_side = served_system.start_daphne()
    dispatcher, care = sign_in(dispatch_side, "dispatcher"), sign_in(dispatch_side, "care1")
    unit_stream = f"unit:{care['user']['unit']['id']}"
    desk = Dispatcher(dispatch_side, dispatcher, care)

    ws, welcome = open_feed(device_side, care["token"], {})
    streams = welcome["streams"]
    received: list[dict] = []
    read_events(ws, received, until=lambda: True, quiet=0.5)  # whatever the demo left

    # 1. A dispatch made through the other process arrives live.
    desk.run_call()
    read_events(
        ws,
        received,
        until=lambda: any(e["kind"] == "assignment.dispatched" for e in received),
        quiet=0.2,
    )
    kinds = [(e["stream"], e["kind"]) for e in received]
    assert (unit_stream, "assignment.dispatched") in kinds
    first_push = next(e for e in received if e["kind"] == "assignment.dispatched")
    assert first_push["data"]["incident"]["cad_number"] == "2026-FEED-0001"

    # 2. Calls keep coming through the dispatch side while the device's process is killed.
    calls, errors = 6, []

    def keep_dispatching() -> None:
        try:
            for _ in range(calls - 1):
                desk.run_call()
                time.sleep(0.2)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    before_kill = len(received)
    worker = threading.Thread(target=keep_dispatching)
    worker.start()
    read_events(ws, received, until=lambda: len(received) >= before_kill + 4, quiet=0.2)
    ws.settimeout(0.2)
    served_system.kill(device_side)
    read_events(ws, received, until=lambda: True, quiet=0.5)  # drains to the dead socket's end
    killed_at = len(received)

    # 3. The tablet reconnects to the survivor with the cursors it holds.
    cursors = {s: 0 for s in streams}
    for event in received:
        cursors[event["stream"]] = max(cursors[event["stream"]], event["seq"])
    ws, _ = open_feed(dispatch_side, care["token"], cursors)
    worker.join(timeout=120)
    assert not errors, errors
    read_events(ws, received, until=lambda: not worker.is_alive())
    ws.close()

    # Every event in the database, each exactly once, in order per stream.
    truth = requests.get(
        f"{dispatch_side}/api/v1/sync/pull",
        params={"cursors": ",".join(f"{s}:0" for s in streams), "limit": 1000},
        headers={"Authorization": f"Token {care['token']}"},
        timeout=10,
    ).json()["events"]
    for stream in streams:
        seen = [e["seq"] for e in received if e["stream"] == stream]
        stored = [e["seq"] for e in truth if e["stream"] == stream]
        assert seen == stored, stream
    on_unit = [e for e in received if e["stream"] == unit_stream]
    assert sum(e["kind"] == "assignment.dispatched" for e in on_unit) == calls
    assert before_kill < killed_at < len(received)  # the kill really was mid-stream
