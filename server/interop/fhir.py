"""Referrals as FHIR R4 resources for the organization that receives them, in the shape of the
Gravity Project's SDOH Clinical Care referral: a ServiceRequest (what is asked, for whom, by which
CARE unit, on the strength of which Consent), a Task whose focus is the ServiceRequest and whose
owner is the receiving organization, the Consent, and a Bundle of the three.

Every resource is built as a dict and parsed by `fhir.resources.R4B` before it leaves. What the
organization sees is the minimum: the person's initials and birth year only because they
consented (nothing is shared without consent), never the encounter's notes, services or naloxone.

The Task's status follows the referral's (a coordinator's change shows in it); the partner moves
the referral by updating the Task, which runs the care `referral.update` command step by step.
"""

from __future__ import annotations

import json
from typing import Any

from django.db.models import QuerySet
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

from server.accounts.models import Role
from server.accounts.permissions import role_of
from server.audit.services import record_audit
from server.care.commands import update_referral
from server.care.models import Referral, ReferralStatus
from server.errors import Conflict, InvalidInput, NotFound
from server.feed.services import change_transaction
from server.interop.models import ReferralTaskOutcome

URN = "urn:ietf:rfc:3986"
TERMINAL = ("completed", "rejected", "cancelled")
PARTNER_STATUSES = ("accepted", "rejected", "in-progress", "completed", "cancelled")
# Where the partner may take the Task from each status.
TASK_FLOW = {
    "requested": ("accepted", "rejected", "cancelled"),
    "accepted": ("in-progress", "completed", "rejected", "cancelled"),
    "on-hold": ("accepted", "in-progress", "completed", "rejected", "cancelled"),
    "in-progress": ("completed", "cancelled"),
}
# The referral status each partner Task status stands for, and the steps that get it there.
REFERRAL_FOR = {
    "accepted": ReferralStatus.CONTACTED,
    "in-progress": ReferralStatus.CONNECTED,
    "completed": ReferralStatus.CONNECTED,
    "rejected": ReferralStatus.CLOSED,
    "cancelled": ReferralStatus.CLOSED,
}
STEPS = {
    (ReferralStatus.MADE, ReferralStatus.CONNECTED): [
        ReferralStatus.CONTACTED,
        ReferralStatus.CONNECTED,
    ],
    (ReferralStatus.UNABLE_TO_REACH, ReferralStatus.CONNECTED): [
        ReferralStatus.CONTACTED,
        ReferralStatus.CONNECTED,
    ],
}


def parsed(model: type, body: dict[str, Any]) -> dict[str, Any]:
    """The resource as the R4B model reads it back (so nothing malformed leaves)."""
    return json.loads(model.model_validate(body).model_dump_json(exclude_none=True))


def etag(referral: Referral) -> str:
    return f'W/"{referral.version}"'


def _outcome(referral: Referral) -> ReferralTaskOutcome | None:
    try:
        return referral.fhir_task
    except ReferralTaskOutcome.DoesNotExist:
        return None


def _ever_connected(referral: Referral) -> bool:
    return referral.updates.filter(to_status=ReferralStatus.CONNECTED).exists()


def task_status(referral: Referral) -> str:
    outcome = _outcome(referral)
    said = outcome.outcome if outcome else ""
    status = referral.status
    if status == ReferralStatus.MADE:
        return "requested"
    if status == ReferralStatus.CONTACTED:
        return "accepted"
    if status == ReferralStatus.CONNECTED:
        return "completed" if said == "completed" else "in-progress"
    if status == ReferralStatus.UNABLE_TO_REACH:
        return "on-hold"
    if status == ReferralStatus.DECLINED:
        return "cancelled"
    if said in TERMINAL:
        return said
    return "completed" if _ever_connected(referral) else "cancelled"


def _organization_ref(referral: Referral) -> dict[str, Any]:
    """The organization the person consented to, as stored on the referral when it was made."""
    return {
        "reference": f"Organization/{referral.organization_hsds_id}",
        "identifier": {"system": URN, "value": f"urn:uuid:{referral.organization_hsds_id}"},
        "display": referral.organization_name,
    }


def _subject(referral: Referral) -> dict[str, Any]:
    encounter = referral.encounter
    if referral.consent and encounter.client_initials:
        return {"display": encounter.client_initials}
    return {"display": "Person met by CARE"}


def _care_unit(referral: Referral) -> dict[str, Any]:
    return {"display": f"Seattle CARE unit {referral.encounter.assignment.unit.call_sign}"}


def service_request(referral: Referral) -> dict[str, Any]:
    closed = task_status(referral)
    status = "active"
    if closed in TERMINAL:
        status = "completed" if closed == "completed" else "revoked"
    body: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": str(referral.pk),
        "meta": {"versionId": str(referral.version)},
        "status": status,
        "intent": "order",
        "category": [{"text": referral.service.category or "community services"}],
        "code": {"text": referral.service.name},
        "subject": _subject(referral),
        "authoredOn": referral.made_at.isoformat(),
        "requester": _care_unit(referral),
        "performer": [_organization_ref(referral)],
        "supportingInfo": [{"reference": f"Consent/{referral.pk}"}],
    }
    return parsed(ServiceRequest, body)


def task(referral: Referral) -> dict[str, Any]:
    status = task_status(referral)
    outcome = _outcome(referral)
    body: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(referral.pk),
        "meta": {"versionId": str(referral.version)},
        "status": status,
        "intent": "order",
        "focus": {"reference": f"ServiceRequest/{referral.pk}"},
        "for": _subject(referral),
        "authoredOn": referral.made_at.isoformat(),
        "lastModified": referral.updated_at.isoformat(),
        "requester": _care_unit(referral),
        "owner": _organization_ref(referral),
        "businessStatus": {"text": referral.get_status_display()},
    }
    if outcome and outcome.status_reason:
        body["statusReason"] = {"text": outcome.status_reason}
    elif referral.status == ReferralStatus.DECLINED:
        body["statusReason"] = {"text": "The person declined the referral."}
    if outcome and outcome.output:
        body["output"] = [{"type": {"text": "outcome"}, "valueString": outcome.output}]
    return parsed(Task, body)


def consent(referral: Referral) -> dict[str, Any]:
    body = {
        "resourceType": "Consent",
        "id": str(referral.pk),
        "status": "active" if referral.consent else "rejected",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"text": "Consent to be referred and to share contact details"}],
        "patient": _subject(referral),
        "dateTime": referral.made_at.isoformat(),
        "performer": [_subject(referral)],
        "organization": [_care_unit(referral)],
        "policyRule": {"text": "Given verbally to the CARE responders at the encounter."},
        "provision": {"type": "permit" if referral.consent else "deny"},
    }
    return parsed(Consent, body)


def organization(referral: Referral) -> dict[str, Any]:
    body = {
        "resourceType": "Organization",
        "id": referral.organization_hsds_id,
        "identifier": [{"system": URN, "value": f"urn:uuid:{referral.organization_hsds_id}"}],
        "name": referral.organization_name,
    }
    return parsed(Organization, body)


def referral_bundle(referral: Referral) -> dict[str, Any]:
    entries = [
        ("ServiceRequest", service_request(referral)),
        ("Task", task(referral)),
        ("Consent", consent(referral)),
        ("Organization", organization(referral)),
    ]
    body = {
        "resourceType": "Bundle",
        "id": str(referral.pk),
        "type": "collection",
        "entry": [
            {"fullUrl": f"{kind}/{resource['id']}", "resource": resource}
            for kind, resource in entries
        ],
    }
    return parsed(Bundle, body)


def search_bundle(referrals: list[Referral]) -> dict[str, Any]:
    body = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(referrals),
        "entry": [
            {"fullUrl": f"Task/{r.pk}", "resource": task(r), "search": {"mode": "match"}}
            for r in referrals
        ],
    }
    return parsed(Bundle, body)


# ---- who sees what --------------------------------------------------------------------------


def partner_organization(actor: Any) -> str | None:
    """The HSDS organization id a partner key acts for; None for a person."""
    client = getattr(actor, "system_client", None)
    if client is not None and client.kind == "partner" and client.active:
        return client.organization_id
    return None


def visible_referrals(actor: Any) -> QuerySet[Referral]:
    """Coordinators and admins see every referral's resources; a partner only the referrals made
    with consent to its own organization (the one stored on the referral when it was made, never
    the service's organization now); anyone else none."""
    referrals = Referral.objects.select_related("service", "encounter__assignment__unit").exclude(
        organization_hsds_id=""
    )
    organization = partner_organization(actor)
    if organization:
        return referrals.filter(consent=True, organization_hsds_id=organization)
    if role_of(actor) in (Role.COORDINATOR, Role.ADMIN):
        return referrals
    return referrals.none()


def referral_for(actor: Any, referral_id: Any) -> Referral:
    try:
        found = visible_referrals(actor).filter(pk=referral_id).first()
    except (ValueError, TypeError):
        found = None
    if found is None:
        raise NotFound("No such referral.")
    return found


def owner_id(text: str) -> str:
    for prefix in ("Organization/", "urn:uuid:"):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


# ---- the partner's update -------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("text") or "").strip()
    return ""


def _output_text(outputs: Any) -> str:
    if not isinstance(outputs, list):
        return ""
    for item in outputs:
        if not isinstance(item, dict):
            continue
        for key in ("valueString", "valueMarkdown"):
            if item.get(key):
                return str(item[key]).strip()
        if isinstance(item.get("valueCodeableConcept"), dict):
            return _text(item["valueCodeableConcept"])
    return ""


def _check_update(current: str, wanted: dict[str, Any]) -> tuple[str, str, str]:
    try:
        Task.model_validate({"intent": "order", **wanted, "resourceType": "Task"})
    except Exception as exc:  # pydantic's ValidationError: the body is not a Task
        raise InvalidInput(
            "The body is not a FHIR R4 Task.", fields={"/": [str(exc)[:500]]}
        ) from exc
    status = wanted.get("status")
    reason = _text(wanted.get("statusReason"))[:500]
    output = _output_text(wanted.get("output"))[:1000]
    if status not in PARTNER_STATUSES and status != current:
        raise InvalidInput(
            f"A receiving organization sets the Task to one of: {', '.join(PARTNER_STATUSES)}.",
            fields={"status": [f"'{status}' is not one of them."]},
        )
    if status != current and status not in TASK_FLOW.get(current, ()):
        raise Conflict(
            f"A Task that is {current} can't become {status}.", current=current, requested=status
        )
    if status == "rejected" and not reason:
        raise InvalidInput(
            "Say why the referral is rejected.", fields={"statusReason": ["Required."]}
        )
    if status == "completed" and not output:
        raise InvalidInput("Say what came of the referral.", fields={"output": ["Required."]})
    return status, reason, output


def update_task(
    *, actor: Any, referral_id: Any, wanted: dict[str, Any], if_match: str | None
) -> Referral:
    """Apply a partner's (or a coordinator's) Task update to the referral, in one transaction."""
    with change_transaction():
        referral = referral_for(actor, referral_id)
        referral = Referral.objects.select_for_update(of=("self",)).get(pk=referral.pk)
        if if_match is None and partner_organization(actor):
            # A partner's system must say which version it changes: without it, a loop of
            # updates would keep every coordinator's edit in a version conflict.
            raise PreconditionRequired(
                "Send If-Match with the ETag your last read of the Task gave.",
                current=etag(referral),
            )
        if if_match is not None and if_match.strip() != etag(referral):
            raise PreconditionFailed(
                "The Task changed since you read it; read it again.", current=etag(referral)
            )
        current = task_status(referral)
        status, reason, output = _check_update(current, wanted)
        if _changes_nothing(referral, status, reason, output):
            return referral  # no new version, no follow-up, no event
        note = "; ".join(filter(None, [f"Task {status}", reason, output]))
        target = REFERRAL_FOR.get(status, referral.status)
        steps = STEPS.get((referral.status, target), [target])
        if target == referral.status:
            steps = [None]
        base: int | None = referral.version  # the first step is made from the version checked
        for step in steps:
            data: dict[str, Any] = {"note": note}
            if step:
                data["status"] = step
            if base is not None:
                data["base_version"] = base
            referral = update_referral.execute(actor=actor, data=data, referral_id=referral.pk)
            base = None
        record, _ = ReferralTaskOutcome.objects.get_or_create(referral=referral)
        record.outcome = status if status in TERMINAL else ""
        record.status_reason = reason
        record.output = output
        record.save()
        record_audit(
            actor=actor,
            action="fhir.task_updated",
            obj=referral,
            after={"status": status, "reason": reason, "output": output},
        )
        return Referral.objects.select_related("service", "encounter__assignment__unit").get(
            pk=referral.pk
        )


def _changes_nothing(referral: Referral, status: str, reason: str, output: str) -> bool:
    """The update asks for the Task exactly as it reads now."""
    shown = task(referral)
    return (status, reason, output) == (
        shown["status"],
        _text(shown.get("statusReason"))[:500],
        _output_text(shown.get("output"))[:1000],
    )


class PreconditionFailed(Conflict):
    status = 412
    code = "precondition_failed"


class PreconditionRequired(Conflict):
    status = 428
    code = "precondition_required"
