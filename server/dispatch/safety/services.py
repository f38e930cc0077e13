"""Responder safety after the officers leave: the emergency button, police backup, on-scene
check-ins and their lapse alerts.

Each write validates what it stores, writes, audits and publishes its feed events in one
`change_transaction()`. Ids are the tablet's own: the same emergency sent over HTTP and again
from the offline queue is one emergency.
"""

from __future__ import annotations

import datetime
import logging
import uuid

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from server.accounts.models import Device, Role, User
from server.accounts.permissions import FIELD_ROLES, role_of
from server.accounts.policies import DISPATCHERS
from server.audit.services import record_audit, snapshot
from server.commands import check_time, full_clean
from server.dispatch import policies
from server.dispatch.incidents.presenters import assignment_data
from server.dispatch.incidents.services import locked_incident, unit_of_kind
from server.dispatch.models import (
    Assignment,
    AssignmentStatus,
    BackupReason,
    BackupRequest,
    CheckIn,
    CheckInLapse,
    Emergency,
    IncidentStatus,
    Unit,
    UnitKind,
)
from server.dispatch.protocol import current_protocol
from server.dispatch.safety.presenters import (
    CHECK_IN_GRACE_MINUTES,
    backup_data,
    check_in_data,
    emergency_data,
    emergency_realert_data,
    lapse_data,
)
from server.dispatch.units.positions import distance_m
from server.dispatch.units.selectors import staffed_unit_ids
from server.errors import Conflict, Forbidden, InvalidInput, NotFound, UnitUnavailable
from server.feed.services import (
    audit_and_publish,
    change_transaction,
    publish_event,
    unit_stream,
)

logger = logging.getLogger(__name__)

DISPATCH_ROLES = DISPATCHERS


def nearest_spd_count() -> int:
    return getattr(settings, "CARE_EMERGENCY_NEAREST_SPD", 3)


# ---- the emergency button ------------------------------------------------------------------


def start_emergency(
    *,
    actor: User,
    device: Device | None = None,
    id: uuid.UUID,
    unit: int,
    started_at: datetime.datetime,
    latitude: float | None = None,
    longitude: float | None = None,
    mutation_id: uuid.UUID | None = None,
) -> Emergency:
    """A responder held the emergency button: alert the board, their unit and SPD nearby."""
    if role_of(actor) not in FIELD_ROLES:
        raise Forbidden("Only a responder in the field sends an emergency.")
    if not policies.on_unit_now(actor, unit):
        raise Forbidden(
            "You can send an emergency only for your own unit.",
            fields={"unit": ["Not your unit."]},
        )
    if (latitude is None) != (longitude is None):
        raise InvalidInput(
            "Give both latitude and longitude, or neither.",
            fields={"latitude": ["Both or neither."], "longitude": ["Both or neither."]},
        )
    check_time(started_at, field_name="started_at")
    existing = _existing_emergency(id)
    if existing is not None and existing.unit_id == unit:
        return existing
    if existing is not None:
        # The id names another unit's emergency (a replayed or forged id; tablets draw random
        # ones). Help is never refused over an id, and the answer says nothing of the other
        # unit's record: the press is raised under an id of the server's, which the answer names.
        id = uuid.uuid4()
    still_open = Emergency.objects.select_related("unit", "incident").filter(
        unit_id=unit, ended_at__isnull=True
    )
    if (open_one := still_open.first()) is not None:
        # One unit, one open emergency: another hold alerts everyone again to the open one.
        with change_transaction():
            return _realert(actor, device, open_one)
    try:
        with change_transaction():
            return _start(actor, device, id, unit, started_at, latitude, longitude, mutation_id)
    except IntegrityError:
        # The same press arrived by two paths at once (HTTP and the queue): one row won. Or two
        # holds opened at once (one_open_emergency_per_unit): the one that won is re-alerted.
        existing = _existing_emergency(id)
        if existing is not None and existing.unit_id == unit:
            return existing
        open_one = still_open.first()
        if open_one is None:
            raise
        with change_transaction():
            return _realert(actor, device, open_one)


def _realert(actor: User, device: Device | None, emergency: Emergency) -> Emergency:
    record_audit(
        actor=actor,
        device=device,
        action="emergency.realerted",
        obj=emergency,
        after=snapshot(emergency),
    )
    data = emergency_realert_data(emergency, timezone.now())
    publish_event(stream="dispatch", kind="emergency.started", data=data)
    for unit_id in {emergency.unit_id, *emergency.alerted_units}:
        kind = "emergency.started" if unit_id == emergency.unit_id else "emergency.alert"
        publish_event(stream=unit_stream(unit_id), kind=kind, data=data)
    return emergency


def _existing_emergency(emergency_id: uuid.UUID) -> Emergency | None:
    return Emergency.objects.select_related("unit", "incident").filter(pk=emergency_id).first()


def _start(actor, device, emergency_id, unit_id, started_at, latitude, longitude, mutation_id):
    unit = Unit.objects.get(pk=unit_id)
    assignment = Assignment.objects.open().filter(unit=unit).select_related("incident").first()
    emergency = Emergency(
        id=emergency_id,
        unit=unit,
        incident=assignment.incident if assignment else None,
        started_by=actor,
        device=device,
        started_at=min(started_at, timezone.now()),
    )
    if latitude is not None:
        emergency.latitude, emergency.longitude = latitude, longitude
        emergency.position_at = emergency.started_at
    else:  # the unit's last accepted fix
        emergency.latitude, emergency.longitude = unit.last_latitude, unit.last_longitude
        emergency.position_at = unit.last_position_at
    emergency.alerted_units = _spd_to_alert(emergency)
    full_clean(emergency, exclude=["device"])
    with transaction.atomic():
        emergency.save(force_insert=True)
    data = emergency_data(emergency)
    audit_and_publish(
        audit={
            "actor": actor,
            "device": device,
            "action": "emergency.started",
            "obj": emergency,
            "after": snapshot(emergency),
        },
        kind="emergency.started",
        data=data,
        to=unit_stream(unit.pk),
        mutation_id=mutation_id,
    )
    for other in emergency.alerted_units:
        publish_event(stream=unit_stream(other), kind="emergency.alert", data=data)
    return emergency


def _spd_to_alert(emergency: Emergency) -> list[int]:
    """SPD units on the emergency's call, then the nearest staffed SPD units by last fix."""
    on_call = []
    if emergency.incident_id:
        on_call = list(
            Assignment.objects.open()
            .filter(incident_id=emergency.incident_id, kind=UnitKind.SPD)
            .exclude(unit_id=emergency.unit_id)
            .values_list("unit_id", flat=True)
        )
    nearest: list[tuple[float, int]] = []
    if emergency.latitude is not None:
        staffed = staffed_unit_ids()
        candidates = Unit.objects.filter(
            kind=UnitKind.SPD, in_service=True, last_latitude__isnull=False
        ).exclude(pk__in=[emergency.unit_id, *on_call])
        nearest = sorted(
            (
                distance_m(
                    (emergency.latitude, emergency.longitude), (u.last_latitude, u.last_longitude)
                ),
                u.pk,
            )
            for u in candidates
            if u.pk in staffed
        )
    return sorted(set(on_call)) + [pk for _, pk in nearest[: nearest_spd_count()]]


def _locked_emergency(emergency_id) -> Emergency:
    try:
        return (
            Emergency.objects.select_for_update(of=("self",))
            .select_related("unit", "incident")
            .get(pk=emergency_id)
        )
    except (Emergency.DoesNotExist, ValueError) as exc:
        raise NotFound("No such emergency.") from exc


def _publish_emergency(emergency: Emergency, kind: str) -> None:
    data = emergency_data(emergency)
    publish_event(stream="dispatch", kind=kind, data=data)
    for unit_id in {emergency.unit_id, *emergency.alerted_units}:
        publish_event(stream=unit_stream(unit_id), kind=kind, data=data)


def acknowledge_emergency(
    *, actor: User, device: Device | None = None, emergency_id: uuid.UUID
) -> Emergency:
    """The dispatcher has it: the tablet shows "dispatch has your alert"."""
    if role_of(actor) not in DISPATCH_ROLES:
        raise Forbidden("Only dispatch acknowledges an emergency.")
    with change_transaction():
        emergency = _locked_emergency(emergency_id)
        if emergency.acknowledged_at is not None:
            return emergency  # a second dispatcher's click: already theirs
        emergency.acknowledged_at = timezone.now()
        emergency.acknowledged_by = actor
        emergency.save(update_fields=["acknowledged_at", "acknowledged_by"])
        record_audit(
            actor=actor,
            device=device,
            action="emergency.acknowledged",
            obj=emergency,
            after={"acknowledged_at": emergency.acknowledged_at.isoformat()},
        )
        _publish_emergency(emergency, "emergency.acknowledged")
    return emergency


def end_emergency(
    *,
    actor: User,
    device: Device | None = None,
    emergency_id: uuid.UUID,
    pin_verified: bool = False,
    note: str = "",
    mutation_id: uuid.UUID | None = None,
) -> Emergency:
    """Ended by the device that raised it (the tablet checked its PIN), or by a dispatcher or
    supervisor who has acknowledged it, with a note; by no one else. A flag from another device
    proves nothing, so the server trusts the raising device, not `pin_verified`."""
    note = (note or "").strip()
    role = role_of(actor)
    with change_transaction():
        emergency = _locked_emergency(emergency_id)
        by_raiser = policies.raised_emergency(actor, device, emergency)
        if role in FIELD_ROLES:
            if not by_raiser:
                raise NotFound("No such emergency.")  # another device's: not there, to this one
            if not pin_verified:
                raise InvalidInput(
                    "Enter your PIN to end the emergency.",
                    fields={"pin_verified": ["The PIN must be checked on the tablet."]},
                )
        elif role in DISPATCH_ROLES:
            if emergency.acknowledged_at is None and emergency.ended_at is None:
                raise Conflict(
                    "Acknowledge the emergency before ending it.", current="unacknowledged"
                )
            if not note:
                raise InvalidInput(
                    "Say how you confirmed the team is safe.", fields={"note": ["Required."]}
                )
        else:
            raise Forbidden("Your role may not end an emergency.")
        if emergency.ended_at is not None:
            raise Conflict("This emergency has already ended.", current="ended")
        before = snapshot(emergency)
        emergency.ended_at = timezone.now()
        emergency.ended_by = actor
        emergency.ended_with_pin = role in FIELD_ROLES
        emergency.end_note = note
        full_clean(emergency)
        emergency.save()
        record_audit(
            actor=actor,
            device=device,
            action="emergency.ended",
            obj=emergency,
            before=before,
            after=snapshot(emergency),
        )
        _publish_emergency(emergency, "emergency.ended")
    return emergency


# ---- police backup -------------------------------------------------------------------------


def _own_care_assignment(actor: User, assignment_id, *, for_update: bool = False) -> Assignment:
    queryset = Assignment.objects.select_related("unit", "incident", "incident__call_type")
    if for_update:
        queryset = queryset.select_for_update(of=("self",))
    try:
        assignment = queryset.get(pk=assignment_id)
    except (Assignment.DoesNotExist, ValueError) as exc:
        raise NotFound("No such assignment.") from exc
    if not policies.may_move(actor, assignment) or role_of(actor) == Role.SPD_OFFICER:
        raise NotFound("No such assignment.")  # not theirs: don't confirm it exists
    if assignment.kind != UnitKind.CARE:
        raise InvalidInput("Only a CARE team's assignment takes this.")
    return assignment


def request_backup(
    *,
    actor: User,
    device: Device | None = None,
    assignment_id: uuid.UUID,
    id: uuid.UUID,
    urgent: bool = False,
    reason: str | None = None,
    requested_at: datetime.datetime | None = None,
    mutation_id: uuid.UUID | None = None,
) -> BackupRequest:
    """A CARE team asks police to come back to its call."""
    requested_at = requested_at or timezone.now()
    with change_transaction():
        assignment = _own_care_assignment(actor, assignment_id, for_update=True)
        existing = (
            BackupRequest.objects.filter(pk=id)
            .select_related("assignment__unit", "incident", "reason")
            .first()
        )
        if existing is not None and existing.assignment_id == assignment.pk:
            return existing
        if existing is not None:
            # Another call's request holds this id: ask for help anyway, under an id of ours,
            # and say nothing of that call (as with the emergency button).
            id = uuid.uuid4()
        if not assignment.is_open:
            raise Conflict("This assignment has ended; call dispatch directly.")
        check_time(
            requested_at,
            field_name="requested_at",
            not_before=assignment.dispatched_at,
            after_what="the dispatch",
        )
        code = None
        if reason:
            code = BackupReason.objects.filter(code=reason, active=True).first()
            if code is None:
                raise InvalidInput(
                    f"'{reason}' is not a backup reason.",
                    fields={"reason": ["Choose one of the protocol's backup reasons."]},
                )
        request = BackupRequest(
            id=id,
            assignment=assignment,
            incident=assignment.incident,
            urgent=urgent,
            reason=code,
            requested_by=actor,
            device=device,
            requested_at=min(requested_at, timezone.now()),
        )
        full_clean(request, exclude=["device"])
        request.save(force_insert=True)
        audit_and_publish(
            audit={
                "actor": actor,
                "device": device,
                "action": "backup.requested",
                "obj": request,
                "after": snapshot(request),
            },
            kind="backup.requested",
            data=backup_data(request),
            to=unit_stream(assignment.unit_id),
            mutation_id=mutation_id,
        )
    return request


def send_backup(
    *, actor: User, device: Device | None = None, incident_id, spd_unit: int
) -> Assignment:
    """Send an SPD unit to a call already under way: a new assignment with its own lifecycle;
    it answers the call's open backup requests."""
    if role_of(actor) not in DISPATCH_ROLES:
        raise Forbidden("Only dispatch sends backup.")
    unit = unit_of_kind(spd_unit, kind=UnitKind.SPD, field="spd_unit")
    try:
        with change_transaction():
            incident = locked_incident(incident_id)
            if incident.status not in (IncidentStatus.DISPATCHED, IncidentStatus.ON_SCENE):
                raise Conflict(
                    f"This call is {incident.get_status_display().lower()}; dispatch it instead.",
                    current=incident.status,
                )
            Unit.objects.select_for_update().filter(pk=unit.pk).first()
            busy = Assignment.objects.open().filter(unit=unit).select_related("incident").first()
            if busy:
                raise UnitUnavailable(
                    f"{unit.call_sign} is already committed to call {busy.incident.cad_number}.",
                    unit=unit.pk,
                )
            now = timezone.now()
            assignment = Assignment.objects.create(
                incident=incident, unit=unit, kind=unit.kind, dispatched_at=now
            )
            answered = list(
                BackupRequest.objects.select_for_update().filter(
                    incident=incident, answered_by__isnull=True
                )
            )
            BackupRequest.objects.filter(pk__in=[r.pk for r in answered]).update(
                answered_by=assignment, answered_at=now
            )
            record_audit(
                actor=actor,
                device=device,
                action="assignment.dispatched",
                obj=assignment,
                after=snapshot(assignment) | {"backup_for": [str(r.pk) for r in answered]},
            )
            _publish_backup_sent(incident, assignment, answered)
    except IntegrityError as exc:
        raise UnitUnavailable(f"{unit.call_sign} was just committed to another call.") from exc
    return assignment


def _publish_backup_sent(incident, assignment: Assignment, answered: list) -> None:
    siblings = list(incident.assignments.select_related("unit"))
    assignment.incident = incident
    data = assignment_data(assignment, partners=[p for p in siblings if p.pk != assignment.pk])
    audit_and_publish(kind="assignment.dispatched", data=data, to=unit_stream(assignment.unit_id))
    for request in answered:
        request.answered_by, request.answered_at = assignment, assignment.dispatched_at
        view = backup_data(request) | {"sent_call_sign": assignment.unit.call_sign}
        audit_and_publish(kind="backup.sent", data=view, to=unit_stream(request.assignment.unit_id))


# ---- on-scene check-ins --------------------------------------------------------------------


def record_check_in(
    *,
    actor: User,
    device: Device | None = None,
    assignment_id: uuid.UUID,
    id: uuid.UUID,
    at: datetime.datetime,
    mutation_id: uuid.UUID | None = None,
) -> CheckIn:
    """ "All OK?" answered: counts at the tablet's time, even when it syncs later."""
    with change_transaction():
        assignment = _own_care_assignment(actor, assignment_id)
        existing = CheckIn.objects.filter(pk=id).first()
        if existing is not None and existing.assignment_id == assignment.pk:
            return existing
        if existing is not None:
            id = uuid.uuid4()  # another call's check-in: counted here, under an id of ours
        if assignment.on_scene_at is None:
            raise Conflict("The team is not on scene yet; nothing to check in on.")
        check_time(
            at, field_name="at", not_before=assignment.on_scene_at, after_what="arrival on scene"
        )
        check_in = CheckIn(id=id, assignment=assignment, at=at, actor=actor, device=device)
        full_clean(check_in, exclude=["device"])
        check_in.save(force_insert=True)
        audit_and_publish(
            audit={
                "actor": actor,
                "device": device,
                "action": "check_in.answered",
                "obj": check_in,
                "after": {"at": at.isoformat()},
            },
            kind="check_in.answered",
            data=check_in_data(check_in) | {"call_sign": assignment.unit.call_sign},
            to=unit_stream(assignment.unit_id),
            mutation_id=mutation_id,
        )
    return check_in


def check_in_due(assignment: Assignment, now: datetime.datetime | None = None):
    """When the team's next check-in is due, or None while police are still on the call."""
    if assignment.status != AssignmentStatus.ON_SCENE or assignment.kind != UnitKind.CARE:
        return None
    partners = list(assignment.incident.assignments.exclude(pk=assignment.pk))
    if any(p.kind == UnitKind.SPD and p.is_open for p in partners):
        return None
    marks = [assignment.on_scene_at]
    marks += [p.cleared_at for p in partners if p.kind == UnitKind.SPD and p.cleared_at]
    last = assignment.check_ins.order_by("-at").values_list("at", flat=True).first()
    if last:
        marks.append(last)
    minutes = current_protocol().check_in_minutes
    return max(m for m in marks if m) + datetime.timedelta(minutes=minutes)


def raise_check_in_lapses(*, now: datetime.datetime | None = None) -> list[CheckInLapse]:
    """Alert the dispatch stream once per lapse. Safe from several processes at once: the
    lapse row's unique (assignment, due) lets one insert win; only the winner publishes."""
    now = now or timezone.now()
    grace = datetime.timedelta(minutes=CHECK_IN_GRACE_MINUTES)
    raised = []
    candidates = Assignment.objects.filter(
        kind=UnitKind.CARE, status=AssignmentStatus.ON_SCENE
    ).select_related("unit", "incident")
    for assignment in candidates[:500]:
        due = check_in_due(assignment, now)
        if due is None or now < due + grace:
            continue
        lapse = _claim_lapse(assignment, due, now)
        if lapse is not None:
            raised.append(lapse)
    return raised


def _claim_lapse(assignment: Assignment, due, now) -> CheckInLapse | None:
    try:
        with change_transaction():
            lapse = CheckInLapse.objects.create(assignment=assignment, due_at=due, raised_at=now)
            record_audit(
                actor=None,
                action="check_in.lapsed",
                obj=assignment,
                after={"due_at": due.isoformat()},
            )
            publish_event(stream="dispatch", kind="check_in.lapsed", data=lapse_data(lapse))
            return lapse
    except IntegrityError:
        return None  # raised already, here or by another process


def clear_lapse(
    *, actor: User, device: Device | None = None, lapse_id: int, note: str = ""
) -> CheckInLapse:
    """The dispatcher reached the team."""
    if role_of(actor) not in DISPATCH_ROLES:
        raise Forbidden("Only dispatch clears a check-in alert.")
    with change_transaction():
        won = CheckInLapse.objects.filter(pk=lapse_id, cleared_at__isnull=True).update(
            cleared_at=timezone.now(), cleared_by=actor, note=(note or "").strip()
        )
        lapse = (
            CheckInLapse.objects.select_related("assignment__unit", "assignment__incident")
            .filter(pk=lapse_id)
            .first()
        )
        if lapse is None:
            raise NotFound("No such check-in alert.")
        if won:
            record_audit(
                actor=actor,
                device=device,
                action="check_in.lapse_cleared",
                obj=lapse,
                after={"note": lapse.note},
            )
            publish_event(stream="dispatch", kind="check_in.cleared", data=lapse_data(lapse))
    return lapse
