"""Random but reproducible finished calls for checking the roll-up against the live figures."""

from __future__ import annotations

import datetime
import random
import uuid

import pytest

from server.care.models import (
    DirectoryService,
    Encounter,
    NaloxoneAdministration,
    Referral,
    ServiceGiven,
    ServiceType,
    SurveyResponse,
)
from server.dispatch.models import Assignment, CallType, Incident, UnitKind
from tests.conftest import SEATTLE

CALL_TYPES = ["DOWN - CHECK FOR DOWN PERSON", "SERVICE - WELFARE CHECK", "DISTURBANCE - OTHER"]
AREAS = ["BELLTOWN", "SODO", "CAPITOL HILL", ""]
REASONS = ["", "No CARE team available", "Supervisor decision"]


def _moment(rng: random.Random, base: datetime.datetime, low: int, high: int):
    """A time low..high seconds after base, with a random fraction of a second."""
    return base + datetime.timedelta(
        seconds=rng.randint(low, high), microseconds=rng.randrange(10**6)
    )


@pytest.fixture
def random_calls(people, units):
    """random_calls(day, n, seed) writes n finished calls received on a local day, in bulk (no
    signals: as the history would be before anything was rolled up)."""
    care1 = people["care1"]
    call_types = [CallType.objects.get_or_create(code=code)[0] for code in CALL_TYPES]
    service = DirectoryService.objects.first()
    service_type = ServiceType.objects.first()

    def write(day: datetime.date, n: int, seed: int) -> list[Incident]:
        rng = random.Random(f"{day}-{seed}")
        midnight = datetime.datetime.combine(day, datetime.time(), tzinfo=SEATTLE)
        incidents, assignments, encounters, records = [], [], [], []
        for i in range(n):
            # Some calls in the first and last minutes of the day, where the day's edge is.
            second = rng.choice([rng.randrange(60), 86_340 + rng.randrange(59)] + [None] * 4)
            received = midnight + datetime.timedelta(
                seconds=rng.randrange(86_399) if second is None else second,
                microseconds=rng.randrange(10**6),
            )
            eligible = rng.random() < 0.7
            response = (
                rng.choice(["dual", "dual", "police_only", ""]) if eligible else "police_only"
            )
            status = (
                "closed" if response else rng.choice(["resolved_by_phone", "referred_to_hotline"])
            )
            incident = Incident(
                cad_number=f"R{seed}-{day:%m%d}-{i:04d}",
                call_type=rng.choice(call_types),
                priority=3,
                address="3rd Ave & Pine St",
                latitude=47.61,
                longitude=-122.34,
                received_at=received,
                area=rng.choice(AREAS),
                eligible=eligible,
                recommendation="dual_dispatch",
                dispatch_model="911_led",
                status=status,
                response=response,
                police_only_reason=rng.choice(REASONS) if response == "police_only" else "",
                created_by=people["dispatcher"],
            )
            incidents.append(incident)
            if not response:
                continue
            dispatched = _moment(rng, received, 30, 300)
            safe = _moment(rng, dispatched, 300, 1500) if rng.random() < 0.85 else None
            spd_clear = _moment(rng, safe or dispatched, 60, 900) if rng.random() < 0.9 else None
            assignments.append(
                Assignment(
                    incident=incident,
                    unit=units["2M12"],
                    kind=UnitKind.SPD,
                    status="cleared",
                    dispatched_at=dispatched,
                    on_scene_at=_moment(rng, dispatched, 200, 600),
                    scene_safe_at=safe,
                    cleared_at=spd_clear,
                )
            )
            if response != "dual":
                continue
            arrived = _moment(rng, dispatched, 300, 1800) if rng.random() < 0.85 else None
            care = Assignment(
                incident=incident,
                unit=units["CARE-1"],
                kind=UnitKind.CARE,
                status="cleared",
                dispatched_at=dispatched,
                on_scene_at=arrived,
                cleared_at=_moment(rng, arrived, 300, 5400)
                if arrived and rng.random() < 0.9
                else None,
            )
            assignments.append(care)
            if arrived is None:
                continue
            encounter = Encounter(
                id=uuid.uuid4(),
                recorded_by=care1,
                assignment=care,
                started_at=arrived,
                before_scene_safe=rng.random() < 0.2,
            )
            encounters.append(encounter)
            records += _care_records(rng, encounter, care1, service, service_type, arrived)
        Incident.objects.bulk_create(incidents)
        Assignment.objects.bulk_create(assignments)
        Encounter.objects.bulk_create(encounters)
        for model in (ServiceGiven, NaloxoneAdministration, Referral, SurveyResponse):
            model.objects.bulk_create([r for r in records if isinstance(r, model)])
        return incidents

    return write


def _care_records(rng, encounter, author, service, service_type, at) -> list:
    made = []
    common = {"recorded_by": author, "encounter": encounter}
    if rng.random() < 0.4:
        made.append(
            ServiceGiven(
                id=uuid.uuid4(),
                service=service_type,
                occurred_at=at,
                before_scene_safe=rng.random() < 0.2,
                **common,
            )
        )
    if rng.random() < 0.3:
        made.append(
            NaloxoneAdministration(
                id=uuid.uuid4(),
                administered_at=at,
                doses=1,
                dose_mg=4,
                route="intranasal",
                response=rng.choice(["improved", "improved", "unchanged", "unknown"]),
                ems_called=rng.random() < 0.5,
                before_scene_safe=rng.random() < 0.2,
                **common,
            )
        )
    if rng.random() < 0.5:
        made.append(
            Referral(
                id=uuid.uuid4(),
                service=service,
                consent=True,
                made_at=at,
                status=rng.choice(["made", "contacted", "connected", "connected", "declined"]),
                **common,
            )
        )
    if rng.random() < 0.5:
        answers = {key: rng.randint(1, 5) for key in ("respected", "helped") if rng.random() < 0.9}
        if rng.random() < 0.1:
            answers["would_call_again"] = 7  # out of range: not counted, as in the live figures
        made.append(
            SurveyResponse(
                id=uuid.uuid4(),
                consent=rng.random() < 0.85,
                answers=answers,
                answered_at=at,
                **common,
            )
        )
    return made
