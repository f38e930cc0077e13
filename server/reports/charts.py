"""Server-side SVG charts for the public dashboard (pygal; no script, nothing from another host).

A suppressed cell is drawn as no bar at all, never as its true height: the picture must not
reveal what the table hides.
"""

from __future__ import annotations

import re

import pygal
from django.utils.safestring import SafeString, mark_safe
from pygal.style import Style

_SCRIPT = re.compile(r"<script\b.*?</script>", re.S)

# Dark ink on white and a blue that keeps 4.5:1 contrast against white.
STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#111111",
    foreground_strong="#111111",
    foreground_subtle="#444444",
    colors=("#1f4e9c", "#8a3b12", "#2d6a2d", "#6b2a7a"),
    font_family="system-ui, sans-serif",
    label_font_size=12,
    major_label_font_size=12,
    title_font_size=15,
)


def bar_chart(title: str, rows: list[dict], key: str, *, horizontal: bool = False) -> SafeString:
    chart_class = pygal.HorizontalBar if horizontal else pygal.Bar
    chart = chart_class(
        style=STYLE,
        js=[],
        show_legend=False,
        disable_xml_declaration=True,
        explicit_size=False,
        width=720,
        height=360 if not horizontal else max(200, 40 * len(rows) + 80),
        print_values=False,
        truncate_label=40,
        title=title,
    )
    chart.x_labels = [str(r[key]) for r in rows]
    # Only real counts are drawn: "<11" and "withheld" cells get no bar at all.
    chart.add(title, [r["count"] if isinstance(r["count"], int) else None for r in rows])
    # Pygal writes its configuration into a <script> for its optional tooltip library, which we
    # don't load: drop it so the page carries no script from the chart at all.
    svg = _SCRIPT.sub("", chart.render(is_unicode=True))
    return mark_safe(svg)
