"""Domain errors and the one JSON error shape every API answer uses.

Services raise a `CareFieldError` subclass; the API maps it (and DRF's own exceptions) to
`{"code": ..., "detail": "<a sentence a person can read>", "fields": {...}}` plus any extra keys the
contract names (a refused transition adds `current` and `requested`).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, JsonResponse

logger = logging.getLogger(__name__)


class CareFieldError(Exception):
    """A request the program refuses, with a message for the person who made it."""

    status = 400
    code = "invalid"

    def __init__(self, detail: str, *, fields: dict[str, list[str]] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.fields = fields or {}
        self.extra = extra

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "detail": self.detail}
        if self.fields:
            body["fields"] = self.fields
        body.update(self.extra)
        return body


class InvalidInput(CareFieldError):
    status = 400
    code = "invalid"


class NotFound(CareFieldError):
    status = 404
    code = "not_found"


class Forbidden(CareFieldError):
    status = 403
    code = "forbidden"


class RoleRefused(Forbidden):
    """The command runner's refusal: this principal may not run this command at all."""


class NotRostered(Forbidden):
    code = "not_rostered"


class Conflict(CareFieldError):
    status = 409
    code = "conflict"


class UnitUnavailable(Conflict):
    code = "unit_unavailable"


class TransitionNotAllowed(Conflict):
    code = "transition_not_allowed"


class WrongDispatchModel(Conflict):
    code = "wrong_dispatch_model"


class VersionConflict(Conflict):
    code = "version_conflict"


class PositionRefused(CareFieldError):
    """An absurd position fix (far outside the service area, an impossible speed)."""

    status = 422
    code = "position_refused"


class IdReused(Conflict):
    code = "id_reused"


def _flatten(detail: Any) -> dict[str, list[str]]:
    """DRF's nested error detail, as {field path: [messages]}."""
    out: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list) and value and not all(isinstance(v, str) for v in value):
            for i, inner in enumerate(value):
                walk(f"{prefix}.{i}" if prefix else str(i), inner)
        else:
            messages = value if isinstance(value, list) else [value]
            out.setdefault(prefix or "non_field_errors", []).extend(str(m) for m in messages)

    walk("", detail)
    return out


def summarize_fields(fields: dict[str, list[str]]) -> str:
    parts = [f"{name}: {msgs[0]}" for name, msgs in fields.items() if msgs]
    return "Please correct: " + "; ".join(parts) if parts else "The request is invalid."


def api_exception_handler(exc: Exception, context: dict):
    """DRF's EXCEPTION_HANDLER: every error leaves as the one shape above."""
    # Imported here: DRF's settings import our authentication, which imports these errors.
    from rest_framework import exceptions as drf
    from rest_framework.response import Response
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, CareFieldError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, RequestDataTooBig):  # a body larger than its Content-Length declared
        return Response(
            {"code": "too_large", "detail": "The request body is over the size limit."},
            status=413,
        )
    if isinstance(exc, Http404):
        exc = drf.NotFound("No such record, or you may not see it.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()

    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database went away under the request (restarted, connection terminated, pool
        # exhausted). Not a bug to report but a moment to wait; a commit cut off midway may or
        # may not have landed, so don't promise that nothing was saved.
        logger.warning("database unavailable during an API request", exc_info=exc)
        return Response(
            {
                "code": "database_unavailable",
                "detail": "The server lost its database for a moment; the change may not have "
                "been saved. Try again in a few seconds.",
            },
            status=503,
            headers={"Retry-After": "2"},
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in API view", exc_info=exc)
        return Response(
            {
                "code": "server_error",
                "detail": "Something went wrong on the server; "
                "nothing was saved. Try again, and tell support if it keeps happening.",
            },
            status=500,
        )
    if isinstance(exc, drf.ValidationError):
        fields = _flatten(exc.detail)
        response.data = {"code": "invalid", "detail": summarize_fields(fields), "fields": fields}
    elif isinstance(exc, drf.Throttled):
        wait = max(1, int(exc.wait or 1))
        response.data = {
            "code": "throttled",
            "detail": f"Too many of these requests in a short time; try again in {wait} s.",
            "fields": {},
            "retry_after": wait,
        }
    elif isinstance(exc, drf.ParseError):
        response.data = {
            "code": "malformed",
            "detail": f"The request body is not valid JSON: {exc.detail}",
        }
    else:
        code = exc.get_codes() if isinstance(exc, drf.APIException) else "error"
        detail = exc.detail if isinstance(exc, drf.APIException) else str(exc)
        response.data = {"code": code if isinstance(code, str) else "error", "detail": str(detail)}
    return response


def json_404(request, exception=None) -> JsonResponse:
    return JsonResponse({"code": "not_found", "detail": "No such page."}, status=404)


def json_500(request) -> JsonResponse:
    return JsonResponse(
        {
            "code": "server_error",
            "detail": "Something went wrong on the server; nothing was saved.",
        },
        status=500,
    )
