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
    check_in_minutes = models.PositiveSmallIntegerField(
        default=20,
        validators=[MinValueValidator(5), MaxValueValidator(120)],
        help_text="How often a CARE team on scene after police cleared is asked 'All OK?'.",
    )
    caution_radius_m = models.PositiveIntegerField(
        default=150,
        validators=[MinValueValidator(10), MaxValueValidator(2000)],
        help_text="How near a call earlier safety flags count as its caution history.",
    )
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


class DutyStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    ON_ASSIGNMENT = "on_assignment", "On assignment"
    ON_BREAK = "on_break", "On break"
    OUT_OF_SERVICE = "out_of_service", "Out of service"
    OFF_DUTY = "off_duty", "Off duty"


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
    # Set in one tap from the tablet; dispatch recommends only staffed, available units.
    duty_status = models.CharField(
        max_length=16, choices=DutyStatus.choices, default=DutyStatus.AVAILABLE
    )
    duty_status_at = models.DateTimeField(null=True, blank=True)

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


class PositionRefusalReason(models.TextChoices):
    OUTSIDE_AREA = "outside_area", "Far outside the service area"
    IMPOSSIBLE_SPEED = "impossible_speed", "Impossible speed since the last fix"


class PositionRefusal(models.Model):
    """A fix a unit's tablet reported and the server refused as absurd: counted, so a faulty GPS
    or a spoofed device shows up in review instead of vanishing."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="position_refusals")
    device = models.ForeignKey(
        "accounts.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=20, choices=PositionRefusalReason.choices)
    latitude = models.FloatField()
    longitude = models.FloatField()
    recorded_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.unit}: {self.get_reason_display()}"


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


# Police-only reasons the program sets itself, never chosen by a dispatcher: CARE pulled off a call
# that police carry on with, and a call whose screening answers called for police only.
CARE_WITHDRAWN = "care_withdrawn"
SCREENING = "screening"
REASONS_SET_BY_PROGRAM = (CARE_WITHDRAWN, SCREENING)


class PoliceOnlyReasonQuerySet(models.QuerySet):
    def for_dispatchers(self) -> models.QuerySet:
        """The active reasons a dispatcher may choose."""
        return self.filter(active=True).exclude(code__in=REASONS_SET_BY_PROGRAM)


class PoliceOnlyReason(models.Model):
    """One reason on the program's list of why an eligible call went police only. The codes and
    their counts are public; an administrator edits the list (a code in use can't be deleted,
    only made inactive)."""

    code = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=120)
    active = models.BooleanField(default=True)
    order = models.PositiveSmallIntegerField(default=0)

    objects = PoliceOnlyReasonQuerySet.as_manager()

    class Meta:
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return f"{self.label} ({self.code})"


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
    police_only_code = models.ForeignKey(
        "PoliceOnlyReason",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        to_field="code",
        db_column="police_only_code",
        related_name="+",
        help_text="Why an eligible call was sent police only, from the program's list.",
    )
    police_only_note = models.TextField(
        blank=True,
        help_text="The dispatcher's own words on why the call went police only. Internal: "
        "never published (only the code and its counts are).",
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


# ---- shifts and program hours ------------------------------------------------------------


class ProgramHours(models.Model):
    """When CARE takes calls, per weekday (0 Monday … 6 Sunday), in the protocol's time zone.
    With no rows, the protocol's single pilot window applies every day."""

    weekday = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(6)], help_text="0 is Monday, 6 is Sunday."
    )
    start = models.TimeField(help_text="Local time CARE starts taking calls (inclusive).")
    end = models.TimeField(help_text="Local time CARE stops taking calls (exclusive).")

    class Meta:
        ordering = ["weekday", "start"]
        verbose_name_plural = "program hours"

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"

    def get_weekday_display(self) -> str:
        return WEEKDAYS[self.weekday] if 0 <= self.weekday <= 6 else str(self.weekday)


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
VEHICLE_MAX = 40


class Shift(models.Model):
    """A responder signed on to a unit, from sign-on to sign-off."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="shifts")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="shifts"
    )
    partner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="partner_shifts",
    )
    vehicle = models.CharField(max_length=VEHICLE_MAX, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    signed_on_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The unit's stream as it stood at sign-on: the person reads it from the next event on, so
    # joining a unit never replays what the crew before them recorded.
    stream_floor = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(ended_at__isnull=True), name="one_open_shift"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.unit}"


class RosterEntry(models.Model):
    """A supervisor put a person on a unit for a run of days (the program's local dates): the
    person may sign on to that unit on those days, and to no other."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="roster")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="roster_entries"
    )
    first_day = models.DateField()
    last_day = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=REASON_MAX, blank=True)

    class Meta:
        ordering = ["first_day", "unit__call_sign"]
        verbose_name_plural = "roster entries"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(last_day__gte=models.F("first_day")),
                name="roster_days_in_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.unit}, {self.first_day}–{self.last_day}"


class SignOnRequestStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a supervisor"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"


class SignOnRequest(models.Model):
    """A responder asks to ride a unit they are not rostered on today; a supervisor approves
    (which rosters them for the day) or declines on the board."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="sign_on_requests")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sign_on_requests"
    )
    day = models.DateField()
    reason = models.CharField(max_length=REASON_MAX, blank=True)
    status = models.CharField(
        max_length=10, choices=SignOnRequestStatus.choices, default=SignOnRequestStatus.PENDING
    )
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "unit", "day"],
                condition=models.Q(status=SignOnRequestStatus.PENDING),
                name="one_pending_sign_on_request",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} asks for {self.unit} on {self.day}: {self.status}"


# ---- responder safety --------------------------------------------------------------------


class Emergency(models.Model):
    """A responder pressed the emergency button. Start, acknowledgement and end are the three
    times the call's EIDO carries on the unit (`unitEmergencyStateComponent`)."""

    id = models.UUIDField(primary_key=True, editable=False, help_text="Made by the tablet.")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="emergencies")
    incident = models.ForeignKey(
        Incident, null=True, blank=True, on_delete=models.PROTECT, related_name="emergencies"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    device = models.ForeignKey(
        "accounts.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(help_text="When the button was held, by the device.")
    received_at = models.DateTimeField(auto_now_add=True)
    latitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)]
    )
    longitude = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)]
    )
    position_at = models.DateTimeField(null=True, blank=True)
    alerted_units = models.JSONField(
        default=list, blank=True, help_text="SPD units told on their tablets."
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ended_with_pin = models.BooleanField(default=False)
    end_note = models.TextField(blank=True, validators=[MaxLengthValidator(NOTE_MAX)])

    class Meta:
        ordering = ["-started_at"]
        verbose_name_plural = "emergencies"
        constraints = [
            # Two holds at the same instant (the socket and HTTP, or two tablets) must not open
            # two emergencies: the second re-alerts the first (safety.start_emergency).
            models.UniqueConstraint(
                fields=["unit"],
                condition=models.Q(ended_at__isnull=True),
                name="one_open_emergency_per_unit",
            )
        ]

    def __str__(self) -> str:
        return f"Emergency {self.unit} at {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class BackupReason(models.Model):
    """Why a CARE team asks police to come back: codes an administrator edits."""

    code = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=120)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.label


class BackupRequest(models.Model):
    """A CARE team on a call asks police to return; answered by a new SPD assignment."""

    id = models.UUIDField(primary_key=True, editable=False, help_text="Made by the tablet.")
    assignment = models.ForeignKey(
        Assignment, on_delete=models.PROTECT, related_name="backup_requests"
    )
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="backup_requests")
    urgent = models.BooleanField(default=False)
    reason = models.ForeignKey(
        BackupReason, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    device = models.ForeignKey(
        "accounts.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField()
    answered_by = models.ForeignKey(
        Assignment, null=True, blank=True, on_delete=models.PROTECT, related_name="answers"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"Backup for {self.assignment}"


class CheckIn(models.Model):
    """A CARE team answered "All OK?" while on scene without police."""

    id = models.UUIDField(primary_key=True, editable=False, help_text="Made by the tablet.")
    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="check_ins")
    at = models.DateTimeField(help_text="When the team answered, by the tablet's clock.")
    recorded_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey(
        "accounts.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"Check-in {self.assignment} at {self.at}"


class CheckInLapse(models.Model):
    """A check-in that went unanswered: one alert per lapse, cleared by a dispatcher."""

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="lapses")
    due_at = models.DateTimeField()
    raised_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True, validators=[MaxLengthValidator(NOTE_MAX)])

    class Meta:
        ordering = ["-raised_at"]
        constraints = [
            # Several watchers may look at once: the database keeps one alert per lapse.
            models.UniqueConstraint(fields=["assignment", "due_at"], name="one_alert_per_lapse"),
        ]

    def __str__(self) -> str:
        return f"No check-in from {self.assignment} due {self.due_at}"
