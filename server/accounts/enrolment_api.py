"""Enrolling a tablet: a supervisor makes a one-time code, the tablet trades it for its own
identity, which it names at every sign-in."""

from __future__ import annotations

import segno
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts import enrolment
from server.accounts.models import Role
from server.accounts.permissions import ANYONE
from server.openapi import ErrorSerializer


class EnrolmentCodeSerializer(serializers.Serializer):
    code = serializers.CharField()
    expires_at = serializers.DateTimeField()
    qr_svg = serializers.CharField(help_text="The code as a QR image (SVG data URI) to scan.")


class EnrolmentCodeView(APIView):
    roles = {"POST": (Role.ADMIN,)}

    @extend_schema(
        request=None,
        responses={201: EnrolmentCodeSerializer},
        summary="A one-time code to enrol one tablet (shown once; expires in minutes)",
    )
    def post(self, request):
        code, made = enrolment.create_code(actor=request.user)
        body = {"code": code, "expires_at": made.expires_at, "qr_svg": qr_svg(code)}
        return Response(EnrolmentCodeSerializer(body).data, status=status.HTTP_201_CREATED)


class EnrolRequestSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=100)


class EnrolledTabletSerializer(serializers.Serializer):
    tablet_id = serializers.UUIDField()
    tablet_secret = serializers.CharField()
    name = serializers.CharField()


class EnrolView(APIView):
    roles = {"POST": (ANYONE,)}
    authentication_classes: list = []

    @extend_schema(
        request=EnrolRequestSerializer,
        responses={
            201: EnrolledTabletSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="`enrolment_refused`: unknown, used or expired code."
            ),
        },
        summary="Enrol this tablet with a supervisor's one-time code",
    )
    def post(self, request):
        form = EnrolRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        tablet, secret = enrolment.enrol(**form.validated_data)
        body = {"tablet_id": tablet.pk, "tablet_secret": secret, "name": tablet.name}
        return Response(EnrolledTabletSerializer(body).data, status=status.HTTP_201_CREATED)


def qr_svg(code: str) -> str:
    return segno.make(code, error="m").svg_data_uri(scale=6)
