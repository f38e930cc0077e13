"""Races on PostgreSQL with real connections: two dispatchers booking one unit, two CAD feeds
sending one call, and both units of a call moving at the same moment. Each thread has its own
database connection, and a barrier starts them together; every race runs several rounds."""

from __future__ import annotations

import datetime
import functools

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from server.accounts.models import Role, User
from server.dispatch.incidents import services
from server.dispatch.models import Assignment, Incident
from server.errors import UnitUnavailable
from tests.conftest import PASSWORD, call_body
from tests.racing import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 10
CLOSED = ["cleared", "cancelled"]


@pytest.fixture
def make_incident(people):
    def make(**overrides) -> Incident:
        body = call_body(**overrides)
        body["received_at"] = datetime.datetime.fromisoformat(body["received_at"])
        return services.create_incident(actor=people["dispatcher"], **body)

    return make


@pytest.fixture
def two_dispatchers(people, client_for):
    User.objects.create_user(username="dispatcher2", password=PASSWORD, role=Role.DISPATCHER)
    return client_for("dispatcher"), client_for("dispatcher2")


def open_on(unit) -> list[Assignment]:
    return list(Assignment.objects.filter(unit=unit).exclude(status__in=CLOSED))


def test_two_dispatchers_racing_for_one_care_team_get_one_201_and_one_409(
    two_dispatchers, make_incident, units, people
):
    first, second = two_dispatchers
    care = units["CARE-1"]
    for _ in range(ROUNDS):
        a, b = make_incident(), make_incident()
        answers = race(
            functools.partial(
                first.post,
                f"/api/v1/incidents/{a.pk}/dispatch",
                {"care_unit": care.pk, "spd_unit": units["2M12"].pk},
                format="json",
            ),
            functools.partial(
                second.post,
                f"/api/v1/incidents/{b.pk}/dispatch",
                {"care_unit": care.pk, "spd_unit": units["2K21"].pk},
                format="json",
            ),
        )
        assert sorted(r.status_code for r in answers) == [201, 409], [r.content for r in answers]
        loser = next(r for r in answers if r.status_code == 409)
        assert loser.json()["code"] == "unit_unavailable"

        booked = open_on(care)
        assert len(booked) == 1
        winner = booked[0].incident_id
        loser_incident = b if winner == a.pk else a
        # The loser booked nothing, not even its SPD unit.
        assert not Assignment.objects.filter(incident=loser_incident).exists()
        assert Incident.objects.get(pk=loser_incident.pk).status == "screened"
        assert Assignment.objects.exclude(status__in=CLOSED).count() == 2

        services.cancel_incident(actor=people["dispatcher"], incident_id=winner, reason="next")


def test_two_dispatch_services_racing_for_one_spd_unit_book_it_once(make_incident, units, people):
    spd = units["2M12"]
    for _ in range(ROUNDS):
        a, b = make_incident(), make_incident()

        def book(incident, care):
            return services.dispatch_incident(
                actor=people["dispatcher"],
                incident_id=incident.pk,
                care_unit=units[care].pk,
                spd_unit=spd.pk,
            )

        results = race(functools.partial(book, a, "CARE-1"), functools.partial(book, b, "CARE-2"))
        refused = [r for r in results if isinstance(r, Exception)]
        assert len(refused) == 1 and isinstance(refused[0], UnitUnavailable), results
        booked = open_on(spd)
        assert len(booked) == 1
        assert Assignment.objects.exclude(status__in=CLOSED).count() == 2
        services.cancel_incident(
            actor=people["dispatcher"], incident_id=booked[0].incident_id, reason="next"
        )


def test_two_cad_feeds_sending_the_same_call_at_once_get_one_201_and_one_409(two_dispatchers):
    first, second = two_dispatchers
    for _ in range(ROUNDS):
        body = call_body()
        answers = race(
            functools.partial(first.post, "/api/v1/incidents", body, format="json"),
            functools.partial(second.post, "/api/v1/incidents", body, format="json"),
        )
        assert sorted(r.status_code for r in answers) == [201, 409], [r.content for r in answers]
        assert Incident.objects.filter(cad_number=body["cad_number"]).count() == 1


def test_the_care_team_and_the_officer_moving_at_the_same_moment_both_succeed(
    make_incident, units, people, client_for
):
    care_client, spd_client = client_for("care1"), client_for("officer1")
    for _ in range(ROUNDS):
        incident = make_incident()
        care, spd = services.dispatch_incident(
            actor=people["dispatcher"],
            incident_id=incident.pk,
            care_unit=units["CARE-1"].pk,
            spd_unit=units["2M12"].pk,
        )
        for to in ("acknowledged", "en_route", "on_scene"):
            answers = race(
                functools.partial(
                    care_client.post,
                    f"/api/v1/assignments/{care.pk}/transitions",
                    {"to": to},
                    format="json",
                ),
                functools.partial(
                    spd_client.post,
                    f"/api/v1/assignments/{spd.pk}/transitions",
                    {"to": to},
                    format="json",
                ),
            )
            assert [r.status_code for r in answers] == [200, 200], [r.content for r in answers]
        assert Incident.objects.get(pk=incident.pk).status == "on_scene"
        services.cancel_incident(actor=people["dispatcher"], incident_id=incident.pk, reason="next")


def test_pulling_care_while_the_officer_arrives_loses_neither_change(
    make_incident, units, people, client_for
):
    dispatcher, officer = client_for("dispatcher"), client_for("officer1")
    for _ in range(ROUNDS):
        incident = make_incident()
        care, spd = services.dispatch_incident(
            actor=people["dispatcher"],
            incident_id=incident.pk,
            care_unit=units["CARE-1"].pk,
            spd_unit=units["2M12"].pk,
        )
        for to in ("acknowledged", "en_route"):
            services.transition_assignment(actor=people["officer1"], assignment_id=spd.pk, to=to)

        answers = race(
            functools.partial(
                dispatcher.post,
                f"/api/v1/assignments/{care.pk}/transitions",
                {"to": "cancelled", "note": "CARE-1 needed at an overdose"},
                format="json",
            ),
            functools.partial(
                officer.post,
                f"/api/v1/assignments/{spd.pk}/transitions",
                {"to": "on_scene"},
                format="json",
            ),
        )
        assert [r.status_code for r in answers] == [200, 200], [r.content for r in answers]
        incident.refresh_from_db()
        # Whichever came first, the call is on scene and went police-only, with the reason.
        assert incident.status == "on_scene"
        assert incident.response == "police_only"
        assert incident.police_only_note == "CARE-1 needed at an overdose"
        services.cancel_incident(actor=people["dispatcher"], incident_id=incident.pk, reason="next")


def test_moves_on_two_calls_that_share_a_unit_both_succeed(
    make_incident, units, people, client_for
):
    """The officer cleared call X early and took call Y; CARE-1 clears X just as the officer
    acknowledges Y. Each change also tells the other units on its call, so X's change reaches
    the officer's stream and Y's reaches the dispatch board."""
    care_client, spd_client = client_for("care1"), client_for("officer1")

    def dispatch(care, spd):
        return services.dispatch_incident(
            actor=people["dispatcher"],
            incident_id=make_incident().pk,
            care_unit=units[care].pk,
            spd_unit=units[spd].pk,
        )

    def move(user, assignment, to):
        services.transition_assignment(actor=people[user], assignment_id=assignment.pk, to=to)

    for _ in range(ROUNDS):
        care_x, spd_x = dispatch("CARE-1", "2M12")
        for to in ("acknowledged", "en_route", "on_scene"):
            move("care1", care_x, to)
            move("officer1", spd_x, to)
        move("officer1", spd_x, "cleared")
        _, spd_y = dispatch("CARE-2", "2M12")

        answers = race(
            functools.partial(
                care_client.post,
                f"/api/v1/assignments/{care_x.pk}/transitions",
                {"to": "cleared"},
                format="json",
            ),
            functools.partial(
                spd_client.post,
                f"/api/v1/assignments/{spd_y.pk}/transitions",
                {"to": "acknowledged"},
                format="json",
            ),
        )
        assert [r.status_code for r in answers] == [200, 200], [r.content for r in answers]
        assert Incident.objects.get(pk=care_x.incident_id).status == "closed"
        services.cancel_incident(
            actor=people["dispatcher"], incident_id=spd_y.incident_id, reason="next"
        )


def test_the_database_refuses_a_second_open_assignment_for_one_unit(make_incident, units):
    care = units["CARE-1"]
    now = timezone.now()
    first = make_incident()
    Assignment.objects.create(incident=first, unit=care, kind="care", dispatched_at=now)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(
            incident=make_incident(), unit=care, kind="care", dispatched_at=now
        )
    assert Assignment.objects.filter(unit=care).count() == 1

    # Closed assignments don't count: a unit has any number of finished calls.
    Assignment.objects.filter(unit=care).update(status="cleared")
    Assignment.objects.create(incident=make_incident(), unit=care, kind="care", dispatched_at=now)
    Assignment.objects.create(
        incident=make_incident(), unit=care, kind="care", dispatched_at=now, status="cancelled"
    )
    assert len(open_on(care)) == 1
