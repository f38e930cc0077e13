"""Every write to units, defined once (see `server.commands`): positions, shifts, duty status
and rosters, for the REST views, the offline push and the board's forms."""

from __future__ import annotations

from rest_framework import serializers

from server.accounts.policies import DISPATCHERS, FIELD, SUPERVISORS
from server.commands import Command
from server.dispatch.models import REASON_MAX, VEHICLE_MAX, DutyStatus, Unit
from server.dispatch.units import positions, presenters, shifts
from server.reference_edits import reference_commands


class PositionSerializer(serializers.Serializer):
    # The REST door takes the unit from its URL; an offline mutation names it here.
    unit = serializers.IntegerField(source="unit_id", required=False, min_value=1)
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)
    accuracy_m = serializers.FloatField(
        required=False, allow_null=True, default=None, min_value=0, max_value=100_000
    )
    recorded_at = serializers.DateTimeField()


report_position = Command(
    name="unit.position",
    on="the unit they are signed on to",
    schema=PositionSerializer,
    service=positions.report_position,
    present=presenters.position_outcome,
    roles=FIELD,
    # The fix's time is the mutation's own, translated to server time when the device's clock
    # is known to be off.
    time_field="recorded_at",
)


class SignOnSerializer(serializers.Serializer):
    unit = serializers.IntegerField()
    partner = serializers.IntegerField(required=False, allow_null=True, default=None)
    vehicle = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=VEHICLE_MAX
    )
    user = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="Administrators only."
    )


class EmptySerializer(serializers.Serializer):
    pass


class DutyStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=DutyStatus.choices)
    at = serializers.DateTimeField(required=False, default=None)


sign_on = Command(
    name="shift.start",
    on=(
        "themselves, on a unit rostered for them today; "
        "a supervisor: anyone, any unit, with a partner"
    ),
    roles=(*FIELD, *SUPERVISORS),
    schema=SignOnSerializer,
    service=shifts.sign_on,
    present=presenters.shift_data,
)


sign_off = Command(
    name="shift.end",
    on="their own shift; a supervisor: anyone's",
    roles=(*FIELD, *SUPERVISORS),
    schema=EmptySerializer,
    service=shifts.sign_off,
    present=presenters.shift_data,
)


set_duty_status = Command(
    name="unit.duty_status",
    on="field: the unit they are signed on to; dispatch: any unit",
    roles=(*FIELD, *DISPATCHERS),
    schema=DutyStatusSerializer,
    service=shifts.set_duty_status,
    present=presenters.unit_staffing,
)


class RosterSerializer(serializers.Serializer):
    unit = serializers.IntegerField()
    user = serializers.IntegerField()
    first_day = serializers.DateField()
    last_day = serializers.DateField(required=False, allow_null=True, default=None)
    note = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=REASON_MAX
    )


class SignOnRequestSerializer(serializers.Serializer):
    unit = serializers.IntegerField()
    reason = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=REASON_MAX
    )


class DecisionSerializer(serializers.Serializer):
    approve = serializers.BooleanField()


add_to_roster = Command(
    name="roster.add",
    on="anyone whose role rides the unit's kind",
    roles=SUPERVISORS,
    schema=RosterSerializer,
    service=shifts.add_to_roster,
    present=presenters.roster_entry_data,
)


cancel_roster_entry = Command(
    name="roster.cancel",
    on="any roster entry",
    roles=SUPERVISORS,
    schema=EmptySerializer,
    service=shifts.cancel_roster_entry,
    present=presenters.roster_entry_data,
)


request_sign_on = Command(
    name="sign_on_request.create",
    on="themselves, for a unit of their kind",
    roles=FIELD,
    schema=SignOnRequestSerializer,
    service=shifts.request_sign_on,
    present=presenters.sign_on_request_data,
)


decide_sign_on_request = Command(
    name="sign_on_request.decide",
    on="any pending request",
    roles=SUPERVISORS,
    schema=DecisionSerializer,
    service=shifts.decide_sign_on_request,
    present=presenters.sign_on_request_data,
)


# The units themselves, the supervisor's (server/reference_edits.py; the admin's pages call it)
save_unit, _no_delete = reference_commands(
    Unit,
    name="unit",
    on="any unit (never deleted: shifts and people name it; taken out of service instead)",
    publish=shifts.publish_unit,
    deletable=False,
)
