"""The dispatch board: new calls with screening, one-click dual dispatch, the live board and how
the calls sent to CARE ended (HTML, thin: every change goes through the dispatch commands)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from server.accounts.models import Role
from server.accounts.services import issue_console_token
from server.accounts.views import console_for
from server.dispatch import geography, policies
from server.dispatch.incidents import commands, presenters, selectors
from server.dispatch.incidents.services import LOCATABLE
from server.dispatch.models import (
    DispatchModel,
    Incident,
    IncidentStatus,
    PoliceOnlyReason,
    SignOnRequestStatus,
    UnitKind,
)
from server.dispatch.protocol import current_protocol
from server.dispatch.safety import commands as safety_commands
from server.dispatch.safety import selectors as safety_selectors
from server.dispatch.units import selectors as unit_selectors
from server.errors import CareFieldError
from server.feed.models import Stream
from server.feed.services import user_stream

DISPATCHERS = (Role.DISPATCHER,)


# Panels other apps add to the board (care adds how the dispatcher's CARE calls ended): each
# takes the signed-in user and returns template context. Dispatch can't read care records itself.
BOARD_PANELS: list = []


def _panels(user) -> dict:
    context: dict = {}
    for panel in BOARD_PANELS:
        context.update(panel(user))
    return context


def _board_context(request: HttpRequest) -> dict:
    protocol = current_protocol()
    triage = []
    if protocol.dispatch_model == DispatchModel.EMBEDDED_PROFESSIONAL:
        triage = selectors.triage_queue()
    return {
        "incidents": selectors.open_incidents()[:50],
        "units": unit_selectors.unit_board(),
        "triage": triage,
        "protocol": protocol,
        **safety_selectors.safety_board(),
        "roster": unit_selectors.visible_roster(request.user, timezone.localdate()),
        "sign_on_requests": unit_selectors.visible_sign_on_requests(request.user).filter(
            status=SignOnRequestStatus.PENDING, day=timezone.localdate()
        ),
        "supervisor": policies.may_sign_on_others(request.user),
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
            "call_types": selectors.active_call_types(),
            "questions": selectors.active_screening_questions(),
            **_panels(request.user),
            "cursors": {s: cursors.get(s, 0) for s in streams},
            "map": map_settings(),
            "now": timezone.localtime().strftime("%Y%m%d-%H%M%S"),
        },
    )


def map_settings() -> dict:
    """What the page's map needs from the settings: the tiles, or none (vector layers only)."""
    return {"tile_url": settings.MAP_TILE_URL, "attribution": settings.MAP_TILE_ATTRIBUTION}


@console_for(*DISPATCHERS)
@require_GET
def map_layers(request: HttpRequest) -> JsonResponse:
    """The pilot area and the SPD beats as GeoJSON, for the board's map."""
    return JsonResponse(geography.map_layers())


@console_for(*DISPATCHERS)
@require_GET
def map_state(request: HttpRequest) -> JsonResponse:
    """Every open call and unit where the map draws them; fetched again when the feed says a
    call changed (a unit's position arrives on the feed itself)."""
    state = presenters.map_state(selectors.open_incidents(), unit_selectors.available_units())
    return JsonResponse(state)


@console_for(*DISPATCHERS)
def board_fragment(request: HttpRequest) -> HttpResponse:
    """The live part of the board, fetched again whenever the feed says something changed."""
    return render(request, "dispatch/_board.html", _board_context(request))


@console_for(*DISPATCHERS)
@require_POST
def console_token(request: HttpRequest) -> JsonResponse:
    """A device token for this signed-in dispatcher's page to open the live feed with; the same
    one while the session lives, and it dies with the session."""
    return JsonResponse({"token": issue_console_token(user=request.user, session=request.session)})


@console_for(*DISPATCHERS)
@require_POST
def new_call(request: HttpRequest) -> HttpResponse:
    """The new-call form, through the same command as `POST /api/v1/incidents`."""
    form = request.POST
    try:
        incident = commands.create_incident.execute(actor=request.user, data=_call_input(form))
    except CareFieldError as exc:
        context = _board_context(request) | {
            "call_types": selectors.active_call_types(),
            "questions": selectors.active_screening_questions(),
            **_panels(request.user),
            "cursors": {},
            "map": map_settings(),
            "problem": exc.detail,
            "fields": exc.fields,
            "form": form,
        }
        return render(request, "dispatch/board.html", context, status=400)
    return redirect(f"/dispatch/calls/{incident.pk}/")


def _call_input(form) -> dict:
    """The form's fields in the command's shape: the checks are the command's. A blank time
    received is now; one without an offset is Seattle's local time (the schema's default zone)."""
    data = {
        key: form.get(key, "").strip()
        for key in ("cad_number", "call_type", "priority", "address", "latitude", "longitude")
    }
    data["narrative"] = form.get("narrative", "")
    data["received_at"] = form.get("received_at", "").strip() or timezone.now().isoformat()
    data["screening"] = {
        q.key: form.get(f"screening_{q.key}") == "yes"
        for q in selectors.active_screening_questions()
    }
    return data


@console_for(*DISPATCHERS)
def call_page(request: HttpRequest, incident_id: uuid.UUID) -> HttpResponse:
    incident = Incident.objects.select_related("call_type").filter(pk=incident_id).first()
    if incident is None:
        raise Http404("No such call.")
    problem, fields = "", {}
    if request.method == "POST":
        problem, fields = _act(request, incident)
        if not problem:
            return redirect(f"/dispatch/calls/{incident.pk}/")
        incident.refresh_from_db()
    care = selectors.suggested_units(incident, UnitKind.CARE)
    spd = selectors.suggested_units(incident, UnitKind.SPD)
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
            "can_locate": incident.status in LOCATABLE,
            "map": map_settings(),
            "problem": problem,
            "fields": fields,
            "protocol": current_protocol(),
            "police_only_reasons": PoliceOnlyReason.objects.for_dispatchers(),
            "care_available": selectors.care_alternative(incident, care),
            "can_send_backup": incident.status
            in (IncidentStatus.DISPATCHED, IncidentStatus.ON_SCENE),
        },
        status=400 if problem else 200,
    )


# The call page's buttons, each the API's command for the same change.
ACTIONS = {
    "dispatch": (
        commands.dispatch_incident,
        ("care_unit", "spd_unit", "override_reason", "police_only_code"),
    ),
    "cancel": (commands.cancel_incident, ("reason",)),
    "resolve_by_phone": (commands.resolve_by_phone, ("note",)),
    "refer_to_hotline": (commands.refer_to_hotline, ("note",)),
    "locate": (commands.locate_incident, ("latitude", "longitude", "address")),
    "send_backup": (safety_commands.send_backup, ("spd_unit",)),
}


def _act(request: HttpRequest, incident: Incident) -> tuple[str, dict]:
    """Apply the dispatcher's button; the message and the fields to show if refused."""
    form = request.POST
    if form.get("action") not in ACTIONS:
        return "Choose an action.", {}
    command, names = ACTIONS[form["action"]]
    data = {name: form[name].strip() for name in names if form.get(name, "").strip()}
    try:
        command.execute(actor=request.user, data=data, incident_id=incident.pk)
    except CareFieldError as exc:
        return exc.detail, exc.fields
    return "", {}
