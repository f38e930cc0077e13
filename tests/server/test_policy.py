"""The authorization policy, held from outside.

- The table in docs/security.md is the one the code makes.
- Every command, run through the runner every door uses, by every principal: the ones the policy
  names get past it (to the input check), everyone else is refused before anything is read. The
  expected table is written here, by hand, not read from the code.
- The crew's commands on three records: their own call, another crew's call, and a call of their
  new unit from before they joined.
- A property test: random sign-ons, sign-offs, rosters, calls and role changes; after every step
  nobody reads a clinical record of a call they were not on, over REST, pull and snapshot.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from server.accounts.models import Role, SystemClientKind, User
from server.accounts.system_clients import create_system_client, revoke
from server.commands import registered_commands
from server.dispatch.models import RosterEntry, Shift, Unit
from server.errors import CareFieldError, RoleRefused
from server.sync.policy_table import policy_table
from tests.conftest import PASSWORD, call_body, put_on_shift
from tests.server.sync.conftest import change, results

DOCS = Path(__file__).resolve().parents[2] / "docs" / "security.md"

D, C, S, K, A = "dispatcher", "care_responder", "spd_officer", "coordinator", "admin"
CAD, PARTNER = "system:cad", "system:partner"

EXPECTED = {
    "assignment.transition": {D, C, S, A},
    "backup.request": {C, A},
    "check_in.clear_lapse": {D, A},
    "check_in.create": {C, A},
    "emergency.acknowledge": {D, A},
    "emergency.end": {D, C, S, A},
    "emergency.start": {C, S},
    "encounter.upsert": {C, A},
    "incident.cancel": {D, A, CAD},
    "incident.create": {D, A},
    "incident.create_from_cad": {CAD},
    "incident.dispatch": {D, A},
    "incident.locate": {D, A},
    "incident.refer_to_hotline": {D, A},
    "incident.resolve_by_phone": {D, A},
    "incident.send_backup": {D, A},
    "incident.update_from_cad": {CAD},
    "naloxone.create": {C, A},
    "naloxone.update": {C, A},
    "referral.create": {C, A},
    "referral.update": {C, K, A, PARTNER},
    "roster.add": {A},
    "roster.cancel": {A},
    "service.create": {C, A},
    "service.remove": {C, A},
    "naloxone.remove": {C, A},
    "shift.end": {C, S, A},
    "shift.start": {C, S, A},
    "sign_on_request.create": {C, S},
    "sign_on_request.decide": {A},
    "survey.create": {C, A},
    "unit.duty_status": {D, C, S, A},
    "unit.position": {C, S},
    # Reference data: the supervisor's, from the admin's pages (server/reference_edits.py).
    "area.delete": {A},
    "area.save": {A},
    "backup_reason.delete": {A},
    "backup_reason.save": {A},
    "beat.delete": {A},
    "beat.save": {A},
    "call_type.delete": {A},
    "call_type.save": {A},
    "call_type_mapping.delete": {A},
    "call_type_mapping.save": {A},
    "caution_mapping.delete": {A},
    "caution_mapping.save": {A},
    "directory_service.delete": {A},
    "directory_service.save": {A},
    "disposition.delete": {A},
    "disposition.save": {A},
    "police_only_reason.delete": {A},
    "police_only_reason.save": {A},
    "program_hours.delete": {A},
    "program_hours.save": {A},
    "protocol.save": {A},
    "screening_question.delete": {A},
    "screening_question.save": {A},
    "service_type.delete": {A},
    "service_type.save": {A},
    "survey_question.delete": {A},
    "survey_question.save": {A},
    "unit.save": {A},
}
PRINCIPALS = (D, C, S, K, A, CAD, PARTNER, "deactivated", "revoked_cad_key")


def test_the_policy_table_in_the_docs_is_the_one_the_code_makes():
    assert policy_table() in DOCS.read_text()


def test_every_command_has_a_row_here_and_every_row_a_command():
    assert {c.name for c in registered_commands()} == set(EXPECTED)


def _principal(name: str, people) -> User:
    if name in (D, C, S, K, A):
        return people[{D: "dispatcher", C: "care1", S: "officer1", K: "coordinator"}.get(name, A)]
    if name == "deactivated":
        person = people["care3"]
        User.objects.filter(pk=person.pk).update(is_active=False)
        person.refresh_from_db()
        return person
    kind = SystemClientKind.PARTNER if name == PARTNER else SystemClientKind.CAD
    client, _ = create_system_client(
        actor=None,
        kind=kind,
        name=f"{name}-{uuid.uuid4().hex[:6]}",
        organization_id="org-1" if kind == SystemClientKind.PARTNER else "",
    )
    if name == "revoked_cad_key":
        revoke(actor=None, client=client, reason="test")
    return User.objects.get(pk=client.user_id)


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_command_runs_only_for_the_principals_the_policy_names(name, principal, people):
    command = next(c for c in registered_commands() if c.name == name)
    actor = _principal(principal, people)
    try:
        # An empty input and ids of nothing: an allowed principal gets past the runner's check
        # and is stopped by the input or the record; nobody else gets that far.
        command.execute(actor=actor, data={}, **{arg: uuid.uuid4() for arg in _url_ids(command)})
        outcome = "ran"
    except RoleRefused:
        outcome = "refused"
    except CareFieldError:
        outcome = "ran"
    assert outcome == ("ran" if principal in EXPECTED[name] else "refused")


def _url_ids(command) -> list[str]:
    """The arguments a REST door takes from its URL for this command."""
    import inspect

    wanted = inspect.signature(command.service).parameters
    return [
        a
        for a in (
            "incident_id",
            "assignment_id",
            "encounter_id",
            "referral_id",
            "administration_id",
            "service_id",
            "emergency_id",
            "shift_id",
            "lapse_id",
            "entry_id",
            "request_id",
            "unit_id",
        )
        if a in wanted
    ]


# ---- own call, another crew's call, a past call of the unit one joined ----------------------


def _cleared(client, assignment_id) -> None:
    for to in ("acknowledged", "en_route", "on_scene", "cleared"):
        answer = client.post(
            f"/api/v1/assignments/{assignment_id}/transitions",
            {"to": to, "occurred_at": timezone.now().isoformat()},
            format="json",
        )
        assert answer.status_code == 200, answer.content


def _mutation(kind: str, call: dict, encounter: str, service: str) -> dict:
    data = {
        "encounter.upsert": {"assignment": call["care"], "notes": "x"},
        "service.create": {"encounter": encounter, "service": "first-aid"},
        "naloxone.create": {
            "encounter": encounter,
            "doses": 1,
            "dose_mg": "4",
            "route": "intranasal",
        },
        "referral.create": {"encounter": encounter, "service": service, "consent": True},
    }[kind]
    # The encounter's edit names the encounter itself; every other record is new.
    entity = encounter if kind == "encounter.upsert" else uuid.uuid4()
    return change(kind, entity, {**data, "occurred_at": timezone.now().isoformat()})


CREW_COMMANDS = ("encounter.upsert", "service.create", "naloxone.create", "referral.create")


@pytest.mark.parametrize("kind", CREW_COMMANDS)
@pytest.mark.parametrize("target", ["own", "another_crews", "own_units_past"])
def test_the_crew_records_on_its_own_calls_and_nobody_elses(
    kind, target, dispatched, client_for, people, units
):
    call = dispatched()
    care1 = client_for("care1")
    encounter = str(uuid.uuid4())
    opened = change("encounter.upsert", encounter, {"assignment": call["care"], "notes": "n"})
    assert [r["status"] for r in results(care1, opened)] == ["applied"]
    service = client_for("coordinator").get("/api/v1/directory/services").json()[0]["id"]
    actor = "care1" if target == "own" else "care3"
    if target == "own_units_past":
        _cleared(care1, call["care"])
        put_on_shift(people["care3"], units["CARE-1"])  # joins CARE-1 after the call closed
    answer = results(client_for(actor), _mutation(kind, call, encounter, service))[0]
    if target == "own":
        assert answer["status"] == "applied", answer
    else:
        assert (answer["status"], answer.get("code")) == ("rejected", "not_found"), answer


# ---- the property: nobody reads a call they were not on --------------------------------------

CARE_PEOPLE = ("care1", "care3", "care5")
CARE_UNITS = ("CARE-1", "CARE-2")

steps = st.lists(
    st.one_of(
        st.tuples(st.just("join"), st.sampled_from(CARE_PEOPLE), st.sampled_from(CARE_UNITS)),
        st.tuples(st.just("call"), st.just(""), st.sampled_from(CARE_UNITS)),
        st.tuples(st.just("sign_on"), st.sampled_from(CARE_PEOPLE), st.sampled_from(CARE_UNITS)),
        st.tuples(st.just("sign_off"), st.sampled_from(CARE_PEOPLE), st.just("")),
        st.tuples(st.just("call"), st.just(""), st.sampled_from(CARE_UNITS)),
        st.tuples(st.just("make_officer"), st.sampled_from(CARE_PEOPLE), st.just("")),
        st.tuples(st.just("make_responder"), st.sampled_from(CARE_PEOPLE), st.just("")),
    ),
    min_size=4,
    max_size=14,
)


class World:
    """The test's own account of who was on which unit when, and which call each served."""

    def __init__(self, people: dict, units: dict):
        self.people, self.units = people, units
        self.on: dict[str, str | None] = dict.fromkeys(CARE_PEOPLE)
        self.role = dict.fromkeys(CARE_PEOPLE, Role.CARE_RESPONDER)
        self.rostered: set[tuple[str, str]] = set()
        self.calls: list[tuple[str, frozenset[str]]] = []  # (encounter id, crew)
        self.clients = {name: _tablet(name) for name in ("dispatcher", *CARE_PEOPLE)}

    def roster(self, person: str, unit: str) -> None:
        answer = _tablet("admin").post(
            "/api/v1/rosters",
            {
                "unit": self.units[unit].pk,
                "user": self.people[person].pk,
                "first_day": timezone.localdate().isoformat(),
            },
            format="json",
        )
        expected = self.role[person] == Role.CARE_RESPONDER
        assert (answer.status_code == 201) == expected, answer.content
        if expected:
            self.rostered.add((person, unit))

    def join(self, person: str, unit: str) -> None:
        """A supervisor rosters them on the unit, then they sign on from their tablet."""
        self.roster(person, unit)
        self.sign_on(person, unit)

    def sign_on(self, person: str, unit: str) -> None:
        answer = self.clients[person].post(
            "/api/v1/shifts", {"unit": self.units[unit].pk}, format="json"
        )
        allowed = (
            self.role[person] == Role.CARE_RESPONDER
            and (person, unit) in self.rostered
            and self.on[person] is None
        )
        assert (answer.status_code == 201) == allowed, (person, unit, answer.content)
        if allowed:
            self.on[person] = unit

    def sign_off(self, person: str, _: str) -> None:
        shift = Shift.objects.filter(user=self.people[person], ended_at__isnull=True).first()
        if shift is None:
            assert self.on[person] is None
            return
        answer = self.clients[person].post(f"/api/v1/shifts/{shift.pk}/end")
        assert answer.status_code == 200, answer.content
        self.on[person] = None

    def call(self, _: str, unit: str) -> None:
        crew = frozenset(p for p, u in self.on.items() if u == unit)
        if not crew:
            return
        dispatcher = self.clients["dispatcher"]
        incident = dispatcher.post("/api/v1/incidents", call_body(), format="json").json()
        sent = dispatcher.post(
            f"/api/v1/incidents/{incident['id']}/dispatch",
            {"care_unit": self.units[unit].pk, "spd_unit": self.units["2M12"].pk},
            format="json",
        )
        assert sent.status_code == 201, sent.content
        care = next(a["id"] for a in sent.json()["assignments"] if a["kind"] == "care")
        member = self.clients[sorted(crew)[0]]
        encounter = str(uuid.uuid4())
        opened = change("encounter.upsert", encounter, {"assignment": care, "notes": "private"})
        assert [r["status"] for r in results(member, opened)] == ["applied"]
        _cleared(member, care)
        cancelled = dispatcher.post(
            f"/api/v1/incidents/{incident['id']}/cancel",
            {"reason": "police done"},
            format="json",
        )
        assert cancelled.status_code == 200, cancelled.content
        self.calls.append((encounter, crew))

    def make_officer(self, person: str, _: str) -> None:
        self._set_role(person, Role.SPD_OFFICER)

    def make_responder(self, person: str, _: str) -> None:
        self._set_role(person, Role.CARE_RESPONDER)

    def _set_role(self, person: str, role: str) -> None:
        try:
            with transaction.atomic():
                User.objects.filter(pk=self.people[person].pk).update(role=role)
            changed = True
        except IntegrityError:
            changed = False
        # Only someone on no unit may take a role of another kind.
        assert changed == (self.on[person] is None or role == self.role[person])
        if changed:
            self.role[person] = role

    def check(self) -> None:
        for person in CARE_PEOPLE:
            client = self.clients[person]
            mine = {e for e, crew in self.calls if person in crew}
            may_read = self.role[person] == Role.CARE_RESPONDER
            for encounter, _ in self.calls:
                status = client.get(f"/api/v1/encounters/{encounter}").status_code
                assert (status == 200) == (may_read and encounter in mine), (person, encounter)
            pulled = client.get("/api/v1/sync/pull?limit=1000").json()
            seen = {
                e["data"].get("id")
                for e in pulled.get("events", [])
                if e["kind"].startswith("encounter.")
            }
            assert seen <= mine, (person, seen - mine)
            snapshot = client.get("/api/v1/sync/snapshot").json()
            held = {e["id"] for e in snapshot.get("encounters", [])}
            assert held <= mine, (person, held - mine)


def _tablet(username: str) -> APIClient:
    client = APIClient()
    answer = client.post(
        "/api/v1/auth/token",
        {"username": username, "password": PASSWORD, "device_name": f"{username}-p"},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    client.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")
    return client


@settings(
    max_examples=int(os.environ.get("CARE_POLICY_EXAMPLES", "15")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
def test_nobody_reads_a_clinical_record_of_a_call_they_were_not_on(plan, people, units):
    with transaction.atomic():
        User.objects.create_user(username="care5", password=PASSWORD, role=Role.CARE_RESPONDER)
        everyone = {u.username: u for u in User.objects.all()}
        # The day starts with every CARE responder off duty and no roster.
        Shift.objects.filter(user__role=Role.CARE_RESPONDER).update(ended_at=timezone.now())
        User.objects.filter(role=Role.CARE_RESPONDER).update(unit=None)
        RosterEntry.objects.all().delete()
        Unit.objects.filter(kind="care").update(duty_status="off_duty")
        world = World(everyone, units)
        world.join("care1", "CARE-1")  # a day under way: two crews on, the third person off
        world.join("care3", "CARE-2")
        for action, person, unit in plan:
            getattr(world, action)(person, unit)
            world.check()
        event(f"calls served: {len(world.calls)}")
        transaction.set_rollback(True)
