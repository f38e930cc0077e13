"""Importing a history of calls: SPD's public Call Data export (the 13 columns the CAD replay
reads), streamed in batches; or the program's own incidents. Each call is placed in its area by
point-in-polygon against the live areas, many points at a time. A bad row is counted and its
line and reason kept (the first few), never fatal."""

from __future__ import annotations

import csv
import datetime
import math
from collections.abc import Callable, Iterable, Iterator
from typing import IO

import shapely
from django.db import transaction

from server.errors import InvalidInput
from server.interop.replay import COLUMNS, SEATTLE, TIME_FORMAT
from server.planner import selectors
from server.planner.models import (
    BAD_ROW_EXAMPLES,
    CallHistory,
    HistoricalCall,
    HistorySource,
)

BATCH = 5000
NEEDED = ("Original Time Queued", "Initial Call Type")
LONGEST_ARRIVAL_MINUTES = 24 * 60  # an "arrived" a day after queueing is a data error


class BadRow(ValueError):
    pass


def _time(raw: str, column: str) -> datetime.datetime:
    try:
        return datetime.datetime.strptime(raw.strip(), TIME_FORMAT).replace(tzinfo=SEATTLE)
    except ValueError as exc:
        raise BadRow(f"'{column}' is not a time like 01/31/2024 9:05:00 PM.") from exc


def _coordinate(raw: str | None, low: float, high: float, column: str) -> float | None:
    if raw is None or not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError as exc:
        raise BadRow(f"'{column}' is not a number.") from exc
    if not math.isfinite(value) or not low <= value <= high:
        raise BadRow(f"'{column}' is outside {low} to {high}.")
    return value


def parse_row(row: dict[str, str | None]) -> HistoricalCall:
    """One export row as an unsaved call (area not yet placed); BadRow says what is wrong."""
    raw_time = (row.get("Original Time Queued") or "").strip()
    call_type = (row.get("Initial Call Type") or "").strip()
    if not raw_time:
        raise BadRow("No 'Original Time Queued'.")
    if not call_type or len(call_type) > 120:
        raise BadRow("No 'Initial Call Type' (or longer than 120 characters).")
    queued = _time(raw_time, "Original Time Queued")
    latitude = _coordinate(row.get("Blurred_Latitude"), -90, 90, "Blurred_Latitude")
    longitude = _coordinate(row.get("Blurred_Longitude"), -180, 180, "Blurred_Longitude")
    if (latitude is None) != (longitude is None) or (latitude == 0 and longitude == 0):
        latitude = longitude = None  # half a position, or the export's "no position" zero
    arrived = None
    raw_arrived = (row.get("Arrived Time") or "").strip()
    if raw_arrived:
        minutes = (_time(raw_arrived, "Arrived Time") - queued).total_seconds() / 60
        arrived = minutes if 0 <= minutes <= LONGEST_ARRIVAL_MINUTES else None
    return HistoricalCall(
        received_at=queued,
        call_type=call_type,
        beat=(row.get("Beat") or "").strip()[:10],
        latitude=latitude,
        longitude=longitude,
        arrived_minutes=arrived,
    )


class AreaFinder:
    """Which live area covers each of many points, by one spatial-index query per batch."""

    def __init__(self) -> None:
        named = selectors.area_shapes()
        self.names = [name for name, _ in named]
        self.tree = shapely.STRtree([shapely.geometry.shape(geometry) for _, geometry in named])

    def place(self, calls: list[HistoricalCall]) -> None:
        located = [c for c in calls if c.latitude is not None]
        if not located or not self.names:
            return
        points = shapely.points([c.longitude for c in located], [c.latitude for c in located])
        hits = self.tree.query(points, predicate="covered_by")
        for point_index, area_index in zip(*hits, strict=True):
            call = located[point_index]
            if not call.area:
                call.area = self.names[area_index]


def _check_header(fieldnames: list[str] | None) -> None:
    missing = [c for c in NEEDED if c not in (fieldnames or [])]
    if missing:
        raise InvalidInput(
            f"This is not SPD's Call Data export: no column {', '.join(missing)}. "
            f"The export's columns are: {', '.join(COLUMNS)}.",
            fields={"file": [f"Missing column: {c}" for c in missing]},
        )


def _store(history: CallHistory, batch: list[HistoricalCall], areas: AreaFinder) -> None:
    areas.place(batch)
    for call in batch:
        call.history = history
    HistoricalCall.objects.bulk_create(batch, batch_size=BATCH)
    times = [c.received_at for c in batch]
    history.calls += len(batch)
    history.first_call_at = min([t for t in (history.first_call_at, *times) if t is not None])
    history.last_call_at = max([t for t in (history.last_call_at, *times) if t is not None])


def _new_history(name: str, source: str, file_name: str = "") -> CallHistory:
    name = name.strip()
    if not name or len(name) > 120:
        raise InvalidInput(
            "Name the history (1 to 120 characters).", fields={"name": ["Required."]}
        )
    if CallHistory.objects.filter(name=name).exists():
        raise InvalidInput(
            f"There is already a history named '{name}'.", fields={"name": ["Already used."]}
        )
    return CallHistory.objects.create(name=name, source=source, file_name=file_name[:255])


def import_export(
    handle: IO[str],
    *,
    name: str,
    file_name: str = "",
    progress: Callable[[int], None] | None = None,
) -> CallHistory:
    """Stream an export's rows into a new history; `progress(rows)` after each batch."""
    reader = csv.DictReader(handle)
    _check_header(reader.fieldnames)
    areas = AreaFinder()
    with transaction.atomic():
        history = _new_history(name, HistorySource.SPD_EXPORT, file_name)
        batch: list[HistoricalCall] = []
        for row in reader:
            history.rows_read += 1
            try:
                batch.append(parse_row(row))
            except BadRow as bad:
                history.rows_bad += 1
                if len(history.bad_examples) < BAD_ROW_EXAMPLES:
                    history.bad_examples.append({"line": reader.line_num, "reason": str(bad)})
            if len(batch) >= BATCH:
                _store(history, batch, areas)
                batch = []
                if progress:
                    progress(history.rows_read)
        if batch:
            _store(history, batch, areas)
        history.save()
    if progress:
        progress(history.rows_read)
    return history


def _program_calls(rows: Iterable[selectors.Row]) -> Iterator[HistoricalCall]:
    for received_at, call_type, area, beat, latitude, longitude, _arrived in rows:
        yield HistoricalCall(
            received_at=received_at,
            call_type=call_type,
            area=area,
            beat=beat,
            latitude=latitude,
            longitude=longitude,
        )


def import_program(*, name: str, start=None, end=None) -> CallHistory:
    """The program's own incidents (time, call type, place) as a history."""
    with transaction.atomic():
        history = _new_history(name, HistorySource.PROGRAM)
        batch: list[HistoricalCall] = []
        areas = AreaFinder()
        for call in _program_calls(selectors.program_rows(start, end)):
            history.rows_read += 1
            batch.append(call)
            if len(batch) >= BATCH:
                _store(history, batch, areas)
                batch = []
        if batch:
            _store(history, batch, areas)
        history.save()
    return history
