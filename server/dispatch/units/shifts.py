"""Shifts, rosters and duty status: who is signed on to which unit, and whether it can take a call.

A supervisor rosters people on units for days; on a rostered day a responder signs on to that unit
from the tablet (or asks, and a supervisor approves on the board). Signing on sets the unit they
ride with (`User.unit`: which unit's stream and calls the tablet follows now) and opens a shift; the
shift, not `User.unit`, is what opens a call's records (`server.dispatch.policies`). A partner is
put on a unit by signing on from their own tablet, or by a supervisor; nobody else moves a person.
Each write validates, writes, audits and publishes in one `change_transaction()`.
"""

from __future__ import annotations

import datetime
import uuid

from django.db import IntegrityError
from django.utils import timezone

from server.accounts.models import Device, Role, User
from server.accounts.policies import FIELD, principal
from server.audit.services import record_audit, snapshot
from server.commands import check_time, full_clean
from server.dispatch import policies
from server.dispatch.models import (
    Assignment,
    DutyStatus,
    RosterEntry,
    Shift,
    SignOnRequest,
    SignOnRequestStatus,
    Unit,
)
from server.dispatch.policies import ROLE_FOR_KIND
from server.dispatch.units.presenters import roster_entry_data, sign_on_request_data, unit_staffing
from server.errors import Conflict, Forbidden, InvalidInput, NotFound, NotRostered
from server.feed.models import Stream
from server.feed.services import audit_and_publish, change_transaction, unit_stream, user_stream

ROSTER_MAX_DAYS = 366  # a roster is planned a year ahead at the most


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
    if not policies.fits(person, unit):
        wanted = ROLE_FOR_KIND[unit.kind]
        raise Forbidden(
            f"{person.username} can't sign on to {unit.call_sign}: it is "
            f"{unit.get_kind_display().lower()}.",
            fields={field: [f"{unit.call_sign} is for {Role(wanted).label}s."]},
        )


def today() -> datetime.date:
    """The program's date now (rosters are by local day)."""
    return timezone.localdate()


def publish_unit(unit: Unit, kind: str = "unit.updated") -> None:
    """The unit's staffing and duty status, to the board and to its own tablets."""
    audit_and_publish(kind=kind, data=unit_staffing(unit), to=unit_stream(unit.pk))


def sign_on(
    *,
    actor: User,
    device: Device | None = None,
    unit: int,
    partner: int | None = None,
    vehicle: str = "",
    user: int | None = None,
) -> Shift:
    """Sign the caller on to a unit they are rostered on today; a supervisor may sign on anyone
    (and name a partner) without a roster."""
    supervisor = policies.may_sign_on_others(actor)
    if user is not None and not supervisor and user != actor.pk:
        raise Forbidden("Only a supervisor signs someone else on.", fields={"user": ["No."]})
    if partner is not None and not supervisor:
        raise Forbidden(
            "Your partner signs on from their own tablet.",
            fields={"partner": ["A partner signs on themselves, or a supervisor adds them."]},
        )
    person = _person(user, "user") if user is not None else actor
    target = _unit(unit)
    _check_fits(person, target, "unit")
    if not supervisor and not policies.rostered(person, target, today()):
        raise NotRostered(
            f"You are not on {target.call_sign}'s roster today; ask a supervisor to approve.",
            fields={"unit": ["Not rostered on this unit today."]},
        )
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
    try:
        with change_transaction():
            return _open_shifts(actor, device, target, person, mate, (vehicle or "").strip())
    except IntegrityError as exc:  # two sign-ons at once: the open-shift index kept one
        raise Conflict("Already signed on to a unit; sign off first.") from exc


def _open_shifts(actor, device, target: Unit, person: User, mate, vehicle: str) -> Shift:
    now = timezone.now()
    Unit.objects.select_for_update().filter(pk=target.pk).first()
    people = [p for p in (person, mate) if p is not None]
    if Shift.objects.filter(user__in=people, ended_at__isnull=True).exists():
        raise Conflict(
            "Already signed on to a unit; sign off first.",
            fields={"unit": ["Sign off your current shift first."]},
        )
    floor = (
        Stream.objects.filter(name=unit_stream(target.pk)).values_list("last_seq", flat=True)
    ).first() or 0
    shift = Shift(
        unit=target,
        user=person,
        partner=mate,
        vehicle=vehicle,
        started_at=now,
        signed_on_by=actor,
        stream_floor=floor,
    )
    full_clean(shift)
    shift.save(force_insert=True)
    if mate is not None:
        Shift.objects.create(
            unit=target,
            user=mate,
            partner=person,
            vehicle=vehicle,
            started_at=now,
            signed_on_by=actor,
            stream_floor=floor,
        )
    User.objects.filter(pk__in=[p.pk for p in people]).update(unit=target)
    if target.duty_status == DutyStatus.OFF_DUTY:
        target.duty_status, target.duty_status_at = DutyStatus.AVAILABLE, now
        target.save(update_fields=["duty_status", "duty_status_at"])
    record_audit(
        actor=actor, device=device, action="shift.started", obj=shift, after=snapshot(shift)
    )
    publish_unit(target)
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
        if shift is None or not policies.may_end_shift(actor, shift):
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


# ---- rosters and sign-on requests ----------------------------------------------------------


def _publish_roster(kind: str, data: dict, person_id: int) -> None:
    """The board's roster panel, and the person's own tablet."""
    audit_and_publish(kind=kind, data=data, to=user_stream(person_id))


def add_to_roster(
    *,
    actor: User,
    device: Device | None = None,
    unit: int,
    user: int,
    first_day: datetime.date,
    last_day: datetime.date | None = None,
    note: str = "",
) -> RosterEntry:
    """A supervisor puts a person on a unit for a day, or a run of days."""
    person = _person(user, "user")
    target = _unit(unit)
    _check_fits(person, target, "unit")
    last_day = last_day or first_day
    if last_day < first_day:
        raise InvalidInput("The last day is before the first.", fields={"last_day": ["Before."]})
    if (last_day - first_day).days >= ROSTER_MAX_DAYS:
        raise InvalidInput(
            f"A roster runs {ROSTER_MAX_DAYS} days at the most.",
            fields={"last_day": [f"At most {ROSTER_MAX_DAYS} days after the first."]},
        )
    if last_day < today():
        raise InvalidInput("That roster is over already.", fields={"last_day": ["In the past."]})
    entry = RosterEntry(
        unit=target,
        user=person,
        first_day=first_day,
        last_day=last_day,
        created_by=actor,
        note=(note or "").strip(),
    )
    full_clean(entry)
    with change_transaction():
        entry.save(force_insert=True)
        record_audit(
            actor=actor, device=device, action="roster.added", obj=entry, after=snapshot(entry)
        )
        _publish_roster("roster.updated", roster_entry_data(entry), person.pk)
    return entry


def cancel_roster_entry(
    *, actor: User, device: Device | None = None, entry_id: uuid.UUID
) -> RosterEntry:
    """Take a person off a unit's roster. An open shift stays open: sign it off to end it."""
    with change_transaction():
        entry = RosterEntry.objects.select_for_update().filter(pk=entry_id).first()
        if entry is None:
            raise NotFound("No such roster entry.")
        if entry.cancelled_at is not None:
            raise Conflict("This roster entry is already cancelled.")
        before = snapshot(entry)
        entry.cancelled_at, entry.cancelled_by = timezone.now(), actor
        entry.save(update_fields=["cancelled_at", "cancelled_by"])
        record_audit(
            actor=actor,
            device=device,
            action="roster.cancelled",
            obj=entry,
            before=before,
            after=snapshot(entry),
        )
        _publish_roster("roster.updated", roster_entry_data(entry), entry.user_id)
    return entry


def request_sign_on(
    *, actor: User, device: Device | None = None, unit: int, reason: str = ""
) -> SignOnRequest:
    """A responder asks to ride a unit they are not rostered on today."""
    target = _unit(unit)
    _check_fits(actor, target, "unit")
    day = today()
    if policies.rostered(actor, target, day):
        raise Conflict(
            f"You are on {target.call_sign}'s roster today: sign on.",
            fields={"unit": ["Already rostered; sign on instead."]},
        )
    request = SignOnRequest(unit=target, user=actor, day=day, reason=(reason or "").strip())
    full_clean(request)
    try:
        with change_transaction():
            request.save(force_insert=True)
            record_audit(
                actor=actor,
                device=device,
                action="sign_on_request.made",
                obj=request,
                after=snapshot(request),
            )
            _publish_roster("sign_on_request.updated", sign_on_request_data(request), actor.pk)
    except IntegrityError as exc:
        raise Conflict(
            f"You have already asked to ride {target.call_sign} today.",
            fields={"unit": ["Already asked; a supervisor will answer."]},
        ) from exc
    return request


def decide_sign_on_request(
    *,
    actor: User,
    device: Device | None = None,
    request_id: uuid.UUID,
    approve: bool,
) -> SignOnRequest:
    """A supervisor approves (rostering the person on the unit for that day) or declines."""
    with change_transaction():
        request = (
            SignOnRequest.objects.select_for_update(of=("self",))
            .select_related("unit", "user")
            .filter(pk=request_id)
            .first()
        )
        if request is None:
            raise NotFound("No such sign-on request.")
        if request.status != SignOnRequestStatus.PENDING:
            raise Conflict("This request has already been answered.", current=request.status)
        before = snapshot(request)
        request.status = SignOnRequestStatus.APPROVED if approve else SignOnRequestStatus.DECLINED
        request.decided_at, request.decided_by = timezone.now(), actor
        request.save(update_fields=["status", "decided_at", "decided_by"])
        if approve and request.day >= today():
            entry = RosterEntry.objects.create(
                unit=request.unit,
                user=request.user,
                first_day=request.day,
                last_day=request.day,
                created_by=actor,
                note="Approved sign-on request",
            )
            _publish_roster("roster.updated", roster_entry_data(entry), request.user_id)
        record_audit(
            actor=actor,
            device=device,
            action="sign_on_request.decided",
            obj=request,
            before=before,
            after=snapshot(request),
        )
        _publish_roster("sign_on_request.updated", sign_on_request_data(request), request.user_id)
    return request


def set_duty_status(
    *,
    actor: User,
    device: Device | None = None,
    unit_id: int,
    status: str,
    at: datetime.datetime | None = None,
) -> Unit:
    """One tap on the tablet (its own unit), or a dispatcher or supervisor for any unit."""
    if principal(actor) in FIELD and not policies.on_unit_now(actor, unit_id):
        raise NotFound("No such unit.")
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
