"""The public dashboard: the program's figures as a page, charts and a CSV (no login)."""

from __future__ import annotations

import csv
import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from server.reports.charts import bar_chart
from server.reports.metrics import LONGEST_RANGE_DAYS, program_metrics


def _range(request: HttpRequest) -> tuple[datetime.date, datetime.date, list[str]]:
    """The asked-for range, or the last 365 days with a message saying why the ask was ignored."""
    today = timezone.localdate()
    end, start, problems = today, today - datetime.timedelta(days=364), []
    raw_to, raw_from = request.GET.get("to", ""), request.GET.get("from", "")
    try:
        if raw_to:
            end = datetime.date.fromisoformat(raw_to)
        start = (
            datetime.date.fromisoformat(raw_from)
            if raw_from
            else end - datetime.timedelta(days=364)
        )
    except ValueError:
        problems.append("Write dates as YYYY-MM-DD; showing the last 365 days instead.")
        end, start = today, today - datetime.timedelta(days=364)
    if start > end:
        problems.append("The start date is after the end date; showing the last 365 days.")
        end, start = today, today - datetime.timedelta(days=364)
    if (end - start).days >= LONGEST_RANGE_DAYS:
        start = end - datetime.timedelta(days=LONGEST_RANGE_DAYS - 1)
        problems.append(
            f"The page shows at most {LONGEST_RANGE_DAYS} days; showing the {LONGEST_RANGE_DAYS} "
            f"days to {end.isoformat()}."
        )
    return start, end, problems


def dashboard(request: HttpRequest) -> HttpResponse:
    start, end, problems = _range(request)
    figures = program_metrics(start=start, end=end)
    charts = {
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
    return render(
        request,
        "reports/dashboard.html",
        {"m": figures, "charts": charts, "problems": problems, "query": request.GET.urlencode()},
    )


def csv_rows(figures: dict) -> list[tuple[str, str, object]]:
    """(section, item, value) for every figure; the same values GET /api/v1/metrics answers."""
    rows: list[tuple[str, str, object]] = [
        ("range", "from", figures["from"]),
        ("range", "to", figures["to"]),
    ]
    for key, value in figures.items():
        if key in ("from", "to", "definitions"):
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
    start, end, _ = _range(request)
    figures = program_metrics(start=start, end=end)
    answer = HttpResponse(content_type="text/csv; charset=utf-8")
    answer["Content-Disposition"] = (
        f'attachment; filename="care-figures-{start.isoformat()}-to-{end.isoformat()}.csv"'
    )
    writer = csv.writer(answer)
    writer.writerow(["section", "item", "value"])
    for section, item, value in csv_rows(figures):
        writer.writerow([section, item, "" if value is None else value])
    return answer
