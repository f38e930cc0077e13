"""How care records look in the API and on the CARE unit's stream (never on another's)."""

from __future__ import annotations

from rest_framework import serializers

from server.care import policies
from server.care.models import (
    NALOXONE_MAX_DOSE_MG,
    NALOXONE_MAX_DOSES,
    NALOXONE_MIN_DOSES,
    REFERRAL_FLOW,
    SURVEY_MAX_ANSWER,
    SURVEY_MIN_ANSWER,
    DirectoryService,
    Disposition,
    Encounter,
    NaloxoneAdministration,
    NaloxoneResponse,
    NaloxoneRoute,
    Referral,
    ReferralStatus,
    ReferralUpdate,
    ServiceGiven,
    ServiceType,
    SurveyQuestion,
    SurveyResponse,
)
from server.care.opening import capacity_text, opening


def encounter_data(encounter: Encounter) -> dict:
    return {
        "id": str(encounter.id),
        "assignment": str(encounter.assignment_id),
        "version": encounter.version,
        "started_at": encounter.started_at.isoformat(),
        "people_contacted": encounter.people_contacted,
        "client_initials": encounter.client_initials,
        "client_birth_year": encounter.client_birth_year,
        "disposition": encounter.disposition.code if encounter.disposition_id else None,
        "notes": encounter.notes,
        "before_scene_safe": encounter.before_scene_safe,
    }


def service_data(record: ServiceGiven) -> dict:
    return {
        "id": str(record.id),
        "encounter": str(record.encounter_id),
        "service": record.service.code,
        "occurred_at": record.occurred_at.isoformat(),
        "note": record.note,
        "before_scene_safe": record.before_scene_safe,
    }


def service_removal_data(record: ServiceGiven) -> dict:
    """What is left to say of a service taken off its encounter: which, and from where."""
    return {"id": str(record.id), "encounter": str(record.encounter_id), "removed": True}


def naloxone_removal_data(record: NaloxoneAdministration) -> dict:
    """What is left to say of a dose taken off its encounter: which, and from where."""
    return {"id": str(record.id), "encounter": str(record.encounter_id), "removed": True}


def naloxone_data(record: NaloxoneAdministration) -> dict:
    return {
        "id": str(record.id),
        "encounter": str(record.encounter_id),
        "administered_at": record.administered_at.isoformat(),
        "doses": record.doses,
        # None: not yet recorded (the tablet says so until someone chooses).
        "dose_mg": None if record.dose_mg is None else str(record.dose_mg),
        "route": record.route or None,
        "response": record.response,
        "ems_called": record.ems_called,
        "version": record.version,
        "before_scene_safe": record.before_scene_safe,
    }


def referral_data(record: Referral) -> dict:
    return {
        "id": str(record.id),
        "encounter": str(record.encounter_id),
        "service": str(record.service_id),
        "consent": record.consent,
        "status": record.status,
        "made_at": record.made_at.isoformat(),
        "note": record.note,
        "follow_up_due": record.follow_up_due.isoformat() if record.follow_up_due else None,
        "version": record.version,
        "before_scene_safe": record.before_scene_safe,
    }


def follow_up_author(update: ReferralUpdate, referral: Referral) -> str:
    """Who made a follow-up, as the coordinator reads it: a receiving organization's Task update
    is made with its partner key, and shows as that organization's name."""
    author = update.author
    client = getattr(author, "system_client", None)
    if client is not None and client.kind == "partner":
        if client.organization_id == referral.organization_hsds_id:
            return referral.organization_name
        return client.name
    return author.username


def referral_follow_up_data(referral: Referral, update: ReferralUpdate) -> dict:
    """A follow-up as the coordinators' pages show it (the `referrals` stream): the referral's
    status and version, and the history entry. The note is text the author typed (a partner's
    reason or outcome among it): pages show it as text."""
    return {
        "id": str(referral.id),
        "status": referral.status,
        "status_label": ReferralStatus(referral.status).label,
        "version": referral.version,
        "follow_up_due": referral.follow_up_due.isoformat() if referral.follow_up_due else None,
        "update": {
            "at": update.created_at.isoformat(),
            "by": follow_up_author(update, referral),
            "from_status": update.from_status,
            "to_status": update.to_status,
            "note": update.note,
            "follow_up_due": update.follow_up_due.isoformat() if update.follow_up_due else None,
        },
    }


def survey_data(record: SurveyResponse) -> dict:
    return {"id": str(record.id), "encounter": str(record.encounter_id)}


def encounter_detail(encounter: Encounter) -> dict:
    return encounter_data(encounter) | {
        "services": [service_data(s) for s in encounter.services.select_related("service")],
        "naloxone": [naloxone_data(n) for n in encounter.naloxone.all()],
        "referrals": [referral_data(r) for r in encounter.referrals.all()],
        "surveys": encounter.surveys.count(),
    }


def encounter_for_follow_up(encounter: Encounter, referrals: list[dict]) -> dict:
    """A coordinator's view (docs/security.md, "Minimum necessary"): enough to find the person
    and follow the referrals up (who, when, how it ended, what was given), never the crew's
    notes nor a naloxone administration's detail. The summary the coordinator's console shows."""
    return {
        "id": str(encounter.id),
        "assignment": str(encounter.assignment_id),
        "version": encounter.version,
        "started_at": encounter.started_at.isoformat(),
        "people_contacted": encounter.people_contacted,
        "client_initials": encounter.client_initials,
        "client_birth_year": encounter.client_birth_year,
        "disposition": encounter.disposition.code if encounter.disposition_id else None,
        "services": [s.service.code for s in encounter.services.select_related("service")],
        "naloxone_given": encounter.naloxone.exists(),
        "referrals": referrals,
    }


def referral_row(record: Referral) -> dict:
    """A referral in a list: with the service's name and the unit that made it."""
    return referral_data(record) | {
        "service_name": record.service.name,
        "unit": record.encounter.assignment.unit.call_sign,
    }


def encounter_for(viewer, encounter: Encounter) -> dict:
    """The encounter as this viewer may read it: whole (notes, services, naloxone) for the crew
    that served the call and supervisors; the follow-up summary for everyone else the policy
    lets read it (coordinators)."""
    if policies.reads_crew_notes(viewer, encounter):
        return encounter_detail(encounter)
    referrals = [referral_data(r) for r in encounter.referrals.all()]
    return encounter_for_follow_up(encounter, referrals)


def referral_detail(referral: Referral, viewer) -> dict:
    encounter = referral.encounter
    if policies.reads_crew_notes(viewer, encounter):
        summary = encounter_data(encounter)
    else:
        summary = encounter_for_follow_up(encounter, [])
    return referral_data(referral) | {
        "service_name": referral.service.name,
        "encounter_summary": summary,
        "updates": [
            {
                "from": u.from_status,
                "to": u.to_status,
                "note": u.note,
                "follow_up_due": u.follow_up_due,
                "author": u.author.username,
                "at": u.created_at,
            }
            for u in referral.updates.select_related("author")
        ],
    }


class DirectoryServiceSerializer(serializers.ModelSerializer):
    opening = serializers.SerializerMethodField(
        help_text="From the service's HSDS schedules: open_now (null when no schedule says), "
        "opens_at, closes_at, and a text such as 'Open now, until 17:00' or 'Opens at 09:00'."
    )
    capacity = serializers.SerializerMethodField(
        help_text="The source's service capacity: available, maximum, unit, updated, and a text."
    )

    class Meta:
        model = DirectoryService
        fields = [
            "id",
            "name",
            "organization",
            "category",
            "description",
            "phone",
            "address",
            "hours",
            "url",
            "opening",
            "capacity",
        ]

    def get_opening(self, service: DirectoryService) -> dict:
        return opening(service.schedules)

    def get_capacity(self, service: DirectoryService) -> dict | None:
        if not service.capacity:
            return None
        return {"items": service.capacity, "text": capacity_text(service.capacity)}


def care_protocol() -> dict:
    """The care half of `GET /api/v1/protocol`: catalogs, and every limit a tablet checks before
    the server does (declared once, in the models)."""
    return {
        "services": list(ServiceType.objects.filter(active=True).values("code", "label")),
        "dispositions": list(Disposition.objects.filter(active=True).values("code", "label")),
        "survey_questions": list(SurveyQuestion.objects.filter(active=True).values("key", "text")),
        "naloxone": {
            "routes": list(NaloxoneRoute.values),
            "responses": list(NaloxoneResponse.values),
            "max_dose_mg": int(NALOXONE_MAX_DOSE_MG),
        },
        "referral_statuses": {k: list(v) for k, v in REFERRAL_FLOW.items()},
        "limits": {
            "naloxone": {
                "dose_mg_max": int(NALOXONE_MAX_DOSE_MG),
                "doses_min": NALOXONE_MIN_DOSES,
                "doses_max": NALOXONE_MAX_DOSES,
            },
            "survey": {"answer_min": SURVEY_MIN_ANSWER, "answer_max": SURVEY_MAX_ANSWER},
            "encounter": {
                "people_contacted_max": _max_validator(Encounter, "people_contacted"),
                "client_initials_max_length": Encounter._meta.get_field(
                    "client_initials"
                ).max_length,
            },
            "service_note_max_length": ServiceGiven._meta.get_field("note").max_length,
            "clock_tolerance_seconds": _clock_tolerance_seconds(),
        },
    }


def _max_validator(model, field_name: str):
    for validator in model._meta.get_field(field_name).validators:
        if getattr(validator, "code", "") == "max_value":
            return validator.limit_value
    return None


def _clock_tolerance_seconds() -> int:
    from django.conf import settings

    return settings.CARE_CLOCK_TOLERANCE_SECONDS
