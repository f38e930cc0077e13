"""The planner's pictures, drawn on the server: pygal charts in the dashboard's style, and a map
of the areas shaded by unserved calls (SVG paths from the live areas' polygons; no script,
no tiles)."""

from __future__ import annotations

import math
import re
from html import escape

import pygal
from django.utils.safestring import SafeString, mark_safe
from shapely.geometry import shape

from server.planner.presenters import SHADES, WEEKDAYS
from server.reports.charts import STYLE

_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)


def _render(chart) -> SafeString:
    # Pygal writes a <script> for a tooltip library this site does not load: drop it.
    return mark_safe(_SCRIPT.sub("", chart.render(is_unicode=True)))


def _chart(kind, title: str, **more):
    return kind(
        style=STYLE,
        js=[],
        disable_xml_declaration=True,
        explicit_size=False,
        width=720,
        height=360,
        title=title,
        show_legend=False,
        **more,
    )


def share_chart(rows: list[dict]) -> SafeString:
    """Each scenario's share of eligible calls reached, with its 95 % interval."""
    chart = _chart(pygal.Bar, "Share of eligible calls CARE reaches (95 % interval)")
    chart.range = (0, 100)
    chart.x_labels = [row["scenario"] for row in rows]
    chart.add(
        "Share reached (%)",
        [
            {
                "value": round(100 * row["share"]["mean"], 1),
                "ci": {"low": 100 * row["share"]["low"], "high": 100 * row["share"]["high"]},
            }
            for row in rows
        ],
    )
    return _render(chart)


def unserved_by_hour_chart(results: dict) -> SafeString:
    chart = _chart(
        pygal.Bar,
        "Eligible calls no team was free for, by hour of the week",
        x_label_rotation=0,
        show_minor_x_labels=False,
        truncate_label=-1,
    )
    labels = [f"{WEEKDAYS[h // 24]} {h % 24:02d}" for h in range(168)]
    chart.x_labels = labels
    chart.x_labels_major = labels[::24]
    chart.add("Unserved", [results["unserved_by_hour"].get(str(h), 0) for h in range(168)])
    return _render(chart)


def _rings(geometry: dict) -> list[list]:
    polygons = (
        geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    )
    return [ring for polygon in polygons for ring in polygon]


def area_map(areas: list[tuple[str, dict]], unserved: dict[str, float]) -> SafeString:
    """The areas as SVG, each shaded by its unserved calls, with its name and count as title."""
    if not areas:
        return mark_safe("")
    bounds = [shape(g).bounds for _, g in areas]
    west, south = min(b[0] for b in bounds), min(b[1] for b in bounds)
    east, north = max(b[2] for b in bounds), max(b[3] for b in bounds)
    squeeze = math.cos(math.radians((south + north) / 2))  # a degree east is shorter
    width, height = 360.0, 360.0 * (north - south) / max((east - west) * squeeze, 1e-9)
    top = max(unserved.values(), default=0) or 1

    def point(lon: float, lat: float) -> str:
        x = (lon - west) * squeeze / max((east - west) * squeeze, 1e-9) * width
        y = (north - lat) / max(north - south, 1e-9) * height
        return f"{x:.1f},{y:.1f}"

    paths = []
    for name, geometry in areas:
        count = unserved.get(name, 0)
        shade = SHADES[min(4, math.ceil(4 * count / top))]
        rings = " ".join(
            "M" + " L".join(point(*xy[:2]) for xy in ring) + "Z" for ring in _rings(geometry)
        )
        paths.append(
            f'<path d="{rings}" fill="{shade}" stroke="#555" stroke-width="0.5">'
            f"<title>{escape(name)}: {count:.1f} unserved</title></path>"
        )
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'role="img" aria-label="Unserved eligible calls by area" class="area-map">'
        + "".join(paths)
        + "</svg>"
    )
