"""FHIR R4 endpoints for the organizations CARE refers people to (`/fhir/...`).

A partner calls with its system-client key (`Authorization: Api-Key <key>`) and sees only the
referrals made with consent to its own organization's services; another organization's referral
answers 404, as one that doesn't exist. Coordinators and admins read every referral's resources.
Task updates carry FHIR's version check: `If-Match` with the ETag a read gave, 412 when stale.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.authentication import ApiKeyAuthentication, DeviceTokenAuthentication
from server.accounts.models import Role
from server.accounts.permissions import PARTNER_KEY
from server.errors import InvalidInput
from server.interop import fhir
from server.openapi import ErrorSerializer
from server.parsers import (
    BoundedJSONParser,
    FhirJsonParser,
    JsonPatchParser,
    MergePatchParser,
)

READERS = (Role.COORDINATOR, Role.ADMIN, PARTNER_KEY)
# A machine interface: keys and device tokens, never a browser session (no CSRF surface).
KEYS_ONLY = [DeviceTokenAuthentication, ApiKeyAuthentication]
PATCHABLE = {"status", "statusReason", "output", "businessStatus"}
FHIR_ANSWER = {(200, "application/fhir+json"): OpenApiTypes.OBJECT}
UPDATE_ANSWERS = {
    **FHIR_ANSWER,
    412: OpenApiResponse(ErrorSerializer, description="If-Match is not the Task's current ETag."),
    428: OpenApiResponse(ErrorSerializer, description="A partner's update without If-Match."),
}
IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        'The ETag a read gave (W/"<version>"); a stale one answers 412. A partner\'s key must '
        "send it (428 without). An update that asks for the Task as it is changes nothing."
    ),
)


PARSERS = [BoundedJSONParser, FhirJsonParser, JsonPatchParser, MergePatchParser]


class FhirView(APIView):
    """Every /fhir/ answer, refusals included, is kept by no cache: a referral's resources name a
    person and where they were referred."""

    authentication_classes = KEYS_ONLY

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response


def _fhir(body: dict[str, Any], *, etag: str | None = None, status: int = 200) -> Response:
    response = Response(body, status=status, content_type="application/fhir+json")
    if etag:
        response["ETag"] = etag
    return response


class ServiceRequestView(FhirView):
    roles = {"GET": READERS}

    @extend_schema(responses=FHIR_ANSWER, summary="A referral as a FHIR ServiceRequest")
    def get(self, request, referral_id):
        referral = fhir.referral_for(request.user, referral_id)
        return _fhir(fhir.service_request(referral), etag=fhir.etag(referral))


class ConsentView(FhirView):
    roles = {"GET": READERS}

    @extend_schema(responses=FHIR_ANSWER, summary="A referral's consent as FHIR Consent")
    def get(self, request, referral_id):
        return _fhir(fhir.consent(fhir.referral_for(request.user, referral_id)))


class BundleView(FhirView):
    roles = {"GET": READERS}

    @extend_schema(responses=FHIR_ANSWER, summary="A referral as a FHIR Bundle")
    def get(self, request, referral_id):
        return _fhir(fhir.referral_bundle(fhir.referral_for(request.user, referral_id)))


def _patched(current: dict[str, Any], body: Any) -> dict[str, Any]:
    """A JSON Patch (a list of add/replace on the Task's top-level status fields) or a merge
    patch (an object of those fields) applied to the Task as it is."""
    wanted = dict(current)
    if isinstance(body, list):
        for op in body:
            if not isinstance(op, dict) or op.get("op") not in ("add", "replace"):
                raise InvalidInput("Only add and replace operations are taken.")
            name = str(op.get("path", "")).lstrip("/")
            if name not in PATCHABLE:
                raise InvalidInput(
                    f"'{op.get('path')}' can't be changed.", fields={"path": [", ".join(PATCHABLE)]}
                )
            wanted[name] = op.get("value")
        return wanted
    if isinstance(body, dict):
        unknown = set(body) - PATCHABLE
        if unknown:
            raise InvalidInput(
                "Only the Task's status, statusReason, output and businessStatus can change.",
                fields={name: ["Can't be changed."] for name in sorted(unknown)},
            )
        return {**wanted, **body}
    raise InvalidInput("The body is a JSON Patch list or an object of Task fields.")


class TaskView(FhirView):
    roles = {"GET": READERS, "PUT": READERS, "PATCH": READERS}
    parser_classes = PARSERS

    @extend_schema(responses=FHIR_ANSWER, summary="A referral's FHIR Task")
    def get(self, request, referral_id):
        referral = fhir.referral_for(request.user, referral_id)
        return _fhir(fhir.task(referral), etag=fhir.etag(referral))

    def _update(self, request, referral_id, wanted: dict[str, Any]) -> Response:
        referral = fhir.update_task(
            actor=request.user,
            referral_id=referral_id,
            wanted=wanted,
            if_match=request.headers.get("If-Match"),
        )
        return _fhir(fhir.task(referral), etag=fhir.etag(referral))

    @extend_schema(request=OpenApiTypes.OBJECT, responses=UPDATE_ANSWERS, parameters=[IF_MATCH])
    def put(self, request, referral_id):
        body = request.data
        if not isinstance(body, dict) or body.get("resourceType") != "Task":
            raise InvalidInput("The body is a FHIR Task.", fields={"resourceType": ["Task."]})
        if str(body.get("id", "")) != str(referral_id):
            raise InvalidInput("The Task's id is not the one in the URL.", fields={"id": ["."]})
        current = fhir.task(fhir.referral_for(request.user, referral_id))
        owner = body.get("owner")
        owner_ref = owner.get("reference") if isinstance(owner, dict) else None
        if body.get("focus") != current["focus"] or owner_ref != current["owner"]["reference"]:
            raise InvalidInput(
                "The Task's focus and owner are the referral's and can't change.",
                fields={"focus": ["Keep as read."], "owner": ["Keep as read."]},
            )
        wanted = {**current, **{k: body[k] for k in PATCHABLE if k in body}}
        for name in PATCHABLE - set(body):
            wanted.pop(name, None)  # a PUT without statusReason/output clears them
        wanted["status"] = body.get("status")
        return self._update(request, referral_id, wanted)

    @extend_schema(request=OpenApiTypes.OBJECT, responses=UPDATE_ANSWERS, parameters=[IF_MATCH])
    def patch(self, request, referral_id):
        current = fhir.task(fhir.referral_for(request.user, referral_id))
        return self._update(request, referral_id, _patched(current, request.data))


class TaskSearchView(FhirView):
    roles = {"GET": READERS}

    @extend_schema(
        operation_id="fhir_Task_search",
        responses=FHIR_ANSWER,
        summary="Tasks owned by an organization, by status",
        parameters=[
            OpenApiParameter("owner", str, description="Organization/<HSDS organization id>"),
            OpenApiParameter("status", str, description="Task status, or several comma-separated"),
        ],
    )
    def get(self, request):
        referrals = fhir.visible_referrals(request.user).order_by("made_at", "id")
        owner = request.query_params.get("owner")
        if owner:
            referrals = referrals.filter(organization_hsds_id=fhir.owner_id(owner))
        found = list(referrals[:500])
        statuses = {s for s in request.query_params.get("status", "").split(",") if s}
        if statuses:
            found = [r for r in found if fhir.task_status(r) in statuses]
        return _fhir(fhir.search_bundle(found))
