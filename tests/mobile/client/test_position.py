"""The tablet reports its unit's position: on a schedule (15 s moving, 2 min still), through the
outbox, keeping only the latest fix while offline and sending that one on reconnect."""

from __future__ import annotations

import datetime
import time

import pytest

from mobile.client.position import (
    Fix,
    FixedPosition,
    PositionReporter,
    metres_between,
    parse_position,
    unit_entity,
)
from mobile.client.store import now
from server.dispatch.models import Unit, UnitPosition
from tests.mobile.client.faults import faulty_session
from tests.server.dispatch.conftest import reference  # noqa: F401 - the fast reference data

pytestmark = pytest.mark.django_db(transaction=True)

DOWNTOWN = (47.6107, -122.3396)
PIKE_PLACE = (47.6097, -122.3422)  # about 220 m from 3rd & Pine
NEXT_DOOR = (47.61072, -122.33962)  # a few metres: GPS wander, not movement


def fix(where: tuple[float, float], at: datetime.datetime) -> Fix:
    return Fix(where[0], where[1], 10.0, at)


@pytest.fixture
def crew(field_server, tablet_for):
    username, care, _ = field_server.new_crew()
    session, network = faulty_session()
    tablet = tablet_for(username, session=session)
    return tablet, care, network


def queued_positions(tablet) -> list:
    return [m for m in tablet.store.mutations() if m.type == "unit.position"]


def test_a_desktop_position_is_read_as_lat_comma_lon():
    assert parse_position("47.6107,-122.3396") == DOWNTOWN
    with pytest.raises(ValueError):
        parse_position("47.6107")
    with pytest.raises(ValueError):
        parse_position("147,-122")


def test_reports_come_every_15_seconds_while_moving_and_every_2_minutes_while_still(crew):
    tablet, _, network = crew
    network.offline()  # keep them in the outbox, where the test can see them
    reporter = PositionReporter(tablet.store)
    start = now()
    assert reporter.offer(fix(DOWNTOWN, start)) is not None  # the first fix always goes
    assert reporter.offer(fix(PIKE_PLACE, start + datetime.timedelta(seconds=10))) is None
    assert reporter.offer(fix(PIKE_PLACE, start + datetime.timedelta(seconds=15))) is not None
    still = start + datetime.timedelta(seconds=15)
    assert reporter.offer(fix(PIKE_PLACE, still + datetime.timedelta(seconds=60))) is None
    assert reporter.offer(fix(PIKE_PLACE, still + datetime.timedelta(seconds=119))) is None
    assert reporter.offer(fix(PIKE_PLACE, still + datetime.timedelta(seconds=120))) is not None
    assert metres_between(DOWNTOWN, NEXT_DOOR) < 30


def test_offline_only_the_latest_fix_is_kept_and_it_goes_on_reconnect(crew):
    tablet, care, network = crew
    network.offline()
    reporter = PositionReporter(tablet.store, on_change=tablet.engine.nudge)
    start = now() - datetime.timedelta(minutes=5)
    for n, where in enumerate((DOWNTOWN, PIKE_PLACE, DOWNTOWN, PIKE_PLACE)):
        reporter.offer(fix(where, start + datetime.timedelta(seconds=20 * n)))
        tablet.engine.sync_once()  # tries, and fails: the network is away
    [waiting] = queued_positions(tablet)
    assert waiting.state in ("queued", "sent")
    assert waiting.data["latitude"] == PIKE_PLACE[0]
    assert waiting.entity_id == unit_entity(care.pk)
    assert UnitPosition.objects.count() == 0

    network.online()
    assert tablet.engine.sync_once()
    [sent] = queued_positions(tablet)
    assert sent.state == "done"
    [kept] = UnitPosition.objects.filter(unit=care)
    assert (kept.latitude, kept.longitude) == PIKE_PLACE
    assert Unit.objects.get(pk=care.pk).last_latitude == PIKE_PLACE[0]


def test_a_tablet_with_no_unit_reports_nothing(crew):
    tablet, _, _ = crew
    user = tablet.store.get_setting("user")
    tablet.store.set_settings(user={**user, "unit": None})
    assert PositionReporter(tablet.store).offer(fix(DOWNTOWN, now())) is None
    assert queued_positions(tablet) == []


def test_a_tablet_started_with_a_fixed_position_reports_it_by_itself(field_server, tablet_for):
    username, care, _ = field_server.new_crew()
    tablet = tablet_for(username, position_source=FixedPosition(*DOWNTOWN))
    tablet.start(live=False)
    deadline = time.monotonic() + 30
    while not UnitPosition.objects.filter(unit=care).exists():
        assert time.monotonic() < deadline, "no position reached the server"
        time.sleep(0.1)
    assert Unit.objects.get(pk=care.pk).last_latitude == DOWNTOWN[0]
