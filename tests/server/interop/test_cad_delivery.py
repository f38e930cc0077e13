"""Every change reaches the CAD: queued in the database from the dispatch stream, POSTed with an
HMAC-SHA256 signature over `<timestamp>.<delivery id>.<body>`, retried with back-off, to a
real HTTP receiver that fails, times out and comes back."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import io
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.utils import timezone

from server.interop.delivery import backoff, deliver_due, enqueue_changes, verify_delivery
from server.interop.models import CadDelivery
from tests.server.interop.emitted import assert_valid_eido

SECRET = "shared-with-the-cad"


class Receiver:
    """A CAD endpoint on a real socket. `mode`: 'ok' takes the document, 'fail' answers 500,
    'hang' holds the request until the test ends (the sender's timeout fires first),
    'redirect <url>' answers 307 to that address."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.received: list[dict] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.mode == "hang":
                    receiver.release.wait(30)
                    return
                if receiver.mode.startswith("redirect "):
                    self.send_response(307)
                    self.send_header("Location", receiver.mode.split(" ", 1)[1])
                    self.end_headers()
                    return
                if receiver.mode == "fail":
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.received.append({"headers": dict(self.headers), "body": body})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/eido"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    cad = Receiver()
    settings.CARE_CAD_ENDPOINT_URL = cad.url
    settings.CARE_CAD_SIGNING_SECRET = SECRET
    settings.CARE_CAD_TIMEOUT_SECONDS = 0.5
    yield cad
    cad.close()


def time_passes() -> None:
    """Make every waiting delivery due now, as if its back-off had run out."""
    CadDelivery.objects.filter(delivered_at__isnull=True).update(next_attempt_at=timezone.now())


def test_back_off_doubles_from_30_seconds_and_stops_at_24_hours():
    assert backoff(1) == datetime.timedelta(seconds=30)
    assert backoff(2) == datetime.timedelta(seconds=60)
    assert backoff(5) == datetime.timedelta(minutes=8)
    assert backoff(30) == datetime.timedelta(hours=24)


def test_a_cad_that_fails_then_times_out_gets_the_update_when_it_comes_back(receiver, new_call):
    incident = new_call()
    assert enqueue_changes() == 1
    [delivery] = CadDelivery.objects.all()

    receiver.mode = "fail"
    assert deliver_due() == (0, 1)
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_error) == (1, "HTTP 500")
    wait = delivery.next_attempt_at - timezone.now()
    assert datetime.timedelta(seconds=25) < wait <= datetime.timedelta(seconds=30)
    assert deliver_due() == (0, 0)  # not due yet

    time_passes()
    receiver.mode = "hang"
    assert deliver_due() == (0, 1)
    delivery.refresh_from_db()
    assert delivery.attempts == 2 and "Timeout" in delivery.last_error
    assert delivery.next_attempt_at - timezone.now() > datetime.timedelta(seconds=55)

    time_passes()
    receiver.mode = "ok"
    assert deliver_due() == (1, 0)
    delivery.refresh_from_db()
    assert delivery.delivered_at is not None and delivery.attempts == 3
    [got] = receiver.received
    headers, body = got["headers"], got["body"]
    assert headers["X-CARE-Delivery"] == str(delivery.id)
    signed = f"{headers['X-CARE-Timestamp']}.{delivery.id}.".encode() + body
    expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
    assert headers["X-CARE-Signature"] == f"sha256={expected}"
    document = json.loads(body)
    assert_valid_eido(document)
    assert document["incidentComponent"]["internalIncidentId"] == incident["cad_number"]
    assert deliver_due() == (0, 0)  # delivered once it was taken


def test_every_change_is_queued_once_in_stream_order(receiver, dispatched, move):
    call = dispatched()
    assert enqueue_changes() == 1  # the call and its dispatch, one document of its state now
    assert move("officer1", call["spd"], "acknowledged").status_code == 200
    assert enqueue_changes() == 1
    assert enqueue_changes() == 0  # nothing new
    seqs = list(CadDelivery.objects.order_by("created_at").values_list("event_seq", flat=True))
    assert seqs == sorted(seqs) and len(set(seqs)) == 2
    assert deliver_due() == (2, 0)
    last = json.loads(receiver.received[-1]["body"])
    statuses = {
        u["emergencyResourceName"]: u["primaryUnitStatusRegistryText"]
        for u in last["emergencyResourceComponent"]
    }
    assert statuses == {"2M12": "Acknowledged", "CARE-1": "Dispatched"}


def test_the_always_on_command_queues_and_delivers_in_one_round(receiver, new_call):
    new_call()
    out = io.StringIO()
    call_command("deliver_cad_updates", "--once", stdout=out)
    assert "queued 1, delivered 1, failed 0" in out.getvalue()
    assert len(receiver.received) == 1


def test_nothing_is_queued_without_a_configured_cad(settings, new_call):
    settings.CARE_CAD_ENDPOINT_URL = ""
    new_call()
    assert enqueue_changes() == 0
    assert not CadDelivery.objects.exists()


def _one_delivery(receiver, new_call) -> tuple[dict, bytes]:
    new_call()
    enqueue_changes()
    assert deliver_due() == (1, 0)
    [got] = receiver.received
    return got["headers"], got["body"]


def test_a_captured_delivery_sent_again_under_a_fresh_id_fails_the_receivers_check(
    receiver, new_call
):
    headers, body = _one_delivery(receiver, new_call)
    seen: set[str] = set()
    assert verify_delivery(SECRET, headers, body, seen) is None
    fresh = {**headers, "X-CARE-Delivery": str(uuid.uuid4())}
    assert verify_delivery(SECRET, fresh, body, seen) == "bad signature"
    assert verify_delivery(SECRET, headers, body, seen) == "already taken"
    later = int(headers["X-CARE-Timestamp"]) + 301
    assert verify_delivery(SECRET, headers, body, set(), now=later) == (
        "timestamp outside the window"
    )
    assert verify_delivery("another-secret", headers, body, set()) == "bad signature"


def test_a_delivery_does_not_follow_a_redirect(receiver, new_call):
    elsewhere = Receiver()
    try:
        receiver.mode = f"redirect {elsewhere.url}"
        new_call()
        enqueue_changes()
        assert deliver_due() == (0, 1)
        delivery = CadDelivery.objects.get()
        assert delivery.delivered_at is None
        assert "redirect" in delivery.last_error
        assert elsewhere.received == []
    finally:
        elsewhere.close()
