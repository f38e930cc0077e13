"""The reporting periods the public figures are published for: calendar months, quarters and
years (Seattle time), each once it has closed.

Weeks are not offered: a calendar week cuts across two months, and a week's figures minus the
part of it that a month's figures and the weeks inside that month give leave a single day (the
week of 26 October to 1 November minus October's last six days is 1 November alone). Months,
quarters and years nest, so every public figure is a sum of whole months' figures.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from server.errors import InvalidInput
from server.reports.daily import zone

# The program's figures start in its pilot's first year; nothing earlier is asked for.
FIRST_YEAR = 2020
LAST_YEAR = 9998

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_QUARTER = re.compile(r"(\d{4})-[Qq]([1-4])")
_YEAR = re.compile(r"(\d{4})")
_WEEK = re.compile(r"(\d{4})-[Ww](\d{1,2})")

PERIOD_HELP = "Ask for a whole month (2026-10), quarter (2026-Q3) or year (2025)."


@dataclass(frozen=True)
class Period:
    """A closed run of whole months: `key` is how it is written (2026-10, 2026-Q4, 2026)."""

    key: str
    first: datetime.date
    last: datetime.date

    @property
    def months(self) -> list[datetime.date]:
        """The first day of each month in the period."""
        found, month = [], self.first
        while month <= self.last:
            found.append(month)
            month = _next_month(month)
        return found

    def label(self) -> str:
        if len(self.months) == 1:
            return self.first.strftime("%B %Y")
        if len(self.months) == 3:
            return f"Q{(self.first.month - 1) // 3 + 1} {self.first.year}"
        return str(self.first.year)


def _next_month(first: datetime.date) -> datetime.date:
    return (first + datetime.timedelta(days=31)).replace(day=1)


def month(year: int, number: int) -> Period:
    first = datetime.date(year, number, 1)
    return Period(f"{year}-{number:02d}", first, _next_month(first) - datetime.timedelta(days=1))


def parse_period(raw: str) -> Period:
    """The period written as 2026-10, 2026-Q4 or 2026; InvalidInput for anything else."""
    text = raw.strip()
    if _WEEK.fullmatch(text):
        raise InvalidInput(
            "Weekly figures are not published: a week cuts across two months, and the two "
            f"together would reveal single days. {PERIOD_HELP}",
            fields={"period": ["Weeks are not published."]},
        )
    period = _match(text)
    if period is None:
        raise InvalidInput(
            f"'{text[:40]}' is not a reporting period. {PERIOD_HELP}",
            fields={"period": [PERIOD_HELP]},
        )
    return period


def _match(text: str) -> Period | None:
    if found := _MONTH.fullmatch(text):
        year, number = int(found[1]), int(found[2])
        if _year_ok(year) and 1 <= number <= 12:
            return month(year, number)
    elif found := _QUARTER.fullmatch(text):
        year, quarter = int(found[1]), int(found[2])
        if _year_ok(year):
            first = datetime.date(year, 3 * quarter - 2, 1)
            last = month(year, 3 * quarter).last
            return Period(f"{year}-Q{quarter}", first, last)
    elif found := _YEAR.fullmatch(text):
        year = int(found[1])
        if _year_ok(year):
            return Period(str(year), datetime.date(year, 1, 1), datetime.date(year, 12, 31))
    return None


def _year_ok(year: int) -> bool:
    return FIRST_YEAR <= year <= LAST_YEAR


def local_today() -> datetime.date:
    return timezone.localdate(timezone=zone())


def publication_day(period: Period) -> datetime.date:
    """The first day the period's figures are public: it has closed, and the days allowed for
    late records (a tablet that was offline) have passed."""
    return period.last + datetime.timedelta(days=1 + settings.CARE_PUBLIC_FIGURES_DELAY_DAYS)


def require_published(period: Period) -> None:
    day = publication_day(period)
    if local_today() < day:
        raise InvalidInput(
            f"The figures for {period.key} are published on {day.isoformat()}, once the period "
            "has closed.",
            fields={"period": ["Not published yet."]},
        )


def latest_published_month() -> Period:
    """The most recent month whose figures are public."""
    today = local_today()
    candidate = month(today.year, today.month)
    while publication_day(candidate) > today:
        before = candidate.first - datetime.timedelta(days=1)
        candidate = month(before.year, before.month)
    return candidate


def recent_periods(months: int = 13) -> list[Period]:
    """The published periods a reader is offered: recent months, their quarters and years."""
    found: list[Period] = []
    latest = latest_published_month()
    current = latest
    for _ in range(months):
        found.append(current)
        before = current.first - datetime.timedelta(days=1)
        if before.year < FIRST_YEAR:
            break
        current = month(before.year, before.month)
    today = local_today()
    extra = []
    for m in found:
        for key in (f"{m.first.year}-Q{(m.first.month - 1) // 3 + 1}", str(m.first.year)):
            period = _match(key)
            if period and publication_day(period) <= today and period not in extra:
                extra.append(period)
    return found + extra
