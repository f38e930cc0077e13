"""The CAD replay: SPD's 13-column Call Data export as EIDO documents, posted in time order, and
the generated demo day in the same format."""

from __future__ import annotations

import csv
import datetime
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.management import call_command

from server.dispatch.models import Incident
from server.interop.conformance import eido_errors
from server.interop.eido_in import read_document
from server.interop.replay import COLUMNS, demo_day, queued_at

SAMPLE = Path(__file__).resolve().parents[3] / "fixtures/seattle/spd-call-data-sample.csv"
DEMO = Path(__file__).resolve().parents[3] / "fixtures/cad-demo-day.csv"


@pytest.fixture
def collector():
    got: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            got.append((self.headers["Authorization"], body))
            answer = json.dumps({"outcome": "created", "status": "screened"}).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", got
    server.shutdown()
    server.server_close()


def test_the_sample_export_is_posted_in_time_order_as_readable_eido(collector):
    url, got = collector
    out = io.StringIO()
    call_command(
        "replay_cad", str(SAMPLE), "--speed", "0", "--url", url, "--key", "k.1", stdout=out
    )
    with SAMPLE.open(newline="") as handle:
        expected = sum(1 for r in csv.DictReader(handle) if r["Original Time Queued"].strip())
    assert len(got) == expected
    assert {auth for auth, _ in got} == {"Api-Key k.1"}
    starts = [
        datetime.datetime.fromisoformat(doc["callComponent"][0]["callStartTimestamp"])
        for _, doc in got
    ]
    assert starts == sorted(starts)
    assert [eido_errors(doc) for _, doc in got] == [[]] * expected  # NENA's schema takes each
    # Calls queued before the program's records begin (2018's) are refused as out of range by
    # our own endpoint; the first of the program's years reads as any CAD's call.
    in_program = next(
        doc for start, (_, doc) in zip(starts, got, strict=True) if start.year >= 2020
    )
    first = read_document(in_program)
    assert first.where.has_point and first.cad_key.isdigit()


def test_a_replayed_row_becomes_a_call_through_the_real_endpoint(send):
    from server.interop.replay import row_to_eido

    with SAMPLE.open(newline="") as handle:
        row = next(csv.DictReader(handle))
    answer = send(row_to_eido(row))
    assert answer.status_code == 201, answer.content
    incident = Incident.objects.get()
    assert incident.cad_number == row["CAD Event Number"]
    assert incident.call_type.code == row["Initial Call Type"]
    assert incident.longitude == float(row["Blurred_Longitude"])


def test_the_demo_day_is_in_the_exports_format_with_eligible_and_ineligible_calls():
    with DEMO.open(newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == COLUMNS
    types = [r["Initial Call Type"] for r in rows]
    assert types.count("DOWN - CHECK FOR DOWN PERSON") >= 1
    assert types.count("SERVICE - WELFARE CHECK") >= 1
    assert any(t not in ("DOWN - CHECK FOR DOWN PERSON", "SERVICE - WELFARE CHECK") for t in types)
    assert [queued_at(r) for r in rows] == sorted(queued_at(r) for r in rows)


def test_the_demo_day_follows_the_seed_rates_over_many_days():
    days = [list(demo_day(datetime.date(2026, 1, 1), seed=s)) for s in range(60)]
    welfare = sum(r["Initial Call Type"] == "SERVICE - WELFARE CHECK" for d in days for r in d)
    down = sum(r["Initial Call Type"] == "DOWN - CHECK FOR DOWN PERSON" for d in days for r in d)
    # 5,533 and 2,686 a year: about 15.2 and 7.4 a day; 60 days keep well inside these bounds.
    assert 12 < welfare / 60 < 18.5
    assert 5.5 < down / 60 < 9.5
