"""Every write to care records, defined once (see `server.commands`): the REST views, the
coordinator's console, the offline push and a partner's FHIR update all call these. Field names
are the API's; each field's `source` is the service's argument."""

from __future__ import annotations

from decimal import Decimal

from rest_framework import serializers

from server.accounts.policies import CARE_WRITERS, FOLLOW_UP
from server.care import presenters, services
from server.care.models import (
    NALOXONE_MAX_DOSE_MG,
    NALOXONE_MAX_DOSES,
    NALOXONE_MIN_DOSES,
    SURVEY_MAX_ANSWER,
    SURVEY_MIN_ANSWER,
    Encounter,
    NaloxoneResponse,
    NaloxoneRoute,
    ReferralStatus,
)
from server.commands import Command

ENCOUNTER_META = ("assignment_id", "started_at", "base_version")


# ---- input schemas -------------------------------------------------------------------------


class EncounterWriteSerializer(serializers.Serializer):
    assignment = serializers.UUIDField(source="assignment_id")
    started_at = serializers.DateTimeField(required=False, default=None)
    base_version = serializers.IntegerField(required=False, min_value=1, default=None)
    people_contacted = serializers.IntegerField(required=False, min_value=0, max_value=50)
    client_initials = serializers.CharField(required=False, allow_blank=True, max_length=4)
    client_birth_year = serializers.IntegerField(
        required=False, allow_null=True, min_value=1900, max_value=2100
    )
    disposition = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=40
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10000)

    def to_internal_value(self, data):
        # The service merges the edited fields as one set of `changes`.
        values = super().to_internal_value(data)
        meta = {k: values.pop(k) for k in ENCOUNTER_META if k in values}
        return {**meta, "changes": values}


class ServiceGivenSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="service_id")
    encounter = serializers.UUIDField(source="encounter_id")
    service = serializers.CharField(max_length=40)
    occurred_at = serializers.DateTimeField()
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class NaloxoneSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="administration_id")
    encounter = serializers.UUIDField(source="encounter_id")
    administered_at = serializers.DateTimeField()
    doses = serializers.IntegerField(
        required=False, default=1, min_value=NALOXONE_MIN_DOSES, max_value=NALOXONE_MAX_DOSES
    )
    # Left out or null: not yet recorded (the tablet records the time of a dose with one tap;
    # the dose and route are chosen after, never assumed).
    dose_mg = serializers.DecimalField(
        required=False,
        allow_null=True,
        default=None,
        max_digits=6,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=NALOXONE_MAX_DOSE_MG,
    )
    route = serializers.ChoiceField(
        required=False, allow_null=True, default=None, choices=NaloxoneRoute.choices
    )
    response = serializers.ChoiceField(
        choices=NaloxoneResponse.choices, default=NaloxoneResponse.UNKNOWN
    )
    ems_called = serializers.BooleanField(required=False, default=False)


class NaloxoneEditSerializer(serializers.Serializer):
    doses = serializers.IntegerField(
        required=False, min_value=NALOXONE_MIN_DOSES, max_value=NALOXONE_MAX_DOSES
    )
    # Null takes a dose or route back to "not yet recorded" (an Undo of the first choice).
    dose_mg = serializers.DecimalField(
        required=False,
        allow_null=True,
        max_digits=6,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=NALOXONE_MAX_DOSE_MG,
    )
    route = serializers.ChoiceField(required=False, allow_null=True, choices=NaloxoneRoute.choices)
    response = serializers.ChoiceField(required=False, choices=NaloxoneResponse.choices)
    ems_called = serializers.BooleanField(required=False)

    def to_internal_value(self, data):
        return {"changes": super().to_internal_value(data)}


class ServiceRemovalSerializer(serializers.Serializer):
    """A service recorded by mistake, taken off its encounter; nothing else to say."""


class NaloxoneRemovalSerializer(serializers.Serializer):
    """A naloxone dose recorded by mistake, taken off its encounter; nothing else to say."""


class ReferralCreateSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="referral_id")
    encounter = serializers.UUIDField(source="encounter_id")
    service = serializers.UUIDField()
    consent = serializers.BooleanField()
    made_at = serializers.DateTimeField()
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class ReferralUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(required=False, choices=ReferralStatus.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    follow_up_due = serializers.DateField(required=False, allow_null=True)
    base_version = serializers.IntegerField(required=False, min_value=1)


class SurveySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="survey_id")
    encounter = serializers.UUIDField(source="encounter_id")
    consent = serializers.BooleanField()
    answers = serializers.DictField(
        child=serializers.IntegerField(min_value=SURVEY_MIN_ANSWER, max_value=SURVEY_MAX_ANSWER)
    )
    answered_at = serializers.DateTimeField()
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


def _encounter_opened_on(body: dict, encounter_id) -> dict:
    """An offline edit may leave out the assignment it was opened on; the service still checks
    who may edit it."""
    if "assignment" not in body:
        opened_on = Encounter.objects.filter(pk=encounter_id).values_list("assignment", flat=True)
        body["assignment"] = opened_on.first()
    return body


# ---- commands ------------------------------------------------------------------------------

upsert_encounter = Command(
    name="encounter.upsert",
    on="the CARE assignments they served",
    schema=EncounterWriteSerializer,
    service=services.upsert_encounter,
    present=presenters.encounter_data,
    roles=CARE_WRITERS,
    entity_arg="encounter_id",
    time_field="started_at",
    time_if_missing=True,
    version_field="base_version",
    complete=_encounter_opened_on,
)

record_service_given = Command(
    name="service.create",
    on="encounters of the calls they served",
    schema=ServiceGivenSerializer,
    service=services.record_service_given,
    present=presenters.service_data,
    roles=CARE_WRITERS,
    entity_field="id",
    time_field="occurred_at",
)

remove_service_given = Command(
    name="service.remove",
    on="services on the open calls they serve",
    schema=ServiceRemovalSerializer,
    service=services.remove_service_given,
    present=presenters.service_removal_data,
    roles=CARE_WRITERS,
    entity_arg="service_id",
)

record_naloxone = Command(
    name="naloxone.create",
    on="encounters of the calls they served",
    schema=NaloxoneSerializer,
    service=services.record_naloxone,
    present=presenters.naloxone_data,
    roles=CARE_WRITERS,
    entity_field="id",
    time_field="administered_at",
)

update_naloxone = Command(
    name="naloxone.update",
    on="records of the calls they served",
    schema=NaloxoneEditSerializer,
    service=services.update_naloxone,
    present=presenters.naloxone_data,
    roles=CARE_WRITERS,
    entity_arg="administration_id",
)

remove_naloxone = Command(
    name="naloxone.remove",
    on="doses on the open calls they serve",
    schema=NaloxoneRemovalSerializer,
    service=services.remove_naloxone,
    present=presenters.naloxone_removal_data,
    roles=CARE_WRITERS,
    entity_arg="administration_id",
)

create_referral = Command(
    name="referral.create",
    on="encounters of the calls they served",
    schema=ReferralCreateSerializer,
    service=services.create_referral,
    present=presenters.referral_data,
    roles=CARE_WRITERS,
    entity_field="id",
    time_field="made_at",
)

update_referral = Command(
    name="referral.update",
    on=(
        "crew: calls they served; coordinators: any; "
        "a partner: referrals consented to its organisation"
    ),
    schema=ReferralUpdateSerializer,
    service=services.update_referral,
    present=presenters.referral_data,
    roles=(*CARE_WRITERS, *FOLLOW_UP),
    entity_arg="referral_id",
    version_field="base_version",
)

record_survey = Command(
    name="survey.create",
    on="encounters of the calls they served",
    schema=SurveySerializer,
    service=services.record_survey,
    present=presenters.survey_data,
    roles=CARE_WRITERS,
    entity_field="id",
    time_field="answered_at",
)


# ---- reference data, the supervisor's (server/reference_edits.py; the admin's pages call these)

from server.care import models as _reference  # noqa: E402 - beside the commands that use it
from server.reference_edits import reference_commands  # noqa: E402

save_service_type, delete_service_type = reference_commands(
    _reference.ServiceType, name="service_type", on="any service type; one in use is kept"
)
save_disposition, delete_disposition = reference_commands(
    _reference.Disposition, name="disposition", on="any disposition; one in use is kept"
)
save_survey_question, delete_survey_question = reference_commands(
    _reference.SurveyQuestion, name="survey_question", on="any survey question"
)
save_directory_service, delete_directory_service = reference_commands(
    _reference.DirectoryService,
    name="directory_service",
    on="any service of the directory (its owner moves only by the audited move)",
    publish=services.publish_directory_change,
)
