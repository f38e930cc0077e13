"""Signing in a device and asking who you are."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from server.accounts import services
from server.accounts.models import DeviceToken
from server.accounts.permissions import ALL_ROLES, ANYONE, role_of
from server.errors import InvalidInput
from server.openapi import ErrorSerializer


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False)
    device_name = serializers.CharField(max_length=100)
    # An enrolled tablet names itself (required when CARE_TABLET_ENROLMENT_REQUIRED).
    tablet_id = serializers.CharField(max_length=64, required=False)
    tablet_secret = serializers.CharField(max_length=128, required=False, trim_whitespace=False)


class UnitRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    call_sign = serializers.CharField()
    kind = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.CharField()
    unit = UnitRefSerializer(allow_null=True)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    device_id = serializers.UUIDField()
    user = MeSerializer()


def me_data(user) -> dict:
    unit = user.unit
    return {
        "id": user.pk,
        "username": user.username,
        "full_name": user.get_full_name(),
        "role": role_of(user),
        "unit": {"id": unit.pk, "call_sign": unit.call_sign, "kind": unit.kind} if unit else None,
    }


class TokenView(APIView):
    roles = {"POST": (ANYONE,)}
    authentication_classes: list = []

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            201: TokenSerializer,
            401: OpenApiResponse(ErrorSerializer, description="Wrong username or password."),
            403: OpenApiResponse(
                ErrorSerializer,
                description="`tablet_not_enrolled` or `tablet_revoked`: not from this tablet.",
            ),
            429: OpenApiResponse(
                ErrorSerializer, description="Locked out after failed sign-ins, `locked_until`."
            ),
        },
        summary="Sign in a device: a token bound to it",
    )
    def post(self, request):
        form = TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            key, device = services.issue_device_token(
                **form.validated_data, request=request._request
            )
        except services.LockedOut as locked:
            # Retry-After lets a tablet wait out the lock instead of retrying into it.
            return Response(
                locked.as_dict(),
                status=locked.status,
                headers={"Retry-After": str(locked.retry_after_seconds())},
            )
        return Response(
            {"token": key, "device_id": str(device.pk), "user": me_data(device.user)},
            status=status.HTTP_201_CREATED,
        )


class RotatedTokenSerializer(serializers.Serializer):
    token = serializers.CharField()
    device_id = serializers.UUIDField()


class RotateTokenView(APIView):
    roles = {"POST": ALL_ROLES}

    @extend_schema(
        request=None,
        responses={201: RotatedTokenSerializer},
        summary="Swap this device's token for a new one; the old one stops working at once",
    )
    def post(self, request):
        if not isinstance(request.auth, DeviceToken):
            raise InvalidInput("Only a device token can be rotated; this request has none.")
        key = services.rotate_token(token=request.auth)
        return Response(
            {"token": key, "device_id": str(request.auth.device_id)},
            status=status.HTTP_201_CREATED,
        )


class SignOutView(APIView):
    roles = {"POST": ALL_ROLES}

    @extend_schema(request=None, responses={204: None}, summary="Revoke this device's token")
    def post(self, request):
        if request.auth is not None:
            services.sign_out(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    roles = {"GET": ALL_ROLES}

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        return Response(me_data(request.user))
