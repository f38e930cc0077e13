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


def service_bounds() -> tuple[float, float, float, float] | None:
    """(min_lon, min_lat, max_lon, max_lat) around every beat and area, or None with none."""
    geoms = [row[-1].context for row in _shapes(Beat, "beats")]
    geoms += [row[-1].context for row in _shapes(Area, "areas", ("in_pilot",))]
    if not geoms:
        return None
    boxes = [g.bounds for g in geoms]
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def map_layers() -> dict:
    """The pilot area and the SPD beats as GeoJSON feature collections, for the board's map."""
    areas = [
        {"type": "Feature", "geometry": g, "properties": {"name": n}}
        for n, g in Area.objects.filter(in_pilot=True).values_list("name", "geometry")
    ]
    beats = [
        {"type": "Feature", "geometry": g, "properties": {"name": n}}
        for n, g in Beat.objects.values_list("name", "geometry")
    ]
    return {
        "pilot_area": {"type": "FeatureCollection", "features": areas},
        "beats": {"type": "FeatureCollection", "features": beats},
    }


def beat_centres() -> dict[str, tuple[float, float]]:
    """Each beat's representative point as (latitude, longitude): where a unit with no fresh
    fix is assumed to be (its home beat)."""
    centres = {}
    for name, geom in _shapes(Beat, "beats"):
        point = geom.context.representative_point()
        centres[name] = (point.y, point.x)
    return centres


# About 20 m: the tablet's small map needs the area's shape, not its surveyed edge.
OUTLINE_TOLERANCE_DEGREES = 0.0002


def pilot_outline() -> dict | None:
    """The pilot area as one simplified GeoJSON geometry (a few kilobytes), for the tablet."""
    from shapely.geometry import mapping
    from shapely.ops import unary_union

    shapes = [row[-1].context for row in _shapes(Area, "areas", ("in_pilot",)) if row[1]]
    if not shapes:
        return None
    outline = unary_union(shapes).simplify(OUTLINE_TOLERANCE_DEGREES, preserve_topology=True)
    return mapping(outline)


EARTH_RADIUS_M = 6_371_000


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine): ample at a city's scale."""
    import math

    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))
