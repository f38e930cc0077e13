"""The unit's position, reported to dispatch: every 15 s while moving, every 2 minutes while still.

A fix goes out as the offline mutation `unit.position`, like every other change, so it waits in
the outbox when the network is away. Only the latest one matters to a dispatcher: a new fix
replaces the one still queued, so a tablet back from a dead zone sends one position, not a
backlog. Fixes come from a source: Android's GPS through plyer, a fixed point given on the command
line (`--position LAT,LON`, for demos and tests), or none.
"""

from __future__ import annotations

import datetime
import logging
import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from mobile.client.store import PENDING, Store, iso, now

MOVING_INTERVAL = datetime.timedelta(seconds=15)
STILL_INTERVAL = datetime.timedelta(minutes=2)
# Closer than this to the last report is "still" (GPS wanders a few metres standing still).
MOVING_METRES = 30.0
TICK_SECONDS = 5.0
POSITION = "unit.position"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fix:
    latitude: float
    longitude: float
    accuracy_m: float | None
    at: datetime.datetime


class PositionSource(Protocol):
    def latest(self) -> Fix | None: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...


def parse_position(text: str) -> tuple[float, float]:
    """`--position 47.6107,-122.3396` -> (47.6107, -122.3396); ValueError if it isn't one."""
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError("Give the position as LAT,LON, e.g. 47.6107,-122.3396.")
    latitude, longitude = (float(p) for p in parts)
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise ValueError("That position is not on the globe.")
    return latitude, longitude


class FixedPosition:
    """A desktop tablet that stands at one point (demos and tests): always a fresh fix there."""

    def __init__(self, latitude: float, longitude: float, accuracy_m: float = 10.0):
        self.latitude, self.longitude, self.accuracy_m = latitude, longitude, accuracy_m

    def latest(self) -> Fix:
        return Fix(self.latitude, self.longitude, self.accuracy_m, now())

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


class AndroidGps:
    """The device's GPS through plyer; keeps the newest fix it was given."""

    def __init__(self) -> None:
        self._fix: Fix | None = None

    def _on_location(self, **reading: Any) -> None:
        self._fix = Fix(
            float(reading["lat"]),
            float(reading["lon"]),
            float(reading["accuracy"]) if reading.get("accuracy") is not None else None,
            now(),
        )

    def latest(self) -> Fix | None:
        return self._fix

    def start(self) -> None:
        from plyer import gps  # Android only; imported here so a desktop never needs it

        gps.configure(on_location=self._on_location)
        gps.start(minTime=1000, minDistance=0)

    def stop(self) -> None:
        from plyer import gps

        gps.stop()


def metres_between(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Haversine distance: plenty for telling moving from still."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def unit_entity(unit_id: int) -> str:
    """The mutation entity every fix of one unit shares (a unit's id is a number, not a UUID)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"care-field:unit:{unit_id}"))


class PositionReporter:
    def __init__(
        self,
        store: Store,
        source: PositionSource | None = None,
        *,
        on_change: Callable[[], None] | None = None,
    ):
        self.store = store
        self.source = source
        self.on_change = on_change or (lambda: None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def unit_id(self) -> int | None:
        unit = (self.store.get_setting("user") or {}).get("unit")
        if isinstance(unit, dict):
            unit = unit.get("id")
        return int(unit) if unit else None

    def due(self, fix: Fix) -> bool:
        """Time to report this fix? 15 s after the last report when moving, 2 min when still."""
        last = self.store.get_setting("position_reported")
        if not last:
            return True
        since = fix.at - datetime.datetime.fromisoformat(last["at"])
        moved = metres_between((last["latitude"], last["longitude"]), (fix.latitude, fix.longitude))
        interval = MOVING_INTERVAL if moved >= MOVING_METRES else STILL_INTERVAL
        return since >= interval

    def offer(self, fix: Fix | None) -> str | None:
        """Queue this fix when it is due; returns the mutation id, or None."""
        unit = self.unit_id()
        if fix is None or unit is None or not self.due(fix):
            return None
        entity = unit_entity(unit)
        with self.store.transaction() as db:
            # Only the latest matters: a fix still waiting to go is replaced, never stacked. One
            # marked sent whose push never got through goes too: if it did arrive, this newer
            # fix wins on the server anyway.
            db.execute(
                "DELETE FROM outbox WHERE type = ? AND entity_id = ? AND state IN (?, ?)",
                (POSITION, entity, *PENDING),
            )
            mutation = self.store.enqueue(
                db,
                type=POSITION,
                entity_id=entity,
                occurred_at=fix.at,
                data={
                    "unit": unit,
                    "latitude": fix.latitude,
                    "longitude": fix.longitude,
                    "accuracy_m": fix.accuracy_m,
                    "recorded_at": iso(fix.at),
                },
            )
        self.store.set_settings(
            position_reported={
                "latitude": fix.latitude,
                "longitude": fix.longitude,
                "at": iso(fix.at),
            }
        )
        self.on_change()
        return mutation.id

    def tick(self) -> str | None:
        return self.offer(self.source.latest() if self.source else None)

    # ---- the background loop ------------------------------------------------------------------

    def start(self) -> None:
        if self.source is None or self._thread is not None:
            return
        self.source.start()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="care-position", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a bad fix or a closed store must not end the loop
                logger.exception("position: could not queue a fix")
            self._stop.wait(TICK_SECONDS)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self.source is not None:
            self.source.stop()
