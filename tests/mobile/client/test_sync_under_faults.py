"""The tablet's promise, tested as a state machine: whatever the order of dropped requests, lost
answers, duplicated and racing retries, dead networks and app restarts, every change recorded on
the tablet is applied on the real server exactly once, and once synced the tablet shows exactly
what the server has.

Examples: 200 by default; CARE_HYPOTHESIS_EXAMPLES raises it for long runs.
"""

from __future__ import annotations

import os
import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from mobile.client.store import CONFLICT, DONE, PENDING, REJECTED
from mobile.client.tablet import Tablet
from server.accounts.models import User
from server.accounts.services import issue_device_token
from server.care.models import Encounter, NaloxoneAdministration, Referral, ServiceGiven
from server.dispatch.models import Assignment
from server.sync.models import AppliedMutation
from tests.conftest import PASSWORD
from tests.mobile.client.faults import FAULTS, faulty_session

EXAMPLES = int(os.environ.get("CARE_HYPOTHESIS_EXAMPLES", "200"))
SERVICES = ["basic-needs", "de-escalation", "first-aid", "resource-navigation"]
NOTES = ["Declined shelter.", "Accepted a ride to the day center.", "Sleeping; left water."]
SERVER_STATUS = {DONE: "applied", REJECTED: "rejected", CONFLICT: "conflict"}


class TabletOnAFaultyNetwork(RuleBasedStateMachine):
    field_server = None  # set by the test
    reference = None
    folder = None

    @initialize()
    def a_crew_is_dispatched_and_signs_in(self):
        self.username, care, spd = self.field_server.new_crew()
        self.call = self.field_server.dispatch(care, spd)
        self.path = self.folder / f"{uuid.uuid4().hex}.sqlite3"
        self.tablet = self._open(server_url=self.field_server.url)
        cls = type(self)
        if cls.reference is None:
            # The first example signs in through the API and keeps the reference data...
            self.tablet.sign_in(self.username, PASSWORD, "tablet")
            cls.reference = {k: self.tablet.store.get_setting(k) for k in ("protocol", "directory")}
        else:
            # ...later ones take a token from the accounts service and pull their call.
            user = User.objects.get(username=self.username)
            token, device = issue_device_token(
                username=self.username, password=PASSWORD, device_name="tablet"
            )
            self.tablet.client.token = token
            self.tablet.store.set_settings(
                token=token,
                device_id=str(device.pk),
                user={"id": user.pk, "username": user.username, "role": user.role},
                **cls.reference,
            )
            self.tablet.engine.pull()
        assert self.assignment["status"] == "dispatched"
        self.cancelled = False

    def _open(self, server_url: str | None = None) -> Tablet:
        session, self.network = faulty_session()
        # Small batches so one sync is several pushes and faults land between them.
        return Tablet(
            self.path,
            server_url=server_url,
            session=session,
            timeout=10,
            batch_size=4,
            page_size=10,
        )

    def teardown(self):
        if hasattr(self, "tablet"):
            self.network.online()
            self.network.armed.clear()
            for _ in range(5):
                if self.tablet.engine.sync_once() and self.tablet.store.queued_count() == 0:
                    break
            self._every_mutation_applied_exactly_once()
            assert self.tablet.store.queued_count() == 0, self.tablet.engine.state.last_error
            self._view_equals_server()
            self.tablet.close()

    # ---- what a responder does ---------------------------------------------------------------

    @property
    def assignment(self) -> dict:
        return self.tablet.store.assignment(self.call["care"])

    @property
    def encounter(self) -> dict | None:
        return self.tablet.store.encounter_for(self.call["care"])

    @precondition(lambda self: self.tablet.recorder.allowed_next(self.call["care"]))
    @rule(data=st.data())
    def move_the_assignment(self, data):
        to = data.draw(st.sampled_from(self.tablet.recorder.allowed_next(self.call["care"])))
        self.tablet.recorder.transition(self.call["care"], to)

    @precondition(lambda self: self.encounter is None)
    @rule()
    def open_the_encounter(self):
        self.tablet.recorder.open_encounter(self.call["care"], people_contacted=1)

    @precondition(lambda self: self.encounter is not None)
    @rule(notes=st.sampled_from(NOTES), people=st.integers(1, 4))
    def edit_the_encounter(self, notes, people):
        self.tablet.recorder.edit_encounter(
            self.encounter["id"], notes=notes, people_contacted=people
        )

    @precondition(lambda self: self.encounter is not None)
    @rule(service=st.sampled_from(SERVICES))
    def log_a_service(self, service):
        self.tablet.recorder.log_service(self.encounter["id"], service)

    @precondition(lambda self: self.encounter is not None)
    @rule()
    def log_naloxone(self):
        self.tablet.recorder.log_naloxone(self.encounter["id"])

    @precondition(lambda self: self.encounter is not None)
    @rule(consent=st.booleans())
    def refer(self, consent):
        destination = self.tablet.store.directory()[0]["id"]
        self.tablet.recorder.refer(self.encounter["id"], destination, consent=consent)

    # ---- what the world does -----------------------------------------------------------------

    @rule()
    def sync(self):
        self.tablet.engine.sync_once()

    @rule(faults=st.lists(st.sampled_from(FAULTS), min_size=1, max_size=3))
    def sync_through_faults(self, faults):
        self.network.arm(*faults)
        self.tablet.engine.sync_once()
        self.network.armed.clear()

    @rule()
    def lose_the_network(self):
        self.network.offline()

    @rule()
    def find_the_network(self):
        self.network.online()

    @rule(fault=st.sampled_from(FAULTS))
    def kill_and_restart_the_app(self, fault):
        """The app dies right after a push that went wrong, and reopens its store from the file."""
        self.network.arm(fault)
        self.tablet.engine.sync_once(pull=False)
        offline = self.network.is_offline
        self.tablet.close()
        self.tablet = self._open()
        if offline:
            self.network.offline()

    @precondition(lambda self: not self.cancelled)
    @rule()
    def dispatch_cancels_the_call(self):
        self.field_server.cancel(self.call["incident"])
        self.cancelled = True

    # ---- the promise -------------------------------------------------------------------------

    @invariant()
    def every_change_is_applied_at_most_once_and_finished_ones_exactly_once(self):
        if hasattr(self, "tablet"):
            self._every_mutation_applied_exactly_once(final=False)

    def _every_mutation_applied_exactly_once(self, final: bool = True) -> None:
        made = {m.id: m for m in self.tablet.store.mutations()}
        stored = {
            str(a.pk): a
            for a in AppliedMutation.objects.filter(device__user__username=self.username)
        }
        assert set(stored) <= set(made), "the server holds a change the tablet never made"
        for mutation in made.values():
            if mutation.state in SERVER_STATUS:
                assert stored[mutation.id].status == SERVER_STATUS[mutation.state], mutation
            elif final:
                raise AssertionError(f"{mutation} never finished")
        applied = {i for i, a in stored.items() if a.status == "applied"}
        transitions = sum(1 for i in applied if made[i].type == "assignment.transition")
        # Each applied transition is one row of history; the dispatcher's cancel is one more.
        history = Assignment.objects.get(pk=self.call["care"]).transitions.exclude(
            to_status="cancelled", device__user__username=self.username
        )
        rows = history.filter(device__user__username=self.username).count()
        assert rows == transitions
        for model, kind in (
            (ServiceGiven, "service.create"),
            (NaloxoneAdministration, "naloxone.create"),
            (Referral, "referral.create"),
        ):
            ids = {made[i].entity_id for i in applied if made[i].type == kind}
            found = set(
                str(pk)
                for pk in model.objects.filter(
                    encounter__assignment_id=self.call["care"]
                ).values_list("pk", flat=True)
            )
            assert found == ids, kind

    def _view_equals_server(self) -> None:
        server = Assignment.objects.get(pk=self.call["care"])
        mine = self.assignment
        assert (mine["status"], mine["version"]) == (server.status, server.version)
        encounter = Encounter.objects.filter(assignment_id=self.call["care"]).first()
        local = self.encounter
        if encounter is None:
            assert local is None
            return
        assert local is not None and local["id"] == str(encounter.pk)
        assert (local["version"], local["notes"], local["people_contacted"]) == (
            encounter.version,
            encounter.notes,
            encounter.people_contacted,
        )
        for model, kind in (
            (ServiceGiven, "service"),
            (NaloxoneAdministration, "naloxone"),
            (Referral, "referral"),
        ):
            on_server = {
                str(pk)
                for pk in model.objects.filter(encounter=encounter).values_list("pk", flat=True)
            }
            on_tablet = {r["id"] for r in self.tablet.store.records(kind, parent=str(encounter.pk))}
            assert on_tablet == on_server, kind
        assert not any(m.state in PENDING for m in self.tablet.store.mutations())


@pytest.mark.postgres
def test_every_change_is_applied_exactly_once_whatever_the_network_does(field_server, tmp_path):
    TabletOnAFaultyNetwork.field_server = field_server
    TabletOnAFaultyNetwork.folder = tmp_path
    TabletOnAFaultyNetwork.reference = None
    run_state_machine_as_test(
        TabletOnAFaultyNetwork,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=False,
        ),
    )
