"""The tablet's PIN and idle-lock setting."""

from __future__ import annotations

import pytest

pytest.importorskip("kivy", reason="Kivy is not installed (pip install -e '.[tablet]')")

from mobile.client.store import Store
from mobile.ui.lock import keep_pin, lock_minutes, pin_matches, pin_problem


@pytest.mark.parametrize(
    ("wanted", "minutes"), [(None, 10), (0, 10), (5, 5), (30, 30), (45, 30), (0.05, 0.05)]
)
def test_the_idle_lock_defaults_to_10_minutes_and_never_exceeds_30(wanted, minutes):
    assert lock_minutes(wanted) == minutes


@pytest.mark.parametrize(
    ("pin", "again", "problem"),
    [
        ("12345", "12345", "at least 6 digits"),
        ("12345a", "12345a", "at least 6 digits"),
        ("123456", "123465", "different"),
    ],
)
def test_a_pin_needs_six_digits_typed_twice_the_same(pin, again, problem):
    assert problem in pin_problem(pin, again)


def test_a_good_pin_has_no_problem():
    assert pin_problem("4829130", "4829130") is None


def test_the_kept_pin_opens_and_no_other_and_the_store_holds_no_plain_pin(tmp_path):
    store = Store(tmp_path / "tablet.sqlite3")
    assert not pin_matches(store, "482913")  # none set yet
    keep_pin(store, "482913")
    assert pin_matches(store, "482913")
    assert not pin_matches(store, "482914")
    assert "482913" not in str(store.get_setting("pin"))
    store.wipe()  # a revoked tablet forgets its PIN with everything else
    assert not pin_matches(store, "482913")
    store.close()
