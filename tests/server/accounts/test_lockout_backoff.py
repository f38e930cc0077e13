"""An outsider guessing at a guessable username from many addresses backs it off for seconds,
then minutes, never more than CARE_LOCKOUT_USERNAME_MAX_MINUTES at a time; a tablet holding a
valid device token signs in through that username-wide lock (its own address's lock still holds
it). Time passing is played by moving the recorded failures back."""

from __future__ import annotations

import datetime

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.test import Client
from django.utils import timezone

from server.accounts import services
from server.accounts.models import Device
from tests.conftest import PASSWORD
from tests.server.accounts.test_services import fail, sign_in_request

STATION = "192.0.2.10"


def from_many_addresses(username: str, failures: int, first: int = 1) -> None:
    """`failures` wrong passwords, two from each address: no address reaches its own lock."""
    for n in range(failures // 2):
        fail(username, times=2, address=f"198.51.100.{first + n}")


def remaining_lock(username: str) -> datetime.timedelta:
    until = services.locked_until(username=username)
    return until - timezone.now() if until else datetime.timedelta(0)


def let_pass(delta: datetime.timedelta) -> None:
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - delta)


def sign_in_with(username: str, *, token: str | None, address: str = STATION) -> str:
    request = sign_in_request(address)
    if token:
        request.META["HTTP_AUTHORIZATION"] = f"Token {token}"
    key, _ = services.issue_device_token(
        username=username, password=PASSWORD, device_name="tab", request=request
    )
    return key


def test_many_addresses_back_a_username_off_for_seconds_at_first(people, settings):
    from_many_addresses("care1", settings.CARE_LOCKOUT_USERNAME_FAILURES)
    left = remaining_lock("care1")
    assert (
        datetime.timedelta(0)
        < left
        <= datetime.timedelta(seconds=settings.CARE_LOCKOUT_USERNAME_BACKOFF_SECONDS)
    )


def test_guessing_on_never_locks_a_person_out_for_more_than_a_few_minutes(people, settings):
    cap = datetime.timedelta(minutes=settings.CARE_LOCKOUT_USERNAME_MAX_MINUTES)
    from_many_addresses("care1", settings.CARE_LOCKOUT_USERNAME_FAILURES)
    locks = []
    for n in range(12):  # the outsider waits each lock out and guesses again from elsewhere
        let_pass(remaining_lock("care1") + datetime.timedelta(seconds=1))
        fail("care1", times=1, address=f"203.0.113.{n + 1}")
        locks.append(remaining_lock("care1"))
    assert all(lock <= cap for lock in locks), locks
    assert locks[-1] > cap - datetime.timedelta(seconds=5)  # it did grow to the cap
    assert locks[0] < locks[3]  # and grew by backing off, not all at once


def test_a_tablet_with_a_valid_device_token_signs_in_through_the_username_lock(people, settings):
    token = sign_in_with("care1", token=None)
    from_many_addresses("care1", settings.CARE_LOCKOUT_USERNAME_FAILURES)
    with pytest.raises(services.LockedOut):
        sign_in_with("care1", token=None)
    assert sign_in_with("care1", token=token)


@pytest.mark.parametrize("kind", ["made_up", "revoked"])
def test_a_made_up_or_revoked_token_does_not_pass_the_username_lock(people, settings, kind):
    token = sign_in_with("care1", token=None)
    if kind == "revoked":
        Device.objects.filter(user=people["care1"]).update(revoked_at=timezone.now())
    else:
        token = "not-a-token-the-program-issued"
    from_many_addresses("care1", settings.CARE_LOCKOUT_USERNAME_FAILURES)
    with pytest.raises(services.LockedOut):
        sign_in_with("care1", token=token)


def test_a_known_device_is_still_held_by_its_own_address_lock(people, settings):
    token = sign_in_with("care1", token=None)
    for _ in range(settings.CARE_LOCKOUT_FAILURES):
        request = sign_in_request(STATION)
        request.META["HTTP_AUTHORIZATION"] = f"Token {token}"
        with pytest.raises(services.CareFieldError):
            services.issue_device_token(
                username="care1", password="wrong", device_name="tab", request=request
            )
    with pytest.raises(services.LockedOut):
        sign_in_with("care1", token=token)


def test_the_token_endpoint_lets_a_tablet_with_its_token_through_the_username_lock(
    people, settings
):
    first = Client(REMOTE_ADDR=STATION).post(
        "/api/v1/auth/token",
        {"username": "care1", "password": PASSWORD, "device_name": "tab"},
        content_type="application/json",
    )
    assert first.status_code == 201
    from_many_addresses("care1", settings.CARE_LOCKOUT_USERNAME_FAILURES)
    body = {"username": "care1", "password": PASSWORD, "device_name": "tab"}
    stranger = Client(REMOTE_ADDR="192.0.2.99")
    refused = stranger.post("/api/v1/auth/token", body, content_type="application/json")
    assert refused.status_code == 429
    tablet = Client(REMOTE_ADDR="192.0.2.99", HTTP_AUTHORIZATION=f"Token {first.json()['token']}")
    assert (
        tablet.post("/api/v1/auth/token", body, content_type="application/json").status_code == 201
    )
