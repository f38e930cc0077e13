"""Offline push as a tablet sends it: the request, its answers, and a call moved on scene."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.conftest import PASSWORD
from tests.server.dispatch.conftest import reference  # noqa: F401 - the fast reference data

DESC_MOBILE_CRISIS = "0b7f0a52-5d2c-4c57-9b65-6f1d1a4e0001"
PUSH = "/api/v1/sync/push"


def change(kind: str, entity_id, data: dict | None = None, **extra) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": kind,
        "entity_id": str(entity_id),
        "occurred_at": (timezone.now() - datetime.timedelta(minutes=1)).isoformat(),
        "data": data or {},
        **extra,
    }


def push(client, *mutations, device_time: datetime.datetime | None = None):
    return client.post(
        PUSH,
        {
            "device_time": (device_time or timezone.now()).isoformat(),
            "mutations": list(mutations),
        },
        format="json",
    )


def results(client, *mutations, **kwargs) -> list[dict]:
    answer = push(client, *mutations, **kwargs)
    assert answer.status_code == 200, answer.content
    return answer.json()["results"]


def statuses(found: list[dict]) -> list[str]:
    return [r["status"] for r in found]


@pytest.fixture
def call(dispatched):
    return dispatched()


@pytest.fixture
def care1(client_for):
    return client_for("care1")


@pytest.fixture
def on_scene(call, care1) -> dict:
    """CARE-1's assignment moved to on scene through push; returns the call."""
    steps = [
        change("assignment.transition", call["care"], {"to": to})
        for to in ("acknowledged", "en_route", "on_scene")
    ]
    assert statuses(results(care1, *steps)) == ["applied"] * 3
    return call


@pytest.fixture
def encounter(on_scene, care1) -> str:
    encounter_id = uuid.uuid4()
    opened = change(
        "encounter.upsert",
        encounter_id,
        {"assignment": on_scene["care"], "people_contacted": 1, "notes": "Sitting, talking."},
    )
    assert statuses(results(care1, opened)) == ["applied"]
    return str(encounter_id)


def care1_tablet() -> APIClient:
    """A client signed in as care1 on a tablet of its own (a token of its own, as a second
    connection sending the same batch would have)."""
    client = APIClient()
    token = client.post(
        "/api/v1/auth/token",
        {"username": "care1", "password": PASSWORD, "device_name": "care1-tablet"},
        format="json",
    ).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client
