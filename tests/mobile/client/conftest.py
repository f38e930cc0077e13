"""A real CARE Field server (pytest-django's live_server, the real views and database) and calls
dispatched to fresh units on it, for the tablet's client core to work against."""

from __future__ import annotations

import datetime
import itertools
import uuid

import pytest
import requests

from mobile.client.tablet import Tablet
from server.accounts.models import Role, User
from server.dispatch.incidents import services as dispatch_services
from server.dispatch.models import Unit
from tests.conftest import PASSWORD, SHIFTS_SINCE, call_body, put_on_shift

_numbers = itertools.count(1)


class FieldServer:
    """The live server plus a dispatcher who makes calls for fresh units (so examples never
    collide on a unit already committed to a call)."""

    def __init__(self, url: str):
        self.url = url

    def new_crew(self) -> tuple[str, Unit, Unit]:
        """A CARE responder on a new CARE unit, and a new SPD unit: (username, care, spd)."""
        n = next(_numbers)
        tag = uuid.uuid4().hex[:6]
        care = Unit.objects.create(call_sign=f"CARE-{tag}", kind="care")
        spd = Unit.objects.create(call_sign=f"SPD-{tag}", kind="spd")
        username = f"care{n}_{tag}"
        person = User.objects.create_user(
            username=username, password=PASSWORD, role=Role.CARE_RESPONDER, unit=care
        )
        put_on_shift(person, care, since=SHIFTS_SINCE)  # on the unit before any call of theirs
        return username, care, spd

    def dispatch(self, care: Unit, spd: Unit) -> dict[str, str]:
        """A downtown call sent to both units, through the dispatch services (the dispatcher's
        side is not under test here, and HTTP would only slow the examples down); returns
        {"incident", "care", "spd"} ids."""
        dispatcher = User.objects.get(username="dispatcher")
        body = call_body()
        body["received_at"] = datetime.datetime.fromisoformat(body["received_at"])
        incident = dispatch_services.create_incident(actor=dispatcher, **body)
        assignments = dispatch_services.dispatch_incident(
            actor=dispatcher, incident_id=incident.pk, care_unit=care.pk, spd_unit=spd.pk
        )
        return {"incident": str(incident.pk), **{a.kind: str(a.pk) for a in assignments}}

    def cancel(self, incident_id: str) -> None:
        dispatch_services.cancel_incident(
            actor=User.objects.get(username="dispatcher"),
            incident_id=incident_id,
            reason="Caller says the person walked away.",
        )


@pytest.fixture
def field_server(live_server, people) -> FieldServer:
    return FieldServer(live_server.url)


@pytest.fixture
def tablet_for(field_server, tmp_path):
    """tablet_for(username) -> a signed-in Tablet whose store lives in tmp_path."""
    made: list[Tablet] = []

    def make(username: str, *, session: requests.Session | None = None, **options) -> Tablet:
        tablet = Tablet(
            tmp_path / f"{username}-{len(made)}.sqlite3",
            server_url=field_server.url,
            session=session,
            **options,
        )
        tablet.sign_in(username, PASSWORD, f"{username}-tablet")
        made.append(tablet)
        return tablet

    yield make
    for tablet in made:
        tablet.close()
