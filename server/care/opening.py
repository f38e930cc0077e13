"""Whether a directory service is open now, and when it next opens, from its HSDS schedules.

A schedule (Open Referral HSDS 3.0) repeats WEEKLY on `byday` (MO,TU,...) or MONTHLY on
`bymonthday` (1,15,-1) or an ordinal `byday` (2MO, -1FR), between `opens_at` and `closes_at`,
within `valid_from`..`valid_to`. A closing time at or before the opening time runs past midnight
(00:00-00:00 is all day). Times carry their UTC offset, or take the schedule's `timezone` (a UTC
offset in hours); with neither they are read in the program's time zone, not HSDS's UTC default,
which would put every Seattle service eight hours off.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
LOOK_AHEAD_DAYS = 8


def _zone(schedule: dict[str, Any]) -> datetime.tzinfo:
    offset = schedule.get("timezone")
    if offset not in (None, ""):
        try:
            return datetime.timezone(datetime.timedelta(hours=float(offset)))
        except (TypeError, ValueError, OverflowError):
            pass
    return ZoneInfo(settings.TIME_ZONE)


def _time(text: str | None) -> tuple[datetime.time, datetime.tzinfo | None] | None:
    if not text:
        return None
    try:
        parsed = datetime.time.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=None), parsed.tzinfo


def _date(text: Any) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(str(text)[:10]) if text else None
    except ValueError:
        return None


def _monthly_byday(day: datetime.date, part: str) -> bool:
    ordinal, code = part[:-2], part[-2:]
    if code not in DAYS or DAYS[day.weekday()] != code:
        return False
    if not ordinal:
        return True
    n = int(ordinal)
    if n > 0:
        return (day.day - 1) // 7 + 1 == n
    next_month = (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return ((next_month - day).days - 1) // 7 + 1 == -n


def _runs_on(schedule: dict[str, Any], day: datetime.date) -> bool:
    valid_from, valid_to = _date(schedule.get("valid_from")), _date(schedule.get("valid_to"))
    if (valid_from and day < valid_from) or (valid_to and day > valid_to):
        return False
    freq = str(schedule.get("freq") or "WEEKLY").upper()
    byday = [p.strip().upper() for p in str(schedule.get("byday") or "").split(",") if p.strip()]
    if freq == "WEEKLY":
        return not byday or DAYS[day.weekday()] in byday
    if freq == "MONTHLY":
        monthdays = [p.strip() for p in str(schedule.get("bymonthday") or "").split(",")]
        last = (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
        days_in_month = (last - datetime.timedelta(days=1)).day
        for part in filter(None, monthdays):
            try:
                n = int(part)
            except ValueError:
                continue
            if day.day == (n if n > 0 else days_in_month + 1 + n):
                return True
        try:
            return any(_monthly_byday(day, part) for part in byday)
        except ValueError:
            return False
    return False


def _intervals(
    schedule: dict[str, Any], around: datetime.datetime
) -> Iterator[tuple[datetime.datetime, datetime.datetime]]:
    opens, closes = _time(schedule.get("opens_at")), _time(schedule.get("closes_at"))
    if opens is None or closes is None:
        return
    zone = opens[1] or _zone(schedule)
    local_today = around.astimezone(zone).date()
    for shift in range(-1, LOOK_AHEAD_DAYS):
        day = local_today + datetime.timedelta(days=shift)
        if not _runs_on(schedule, day):
            continue
        start = datetime.datetime.combine(day, opens[0], tzinfo=zone)
        end = datetime.datetime.combine(day, closes[0], tzinfo=closes[1] or zone)
        if end <= start:
            end += datetime.timedelta(days=1)
        yield start, end


def opening(schedules: list[dict[str, Any]], now: datetime.datetime | None = None) -> dict:
    """{"open_now": bool | None, "closes_at", "opens_at", "text"}; None when no schedule says."""
    now = now or timezone.now()
    spans = [span for s in schedules or [] if isinstance(s, dict) for span in _intervals(s, now)]
    if not spans:
        return {"open_now": None, "opens_at": None, "closes_at": None, "text": ""}
    current = [end for start, end in spans if start <= now < end]
    if current:
        closes = max(current)
        local = timezone.localtime(closes)
        all_day = closes - now >= datetime.timedelta(hours=24) or any(
            end - start >= datetime.timedelta(hours=24) for start, end in spans
        )
        text = "Open now (24 hours)" if all_day else f"Open now, until {local:%H:%M}"
        return {"open_now": True, "opens_at": None, "closes_at": closes.isoformat(), "text": text}
    upcoming = sorted(start for start, _ in spans if start > now)
    if not upcoming:
        return {"open_now": False, "opens_at": None, "closes_at": None, "text": "Closed"}
    opens = upcoming[0]
    local_opens, local_now = timezone.localtime(opens), timezone.localtime(now)
    text = (
        f"Opens at {local_opens:%H:%M}"
        if local_opens.date() == local_now.date()
        else f"Opens {local_opens:%a} {local_opens:%H:%M}"
    )
    return {
        "open_now": False,
        "opens_at": opens.isoformat(),
        "closes_at": None,
        "text": text,
    }


def capacity_text(capacity: list[dict[str, Any]]) -> str:
    """ "12 of 40 beds available (updated 2026-11-30 14:05)" for each capacity the source gave."""
    parts = []
    for item in capacity or []:
        if not isinstance(item, dict) or item.get("available") is None:
            continue
        unit = item.get("unit") or "places"
        of = f" of {_number(item['maximum'])}" if item.get("maximum") is not None else ""
        updated = ""
        if item.get("updated"):
            try:
                at = datetime.datetime.fromisoformat(str(item["updated"]).replace("Z", "+00:00"))
                updated = f" (updated {timezone.localtime(at):%Y-%m-%d %H:%M})"
            except ValueError:
                pass
        parts.append(f"{_number(item['available'])}{of} {unit} available{updated}")
    return "; ".join(parts)


def _number(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(number)) if number.is_integer() else str(number)
