"""Unit positions from the tablets: who may report one, latest wins, absurd fixes refused and
counted, and only dispatchers and supervisors ever see where a unit is."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.core.management import call_command
from django.utils import timezone

from server.dispatch.models import PositionRefusal, Unit, UnitPosition
from server.feed.models import Event
from tests.conftest import DOWNTOWN
from tests.server.dispatch.conftest import reference  # noqa: F401 - the fast reference data
from tests.server.sync.conftest import change, results

pytestmark = pytest.mark.django_db

# Pike Place Market, about 600 m north-west of 3rd & Pine.
PIKE_PLACE = {"latitude": 47.6097, "longitude": -122.3422}
# Portland, Oregon: 230 km south of the service area.
PORTLAND = {"latitude": 45.5152, "longitude": -122.6784}


def fix(ago_seconds: float = 10, **where) -> dict:
    at = timezone.now() - datetime.timedelta(seconds=ago_seconds)
    return {**(where or DOWNTOWN), "accuracy_m": 8, "recorded_at": at.isoformat()}


def post_position(client, unit: Unit, body: dict):
    return client.post(f"/api/v1/units/{unit.pk}/position", body, format="json")


def positions_on(stream: str) -> list[Event]:
    return list(Event.objects.filter(stream_id=stream, kind="unit.position"))


def test_a_tablet_signed_in_to_its_unit_reports_a_position_that_the_unit_keeps(client_for, units):
    answer = post_position(client_for("care1"), units["CARE-1"], fix())
    assert answer.status_code == 202, answer.content
    unit = Unit.objects.get(pk=units["CARE-1"].pk)
    assert (unit.last_latitude, unit.last_longitude) == (47.6107, -122.3396)
    assert unit.last_accuracy_m == 8
    assert UnitPosition.objects.filter(unit=unit).count() == 1


def test_the_position_goes_on_the_dispatch_stream_and_no_unit_stream(client_for, units):
    post_position(client_for("officer1"), units["2M12"], fix())
    [event] = positions_on("dispatch")
    assert event.data["call_sign"] == "2M12"
    assert event.data["position"]["latitude"] == 47.6107
    assert not Event.objects.filter(kind="unit.position").exclude(stream_id="dispatch").exists()


@pytest.mark.parametrize(
    ("username", "target"),
    [("care1", "2M12"), ("care1", "CARE-2"), ("officer1", "CARE-1"), ("dispatcher", "CARE-1")],
)
def test_nobody_reports_a_position_for_a_unit_they_are_not_signed_in_to(
    client_for, units, username, target
):
    answer = post_position(client_for(username), units[target], fix())
    assert answer.status_code == 403, answer.content
    assert not UnitPosition.objects.exists()
    assert Unit.objects.get(pk=units[target].pk).last_position_at is None


def test_an_older_fix_than_the_kept_one_is_answered_like_a_duplicate_and_not_applied(
    client_for, units
):
    care1 = client_for("care1")
    assert post_position(care1, units["CARE-1"], fix(10, **PIKE_PLACE)).status_code == 202
    answer = post_position(care1, units["CARE-1"], fix(60))
    assert answer.status_code == 200
    assert answer.json()["status"] == "stale"
    unit = Unit.objects.get(pk=units["CARE-1"].pk)
    assert unit.last_latitude == PIKE_PLACE["latitude"]
    assert UnitPosition.objects.count() == 1
    assert len(positions_on("dispatch")) == 1


def test_a_fix_far_outside_the_service_area_is_refused_with_a_reason_and_counted(client_for, units):
    answer = post_position(client_for("care1"), units["CARE-1"], fix(**PORTLAND))
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "position_refused"
    assert "outside the service area" in body["detail"]
    assert PositionRefusal.objects.get().reason == "outside_area"
    assert Unit.objects.get(pk=units["CARE-1"].pk).last_position_at is None
    assert not positions_on("dispatch")


def test_a_fix_that_means_an_impossible_speed_is_refused_and_counted(client_for, units):
    care1 = client_for("care1")
    post_position(care1, units["CARE-1"], fix(20))
    # Northgate, 13 km away, ten seconds later: 4,700 km/h.
    answer = post_position(care1, units["CARE-1"], fix(10, latitude=47.7066, longitude=-122.3255))
    assert answer.status_code == 422
    assert "km/h" in answer.json()["detail"]
    assert PositionRefusal.objects.get().reason == "impossible_speed"
    assert Unit.objects.get(pk=units["CARE-1"].pk).last_latitude == DOWNTOWN["latitude"]


def test_a_fix_in_the_future_is_refused_like_any_time_from_the_field(client_for, units):
    answer = post_position(client_for("care1"), units["CARE-1"], fix(-3600))
    assert answer.status_code == 400
    assert "recorded_at" in answer.json()["fields"]


def test_the_unit_list_shows_positions_to_dispatchers_and_supervisors_only(client_for, units):
    post_position(client_for("care1"), units["CARE-1"], fix())
    for reader in ("dispatcher", "admin"):
        rows = {u["call_sign"]: u for u in client_for(reader).get("/api/v1/units").json()}
        assert rows["CARE-1"]["position"]["latitude"] == 47.6107
        assert rows["CARE-2"]["position"] is None
    for field_user in ("care3", "officer1", "care1"):
        rows = client_for(field_user).get("/api/v1/units").json()
        assert all(u["position"] is None for u in rows)


def test_officers_and_care_never_receive_positions_on_their_feed(client_for, units):
    post_position(client_for("care1"), units["CARE-1"], fix())
    for username in ("care1", "care3", "officer1"):
        pulled = client_for(username).get("/api/v1/sync/pull").json()
        kinds = [e["kind"] for e in pulled["events"]]
        assert "unit.position" not in kinds
    pulled = client_for("dispatcher").get("/api/v1/sync/pull").json()
    assert "unit.position" in [e["kind"] for e in pulled["events"]]


def test_an_offline_position_is_applied_through_the_push_and_an_older_one_is_a_duplicate(
    client_for, units
):
    care1 = client_for("care1")
    unit = units["CARE-1"]
    entity = uuid.uuid5(uuid.NAMESPACE_URL, f"unit:{unit.pk}")
    newer = change("unit.position", entity, {**DOWNTOWN, "unit": unit.pk, "accuracy_m": 5})
    older = change("unit.position", entity, {**PIKE_PLACE, "unit": unit.pk})
    older["occurred_at"] = (timezone.now() - datetime.timedelta(minutes=5)).isoformat()
    found = results(care1, newer, older)
    assert [r["status"] for r in found] == ["applied", "duplicate"]
    assert Unit.objects.get(pk=unit.pk).last_latitude == DOWNTOWN["latitude"]


def test_an_offline_position_for_another_unit_is_rejected(client_for, units):
    other = units["2M12"]
    mutation = change("unit.position", uuid.uuid4(), {**DOWNTOWN, "unit": other.pk})
    [answer] = results(client_for("care1"), mutation)
    assert answer["status"] == "rejected"
    assert answer["code"] == "forbidden"
    assert Unit.objects.get(pk=other.pk).last_position_at is None


def test_an_absurd_offline_position_is_rejected_with_its_reason(client_for, units):
    mutation = change("unit.position", uuid.uuid4(), {**PORTLAND, "unit": units["CARE-1"].pk})
    [answer] = results(client_for("care1"), mutation)
    assert answer["status"] == "rejected"
    assert answer["code"] == "position_refused"
    assert PositionRefusal.objects.count() == 1


def test_breadcrumbs_older_than_the_retention_are_pruned_and_newer_ones_kept(
    client_for, units, settings
):
    settings.CARE_POSITION_RETENTION_DAYS = 7
    unit = units["CARE-1"]
    now = timezone.now()
    UnitPosition.objects.create(unit=unit, recorded_at=now - datetime.timedelta(days=8), **DOWNTOWN)
    UnitPosition.objects.create(unit=unit, recorded_at=now - datetime.timedelta(days=6), **DOWNTOWN)
    call_command("prune_positions")
    kept = list(UnitPosition.objects.values_list("recorded_at", flat=True))
    assert kept == [now - datetime.timedelta(days=6)]
