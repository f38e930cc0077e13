"""The live feed client against a real Daphne process: events arrive over the socket and are
applied with their cursors, the tablet recognizes its own echoes, a gap is replayed, and a revoked
device wipes its store."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests

from mobile.client.tablet import Tablet
from tests.e2e import conftest as e2e
from tests.e2e.conftest import ROOT, welfare_check

served_system = e2e.served_system  # Daphne processes on their own database

pytestmark = pytest.mark.e2e

CALL = welfare_check("2026-LIVE-0001")


def _dispatch(url: str) -> str:
    session = requests.Session()
    answer = session.post(
        f"{url}/api/v1/auth/token",
        json={"username": "dispatcher", "password": "care-demo", "device_name": "console"},
        timeout=10,
    )
    session.headers["Authorization"] = f"Token {answer.json()['token']}"
    units = {u["call_sign"]: u["id"] for u in session.get(f"{url}/api/v1/units", timeout=10).json()}
    incident = session.post(f"{url}/api/v1/incidents", json=CALL, timeout=10).json()
    answer = session.post(
        f"{url}/api/v1/incidents/{incident['id']}/dispatch",
        json={"care_unit": units["CARE-1"], "spd_unit": units["2M12"]},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return next(a["id"] for a in answer.json()["assignments"] if a["kind"] == "care")


def _until(check, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def served(served_system, tmp_path):
    url = served_system.start_daphne()
    tablet = Tablet(tmp_path / "care1.sqlite3", server_url=url)
    tablet.sign_in("care1", "care-demo", "care1-tablet")
    yield served_system, url, tablet
    tablet.close()


def test_a_dispatch_reaches_the_tablet_over_the_socket_and_its_cursor_is_stored(served):
    _, url, tablet = served
    tablet.feed.start()
    assert _until(lambda: tablet.engine.feed_live)
    assignment = _dispatch(url)
    assert _until(lambda: tablet.store.assignment(assignment) is not None)
    assert tablet.feed.events_applied >= 1
    assert any(seq >= 1 for s, seq in tablet.store.cursors().items() if s.startswith("unit:"))


def test_the_tablets_own_change_comes_back_as_an_echo_that_finishes_its_mutation(served):
    _, url, tablet = served
    assignment = _dispatch(url)
    tablet.engine.refresh_reference()
    tablet.engine.pull()
    mutation = tablet.recorder.transition(assignment, "acknowledged")
    # Push, but let only the feed tell the tablet it was applied (as if the answer was lost).
    body = tablet.store.mutation(mutation).as_push()
    tablet.client.push([body], "2026-11-23T11:00:00+00:00")
    tablet.feed.start()
    assert _until(lambda: tablet.store.mutation(mutation).state == "done")
    assert tablet.store.assignment(assignment)["status"] == "acknowledged"


def test_a_gap_in_seq_is_replayed_from_the_database(served):
    _, url, tablet = served
    tablet.store.set_settings(note="")
    _dispatch(url)
    # The tablet has seen nothing of its unit's stream, then hears seq 2 first: seq 1 (the
    # dispatch) was lost on the way, so it must replay from the database.
    unit = f"unit:{tablet.store.get_setting('user')['unit']['id']}"
    frame = {"type": "event", "stream": unit, "seq": 2, "kind": "assignment.updated", "data": {}}

    class Socket:
        sent: list = []

        def send(self, text):
            self.sent.append(text)

    tablet.feed.handle(Socket(), frame)
    assert tablet.feed.gaps_replayed == 1
    assert tablet.store.cursors()[unit] >= 1
    assert tablet.store.assignments()  # the lost dispatch, replayed


def test_a_revoked_device_wipes_its_store_on_its_next_contact(served):
    system, _, tablet = served
    tablet.recorder.store.set_settings(note="still here")
    device = tablet.store.get_setting("device_id")
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from server.accounts.models import Device, User;"
            "from server.accounts.services import revoke_device;"
            f"revoke_device(actor=User.objects.get(username='admin'),"
            f" device=Device.objects.get(pk='{device}'), reason='lost tablet')",
        ],
        cwd=ROOT,
        env=system.env,
        check=True,
        capture_output=True,
    )
    assert not tablet.engine.sync_once()
    assert tablet.engine.state.revoked
    assert tablet.store.token is None and tablet.store.get_setting("note") is None


def _revoke(system, device: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from server.accounts.models import Device, User;"
            "from server.accounts.services import revoke_device;"
            f"revoke_device(actor=User.objects.get(username='admin'),"
            f" device=Device.objects.get(pk='{device}'), reason='lost tablet')",
        ],
        cwd=ROOT,
        env=system.env,
        check=True,
        capture_output=True,
    )


def test_a_socket_closed_4401_signs_the_tablet_out_and_keeps_its_outbox(served):
    _, url, tablet = served
    assignment = _dispatch(url)
    tablet.engine.sync_once()
    tablet.recorder.transition(assignment, "acknowledged")  # queued, not yet sent
    answer = requests.post(
        f"{url}/api/v1/auth/logout",
        headers={"Authorization": f"Token {tablet.store.token}"},
        timeout=10,
    )
    assert answer.status_code == 204, answer.text

    assert tablet.feed.run_once() == "signed_out"  # the server closed the hello 4401

    assert tablet.engine.state.signed_out and not tablet.engine.state.revoked
    # Signing out is not losing the tablet: what was recorded waits for the next sign-in.
    assert tablet.store.queued_count() == 1
    assert tablet.store.assignment(assignment)["status"] == "acknowledged"


def test_a_socket_closed_4403_wipes_the_revoked_tablet(served):
    system, url, tablet = served
    assignment = _dispatch(url)
    tablet.engine.sync_once()
    tablet.recorder.transition(assignment, "acknowledged")
    _revoke(system, tablet.store.get_setting("device_id"))

    assert tablet.feed.run_once() == "revoked"

    assert tablet.engine.state.revoked
    assert tablet.store.token is None
    assert tablet.store.queued_count() == 0 and tablet.store.assignments() == []
