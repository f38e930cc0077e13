"""Every change to field care records: validate, write, audit, publish, in one transaction.

A record of care given is never refused for being early: one made before the officer marked the
scene safe is kept and flagged (`before_scene_safe`), and the flag is counted.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import uuid
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models
from django.utils import timezone

from server.accounts.models import Device, Role, User
from server.accounts.permissions import role_of
from server.audit.services import audit_entry, record_audit, snapshot
from server.care import policies
from server.care.models import (
    NALOXONE_MAX_DOSE_MG,
    NALOXONE_MAX_DOSES,
    NALOXONE_MIN_DOSES,
    REFERRAL_FLOW,
    SURVEY_MAX_ANSWER,
    SURVEY_MIN_ANSWER,
    DirectoryService,
    DirectoryStatus,
    Disposition,
    Encounter,
    NaloxoneAdministration,
    NaloxoneResponse,
    NaloxoneRoute,
    Referral,
    ReferralUpdate,
    ServiceGiven,
    ServiceType,
    SurveyQuestion,
    SurveyResponse,
)
from server.care.presenters import (
    encounter_data,
    naloxone_data,
    naloxone_removal_data,
    referral_data,
    referral_follow_up_data,
    service_data,
    service_removal_data,
)
from server.commands import check_time, full_clean
from server.dispatch.models import Assignment, UnitKind
from server.dispatch.policies import record_streams
from server.errors import (
    Conflict,
    Forbidden,
    IdReused,
    InvalidInput,
    NotFound,
    VersionConflict,
    summarize_fields,
)
from server.feed.services import EventDraft, change_transaction, publish_event
from server.feed.write_batch import open_write_batch

ENCOUNTER_FIELDS = (
    "people_contacted",
    "client_initials",
    "client_birth_year",
    "disposition",
    "notes",
)

# ---- shared checks -------------------------------------------------------------------------


def _not_found(what: str, field: str) -> NotFound:
    """One answer for "not there" and "not yours": a refusal confirms nothing."""
    return NotFound(f"No such {what}.", fields={field: [f"No such {what}."]})


def _care_assignment(actor: User, assignment_id) -> Assignment:
    missing = _not_found("assignment", "assignment")
    try:
        assignment = Assignment.objects.select_related("unit", "incident").get(pk=assignment_id)
    except (Assignment.DoesNotExist, ValueError, DjangoValidationError) as exc:
        raise missing from exc
    _check_unit_member(actor, assignment, missing)
    if assignment.kind != UnitKind.CARE:
        raise InvalidInput(
            "Care is recorded on a CARE assignment, not an SPD one.",
            fields={"assignment": ["Not a CARE assignment."]},
        )
    return assignment


def _check_unit_member(actor: User, assignment: Assignment, missing: NotFound) -> None:
    """The crew that served the call records on it (`server.care.policies`)."""
    if not policies.may_record_on(actor, assignment):
        raise missing


def _once(key: Any, load):
    """Read once per offline write batch (see server/feed/write_batch.py), else every time."""
    batch = open_write_batch()
    return batch.lookup(key, load) if batch is not None else load()


def _encounter_for(actor: User, encounter_id) -> Encounter:
    return _once(
        ("encounter", actor.pk, str(encounter_id)), lambda: _load_encounter(actor, encounter_id)
    )


def _load_encounter(actor: User, encounter_id) -> Encounter:
    try:
        encounter = Encounter.objects.select_related("assignment__unit").get(pk=encounter_id)
    except (Encounter.DoesNotExist, ValueError, DjangoValidationError) as exc:
        raise _not_found("encounter", "encounter") from exc
    _check_unit_member(actor, encounter.assignment, _not_found("encounter", "encounter"))
    return encounter


def scene_marked_safe(assignment: Assignment) -> bool:
    """Has an SPD unit on this call marked the scene safe (now or earlier)?"""
    return _once(
        ("scene safe", assignment.incident_id),
        lambda: Assignment.objects.filter(
            incident_id=assignment.incident_id, kind=UnitKind.SPD, scene_safe_at__isnull=False
        ).exists(),
    )


def _may_see(actor: User, assignment: Assignment) -> bool:
    return policies.may_record_on(actor, assignment)


def _existing(model: type[models.Model], record_id, data: dict[str, Any], actor: User):
    """The record already stored under this client-made id: same data → replay, else refuse.
    Another unit's record is refused as an unknown id would be: the answer confirms nothing."""
    batch = open_write_batch()
    if batch is not None:
        # Only this run's own rows are looked at: one already stored under the id fails the
        # run's insert, and the run is then applied one record at a time, through here.
        found = batch.pending(model, record_id)
    else:
        found = model.objects.filter(pk=record_id).first()
    if found is None:
        return None
    stored = {k: getattr(found, k) for k in data}
    if {k: _norm(v) for k, v in stored.items()} != {k: _norm(v) for k, v in data.items()}:
        if not _may_see(actor, found.encounter.assignment):
            name = model._meta.verbose_name
            raise NotFound(f"No such {name}.", fields={"id": [f"No such {name}."]})
        raise IdReused(
            f"Id {record_id} already names a different {model._meta.verbose_name}; "
            "a record's id can't be reused for other data.",
        )
    return found


def _norm(value: Any) -> Any:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, decimal.Decimal | float | int) and not isinstance(value, bool):
        return decimal.Decimal(str(value)).normalize()
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).replace(microsecond=0)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _publish(encounter: Encounter, kind: str, data: dict, mutation_id=None) -> None:
    # Clinical records travel only to the crew of the call (its CARE unit's stream while open).
    for stream in record_streams(encounter.assignment):
        publish_event(stream=stream, kind=kind, data=data, mutation_id=mutation_id)


def _check_record_time(record: models.Model, assignment: Assignment) -> None:
    """Care happens after the dispatch that sent the team, and not in the future."""
    check_time(
        getattr(record, record.when_field),
        field_name=record.when_field,
        not_before=assignment.dispatched_at,
        after_what="the team was dispatched",
    )


def _record_dict(record: models.Model) -> dict:
    return snapshot(record)


# ---- encounters ----------------------------------------------------------------------------


def upsert_encounter(
    *,
    actor: User,
    device: Device | None = None,
    encounter_id: uuid.UUID,
    assignment_id,
    started_at: datetime.datetime | None = None,
    base_version: int | None = None,
    changes: dict[str, Any],
    mutation_id: uuid.UUID | None = None,
) -> Encounter:
    """Create the encounter for a CARE assignment, or merge edits into it field by field.

    An edit based on an older version still applies to the fields nobody else changed since;
    a field someone else changed in between is a conflict, reported with the server's copy.
    """
    unknown = set(changes) - set(ENCOUNTER_FIELDS)
    if unknown:
        raise InvalidInput(
            "Unknown encounter fields.",
            fields={k: ["Not an encounter field."] for k in sorted(unknown)},
        )
    values = _clean_encounter_fields(changes)
    with change_transaction():
        assignment = _care_assignment(actor, assignment_id)
        encounter = Encounter.objects.select_for_update().filter(pk=encounter_id).first()
        if encounter is None:
            try:
                with change_transaction():
                    return _create_encounter(
                        actor, device, encounter_id, assignment, started_at, values, mutation_id
                    )
            except IntegrityError:
                # A copy of this request (a retry after a timeout) committed it meanwhile: go on
                # as an edit of that one. If another id took the assignment, this raises Conflict.
                encounter = Encounter.objects.select_for_update().filter(pk=encounter_id).first()
                if encounter is None:
                    return _create_encounter(
                        actor, device, encounter_id, assignment, started_at, values, mutation_id
                    )
        if encounter.assignment_id != assignment.pk:
            if not _may_see(actor, encounter.assignment):  # don't confirm another unit's record
                raise NotFound("No such encounter.", fields={"id": ["No such encounter."]})
            raise IdReused(f"Encounter {encounter_id} belongs to another assignment.")
        return _merge_encounter(actor, device, encounter, base_version, values, mutation_id)


def _clean_encounter_fields(changes: dict[str, Any]) -> dict[str, Any]:
    values = dict(changes)
    if "disposition" in values and values["disposition"] not in (None, ""):
        code = values["disposition"]
        disposition = Disposition.objects.filter(code=code, active=True).first()
        if disposition is None:
            raise InvalidInput(
                f"'{code}' is not a disposition.",
                fields={"disposition": [f"Unknown disposition '{code}'."]},
            )
        values["disposition"] = disposition
    elif "disposition" in values:
        values["disposition"] = None
    for key in ("client_initials", "notes"):
        if key in values:
            values[key] = (values[key] or "").strip()
    return values


def _create_encounter(actor, device, encounter_id, assignment, started_at, values, mutation_id):
    # Queried, not `assignment.encounter`: that reverse cache may hold this request's own copy.
    existing = Encounter.objects.filter(assignment=assignment).values_list("pk", flat=True).first()
    if existing is not None:
        raise Conflict(
            "This assignment already has an encounter; edit that one.",
            server={"encounter": str(existing)},
        )
    encounter = Encounter(
        id=encounter_id,
        assignment=assignment,
        recorded_by=actor,
        device=device,
        started_at=started_at or timezone.now(),
        mutation_id=mutation_id,
        before_scene_safe=not scene_marked_safe(assignment),
        # Every field starts at version 1 (never empty: an encounter opened with no fields yet
        # would fail the model's non-blank check).
        field_versions={k: 1 for k in ENCOUNTER_FIELDS},
        **values,
    )
    _check_record_time(encounter, assignment)
    full_clean(encounter)
    encounter.save(force_insert=True)
    record_audit(
        actor=actor,
        device=device,
        action="encounter.created",
        obj=encounter,
        after=_record_dict(encounter),
    )
    _publish(encounter, "encounter.updated", encounter_data(encounter), mutation_id)
    return encounter


def _merge_encounter(actor, device, encounter, base_version, values, mutation_id):
    before = _record_dict(encounter)
    stale = base_version is not None and base_version < encounter.version
    clashes = {
        key: _norm(getattr(encounter, key))
        for key, value in values.items()
        if stale
        and encounter.field_versions.get(key, 0) > base_version
        and _norm(getattr(encounter, key)) != _norm(value)
    }
    if clashes:
        raise VersionConflict(
            "Someone else changed " + ", ".join(sorted(clashes)) + " since your copy; "
            "review the server's copy.",
            server=encounter_data(encounter),
        )
    changed = {k: v for k, v in values.items() if _norm(getattr(encounter, k)) != _norm(v)}
    if not changed:
        return encounter
    encounter.version += 1
    for key, value in changed.items():
        setattr(encounter, key, value)
        encounter.field_versions[key] = encounter.version
    full_clean(encounter)
    encounter.save()
    record_audit(
        actor=actor,
        device=device,
        action="encounter.updated",
        obj=encounter,
        before=before,
        after=_record_dict(encounter),
    )
    _publish(encounter, "encounter.updated", encounter_data(encounter), mutation_id)
    return encounter


# ---- accumulating records: services, naloxone, referrals, surveys --------------------------


def _record_transaction():
    """A transaction for one record; none inside an open write batch, whose run is one
    transaction already and whose services only read until it writes them all."""
    if open_write_batch() is not None:
        return contextlib.nullcontext()
    return change_transaction()


def _create_field_record(
    model, *, actor, device, record_id, encounter, mutation_id, data, action, kind, to_data
) -> models.Model:
    found = _existing(model, record_id, {"encounter": encounter, **data}, actor)
    if found is not None:
        return found
    record = model(
        id=record_id,
        encounter=encounter,
        recorded_by=actor,
        device=device,
        mutation_id=mutation_id,
        before_scene_safe=not scene_marked_safe(encounter.assignment),
        **data,
    )
    _check_record_time(record, encounter.assignment)
    full_clean(record)
    batch = open_write_batch()
    if batch is not None:  # written with the rest of the run, by `WriteBatch.flush`
        audit = audit_entry(
            actor=actor, device=device, action=action, obj=record, after=_record_dict(record)
        )
        streams = record_streams(encounter.assignment)
        drafts = [EventDraft(s, kind, to_data(record), mutation_id) for s in streams]
        batch.add(record, audit=audit, events=drafts)
        return record
    try:
        with change_transaction():
            record.save(force_insert=True)
    except IntegrityError:
        # A copy of this request (a retry after a timeout) committed it meanwhile: answer as a
        # replay of that one, or refuse the id if the data differs.
        found = _existing(model, record_id, {"encounter": encounter, **data}, actor)
        if found is None:
            raise
        return found
    record_audit(actor=actor, device=device, action=action, obj=record, after=_record_dict(record))
    _publish(encounter, kind, to_data(record), mutation_id)
    return record


def record_service_given(
    *,
    actor: User,
    device: Device | None = None,
    service_id: uuid.UUID,
    encounter_id,
    service: str,
    occurred_at: datetime.datetime,
    note: str = "",
    mutation_id: uuid.UUID | None = None,
) -> ServiceGiven:
    kind = _once(
        ("service type", service),
        lambda: ServiceType.objects.filter(code=service, active=True).first(),
    )
    if kind is None:
        raise InvalidInput(
            f"'{service}' is not a service in the catalog.",
            fields={"service": [f"Unknown service '{service}'."]},
        )
    with _record_transaction():
        encounter = _encounter_for(actor, encounter_id)
        return _create_field_record(
            ServiceGiven,
            actor=actor,
            device=device,
            record_id=service_id,
            encounter=encounter,
            mutation_id=mutation_id,
            data={"service": kind, "occurred_at": occurred_at, "note": (note or "").strip()},
            action="service.recorded",
            kind="service.recorded",
            to_data=service_data,
        )


def remove_service_given(
    *,
    actor: User,
    device: Device | None = None,
    service_id,
    mutation_id: uuid.UUID | None = None,
) -> ServiceGiven:
    """Take a service recorded by mistake off its encounter (the tablet's Undo). Only the crew of
    the call, while the call is open; the audit keeps the record as it was."""
    missing = _not_found("service given", "id")
    with change_transaction():
        try:
            record = (
                ServiceGiven.objects.select_for_update()
                .select_related("service")
                .get(pk=service_id)
            )
        except (ServiceGiven.DoesNotExist, ValueError, DjangoValidationError) as exc:
            raise missing from exc
        return _take_off(
            actor,
            device,
            record,
            kind="service.removed",
            closed="The call is closed: a service recorded on it stays. Add a note to the "
            "encounter instead.",
            present=service_data,
            removal=service_removal_data,
            mutation_id=mutation_id,
        )


def _take_off(actor, device, record, *, kind, closed, present, removal, mutation_id):
    """Take a record (locked by the caller) off its encounter while the call is open: the audit
    keeps it as it was, and the event (`kind`, also the audit action) names what went."""
    encounter = _encounter_for(actor, record.encounter_id)
    if not encounter.assignment.is_open:
        raise Conflict(closed, server=present(record))
    record_audit(actor=actor, device=device, action=kind, obj=record, before=_record_dict(record))
    removed_id = record.pk
    record.delete()
    record.id = removed_id  # the delete forgets it; the event and the answer name it
    _publish(encounter, kind, removal(record), mutation_id)
    return record


def _check_naloxone(dose_mg, doses, route, response) -> None:
    fields: dict[str, list[str]] = {}
    if dose_mg is not None and not (0 < decimal.Decimal(str(dose_mg)) <= NALOXONE_MAX_DOSE_MG):
        fields["dose_mg"] = [f"A dose is more than 0 and at most {NALOXONE_MAX_DOSE_MG} mg."]
    if doses is not None and not (NALOXONE_MIN_DOSES <= int(doses) <= NALOXONE_MAX_DOSES):
        fields["doses"] = [f"Between {NALOXONE_MIN_DOSES} and {NALOXONE_MAX_DOSES} doses."]
    if route not in (None, "") and route not in NaloxoneRoute.values:
        fields["route"] = ["Intranasal or intramuscular."]
    if response is not None and response not in NaloxoneResponse.values:
        fields["response"] = [f"One of {', '.join(NaloxoneResponse.values)}."]
    if fields:
        raise InvalidInput("The naloxone record is not valid.", fields=fields)


def record_naloxone(
    *,
    actor: User,
    device: Device | None = None,
    administration_id: uuid.UUID,
    encounter_id,
    administered_at: datetime.datetime,
    dose_mg=None,
    doses: int = 1,
    route: str | None = None,
    response: str = NaloxoneResponse.UNKNOWN,
    ems_called: bool = False,
    mutation_id: uuid.UUID | None = None,
) -> NaloxoneAdministration:
    _check_naloxone(dose_mg, doses, route, response)
    with _record_transaction():
        encounter = _encounter_for(actor, encounter_id)
        return _create_field_record(
            NaloxoneAdministration,
            actor=actor,
            device=device,
            record_id=administration_id,
            encounter=encounter,
            mutation_id=mutation_id,
            data={
                "administered_at": administered_at,
                "dose_mg": _dose(dose_mg),
                "doses": doses,
                "route": route or "",
                "response": response,
                "ems_called": ems_called,
            },
            action="naloxone.recorded",
            kind="naloxone.recorded",
            to_data=naloxone_data,
        )


def _dose(value) -> decimal.Decimal | None:
    """A dose in mg, or None: not yet recorded."""
    return None if value in (None, "") else decimal.Decimal(str(value))


def update_naloxone(
    *,
    actor: User,
    device: Device | None = None,
    administration_id,
    changes: dict[str, Any],
    mutation_id: uuid.UUID | None = None,
) -> NaloxoneAdministration:
    """After the one-tap log: correct dose, route, response, EMS called."""
    editable = {"dose_mg", "doses", "route", "response", "ems_called"}
    unknown = set(changes) - editable
    if unknown:
        raise InvalidInput(
            "Those fields can't be edited here.",
            fields={k: ["Not editable."] for k in sorted(unknown)},
        )
    _check_naloxone(
        changes.get("dose_mg"), changes.get("doses"), changes.get("route"), changes.get("response")
    )
    with change_transaction():
        try:
            record = NaloxoneAdministration.objects.select_for_update().get(pk=administration_id)
        except (NaloxoneAdministration.DoesNotExist, ValueError, DjangoValidationError) as exc:
            raise NotFound("No such naloxone administration.") from exc
        encounter = _encounter_for(actor, record.encounter_id)
        before = _record_dict(record)
        for key, value in changes.items():
            if key == "dose_mg":
                value = _dose(value)
            elif key == "route":
                value = value or ""
            setattr(record, key, value)
        record.version += 1
        record.save()
        record_audit(
            actor=actor,
            device=device,
            action="naloxone.updated",
            obj=record,
            before=before,
            after=_record_dict(record),
        )
        _publish(encounter, "naloxone.updated", naloxone_data(record), mutation_id)
        return record


def remove_naloxone(
    *,
    actor: User,
    device: Device | None = None,
    administration_id,
    mutation_id: uuid.UUID | None = None,
) -> NaloxoneAdministration:
    """Take a dose recorded by mistake off its encounter (the tablet's Undo of "Naloxone given
    now"). Only the crew of the call, while the call is open; the audit keeps the dose as it
    was."""
    missing = _not_found("naloxone administration", "id")
    with change_transaction():
        try:
            record = NaloxoneAdministration.objects.select_for_update().get(pk=administration_id)
        except (NaloxoneAdministration.DoesNotExist, ValueError, DjangoValidationError) as exc:
            raise missing from exc
        return _take_off(
            actor,
            device,
            record,
            kind="naloxone.removed",
            closed="The call is closed: a dose recorded on it stays. Correct it or add a note to "
            "the encounter instead.",
            present=naloxone_data,
            removal=naloxone_removal_data,
            mutation_id=mutation_id,
        )


def create_referral(
    *,
    actor: User,
    device: Device | None = None,
    referral_id: uuid.UUID,
    encounter_id,
    service,
    consent: bool,
    made_at: datetime.datetime,
    note: str = "",
    mutation_id: uuid.UUID | None = None,
) -> Referral:
    destination = None
    try:
        destination = _once(
            ("directory service", str(service)),
            lambda: DirectoryService.objects.filter(pk=service, active=True).first(),
        )
    except (ValueError, DjangoValidationError):
        destination = None
    if destination is None:
        raise InvalidInput(
            "That referral destination is not in the directory.",
            fields={"service": [f"Unknown directory service '{service}'."]},
        )
    if not isinstance(consent, bool):
        raise InvalidInput(
            "Record whether the person consented.", fields={"consent": ["Yes or no."]}
        )
    with _record_transaction():
        encounter = _encounter_for(actor, encounter_id)
        return _create_field_record(
            Referral,
            actor=actor,
            device=device,
            record_id=referral_id,
            encounter=encounter,
            mutation_id=mutation_id,
            data={
                "service": destination,
                "consent": consent,
                # Fixed now: the organization the person consented to, whatever later becomes
                # of the service.
                "organization_hsds_id": destination.organization_hsds_id,
                "organization_name": destination.organization,
                "made_at": made_at,
                "note": (note or "").strip(),
            },
            action="referral.recorded",
            kind="referral.recorded",
            to_data=referral_data,
        )


def _check_partner(actor: User, referral: Referral) -> None:
    """A partner organization's key updates only referrals to its own services, made with the
    person's consent; any other referral is, to it, not there."""
    client = getattr(actor, "system_client", None)
    organization = referral.organization_hsds_id
    if (
        client is None
        or client.kind != "partner"
        or not client.active
        or not organization
        or client.organization_id != organization
        or not referral.consent
    ):
        raise NotFound("No such referral.")


def update_referral(
    *,
    actor: User,
    device: Device | None = None,
    referral_id,
    status: str | None = None,
    note: str = "",
    follow_up_due: datetime.date | None = None,
    base_version: int | None = None,
    mutation_id: uuid.UUID | None = None,
) -> Referral:
    """A coordinator's follow-up: move the status along, add a note, set the next due date."""
    with change_transaction():
        try:
            referral = (
                Referral.objects.select_for_update(of=("self",))
                .select_related("encounter__assignment", "service")
                .get(pk=referral_id)
            )
        except (Referral.DoesNotExist, ValueError, DjangoValidationError) as exc:
            raise NotFound("No such referral.") from exc
        role = role_of(actor)
        if role == Role.CARE_RESPONDER:
            _check_unit_member(actor, referral.encounter.assignment, NotFound("No such referral."))
        elif role == Role.SYSTEM:
            _check_partner(actor, referral)
        elif role not in (Role.COORDINATOR, Role.ADMIN):
            raise Forbidden("Your role may not update referrals.")
        if base_version is not None and base_version != referral.version:
            raise VersionConflict(
                "This referral changed since you loaded it.", server=referral_data(referral)
            )
        current = referral.status
        if status and status != current and status not in REFERRAL_FLOW.get(current, []):
            allowed = REFERRAL_FLOW.get(current, [])
            raise Conflict(
                f"A referral that is {current} can't become {status}"
                + (f"; it can become {', '.join(allowed)}." if allowed else "; it is closed."),
                current=current,
                requested=status,
            )
        if not status and not note and follow_up_due is None:
            raise InvalidInput("Change the status, add a note, or set a follow-up date.")
        before = _record_dict(referral)
        referral.status = status or current
        if follow_up_due is not None:
            referral.follow_up_due = follow_up_due
        referral.version += 1
        referral.save()
        update = ReferralUpdate.objects.create(
            referral=referral,
            author=actor,
            from_status=current,
            to_status=referral.status,
            note=(note or "").strip(),
            follow_up_due=follow_up_due,
        )
        record_audit(
            actor=actor,
            device=device,
            action="referral.updated",
            obj=referral,
            before=before,
            after=_record_dict(referral) | {"note": note},
        )
        _publish(referral.encounter, "referral.updated", referral_data(referral), mutation_id)
        # The coordinators' pages follow referrals live; they can't read the unit's stream.
        publish_event(
            stream="referrals",
            kind="referral.followed_up",
            data=referral_follow_up_data(referral, update),
            mutation_id=mutation_id,
        )
        return referral


def record_survey(
    *,
    actor: User,
    device: Device | None = None,
    survey_id: uuid.UUID,
    encounter_id,
    consent: bool,
    answers: dict[str, int],
    answered_at: datetime.datetime,
    comment: str = "",
    mutation_id: uuid.UUID | None = None,
) -> SurveyResponse:
    """Client-experience answers, kept only with the person's consent."""
    keys = _once(
        "survey questions",
        lambda: set(SurveyQuestion.objects.filter(active=True).values_list("key", flat=True)),
    )
    fields: dict[str, list[str]] = {}
    if consent is not True:
        fields["consent"] = ["Answers are kept only when the person consents."]
    for key, value in (answers or {}).items():
        if key not in keys:
            fields[f"answers.{key}"] = ["Not a survey question."]
        elif (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not SURVEY_MIN_ANSWER <= value <= SURVEY_MAX_ANSWER
        ):
            fields[f"answers.{key}"] = [f"Answer from {SURVEY_MIN_ANSWER} to {SURVEY_MAX_ANSWER}."]
    if not answers:
        fields["answers"] = ["Answer at least one question."]
    if fields:
        raise InvalidInput("The survey answers are not valid.", fields=fields)
    with _record_transaction():
        encounter = _encounter_for(actor, encounter_id)
        return _create_field_record(
            SurveyResponse,
            actor=actor,
            device=device,
            record_id=survey_id,
            encounter=encounter,
            mutation_id=mutation_id,
            data={
                "consent": consent,
                "answers": answers,
                "answered_at": answered_at,
                "comment": (comment or "").strip(),
            },
            action="survey.recorded",
            kind="survey.recorded",
            to_data=lambda r: {"id": str(r.id), "encounter": str(r.encounter_id)},
        )


# ---- the services directory, from an Open Referral HSDS publication --------------------------

DIRECTORY_FIELDS = (
    "name",
    "organization",
    "organization_hsds_id",
    "category",
    "description",
    "phone",
    "address",
    "hours",
    "email",
    "url",
    "status",
    "source_updated_at",
    "schedules",
    "capacity",
)


def _directory_match(hsds_id: str) -> DirectoryService | None:
    found = DirectoryService.objects.filter(hsds_id=hsds_id).first()
    if found is None:
        # A service typed in before the directory came from HSDS keeps its identity (and its
        # referrals) when the publication uses its id.
        try:
            found = DirectoryService.objects.filter(pk=uuid.UUID(hsds_id), hsds_id="").first()
        except ValueError:
            found = None
    return found


def _directory_row(source: str, values: dict[str, Any]) -> tuple[str, DirectoryService, list]:
    """Upsert one service; ("added" | "changed" | "unchanged", the service, changed fields)."""
    hsds_id = str(values["hsds_id"])
    service = _directory_match(hsds_id)
    outcome = "changed"
    if service is not None:
        _check_import_keeps_owner(service, source, values)
    if service is None:
        outcome = "added"
        try:
            pk = uuid.UUID(hsds_id)
        except ValueError:
            pk = uuid.uuid5(uuid.NAMESPACE_URL, f"{source}#{hsds_id}")
        service = DirectoryService(pk=pk)
    wanted = {
        name: values.get(name, DirectoryService._meta.get_field(name).get_default())
        for name in DIRECTORY_FIELDS
    }
    wanted.update(hsds_id=hsds_id, source=source, active=wanted["status"] == DirectoryStatus.ACTIVE)
    changed = [name for name, value in wanted.items() if getattr(service, name) != value]
    if outcome == "changed" and not changed:
        return "unchanged", service, []
    for name, value in wanted.items():
        setattr(service, name, value)
    try:
        service.full_clean()
    except DjangoValidationError as exc:
        raise InvalidInput(summarize_fields(exc.message_dict), fields=exc.message_dict) from exc
    service.save()
    return outcome, service, changed


def _check_import_keeps_owner(
    service: DirectoryService, source: str, values: dict[str, Any]
) -> None:
    """An import updates only its own source's services and never gives a service to another
    organization: referrals' consent was to the organization, and moving a service is an
    administrator's decision (`move_directory_service`), never a side effect of a publication."""
    if service.source and service.source != source:
        raise InvalidInput(
            "This service id belongs to another source's publication; it was left as it is.",
            fields={"id": [f"Listed by {service.source!r}."]},
        )
    wanted = str(values.get("organization_hsds_id") or "")
    if service.organization_hsds_id and wanted != service.organization_hsds_id:
        raise InvalidInput(
            "This service belongs to another organization in the directory; an administrator "
            "moves a service to another organization, an import doesn't.",
            fields={"organization_id": [f"The directory has {service.organization_hsds_id}."]},
        )


def move_directory_service(
    *, actor: User, service_id: Any, organization_hsds_id: str, organization: str, reason: str
) -> DirectoryService:
    """An administrator gives a directory service to another organization. Referrals already
    made keep the organization the person consented to; only new referrals go to the new one."""
    organization_hsds_id = (organization_hsds_id or "").strip()
    organization = (organization or "").strip()
    reason = (reason or "").strip()
    fields: dict[str, list[str]] = {}
    if not organization:
        fields["organization"] = ["Required."]
    if not reason:
        fields["reason"] = ["Say why the service moves."]
    if fields:
        raise InvalidInput(summarize_fields(fields), fields=fields)
    with change_transaction():
        service = DirectoryService.objects.select_for_update().filter(pk=service_id).first()
        if service is None:
            raise NotFound("No such directory service.")
        before = {"organization": service.organization,
                  "organization_hsds_id": service.organization_hsds_id}  # fmt: skip
        service.organization = organization
        service.organization_hsds_id = organization_hsds_id
        try:
            service.full_clean()
        except DjangoValidationError as exc:
            raise InvalidInput(summarize_fields(exc.message_dict), fields=exc.message_dict) from exc
        service.save(update_fields=["organization", "organization_hsds_id", "updated_at"])
        record_audit(
            actor=actor,
            action="directory.service_moved",
            obj=service,
            before=before,
            after={
                **before,
                "organization": organization,
                "organization_hsds_id": organization_hsds_id,
                "reason": reason[:500],
            },
        )
        publish_event(stream="directory", kind="directory.updated", data={"changed": 1})
    return service


def import_directory(
    *, actor: User | None, source: str, services: list[dict[str, Any]], publish: bool = True
) -> dict[str, list]:
    """Bring the directory in line with one HSDS publication: upsert each service by its HSDS id,
    take out of use (never delete: referrals point at them) the source's services it no longer
    lists. A row that fails its checks is refused with the reason and the rest go on."""
    report: dict[str, list] = {"added": [], "changed": [], "deactivated": [], "refused": []}
    listed: set[str] = set()
    with change_transaction():
        for values in services:
            listed.add(str(values["hsds_id"]))
            try:
                with change_transaction():  # a savepoint: a refused row leaves nothing behind
                    outcome, service, changed = _directory_row(source, values)
            except InvalidInput as exc:
                report["refused"].append(
                    {
                        "id": str(values["hsds_id"]),
                        "name": values.get("name", ""),
                        "reason": exc.detail,
                        "fields": exc.fields,
                    }
                )
                continue
            except IntegrityError:
                report["refused"].append(
                    {
                        "id": str(values["hsds_id"]),
                        "name": values.get("name", ""),
                        "reason": "Another service of this organization has the same name.",
                        "fields": {"name": ["Already in the directory for this organization."]},
                    }
                )
                continue
            if outcome != "unchanged":
                report[outcome].append(
                    {
                        "id": str(service.pk),
                        "name": service.name,
                        "fields": changed if outcome == "changed" else [],
                    }
                )
        gone = DirectoryService.objects.filter(source=source, active=True).exclude(
            hsds_id__in=listed
        )
        for service in gone:
            service.active = False
            service.save(update_fields=["active", "updated_at"])
            report["deactivated"].append({"id": str(service.pk), "name": service.name})
        if report["added"] or report["changed"] or report["deactivated"]:
            summary = {key: len(items) for key, items in report.items()}
            record_audit(
                actor=actor,
                action="directory.imported",
                object_type="care.directoryservice",
                object_id=source[:64],
                after={"source": source, **summary},
            )
            if publish:  # the first install's reference data has no tablets to tell
                publish_event(stream="directory", kind="directory.updated", data=summary)
    return report


def publish_directory_change(service: DirectoryService) -> None:
    """A supervisor's edit of the directory: every responder's tablet reads it again."""
    publish_event(stream="directory", kind="directory.updated", data={"changed": 1})
