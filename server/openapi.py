"""The OpenAPI schema's account of refusals: every operation documents the errors it can answer.

The views declare their successful answers with `extend_schema`; the refusals follow from how a
view is built (who may call it, whether it takes a body or query, whether its path names a record),
so they are added here once instead of on every view, all in the one error shape of
`server/errors.py`. A view that documents a status itself keeps its own.
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from server.accounts.permissions import ANYONE

WRITES = ("POST", "PUT", "PATCH", "DELETE")


class ErrorSerializer(serializers.Serializer):
    """The one error shape; a refused transition adds `current` and `requested`, a lockout
    `locked_until`."""

    code = serializers.CharField(help_text="Stable machine code: invalid, not_found, conflict, …")
    detail = serializers.CharField(help_text="A sentence a person can read.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field path → messages, on `invalid`.",
    )


class CareFieldSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, reason in self.refusals().items():
            if code not in responses:
                answer = OpenApiResponse(ErrorSerializer, description=reason)
                responses[code] = self._get_response_for_code(answer, code, direction=direction)
        return responses

    def refusals(self) -> dict[str, str]:
        """The error statuses this operation can answer, from the view's shape."""
        roles = (getattr(self.view, "roles", None) or {}).get(self.method, ())
        public = ANYONE in roles
        writes = self.method in WRITES
        takes_query = any(p.get("in") == "query" for p in self._get_parameters())
        found: dict[str, str] = {}
        if writes or takes_query:
            found["400"] = "The request is invalid (`invalid`, with `fields`) or not JSON."
        if not public:
            found["401"] = "No valid device token or session: sign in (again)."
            found["403"] = "Your role may not do this."
        if "{" in self.path or (writes and not public):
            # A path names a record; a write's body may name others (an encounter, a unit).
            found["404"] = "No such record, or you may not see it."
        if writes and not public:
            found["409"] = "Refused by the record's current state (conflict, version, transition)."
        if writes:
            found["413"] = (
                "The body is over the size limit (`too_large`); JSON nested past the depth "
                "limit answers 400 `malformed`."
            )
        if getattr(self.view, "throttle_scope", None):
            found["429"] = (
                "Too many of these requests in a short time (`throttled`, with Retry-After), "
                "per person and per device."
            )
        found["503"] = (
            "The database was out of reach for a moment (`database_unavailable`, with "
            "Retry-After): try again."
        )
        return found
