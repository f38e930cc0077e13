"""Taking a CAD's EIDO document: one more door to the dispatch commands.

Ordered and idempotent per component: a component (`$id`) whose `lastUpdateTimeStamp` is the one
already applied changes nothing (`duplicate`); an older one is `stale` and ignored; a newer or new
one applies its facts. The raw document is kept with the incident under the retention setting.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from server.accounts.models import SystemClient
from server.dispatch.incidents import commands
from server.dispatch.models import OPEN_INCIDENT_STATUSES, CallType, Incident, IncidentStatus
from server.errors import Conflict
from server.interop.eido_in import CadCall, read_document
from server.interop.models import (
    CadComponent,
    CadDocument,
    CadIncident,
    CallTypeMapping,
    CautionMapping,
)

CREATED, UPDATED, DUPLICATE, STALE = "created", "updated", "duplicate", "stale"
CALL_TYPE_UNSAFE = re.compile(r"[^A-Z0-9 ,./()&'-]")
NO_TYPE = "CAD CALL (NO TYPE)"
DEFAULT_PRIORITY = 3  # a CAD call with no priority: SPD's routine 911 priority
TERMINAL = (IncidentStatus.CLOSED, IncidentStatus.CANCELLED)


@dataclass
class Outcome:
    outcome: str
    incident: Incident
    # {JSON pointer: [reason]}: what in the document was passed over (eido_in.CadCall.warnings)
    warnings: dict[str, list[str]] = field(default_factory=dict)


def ingest(*, client: SystemClient, document: Any) -> Outcome:
    call = read_document(document)
    try:
        outcome = _ingest(client, document, call)
    except (IntegrityError, Conflict):
        # Two documents for a new call raced; the loser finds the winner's incident.
        if not CadIncident.objects.filter(client=client, cad_key=call.cad_key).exists():
            raise
        outcome = _ingest(client, document, call)
    outcome.warnings = call.warnings
    return outcome


def _ingest(client: SystemClient, document: Any, call: CadCall) -> Outcome:
    actor = client.user
    with transaction.atomic():
        link = (
            CadIncident.objects.select_for_update()
            .select_related("incident")
            .filter(client=client, cad_key=call.cad_key)  # never another CAD's call
            .first()
        )
        if link is None:
            incident = _create(actor, call, _cad_number_for(client, call.cad_number))
            link = CadIncident.objects.create(
                incident=incident, cad_key=call.cad_key, client=client, cad_status=call.cad_status
            )
            CadComponent.objects.bulk_create(
                CadComponent(cad_incident=link, component_id=cid, last_update=ts)
                for cid, ts, _ in call.components
            )
            outcome = CREATED
        else:
            outcome = _update(actor, link, call)
        _keep(link.incident if outcome != CREATED else incident, client, document, outcome)
    return Outcome(outcome=outcome, incident=Incident.objects.get(pk=link.incident_id))


def _keep(incident: Incident, client: SystemClient, document: Any, outcome: str) -> None:
    CadDocument.objects.create(
        incident=incident,
        client=client,
        outcome=outcome,
        document=document,
        expires_at=timezone.now() + datetime.timedelta(days=settings.CARE_EIDO_RETENTION_DAYS),
    )


def prune_documents(now: datetime.datetime | None = None) -> int:
    """Drop raw documents past their retention; the incident and its audit trail stay."""
    deleted, _ = CadDocument.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def call_type_for(call: CadCall) -> CallType:
    """The protocol's call type: the administrator's mapping of the CAD's own code, then of the
    APCO type, then a call type of that name; else the CAD's text as a new, ineligible type a
    dispatcher can read (never a lost call)."""
    mapped = (
        CallTypeMapping.objects.filter(source="internal", cad_code=call.internal_code).first()
        if call.internal_code
        else None
    ) or CallTypeMapping.objects.filter(source="apco", cad_code=call.incident_type).first()
    if mapped:
        return mapped.call_type
    for code in (call.internal_code, call.incident_type):
        found = CallType.objects.filter(code=code).first() if code else None
        if found:
            return found
    code = new_call_type_code(call.internal_code or call.incident_type)
    return CallType.objects.get_or_create(code=code, defaults={"eligible": False})[0]


def new_call_type_code(text: str) -> str:
    """A call type named from the CAD's text: call-type names reach the public dashboard and its
    CSV (calls CARE reached, by type), so only the characters call types use, never a leading
    character a spreadsheet reads as a formula."""
    cleaned = " ".join(CALL_TYPE_UNSAFE.sub(" ", text.upper()).split())
    cleaned = cleaned.lstrip("=+-@ ")[:120].strip()
    return cleaned or NO_TYPE


def screening_for(call: CadCall) -> dict[str, bool]:
    flags = {c.lower() for c in call.cautions}
    if not flags:
        return {}
    return {
        m.question.key: True
        for m in CautionMapping.objects.select_related("question")
        if m.caution_text.lower() in flags
    }


def _priority(call: CadCall) -> int:
    return min(max(call.priority or DEFAULT_PRIORITY, 1), 9)


def _cad_number_for(client: SystemClient, number: str) -> str:
    """The call's CAD number, unless another CAD's call (or one made here) already holds it:
    then the number tagged with this CAD, so two CADs' calls never share a record."""
    taken = Incident.objects.filter(cad_number=number).exclude(cad_link__client=client)
    if not taken.exists():
        return number
    tag = f"-C{client.pk}"
    return number[: 32 - len(tag)] + tag


def _create(actor, call: CadCall, cad_number: str) -> Incident:
    where = call.where
    incident = commands.create_incident_from_cad.execute(
        actor=actor,
        data=dict(
            cad_number=cad_number,
            call_type=call_type_for(call).pk,
            priority=_priority(call),
            address=(
                where.address
                or ("Location by reference" if call.location_by_reference else "Location not given")
            )[:200],
            latitude=where.latitude,
            longitude=where.longitude,
            narrative=call.narrative[:4000],
            received_at=min(call.received_at or timezone.now(), timezone.now()),
            screening=screening_for(call),
            beat=call.beat[:10],
        ),
    )
    _close_if_cad_closed(actor, incident, call)
    return incident


def _update(actor, link: CadIncident, call: CadCall) -> str:
    stored = {p.component_id: p for p in link.parts.all()}
    newer: set[str] = set()
    older = False
    for cid, ts, kind in call.components:
        part = stored.get(cid)
        if part is None or ts > part.last_update:
            newer.add(kind)
            if part is None:
                CadComponent.objects.create(cad_incident=link, component_id=cid, last_update=ts)
            else:
                part.last_update = ts
                part.save(update_fields=["last_update"])
        elif ts < part.last_update:
            older = True
    if not newer:
        return STALE if older else DUPLICATE
    changes: dict[str, Any] = {}
    if "incidentComponent" in newer and call.has_incident:
        changes["priority"] = _priority(call)
        changes["call_type"] = call_type_for(call)
    if "locationComponent" in newer:
        if call.where.has_point:
            changes["latitude"], changes["longitude"] = call.where.latitude, call.where.longitude
        if call.where.address:
            changes["address"] = call.where.address[:200]
    if "notesComponent" in newer and call.narrative:
        changes["narrative"] = call.narrative[:4000]
    if changes:
        if "call_type" in changes:
            changes["call_type"] = changes["call_type"].pk
        commands.update_incident_from_cad.execute(
            actor=actor, data=changes, incident_id=link.incident_id
        )
    if "incidentComponent" in newer:
        link.cad_status = call.cad_status
        link.save(update_fields=["cad_status"])
        _close_if_cad_closed(actor, link.incident, call)
    return UPDATED


def _close_if_cad_closed(actor, incident: Incident, call: CadCall) -> None:
    """A CAD cancel or disposition ends the call here too, through the usual cancel: its open
    assignments are cancelled and the units freed, with the CAD's words as the reason."""
    status = call.cad_status.lower()
    cancelled = "cancel" in status
    closed = bool(call.disposition) or status in ("closed", "complete", "completed")
    if not (cancelled or closed):
        return
    incident.refresh_from_db(fields=["status"])
    if incident.status not in OPEN_INCIDENT_STATUSES:
        return
    what = "Cancelled in the CAD" if cancelled else "Closed in the CAD"
    reason = f"{what}: {call.disposition}" if call.disposition else what
    commands.cancel_incident.execute(
        actor=actor, data={"reason": reason[:1000]}, incident_id=incident.pk
    )
