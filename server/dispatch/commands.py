"""Every write to incidents and assignments, defined once (see `server.commands`): the REST
views, the dispatch console's forms, the offline push and the CAD's documents all call these."""

from __future__ import annotations

import re

from rest_framework import serializers

from server.accounts.models import Role
from server.accounts.permissions import FIELD_ROLES
from server.commands import Command
from server.dispatch import presenters, services
from server.dispatch.models import (
    NARRATIVE_MAX,
    NOTE_MAX,
    REASON_MAX,
    AssignmentStatus,
    CallType,
)

SCREENING_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")  # ScreeningQuestion.key is a slug


# ---- input schemas -------------------------------------------------------------------------


class ScreeningAnswersSerializer(serializers.Serializer):
    weapons = serializers.BooleanField()
    violence = serializers.BooleanField()
    medical_emergency = serializers.BooleanField()
    imminent_danger = serializers.BooleanField()

    def to_internal_value(self, data):
        # Admins may add questions; answers beyond the four standard ones pass through (the
        # service checks them against the questions in force).
        values = super().to_internal_value(data)
        if isinstance(data, dict):
            errors = {}
            for key, value in data.items():
                if key in values:
                    continue
                if not SCREENING_KEY.fullmatch(key):
                    # Not echoed back: an arbitrary key could break the JSON error answer.
                    raise serializers.ValidationError(
                        "Screening answers are keyed by question, e.g. 'weapons'."
                    )
                try:
                    values[key] = serializers.BooleanField().run_validation(value)
                except serializers.ValidationError as exc:
                    errors[key] = exc.detail  # reported as screening.<key>
            if errors:
                raise serializers.ValidationError(errors)
        return values


class IncidentCreateSerializer(serializers.Serializer):
    cad_number = serializers.RegexField(r"^[A-Za-z0-9-]{1,32}$", max_length=32)
    call_type = serializers.CharField(max_length=120)
    priority = serializers.IntegerField(min_value=1, max_value=9)
    address = serializers.CharField(max_length=200)
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)
    narrative = serializers.CharField(
        allow_blank=True, required=False, default="", max_length=NARRATIVE_MAX
    )
    received_at = serializers.DateTimeField()
    screening = ScreeningAnswersSerializer()


class CadIncidentSerializer(serializers.Serializer):
    """A call as the CAD's document gave it (server/interop reads the document into this)."""

    cad_number = serializers.RegexField(r"^[A-Za-z0-9-]{1,32}$", max_length=32)
    call_type = serializers.PrimaryKeyRelatedField(queryset=CallType.objects.all())
    priority = serializers.IntegerField(min_value=1, max_value=9)
    address = serializers.CharField(max_length=200)
    latitude = serializers.FloatField(min_value=-90, max_value=90, allow_null=True)
    longitude = serializers.FloatField(min_value=-180, max_value=180, allow_null=True)
    narrative = serializers.CharField(
        allow_blank=True, required=False, default="", max_length=NARRATIVE_MAX
    )
    received_at = serializers.DateTimeField()
    screening = serializers.DictField(child=serializers.BooleanField(), required=False)
    beat = serializers.CharField(max_length=10, allow_blank=True, required=False, default="")


class CadIncidentUpdateSerializer(serializers.Serializer):
    """Newer facts from the CAD: only those given change."""

    call_type = serializers.PrimaryKeyRelatedField(queryset=CallType.objects.all(), required=False)
    priority = serializers.IntegerField(min_value=1, max_value=9, required=False)
    address = serializers.CharField(max_length=200, required=False)
    latitude = serializers.FloatField(min_value=-90, max_value=90, required=False)
    longitude = serializers.FloatField(min_value=-180, max_value=180, required=False)
    narrative = serializers.CharField(allow_blank=True, required=False, max_length=NARRATIVE_MAX)


class DispatchSerializer(serializers.Serializer):
    care_unit = serializers.IntegerField(required=False, allow_null=True, default=None)
    spd_unit = serializers.IntegerField()
    override_reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=REASON_MAX
    )


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=REASON_MAX)


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=NOTE_MAX)


class HotlineSerializer(serializers.Serializer):
    hotline_name = serializers.CharField(required=False, allow_blank=True, max_length=120)
    note = serializers.CharField(required=False, allow_blank=True, max_length=NOTE_MAX)


class TransitionSerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=AssignmentStatus.choices)
    occurred_at = serializers.DateTimeField(required=False, default=None)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX)


# ---- commands ------------------------------------------------------------------------------

create_incident = Command(
    name="incident.create",
    schema=IncidentCreateSerializer,
    service=services.create_incident,
    present=presenters.incident_detail,
)

create_incident_from_cad = Command(
    name="incident.create_from_cad",
    schema=CadIncidentSerializer,
    service=services.create_incident_from_cad,
    present=presenters.incident_detail,
)

update_incident_from_cad = Command(
    name="incident.update_from_cad",
    schema=CadIncidentUpdateSerializer,
    service=services.update_incident_from_cad,
    present=presenters.incident_detail,
)

dispatch_incident = Command(
    name="incident.dispatch",
    schema=DispatchSerializer,
    service=services.dispatch_incident,
    present=presenters.dispatch_result,
)

cancel_incident = Command(
    name="incident.cancel",
    schema=ReasonSerializer,
    service=services.cancel_incident,
    present=presenters.incident_detail,
)

resolve_by_phone = Command(
    name="incident.resolve_by_phone",
    schema=NoteSerializer,
    service=services.resolve_by_phone,
    present=presenters.incident_detail,
)

refer_to_hotline = Command(
    name="incident.refer_to_hotline",
    schema=HotlineSerializer,
    service=services.refer_to_hotline,
    present=presenters.incident_detail,
)

transition_assignment = Command(
    name="assignment.transition",
    schema=TransitionSerializer,
    service=services.transition_assignment,
    present=lambda assignment: presenters.assignments_with_partners([assignment])[0],
    roles=(*FIELD_ROLES, Role.ADMIN),
    entity_arg="assignment_id",
    time_field="occurred_at",
)
