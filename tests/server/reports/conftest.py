"""Reproducible finished calls for checking the roll-up against the reference figures, made by the
program's one sample-history generator (server.reports.sample_history)."""

from __future__ import annotations

import datetime
import random

import pytest

from server.dispatch.models import Incident
from server.reports.sample_history import References, sample_day, store_day


@pytest.fixture
def random_calls(people, units):
    """random_calls(day, n, seed) writes n finished calls received on a local day, in bulk (no
    signals: as the history would be before anything was rolled up)."""

    def write(day: datetime.date, n: int, seed: int) -> list[Incident]:
        made = sample_day(
            random.Random(f"{day}-{seed}"), day, n, References.from_database(), prefix=f"R{seed}-"
        )
        store_day(made)
        return made.incidents

    return write
