"""What CARE responders record in the field, and the catalogs they pick from.

Ids of field records are made on the tablet (UUIDs), so a record written offline keeps its
identity through any number of retries.
"""

from __future__ import annotations

import decimal
import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class ServiceType(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=120)
    active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "label"]

    def __str__(self) -> str:
        return self.label


class Disposition(models.Model):
    code = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=120)
    active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "label"]

    def __str__(self) -> str:
        return self.label


class DirectoryStatus(models.TextChoices):
    # Open Referral HSDS 3.0 service.status; only active services are offered.
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    DEFUNCT = "defunct", "Defunct"
    TEMPORARILY_CLOSED = "temporarily closed", "Temporarily closed"


class DirectoryService(models.Model):
    """A place CARE can refer someone to: typed in admin, or imported from an Open Referral HSDS
    publication (`source`), where `hsds_id` is the service's id in that publication."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4)
    name = models.CharField(max_length=160)
    organization = models.CharField(max_length=160)
    category = models.CharField(max_length=60, blank=True)
    description = models.TextField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    address = models.CharField(max_length=200, blank=True)
    hours = models.CharField(max_length=120, blank=True)
    active = models.BooleanField(
        default=True, help_text="Offered to responders: active in its source and still listed."
    )
    updated_at = models.DateTimeField(auto_now=True)
    hsds_id = models.CharField(max_length=64, blank=True, default="")
    source = models.CharField(max_length=300, blank=True, default="")
    source_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="The service's last_modified in its source."
    )
    status = models.CharField(
        max_length=24, choices=DirectoryStatus.choices, default=DirectoryStatus.ACTIVE
    )
    organization_hsds_id = models.CharField(max_length=64, blank=True, default="", db_index=True)
    email = models.EmailField(blank=True, default="")
    url = models.URLField(max_length=300, blank=True, default="")
    schedules = models.JSONField(
        default=list, blank=True, help_text="HSDS schedules: freq, byday, opens_at, closes_at..."
    )
    capacity = models.JSONField(
        default=list, blank=True, help_text="HSDS service_capacity: available, maximum, unit..."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="directory_name_unique"),
            models.UniqueConstraint(
                fields=["hsds_id"], condition=~models.Q(hsds_id=""), name="directory_hsds_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.organization})"


class SurveyQuestion(models.Model):
    """A client-experience question, answered on a 1–5 scale."""

    key = models.SlugField(max_length=40, unique=True)
    text = models.CharField(max_length=240)
    active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "key"]

    def __str__(self) -> str:
        return self.text


class FieldRecord(models.Model):
    """What every record made in the field carries: who, which device, device and server time,
    and whether it was made before an officer marked the scene safe."""

    id = models.UUIDField(primary_key=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    device = models.ForeignKey(
        "accounts.Device", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    before_scene_safe = models.BooleanField(default=False)
    mutation_id = models.UUIDField(null=True, blank=True)

    class Meta:
        abstract = True


class Encounter(FieldRecord):
    when_field = "started_at"  # when it happened, by the device
    assignment = models.OneToOneField(
        "dispatch.Assignment", on_delete=models.PROTECT, related_name="encounter"
    )
    started_at = models.DateTimeField(help_text="Device time the encounter began.")
    people_contacted = models.PositiveSmallIntegerField(
        default=1, validators=[MaxValueValidator(50)]
    )
    client_initials = models.CharField(max_length=4, blank=True)
    client_birth_year = models.PositiveSmallIntegerField(null=True, blank=True)
    disposition = models.ForeignKey(
        Disposition, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    notes = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    field_versions = models.JSONField(
        default=dict, help_text="The version at which each field last changed: the merge key."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"Encounter on {self.assignment_id}"


class ServiceGiven(FieldRecord):
    when_field = "occurred_at"  # when it happened, by the device
    encounter = models.ForeignKey(Encounter, on_delete=models.PROTECT, related_name="services")
    service = models.ForeignKey(ServiceType, on_delete=models.PROTECT, related_name="+")
    occurred_at = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["occurred_at"]
        verbose_name_plural = "services given"

    def __str__(self) -> str:
        return str(self.service)


class NaloxoneRoute(models.TextChoices):
    # NEMSIS eMedications.04 (Medication Administered Route), the two CARE carries.
    INTRANASAL = "intranasal", "Intranasal"
    INTRAMUSCULAR = "intramuscular", "Intramuscular"


class NaloxoneResponse(models.TextChoices):
    # NEMSIS eMedications.07 (Response to Medication).
    IMPROVED = "improved", "Improved"
    UNCHANGED = "unchanged", "Unchanged"
    WORSE = "worse", "Worse"
    UNKNOWN = "unknown", "Not yet known"


# Limits of a naloxone record, declared once: the model's validators, the services' checks and the
# protocol the tablet reads all take them from here.
NALOXONE_MAX_DOSE_MG = decimal.Decimal("16")
NALOXONE_MIN_DOSES, NALOXONE_MAX_DOSES = 1, 10
# Client-experience answers are on a 1–5 scale.
SURVEY_MIN_ANSWER, SURVEY_MAX_ANSWER = 1, 5


class NaloxoneAdministration(FieldRecord):
    when_field = "administered_at"  # when it happened, by the device
    encounter = models.ForeignKey(Encounter, on_delete=models.PROTECT, related_name="naloxone")
    administered_at = models.DateTimeField(help_text="eMedications.01, device time.")
    doses = models.PositiveSmallIntegerField(
        default=1,
        validators=[
            MinValueValidator(NALOXONE_MIN_DOSES),
            MaxValueValidator(NALOXONE_MAX_DOSES),
        ],
    )
    # The time of a dose is recorded with one tap; its dose and route are chosen after, and
    # until then the record says plainly that they are not yet recorded (null, blank).
    dose_mg = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[
            MinValueValidator(decimal.Decimal("0.01")),
            MaxValueValidator(NALOXONE_MAX_DOSE_MG),
        ],
        help_text="eMedications.05 dosage per dose, in mg; empty: not yet recorded.",
    )
    route = models.CharField(
        max_length=16,
        choices=NaloxoneRoute.choices,
        blank=True,
        help_text="eMedications.04; empty: not yet recorded.",
    )
    response = models.CharField(
        max_length=12, choices=NaloxoneResponse.choices, default=NaloxoneResponse.UNKNOWN
    )
    ems_called = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["administered_at"]

    def __str__(self) -> str:
        dose = f"{self.dose_mg} mg" if self.dose_mg is not None else "dose not yet recorded"
        return f"{self.doses} × {dose} {self.route or 'route not yet recorded'}"


class ReferralStatus(models.TextChoices):
    MADE = "made", "Made"
    CONTACTED = "contacted", "Contacted"
    CONNECTED = "connected", "Connected"
    UNABLE_TO_REACH = "unable_to_reach", "Unable to reach"
    DECLINED = "declined", "Declined"
    CLOSED = "closed", "Closed"


# Where a referral may go from each status; closed ends it.
REFERRAL_FLOW: dict[str, list[str]] = {
    ReferralStatus.MADE: [
        ReferralStatus.CONTACTED,
        ReferralStatus.UNABLE_TO_REACH,
        ReferralStatus.DECLINED,
        ReferralStatus.CLOSED,
    ],
    ReferralStatus.CONTACTED: [
        ReferralStatus.CONNECTED,
        ReferralStatus.UNABLE_TO_REACH,
        ReferralStatus.DECLINED,
        ReferralStatus.CLOSED,
    ],
    ReferralStatus.UNABLE_TO_REACH: [ReferralStatus.CONTACTED, ReferralStatus.CLOSED],
    ReferralStatus.CONNECTED: [ReferralStatus.CLOSED],
    ReferralStatus.DECLINED: [ReferralStatus.CLOSED],
    ReferralStatus.CLOSED: [],
}


class Referral(FieldRecord):
    when_field = "made_at"  # when it happened, by the device
    encounter = models.ForeignKey(Encounter, on_delete=models.PROTECT, related_name="referrals")
    service = models.ForeignKey(DirectoryService, on_delete=models.PROTECT, related_name="+")
    consent = models.BooleanField(
        help_text="The person agreed to be referred and for their details to be shared."
    )
    # The organization the person was referred (and consented) to, fixed when the referral was
    # recorded: a later import or an administrator moving the service to another organization
    # never hands this referral to the new one.
    organization_hsds_id = models.CharField(
        max_length=64, blank=True, default="", db_index=True, editable=False
    )
    organization_name = models.CharField(max_length=160, blank=True, default="", editable=False)
    status = models.CharField(
        max_length=16, choices=ReferralStatus.choices, default=ReferralStatus.MADE, db_index=True
    )
    note = models.TextField(blank=True)
    made_at = models.DateTimeField()
    follow_up_due = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-made_at"]

    def __str__(self) -> str:
        return f"Referral to {self.service}"


class ReferralUpdate(models.Model):
    """A coordinator's follow-up on a referral: a status change, a note, a next due date."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="updates")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    from_status = models.CharField(max_length=16, choices=ReferralStatus.choices)
    to_status = models.CharField(max_length=16, choices=ReferralStatus.choices)
    note = models.TextField(blank=True)
    follow_up_due = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class SurveyResponse(FieldRecord):
    when_field = "answered_at"  # when it happened, by the device
    encounter = models.ForeignKey(Encounter, on_delete=models.PROTECT, related_name="surveys")
    consent = models.BooleanField()
    answers = models.JSONField(default=dict, help_text="{question key: 1–5}")
    comment = models.TextField(blank=True)
    answered_at = models.DateTimeField()

    class Meta:
        ordering = ["answered_at"]

    def __str__(self) -> str:
        return f"Survey on {self.encounter_id}"
