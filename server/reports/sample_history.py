"""A made-up but plausible program history, for the demo dashboard, browser tests and benchmarks.

Writes finished calls straight to the tables in bulk (no events, no audit): it is history that
happened before the demo starts, never something a person did in this system.
"""

from __future__ import annotations

import datetime
import random
import uuid
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from server.accounts.models import User
from server.care.models import (
    DirectoryService,
    Encounter,
    NaloxoneAdministration,
    NaloxoneResponse,
    Referral,
    ReferralStatus,
    SurveyQuestion,
    SurveyResponse,
)
from server.dispatch.models import (
    Area,
    Assignment,
    AssignmentStatus,
    CallType,
    DispatchModel,
    Incident,
    IncidentStatus,
    Recommendation,
    ResponseSent,
    Unit,
    UnitKind,
)

POLICE_ONLY_REASONS = [
    "No CARE team available",
    "Caller reported a weapon after screening",
    "Supervisor decision",
]


def write_sample_history(
    *, start: datetime.date, days: int, calls_per_day: int, seed: int = 7, prefix: str = "H"
) -> int:
    """Write `days` x `calls_per_day` closed calls starting on `start`; returns how many."""
    rng = random.Random(seed)
    zone = ZoneInfo(settings.TIME_ZONE)
    call_types = list(CallType.objects.filter(eligible=True)) or list(CallType.objects.all())
    areas = list(Area.objects.filter(in_pilot=True).values_list("name", flat=True)) or ["SODO"]
    care_units = list(Unit.objects.filter(kind=UnitKind.CARE))
    spd_units = list(Unit.objects.filter(kind=UnitKind.SPD))
    author = User.objects.filter(role="dispatcher").first() or User.objects.first()
    responder = User.objects.filter(role="care_responder").first() or author
    services = list(DirectoryService.objects.all()[:10])
    questions = list(SurveyQuestion.objects.values_list("key", flat=True))
    made = 0
    with transaction.atomic():
        for day in range(days):
            batch = _day(
                rng,
                zone,
                start + datetime.timedelta(days=day),
                calls_per_day,
                prefix,
                call_types,
                areas,
                care_units,
                spd_units,
                author,
            )
            Incident.objects.bulk_create([b["incident"] for b in batch])
            Assignment.objects.bulk_create([a for b in batch for a in b["assignments"]])
            _care_records(rng, batch, responder, services, questions)
            made += len(batch)
    return made


def _day(rng, zone, date, count, prefix, call_types, areas, care_units, spd_units, author):
    batch = []
    for n in range(count):
        received = datetime.datetime.combine(
            date, datetime.time(rng.randint(11, 22), rng.randint(0, 59)), zone
        )
        eligible = rng.random() < 0.8
        outcome = rng.random()
        incident = Incident(
            id=uuid.uuid4(),
            cad_number=f"{prefix}{date:%Y%m%d}-{n:05d}",
            call_type=rng.choice(call_types),
            priority=3,
            address="Sample address",
            latitude=47.6,
            longitude=-122.33,
            received_at=received,
            area=rng.choice(areas),
            in_pilot_area=True,
            eligible=eligible,
            recommendation=Recommendation.DUAL_DISPATCH if eligible else Recommendation.POLICE_ONLY,
            dispatch_model=DispatchModel.NINE_ONE_ONE_LED,
            status=IncidentStatus.CLOSED,
            created_by=author,
            dispatched_at=received + datetime.timedelta(minutes=2),
            closed_at=received + datetime.timedelta(hours=2),
        )
        assignments = []
        if eligible and outcome < 0.08:
            incident.status = IncidentStatus.RESOLVED_BY_PHONE
        elif eligible and outcome < 0.12:
            incident.status = IncidentStatus.REFERRED_TO_HOTLINE
        elif (eligible and outcome < 0.2) or not eligible:
            incident.response = ResponseSent.POLICE_ONLY
            if eligible:
                incident.police_only_reason = rng.choice(POLICE_ONLY_REASONS)
            assignments.append(_spd(rng, incident, rng.choice(spd_units)))
        else:
            incident.response = ResponseSent.DUAL
            spd = _spd(rng, incident, rng.choice(spd_units))
            care = _care(rng, incident, rng.choice(care_units), spd)
            assignments += [spd, care]
        batch.append({"incident": incident, "assignments": assignments})
    return batch


def _spd(rng, incident, unit) -> Assignment:
    dispatched = incident.dispatched_at
    on_scene = dispatched + datetime.timedelta(minutes=rng.randint(4, 15))
    safe = on_scene + datetime.timedelta(minutes=rng.randint(2, 10))
    return Assignment(
        id=uuid.uuid4(),
        incident=incident,
        unit=unit,
        kind=UnitKind.SPD,
        status=AssignmentStatus.CLEARED,
        dispatched_at=dispatched,
        acknowledged_at=dispatched + datetime.timedelta(seconds=20),
        on_scene_at=on_scene,
        scene_safe_at=safe,
        cleared_at=safe + datetime.timedelta(minutes=rng.randint(1, 8)),
    )


def _care(rng, incident, unit, spd) -> Assignment:
    dispatched = incident.dispatched_at
    on_scene = dispatched + datetime.timedelta(minutes=rng.randint(6, 25))
    return Assignment(
        id=uuid.uuid4(),
        incident=incident,
        unit=unit,
        kind=UnitKind.CARE,
        status=AssignmentStatus.CLEARED,
        dispatched_at=dispatched,
        acknowledged_at=dispatched + datetime.timedelta(seconds=30),
        on_scene_at=on_scene,
        cleared_at=max(on_scene, spd.cleared_at) + datetime.timedelta(minutes=rng.randint(10, 60)),
    )


def _care_records(rng, batch, responder, services, questions) -> None:
    encounters, naloxone, referrals, surveys = [], [], [], []
    for item in batch:
        for assignment in item["assignments"]:
            if assignment.kind != UnitKind.CARE:
                continue
            encounter = Encounter(
                id=uuid.uuid4(),
                recorded_by=responder,
                assignment=assignment,
                started_at=assignment.on_scene_at,
            )
            encounters.append(encounter)
            if rng.random() < 0.12:
                naloxone.append(
                    NaloxoneAdministration(
                        id=uuid.uuid4(),
                        recorded_by=responder,
                        encounter=encounter,
                        administered_at=assignment.on_scene_at,
                        doses=1,
                        dose_mg=4,
                        route="intranasal",
                        response=rng.choice(
                            [NaloxoneResponse.IMPROVED] * 8
                            + [NaloxoneResponse.UNCHANGED, NaloxoneResponse.UNKNOWN]
                        ),
                        ems_called=rng.random() < 0.5,
                    )
                )
            if services and rng.random() < 0.45:
                referrals.append(
                    Referral(
                        id=uuid.uuid4(),
                        recorded_by=responder,
                        encounter=encounter,
                        service=rng.choice(services),
                        consent=True,
                        status=rng.choice(
                            [ReferralStatus.CONNECTED] * 2
                            + [
                                ReferralStatus.MADE,
                                ReferralStatus.CONTACTED,
                                ReferralStatus.UNABLE_TO_REACH,
                            ]
                        ),
                        made_at=assignment.on_scene_at,
                        # Coordinators promise a first follow-up within a week.
                        follow_up_due=assignment.on_scene_at.date()
                        + datetime.timedelta(days=rng.randint(2, 7)),
                    )
                )
            if questions and rng.random() < 0.3:
                surveys.append(
                    SurveyResponse(
                        id=uuid.uuid4(),
                        recorded_by=responder,
                        encounter=encounter,
                        consent=True,
                        answers={k: rng.choice([3, 4, 4, 5, 5]) for k in questions},
                        answered_at=assignment.cleared_at,
                    )
                )
    Encounter.objects.bulk_create(encounters)
    NaloxoneAdministration.objects.bulk_create(naloxone)
    Referral.objects.bulk_create(referrals)
    SurveyResponse.objects.bulk_create(surveys)
