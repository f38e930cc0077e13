"""Importing SPD's Call Data export: rows placed in their areas, bad rows counted and kept with
their line, a file that is not the export refused in the project's error shape."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from server.errors import InvalidInput
from server.interop.replay import COLUMNS
from server.planner.history import import_export, import_program
from server.planner.models import HistoricalCall

SAMPLE = Path(__file__).resolve().parents[3] / "fixtures" / "seattle" / "spd-call-data-sample.csv"
# 3rd Ave & Pine St: DOWNTOWN COMMERICAL. 23rd & Union: Central District, not in the pilot.
DOWNTOWN = ("-122.3396", "47.6107")
CENTRAL = ("-122.3020", "47.6131")


def export(rows: list[dict]) -> io.StringIO:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({c: "" for c in COLUMNS} | row)
    out.seek(0)
    return out


def row(when: str, call_type: str = "DOWN - CHECK FOR DOWN PERSON", where=DOWNTOWN, **more):
    return {
        "Original Time Queued": when,
        "Initial Call Type": call_type,
        "Blurred_Longitude": where[0],
        "Blurred_Latitude": where[1],
        **more,
    }


def test_rows_are_placed_in_the_area_that_covers_them(reference):
    history = import_export(
        export([row("03/02/2024 1:05:00 PM"), row("03/02/2024 2:05:00 PM", where=CENTRAL)]),
        name="two calls",
    )
    areas = list(HistoricalCall.objects.filter(history=history).values_list("area", flat=True))
    assert areas[0] == "DOWNTOWN COMMERICAL"
    assert areas[1] not in ("", "DOWNTOWN COMMERICAL")
    assert (history.calls, history.rows_bad) == (2, 0)


def test_bad_rows_are_counted_with_their_line_and_the_good_ones_kept(reference):
    history = import_export(
        export(
            [
                row("03/02/2024 1:05:00 PM"),
                row("yesterday"),
                row("03/02/2024 1:07:00 PM", call_type=""),
                row("03/02/2024 1:08:00 PM", where=("-122.3", "north")),
                row("03/02/2024 1:09:00 PM", where=("-122.3", "95")),
            ]
        ),
        name="some bad",
    )
    assert (history.rows_read, history.calls, history.rows_bad) == (5, 1, 4)
    assert [bad["line"] for bad in history.bad_examples] == [3, 4, 5, 6]
    assert "Original Time Queued" in history.bad_examples[0]["reason"]


def test_the_minutes_to_the_first_arrival_are_kept_where_the_export_has_them(reference):
    history = import_export(
        export(
            [
                row("03/02/2024 1:05:00 PM", **{"Arrived Time": "03/02/2024 1:17:30 PM"}),
                row("03/02/2024 1:06:00 PM"),
            ]
        ),
        name="arrivals",
    )
    minutes = HistoricalCall.objects.filter(history=history).order_by("received_at")
    assert list(minutes.values_list("arrived_minutes", flat=True)) == [12.5, None]


def test_a_file_that_is_not_the_export_is_refused_naming_the_missing_columns(reference):
    with pytest.raises(InvalidInput) as refused:
        import_export(io.StringIO("when,what\n1,2\n"), name="wrong")
    assert "Original Time Queued" in refused.value.detail
    assert set(refused.value.fields) == {"file"}


def test_a_history_name_is_used_once(reference):
    import_export(export([row("03/02/2024 1:05:00 PM")]), name="once")
    with pytest.raises(InvalidInput) as refused:
        import_export(export([row("03/02/2024 1:05:00 PM")]), name="once")
    assert refused.value.fields == {"name": ["Already used."]}


def test_the_real_sample_of_the_export_imports_every_row(reference):
    with SAMPLE.open(newline="") as handle:
        history = import_export(handle, name="sample")
    with SAMPLE.open(newline="") as handle:
        rows = sum(1 for _ in csv.DictReader(handle))
    assert history.rows_read == rows
    assert history.calls + history.rows_bad == rows
    assert history.calls > 200


def test_the_programs_own_incidents_become_a_history(reference, people):
    from tests.server.planner.worlds import record_call

    record_call(people, at="2026-03-02T12:00:00-08:00", reached=True)
    history = import_program(name="ours")
    assert history.calls == 1
    stored = HistoricalCall.objects.get(history=history)
    assert stored.call_type == "DOWN - CHECK FOR DOWN PERSON"
    assert stored.area == "DOWNTOWN COMMERICAL"
