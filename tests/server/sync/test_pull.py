"""Pull as a tablet without a socket uses it: pages, cursors, the retention the server keeps, the
410 that tells a device its copy is too old, and the snapshot it resyncs from."""

from __future__ import annotations

import datetime
import io
import threading
import uuid

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from server.audit.models import AuditEntry
from server.dispatch.incidents import services as dispatch
from server.feed.models import Event, Stream
from server.feed.services import publish_event
from tests.server.dispatch.conftest import reference  # noqa: F401 - the fast reference data

PULL = "/api/v1/sync/pull"
SNAPSHOT = "/api/v1/sync/snapshot"


def cursor_text(cursors: dict[str, int]) -> str:
    return ",".join(f"{stream}:{seq}" for stream, seq in cursors.items())


def pull(client, cursors: dict[str, int] | None = None, **params):
    query = dict(params)
    if cursors is not None:
        query["cursors"] = cursor_text(cursors)
    return client.get(PULL, query)


def fill(stream: str, count: int) -> None:
    for n in range(count):
        publish_event(stream=stream, kind="test.note", data={"n": n})


@pytest.fixture
def care1(client_for):
    return client_for("care1")


@pytest.fixture
def unit1(units) -> str:
    return f"unit:{units['CARE-1'].pk}"


# ---- paging --------------------------------------------------------------------------------


def test_a_device_walks_the_feed_page_by_page_and_sees_every_event_once_in_order(
    care1, unit1, people
):
    fill(unit1, 7)
    fill(f"user:{people['care1'].pk}", 2)
    cursors = {unit1: 0, f"user:{people['care1'].pk}": 0, "directory": 0}
    seen, pages = [], 0
    while True:
        answer = pull(care1, cursors, limit=3)
        assert answer.status_code == 200, answer.content
        body = answer.json()
        assert len(body["events"]) <= 3
        seen.extend((e["stream"], e["seq"]) for e in body["events"])
        cursors = body["cursors"]  # stored only now, after the page is applied
        pages += 1
        if not body["has_more"]:
            break
    assert pages == 3
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 9
    assert cursors[unit1] == 7 and cursors[f"user:{people['care1'].pk}"] == 2


def test_a_pull_at_the_head_of_every_stream_is_empty_and_says_nothing_more(care1, unit1):
    fill(unit1, 2)
    body = pull(care1, {unit1: 2}).json()
    assert body == {"events": [], "cursors": {unit1: 2}, "has_more": False}


def test_a_page_that_ends_exactly_at_the_last_event_says_nothing_more(care1, unit1):
    fill(unit1, 3)
    body = pull(care1, {unit1: 0}, limit=3).json()
    assert [e["seq"] for e in body["events"]] == [1, 2, 3] and body["has_more"] is False


def test_a_pull_without_cursors_starts_every_readable_stream_from_the_beginning(
    care1, unit1, people
):
    fill(unit1, 1)
    fill("dispatch", 1)  # not CARE's to read
    body = pull(care1).json()
    assert [e["stream"] for e in body["events"]] == [unit1]
    assert set(body["cursors"]) == {unit1, f"user:{people['care1'].pk}", "directory"}


def test_a_stream_the_caller_may_not_read_is_refused(care1):
    answer = pull(care1, {"dispatch": 0})
    assert answer.status_code == 403 and answer.json()["streams"] == ["dispatch"]


@pytest.mark.parametrize("limit", ["abc", "-5", "0", "100000"])
def test_a_nonsense_limit_is_bounded_not_an_error(care1, unit1, limit):
    fill(unit1, 2)
    answer = pull(care1, {unit1: 0}, limit=limit)
    assert answer.status_code == 200 and 1 <= len(answer.json()["events"]) <= 2


# ---- retention and 410 ---------------------------------------------------------------------


def age(stream: str, *, days: float, seqs: list[int]) -> None:
    Event.objects.filter(stream_id=stream, seq__in=seqs).update(
        created_at=timezone.now() - datetime.timedelta(days=days)
    )


def test_prune_events_deletes_old_events_but_never_a_streams_last(unit1, settings):
    settings.CARE_EVENT_RETENTION_DAYS = 14
    fill(unit1, 5)
    fill("dispatch", 2)
    age(unit1, days=20, seqs=[1, 2, 3])
    age("dispatch", days=20, seqs=[1, 2])  # all old, yet the last stays
    out = io.StringIO()
    call_command("prune_events", stdout=out)
    assert "Deleted 4 events" in out.getvalue()
    assert list(Event.objects.filter(stream_id=unit1).values_list("seq", flat=True)) == [4, 5]
    assert list(Event.objects.filter(stream_id="dispatch").values_list("seq", flat=True)) == [2]
    assert AuditEntry.objects.filter(action="events.pruned").get().after["deleted"] == 4


def test_prune_events_takes_a_shorter_retention_on_the_command_line(unit1):
    fill(unit1, 3)
    age(unit1, days=2, seqs=[1, 2])
    call_command("prune_events", days=1, stdout=io.StringIO())
    assert list(Event.objects.filter(stream_id=unit1).values_list("seq", flat=True)) == [3]


def test_a_cursor_older_than_what_the_server_keeps_answers_410_with_the_streams(care1, unit1):
    fill(unit1, 5)
    age(unit1, days=30, seqs=[1, 2, 3])
    call_command("prune_events", stdout=io.StringIO())
    answer = pull(care1, {unit1: 1})
    assert answer.status_code == 410
    body = answer.json()
    assert body["code"] == "cursor_expired" and body["streams"] == [unit1]
    assert "snapshot" in body["detail"]
    # Right before the first kept event is still a cursor the feed can continue.
    assert [e["seq"] for e in pull(care1, {unit1: 3}).json()["events"]] == [4, 5]


def test_a_cursor_past_anything_the_server_numbered_answers_410(care1, unit1):
    fill(unit1, 2)
    answer = pull(care1, {unit1: 40})
    assert answer.status_code == 410 and answer.json()["streams"] == [unit1]


# ---- the snapshot --------------------------------------------------------------------------


def test_the_snapshot_holds_the_callers_open_assignments_protocol_directory_and_cursors(
    dispatched, care1, unit1, client_for, people
):
    mine = dispatched()
    body = care1.get(SNAPSHOT).json()
    assert [a["id"] for a in body["assignments"]] == [mine["care"]]
    assert body["assignments"] == client_for("care1").get("/api/v1/assignments?open=1").json()
    assert body["protocol"] == care1.get("/api/v1/protocol").json()
    assert body["directory"] == care1.get("/api/v1/directory/services").json()
    last = Stream.objects.get(name=unit1).last_seq
    assert body["cursors"] == {f"user:{people['care1'].pk}": 0, unit1: last, "directory": 0}


def test_a_responders_snapshot_carries_its_teams_records_on_open_calls_and_audits_the_read(
    dispatched, care1, client_for
):
    call = dispatched()
    encounter_id = str(uuid.uuid4())
    opened = care1.put(
        f"/api/v1/encounters/{encounter_id}",
        {"assignment": call["care"], "people_contacted": 1, "notes": "Talking."},
        format="json",
    )
    assert opened.status_code == 201, opened.content
    given = care1.post(
        "/api/v1/services-given",
        {
            "id": str(uuid.uuid4()),
            "encounter": encounter_id,
            "service": "first-aid",
            "occurred_at": timezone.now().isoformat(),
        },
        format="json",
    )
    assert given.status_code == 201, given.content
    body = care1.get(SNAPSHOT).json()
    assert [e["id"] for e in body["encounters"]] == [encounter_id]
    assert [s["id"] for s in body["services"]] == [given.json()["id"]]
    assert body["naloxones"] == body["referrals"] == body["surveys"] == []
    assert AuditEntry.objects.filter(action="encounter.viewed", object_id=encounter_id).exists()
    other_team = client_for("care3").get(SNAPSHOT).json()
    assert other_team["encounters"] == [] and other_team["assignments"] == []
    assert "encounters" not in client_for("officer1").get(SNAPSHOT).json()


def test_an_officer_snapshot_has_its_unit_but_no_directory(dispatched, client_for, units):
    call = dispatched()
    body = client_for("officer1").get(SNAPSHOT).json()
    assert [a["id"] for a in body["assignments"]] == [call["spd"]]
    assert "directory" not in body
    assert f"unit:{units['2M12'].pk}" in body["cursors"]


def test_a_closed_assignment_is_not_in_the_snapshot(dispatched, client_for):
    call = dispatched()
    client_for("dispatcher").post(
        f"/api/v1/incidents/{call['incident']['id']}/cancel", {"reason": "Gone"}, format="json"
    )
    assert client_for("care1").get(SNAPSHOT).json()["assignments"] == []


def test_after_a_410_the_snapshot_and_the_events_after_its_cursors_bring_a_device_current(
    dispatched, care1, unit1, move
):
    call = dispatched()
    fill(unit1, 3)
    age(unit1, days=30, seqs=[1, 2, 3])
    call_command("prune_events", stdout=io.StringIO())
    assert pull(care1, {unit1: 0}).status_code == 410
    snap = care1.get(SNAPSHOT).json()
    assert pull(care1, snap["cursors"]).json()["events"] == []
    assert move("care1", call["care"], "acknowledged").status_code == 200
    events = pull(care1, snap["cursors"]).json()["events"]
    assert [(e["kind"], e["data"]["status"]) for e in events] == [
        ("assignment.updated", "acknowledged")
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_snapshot_taken_while_a_unit_moves_plus_the_events_after_it_equals_the_end_state(
    dispatched, people, client_for
):
    call = dispatched()
    care1 = client_for("care1")
    steps = ["acknowledged", "en_route", "on_scene", "cleared"]
    start = threading.Barrier(2)
    failures: list[BaseException] = []
    snapshots: list[dict] = []
    taken = threading.Condition()

    def responder():
        try:
            start.wait(timeout=10)
            for to in steps:
                dispatch.transition_assignment(
                    actor=people["care1"], assignment_id=call["care"], to=to
                )
                # Two snapshots finish after this step: the second began after it committed,
                # so every state is seen, and the others fall during the steps.
                with taken:
                    seen = len(snapshots)
                    assert taken.wait_for(lambda seen=seen: len(snapshots) >= seen + 2, 60)
        except BaseException as exc:  # reported below
            failures.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=responder)
    thread.start()
    start.wait(timeout=10)
    while thread.is_alive() or not snapshots:
        snap = care1.get(SNAPSHOT).json()
        with taken:
            snapshots.append(snap)
            taken.notify_all()
    thread.join(timeout=60)
    assert not failures
    caught = {next((a["status"] for a in s["assignments"]), "closed") for s in snapshots}
    assert {"acknowledged", "en_route", "on_scene", "closed"} <= caught, caught
    for snap in snapshots:
        # The tablet's view: the snapshot, then every event after its cursors, applied in order.
        status = {a["id"]: a["status"] for a in snap["assignments"]}
        for event in pull(care1, snap["cursors"], limit=1000).json()["events"]:
            if event["kind"] == "assignment.updated":
                status[event["data"]["id"]] = event["data"]["status"]
        still_open = {key for key, value in status.items() if value not in ("cleared", "cancelled")}
        assert call["care"] not in still_open, (snap["cursors"], status)
