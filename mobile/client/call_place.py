"""Where the call is from the unit: what the assignment's small map draws, and where the
Navigate button points. No Kivy here: the widget only paints what `MapFrame` works out."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from mobile.client.position import metres_between

Point = tuple[float, float]  # (latitude, longitude)


@dataclass(frozen=True)
class MapFrame:
    """Latitude/longitude to pixels for a box of `width` x `height`, north up, with the same
    scale both ways (a degree of longitude is shorter than one of latitude by cos(latitude))."""

    south: float
    west: float
    scale: float  # pixels per degree of latitude
    squeeze: float  # cos(latitude): a degree of longitude in degrees of latitude
    offset_x: float
    offset_y: float

    @classmethod
    def around(
        cls, points: list[Point], width: float, height: float, margin: float = 12
    ) -> MapFrame:
        lats = [p[0] for p in points]
        lons = [p[1] for p in points]
        south, north, west, east = min(lats), max(lats), min(lons), max(lons)
        squeeze = math.cos(math.radians((south + north) / 2))
        span_y = max(north - south, 0.002)
        span_x = max((east - west) * squeeze, 0.002)
        scale = min((width - 2 * margin) / span_x, (height - 2 * margin) / span_y)
        # Centre the drawing in the box.
        offset_x = (width - (east - west) * squeeze * scale) / 2
        offset_y = (height - (north - south) * scale) / 2
        return cls(south, west, scale, squeeze, offset_x, offset_y)

    def to_pixels(self, point: Point) -> tuple[float, float]:
        """(x, y) from the box's bottom-left corner, as Kivy's canvas counts."""
        x = self.offset_x + (point[1] - self.west) * self.squeeze * self.scale
        y = self.offset_y + (point[0] - self.south) * self.scale
        return x, y


def outline_rings(geometry: dict[str, Any] | None) -> list[list[Point]]:
    """The outer rings of a GeoJSON Polygon or MultiPolygon as (latitude, longitude) lists."""
    if not geometry:
        return []
    if geometry.get("type") == "Polygon":
        polygons = [geometry["coordinates"]]
    elif geometry.get("type") == "MultiPolygon":
        polygons = geometry["coordinates"]
    else:
        return []
    return [[(lat, lon) for lon, lat, *_ in polygon[0]] for polygon in polygons if polygon]


def call_point(call: dict[str, Any]) -> Point | None:
    if call.get("latitude") is None or call.get("longitude") is None:
        return None
    return (float(call["latitude"]), float(call["longitude"]))


def distance_text(unit: Point | None, call: Point | None) -> str:
    """ "1.4 km from you" for the responder, or why there is no distance."""
    if call is None:
        return "The call has no location yet."
    if unit is None:
        return "Your position is not known yet."
    metres = metres_between(unit, call)
    if metres < 1000:
        return f"{metres:.0f} m from you"
    return f"{metres / 1000:.1f} km from you"


def navigate_uri(call: Point, label: str, *, android: bool) -> str:
    """The device's maps app on Android (a geo: URI); a map page on a desktop."""
    lat, lon = call
    if android:
        return f"geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}({quote(label)})"
    return (
        f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=17/{lat:.6f}/{lon:.6f}"
    )


def last_fix(store) -> Point | None:
    """The unit's position as this tablet last reported it."""
    reported = store.get_setting("position_reported")
    if not reported:
        return None
    return (reported["latitude"], reported["longitude"])
