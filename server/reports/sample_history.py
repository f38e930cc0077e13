"""A made-up but plausible program history: the one generator behind the demo dashboard
(`manage.py load_sample_history`), the report tests and the year benchmark (bench/metrics_year.py).

`sample_day` makes one local day's finished calls as unsaved records (reproducible from a seed);
`write_sample_history` stores days of them in bulk (no events, no audit, no day marked changed:
it is history from before the demo starts, never something a person did in this system); the
benchmark writes the same records with COPY.

The calls are spread the way the figures must be tested: most in the pilot's hours, some in the
first and last minute of the day (where a day's edge is), times with fractions of a second, calls
CARE never reached or never cleared, care recorded before the scene was safe, surveys without
consent and answers out of range (which the figures don't count).
"""

from __future__ import annotations

import datetime
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from server.accounts.models import Role, User
from server.care.models import (
    DirectoryService,
    Disposition,
    Encounter,
    NaloxoneAdministration,
    NaloxoneResponse,
    Referral,
    ReferralStatus,
    ServiceGiven,
    ServiceType,
    SurveyQuestion,
    SurveyResponse,
)
from server.dispatch.models import (
    Area,
    Assignment,
    AssignmentStatus,
    AssignmentTransition,
    CallType,
    DispatchModel,
    Incident,
    IncidentStatus,
    PoliceOnlyReason,
    Recommendation,
    ResponseSent,
    Unit,
    UnitKind,
)

RECORD_KINDS = (Encounter, ServiceGiven, NaloxoneAdministration, Referral, SurveyResponse)


@dataclass
class References:
    """What the calls point at, read once from the reference data."""

    call_types: list
    eligible_call_types: list
    areas: list[str]
    care_units: list
    spd_units: list
    dispatcher: User
    responder: User
    officer: User
    services: list
    service_types: list
    questions: list[str]
    reasons: list[str]
    dispositions: list = field(default_factory=list)

    @classmethod
    def from_database(cls) -> References:
        anyone = User.objects.order_by("pk").first()
        return cls(
            call_types=list(CallType.objects.filter(active=True).order_by("code")),
            eligible_call_types=list(
                CallType.objects.filter(active=True, eligible=True).order_by("code")
            ),
            # "" is a call outside any mapped area.
            areas=[*Area.objects.filter(in_pilot=True).values_list("name", flat=True), ""],
            care_units=list(Unit.objects.filter(kind=UnitKind.CARE).order_by("pk")),
            spd_units=list(Unit.objects.filter(kind=UnitKind.SPD).order_by("pk")),
            dispatcher=User.objects.filter(role=Role.DISPATCHER).first() or anyone,
            responder=User.objects.filter(role=Role.CARE_RESPONDER).first() or anyone,
            officer=User.objects.filter(role=Role.SPD_OFFICER).first() or anyone,
            services=list(DirectoryService.objects.order_by("pk")[:10]),
            service_types=list(ServiceType.objects.order_by("pk")),
            questions=list(SurveyQuestion.objects.order_by("order").values_list("key", flat=True)),
            reasons=list(
                PoliceOnlyReason.objects.filter(active=True).values_list("code", flat=True)
            ),
            dispositions=list(Disposition.objects.order_by("pk")),
        )


@dataclass
class SampleDay:
    """One day's unsaved records, in the order they can be stored."""

    incidents: list = field(default_factory=list)
    assignments: list = field(default_factory=list)
    transitions: list = field(default_factory=list)
    records: list = field(default_factory=list)

    def of_kind(self, model) -> list:
        return [r for r in self.records if type(r) is model]


def write_sample_history(
    *,
    start: datetime.date,
    days: int,
    calls_per_day: int,
    seed: int = 7,
    prefix: str = "H",
    free_text: str = "",
) -> int:
    """Store `days` x `calls_per_day` finished calls starting on `start`; returns how many."""
    refs = References.from_database()
    made = 0
    with transaction.atomic():
        for day in sample_days(start, days, calls_per_day, refs, seed, prefix, free_text):
            store_day(day)
            made += len(day.incidents)
    return made


def store_day(day: SampleDay) -> None:
    """The day's records in bulk (bulk_create sends no signals: no day is marked changed)."""
    Incident.objects.bulk_create(day.incidents)
    Assignment.objects.bulk_create(day.assignments)
    AssignmentTransition.objects.bulk_create(day.transitions)
    for model in RECORD_KINDS:
        model.objects.bulk_create(day.of_kind(model))


def sample_days(
    start: datetime.date,
    days: int,
    calls_per_day: int,
    refs: References,
    seed: int = 7,
    prefix: str = "H",
    free_text: str = "",
    *,
    transitions: bool = False,
) -> Iterator[SampleDay]:
    for n in range(days):
        day = start + datetime.timedelta(days=n)
        yield sample_day(
            random.Random(f"{seed}-{day}"),
            day,
            calls_per_day,
            refs,
            prefix=prefix,
            free_text=free_text,
            transitions=transitions,
        )


def sample_day(
    rng: random.Random,
    day: datetime.date,
    count: int,
    refs: References,
    *,
    prefix: str = "H",
    free_text: str = "",
    transitions: bool = False,
) -> SampleDay:
    """`count` finished calls received on the local `day`. `free_text`, when given, is written
    into every field a person types (narratives, notes, reasons, comments)."""
    made = SampleDay()
    midnight = datetime.datetime.combine(day, datetime.time(), ZoneInfo(settings.TIME_ZONE))
    for n in range(count):
        received = midnight + _time_of_day(rng)
        incident = _incident(rng, refs, received, f"{prefix}{day:%Y%m%d}-{n:05d}", free_text)
        made.incidents.append(incident)
        if not incident.response:
            continue
        spd = _spd(rng, incident, rng.choice(refs.spd_units), free_text)
        made.assignments.append(spd)
        if incident.response == ResponseSent.DUAL:
            care = _care(rng, incident, rng.choice(refs.care_units), spd)
            made.assignments.append(care)
            if care.on_scene_at:
                made.records += _care_records(rng, care, refs, free_text)
    if transitions:
        made.transitions = [t for a in made.assignments for t in _transitions(a, refs, free_text)]
    return made


def _time_of_day(rng: random.Random) -> datetime.timedelta:
    """Mostly in the pilot's hours; a few in the first or last minute of the day."""
    roll = rng.random()
    if roll < 0.04:
        seconds = rng.randrange(60)
    elif roll < 0.08:
        seconds = 86_340 + rng.randrange(59)
    elif roll < 0.2:
        seconds = rng.randrange(86_399)
    else:
        seconds = rng.randrange(11 * 3600, 23 * 3600)
    return datetime.timedelta(seconds=seconds, microseconds=rng.randrange(10**6))


def _moment(rng, base: datetime.datetime, low: int, high: int) -> datetime.datetime:
    return base + datetime.timedelta(
        seconds=rng.randint(low, high), microseconds=rng.randrange(10**6)
    )


def _incident(rng, refs: References, received, cad_number: str, free_text: str) -> Incident:
    eligible = rng.random() < 0.75
    roll = rng.random()
    response, status, code = ResponseSent.POLICE_ONLY, IncidentStatus.CLOSED, None
    if eligible and roll < 0.06:
        response, status = ResponseSent.NONE, IncidentStatus.RESOLVED_BY_PHONE
    elif eligible and roll < 0.1:
        response, status = ResponseSent.NONE, IncidentStatus.REFERRED_TO_HOTLINE
    elif eligible and roll < 0.8:
        response = ResponseSent.DUAL
    elif eligible and refs.reasons:
        code = rng.choice(refs.reasons)
    return Incident(
        id=uuid.uuid4(),
        cad_number=cad_number,
        # CARE takes only the eligible call types; the others come to it as police-only calls.
        call_type=rng.choice(
            refs.eligible_call_types if eligible and refs.eligible_call_types else refs.call_types
        ),
        priority=3,
        address=free_text or "3rd Ave & Pine St",
        latitude=47.61,
        longitude=-122.34,
        narrative=free_text,
        received_at=received,
        area=rng.choice(refs.areas),
        in_pilot_area=True,
        eligible=eligible,
        recommendation=Recommendation.DUAL_DISPATCH if eligible else Recommendation.POLICE_ONLY,
        dispatch_model=DispatchModel.NINE_ONE_ONE_LED,
        status=status,
        response=response,
        police_only_code_id=code,
        police_only_note=free_text if code else "",
        override_reason=free_text if code else "",
        resolution_note=free_text if not response else "",
        hotline_name="988" if status == IncidentStatus.REFERRED_TO_HOTLINE else "",
        cancel_reason=free_text,
        created_by=refs.dispatcher,
        dispatched_at=received + datetime.timedelta(seconds=rng.randint(30, 300))
        if response
        else None,
        closed_at=received + datetime.timedelta(hours=2),
    )


def _spd(rng, incident: Incident, unit, free_text: str) -> Assignment:
    dispatched = incident.dispatched_at
    safe = _moment(rng, dispatched, 300, 1500) if rng.random() < 0.85 else None
    cleared = _moment(rng, safe or dispatched, 60, 900) if rng.random() < 0.9 else None
    return Assignment(
        id=uuid.uuid4(),
        incident=incident,
        unit=unit,
        kind=UnitKind.SPD,
        status=AssignmentStatus.CLEARED,
        dispatched_at=dispatched,
        acknowledged_at=dispatched + datetime.timedelta(seconds=20),
        on_scene_at=_moment(rng, dispatched, 200, 299),
        scene_safe_at=safe,
        cleared_at=cleared,
        safety_note=free_text,
    )


def _care(rng, incident: Incident, unit, spd: Assignment) -> Assignment:
    dispatched = incident.dispatched_at
    arrived = _moment(rng, dispatched, 300, 1800) if rng.random() < 0.9 else None
    cleared = None
    if arrived and rng.random() < 0.92:
        cleared = _moment(rng, max(arrived, spd.cleared_at or arrived), 300, 5400)
    return Assignment(
        id=uuid.uuid4(),
        incident=incident,
        unit=unit,
        kind=UnitKind.CARE,
        status=AssignmentStatus.CLEARED,
        dispatched_at=dispatched,
        acknowledged_at=dispatched + datetime.timedelta(seconds=30),
        on_scene_at=arrived,
        cleared_at=cleared,
    )


def _care_records(rng, care: Assignment, refs: References, free_text: str) -> list:
    at = care.on_scene_at
    encounter = Encounter(
        id=uuid.uuid4(),
        recorded_by=refs.responder,
        assignment=care,
        started_at=at,
        before_scene_safe=rng.random() < 0.1,
        # Drawn apart from `rng`, so the rest of a seeded history stays as it was.
        disposition=random.Random(at.isoformat()).choice([None, *refs.dispositions]),
        notes=free_text,
    )
    made: list = [encounter]
    common = {"recorded_by": refs.responder, "encounter": encounter}
    if refs.service_types and rng.random() < 0.5:
        made.append(
            ServiceGiven(
                id=uuid.uuid4(),
                service=rng.choice(refs.service_types),
                occurred_at=at,
                before_scene_safe=rng.random() < 0.1,
                note=free_text[:500],
                **common,
            )
        )
    if rng.random() < 0.12:
        made.append(_naloxone(rng, at, common))
    if refs.services and rng.random() < 0.45:
        made.append(_referral(rng, at, refs, common, free_text))
    if refs.questions and rng.random() < 0.35:
        made.append(_survey(rng, care, refs, common, free_text))
    return made


def _naloxone(rng, at, common: dict) -> NaloxoneAdministration:
    return NaloxoneAdministration(
        id=uuid.uuid4(),
        administered_at=at,
        doses=1,
        dose_mg=4,
        route="intranasal",
        response=rng.choice(
            [NaloxoneResponse.IMPROVED] * 8 + [NaloxoneResponse.UNCHANGED, NaloxoneResponse.UNKNOWN]
        ),
        ems_called=rng.random() < 0.5,
        before_scene_safe=rng.random() < 0.1,
        **common,
    )


def _referral(rng, at, refs: References, common: dict, free_text: str) -> Referral:
    service = rng.choice(refs.services)
    return Referral(
        id=uuid.uuid4(),
        service=service,
        # The organization the person consented to, fixed with the consent (as the service does).
        organization_hsds_id=service.organization_hsds_id,
        organization_name=service.organization,
        consent=True,
        status=rng.choice(
            [ReferralStatus.CONNECTED] * 2
            + [ReferralStatus.MADE, ReferralStatus.CONTACTED, ReferralStatus.UNABLE_TO_REACH]
        ),
        made_at=at,
        # Coordinators promise a first follow-up within a week.
        follow_up_due=at.date() + datetime.timedelta(days=rng.randint(2, 7)),
        note=free_text,
        **common,
    )


def _survey(rng, care: Assignment, refs: References, common: dict, free_text: str):
    answers = {k: rng.choice([2, 3, 4, 4, 5, 5]) for k in refs.questions if rng.random() < 0.9}
    if rng.random() < 0.05:
        answers[refs.questions[0]] = 7  # out of range: the figures don't count it
    return SurveyResponse(
        id=uuid.uuid4(),
        consent=rng.random() < 0.9,
        answers=answers,
        answered_at=care.cleared_at or care.on_scene_at,
        comment=free_text,
        **common,
    )


def _transitions(a: Assignment, refs: References, free_text: str) -> list[AssignmentTransition]:
    actor = refs.officer if a.kind == UnitKind.SPD else refs.responder
    S = AssignmentStatus
    steps = [
        (S.DISPATCHED, S.ACKNOWLEDGED, a.acknowledged_at),
        (S.ACKNOWLEDGED, S.EN_ROUTE, a.acknowledged_at),
        (S.EN_ROUTE, S.ON_SCENE, a.on_scene_at),
    ]
    last = S.ON_SCENE
    if a.scene_safe_at:
        steps.append((S.ON_SCENE, S.SCENE_SAFE, a.scene_safe_at))
        last = S.SCENE_SAFE
    steps.append((last, S.CLEARED, a.cleared_at))
    return [
        AssignmentTransition(
            assignment=a, from_status=frm, to_status=to, actor=actor, occurred_at=at, note=free_text
        )
        for frm, to, at in steps
        if at is not None
    ]
