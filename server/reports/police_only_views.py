"""Supervisors' page: eligible calls that went police only, by reason, shift, dispatcher and week
— so coaching against defaulting to police rests on data."""

from __future__ import annotations

import datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from server.accounts.models import Role
from server.accounts.views import console_for
from server.reports.peer_figures import police_only_report


def _date(raw: str | None, default: datetime.date) -> datetime.date:
    try:
        return datetime.date.fromisoformat(raw) if raw else default
    except ValueError:
        return default


@console_for(Role.ADMIN)
def police_only_page(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    end = _date(request.GET.get("to"), today)
    start = _date(request.GET.get("from"), end - datetime.timedelta(weeks=12))
    if start > end or (end - start).days > 366:
        start = end - datetime.timedelta(weeks=12)
    return render(
        request, "reports/police_only.html", {"report": police_only_report(start=start, end=end)}
    )
