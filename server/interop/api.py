"""The CAD's doors: POST /api/v1/eido (a CAD key only) and GET /api/v1/incidents/{id}/eido."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.authentication import request_system_client
from server.accounts.models import Role
from server.accounts.permissions import CAD_KEY
from server.dispatch.models import Incident
from server.errors import CareFieldError, InvalidInput, NotFound
from server.interop.eido_out import incident_eido, incident_for_eido_id
from server.interop.services import CREATED, ingest
from server.parsers import parse_json


class TooLarge(CareFieldError):
    status = 413
    code = "too_large"


class EidoInboundView(APIView):
    """Take an EIDO document from the CAD: a new call, or newer facts about one."""

    roles = {"POST": (CAD_KEY,)}
    parser_classes: list = []  # the body is read here, after its size is checked

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        limit = settings.CARE_EIDO_MAX_BYTES
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise _too_large(limit)  # refused before a byte of it is read
        body = request._request.read(limit + 1)
        if len(body) > limit:
            raise _too_large(limit)
        try:
            document = parse_json(body)
        except ParseError as exc:
            raise InvalidInput(
                f"The body is not JSON: {exc.detail}", fields={"/": ["Not a JSON document."]}
            ) from exc
        result = ingest(client=request.auth, document=document)
        incident = result.incident
        return Response(
            {
                "outcome": result.outcome,
                "incident": str(incident.pk),
                "cad_number": incident.cad_number,
                "status": incident.status,
                "eligible": incident.eligible,
                "recommendation": incident.recommendation,
                **({"warnings": result.warnings} if result.warnings else {}),
            },
            status=201 if result.outcome == CREATED else 200,
        )


def _too_large(limit: int) -> TooLarge:
    return TooLarge(f"An EIDO document may be at most {limit} bytes.")


class IncidentEidoView(APIView):
    """The incident's current state as an EIDO document (no clinical record, ever)."""

    roles = {"GET": (Role.DISPATCHER, Role.ADMIN, CAD_KEY)}

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, incident_id):
        incidents = Incident.objects.select_related("call_type")
        client = request_system_client(request)
        if client is not None:
            # A CAD reads the calls it sent and those made here (delivered to the CAD anyway),
            # never another CAD's.
            incidents = incidents.filter(Q(cad_link__client=client) | Q(cad_link__isnull=True))
        incident = incidents.filter(pk=incident_id).first()
        if incident is None:
            raise NotFound("No such incident.")
        return Response(incident_eido(incident))


class EidoDereferenceView(APIView):
    """NENA's dereference operation (`GET /EIDO/{IncidentId}`, NENA-STA-021's `paths`): the
    incident's current EIDO for a CAD, found by the CAD's own incident id (the key it sent us,
    which we send back as `internalIncidentId`), our CAD number, or our incident's id."""

    roles = {"GET": (CAD_KEY,)}

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, operation_id="GetEIDO")
    def get(self, request, incident_id: str):
        incident = incident_for_eido_id(incident_id)
        if incident is None:
            raise NotFound("No incident has this id.")
        return Response(incident_eido(incident))
