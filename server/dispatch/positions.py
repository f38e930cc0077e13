"""What makes a unit's position fix absurd, and how far a unit is from a call.

Straight-line distances on the sphere (geopy's great circle): close enough to rank units a few
kilometres apart, and cheap enough to rank three hundred of them per call.
"""

from __future__ import annotations

import datetime
from math import cos, radians

from django.conf import settings
from geopy.distance import great_circle

from server.dispatch.geography import service_bounds
from server.dispatch.models import PositionRefusalReason, Unit

# GPS jitter: two fixes this close never count as movement, however little time separates them.
JITTER_M = 100.0
KM_PER_DEGREE_LAT = 111.0


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Metres between two (latitude, longitude) points."""
    return great_circle(a, b).meters


def outside_service_area(latitude: float, longitude: float) -> bool:
    """Further than the margin outside the box around every beat and area."""
    bounds = service_bounds()
    if bounds is None:
        return False  # no geography loaded: nothing to judge by
    min_lon, min_lat, max_lon, max_lat = bounds
    margin_km = settings.CARE_POSITION_AREA_MARGIN_KM
    lat_margin = margin_km / KM_PER_DEGREE_LAT
    # A degree of longitude shrinks with the cosine of the latitude (about 0.67 in Seattle).
    lon_margin = margin_km / (KM_PER_DEGREE_LAT * max(cos(radians((min_lat + max_lat) / 2)), 0.1))
    return not (
        min_lat - lat_margin <= latitude <= max_lat + lat_margin
        and min_lon - lon_margin <= longitude <= max_lon + lon_margin
    )


def implied_speed_kmh(
    unit: Unit, latitude: float, longitude: float, at: datetime.datetime
) -> float:
    """The speed the unit would have driven at from its last fix to this one (0 without one)."""
    if unit.last_position_at is None or unit.last_latitude is None:
        return 0.0
    metres = distance_m((unit.last_latitude, unit.last_longitude), (latitude, longitude))
    if metres <= JITTER_M:
        return 0.0
    seconds = max((at - unit.last_position_at).total_seconds(), 1.0)
    return metres / seconds * 3.6


def absurdity(
    unit: Unit, latitude: float, longitude: float, at: datetime.datetime
) -> tuple[str, str] | None:
    """(reason code, sentence) when the fix can't be true, else None."""
    if outside_service_area(latitude, longitude):
        return (
            PositionRefusalReason.OUTSIDE_AREA,
            f"This fix is more than {settings.CARE_POSITION_AREA_MARGIN_KM:g} km outside the "
            "service area; check the tablet's location setting.",
        )
    speed = implied_speed_kmh(unit, latitude, longitude, at)
    if speed > settings.CARE_POSITION_MAX_SPEED_KMH:
        return (
            PositionRefusalReason.IMPOSSIBLE_SPEED,
            f"This fix means driving at {speed:.0f} km/h since the last one (at most "
            f"{settings.CARE_POSITION_MAX_SPEED_KMH:g} km/h is believed).",
        )
    return None


def eta_minutes(metres: float) -> float:
    """Drive time at the configured average speed, to a tenth of a minute."""
    speed_m_per_min = settings.CARE_AVERAGE_SPEED_KMH * 1000 / 60
    return round(metres / speed_m_per_min, 1)


def is_fresh(unit: Unit, now: datetime.datetime) -> bool:
    if unit.last_position_at is None or unit.last_latitude is None:
        return False
    age = (now - unit.last_position_at).total_seconds()
    return age <= settings.CARE_POSITION_FRESH_SECONDS
