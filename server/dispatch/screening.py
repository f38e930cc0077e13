"""Screening a call against the program's protocol: the eligibility a dispatcher reads."""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass, field

from server.dispatch.geography import Place
from server.dispatch.models import (
    CallType,
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


def within_pilot_hours(protocol: Protocol, received_at: datetime.datetime) -> bool:
    local = received_at.astimezone(zoneinfo.ZoneInfo(protocol.timezone)).time()
    start, end = protocol.pilot_start, protocol.pilot_end
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # hours that run past midnight


def assess(
    *,
    protocol: Protocol,
    call_type: CallType,
    place: Place,
    received_at: datetime.datetime,
    answers: dict[str, bool],
    questions: list[ScreeningQuestion],
) -> Eligibility:
    reasons: list[str] = []
    if not call_type.eligible:
        reasons.append(f"Call type '{call_type.code}' is not one CARE responds to.")
    if not place.in_pilot_area:
        where = f" ({place.area})" if place.area else ""
        reasons.append(f"The location is outside the CARE pilot area{where}.")
    if not within_pilot_hours(protocol, received_at):
        local = received_at.astimezone(zoneinfo.ZoneInfo(protocol.timezone))
        reasons.append(
            f"Received at {local:%H:%M}, outside CARE hours "
            f"{protocol.pilot_start:%H:%M}–{protocol.pilot_end:%H:%M}."
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
