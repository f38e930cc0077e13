"""Who may ask which figures: the public asks for a whole published period (or gets the latest
month); signed-in staff (administrators and supervisors, coordinators) may ask any range of days,
and each such ask is audited. Every refusal is an InvalidInput (400) in the project's shape."""

from __future__ import annotations

import datetime
from collections.abc import Mapping

from server.accounts.models import Role
from server.accounts.permissions import role_of
from server.audit.services import record_audit
from server.errors import InvalidInput
from server.reports.metrics import program_metrics
from server.reports.periods import (
    FIRST_YEAR,
    LAST_YEAR,
    PERIOD_HELP,
    latest_published_month,
    parse_period,
)
from server.reports.publication import period_metrics

# Supervisors hold the admin role (Role.ADMIN is "Supervisor / administrator").
RANGE_ROLES = (Role.ADMIN, Role.COORDINATOR)
# The figures are worked out per day: no one range may keep a worker busy for minutes.
LONGEST_RANGE_DAYS = 5 * 366


def may_ask_ranges(user) -> bool:
    return bool(user and user.is_active and role_of(user) in RANGE_ROLES)


def figures_asked(params: Mapping[str, str], user, *, where: str) -> dict:
    """The figures the query string asks for, as the user may see them."""
    if "from" in params or "to" in params:
        if not may_ask_ranges(user):
            raise InvalidInput(
                "The public figures are published per whole period, not for ranges of days: "
                f"'from' and 'to' are for signed-in staff. {PERIOD_HELP} "
                "Example: ?period=2026-10.",
                fields={"from": ["Use 'period'."], "to": ["Use 'period'."]},
            )
        start, end = _range(params)
        record_audit(
            actor=user,
            action="metrics.range_viewed",
            object_type="metrics",
            object_id=f"{start.isoformat()}..{end.isoformat()}",
            after={"from": start.isoformat(), "to": end.isoformat(), "where": where},
        )
        return {"period": None, "period_label": None, **program_metrics(start=start, end=end)}
    raw = params.get("period", "")
    period = parse_period(raw) if raw else latest_published_month()
    return period_metrics(period)


def _range(params: Mapping[str, str]) -> tuple[datetime.date, datetime.date]:
    end = _date(params.get("to", ""), "to")
    start = _date(params.get("from", ""), "from")
    if start > end:
        raise InvalidInput("'from' is after 'to'.", fields={"from": ["After 'to'."]})
    if (end - start).days >= LONGEST_RANGE_DAYS:
        raise InvalidInput(
            f"Ask for at most {LONGEST_RANGE_DAYS} days at a time.",
            fields={"from": [f"At most {LONGEST_RANGE_DAYS} days before 'to'."]},
        )
    return start, end


def _date(raw: str, name: str) -> datetime.date:
    if not raw:
        raise InvalidInput(
            "A range needs both 'from' and 'to'.", fields={name: ["Write YYYY-MM-DD."]}
        )
    try:
        day = datetime.date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(
            f"'{raw[:40]}' is not a date; write YYYY-MM-DD.",
            fields={name: ["Write the date as YYYY-MM-DD."]},
        ) from exc
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidInput(
            f"'{raw}' is outside the program's years ({FIRST_YEAR} to {LAST_YEAR}).",
            fields={name: [f"A date from {FIRST_YEAR} to {LAST_YEAR}."]},
        )
    return day
