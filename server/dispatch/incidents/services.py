"""Every change to incidents, units and assignments: validate, write, audit, publish, in one
transaction. Views, admin actions, sync and the websocket consumer all call these."""

from __future__ import annotations

import datetime
import uuid

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.utils import timezone

from server.accounts.models import Device, Role, User
from server.accounts.permissions import role_of
from server.audit.services import record_audit, snapshot
from server.commands import check_time, full_clean
from server.dispatch import policies
from server.dispatch.geography import Place, locate
from server.dispatch.incidents import lifecycle
from server.dispatch.incidents.presenters import assignment_data, incident_summary
from server.dispatch.incidents.screening import assess, program_schedule
from server.dispatch.models import (
    CARE_WITHDRAWN,
    OPEN_INCIDENT_STATUSES,
    SCREENING,
    Assignment,
    AssignmentStatus,
    AssignmentTransition,
    CallType,
    DispatchModel,
    Incident,
    IncidentSource,
    IncidentStatus,
    PoliceOnlyReason,
    Recommendation,
    ResponseSent,
    ScreeningQuestion,
    Unit,
    UnitKind,
)
from server.dispatch.protocol import current_protocol
from server.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    TransitionNotAllowed,
    UnitUnavailable,
    WrongDispatchModel,
)
from server.feed.services import (
    audit_and_publish,
    change_transaction,
    publish_event,
    unit_stream,
)

NO_LOCATION_YET = "The call has no location yet; it is screened again when it is placed."
DISPATCHABLE = (IncidentStatus.RECEIVED, IncidentStatus.SCREENED, IncidentStatus.TRIAGE)
INCIDENT_AUDIT_FIELDS = [
    "status",
    "response",
    "override_reason",
    "police_only_code",
    "police_only_note",
    "resolution_note",
    "hotline_name",
    "cancel_reason",
    "eligible",
    "recommendation",
]


# ---- incidents -----------------------------------------------------------------------------


def create_incident(
    *,
    actor: User,
    device: Device | None = None,
    cad_number: str,
    call_type: str,
    priority: int,
    address: str,
    latitude: float,
    longitude: float,
    narrative: str = "",
    received_at: datetime.datetime,
    screening: dict[str, bool],
) -> Incident:
    """Record a 911 call and screen it against the protocol."""
    check_time(received_at, field_name="received_at")
    call = CallType.objects.filter(code=call_type, active=True).first()
    if call is None:
        raise InvalidInput(
            f"'{call_type}' is not a known CAD call type.",
            fields={"call_type": [f"Unknown call type '{call_type}'."]},
        )
    questions = list(ScreeningQuestion.objects.filter(active=True))
    missing = [q.key for q in questions if q.required and q.key not in screening]
    unknown = sorted(set(screening) - {q.key for q in questions})
    if missing or unknown:
        fields = {f"screening.{k}": ["Answer yes or no."] for k in missing}
        fields.update({f"screening.{k}": ["Not a screening question."] for k in unknown})
        raise InvalidInput("The screening answers are incomplete.", fields=fields)
    if Incident.objects.filter(cad_number=cad_number).exists():
        raise _duplicate_cad(cad_number)

    place = locate(latitude=latitude, longitude=longitude)
    return _record_incident(
        actor=actor,
        device=device,
        call=call,
        questions=questions,
        place=place,
        cad_number=cad_number,
        priority=priority,
        address=address,
        latitude=latitude,
        longitude=longitude,
        narrative=narrative,
        received_at=received_at,
        screening=screening,
    )


def _record_incident(
    *, actor, device, call, questions, place: Place, source=IncidentSource.CONSOLE, **fields
) -> Incident:
    """Screen a call and store it; a call without coordinates waits as `needs_location`."""
    protocol = current_protocol()
    result = assess(
        protocol=protocol,
        call_type=call,
        place=place,
        received_at=fields["received_at"],
        answers=fields["screening"],
        questions=questions,
        schedule=program_schedule(),
    )
    model = protocol.dispatch_model
    triage = result.eligible and model == DispatchModel.EMBEDDED_PROFESSIONAL
    if fields["latitude"] is None or fields["longitude"] is None:
        status = IncidentStatus.NEEDS_LOCATION
        # Not "outside the pilot area": nobody knows where it is yet.
        result.reasons = [NO_LOCATION_YET] + [
            r for r in result.reasons if not r.startswith("The location is outside")
        ]
    else:
        status = IncidentStatus.TRIAGE if triage else IncidentStatus.SCREENED
    try:
        with change_transaction():
            incident = Incident(
                call_type=call,
                beat=place.beat,
                area=place.area,
                in_pilot_area=place.in_pilot_area,
                eligible=result.eligible,
                eligibility_reasons=result.reasons,
                recommendation=result.recommendation,
                dispatch_model=model,
                status=status,
                source=source,
                created_by=actor,
                **fields,
            )
            # The screening result is the server's own; an eligible call has no reasons.
            full_clean(incident, exclude=["call_type", "created_by", "eligibility_reasons"])
            incident.save(force_insert=True)
            record_audit(
                actor=actor,
                device=device,
                action="incident.created",
                obj=incident,
                after=snapshot(incident),
            )
            _publish_incident(incident, "incident.created")
    except IntegrityError as exc:
        # Two CAD feeds sent the same call at once; the unique index refused the second.
        if not Incident.objects.filter(cad_number=fields["cad_number"]).exists():
            raise
        raise _duplicate_cad(fields["cad_number"]) from exc
    return incident


def _duplicate_cad(cad_number: str) -> Conflict:
    return Conflict(
        f"CAD number {cad_number} is already recorded.",
        fields={"cad_number": ["Already recorded."]},
    )


def _publish_incident(incident: Incident, kind: str) -> None:
    data = incident_summary(incident) | {
        "eligible": incident.eligible,
        "reasons": incident.eligibility_reasons,
        "recommendation": incident.recommendation,
        "response": incident.response,
    }
    publish_event(stream="dispatch", kind=kind, data=data)


def locked_incident(incident_id: uuid.UUID | str) -> Incident:
    try:
        return (
            Incident.objects.select_for_update(of=("self",))
            .select_related("call_type")
            .get(pk=incident_id)
        )
    except (Incident.DoesNotExist, ValueError, DjangoValidationError) as exc:
        raise NotFound("No such incident.") from exc


def unit_of_kind(unit_id, *, kind: str, field: str) -> Unit | None:
    """The unit named in a field, refused unless it exists, is of this kind and in service."""
    if unit_id in (None, ""):
        return None
    unit = Unit.objects.filter(pk=unit_id).first() if str(unit_id).isdigit() else None
    if unit is None:
        raise NotFound(f"No unit {unit_id}.", fields={field: ["No such unit."]})
    if unit.kind != kind:
        wanted = "a CARE team" if kind == UnitKind.CARE else "an SPD unit"
        raise InvalidInput(
            f"{unit.call_sign} is not {wanted}.",
            fields={field: [f"{unit.call_sign} is not {wanted}."]},
        )
    if not unit.in_service:
        raise UnitUnavailable(f"{unit.call_sign} is out of service.", unit=unit.pk)
    return unit


def _check_override(incident: Incident, *, sends_care: bool, override_reason: str) -> None:
    follows = (incident.recommendation == Recommendation.DUAL_DISPATCH and sends_care) or (
        incident.recommendation == Recommendation.POLICE_ONLY and not sends_care
    )
    if not follows and not override_reason:
        raise InvalidInput(
            f"The recommendation is {incident.get_recommendation_display().lower()}; "
            "say why you are sending something else.",
            fields={"override_reason": ["Required when dispatching against the recommendation."]},
        )


_SYSTEM_LABELS = {
    CARE_WITHDRAWN: "CARE team withdrawn from the call",
    SCREENING: "Screening answers called for police only",
}


def police_only_reason(code: str) -> PoliceOnlyReason:
    """One of the program's own codes (made again if an administrator removed it)."""
    reason, _ = PoliceOnlyReason.objects.get_or_create(
        code=code, defaults={"label": _SYSTEM_LABELS[code]}
    )
    return reason


def _police_only_choice(incident: Incident, code: str) -> PoliceOnlyReason:
    """The reason an eligible call goes police only: the dispatcher's code from the list, or
    the screening's when it recommended police only and no code was chosen."""
    if not code and incident.recommendation != Recommendation.DUAL_DISPATCH:
        return police_only_reason(SCREENING)
    choosable = PoliceOnlyReason.objects.for_dispatchers()
    reason = choosable.filter(code=code).first() if code else None
    if reason is None:
        choices = ", ".join(choosable.values_list("code", flat=True))
        raise InvalidInput(
            "Choose why this eligible call goes police only"
            + (f": '{code[:40]}' is not on the list." if code else "."),
            fields={"police_only_code": [f"One of: {choices}."]},
        )
    return reason


def dispatch_incident(
    *,
    actor: User,
    device: Device | None = None,
    incident_id: uuid.UUID | str,
    care_unit: int | None,
    spd_unit: int | None,
    override_reason: str = "",
    police_only_code: str = "",
) -> list[Assignment]:
    """Send a CARE team and an SPD unit at once (or SPD alone on an eligible call, with a code
    from the police-only reasons). Both assignments are made in one transaction or neither is."""
    override_reason = (override_reason or "").strip()
    police_only_code = (police_only_code or "").strip()
    care = unit_of_kind(care_unit, kind=UnitKind.CARE, field="care_unit")
    spd = unit_of_kind(spd_unit, kind=UnitKind.SPD, field="spd_unit")
    if spd is None:
        raise InvalidInput(
            "Every CARE call goes with an SPD unit; choose one.",
            fields={"spd_unit": ["This field is required."]},
        )
    try:
        with change_transaction():
            return _dispatch_locked(
                actor, device, incident_id, care, spd, override_reason, police_only_code
            )
    except IntegrityError as exc:
        # The partial unique index caught a race the row locks did not (SQLite has none).
        raise UnitUnavailable("One of these units was just committed to another call.") from exc


def _dispatch_locked(
    actor, device, incident_id, care, spd, override_reason, police_only_code
) -> list[Assignment]:
    incident = locked_incident(incident_id)
    if incident.status not in DISPATCHABLE:
        raise Conflict(
            f"This call is {incident.get_status_display().lower()}; it can't be dispatched again.",
            current=incident.status,
        )
    reason = None
    if care is None and incident.eligible:
        reason = _police_only_choice(incident, police_only_code)
    _check_override(
        incident,
        sends_care=care is not None,
        override_reason=override_reason or (reason.code if reason else ""),
    )
    units = [u for u in (care, spd) if u is not None]
    # Lock the units in a fixed order so two dispatchers can't deadlock on each other.
    list(Unit.objects.select_for_update().filter(pk__in=[u.pk for u in units]).order_by("pk"))
    busy = (
        Assignment.objects.filter(unit__in=units).open().select_related("unit", "incident").first()
    )
    if busy:
        raise UnitUnavailable(
            f"{busy.unit.call_sign} is already committed to call {busy.incident.cad_number}.",
            unit=busy.unit_id,
        )
    before = snapshot(incident, INCIDENT_AUDIT_FIELDS)
    now = timezone.now()
    assignments = [
        Assignment.objects.create(incident=incident, unit=u, kind=u.kind, dispatched_at=now)
        for u in units
    ]
    incident.status = IncidentStatus.DISPATCHED
    incident.dispatched_at = now
    incident.override_reason = override_reason
    incident.response = ResponseSent.DUAL if care else ResponseSent.POLICE_ONLY
    if care is None and incident.eligible:
        incident.police_only_code = reason
        incident.police_only_note = override_reason
    incident.save()
    record_audit(
        actor=actor,
        device=device,
        action="incident.dispatched",
        obj=incident,
        before=before,
        after=snapshot(incident, INCIDENT_AUDIT_FIELDS) | {"units": [u.call_sign for u in units]},
    )
    for a in assignments:
        audit = {"actor": actor, "device": device, "action": "assignment.dispatched", "obj": a}
        audit["after"] = snapshot(a)
        a.incident = incident
        data = assignment_data(a, partners=[p for p in assignments if p is not a])
        audit_and_publish(
            audit=audit, kind="assignment.dispatched", data=data, to=unit_stream(a.unit_id)
        )
    _publish_incident(incident, "incident.updated")
    return assignments


def _require_model(incident: Incident, model: str, action: str) -> None:
    if incident.dispatch_model != model:
        raise WrongDispatchModel(
            f"Calls can be {action} only under the {DispatchModel(model).label} model; this call "
            f"was taken under {incident.get_dispatch_model_display()}.",
        )
    if not incident.eligible:
        raise Conflict(f"Only CARE-eligible calls can be {action}.")
    if incident.status not in (IncidentStatus.SCREENED, IncidentStatus.TRIAGE):
        raise Conflict(
            f"This call is {incident.get_status_display().lower()}.", current=incident.status
        )


def resolve_by_phone(
    *, actor: User, device: Device | None = None, incident_id, note: str
) -> Incident:
    """Embedded professional: the call is settled on the phone and no unit goes."""
    if not (note or "").strip():
        raise InvalidInput("Say how the call was resolved.", fields={"note": ["Required."]})
    with change_transaction():
        incident = locked_incident(incident_id)
        _require_model(incident, DispatchModel.EMBEDDED_PROFESSIONAL, "resolved by phone")
        return _finish(
            incident,
            actor,
            device,
            IncidentStatus.RESOLVED_BY_PHONE,
            "incident.resolved_by_phone",
            resolution_note=note.strip(),
        )


def refer_to_hotline(
    *,
    actor: User,
    device: Device | None = None,
    incident_id,
    hotline_name: str = "",
    note: str = "",
) -> Incident:
    """External hotline model: the call is forwarded and no unit of ours goes."""
    with change_transaction():
        incident = locked_incident(incident_id)
        _require_model(incident, DispatchModel.EXTERNAL_HOTLINE, "referred to a hotline")
        name = (hotline_name or "").strip() or current_protocol().hotline_name
        return _finish(
            incident,
            actor,
            device,
            IncidentStatus.REFERRED_TO_HOTLINE,
            "incident.referred_to_hotline",
            hotline_name=name,
            resolution_note=(note or "").strip(),
        )


def _finish(incident, actor, device, status, action, **changes) -> Incident:
    before = snapshot(incident, INCIDENT_AUDIT_FIELDS)
    incident.status = status
    incident.closed_at = timezone.now()
    for key, value in changes.items():
        setattr(incident, key, value)
    incident.save()
    record_audit(
        actor=actor,
        device=device,
        action=action,
        obj=incident,
        before=before,
        after=snapshot(incident, INCIDENT_AUDIT_FIELDS),
    )
    _publish_incident(incident, "incident.updated")
    return incident


def cancel_incident(
    *, actor: User, device: Device | None = None, incident_id, reason: str
) -> Incident:
    """Call it off: open assignments become cancelled and their units are free again."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the call is cancelled.", fields={"reason": ["Required."]})
    with change_transaction():
        incident = locked_incident(incident_id)
        if incident.status not in (
            *DISPATCHABLE,
            IncidentStatus.NEEDS_LOCATION,
            IncidentStatus.DISPATCHED,
            IncidentStatus.ON_SCENE,
        ):
            raise Conflict(
                f"This call is already {incident.get_status_display().lower()}.",
                current=incident.status,
            )
        open_ones = list(incident.assignments.select_for_update().open())
        for a in open_ones:
            _apply_transition(
                a,
                actor=actor,
                device=device,
                to=AssignmentStatus.CANCELLED,
                occurred_at=timezone.now(),
                note=reason,
                refresh_incident=False,
            )
        return _finish(
            incident,
            actor,
            device,
            IncidentStatus.CANCELLED,
            "incident.cancelled",
            cancel_reason=reason,
        )


# ---- assignments ---------------------------------------------------------------------------


def transition_assignment(
    *,
    actor: User,
    device: Device | None = None,
    assignment_id,
    to: str,
    occurred_at: datetime.datetime | None = None,
    note: str = "",
    mutation_id: uuid.UUID | None = None,
) -> Assignment:
    """Move one assignment to its next state, as the lifecycle table allows."""
    with change_transaction():
        # Lock the call first, as dispatch and cancel do: its two units' changes then take
        # turns (no deadlock), and each reads the incident as the other left it (no lost update).
        try:
            incident_id = (
                Assignment.objects.filter(pk=assignment_id)
                .values_list("incident_id", flat=True)
                .first()
            )
        except (ValueError, DjangoValidationError) as exc:
            raise NotFound("No such assignment.") from exc
        list(Incident.objects.select_for_update().filter(pk=incident_id).values_list("pk"))
        try:
            assignment = (
                Assignment.objects.select_for_update(of=("self",))
                .select_related("unit", "incident", "incident__call_type")
                .get(pk=assignment_id)
            )
        except (Assignment.DoesNotExist, ValueError, DjangoValidationError) as exc:
            raise NotFound("No such assignment.") from exc
        _check_actor(actor, assignment, to)
        return _apply_transition(
            assignment,
            actor=actor,
            device=device,
            to=to,
            occurred_at=occurred_at or timezone.now(),
            note=note,
            mutation_id=mutation_id,
        )


def _last_change_at(assignment: Assignment) -> datetime.datetime:
    """When the assignment last moved, by the clock that moved it (dispatch: the server's)."""
    last = (
        AssignmentTransition.objects.filter(assignment=assignment)
        .order_by("-occurred_at")
        .values_list("occurred_at", flat=True)
        .first()
    )
    return max(last, assignment.dispatched_at) if last else assignment.dispatched_at


def _check_actor(actor: User, assignment: Assignment, to: str) -> None:
    role = role_of(actor)
    if not policies.may_move(actor, assignment):
        raise NotFound("No such assignment.")  # not theirs: don't confirm it exists
    if to in lifecycle.ACTORS and role not in lifecycle.ACTORS[to] and role != Role.ADMIN:
        raise Forbidden(
            f"Your role may not set an assignment to '{to}'.",
            current=assignment.status,
            requested=to,
        )


def _apply_transition(
    assignment: Assignment,
    *,
    actor,
    device,
    to,
    occurred_at,
    note="",
    mutation_id=None,
    refresh_incident=True,
) -> Assignment:
    current = assignment.status
    if not lifecycle.is_allowed(assignment.kind, current, to):
        allowed = lifecycle.allowed_next(assignment.kind, current)
        raise TransitionNotAllowed(
            f"This {assignment.get_kind_display()} assignment is {current}; it can't become {to}"
            + (f" (next: {', '.join(allowed)})." if allowed else ": it is finished."),
            current=current,
            requested=to,
        )
    check_time(
        occurred_at,
        field_name="occurred_at",
        not_before=_last_change_at(assignment),
        after_what="the assignment's last change",
    )
    note = (note or "").strip()
    if to in lifecycle.NOTE_REQUIRED and not note:
        raise InvalidInput(
            f"Add a note to say why: '{to}' needs one.",
            fields={"note": ["Required for this change."]},
        )
    before = snapshot(assignment)
    # Device time is kept as data; stamps never run ahead of the server's clock.
    stamp = min(occurred_at, timezone.now())
    assignment.status = to
    assignment.version += 1
    stamp_field = {
        AssignmentStatus.ACKNOWLEDGED: "acknowledged_at",
        AssignmentStatus.ON_SCENE: "on_scene_at",
        AssignmentStatus.SCENE_SAFE: "scene_safe_at",
        AssignmentStatus.CLEARED: "cleared_at",
        AssignmentStatus.CANCELLED: "cleared_at",
    }.get(to)
    if stamp_field:
        setattr(assignment, stamp_field, stamp)
    if to in (AssignmentStatus.SCENE_SAFE, AssignmentStatus.SCENE_UNSAFE):
        assignment.safety_note = note
    assignment.save()
    AssignmentTransition.objects.create(
        assignment=assignment,
        from_status=current,
        to_status=to,
        actor=actor,
        device=device,
        occurred_at=occurred_at,
        note=note,
        mutation_id=mutation_id,
    )
    record_audit(
        actor=actor,
        device=device,
        action=f"assignment.{to}",
        obj=assignment,
        before=before,
        after=snapshot(assignment),
    )
    incident = assignment.incident
    if refresh_incident:
        _refresh_incident(incident, assignment, actor, device, note)
    # Every change takes the dispatch stream's lock before any unit stream's: with one order,
    # two changes whose units' streams overlap (a unit moved on to another call) can't deadlock.
    siblings = sorted(incident.assignments.select_related("unit"), key=lambda a: a != assignment)
    for a in siblings:
        a.incident = incident
        view = assignment_data(a, partners=[p for p in siblings if p.pk != a.pk])
        if a.pk == assignment.pk:
            audit_and_publish(
                kind="assignment.updated",
                data=view,
                to=unit_stream(a.unit_id),
                mutation_id=mutation_id,
            )
        else:
            # The partner's view changes too: the CARE tablet waits on the officer's scene safe.
            publish_event(
                stream=unit_stream(a.unit_id), kind="assignment.partner_updated", data=view
            )
    return assignment


def _refresh_incident(incident: Incident, changed: Assignment, actor, device, note: str) -> None:
    assignments = list(incident.assignments.all())
    before = snapshot(incident, INCIDENT_AUDIT_FIELDS)
    on_scene = {
        AssignmentStatus.ON_SCENE,
        AssignmentStatus.SCENE_SAFE,
        AssignmentStatus.SCENE_UNSAFE,
    }
    open_ones = [a for a in assignments if a.is_open]
    if not open_ones:
        cleared = any(a.status == AssignmentStatus.CLEARED for a in assignments)
        incident.status = IncidentStatus.CLOSED if cleared else IncidentStatus.CANCELLED
        incident.closed_at = timezone.now()
    elif any(a.status in on_scene for a in open_ones):
        incident.status = IncidentStatus.ON_SCENE
    if (
        changed.kind == UnitKind.CARE
        and changed.status == AssignmentStatus.CANCELLED
        and any(a.kind == UnitKind.SPD and a.is_open for a in assignments)
    ):
        # CARE was pulled and police carry on alone: the call ends police-only, with the reason.
        incident.response = ResponseSent.POLICE_ONLY
        if incident.eligible:
            incident.police_only_code = police_only_reason(CARE_WITHDRAWN)
            incident.police_only_note = note
    after = snapshot(incident, INCIDENT_AUDIT_FIELDS)
    if after != before:
        incident.save()
        record_audit(
            actor=actor,
            device=device,
            action="incident.updated",
            obj=incident,
            before=before,
            after=after,
        )
        _publish_incident(incident, "incident.updated")


# ---- calls from the 911 CAD ----------------------------------------------------------------


def create_incident_from_cad(
    *,
    actor: User,
    device: Device | None = None,
    cad_number: str,
    call_type: CallType,
    priority: int,
    address: str,
    latitude: float | None,
    longitude: float | None,
    narrative: str = "",
    received_at: datetime.datetime,
    screening: dict[str, bool],
    beat: str = "",
) -> Incident:
    """A call the CAD sent, screened as a typed one. Never lost: a call without coordinates is
    kept as `needs_location` (beat from the CAD's document) until it is placed."""
    check_time(received_at, field_name="received_at")
    questions = list(ScreeningQuestion.objects.filter(active=True))
    # A CAD answers the questions only through its caution flags: an unflagged one is a no.
    answers = {q.key: bool(screening.get(q.key)) for q in questions}
    if latitude is not None and longitude is not None:
        place = locate(latitude=latitude, longitude=longitude)
    else:
        place = Place(beat=beat, area="", in_pilot_area=False)
    if Incident.objects.filter(cad_number=cad_number).exists():
        raise _duplicate_cad(cad_number)
    return _record_incident(
        actor=actor,
        device=device,
        call=call_type,
        questions=questions,
        place=place,
        source=IncidentSource.CAD,
        cad_number=cad_number,
        priority=priority,
        address=address,
        latitude=latitude,
        longitude=longitude,
        narrative=narrative,
        received_at=received_at,
        screening=answers,
    )


CAD_UPDATABLE = ("priority", "address", "narrative", "latitude", "longitude", "call_type")


def update_incident_from_cad(
    *, actor: User, device: Device | None = None, incident_id, **changes
) -> Incident:
    """Newer facts from the CAD about an open call: notes, a moved or found location, priority.

    A call that gets its first coordinates leaves `needs_location` and is screened again where
    it now is; a call already dispatched keeps its status and its units."""
    unknown = set(changes) - set(CAD_UPDATABLE)
    if unknown:
        raise InvalidInput(f"Not something the CAD updates: {', '.join(sorted(unknown))}.")
    with change_transaction():
        incident = locked_incident(incident_id)
        if incident.status not in OPEN_INCIDENT_STATUSES:
            return incident  # the call ended here; the CAD's later notes change nothing
        before = snapshot(incident)
        for key, value in changes.items():
            setattr(incident, key, value)
        if "latitude" in changes or "longitude" in changes or "call_type" in changes:
            _rescreen(incident)
        full_clean(incident, exclude=["call_type", "created_by", "eligibility_reasons"])
        after = snapshot(incident)
        if after == before:
            return incident
        incident.save()
        record_audit(
            actor=actor,
            device=device,
            action="incident.updated_from_cad",
            obj=incident,
            before={k: v for k, v in before.items() if after.get(k) != v},
            after={k: v for k, v in after.items() if before.get(k) != v},
        )
        _publish_incident(incident, "incident.updated")
    return incident


def _rescreen(incident: Incident) -> None:
    """Screen again where the call now is (only before anyone was sent)."""
    if incident.latitude is None or incident.longitude is None:
        return
    if incident.status not in (IncidentStatus.NEEDS_LOCATION, *DISPATCHABLE):
        return
    protocol = current_protocol()
    place = locate(latitude=incident.latitude, longitude=incident.longitude)
    result = assess(
        protocol=protocol,
        call_type=incident.call_type,
        place=place,
        received_at=incident.received_at,
        answers=incident.screening,
        questions=list(ScreeningQuestion.objects.filter(active=True)),
    )
    incident.beat, incident.area, incident.in_pilot_area = (
        place.beat,
        place.area,
        place.in_pilot_area,
    )
    incident.eligible, incident.eligibility_reasons = result.eligible, result.reasons
    incident.recommendation = result.recommendation
    if incident.status == IncidentStatus.NEEDS_LOCATION:
        triage = result.eligible and protocol.dispatch_model == DispatchModel.EMBEDDED_PROFESSIONAL
        incident.status = IncidentStatus.TRIAGE if triage else IncidentStatus.SCREENED


# ---- locating a call -----------------------------------------------------------------------

LOCATABLE = (IncidentStatus.NEEDS_LOCATION, *DISPATCHABLE)
LOCATION_AUDIT_FIELDS = ["address", "latitude", "longitude", "beat", "area", "in_pilot_area"]


def locate_incident(
    *,
    actor: User,
    device: Device | None = None,
    incident_id,
    latitude: float,
    longitude: float,
    address: str | None = None,
) -> Incident:
    """Place a call on the map (or move it) and screen it again for the new place: a call that
    needed a location becomes screened (or waits in triage) exactly as a new call would."""
    with change_transaction():
        incident = locked_incident(incident_id)
        if incident.status not in LOCATABLE:
            raise Conflict(
                f"This call is {incident.get_status_display().lower()}; its location can't be "
                "changed here any more.",
                current=incident.status,
            )
        before = snapshot(incident, [*LOCATION_AUDIT_FIELDS, *INCIDENT_AUDIT_FIELDS])
        incident.latitude, incident.longitude = latitude, longitude
        if address is not None and address.strip():
            incident.address = address.strip()
        _rescreen(incident)
        full_clean(incident, exclude=["call_type", "created_by", "eligibility_reasons"])
        incident.save()
        record_audit(
            actor=actor,
            device=device,
            action="incident.located",
            obj=incident,
            before=before,
            after=snapshot(incident, [*LOCATION_AUDIT_FIELDS, *INCIDENT_AUDIT_FIELDS]),
        )
        _publish_incident(incident, "incident.updated")
    return incident
