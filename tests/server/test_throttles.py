"""Rate limits on authenticated writes and queries a client could loop: a tablet posting its
position (100 in 4 s got through) and a console searching addresses (60 in 1.1 s) are refused
with a clear 429 in the error shape once past the rate, per device and per person; another
device or person is not held by it."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

POSITION = {"latitude": 47.6107, "longitude": -122.3396, "accuracy_m": 8}


def allowed(rate: str) -> int:
    return int(rate.split("/")[0])


def post_position(client, unit_id: int):
    body = {**POSITION, "recorded_at": timezone.now().isoformat()}
    return client.post(f"/api/v1/units/{unit_id}/position", body, format="json")


def another_device(username: str) -> APIClient:
    client = APIClient()
    answer = client.post(
        "/api/v1/auth/token",
        {"username": username, "password": PASSWORD, "device_name": "second tablet"},
        format="json",
    )
    assert answer.status_code == 201
    client.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
    return client


def assert_throttled(answer) -> None:
    assert answer.status_code == 429, answer.content
    body = answer.json()
    assert body["code"] == "throttled"
    assert "try again" in body["detail"]
    assert int(answer.headers["Retry-After"]) >= 1


def test_a_tablet_posting_positions_in_a_loop_is_refused_past_its_rate(client_for, units):
    tablet = client_for("care1")
    unit = units["CARE-1"].pk
    limit = allowed(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["position.device"])
    answers = [post_position(tablet, unit).status_code for _ in range(limit)]
    assert 429 not in answers and all(code < 300 for code in answers)
    assert_throttled(post_position(tablet, unit))


def test_another_tablet_of_another_person_is_not_held_by_it(client_for, units):
    tablet = client_for("care1")
    limit = allowed(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["position.device"])
    for _ in range(limit + 1):
        post_position(tablet, units["CARE-1"].pk)
    assert post_position(client_for("care3"), units["CARE-2"].pk).status_code < 300


def test_one_person_on_many_devices_is_held_per_person(client_for, units, settings):
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**rates, "position.device": "5/min", "position.user": "8/min"},
    }
    first, second = client_for("care1"), another_device("care1")
    codes = [post_position(first, units["CARE-1"].pk).status_code for _ in range(5)]
    codes += [post_position(second, units["CARE-1"].pk).status_code for _ in range(3)]
    assert all(code < 300 for code in codes), codes
    assert_throttled(post_position(second, units["CARE-1"].pk))


def test_address_searches_in_a_loop_are_refused_past_the_rate(client_for):
    console = client_for("dispatcher")
    limit = allowed(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["geocode.user"])
    codes = [console.get("/api/v1/geocode", {"q": "3rd Ave"}).status_code for _ in range(limit)]
    assert codes == [200] * limit
    assert_throttled(console.get("/api/v1/geocode", {"q": "3rd Ave"}))
