"""The public figures: one closed month, quarter or year at a time, each worked out from its
months' parts as first published (PublishedMonth).

A month's table is suppressed on its own (complementary suppression, disclosure.py). A quarter or a
year shows a count only where every one of its months shows it: its published counts are then sums
of published month counts, so nothing can be subtracted between periods to reach a withheld one.
A median, average, share or sum beside a count follows that count.
"""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from server.reports.daily import Parts, range_parts
from server.reports.metrics import (
    PEER_MEASURES,
    PEER_TOTALS,
    hidden_in_range,
    question_keys,
    raw_figures,
    shown_figures,
)
from server.reports.models import PublishedMonth
from server.reports.periods import (
    Period,
    latest_published_month,
    month,
    require_published,
)


def published_parts(first_day) -> Parts:
    """The month's parts as first published (stored the first time they are asked for)."""
    stored = PublishedMonth.objects.filter(month=first_day).first()
    if stored is None:
        stored = _publish(first_day)
    elif not stored.has_peer_figures:
        stored = _add_peer_figures(stored)
    parts = Parts()
    parts.figures.update({(f, i): v for f, i, v in stored.figures})
    parts.durations.update({(m, s): n for m, s, n in stored.durations})
    return parts


def _publish(first_day) -> PublishedMonth:
    period = month(first_day.year, first_day.month)
    parts = range_parts(period.first, period.last)
    record = PublishedMonth(
        month=first_day,
        figures=sorted([f, i, v] for (f, i), v in parts.figures.items() if v),
        durations=sorted([m, s, n] for (m, s), n in parts.durations.items() if n),
        published_at=timezone.now(),
    )
    try:
        with transaction.atomic():
            record.save(force_insert=True)
    except IntegrityError:
        # Published meanwhile by another request: the first one stands.
        return PublishedMonth.objects.get(month=first_day)
    return record


def _add_peer_figures(stored: PublishedMonth) -> PublishedMonth:
    """A month published before the peer programs' figures were counted: add them (only them)
    from its calls as they stand now, once; its other figures stay as first published."""
    period = month(stored.month.year, stored.month.month)
    parts = range_parts(period.first, period.last)
    figures = [[f, i, v] for (f, i), v in parts.figures.items() if v and f in PEER_TOTALS]
    durations = [[m, s, n] for (m, s), n in parts.durations.items() if n and m in PEER_MEASURES]
    kept = [row for row in stored.figures if row[0] not in PEER_TOTALS]
    kept_durations = [row for row in stored.durations if row[0] not in PEER_MEASURES]
    PublishedMonth.objects.filter(month=stored.month, has_peer_figures=False).update(
        figures=sorted(kept + figures),
        durations=sorted(kept_durations + durations),
        has_peer_figures=True,
    )
    # Added meanwhile by another request: the first addition stands.
    return PublishedMonth.objects.get(month=stored.month)


def period_metrics(period: Period) -> dict:
    """The public answer for a closed period; InvalidInput if it is not published yet."""
    require_published(period)
    questions = question_keys()
    hidden: set[str] = set()
    whole = Parts()
    for first in period.months:
        parts = published_parts(first)
        # A month's row that another month lacks is a zero there, which a reader sees as such.
        hidden |= hidden_in_range(raw_figures(parts, questions))
        whole.add(parts)
    answer = shown_figures(raw_figures(whole, questions), hidden, period.first, period.last)
    return {"period": period.key, "period_label": period.label(), **answer}


def publish_due_months(back: int = 3) -> list[str]:
    """Publish the months whose publication day has come and that are not published yet (the
    latest and up to `back` before it), so the nightly job fixes them at a known time rather
    than the first reader's ask. Returns the months published."""
    done, current = [], latest_published_month()
    for _ in range(back + 1):
        if not PublishedMonth.objects.filter(month=current.first).exists():
            _publish(current.first)
            done.append(current.key)
        before = current.first - datetime.timedelta(days=1)
        current = month(before.year, before.month)
    return done


def forget_published(first: datetime.date, last: datetime.date) -> int:
    """Drop the published months overlapping first..last, to be published again from the calls:
    only for history written in bulk for a demo, never for a real program's months."""
    months = {m.first for m in _months_between(first, last)}
    deleted, _ = PublishedMonth.objects.filter(month__in=months).delete()
    return deleted


def _months_between(first: datetime.date, last: datetime.date) -> list[Period]:
    found, current = [], month(first.year, first.month)
    while current.first <= last:
        found.append(current)
        current = month(*_after(current))
    return found


def _after(period: Period) -> tuple[int, int]:
    following = period.last + datetime.timedelta(days=1)
    return following.year, following.month


def withdraw_published(*, actor, month: PublishedMonth) -> None:
    """A supervisor's correction of a serious error: the month's fixed figures are dropped, to
    be published again from the calls as they are now at its next ask. Audited with the figures
    that were public, so the correction can be told publicly."""
    from server.audit.services import record_audit, snapshot

    with transaction.atomic():
        record_audit(actor=actor, action="published_month.withdrawn", obj=month,
                     before=snapshot(month))  # fmt: skip
        month.delete()
