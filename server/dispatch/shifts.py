"""Shifts and duty status: who is signed on to which unit, and whether the unit can take a call.

A responder signs on to a unit from the tablet (an administrator may do it for them): that sets
the unit they ride with (`User.unit`, which decides what their tablet sees) and opens a shift.
Signing off closes the shift and takes them off the unit; a unit nobody is on is off duty.
Each write validates, writes, audits and publishes in one `change_transaction()`.
"""

from __future__ import annotations

import datetime
import uuid

from django.db import IntegrityError
from django.utils import timezone

from server.accounts.models import Device, Role, User
from server.accounts.permissions import role_of
from server.audit.services import record_audit, snapshot
from server.commands import check_time, full_clean
from server.dispatch.models import Assignment, DutyStatus, Shift, Unit, UnitKind
from server.dispatch.presenters import unit_staffing
from server.errors import Conflict, Forbidden, InvalidInput, NotFound
from server.feed.services import change_transaction, publish_event, unit_stream

ROLE_FOR_KIND = {UnitKind.CARE: Role.CARE_RESPONDER, UnitKind.SPD: Role.SPD_OFFICER}
SHIFT_ADMINS = (Role.ADMIN,)


def _unit(unit_id: int | str) -> Unit:
    unit = Unit.objects.filter(pk=unit_id).first() if str(unit_id).isdigit() else None
    if unit is None:
        raise NotFound(f"No unit {unit_id}.", fields={"unit": ["No such unit."]})
    return unit


def _person(user_id, field: str) -> User:
    person = User.objects.filter(pk=user_id, is_active=True).first() if user_id else None
    if person is None:
        raise InvalidInput("No such person.", fields={field: ["No such active person."]})
    return person


def _check_fits(person: User, unit: Unit, field: str) -> None:
    """An officer rides only SPD units, a CARE responder only CARE teams."""
    wanted = ROLE_FOR_KIND[unit.kind]
    if role_of(person) != wanted:
        raise Forbidden(
            f"{person.username} can't sign on to {unit.call_sign}: it is "
            f"{unit.get_kind_display().lower()}.",
            fields={field: [f"{unit.call_sign} is for {Role(wanted).label}s."]},
        )


def publish_unit(unit: Unit, kind: str = "unit.updated") -> None:
    """The unit's staffing and duty status, to the board and to its own tablets."""
    data = unit_staffing(unit)
    publish_event(stream="dispatch", kind=kind, data=data)
    publish_event(stream=unit_stream(unit.pk), kind=kind, data=data)


def sign_on(
    *,
    actor: User,
    device: Device | None = None,
    unit: int,
    partner: int | None = None,
    vehicle: str = "",
    user: int | None = None,
) -> Shift:
    """Sign the caller (or, for an administrator, `user`) on to a unit for a shift."""
    is_admin = role_of(actor) in SHIFT_ADMINS
    if user is not None and not is_admin and user != actor.pk:
        raise Forbidden("Only an administrator signs someone else on.", fields={"user": ["No."]})
    person = _person(user, "user") if user is not None else actor
    target = _unit(unit)
    _check_fits(person, target, "unit")
    mate = None
    if partner is not None:
        mate = _person(partner, "partner")
        if mate.pk == person.pk:
            raise InvalidInput("A partner is someone else.", fields={"partner": ["Yourself."]})
        _check_fits(mate, target, "partner")
    if not target.in_service:
        raise Conflict(
            f"{target.call_sign} is out of service.", fields={"unit": ["Out of service."]}
        )
    now = timezone.now()
    try:
        with change_transaction():
            Unit.objects.select_for_update().filter(pk=target.pk).first()
            people = [p for p in (person, mate) if p is not None]
            if Shift.objects.filter(user__in=people, ended_at__isnull=True).exists():
                raise Conflict(
                    "Already signed on to a unit; sign off first.",
                    fields={"unit": ["Sign off your current shift first."]},
                )
            shift = Shift(
                unit=target,
                user=person,
                partner=mate,
                vehicle=(vehicle or "").strip(),
                started_at=now,
                signed_on_by=actor,
            )
            full_clean(shift)
            shift.save(force_insert=True)
            if mate is not None:
                Shift.objects.create(
                    unit=target,
                    user=mate,
                    partner=person,
                    vehicle=shift.vehicle,
                    started_at=now,
                    signed_on_by=actor,
                )
            User.objects.filter(pk__in=[p.pk for p in people]).update(unit=target)
            if target.duty_status == DutyStatus.OFF_DUTY:
                target.duty_status, target.duty_status_at = DutyStatus.AVAILABLE, now
                target.save(update_fields=["duty_status", "duty_status_at"])
            record_audit(
                actor=actor,
                device=device,
                action="shift.started",
                obj=shift,
                after=snapshot(shift),
            )
            publish_unit(target)
    except IntegrityError as exc:  # two sign-ons at once: the open-shift index kept one
        raise Conflict("Already signed on to a unit; sign off first.") from exc
    return shift


def sign_off(*, actor: User, device: Device | None = None, shift_id: uuid.UUID) -> Shift:
    """End a shift: the person leaves the unit; a unit nobody is on goes off duty."""
    with change_transaction():
        shift = (
            Shift.objects.select_for_update(of=("self",))
            .select_related("unit", "user")
            .filter(pk=shift_id)
            .first()
        )
        if shift is None or (shift.user_id != actor.pk and role_of(actor) not in SHIFT_ADMINS):
            raise NotFound("No such shift.")
        if shift.ended_at is not None:
            raise Conflict("This shift has already ended.")
        unit = Unit.objects.select_for_update().get(pk=shift.unit_id)
        others = Shift.objects.filter(unit=unit, ended_at__isnull=True).exclude(pk=shift.pk)
        if not others.exists() and Assignment.objects.filter(unit=unit).open().exists():
            raise Conflict(
                f"{unit.call_sign} is still on a call; clear it before the last person signs off."
            )
        before = snapshot(shift)
        shift.ended_at = timezone.now()
        shift.signed_off_by = actor
        shift.save(update_fields=["ended_at", "signed_off_by"])
        User.objects.filter(pk=shift.user_id, unit=unit).update(unit=None)
        if not others.exists():
            unit.duty_status, unit.duty_status_at = DutyStatus.OFF_DUTY, shift.ended_at
            unit.save(update_fields=["duty_status", "duty_status_at"])
        record_audit(
            actor=actor,
            device=device,
            action="shift.ended",
            obj=shift,
            before=before,
            after=snapshot(shift),
        )
        publish_unit(unit)
    return shift


def set_duty_status(
    *,
    actor: User,
    device: Device | None = None,
    unit_id: int,
    status: str,
    at: datetime.datetime | None = None,
) -> Unit:
    """One tap on the tablet (its own unit), or a dispatcher or administrator for any unit."""
    role = role_of(actor)
    if role in ROLE_FOR_KIND.values() and actor.unit_id != unit_id:
        raise NotFound("No such unit.")
    if role not in (*ROLE_FOR_KIND.values(), Role.DISPATCHER, Role.ADMIN):
        raise Forbidden("Your role may not change a unit's duty status.")
    at = at or timezone.now()
    with change_transaction():
        unit = Unit.objects.select_for_update().filter(pk=unit_id).first()
        if unit is None:
            raise NotFound("No such unit.")
        check_time(
            at, field_name="at", not_before=unit.duty_status_at, after_what="its last status"
        )
        before = snapshot(unit, ["duty_status", "duty_status_at"])
        unit.duty_status = status
        unit.duty_status_at = min(at, timezone.now())
        full_clean(unit)
        unit.save(update_fields=["duty_status", "duty_status_at"])
        record_audit(
            actor=actor,
            device=device,
            action="unit.duty_status",
            obj=unit,
            before=before,
            after=snapshot(unit, ["duty_status", "duty_status_at"]),
        )
        publish_unit(unit)
    return unit
