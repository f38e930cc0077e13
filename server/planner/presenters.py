"""A run's figures as a manager reads them: headline rows, the heat table of unserved calls by
hour of the week, and the rows of its CSV. Aggregates only."""

from __future__ import annotations

import math

from server.planner.models import PlanRun

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Lightest to darkest: no unserved calls, then four steps up to the most.
SHADES = ("#f4f4f4", "#fde0c5", "#f9a76c", "#e5642b", "#a8320d")
CSV_HEADER = ["run", "scenario", "history", "section", "figure", "value", "low", "high"]


def _percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def headline(results: dict) -> list[dict]:
    """(label, shown value, interval) rows of a run's figures."""
    share, per_hour = results["share"], results["per_team_hour"]
    median, p90 = results["wait_median"], results["wait_p90"]
    freed = results["police_hours_freed"]
    return [
        {"label": "Eligible calls in the history", "value": f"{results['eligible']:,}"},
        {
            "label": "Share of eligible calls CARE reaches",
            "value": _percent(share["mean"]),
            "interval": f"{_percent(share['low'])} to {_percent(share['high'])}",
        },
        {
            "label": "Calls reached per team-hour on duty",
            "value": f"{per_hour['mean']:.2f}",
            "interval": f"{per_hour['low']:.2f} to {per_hour['high']:.2f}",
        },
        {"label": "Minutes from call to CARE on scene, median", "value": f"{median['mean']:.1f}"},
        {"label": "Minutes from call to CARE on scene, 90th pct.", "value": f"{p90['mean']:.1f}"},
        {
            "label": "Police unit-hours freed over the history",
            "value": f"{freed['mean']:,.0f}",
            "interval": f"{freed['low']:,.0f} to {freed['high']:,.0f}",
        },
        {
            "label": "Police unit-hours freed a year",
            "value": f"{results['police_hours_freed_per_year']:,.0f}",
        },
        {"label": "Team-hours on duty over the history", "value": f"{results['team_hours']:,.0f}"},
    ]


def heat_table(results: dict) -> list[dict]:
    """Unserved calls (mean per replication) by weekday and hour, with a shade from 0 to 4."""
    cells = results["unserved_by_hour"]
    top = max(cells.values(), default=0) or 1
    rows = []
    for day, name in enumerate(WEEKDAYS):
        hours = []
        for hour in range(24):
            value = cells.get(str(day * 24 + hour), 0)
            shade = min(4, math.ceil(4 * value / top))
            hours.append({"value": value, "shade": shade, "colour": SHADES[shade]})
        rows.append({"day": name, "hours": hours})
    return rows


def area_rows(results: dict) -> list[dict]:
    counts = results["unserved_by_area"]
    return [
        {"area": area, "unserved": value}
        for area, value in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def csv_rows(run: PlanRun) -> list[list]:
    results, base = run.results, [run.pk, run.scenario_name, run.history_name]
    rows = [[*base, "run", "eligible", results["eligible"], "", ""]]
    for name in ("share", "per_team_hour", "wait_median", "wait_p90", "police_hours_freed"):
        figure = results[name]
        rows.append([*base, "run", name, figure["mean"], figure["low"], figure["high"]])
    rows.append([*base, "run", "team_hours", results["team_hours"], "", ""])
    for hour, value in results["unserved_by_hour"].items():
        day, at = divmod(int(hour), 24)
        rows.append([*base, "unserved_by_hour", f"{WEEKDAYS[day]} {at:02d}:00", value, "", ""])
    for area, value in results["unserved_by_area"].items():
        rows.append([*base, "unserved_by_area", area, value, "", ""])
    target = results.get("target")
    if target:
        rows.append([*base, "target", f"teams for {target['target']:.0%}", target["teams"], "", ""])
    return rows
