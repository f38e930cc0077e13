"""The daily roll-up of the program's figures: per local (Seattle) day, the unsuppressed parts the
public figures are summed from, so a year is read from a few thousand rows instead of a million
calls. Suppression applies to the summed figures only, never to these parts.

A day is read from here only when it has a RolledUpDay and no ChangedDay: any change to a call
received on a closed day marks the day changed, and the day is computed from the calls themselves
until it is rolled up again (`manage.py roll_up_metrics`).
"""

from __future__ import annotations

from django.db import models


class RolledUpDay(models.Model):
    """A local day whose figures are in DailyFigure and DailyDuration."""

    day = models.DateField(primary_key=True)
    rolled_up_at = models.DateTimeField()

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day} (rolled up {self.rolled_up_at:%Y-%m-%d %H:%M})"


class ChangedDay(models.Model):
    """A closed day whose calls changed after it may have been rolled up.

    `changes` goes up with every change, so a roll-up clears the mark only if nothing changed
    while it was reading the day's calls.
    """

    day = models.DateField(primary_key=True)
    changes = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day} ({self.changes} changes)"


class DailyFigure(models.Model):
    """One summable number for one day: a count (`figure` = "calls", item "") or one cell of a
    breakdown (`figure` = "care_responded_area", item = the area)."""

    day = models.DateField()
    # True: the sum over a whole month whose every day is rolled up; `day` is its first day.
    whole_month = models.BooleanField(default=False)
    figure = models.CharField(max_length=40)
    item = models.CharField(max_length=200, blank=True)
    value = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "whole_month", "figure", "item"], name="one_figure_per_day"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.figure} {self.item}: {self.value}"


class DailyDuration(models.Model):
    """How many calls of a day took `seconds` (to the nearest second) for one measured time;
    medians over any run of days are exact from these counts."""

    day = models.DateField()
    # As in DailyFigure: a year is read as twelve months of counts instead of 365 days of them.
    whole_month = models.BooleanField(default=False)
    measure = models.CharField(max_length=40)
    seconds = models.BigIntegerField()
    calls = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "whole_month", "measure", "seconds"],
                name="one_duration_count_per_day",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.measure} {self.seconds}s: {self.calls}"


class PublishedMonth(models.Model):
    """A closed month's summed parts as they stood when its figures were first published.

    Every public answer (the month, and the quarter and year it is part of) is worked out from
    these frozen parts, so a record changed later never moves a published figure: two answers
    about the same month, asked a week apart, can't be subtracted to find the one record that
    changed in between.
    """

    month = models.DateField(primary_key=True, help_text="The month's first day.")
    figures = models.JSONField(help_text="[[figure, item, value], ...]")
    durations = models.JSONField(help_text="[[measure, seconds, calls], ...]")
    published_at = models.DateTimeField()
    # Months published before the peer programs' figures were counted get them added once, from
    # the calls as they stand the first time they are asked for, and fixed from then on.
    has_peer_figures = models.BooleanField(default=True)

    class Meta:
        ordering = ["month"]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} (published {self.published_at:%Y-%m-%d %H:%M})"
