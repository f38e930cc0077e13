"""Every write of responder safety, defined once (see `server.commands`): emergencies, backup
requests and check-ins, for the REST views, the offline push, the socket and the board."""

from __future__ import annotations

from rest_framework import serializers

from server.accounts.policies import CARE_WRITERS, DISPATCHERS, FIELD
from server.commands import Command
from server.dispatch.incidents import presenters as incident_presenters
from server.dispatch.models import NOTE_MAX, BackupReason
from server.dispatch.safety import presenters, services
from server.dispatch.units.commands import EmptySerializer
from server.reference_edits import reference_commands


class EmergencySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    unit = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    latitude = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=-90, max_value=90
    )
    longitude = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=-180, max_value=180
    )


class EmergencyEndSerializer(serializers.Serializer):
    pin_verified = serializers.BooleanField(required=False, default=False)
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX)


class BackupSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    urgent = serializers.BooleanField(required=False, default=False)
    reason = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, default=None, max_length=40
    )
    requested_at = serializers.DateTimeField(required=False, default=None)


class SendBackupSerializer(serializers.Serializer):
    spd_unit = serializers.IntegerField()


class CheckInSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    at = serializers.DateTimeField()


class LapseClearSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX)


start_emergency = Command(
    name="emergency.start",
    on="the unit they are signed on to",
    schema=EmergencySerializer,
    service=services.start_emergency,
    present=presenters.emergency_data,
    roles=FIELD,
    entity_field="id",
    time_field="started_at",
)


acknowledge_emergency = Command(
    name="emergency.acknowledge",
    on="any emergency",
    roles=DISPATCHERS,
    schema=EmptySerializer,
    service=services.acknowledge_emergency,
    present=presenters.emergency_data,
)


end_emergency = Command(
    name="emergency.end",
    on="field: only from the tablet that raised it; dispatch: after acknowledging, with a note",
    schema=EmergencyEndSerializer,
    service=services.end_emergency,
    present=presenters.emergency_data,
    roles=(*FIELD, *DISPATCHERS),
    entity_arg="emergency_id",
)


request_backup = Command(
    name="backup.request",
    on="the CARE assignments they served",
    schema=BackupSerializer,
    service=services.request_backup,
    present=presenters.backup_data,
    roles=CARE_WRITERS,
    time_field="requested_at",
    # The mutation's entity is the CARE assignment; the request's own id is in its data.
    entity_arg="assignment_id",
)


record_check_in = Command(
    name="check_in.create",
    on="the CARE assignments they served",
    schema=CheckInSerializer,
    service=services.record_check_in,
    present=presenters.check_in_data,
    roles=CARE_WRITERS,
    entity_arg="assignment_id",
    time_field="at",
)


clear_lapse = Command(
    name="check_in.clear_lapse",
    on="any lapse",
    roles=DISPATCHERS,
    schema=LapseClearSerializer,
    service=services.clear_lapse,
    present=presenters.lapse_data,
)


send_backup = Command(
    name="incident.send_backup",
    on="any call",
    roles=DISPATCHERS,
    schema=SendBackupSerializer,
    service=services.send_backup,
    present=lambda a: incident_presenters.assignments_with_partners([a])[0],
)


# Reasons a team gives for backup, the supervisor's (server/reference_edits.py)
save_backup_reason, delete_backup_reason = reference_commands(
    BackupReason, name="backup_reason", on="any backup reason"
)
