"""A caller who may not see a record learns nothing of it from a refusal: an id that belongs to
another unit's record answers as an unknown one would (404), not with a 409 that confirms it."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from tests.conftest import local_time

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_calls(new_call, client_for, units, move) -> dict[str, str]:
    """A call on CARE-1 with an encounter and a service given (care1), and care3's CARE-2 call,
    on scene."""
    dispatcher = client_for("dispatcher")
    ids = {}
    for team, police, who in (("CARE-1", "2M12", "care1"), ("CARE-2", "2K21", "care3")):
        call = new_call()
        answer = dispatcher.post(
            f"/api/v1/incidents/{call['id']}/dispatch",
            {"care_unit": units[team].pk, "spd_unit": units[police].pk},
            format="json",
        )
        care = next(a["id"] for a in answer.json()["assignments"] if a["kind"] == "care")
        for to in ("acknowledged", "en_route", "on_scene"):
            assert move(who, care, to).status_code == 200
        ids[who] = care
    encounter, service = str(uuid.uuid4()), str(uuid.uuid4())
    care1 = client_for("care1")
    made = care1.put(
        f"/api/v1/encounters/{encounter}",
        {"assignment": ids["care1"], "people_contacted": 1},
        format="json",
    )
    assert made.status_code == 201, made.content
    given = care1.post(
        "/api/v1/services-given",
        {
            "id": service,
            "encounter": encounter,
            "service": "first-aid",
            "occurred_at": timezone.now().isoformat(),  # after the dispatch
        },
        format="json",
    )
    assert given.status_code == 201, given.content
    return {"care3_assignment": ids["care3"], "encounter": encounter, "service": service}


def test_another_units_encounter_id_answers_404_not_belongs_to_another_assignment(
    client_for, two_calls
):
    answer = client_for("care3").put(
        f"/api/v1/encounters/{two_calls['encounter']}",
        {"assignment": two_calls["care3_assignment"], "people_contacted": 2},
        format="json",
    )
    assert answer.status_code == 404, answer.content
    assert "another" not in answer.content.decode()


def test_another_units_service_id_answers_404_not_already_names_a_different_one(
    client_for, two_calls
):
    care3 = client_for("care3")
    own = str(uuid.uuid4())
    made = care3.put(
        f"/api/v1/encounters/{own}",
        {"assignment": two_calls["care3_assignment"], "people_contacted": 1},
        format="json",
    )
    assert made.status_code == 201
    answer = care3.post(
        "/api/v1/services-given",
        {
            "id": two_calls["service"],
            "encounter": own,
            "service": "transport",
            "occurred_at": local_time(14, 30).isoformat(),
        },
        format="json",
    )
    assert answer.status_code == 404, answer.content
    assert "already" not in answer.content.decode()


def test_the_crew_reusing_its_own_id_still_hears_why(client_for, two_calls):
    answer = client_for("care1").post(
        "/api/v1/services-given",
        {
            "id": two_calls["service"],
            "encounter": two_calls["encounter"],
            "service": "transport",
            "occurred_at": local_time(14, 30).isoformat(),
        },
        format="json",
    )
    assert answer.status_code == 409
    assert "already names" in answer.json()["detail"]
