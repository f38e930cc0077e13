"""`GET /api/v1/protocol`: what a tablet or console needs to follow the program's rules — the
lifecycle table, the catalogs and every limit — built from each app's own declarations."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.permissions import ALL_ROLES
from server.care.presenters import care_protocol
from server.dispatch.incidents.presenters import dispatch_protocol
from server.dispatch.safety.presenters import safety_protocol
from server.feed.services import declared_event_kinds
from server.sync.push import MUTATION_TYPES


def protocol_payload() -> dict:
    return {
        **dispatch_protocol(),
        **safety_protocol(),
        **care_protocol(),
        # The contract a tablet checks itself against (see tests/test_contract.py).
        "event_kinds": sorted(declared_event_kinds()),
        "mutation_types": list(MUTATION_TYPES),
    }


class ProtocolView(APIView):
    roles = {"GET": ALL_ROLES}

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="Lifecycle table, catalogs and limits")
    def get(self, request):
        return Response(protocol_payload())
