"""Incidents, the protocol they are screened against, units, assignments and their history."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import (
    MaxLengthValidator,
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
)
from django.db import models


class DispatchModel(models.TextChoices):
    NINE_ONE_ONE_LED = "911_led", "911 call-center led"
    EMBEDDED_PROFESSIONAL = "embedded_professional", "Embedded professional (triage queue)"
    EXTERNAL_HOTLINE = "external_hotline", "External hotline"


class Protocol(models.Model):
    """The program's screening protocol and dispatch model: one row, edited in admin."""

    pilot_start = models.TimeField(help_text="Local time CARE starts taking calls (inclusive).")
    pilot_end = models.TimeField(help_text="Local time CARE stops taking calls (exclusive).")
    timezone = models.CharField(max_length=64, default="America/Los_Angeles")
    dispatch_model = models.CharField(
        max_length=32, choices=DispatchModel.choices, default=DispatchModel.NINE_ONE_ONE_LED
    )
    hotline_name = models.CharField(max_length=120, default="988 Suicide & Crisis Lifeline")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "protocol"

    def __str__(self) -> str:
        return (
            f"Protocol ({self.get_dispatch_model_display()}, {self.pilot_start}-{self.pilot_end})"
        )


class CallType(models.Model):
    """An SPD CAD initial call type, and whether CARE may be sent to it."""

    code = models.CharField(max_length=120, unique=True)
    eligible = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class ScreeningEffect(models.TextChoices):
    POLICE_ONLY = "police_only", "Yes means police only"
    NO_RESPONSE = "no_response", "Yes means no unit is needed"


class ScreeningQuestion(models.Model):
    key = models.SlugField(max_length=40, unique=True)
    text = models.CharField(max_length=240)
    reason = models.CharField(
        max_length=240, help_text="What the dispatcher reads when this is answered yes."
    )
    effect = models.CharField(
        max_length=20, choices=ScreeningEffect.choices, default=ScreeningEffect.POLICE_ONLY
    )
    required = models.BooleanField(default=True)
    active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "key"]

    def __str__(self) -> str:
        return self.text


class Area(models.Model):
    """An SPD Micro-Community Policing Plan area; those marked `in_pilot` make the pilot area."""

    name = models.CharField(max_length=120, unique=True)
    precinct = models.CharField(max_length=40, blank=True)
    in_pilot = models.BooleanField(default=False)
    geometry = models.JSONField(help_text="GeoJSON geometry, WGS84 longitude/latitude.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Beat(models.Model):
    name = models.CharField(max_length=10, unique=True)
    geometry = models.JSONField(help_text="GeoJSON geometry, WGS84 longitude/latitude.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UnitKind(models.TextChoices):
    CARE = "care", "CARE team"
    SPD = "spd", "SPD unit"


class Unit(models.Model):
    call_sign = models.CharField(max_length=20, unique=True)
    kind = models.CharField(max_length=4, choices=UnitKind.choices)
    in_service = models.BooleanField(default=True)
    home_beat = models.CharField(max_length=10, blank=True)
    # The unit's last accepted position fix (its track is in UnitPosition). Dispatchers and
    # supervisors see it; never another unit, never the public.
    last_latitude = models.FloatField(null=True, blank=True)
    last_longitude = models.FloatField(null=True, blank=True)
    last_accuracy_m = models.FloatField(null=True, blank=True)
    last_position_at = models.DateTimeField(
        null=True, blank=True, help_text="When the last fix was taken, by the device."
    )

    class Meta:
        ordering = ["kind", "call_sign"]

    def __str__(self) -> str:
        return self.call_sign


class UnitPosition(models.Model):
    """One position fix a unit's tablet reported: the breadcrumb track for after-action review,
    kept for its own retention period."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="positions")
    device = models.ForeignKey(
        "accounts.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    latitude = models.FloatField(validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(validators=[MinValueValidator(-180), MaxValueValidator(180)])
    accuracy_m = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0)])
    recorded_at = models.DateTimeField(help_text="When the fix was taken, by the device.")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["unit", "-recorded_at"]
        indexes = [models.Index(fields=["unit", "-recorded_at"], name="unit_position_track")]

    def __str__(self) -> str:
        return f"{self.unit} at {self.latitude:.5f},{self.longitude:.5f}"


class IncidentStatus(models.TextChoices):
    NEEDS_LOCATION = "needs_location", "Needs a location"
    RECEIVED = "received", "Received"
    SCREENED = "screened", "Screened"
    TRIAGE = "triage", "Waiting in triage queue"
    DISPATCHED = "dispatched", "Dispatched"
    ON_SCENE = "on_scene", "On scene"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"
    RESOLVED_BY_PHONE = "resolved_by_phone", "Resolved by phone"
    REFERRED_TO_HOTLINE = "referred_to_hotline", "Referred to hotline"


OPEN_INCIDENT_STATUSES = (
    IncidentStatus.NEEDS_LOCATION,
    IncidentStatus.RECEIVED,
    IncidentStatus.SCREENED,
    IncidentStatus.TRIAGE,
    IncidentStatus.DISPATCHED,
    IncidentStatus.ON_SCENE,
)


class Recommendation(models.TextChoices):
    DUAL_DISPATCH = "dual_dispatch", "Dual dispatch (CARE + SPD)"
    POLICE_ONLY = "police_only", "Police only"
    NO_RESPONSE = "no_response", "No unit needed"


class ResponseSent(models.TextChoices):
    """What was actually sent, whatever the recommendation."""

    NONE = "", "Not yet"
    DUAL = "dual", "CARE and SPD"
    POLICE_ONLY = "police_only", "SPD only"
    CARE_ONLY = "care_only", "CARE only"


class IncidentSource(models.TextChoices):
    """Where a call came from: typed at the dispatch console, or sent by the 911 CAD."""

    CONSOLE = "console", "Dispatch console"
    CAD = "cad", "911 CAD"


NARRATIVE_MAX = 4000  # characters of a call's narrative
REASON_MAX = 1000  # an override, cancel or police-only reason
NOTE_MAX = 2000  # a note on a transition or a phone resolution


class Incident(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    cad_number = models.CharField(
        max_length=32,
        unique=True,
        validators=[
            RegexValidator(
                r"^[A-Za-z0-9-]{1,32}$", "A CAD number is letters, digits and dashes (at most 32)."
            )
        ],
    )
    call_type = models.ForeignKey(CallType, on_delete=models.PROTECT, related_name="incidents")
    priority = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(9)]
    )
    address = models.CharField(max_length=200)
    # No coordinates yet: a CAD call with a civic address only, or by reference. Such a call is
    # kept as `needs_location` until a dispatcher places it; it is never dropped.
    latitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    narrative = models.TextField(blank=True, validators=[MaxLengthValidator(NARRATIVE_MAX)])
    received_at = models.DateTimeField(db_index=True)
    screening = models.JSONField(default=dict)
    beat = models.CharField(max_length=10, blank=True)
    area = models.CharField(max_length=120, blank=True)
    in_pilot_area = models.BooleanField(default=False)
    eligible = models.BooleanField(default=False)
    eligibility_reasons = models.JSONField(default=list)
    recommendation = models.CharField(max_length=20, choices=Recommendation.choices)
    dispatch_model = models.CharField(max_length=32, choices=DispatchModel.choices)
    status = models.CharField(
        max_length=24,
        choices=IncidentStatus.choices,
        default=IncidentStatus.RECEIVED,
        db_index=True,
    )
    response = models.CharField(max_length=12, choices=ResponseSent.choices, blank=True, default="")
    override_reason = models.TextField(blank=True)
    police_only_reason = models.TextField(
        blank=True, help_text="Why an eligible call was sent police only."
    )
    resolution_note = models.TextField(blank=True)
    hotline_name = models.CharField(max_length=120, blank=True)
    cancel_reason = models.TextField(blank=True)
    source = models.CharField(
        max_length=8, choices=IncidentSource.choices, default=IncidentSource.CONSOLE
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.cad_number} {self.call_type_id and self.call_type.code}"


class AssignmentStatus(models.TextChoices):
    DISPATCHED = "dispatched", "Dispatched"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    EN_ROUTE = "en_route", "En route"
    ON_SCENE = "on_scene", "On scene"
    SCENE_SAFE = "scene_safe", "Scene safe"
    SCENE_UNSAFE = "scene_unsafe", "Scene unsafe"
    CLEARED = "cleared", "Cleared"
    CANCELLED = "cancelled", "Cancelled"


CLOSED_ASSIGNMENT_STATUSES = (AssignmentStatus.CLEARED, AssignmentStatus.CANCELLED)


class AssignmentQuerySet(models.QuerySet):
    def open(self) -> AssignmentQuerySet:
        """Assignments whose unit is still committed to them."""
        return self.exclude(status__in=CLOSED_ASSIGNMENT_STATUSES)

    def closed(self) -> AssignmentQuerySet:
        return self.filter(status__in=CLOSED_ASSIGNMENT_STATUSES)


class Assignment(models.Model):
    """One unit's part in an incident."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="assignments")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="assignments")
    kind = models.CharField(max_length=4, choices=UnitKind.choices)
    status = models.CharField(
        max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.DISPATCHED
    )
    version = models.PositiveIntegerField(default=1)
    dispatched_at = models.DateTimeField()
    delivered_at = models.DateTimeField(
        null=True, blank=True, help_text="When a unit's tablet first acknowledged the dispatch."
    )
    ack_alerted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When dispatch was alerted that nobody acknowledged this assignment in time.",
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    on_scene_at = models.DateTimeField(null=True, blank=True)
    scene_safe_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)
    safety_note = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["-dispatched_at"]
        constraints = [
            # The database itself refuses a second open assignment for one unit.
            models.UniqueConstraint(
                fields=["unit"],
                condition=~models.Q(status__in=list(CLOSED_ASSIGNMENT_STATUSES)),
                name="one_open_assignment_per_unit",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.unit} on {self.incident.cad_number}: {self.status}"

    @property
    def is_open(self) -> bool:
        return self.status not in CLOSED_ASSIGNMENT_STATUSES


class AssignmentTransition(models.Model):
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=16, choices=AssignmentStatus.choices)
    to_status = models.CharField(max_length=16, choices=AssignmentStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey(
        "accounts.Device", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    occurred_at = models.DateTimeField(help_text="When it happened, by the device's clock.")
    recorded_at = models.DateTimeField(auto_now_add=True, help_text="When the server stored it.")
    note = models.TextField(blank=True)
    mutation_id = models.UUIDField(null=True, blank=True)

    class Meta:
        ordering = ["recorded_at", "id"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"
