"""Where units are: what makes a fix absurd, how far a unit is from a call, and the write that
takes a unit's fix (`report_position`) or prunes old ones.

Straight-line distances on the sphere (geopy's great circle): close enough to rank units a few
kilometres apart, and cheap enough to rank three hundred of them per call.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from math import cos, radians

from django.conf import settings
from django.utils import timezone
from geopy.distance import great_circle

from server.accounts.models import Device, Role, User
from server.accounts.permissions import role_of
from server.audit.services import record_audit
from server.commands import check_time, full_clean
from server.dispatch.geography import service_bounds
from server.dispatch.models import PositionRefusal, PositionRefusalReason, Unit, UnitPosition
from server.dispatch.units.presenters import unit_position_data
from server.errors import Forbidden
from server.feed.services import change_transaction, publish_event

# GPS jitter: two fixes this close never count as movement, however little time separates them.
JITTER_M = 100.0
KM_PER_DEGREE_LAT = 111.0


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Metres between two (latitude, longitude) points."""
    return great_circle(a, b).meters


def outside_service_area(latitude: float, longitude: float) -> bool:
    """Further than the margin outside the box around every beat and area."""
    bounds = service_bounds()
    if bounds is None:
        return False  # no geography loaded: nothing to judge by
    min_lon, min_lat, max_lon, max_lat = bounds
    margin_km = settings.CARE_POSITION_AREA_MARGIN_KM
    lat_margin = margin_km / KM_PER_DEGREE_LAT
    # A degree of longitude shrinks with the cosine of the latitude (about 0.67 in Seattle).
    lon_margin = margin_km / (KM_PER_DEGREE_LAT * max(cos(radians((min_lat + max_lat) / 2)), 0.1))
    return not (
        min_lat - lat_margin <= latitude <= max_lat + lat_margin
        and min_lon - lon_margin <= longitude <= max_lon + lon_margin
    )


def implied_speed_kmh(
    unit: Unit, latitude: float, longitude: float, at: datetime.datetime
) -> float:
    """The speed the unit would have driven at from its last fix to this one (0 without one)."""
    if unit.last_position_at is None or unit.last_latitude is None:
        return 0.0
    metres = distance_m((unit.last_latitude, unit.last_longitude), (latitude, longitude))
    if metres <= JITTER_M:
        return 0.0
    seconds = max((at - unit.last_position_at).total_seconds(), 1.0)
    return metres / seconds * 3.6


def absurdity(
    unit: Unit, latitude: float, longitude: float, at: datetime.datetime
) -> tuple[str, str] | None:
    """(reason code, sentence) when the fix can't be true, else None."""
    if outside_service_area(latitude, longitude):
        return (
            PositionRefusalReason.OUTSIDE_AREA,
            f"This fix is more than {settings.CARE_POSITION_AREA_MARGIN_KM:g} km outside the "
            "service area; check the tablet's location setting.",
        )
    speed = implied_speed_kmh(unit, latitude, longitude, at)
    if speed > settings.CARE_POSITION_MAX_SPEED_KMH:
        return (
            PositionRefusalReason.IMPOSSIBLE_SPEED,
            f"This fix means driving at {speed:.0f} km/h since the last one (at most "
            f"{settings.CARE_POSITION_MAX_SPEED_KMH:g} km/h is believed).",
        )
    return None


def eta_minutes(metres: float) -> float:
    """Drive time at the configured average speed, to a tenth of a minute."""
    speed_m_per_min = settings.CARE_AVERAGE_SPEED_KMH * 1000 / 60
    return round(metres / speed_m_per_min, 1)


def is_fresh(unit: Unit, now: datetime.datetime) -> bool:
    if unit.last_position_at is None or unit.last_latitude is None:
        return False
    age = (now - unit.last_position_at).total_seconds()
    return age <= settings.CARE_POSITION_FRESH_SECONDS


@dataclass(frozen=True)
class PositionOutcome:
    """What became of a fix: `accepted`, `stale` (older than the one kept: not applied, answered
    like a duplicate) or `refused` (absurd: counted, with the reason)."""

    unit: Unit
    status: str
    reason: str = ""
    code: str = ""


def report_position(
    *,
    actor: User,
    device: Device | None = None,
    unit_id: int | str | None = None,
    latitude: float,
    longitude: float,
    accuracy_m: float | None = None,
    recorded_at: datetime.datetime,
    mutation_id: uuid.UUID | None = None,
) -> PositionOutcome:
    """A unit's tablet says where it is. Only a device signed in to that unit may; the latest fix
    wins; an absurd one is refused and counted. Dispatchers see it on the dispatch stream only."""
    if unit_id is None:
        unit_id = actor.unit_id  # an offline mutation that left its unit out: the sender's
    if role_of(actor) not in (Role.CARE_RESPONDER, Role.SPD_OFFICER) or (
        actor.unit_id is None or str(actor.unit_id) != str(unit_id)
    ):
        raise Forbidden(
            "Only a tablet signed in to this unit may report its position.",
            fields={"unit": ["Not your unit."]},
        )
    check_time(recorded_at, field_name="recorded_at")
    with change_transaction():
        unit = Unit.objects.select_for_update().get(pk=actor.unit_id)
        fix = UnitPosition(
            unit=unit,
            device=device,
            latitude=latitude,
            longitude=longitude,
            accuracy_m=accuracy_m,
            recorded_at=recorded_at,
        )
        full_clean(fix, exclude=["device"])
        if unit.last_position_at is not None and recorded_at <= unit.last_position_at:
            return PositionOutcome(unit=unit, status="stale")
        refused = absurdity(unit, latitude, longitude, recorded_at)
        if refused is not None:
            return _refuse_position(actor, device, fix, *refused)
        fix.save(force_insert=True)
        unit.last_latitude, unit.last_longitude = latitude, longitude
        unit.last_accuracy_m, unit.last_position_at = accuracy_m, recorded_at
        unit.save(
            update_fields=["last_latitude", "last_longitude", "last_accuracy_m", "last_position_at"]
        )
        # Dispatch only: never a unit's stream, never the public.
        publish_event(stream="dispatch", kind="unit.position", data=unit_position_data(unit))
    return PositionOutcome(unit=unit, status="accepted")


def _refuse_position(actor, device, fix: UnitPosition, code: str, reason: str) -> PositionOutcome:
    refusal = PositionRefusal.objects.create(
        unit=fix.unit,
        device=device,
        reason=code,
        latitude=fix.latitude,
        longitude=fix.longitude,
        recorded_at=fix.recorded_at,
    )
    record_audit(
        actor=actor,
        device=device,
        action="unit.position_refused",
        obj=refusal,
        after={"reason": code, "unit": fix.unit.call_sign},
    )
    return PositionOutcome(unit=fix.unit, status="refused", reason=reason, code=code)


def prune_positions(*, older_than: datetime.timedelta | None = None) -> int:
    """Delete breadcrumbs and refused fixes older than their retention; return how many."""
    if older_than is None:
        older_than = datetime.timedelta(days=settings.CARE_POSITION_RETENTION_DAYS)
    cutoff = timezone.now() - older_than
    with change_transaction():
        crumbs, _ = UnitPosition.objects.filter(recorded_at__lt=cutoff).delete()
        refusals, _ = PositionRefusal.objects.filter(received_at__lt=cutoff).delete()
        deleted = crumbs + refusals
        if deleted:
            record_audit(
                actor=None,
                action="positions.pruned",
                object_type="dispatch.unitposition",
                after={"deleted": deleted, "recorded_before": cutoff.isoformat()},
            )
    return deleted
