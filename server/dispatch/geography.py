"""Where a call is: which pilot area (if any) and which SPD beat, by point-in-polygon.

Polygons live in the database (admins edit them); parsed shapely shapes are cached and rebuilt
when any row changes, so screening a call doesn't re-parse a megabyte of GeoJSON.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Max
from shapely import prepared
from shapely.geometry import Point, shape

from server.dispatch.models import Area, Beat


@dataclass(frozen=True)
class Place:
    beat: str
    area: str
    in_pilot_area: bool


_cache: dict[str, tuple[tuple, list[tuple[str, bool, object]]]] = {}


def _shapes(model, key: str, extra: tuple[str, ...] = ()) -> list[tuple]:
    stamp = tuple(model.objects.aggregate(n=Count("id"), at=Max("updated_at")).values())
    cached = _cache.get(key)
    if cached and cached[0] == stamp:
        return cached[1]
    rows = [
        (r["name"], *(r[f] for f in extra), prepared.prep(shape(r["geometry"])))
        for r in model.objects.values("name", "geometry", *extra)
    ]
    _cache[key] = (stamp, rows)
    return rows


def locate(*, latitude: float, longitude: float) -> Place:
    point = Point(longitude, latitude)
    beat = next((name for name, geom in _shapes(Beat, "beats") if geom.covers(point)), "")
    area, in_pilot = "", False
    for name, pilot, geom in _shapes(Area, "areas", ("in_pilot",)):
        if geom.covers(point):
            area, in_pilot = name, pilot
            if pilot:
                break
    return Place(beat=beat, area=area, in_pilot_area=in_pilot)


EARTH_RADIUS_M = 6_371_000


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine): ample at a city's scale."""
    import math

    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))
