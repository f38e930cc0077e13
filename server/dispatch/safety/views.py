"""The dispatch board's safety buttons: acknowledge and end an emergency, clear an unanswered
check-in. Each runs the API's command for the same change and returns to the board."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from server.accounts.views import console_for
from server.dispatch.safety import commands as safety_commands
from server.dispatch.units import commands as unit_commands
from server.dispatch.views import DISPATCHERS, _board_context
from server.errors import CareFieldError


def _back_to_board(request: HttpRequest, command, **ids) -> HttpResponse:
    data = {k: v.strip() for k, v in request.POST.items() if k in ("note",) and v.strip()}
    try:
        command.execute(actor=request.user, data=data, **ids)
    except CareFieldError as exc:
        from django.shortcuts import render

        context = _board_context(request) | {"problem": exc.detail, "fields": exc.fields}
        return render(request, "dispatch/_board.html", context, status=400)
    return redirect("/dispatch/")


@console_for(*DISPATCHERS)
@require_POST
def acknowledge_emergency(request: HttpRequest, emergency_id: uuid.UUID) -> HttpResponse:
    return _back_to_board(request, safety_commands.acknowledge_emergency, emergency_id=emergency_id)


@console_for(*DISPATCHERS)
@require_POST
def end_emergency(request: HttpRequest, emergency_id: uuid.UUID) -> HttpResponse:
    return _back_to_board(request, safety_commands.end_emergency, emergency_id=emergency_id)


@console_for(*DISPATCHERS)
@require_POST
def clear_lapse(request: HttpRequest, lapse_id: int) -> HttpResponse:
    return _back_to_board(request, safety_commands.clear_lapse, lapse_id=lapse_id)


@console_for(*DISPATCHERS)
@require_POST
def decide_sign_on_request(request: HttpRequest, request_id: uuid.UUID) -> HttpResponse:
    """A supervisor's answer from the board (the command refuses anyone else)."""
    approve = request.POST.get("approve") == "true"
    try:
        unit_commands.decide_sign_on_request.execute(
            actor=request.user, data={"approve": approve}, request_id=request_id
        )
    except CareFieldError as exc:
        from django.shortcuts import render

        context = _board_context(request) | {"problem": exc.detail, "fields": exc.fields}
        return render(
            request, "dispatch/_board.html", context, status=403 if exc.status == 403 else 400
        )
    return redirect("/dispatch/")
