"""How the inbox says how long ago a call was dispatched."""

from __future__ import annotations

import datetime

import pytest

from mobile.client.assignment_view import since

NOW = datetime.datetime(2026, 11, 18, 23, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("dispatched", "said"),
    [
        ("2026-11-18T22:59:15+00:00", "45 s ago"),
        ("2026-11-18T22:48:00+00:00", "12 min ago"),
        ("2026-11-18T13:35:00-08:00", "1 h 25 min ago"),
        # A dispatch stamped a little ahead of the tablet's clock is not "in the future".
        ("2026-11-18T23:00:05+00:00", "0 s ago"),
        (None, "time unknown"),
    ],
)
def test_time_since_dispatch_reads_in_seconds_minutes_or_hours(dispatched, said):
    assert since(dispatched, at=NOW) == said
