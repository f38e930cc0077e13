"""Signing in, the failed-login lockout (django-axes' records, the project's rules), and token
rotation."""

from __future__ import annotations

import datetime

import pytest
from axes.models import AccessAttempt
from django.test import RequestFactory
from django.utils import timezone

from server.accounts import services
from server.accounts.models import DeviceToken
from server.audit.models import AuditEntry
from tests.conftest import PASSWORD

STATION = "192.0.2.10"  # documentation addresses (RFC 5737): nothing is sent anywhere


def sign_in_request(address: str = STATION):
    return RequestFactory().post("/api/v1/auth/token", REMOTE_ADDR=address)


def fail(username: str = "care1", times: int = 1, address: str = STATION) -> list[Exception]:
    errors = []
    for _ in range(times):
        with pytest.raises(services.CareFieldError) as caught:
            services.issue_device_token(
                username=username,
                password="wrong",
                device_name="tab",
                request=sign_in_request(address),
            )
        errors.append(caught.value)
    return errors


def sign_in(username: str = "care1", address: str = STATION) -> str:
    key, _ = services.issue_device_token(
        username=username, password=PASSWORD, device_name="tab", request=sign_in_request(address)
    )
    return key


def test_four_failures_leave_the_account_open(people):
    errors = fail(times=4)
    assert all(isinstance(e, services.BadCredentials) for e in errors)
    assert services.locked_until(username="care1") is None
    assert sign_in()


def test_the_fifth_failure_locks_the_account_for_ten_minutes(people):
    errors = fail(times=5)
    assert isinstance(errors[-1], services.LockedOut)
    until = services.locked_until(username="care1")
    assert until is not None
    remaining = until - timezone.now()
    assert datetime.timedelta(minutes=9) < remaining <= datetime.timedelta(minutes=10)


def test_a_locked_account_is_refused_even_with_the_right_password(people):
    fail(times=5)
    with pytest.raises(services.LockedOut) as caught:
        sign_in()
    assert caught.value.status == 429
    assert caught.value.code == "locked_out"
    assert "Try again in 10 minutes" in caught.value.detail
    assert not DeviceToken.objects.filter(device__user=people["care1"]).exists()


def test_the_lock_lifts_when_ten_minutes_have_passed(people, monkeypatch):
    fail(times=5)
    later = timezone.now() + datetime.timedelta(minutes=10, seconds=1)
    # Age the failures instead of sleeping: move the clock the service reads.
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert services.locked_until(username="care1") is None
    assert sign_in()


def test_a_lockout_of_one_person_leaves_others_signing_in(people):
    fail("care1", times=5)
    assert sign_in("care3")


def test_a_successful_sign_in_clears_earlier_failures(people):
    fail(times=4)
    sign_in()
    fail(times=4)
    assert services.locked_until(username="care1") is None


def test_an_unlock_by_a_supervisor_lifts_the_lock(people):
    fail(times=5)
    services.unlock_user(actor=people["admin"], user=people["care1"])
    assert services.locked_until(username="care1") is None
    assert sign_in()
    assert AuditEntry.objects.filter(action="auth.unlocked", actor=people["admin"]).exists()


def test_failures_an_hour_old_are_forgotten(people):
    fail(times=4)
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=61))
    fail(times=1)
    assert services.locked_until(username="care1", address=STATION) is None
    assert sign_in()


def test_a_failure_after_a_lock_ran_out_locks_again_at_once(people):
    """Back-off: the pair's failures are remembered for an hour, not only for the lock's ten
    minutes, so one more guess after a lock runs out locks it again."""
    fail(times=5)
    AccessAttempt.objects.update(attempt_time=timezone.now() - datetime.timedelta(minutes=11))
    assert services.locked_until(username="care1", address=STATION) is None
    [error] = fail(times=1)
    assert isinstance(error, services.LockedOut)


# ---- the two attack shapes -----------------------------------------------------------------


def test_guessing_a_person_password_from_elsewhere_does_not_lock_them_out_of_their_station(
    people,
):
    errors = fail("care1", times=5, address="198.51.100.66")
    assert isinstance(errors[-1], services.LockedOut)
    # The attacker's address stays locked, even with the right password...
    with pytest.raises(services.LockedOut):
        sign_in("care1", address="198.51.100.66")
    # ...while care1 signs in from the station as usual.
    assert sign_in("care1", address=STATION)


def test_many_addresses_guessing_one_username_back_it_off_everywhere(people, settings):
    per_address = settings.CARE_LOCKOUT_FAILURES - 1  # no single pair reaches its own lock
    addresses = [f"198.51.100.{n}" for n in range(1, 30)]
    needed = -(-settings.CARE_LOCKOUT_USERNAME_FAILURES // per_address)
    for address in addresses[:needed]:
        errors = fail("care1", times=per_address, address=address)
        assert not [e for e in errors[:-1] if isinstance(e, services.LockedOut)]
    with pytest.raises(services.LockedOut) as caught:
        sign_in("care1", address=addresses[needed])
    until = services.locked_until(username="care1")
    # A back-off of seconds at first, never the hour-long lock it once was
    # (tests/server/accounts/test_lockout_backoff.py follows it further).
    assert (
        datetime.timedelta(0)
        < until - timezone.now()
        <= datetime.timedelta(minutes=settings.CARE_LOCKOUT_USERNAME_MAX_MINUTES)
    )
    assert caught.value.status == 429
    assert sign_in("care3", address=addresses[needed])  # other people are untouched


def test_one_address_spraying_a_password_over_many_usernames_is_throttled(people, settings):
    sprayer = "203.0.113.9"
    for n in range(settings.CARE_LOCKOUT_ADDRESS_FAILURES):
        fail(f"someone{n}", times=1, address=sprayer)
    # The next try from that address is refused, whoever it names, even with a right password.
    with pytest.raises(services.LockedOut):
        sign_in("care3", address=sprayer)
    assert not DeviceToken.objects.filter(device__user=people["care3"]).exists()
    assert sign_in("care3", address=STATION)


def test_unknown_usernames_are_locked_too_so_lockout_reveals_no_accounts(db):
    errors = fail("nobody-here", times=5)
    assert isinstance(errors[-1], services.LockedOut)


def test_sign_in_failures_lockouts_and_logins_are_audited(people):
    fail(times=5)
    with pytest.raises(services.LockedOut):
        sign_in()
    entries = AuditEntry.objects.filter(object_type="accounts.user", object_id="care1")
    assert entries.filter(action="auth.login_failed").count() == 5
    assert entries.filter(action="auth.locked_out").count() == 1
    sign_in("care3")
    assert AuditEntry.objects.filter(action="auth.login", actor=people["care3"]).exists()
    assert AuditEntry.objects.filter(action="auth.token_issued", actor=people["care3"]).exists()


def test_rotation_gives_a_new_token_for_the_same_device_and_kills_the_old(people):
    key, device = services.issue_device_token(
        username="care1", password=PASSWORD, device_name="tab"
    )
    old = services.device_for_token(key)
    new_key = services.rotate_token(token=old)
    assert new_key != key
    assert services.device_for_token(key) is None
    fresh = services.device_for_token(new_key)
    assert fresh is not None and fresh.device_id == device.pk
    assert fresh.expires_at > timezone.now() + datetime.timedelta(hours=1)
    assert AuditEntry.objects.filter(action="auth.token_rotated", object_id=str(device.pk)).exists()


def test_a_token_can_be_rotated_only_once(people):
    key = sign_in()
    token = services.device_for_token(key)
    services.rotate_token(token=token)
    with pytest.raises(services.BadCredentials):
        services.rotate_token(token=token)


def test_an_expired_token_is_refused(people):
    key = sign_in()
    DeviceToken.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert services.device_for_token(key) is None
