"""The demo as `make run` serves it: a real Daphne process, real HTTP and a real websocket."""

import json

import pytest
import requests
import websocket

from tests.e2e.conftest import welfare_check

pytestmark = pytest.mark.e2e

CALL = welfare_check("2026-E2E-0001")


def sign_in(url: str, username: str) -> dict:
    answer = requests.post(
        f"{url}/api/v1/auth/token",
        json={"username": username, "password": "care-demo", "device_name": f"{username}-e2e"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_daphne_serves_the_demo_and_pushes_a_dispatch_to_the_care_tablet(served_system):
    url = served_system.start_daphne()
    dispatcher = sign_in(url, "dispatcher")
    care = sign_in(url, "care1")
    as_dispatcher = {"Authorization": f"Token {dispatcher['token']}"}

    socket = websocket.create_connection(url.replace("http", "ws") + "/ws/feed/", timeout=10)
    socket.send(
        json.dumps(
            {
                "type": "hello",
                "token": care["token"],
                "cursors": {},
                "client_time": "2026-11-18T15:30:00-08:00",
            }
        )
    )
    welcome = json.loads(socket.recv())
    assert welcome["type"] == "welcome"
    unit_stream = f"unit:{care['user']['unit']['id']}"
    assert unit_stream in welcome["streams"]

    incident = requests.post(
        f"{url}/api/v1/incidents", json=CALL, headers=as_dispatcher, timeout=10
    )
    assert incident.status_code == 201, incident.text
    assert incident.json()["eligibility"]["recommendation"] == "dual_dispatch"
    assert incident.json()["area"] == "PIONEER SQUARE"
    units = {
        u["call_sign"]: u["id"]
        for u in requests.get(f"{url}/api/v1/units", headers=as_dispatcher, timeout=10).json()
    }
    answer = requests.post(
        f"{url}/api/v1/incidents/{incident.json()['id']}/dispatch",
        json={"care_unit": units["CARE-1"], "spd_unit": units["2M12"]},
        headers=as_dispatcher,
        timeout=10,
    )
    assert answer.status_code == 201, answer.text

    frame = json.loads(socket.recv())
    assert frame["type"] == "event"
    assert frame["stream"] == unit_stream
    assert frame["kind"] == "assignment.dispatched"
    assert frame["data"]["incident"]["cad_number"] == CALL["cad_number"]
    assert frame["data"]["partners"][0]["call_sign"] == "2M12"
    socket.close()

    assert requests.get(f"{url}/admin/login/", timeout=10).status_code == 200
    assert requests.get(f"{url}/api/v1/schema/", timeout=10).status_code == 200
