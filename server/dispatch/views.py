"""The dispatch board: new calls with screening, one-click dual dispatch, the live board and how
the calls sent to CARE ended (HTML, thin: every change goes through dispatch.services)."""

from __future__ import annotations

import datetime
import uuid

from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from server.accounts.models import Role
from server.accounts.services import issue_console_token
from server.accounts.views import console_for
from server.care.models import Encounter
from server.dispatch import services
from server.dispatch.models import (
    CLOSED_ASSIGNMENT_STATUSES,
    OPEN_INCIDENT_STATUSES,
    Assignment,
    CallType,
    DispatchModel,
    Incident,
    IncidentStatus,
    PoliceOnlyReason,
    ResponseSent,
    ScreeningQuestion,
    Unit,
    UnitKind,
)
from server.dispatch.protocol import current_protocol
from server.errors import CareFieldError, InvalidInput
from server.sync.models import Stream
from server.sync.services import user_stream

DISPATCHERS = (Role.DISPATCHER,)


def _open_incidents():
    return (
        Incident.objects.filter(status__in=OPEN_INCIDENT_STATUSES)
        .select_related("call_type")
        .prefetch_related(
            Prefetch("assignments", queryset=Assignment.objects.select_related("unit"))
        )
        .order_by("-received_at")[:50]
    )


def _units() -> list[dict]:
    busy = set(
        Assignment.objects.exclude(status__in=CLOSED_ASSIGNMENT_STATUSES).values_list(
            "unit_id", flat=True
        )
    )
    return [
        {"unit": u, "available": u.in_service and u.pk not in busy}
        for u in Unit.objects.order_by("kind", "call_sign")
    ]


def suggested_units(incident: Incident, kind: str) -> list[Unit]:
    """Available units of one kind, nearest first: the call's own beat, then its sector (the
    beat's letter, e.g. M for M1-M3), then the rest by call sign."""
    available = [row["unit"] for row in _units() if row["available"] and row["unit"].kind == kind]
    beat = incident.beat or ""

    def distance(unit: Unit) -> tuple[int, str]:
        if beat and unit.home_beat == beat:
            return (0, unit.call_sign)
        if beat and unit.home_beat[:1] == beat[:1]:
            return (1, unit.call_sign)
        return (2, unit.call_sign)

    return sorted(available, key=distance)


def _outcomes(user) -> list[dict]:
    """How the calls this dispatcher sent to CARE ended: the feedback call takers asked for."""
    encounters = {
        e.assignment.incident_id: e
        for e in Encounter.objects.filter(
            assignment__incident__created_by=user, assignment__kind=UnitKind.CARE
        )
        .select_related("assignment", "disposition")
        .prefetch_related("referrals")
        .order_by("-started_at")[:200]
    }
    incidents = (
        Incident.objects.filter(created_by=user, response=ResponseSent.DUAL)
        .select_related("call_type")
        .order_by("-received_at")[:20]
    )
    return [
        {
            "incident": i,
            "disposition": getattr(getattr(encounters.get(i.pk), "disposition", None), "label", ""),
            "referrals": len(encounters[i.pk].referrals.all()) if i.pk in encounters else 0,
        }
        for i in incidents
    ]


def _board_context(request: HttpRequest) -> dict:
    protocol = current_protocol()
    triage = []
    if protocol.dispatch_model == DispatchModel.EMBEDDED_PROFESSIONAL:
        triage = Incident.objects.filter(status=IncidentStatus.TRIAGE).select_related("call_type")
    return {
        "incidents": _open_incidents(),
        "units": _units(),
        "triage": triage,
        "protocol": protocol,
    }


@console_for(*DISPATCHERS)
def board(request: HttpRequest) -> HttpResponse:
    streams = ["dispatch", user_stream(request.user.pk)]
    cursors = dict(Stream.objects.filter(name__in=streams).values_list("name", "last_seq"))
    return render(
        request,
        "dispatch/board.html",
        _board_context(request)
        | {
            "call_types": CallType.objects.filter(active=True).order_by("-eligible", "code"),
            "questions": ScreeningQuestion.objects.filter(active=True),
            "outcomes": _outcomes(request.user),
            "cursors": {s: cursors.get(s, 0) for s in streams},
            "now": timezone.localtime().strftime("%Y%m%d-%H%M%S"),
        },
    )


@console_for(*DISPATCHERS)
def board_fragment(request: HttpRequest) -> HttpResponse:
    """The live part of the board, fetched again whenever the feed says something changed."""
    return render(request, "dispatch/_board.html", _board_context(request))


@console_for(*DISPATCHERS)
@require_POST
def console_token(request: HttpRequest) -> JsonResponse:
    """A device token for this signed-in dispatcher's page to open the live feed with."""
    return JsonResponse({"token": issue_console_token(user=request.user)})


@console_for(*DISPATCHERS)
@require_POST
def new_call(request: HttpRequest) -> HttpResponse:
    form = request.POST
    try:
        incident = services.create_incident(
            actor=request.user,
            cad_number=form.get("cad_number", "").strip(),
            call_type=form.get("call_type", ""),
            priority=_number(form.get("priority"), int, "priority"),
            address=form.get("address", "").strip(),
            latitude=_number(form.get("latitude"), float, "latitude"),
            longitude=_number(form.get("longitude"), float, "longitude"),
            narrative=form.get("narrative", ""),
            received_at=_received_at(form.get("received_at", "")),
            screening={
                q.key: form.get(f"screening_{q.key}") == "yes"
                for q in ScreeningQuestion.objects.filter(active=True)
            },
        )
    except CareFieldError as exc:
        context = _board_context(request) | {
            "call_types": CallType.objects.filter(active=True).order_by("-eligible", "code"),
            "questions": ScreeningQuestion.objects.filter(active=True),
            "outcomes": _outcomes(request.user),
            "cursors": {},
            "problem": exc.detail,
            "fields": getattr(exc, "fields", None) or {},
            "form": form,
        }
        return render(request, "dispatch/board.html", context, status=400)
    return redirect(f"/dispatch/calls/{incident.pk}/")


def _received_at(raw: str) -> datetime.datetime:
    """When the call came in, by the CAD clock; blank means now. A time without an offset is
    Seattle's local time."""
    if not raw.strip():
        return timezone.now()
    try:
        when = datetime.datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise InvalidInput(
            "Write the time received as YYYY-MM-DD HH:MM.", fields={"received_at": ["A time."]}
        ) from exc
    return timezone.make_aware(when) if timezone.is_naive(when) else when


def _number(raw, kind, name: str):
    try:
        return kind(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"Write the {name} as a number.", fields={name: ["A number."]}) from exc


@console_for(*DISPATCHERS)
def call_page(request: HttpRequest, incident_id: uuid.UUID) -> HttpResponse:
    incident = Incident.objects.select_related("call_type").filter(pk=incident_id).first()
    if incident is None:
        raise Http404("No such call.")
    problem = ""
    if request.method == "POST":
        problem = _act(request, incident)
        if not problem:
            return redirect(f"/dispatch/calls/{incident.pk}/")
        incident.refresh_from_db()
    care = suggested_units(incident, UnitKind.CARE)
    spd = suggested_units(incident, UnitKind.SPD)
    return render(
        request,
        "dispatch/call.html",
        {
            "incident": incident,
            "assignments": incident.assignments.select_related("unit"),
            "care_units": care,
            "spd_units": spd,
            "can_dispatch": incident.status
            in (IncidentStatus.RECEIVED, IncidentStatus.SCREENED, IncidentStatus.TRIAGE),
            "problem": problem,
            "protocol": current_protocol(),
            "police_only_reasons": PoliceOnlyReason.objects.for_dispatchers(),
        },
        status=400 if problem else 200,
    )


def _act(request: HttpRequest, incident: Incident) -> str:
    """Apply the dispatcher's button through the dispatch service; the message if refused."""
    form, action = request.POST, request.POST.get("action")
    try:
        if action == "dispatch":
            services.dispatch_incident(
                actor=request.user,
                incident_id=incident.pk,
                care_unit=int(form["care_unit"]) if form.get("care_unit") else None,
                spd_unit=int(form["spd_unit"]) if form.get("spd_unit") else None,
                override_reason=form.get("override_reason", "").strip(),
                police_only_code=form.get("police_only_code", ""),
            )
        elif action == "cancel":
            services.cancel_incident(
                actor=request.user, incident_id=incident.pk, reason=form.get("reason", "")
            )
        elif action == "resolve_by_phone":
            services.resolve_by_phone(
                actor=request.user, incident_id=incident.pk, note=form.get("note", "")
            )
        elif action == "refer_to_hotline":
            services.refer_to_hotline(
                actor=request.user, incident_id=incident.pk, note=form.get("note", "")
            )
        else:
            return "Choose an action."
    except CareFieldError as exc:
        return exc.detail
    except ValueError:
        return "Choose units from the lists."
    return ""
