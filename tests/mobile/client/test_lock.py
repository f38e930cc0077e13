"""The tablet's PIN, its idle-lock setting and the lock's states."""

from __future__ import annotations

import pytest

from mobile.client.lock import IdleLock, keep_pin, lock_minutes, pin_matches, pin_problem
from mobile.client.store import Store


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


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_new_tablet_asks_for_a_pin_to_be_chosen_and_then_opens(tmp_path):
    store, clock = Store(tmp_path / "tablet.sqlite3"), Clock()
    lock = IdleLock(lambda: store, minutes=10, clock=clock)
    assert lock.needs_pin()
    assert "at least 6 digits" in lock.choose_pin("1234", "1234")
    assert lock.needs_pin()
    assert lock.choose_pin("482913", "482913") is None
    assert not lock.needs_pin()
    store.close()


def test_the_open_tablet_locks_after_the_idle_time_and_only_the_pin_opens_it(tmp_path):
    store, clock = Store(tmp_path / "tablet.sqlite3"), Clock()
    keep_pin(store, "482913")
    lock = IdleLock(lambda: store, minutes=2, clock=clock)
    assert lock.needs_pin()  # a remembered tablet starts locked
    assert lock.unlock("482913")
    clock.now += 110
    lock.touched()  # a touch restarts the idle time
    clock.now += 110
    assert not lock.tick() and not lock.needs_pin()
    clock.now += 11
    assert lock.tick() and lock.needs_pin()
    assert not lock.tick()  # locking happens once
    assert not lock.unlock("000000") and lock.needs_pin()
    assert lock.unlock("482913") and not lock.needs_pin()
    store.close()


def test_a_password_sign_in_opens_the_lock_when_a_pin_is_kept(tmp_path):
    store = Store(tmp_path / "tablet.sqlite3")
    keep_pin(store, "482913")
    lock = IdleLock(lambda: store, minutes=10, clock=Clock())
    lock.signed_in()
    assert not lock.needs_pin()
    store.close()
