"""Screening a call against the program's protocol: the eligibility a dispatcher reads."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field

from server.dispatch.geography import Place
from server.dispatch.models import (
    CallType,
    ProgramHours,
    Protocol,
    Recommendation,
    ScreeningEffect,
    ScreeningQuestion,
)


@dataclass
class Eligibility:
    eligible: bool
    reasons: list[str] = field(default_factory=list)
    recommendation: str = Recommendation.DUAL_DISPATCH

    def as_dict(self) -> dict:
        return {
            "eligible": self.eligible,
            "reasons": self.reasons,
            "recommendation": self.recommendation,
        }


def _within(start: datetime.time, end: datetime.time, local: datetime.time) -> bool:
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # hours that run past midnight


Schedule = list[tuple[int, datetime.time, datetime.time]]  # (weekday, start, end) rows


def program_schedule() -> Schedule:
    """The weekday schedule an administrator edits (empty: the protocol's one window)."""
    return list(ProgramHours.objects.values_list("weekday", "start", "end"))


def hours_on(
    protocol: Protocol, day: datetime.date, schedule: Schedule = ()
) -> list[tuple[datetime.time, datetime.time]]:
    """The program's hours that start on a local day: the weekday schedule, or the protocol's
    one window every day when there is no schedule."""
    if not schedule:
        return [(protocol.pilot_start, protocol.pilot_end)]
    return [(start, end) for weekday, start, end in schedule if weekday == day.weekday()]


def _scheduled(schedule: Schedule, local: datetime.datetime) -> bool:
    """A row belongs to the weekday its hours start on: Friday 20:00–02:00 covers Friday
    evening and the first two hours of Saturday, not the small hours of Friday itself."""
    today, yesterday = local.weekday(), (local.weekday() - 1) % 7
    now = local.time()
    for weekday, start, end in schedule:
        if start < end:
            if weekday == today and start <= now < end:
                return True
        elif (weekday == today and now >= start) or (weekday == yesterday and now < end):
            return True
    return False


def within_pilot_hours(
    protocol: Protocol, received_at: datetime.datetime, schedule: Schedule = ()
) -> bool:
    local = received_at.astimezone(zoneinfo.ZoneInfo(protocol.timezone))
    if schedule:
        return _scheduled(schedule, local)
    return _within(protocol.pilot_start, protocol.pilot_end, local.time())


def assess(
    *,
    protocol: Protocol,
    call_type: CallType,
    place: Place,
    received_at: datetime.datetime,
    answers: dict[str, bool],
    questions: list[ScreeningQuestion],
    schedule: Schedule = (),
) -> Eligibility:
    reasons: list[str] = []
    if not call_type.eligible:
        reasons.append(f"Call type '{call_type.code}' is not one CARE responds to.")
    if not place.in_pilot_area:
        where = f" ({place.area})" if place.area else ""
        reasons.append(f"The location is outside the CARE pilot area{where}.")
    if not within_pilot_hours(protocol, received_at, schedule):
        local = received_at.astimezone(zoneinfo.ZoneInfo(protocol.timezone))
        today = hours_on(protocol, local.date(), schedule)
        windows = ", ".join(f"{s:%H:%M}–{e:%H:%M}" for s, e in today)
        reasons.append(
            f"Received at {local:%H:%M}, outside CARE hours {windows or 'none that day'}."
        )
    no_response = False
    for question in questions:
        if answers.get(question.key):
            reasons.append(question.reason)
            no_response |= question.effect == ScreeningEffect.NO_RESPONSE
    eligible = not reasons
    if eligible:
        recommendation = Recommendation.DUAL_DISPATCH
    elif no_response:
        recommendation = Recommendation.NO_RESPONSE
    else:
        recommendation = Recommendation.POLICE_ONLY
    return Eligibility(eligible=eligible, reasons=reasons, recommendation=recommendation)
