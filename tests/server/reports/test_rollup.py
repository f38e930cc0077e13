"""The daily roll-up: the figures read from it equal the figures computed from the calls, for any
range of days, after a rolled-up day changes, and with today's calls counted live."""

from __future__ import annotations

import datetime
import uuid
from collections import Counter

import pytest
from django.core.management import call_command
from django.utils import timezone

from server.care.models import NaloxoneAdministration, Referral, SurveyResponse
from server.dispatch.models import Assignment, Incident, UnitKind
from server.reports.daily import Parts, range_parts, roll_up, source_parts
from server.reports.metrics import hidden_in_range, program_metrics, raw_figures, shown_figures
from server.reports.models import ChangedDay, DailyDuration, DailyFigure, RolledUpDay
from tests.server.reports.oracle import raw_from_calls

D = datetime.date
# The day the clocks went back (25 hours), the days around it, and a week in November.
PAST = [D(2026, 10, 31), D(2026, 11, 1), D(2026, 11, 2), D(2026, 11, 17), D(2026, 11, 18)]


def today() -> datetime.date:
    return timezone.localdate()


def summed_from_calls(start: datetime.date, end: datetime.date) -> Parts:
    days = [start + datetime.timedelta(days=n) for n in range((end - start).days + 1)]
    total = Parts()
    for part in source_parts(days).values():
        total.add(part)
    return total


def nonzero(parts: Parts) -> tuple[Counter, Counter]:
    return (
        Counter({k: v for k, v in parts.figures.items() if v}),
        Counter({k: v for k, v in parts.durations.items() if v}),
    )


def assert_roll_up_agrees(start: datetime.date, end: datetime.date) -> None:
    """The unsuppressed parts match day by day, and the figures match the reference's."""
    assert nonzero(range_parts(start, end)) == nonzero(summed_from_calls(start, end))
    assert raw_figures(range_parts(start, end)) == raw_from_calls(start, end)


def stored_rows() -> tuple[list, list]:
    return (
        sorted(DailyFigure.objects.values_list("day", "figure", "item", "value")),
        sorted(DailyDuration.objects.values_list("day", "measure", "seconds", "calls")),
    )


@pytest.fixture
def year_so_far(random_calls):
    """Random calls on the past days and today, the past days rolled up."""
    for day in PAST:
        random_calls(day, 30, seed=1)
    random_calls(today(), 25, seed=1)
    roll_up(PAST)


def test_figures_from_the_roll_up_equal_the_figures_from_the_calls_for_any_range(year_so_far):
    now, later = today(), today() + datetime.timedelta(days=2)
    ranges = [
        (PAST[0], PAST[-1]),
        (PAST[1], PAST[1]),
        (PAST[0], PAST[2]),
        (PAST[2], PAST[3]),
        (D(2026, 10, 1), now),
        (PAST[3], now),
        (now, now),
        (now, later),
    ]

    assert set(RolledUpDay.objects.values_list("day", flat=True)) == set(PAST)
    assert not ChangedDay.objects.exists()
    for start, end in ranges:
        assert_roll_up_agrees(start, end)


def test_a_rolled_up_day_is_read_from_the_roll_up_and_today_from_the_calls(year_so_far):
    day = PAST[3]
    # Move the stored count away from the truth: a figure read from the roll-up must show it.
    DailyFigure.objects.filter(day=day, figure="calls").update(value=1000)

    assert program_metrics(start=day, end=day)["calls"] == 1000
    assert raw_figures(range_parts(today(), today())) == raw_from_calls(today(), today())
    assert not RolledUpDay.objects.filter(day=today()).exists()


def test_a_change_to_a_rolled_up_day_counts_at_once_and_the_next_roll_up_stores_it(
    year_so_far, people
):
    day = PAST[4]
    on_day = Incident.objects.filter(received_at__date=day)
    referral = Referral.objects.filter(
        encounter__assignment__incident__in=on_day, status="made"
    ).first()
    care = Assignment.objects.filter(
        incident__in=on_day, kind=UnitKind.CARE, cleared_at__isnull=False
    ).first()
    survey = SurveyResponse.objects.filter(encounter__assignment__incident__in=on_day).first()
    assert referral and care and survey

    referral.status = "connected"
    referral.save()
    care.cleared_at += datetime.timedelta(minutes=17, microseconds=400_000)
    care.save()
    survey.delete()
    NaloxoneAdministration.objects.create(
        id=uuid.uuid4(),
        recorded_by=people["care1"],
        encounter=referral.encounter,
        administered_at=referral.made_at,
        doses=2,
        dose_mg=4,
        route="intranasal",
        response="improved",
        ems_called=True,
    )
    changed = set(ChangedDay.objects.values_list("day", flat=True))

    assert changed == {day}
    assert_roll_up_agrees(PAST[0], today())

    call_command("roll_up_metrics", verbosity=0)

    assert not ChangedDay.objects.exists()
    for when in changed:
        assert nonzero(range_parts(when, when)) == nonzero(summed_from_calls(when, when))
    assert_roll_up_agrees(PAST[0], today())


def test_a_change_to_todays_calls_marks_no_day(year_so_far):
    assignment = Assignment.objects.filter(incident__received_at__date=today()).first()
    assignment.cleared_at = timezone.now()
    assignment.save()
    assignment.incident.police_only_note = "Supervisor decision"
    assignment.incident.save()

    assert not ChangedDay.objects.exists()


def test_rolling_up_again_writes_the_same_rows_and_never_rolls_up_today(random_calls):
    for day in PAST[2:]:
        random_calls(day, 20, seed=2)
    random_calls(today(), 10, seed=2)
    args = ["roll_up_metrics", "--from", PAST[2].isoformat(), "--to", today().isoformat()]

    call_command(*args, verbosity=0)
    first = stored_rows()
    call_command(*args, verbosity=0)

    assert stored_rows() == first
    assert len(first[0]) > 50 and len(first[1]) > 50
    rolled = set(RolledUpDay.objects.values_list("day", flat=True))
    expected = {PAST[2] + datetime.timedelta(days=n) for n in range((today() - PAST[2]).days)}
    assert rolled == expected
    assert_roll_up_agrees(PAST[2], today())


def test_the_nightly_roll_up_takes_the_days_since_the_last_and_the_changed_days(random_calls):
    random_calls(PAST[0], 5, seed=3)
    yesterday = today() - datetime.timedelta(days=1)

    call_command("roll_up_metrics", verbosity=0)
    assert list(RolledUpDay.objects.values_list("day", flat=True)) == [yesterday]

    RolledUpDay.objects.filter(day=yesterday).update(day=yesterday - datetime.timedelta(days=3))
    ChangedDay.objects.create(day=PAST[0], changes=4)
    call_command("roll_up_metrics", verbosity=0)

    rolled = set(RolledUpDay.objects.values_list("day", flat=True))
    assert {PAST[0], yesterday, yesterday - datetime.timedelta(days=1)} <= rolled
    assert not ChangedDay.objects.exists()
    assert raw_figures(range_parts(PAST[0], PAST[0])) == raw_from_calls(PAST[0], PAST[0])


def test_the_metrics_endpoint_takes_a_bounded_number_of_queries_from_the_roll_up(
    year_so_far, client, people, django_assert_max_num_queries
):
    start = today() - datetime.timedelta(days=364)
    query = f"/api/v1/metrics?from={start}&to={today()}"
    client.force_login(people["admin"])

    with django_assert_max_num_queries(20):
        answer = client.get(query)

    assert answer.status_code == 200
    raw = raw_from_calls(start, today())
    expected = shown_figures(raw, hidden_in_range(raw), start, today())
    assert answer.json() == {"period": None, "period_label": None, **expected}


def test_a_range_of_any_length_is_answered_from_the_stored_days_and_the_gaps(year_so_far):
    counts = raw_figures(range_parts(datetime.date.min, datetime.date.max))["counts"]

    assert counts["calls"] == Incident.objects.count()
    assert counts["care_responded"] == raw_from_calls(PAST[0], today())["counts"]["care_responded"]


def test_a_whole_month_is_read_from_its_month_rows_until_one_of_its_days_changes(random_calls):
    for day in (D(2026, 2, 1), D(2026, 2, 14), D(2026, 2, 28), D(2026, 3, 1)):
        random_calls(day, 20, seed=4)
    roll_up(D(2026, 1, 20) + datetime.timedelta(days=n) for n in range(50))

    assert DailyFigure.objects.filter(whole_month=True, day=D(2026, 2, 1)).exists()
    assert not DailyFigure.objects.filter(whole_month=True, day=D(2026, 3, 1)).exists()
    # Tamper with the month's rows: only a read from them shows it.
    DailyFigure.objects.filter(whole_month=True, figure="calls").update(value=999)
    assert program_metrics(start=D(2026, 2, 1), end=D(2026, 2, 28))["calls"] == 999
    DailyFigure.objects.filter(whole_month=True, figure="calls").update(value=60)
    for start, end in [(D(2026, 1, 25), D(2026, 3, 5)), (D(2026, 2, 2), D(2026, 2, 28))]:
        assert_roll_up_agrees(start, end)

    Incident.objects.filter(received_at__date=D(2026, 2, 14)).first().save()

    assert ChangedDay.objects.filter(day=D(2026, 2, 14)).exists()
    assert_roll_up_agrees(D(2026, 1, 25), D(2026, 3, 5))
