"""Call histories, the scenarios a supervisor plans with, and the stored runs of a scenario.

Nothing here names a person: a historical call is a time, a call type and a place (SPD's export
already blurs the place to the block), and a run keeps only aggregate figures.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

# A year of a big city's calls is a few hundred thousand rows; a bad row is kept as its line
# number and reason only, and only the first few of them.
BAD_ROW_EXAMPLES = 20
MAX_TEAMS = 200  # teams on duty at once in any one scenario row
MAX_REPLICATIONS = 200
MAX_WAIT_MINUTES = 240
# Urban road networks run 1.2 to 1.4 times the straight line between two points (circuity).
DEFAULT_ROAD_FACTOR = 1.3
DEFAULT_SPEED_KMH = 30.0
DEFAULT_SCENE_MINUTES = 45.0
DEFAULT_POLICE_FREED_MINUTES = 20.0
DEFAULT_WAIT_MINUTES = 10.0


class HistorySource(models.TextChoices):
    SPD_EXPORT = "spd_export", "SPD Call Data export"
    PROGRAM = "program", "This program's own incidents"


class CallHistory(models.Model):
    """One imported history of calls: a file of SPD's export, or the program's own incidents."""

    name = models.CharField(max_length=120, unique=True)
    source = models.CharField(max_length=12, choices=HistorySource.choices)
    file_name = models.CharField(max_length=255, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)
    rows_read = models.PositiveIntegerField(default=0)
    rows_bad = models.PositiveIntegerField(default=0)
    bad_examples = models.JSONField(
        default=list, blank=True, help_text="The first bad rows: line number and reason."
    )
    calls = models.PositiveIntegerField(default=0)
    first_call_at = models.DateTimeField(null=True, blank=True)
    last_call_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-imported_at"]
        verbose_name_plural = "call histories"

    def __str__(self) -> str:
        return f"{self.name} ({self.calls} calls)"


class HistoricalCall(models.Model):
    """One call of a history: when, what type, where (area and beat by point-in-polygon)."""

    history = models.ForeignKey(CallHistory, on_delete=models.CASCADE, related_name="rows")
    received_at = models.DateTimeField()
    call_type = models.CharField(max_length=120)
    area = models.CharField(max_length=120, blank=True)
    beat = models.CharField(max_length=10, blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    # Minutes from the call being queued to the first unit arriving, where the export has it.
    arrived_minutes = models.FloatField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["history", "received_at"])]

    def __str__(self) -> str:
        return f"{self.received_at:%Y-%m-%d %H:%M} {self.call_type}"


class TravelSource(models.TextChoices):
    DISTANCE = "distance", "Straight-line distance x road factor, at the average speed"
    HISTORY = "history", "The program's measured dispatch-to-arrival minutes"
    MEASURED = "measured", "Each call's own recorded minutes to a unit arriving, else distance"
    FIXED = "fixed", "A fixed number of minutes"


class SceneSource(models.TextChoices):
    HISTORY = "history", "The program's own times on scene, per call type"
    FIXED = "fixed", "A fixed number of minutes"


def _time(raw: object, where: str) -> datetime.time:
    try:
        return datetime.time.fromisoformat(str(raw))
    except ValueError as exc:
        raise ValidationError({"hours": f"{where}: '{raw}' is not a time (HH:MM)."}) from exc


def parse_hours(rows: object) -> list[tuple[int, datetime.time, datetime.time, int]]:
    """The hours rows as (weekday, start, end, teams); a ValidationError names the bad row.
    A row whose start equals its end covers the whole day."""
    if not isinstance(rows, list) or not rows:
        raise ValidationError({"hours": "List at least one row of hours."})
    parsed = []
    for i, row in enumerate(rows, start=1):
        where = f"Row {i}"
        if not isinstance(row, dict):
            raise ValidationError({"hours": f"{where}: write {{weekday, start, end, teams}}."})
        weekday, teams = row.get("weekday"), row.get("teams")
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
            raise ValidationError({"hours": f"{where}: weekday is 0 (Monday) to 6 (Sunday)."})
        if not isinstance(teams, int) or isinstance(teams, bool) or not 1 <= teams <= MAX_TEAMS:
            raise ValidationError({"hours": f"{where}: teams is a whole number, 1 to {MAX_TEAMS}."})
        start, end = _time(row.get("start"), where), _time(row.get("end"), where)
        parsed.append((weekday, start, end, teams))
    return parsed


class Scenario(models.Model):
    """What the program could be: areas, hours and teams on duty, call types, and assumptions."""

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True, max_length=2000)
    live = models.BooleanField(
        default=False,
        editable=False,
        help_text="Today's program: rebuilt from the live protocol, units and call types.",
    )
    city_wide = models.BooleanField(default=False, help_text="Every area of the city.")
    areas = models.JSONField(default=list, blank=True, help_text="Area names (when not city-wide).")
    hours = models.JSONField(
        default=list,
        help_text='Rows of {"weekday": 0-6, "start": "11:00", "end": "23:00", "teams": 2}; '
        "overlapping rows add their teams; start = end is the whole day.",
    )
    call_types = models.JSONField(default=list, help_text="The CAD call types CARE takes.")
    wait_limit_minutes = models.FloatField(
        default=DEFAULT_WAIT_MINUTES,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_WAIT_MINUTES)],
        help_text="How long a dispatcher holds an eligible call for a CARE team to come free.",
    )
    travel_source = models.CharField(
        max_length=10, choices=TravelSource.choices, default=TravelSource.DISTANCE
    )
    road_factor = models.FloatField(
        default=DEFAULT_ROAD_FACTOR, validators=[MinValueValidator(1), MaxValueValidator(3)]
    )
    speed_kmh = models.FloatField(
        default=DEFAULT_SPEED_KMH, validators=[MinValueValidator(5), MaxValueValidator(120)]
    )
    travel_minutes = models.FloatField(
        default=10, validators=[MinValueValidator(0), MaxValueValidator(180)]
    )
    scene_source = models.CharField(
        max_length=10, choices=SceneSource.choices, default=SceneSource.HISTORY
    )
    scene_minutes = models.FloatField(
        default=DEFAULT_SCENE_MINUTES,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 60)],
        help_text="Time on scene when fixed, or where the program has too few calls of a type.",
    )
    police_freed_minutes = models.FloatField(
        default=DEFAULT_POLICE_FREED_MINUTES,
        validators=[MinValueValidator(0), MaxValueValidator(24 * 60)],
        help_text="Police minutes freed per call reached, where the program has no figures.",
    )
    replications = models.PositiveSmallIntegerField(
        default=10, validators=[MinValueValidator(2), MaxValueValidator(MAX_REPLICATIONS)]
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-live", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        parse_hours(self.hours)
        for name in ("areas", "call_types"):
            value = getattr(self, name)
            if not isinstance(value, list) or not all(
                isinstance(v, str) and 0 < len(v) <= 120 for v in value
            ):
                raise ValidationError({name: "A list of names, each 1 to 120 characters."})
        if not self.call_types:
            raise ValidationError({"call_types": "Name at least one call type CARE takes."})
        if not self.city_wide and not self.areas:
            raise ValidationError({"areas": "Name at least one area, or make it city-wide."})

    def schedule(self) -> list[tuple[int, datetime.time, datetime.time, int]]:
        return parse_hours(self.hours)


class PlanRun(models.Model):
    """One run of a scenario over a history: its inputs, seeds, code version and figures, so it
    can be run again and give the same figures."""

    scenario = models.ForeignKey(
        Scenario, on_delete=models.SET_NULL, null=True, related_name="runs"
    )
    scenario_name = models.CharField(max_length=120)
    inputs = models.JSONField(help_text="The scenario as it was run.")
    history = models.ForeignKey(
        CallHistory, on_delete=models.SET_NULL, null=True, related_name="runs"
    )
    history_name = models.CharField(max_length=120)
    seeds = models.JSONField()
    code_version = models.CharField(max_length=64)
    started_at = models.DateTimeField(auto_now_add=True)
    seconds = models.FloatField(default=0)
    results = models.JSONField(help_text="Aggregate figures only.")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.scenario_name} over {self.history_name} ({self.started_at:%Y-%m-%d %H:%M})"
