"""Where the call is from the unit: the small map's frame, the distance and the Navigate link."""

from __future__ import annotations

from mobile.client.call_place import (
    MapFrame,
    call_point,
    distance_text,
    navigate_uri,
    outline_rings,
)

CALL = (47.6017, -122.3331)  # 2nd Ave & Yesler Way


def test_navigate_opens_the_devices_maps_app_with_a_geo_uri_on_android():
    assert navigate_uri(CALL, "2nd Ave & Yesler Way", android=True) == (
        "geo:47.601700,-122.333100?q=47.601700,-122.333100(2nd%20Ave%20%26%20Yesler%20Way)"
    )
    desktop = navigate_uri(CALL, "x", android=False)
    assert desktop.startswith("https://www.openstreetmap.org/?mlat=47.601700&mlon=-122.333100")


def test_the_frame_keeps_north_up_and_every_point_inside_the_box():
    points = [(47.59, -122.34), (47.62, -122.32), CALL]
    frame = MapFrame.around(points, 400, 300)
    pixels = [frame.to_pixels(p) for p in points]
    assert all(0 <= x <= 400 and 0 <= y <= 300 for x, y in pixels)
    north, south = frame.to_pixels((47.62, -122.33)), frame.to_pixels((47.59, -122.33))
    assert north[1] > south[1]
    east, west = frame.to_pixels((47.6, -122.32)), frame.to_pixels((47.6, -122.34))
    assert east[0] > west[0]


def test_the_distance_says_why_when_there_is_none():
    assert distance_text(None, CALL) == "Your position is not known yet."
    assert distance_text(CALL, None) == "The call has no location yet."
    assert distance_text((47.6005, -122.3325), CALL) == "141 m from you"
    assert distance_text((47.6107, -122.3396), CALL) == "1.1 km from you"


def test_outlines_and_points_are_read_from_the_protocol_and_the_call():
    square = [[[-122.34, 47.60], [-122.33, 47.60], [-122.33, 47.61], [-122.34, 47.60]]]
    assert outline_rings({"type": "Polygon", "coordinates": square})[0][0] == (47.60, -122.34)
    assert len(outline_rings({"type": "MultiPolygon", "coordinates": [square, square]})) == 2
    assert outline_rings(None) == []
    assert call_point({"latitude": None, "longitude": None}) is None
    assert call_point({"latitude": 47.6, "longitude": -122.3}) == (47.6, -122.3)
