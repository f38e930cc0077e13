"""Made-up program histories for the planner's tests: incidents and their assignments written
straight to the tables, as the program would have recorded them."""

from __future__ import annotations

import datetime
import itertools
import random
import uuid

from server.dispatch.models import (
    Assignment,
    AssignmentStatus,
    CallType,
    DispatchModel,
    Incident,
    IncidentStatus,
    Recommendation,
    Unit,
)
from tests.conftest import DOWNTOWN, SEATTLE

PERSON_DOWN = "DOWN - CHECK FOR DOWN PERSON"
_numbers = itertools.count(1)


def record_call(
    people,
    *,
    at: str | datetime.datetime,
    reached: bool,
    eligible: bool = True,
    drive: float = 10.0,
    scene: float = 30.0,
    spd_clears_after: float = 5.0,
    unit: str = "CARE-1",
    call_type: str = PERSON_DOWN,
) -> Incident:
    """One call; when CARE reached it, a CARE assignment (dispatched at once, `drive` minutes
    to arrive, `scene` on scene) and an SPD one that marked the scene safe and cleared
    `spd_clears_after` minutes after CARE arrived."""
    when = datetime.datetime.fromisoformat(at) if isinstance(at, str) else at
    incident = Incident.objects.create(
        cad_number=f"T{next(_numbers):08d}",
        call_type=CallType.objects.get(code=call_type),
        priority=3,
        address="3rd Ave & Pine St",
        received_at=when,
        area="DOWNTOWN COMMERICAL",
        beat="M1",
        in_pilot_area=True,
        eligible=eligible,
        recommendation=Recommendation.DUAL_DISPATCH if eligible else Recommendation.POLICE_ONLY,
        dispatch_model=DispatchModel.NINE_ONE_ONE_LED,
        status=IncidentStatus.CLOSED,
        created_by=people["dispatcher"],
        **DOWNTOWN,
    )
    if reached:
        _assign(incident, unit, when, drive, scene, spd_clears_after)
    return incident


def _assign(incident, unit, when, drive, scene, spd_clears_after) -> None:
    minutes = datetime.timedelta(minutes=1)
    arrived = when + drive * minutes
    for call_sign, cleared in ((unit, arrived + scene * minutes), ("2M12", None)):
        spd = call_sign == "2M12"
        Assignment.objects.create(
            id=uuid.uuid4(),
            incident=incident,
            unit=Unit.objects.get(call_sign=call_sign),
            kind="spd" if spd else "care",
            status=AssignmentStatus.CLEARED,
            dispatched_at=when,
            on_scene_at=arrived,
            scene_safe_at=arrived + minutes if spd else None,
            cleared_at=arrived + spd_clears_after * minutes if spd else cleared,
        )


def loss_world(
    people,
    *,
    days: int,
    per_hour: float,
    teams: int,
    mean_scene: float,
    drive: float = 10.0,
    seed: int = 5,
) -> dict:
    """Calls arriving at random (Poisson) in the pilot's hours, 11:00-23:00, each taken by a
    free team or, with none free, sent police-only at once; times on scene drawn at random.
    Returns what was recorded: eligible calls and how many CARE reached."""
    rng = random.Random(seed)
    free_at = [datetime.datetime.min.replace(tzinfo=datetime.UTC)] * teams
    start = datetime.datetime(2026, 3, 2, 11, 0, tzinfo=SEATTLE)
    reached = total = 0
    for day in range(days):
        at = start + datetime.timedelta(days=day)
        close = at + datetime.timedelta(hours=12)
        while True:
            at += datetime.timedelta(minutes=rng.expovariate(per_hour / 60))
            if at >= close:
                break
            total += 1
            ready = [i for i, t in enumerate(free_at) if t <= at]
            if not ready:
                record_call(people, at=at, reached=False)
                continue
            scene = rng.expovariate(1 / mean_scene)
            unit = "CARE-1" if ready[0] == 0 else "CARE-2"
            record_call(people, at=at, reached=True, drive=drive, scene=scene, unit=unit)
            free_at[ready[0]] = at + datetime.timedelta(minutes=drive + scene)
            reached += 1
    return {"eligible": total, "reached": reached}
