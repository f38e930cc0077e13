"""The sync engine against the real server: drains the outbox in order, retries the same ids after
a lost answer, keeps the server's copy on conflict, shows refusals, pages the feed, and survives a
12-hour shift offline."""

from __future__ import annotations

import datetime
import io
import random
import threading
import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from mobile.client.api import Offline
from mobile.client.store import CONFLICT, DONE, REJECTED
from mobile.client.sync_engine import SyncEngine
from server.accounts.models import User
from server.care.models import Encounter, NaloxoneAdministration, ServiceGiven
from server.dispatch.models import Assignment
from server.feed.models import Event, Stream
from server.sync.models import AppliedMutation
from tests.mobile.client.faults import faulty_session


@pytest.fixture
def crew(field_server, tablet_for):
    """A CARE responder's tablet (on a faulty network) with a call dispatched to its unit."""
    username, care, spd = field_server.new_crew()
    call = field_server.dispatch(care, spd)
    session, network = faulty_session()
    tablet = tablet_for(username, session=session, timeout=5)
    return tablet, network, call


def _on_scene(tablet, call) -> str:
    for to in ("acknowledged", "en_route", "on_scene"):
        tablet.recorder.transition(call["care"], to)
    return tablet.recorder.open_encounter(call["care"], people_contacted=1)


def test_queued_changes_are_applied_on_the_server_in_the_order_they_were_made(crew):
    tablet, _, call = crew
    encounter = _on_scene(tablet, call)
    service = tablet.recorder.log_service(encounter, "basic-needs")
    assert tablet.engine.sync_once()
    assert tablet.store.queued_count() == 0
    assert Assignment.objects.get(pk=call["care"]).status == "on_scene"
    assert ServiceGiven.objects.filter(pk=service).count() == 1
    assert tablet.store.assignment(call["care"])["status"] == "on_scene"
    assert tablet.store.record(encounter)["version"] == 1


def test_a_lost_answer_is_retried_with_the_same_ids_and_applied_once(crew):
    tablet, network, call = crew
    encounter = _on_scene(tablet, call)
    dose = tablet.recorder.log_naloxone(encounter)
    ids = [m.id for m in tablet.store.pending()]
    network.arm("drop_after")
    assert not tablet.engine.sync_once()
    assert tablet.engine.state.online is False
    assert [m.id for m in tablet.store.pending()] == ids  # same ids, still pending
    assert tablet.engine.sync_once()
    assert AppliedMutation.objects.filter(pk__in=ids).count() == len(ids)
    assert NaloxoneAdministration.objects.filter(pk=dose).count() == 1
    assert Assignment.objects.get(pk=call["care"]).transitions.count() == 3
    assert {m.state for m in tablet.store.mutations()} == {DONE}


def test_a_transition_for_a_call_cancelled_while_offline_is_rejected_and_shown(crew, field_server):
    tablet, network, call = crew
    network.offline()
    tablet.recorder.transition(call["care"], "acknowledged")
    assert not tablet.engine.sync_once()
    field_server.cancel(call["incident"])
    network.online()
    assert tablet.engine.sync_once()
    (refused,) = tablet.engine.state.rejected
    assert refused.state == REJECTED and "cancelled while you were offline" in refused.reason
    # The server's copy wins: the call is cancelled on the tablet too (or gone from it).
    held = tablet.store.assignment(call["care"])
    assert held is None or held["status"] == "cancelled"


def test_an_edit_that_clashes_with_a_newer_server_edit_keeps_the_servers_copy(crew, people):
    tablet, _, call = crew
    encounter = _on_scene(tablet, call)
    tablet.engine.sync_once()
    # Someone else (an admin correcting the record) changes the notes on the server.
    from server.care.services import upsert_encounter

    upsert_encounter(
        actor=people["admin"],
        encounter_id=encounter,
        assignment_id=call["care"],
        base_version=1,
        changes={"notes": "Corrected by the supervisor."},
    )
    tablet.recorder.edit_encounter(encounter, notes="Offered water, declined shelter.")
    assert tablet.engine.sync_once()
    (mutation,) = tablet.store.mutations(CONFLICT)
    assert mutation.entity_id == encounter
    assert tablet.store.record(encounter)["notes"] == "Corrected by the supervisor."
    assert Encounter.objects.get(pk=encounter).notes == "Corrected by the supervisor."


def test_pull_pages_through_the_feed_and_stores_cursors_after_each_page(crew):
    tablet, _, call = crew
    encounter = _on_scene(tablet, call)
    for _ in range(5):
        tablet.recorder.log_service(encounter, "basic-needs")
    tablet.engine.page_size = 2
    tablet.engine.sync_once()
    streams = tablet.store.cursors()
    unit_stream = next(s for s in streams if s.startswith("unit:"))
    assert streams[unit_stream] >= 9  # dispatch, 3 transitions, encounter, 5 services
    assert len(tablet.store.records("service", parent=encounter)) == 5


def test_the_sync_state_tells_listeners_about_queued_changes_and_the_network(crew):
    tablet, network, call = crew
    seen = []
    tablet.engine.add_listener(seen.append)
    network.offline()
    tablet.recorder.transition(call["care"], "acknowledged")
    tablet.engine.sync_once()
    assert seen[-1].online is False and seen[-1].queued == 1 and seen[-1].last_error
    network.online()
    tablet.engine.sync_once()
    assert seen[-1].online is True and seen[-1].queued == 0 and seen[-1].last_sync


# Only guards against a hang: the engine gets there long before this.
HANG_SECONDS = 60


def test_recording_never_waits_for_the_network(crew):
    tablet, network, call = crew
    tablet.recorder.transition(call["care"], "acknowledged")
    network.stall()  # the link stops moving: the next request hangs at the door
    tablet.start(live=False)
    assert network.stalled.wait(HANG_SECONDS)  # the engine is stuck inside a push
    try:
        # Recording while the sync thread is stuck returns at once and shows the change.
        tablet.recorder.transition(call["care"], "en_route")
        assert tablet.store.assignment(call["care"])["status"] == "en_route"
        assert tablet.store.queued_count() == 2
    finally:
        network.release()
    drained = threading.Event()
    tablet.engine.add_listener(lambda state: state.queued == 0 and drained.set())
    tablet.engine.nudge()
    assert drained.wait(HANG_SECONDS)
    tablet.engine.stop()
    assert Assignment.objects.get(pk=call["care"]).status == "en_route"


def test_the_background_thread_drains_the_outbox_once_the_network_is_back(crew):
    tablet, network, call = crew
    tablet.engine.base_delay = tablet.engine.max_delay = 0.05
    drained = threading.Event()
    tablet.engine.add_listener(lambda state: state.online and state.queued == 0 and drained.set())
    network.offline()
    tablet.recorder.transition(call["care"], "acknowledged")
    tablet.start(live=False)
    # Nobody nudges it from here: the engine's own backoff brings it back.
    assert _until(lambda: tablet.engine.failures >= 2)  # it failed, and tried again by itself
    drained.clear()
    network.online()
    assert drained.wait(HANG_SECONDS), "the engine never retried on its own"
    tablet.engine.stop()
    assert Assignment.objects.get(pk=call["care"]).status == "acknowledged"


def _until(check) -> bool:
    deadline = time.monotonic() + HANG_SECONDS
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_change_the_server_failed_on_stays_queued_and_is_sent_again(crew, monkeypatch):
    from server.sync import push as push_module

    tablet, _, call = crew
    encounter = _on_scene(tablet, call)
    assert tablet.engine.sync_once()
    run = push_module._run

    def fails(command, actor, device, mutation):
        if command.name == "service.create":
            raise RuntimeError("a fault of the server's own (test)")
        return run(command, actor, device, mutation)

    monkeypatch.setattr(push_module, "_run", fails)
    service = tablet.recorder.log_service(encounter, "basic-needs")
    assert not tablet.engine.sync_once()
    assert tablet.engine.failures == 1  # backs off as from any server trouble, no hot retry
    [waiting] = tablet.store.pending()
    assert waiting.entity_id == service  # still queued, not refused
    assert tablet.engine.state.rejected == ()
    assert tablet.store.record(service) is not None  # the record stays on the tablet
    assert not ServiceGiven.objects.filter(pk=service).exists()

    monkeypatch.setattr(push_module, "_run", run)  # the fault is gone
    assert tablet.engine.sync_once()
    assert tablet.store.queued_count() == 0
    assert ServiceGiven.objects.filter(pk=service).count() == 1


def test_a_503_leaves_the_change_queued_and_the_engine_backing_off(crew):
    tablet, network, call = crew
    tablet.recorder.transition(call["care"], "acknowledged")
    network.arm("server_error")
    assert not tablet.engine.sync_once()
    state = tablet.engine.state
    assert state.online is False and "restarting" in state.last_error
    assert not state.signed_out and not state.revoked
    assert tablet.engine.failures == 1  # counted for the backoff
    assert tablet.store.queued_count() == 1
    assert Assignment.objects.get(pk=call["care"]).status == "dispatched"
    assert tablet.engine.sync_once()
    assert Assignment.objects.get(pk=call["care"]).status == "acknowledged"


def test_a_signed_out_token_stops_the_engine_and_keeps_the_outbox(crew):
    from server.accounts.models import DeviceToken
    from server.accounts.services import sign_out

    tablet, _, call = crew
    tablet.recorder.transition(call["care"], "acknowledged")
    sign_out(token=DeviceToken.objects.get(key_hash=DeviceToken.hash(tablet.store.token)))
    tablet.engine.revocation_check = lambda: False  # the feed would say "not revoked" (4401)

    assert not tablet.engine.sync_once()

    state = tablet.engine.state
    assert state.signed_out and not state.revoked
    assert tablet.store.queued_count() == 1  # waits for the next sign-in
    assert tablet.store.assignment(call["care"])["status"] == "acknowledged"


def test_a_revoked_tablet_is_wiped_when_the_engine_meets_the_401(crew, people):
    from server.accounts.models import Device
    from server.accounts.services import revoke_device

    tablet, _, call = crew
    tablet.recorder.transition(call["care"], "acknowledged")
    device = Device.objects.get(pk=tablet.store.get_setting("device_id"))
    revoke_device(actor=people["admin"], device=device, reason="tablet lost")
    tablet.engine.revocation_check = lambda: True  # the feed's hello was closed 4403

    assert not tablet.engine.sync_once()

    assert tablet.engine.state.revoked
    assert tablet.store.token is None
    assert tablet.store.queued_count() == 0 and tablet.store.assignments() == []


def test_a_create_the_server_refuses_is_removed_from_the_tablet_and_shown(crew):
    tablet, _, call = crew
    encounter = _on_scene(tablet, call)
    assert tablet.engine.sync_once()
    # A service the server's catalog doesn't have (an older tablet's list, say).
    service = tablet.recorder.log_service(encounter, "no-such-service")
    assert tablet.store.record(service) is not None

    tablet.engine.sync_once()

    refused = [m for m in tablet.engine.state.rejected if m.entity_id == service]
    assert len(refused) == 1 and refused[0].reason
    assert tablet.store.record(service) is None  # it existed only here: gone
    assert not ServiceGiven.objects.filter(pk=service).exists()


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling(tmp_path, refused_url):
    from mobile.client.api import ApiClient
    from mobile.client.store import Store

    engine = SyncEngine(
        Store(tmp_path / "t.sqlite3"),
        ApiClient(refused_url),
        base_delay=1,
        max_delay=30,
        rng=random.Random(4),
    )
    delays = []
    for failures in (1, 2, 3, 4, 10):
        engine.failures = failures
        delays.append(engine.backoff_delay())
    assert 0.5 <= delays[0] <= 1 and 1 <= delays[1] <= 2 and 2 <= delays[2] <= 4
    assert 15 <= delays[4] <= 30


def test_an_unreachable_server_is_offline_not_an_error_for_the_user(tmp_path, refused_url):
    from mobile.client.api import ApiClient

    with pytest.raises(Offline, match="No answer"):
        ApiClient(refused_url, timeout=1).protocol()


def test_synced_clinical_details_are_purged_after_the_retention_time(crew):
    tablet, _, call = crew
    encounter = _on_scene(tablet, call)
    tablet.engine.sync_once()
    assert tablet.store.record(encounter) is not None
    tablet.engine.retention = datetime.timedelta(0)
    tablet.engine.sync_once()
    assert tablet.store.record(encounter) is None
    assert Encounter.objects.filter(pk=encounter).exists()  # only the tablet forgets


def test_a_tablet_offline_for_a_twelve_hour_shift_syncs_a_thousand_records(crew):
    tablet, network, call = crew
    network.offline()
    encounter = _on_scene(tablet, call)
    # The team was sent out at the start of the shift, twelve hours before it syncs.
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=12)
    Assignment.objects.update(dispatched_at=start - datetime.timedelta(minutes=5))
    for i in range(996):
        tablet.recorder.log_service(
            encounter, "basic-needs", at=start + datetime.timedelta(seconds=43 * i)
        )
    assert tablet.store.queued_count() == 1000
    network.online()
    assert tablet.engine.sync_once(), tablet.engine.state.last_error
    assert tablet.store.queued_count() == 0
    assert ServiceGiven.objects.filter(encounter_id=encounter).count() == 996
    assert len(tablet.store.records("service", parent=encounter)) == 996


def test_an_officer_signs_in_with_the_protocol_and_its_call_but_no_care_directory(
    field_server, tablet_for, units
):
    call = field_server.dispatch(units["CARE-1"], units["2M12"])
    tablet = tablet_for("officer1")
    assert tablet.store.get_setting("protocol")["transitions"]["spd"]
    assert tablet.store.get_setting("directory") == []
    assert tablet.store.assignment(call["spd"])["status"] == "dispatched"
    assert tablet.recorder.allowed_next(call["spd"]) == ["acknowledged"]


def test_a_cursor_the_server_no_longer_serves_resyncs_from_a_snapshot_then_its_cursors(
    crew, field_server
):
    """410 `cursor_expired`: the snapshot first (a call cancelled meanwhile leaves the tablet:
    the snapshot holds open calls only), then events from the snapshot's cursors, which keep the
    tablet current afterwards."""
    tablet, network, call = crew
    tablet.engine.pull()
    unit = next(s for s in tablet.store.cursors() if s.startswith("unit:"))
    # While the tablet was away: the call was cancelled and the server pruned those events.
    field_server.cancel(call["incident"])
    Event.objects.filter(stream_id=unit).update(
        created_at=timezone.now() - datetime.timedelta(days=60)
    )
    call_command("prune_events", stdout=io.StringIO())
    heard = []
    tablet.engine.add_listener(heard.append)
    network.seen.clear()
    assert tablet.engine.sync_once()
    asked = [path.rsplit("/", 1)[-1] for _, path in network.seen]
    assert asked == ["pull", "snapshot", "pull"]
    assert tablet.store.assignment(call["care"]) is None
    snapshot_cursor = tablet.store.cursors()[unit]
    assert snapshot_cursor == Stream.objects.get(name=unit).last_seq
    assert heard and heard[-1].server_changes >= 1

    # A new call after the resync reaches the tablet from the snapshot's cursor on.
    care = User.objects.get(username=tablet.store.get_setting("user")["username"]).unit
    fresh = field_server.dispatch(care, field_server.new_crew()[2])
    assert tablet.engine.sync_once()
    assert tablet.store.assignment(fresh["care"])["status"] == "dispatched"
    assert tablet.store.cursors()[unit] > snapshot_cursor
