"""Every server test starts with no requests counted against the rate limits: the counts live in
this process's memory and would otherwise carry from one test to the next."""

from __future__ import annotations

import pytest
from django.core.cache import caches


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    caches["throttles"].clear()
    yield
