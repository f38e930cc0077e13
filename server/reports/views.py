"""The public dashboard: the program's figures as a page, charts and a CSV (no login).

The public picks a whole published period; signed-in staff may also ask a range of days (audited).
A refused ask answers 400: the page with the reason, the CSV in the project's JSON error shape.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from server import csv_output
from server.errors import CareFieldError
from server.reports.access import figures_asked, may_ask_ranges
from server.reports.charts import bar_chart
from server.reports.periods import latest_published_month, recent_periods


def dashboard(request: HttpRequest) -> HttpResponse:
    context = {
        "periods": recent_periods(),
        "staff": may_ask_ranges(request.user),
        "asked": request.GET.get("period", ""),
    }
    try:
        figures = figures_asked(request.GET, request.user, where="page")
    except CareFieldError as refused:
        context |= {"m": None, "problems": [refused.detail], "latest": latest_published_month()}
        return render(request, "reports/dashboard.html", context, status=refused.status)
    context |= {"m": figures, "charts": _charts(figures), "problems": []}
    return render(request, "reports/dashboard.html", context)


def _charts(figures: dict) -> dict:
    return {
        "by_call_type": bar_chart(
            "Calls CARE responded to, by call type",
            figures["care_responded_by_call_type"],
            "call_type",
            horizontal=True,
        ),
        "by_area": bar_chart(
            "Calls CARE responded to, by area",
            figures["care_responded_by_area"],
            "area",
            horizontal=True,
        ),
        "by_hour": bar_chart(
            "Calls CARE responded to, by hour of day (local time)",
            figures["care_responded_by_hour"],
            "hour",
        ),
        "naloxone": bar_chart(
            "Naloxone administrations, by the person's response",
            figures["naloxone_by_response"],
            "response",
        ),
    }


def csv_rows(figures: dict) -> list[tuple[str, str, object]]:
    """(section, item, value) for every figure; the same values GET /api/v1/metrics answers."""
    rows: list[tuple[str, str, object]] = [
        ("range", "from", figures["from"]),
        ("range", "to", figures["to"]),
    ]
    if figures.get("period"):
        rows.append(("range", "period", figures["period"]))
    for key, value in figures.items():
        if key in ("from", "to", "period", "period_label", "definitions"):
            continue
        if isinstance(value, list):
            for row in value:
                label_key = next(k for k in row if k != "count")
                rows.append((key, str(row[label_key]), row["count"]))
        elif isinstance(value, dict):
            rows.append((key, "responses", value["responses"]))
            for q in value["questions"]:
                for field in ("answers", "average", "agree_share"):
                    rows.append((key, f"{q['key']}.{field}", q[field]))
        else:
            rows.append(("figures", key, value))
    return rows


def dashboard_csv(request: HttpRequest) -> HttpResponse:
    try:
        figures = figures_asked(request.GET, request.user, where="csv")
    except CareFieldError as refused:
        return JsonResponse(refused.as_dict(), status=refused.status)
    answer = HttpResponse(content_type="text/csv; charset=utf-8")
    name = figures["period"] or f"{figures['from']}-to-{figures['to']}"
    answer["Content-Disposition"] = f'attachment; filename="care-figures-{name}.csv"'
    writer = csv_output.writer(answer)
    writer.writerow(["section", "item", "value"])
    for section, item, value in csv_rows(figures):
        writer.writerow([section, item, "" if value is None else value])
    return answer
