"""Every write to incidents and assignments, defined once (see `server.commands`): the REST
views, the dispatch console's forms, the offline push and the CAD's documents all call these."""

from __future__ import annotations

import re

from rest_framework import serializers

from server.accounts.policies import CAD, DISPATCHERS, FIELD
from server.commands import Command
from server.dispatch.incidents import presenters, services
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
    # Required when an eligible call goes police only against the recommendation: a code from
    # the police-only reasons (GET /api/v1/protocol); override_reason is then the internal note.
    police_only_code = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=40
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
    on="any call",
    roles=DISPATCHERS,
    schema=IncidentCreateSerializer,
    service=services.create_incident,
    present=presenters.incident_detail,
)

create_incident_from_cad = Command(
    name="incident.create_from_cad",
    on="its own CAD's calls",
    roles=CAD,
    schema=CadIncidentSerializer,
    service=services.create_incident_from_cad,
    present=presenters.incident_detail,
)

update_incident_from_cad = Command(
    name="incident.update_from_cad",
    on="calls its own CAD sent",
    roles=CAD,
    schema=CadIncidentUpdateSerializer,
    service=services.update_incident_from_cad,
    present=presenters.incident_detail,
)

dispatch_incident = Command(
    name="incident.dispatch",
    on="any open call",
    roles=DISPATCHERS,
    schema=DispatchSerializer,
    service=services.dispatch_incident,
    present=presenters.dispatch_result,
)

cancel_incident = Command(
    name="incident.cancel",
    on="any open call (a CAD: the calls it sent)",
    roles=(*DISPATCHERS, *CAD),
    schema=ReasonSerializer,
    service=services.cancel_incident,
    present=presenters.incident_detail,
)

resolve_by_phone = Command(
    name="incident.resolve_by_phone",
    on="any screened call",
    roles=DISPATCHERS,
    schema=NoteSerializer,
    service=services.resolve_by_phone,
    present=presenters.incident_detail,
)

refer_to_hotline = Command(
    name="incident.refer_to_hotline",
    on="any screened call",
    roles=DISPATCHERS,
    schema=HotlineSerializer,
    service=services.refer_to_hotline,
    present=presenters.incident_detail,
)

transition_assignment = Command(
    name="assignment.transition",
    on=(
        "field: the assignments they served; "
        "dispatch: any (the lifecycle says which step each role takes)"
    ),
    schema=TransitionSerializer,
    service=services.transition_assignment,
    present=lambda assignment: presenters.assignments_with_partners([assignment])[0],
    roles=(*FIELD, *DISPATCHERS),
    entity_arg="assignment_id",
    time_field="occurred_at",
)


class LocateSerializer(serializers.Serializer):
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)
    address = serializers.CharField(required=False, allow_blank=True, max_length=200)


locate_incident = Command(
    name="incident.locate",
    on="any call",
    roles=DISPATCHERS,
    schema=LocateSerializer,
    service=services.locate_incident,
    present=presenters.incident_detail,
)


# ---- reference data, the supervisor's (server/reference_edits.py; the admin's pages call these)

from server.dispatch import models as _reference  # noqa: E402 - beside the commands that use it
from server.reference_edits import reference_commands  # noqa: E402

save_protocol, _no_delete = reference_commands(
    _reference.Protocol, name="protocol", on="the one protocol row", deletable=False
)
save_call_type, delete_call_type = reference_commands(
    _reference.CallType, name="call_type", on="any call type; one in use is made inactive"
)
save_police_only_reason, delete_police_only_reason = reference_commands(
    _reference.PoliceOnlyReason, name="police_only_reason", on="any reason; one in use is kept"
)
save_screening_question, delete_screening_question = reference_commands(
    _reference.ScreeningQuestion, name="screening_question", on="any screening question"
)
save_area, delete_area = reference_commands(_reference.Area, name="area", on="any area")
save_beat, delete_beat = reference_commands(_reference.Beat, name="beat", on="any beat")
save_program_hours, delete_program_hours = reference_commands(
    _reference.ProgramHours, name="program_hours", on="any row of the program's hours"
)
