"""Output shapes of units: their positions, shifts, rosters and staffing."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from server.dispatch.models import Unit
from server.dispatch.units import selectors


def iso(value) -> str | None:
    """A timestamp as every dispatch shape gives it: ISO 8601, or null."""
    return value.isoformat() if value else None


class PositionSerializer(serializers.Serializer):
    latitude = serializers.FloatField()
    longitude = serializers.FloatField()
    accuracy_m = serializers.FloatField(allow_null=True)
    recorded_at = serializers.DateTimeField()


def unit_position(unit: Unit) -> dict | None:
    """The unit's last accepted fix, or None before its first."""
    if unit.last_position_at is None or unit.last_latitude is None:
        return None
    return {
        "latitude": unit.last_latitude,
        "longitude": unit.last_longitude,
        "accuracy_m": unit.last_accuracy_m,
        "recorded_at": iso(unit.last_position_at),
    }


def unit_position_data(unit: Unit) -> dict:
    """The feed event `unit.position` (dispatch stream only)."""
    return {
        "unit": unit.pk,
        "call_sign": unit.call_sign,
        "kind": unit.kind,
        "position": unit_position(unit),
    }


def position_outcome(outcome) -> dict:
    """The answer to a reported fix (`services.PositionOutcome`)."""
    answer = {"unit": outcome.unit.pk, "status": outcome.status}
    if outcome.status == "refused":
        answer |= {"code": outcome.code, "reason": outcome.reason}
    return answer


class UnitSerializer(serializers.ModelSerializer):
    """A unit; its `position` only when the serializer's context says the reader may see it
    (dispatchers and supervisors), else null."""

    status = serializers.SerializerMethodField()
    position = serializers.SerializerMethodField()

    class Meta:
        model = Unit
        fields = [
            "id",
            "call_sign",
            "kind",
            "status",
            "home_beat",
            "position",
            "duty_status",
            "signed_on",
        ]

    signed_on = serializers.SerializerMethodField()

    def get_signed_on(self, obj: Unit) -> list[dict]:
        return [
            {"user": s.user_id, "username": s.user.username, "since": iso(s.started_at)}
            for s in getattr(obj, "open_shifts", [])
        ]

    def get_status(self, obj: Unit) -> str:
        if not obj.in_service:
            return "out_of_service"
        return "committed" if getattr(obj, "open_assignments", None) else "available"

    @extend_schema_field(PositionSerializer(allow_null=True))
    def get_position(self, obj: Unit) -> dict | None:
        if not self.context.get("show_positions"):
            return None
        return unit_position(obj)


class PositionOutcomeSerializer(serializers.Serializer):
    unit = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["accepted", "stale", "refused"])


def shift_data(shift) -> dict:
    return {
        "id": str(shift.id),
        "unit": shift.unit_id,
        "call_sign": shift.unit.call_sign,
        "user": shift.user_id,
        "username": shift.user.username,
        "partner": shift.partner_id,
        "vehicle": shift.vehicle,
        "started_at": iso(shift.started_at),
        "ended_at": iso(shift.ended_at),
    }


def roster_entry_data(entry) -> dict:
    return {
        "id": str(entry.id),
        "unit": entry.unit_id,
        "call_sign": entry.unit.call_sign,
        "user": entry.user_id,
        "username": entry.user.username,
        "first_day": entry.first_day.isoformat(),
        "last_day": entry.last_day.isoformat(),
        "note": entry.note,
        "cancelled": entry.cancelled_at is not None,
    }


def sign_on_request_data(request) -> dict:
    return {
        "id": str(request.id),
        "unit": request.unit_id,
        "call_sign": request.unit.call_sign,
        "user": request.user_id,
        "username": request.user.username,
        "day": request.day.isoformat(),
        "reason": request.reason,
        "status": request.status,
        "requested_at": iso(request.requested_at),
        "decided_at": iso(request.decided_at),
    }


def unit_staffing(unit: Unit) -> dict:
    """A unit's duty status and who is signed on to it, since when."""
    shifts = selectors.open_shifts().filter(unit=unit)
    return {
        "id": unit.pk,
        "call_sign": unit.call_sign,
        "kind": unit.kind,
        "duty_status": unit.duty_status,
        "duty_status_at": iso(unit.duty_status_at),
        "signed_on": [
            {
                "user": s.user_id,
                "username": s.user.username,
                "since": iso(s.started_at),
                "vehicle": s.vehicle,
            }
            for s in shifts
        ],
    }
