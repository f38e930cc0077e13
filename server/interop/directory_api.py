"""The directory as Open Referral HSDS 3.0: GET /api/v1/directory.hsds.json."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts.models import Role
from server.interop.hsds import publish_directory
from server.interop.selectors import published_directory

DIRECTORY_READERS = (Role.CARE_RESPONDER, Role.COORDINATOR, Role.ADMIN, Role.DISPATCHER)


class HsdsDirectoryView(APIView):
    roles = {"GET": DIRECTORY_READERS}

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="The services directory as HSDS 3.0")
    def get(self, request):
        return Response(publish_directory(published_directory()))
