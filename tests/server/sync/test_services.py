"""The outbox and its streams: events commit with their change, and sequence numbers within a
stream have no gaps or repeats even with many writers at once."""

import threading

import pytest
from django.db import connection, transaction

from server.dispatch.models import Assignment
from server.errors import InvalidInput
from server.feed.models import Event
from server.feed.services import change_transaction, events_after, parse_cursors, publish_event
from tests.racing import race, wait_for_a_lock_waiter


@pytest.mark.django_db
def test_a_rolled_back_change_publishes_nothing():
    with pytest.raises(RuntimeError), transaction.atomic():
        publish_event(stream="dispatch", kind="test.event", data={"n": 1})
        raise RuntimeError("the change fails")
    assert not Event.objects.filter(stream_id="dispatch").exists()


@pytest.mark.django_db
def test_each_stream_counts_from_one_on_its_own():
    for n in range(3):
        publish_event(stream="dispatch", kind="k", data={"n": n})
    publish_event(stream="unit:7", kind="k", data={})
    assert list(Event.objects.filter(stream_id="dispatch").values_list("seq", flat=True)) == [
        1,
        2,
        3,
    ]
    assert Event.objects.get(stream_id="unit:7").seq == 1


@pytest.mark.django_db
def test_events_after_pages_through_a_stream_and_says_when_more_remain():
    for n in range(5):
        publish_event(stream="dispatch", kind="k", data={"n": n})
    page, more = events_after({"dispatch": 1}, limit=3)
    assert [e.seq for e in page] == [2, 3, 4]
    assert more is True
    page, more = events_after({"dispatch": 4}, limit=3)
    assert [e.seq for e in page] == [5]
    assert more is False


def test_cursors_parse_from_the_pull_query_and_refuse_nonsense():
    assert parse_cursors("unit:7:41,user:3:2,dispatch:0") == {
        "unit:7": 41,
        "user:3": 2,
        "dispatch": 0,
    }
    for bad in ("unit:7", "nonsense:4", "unit:x:1", "dispatch:-1"):
        with pytest.raises(InvalidInput):
            parse_cursors(bad)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_writers_at_once_leave_a_stream_numbered_one_to_n_in_commit_order():
    writers, per_writer = 8, 25
    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            start.wait()
            for n in range(per_writer):
                with transaction.atomic():
                    publish_event(stream="dispatch", kind="load", data={"w": worker, "n": n})
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = list(
        Event.objects.filter(stream_id="dispatch").order_by("id").values_list("seq", flat=True)
    )
    # Commit order (id order, since each event is its own transaction) equals seq order.
    assert rows == list(range(1, writers * per_writer + 1))


# ---- change_transaction: events written last ------------------------------------------------


@pytest.mark.django_db
def test_a_changes_events_are_written_when_it_ends_in_the_order_published():
    with change_transaction():
        publish_event(stream="unit:7", kind="first", data={})
        publish_event(stream="dispatch", kind="second", data={})
        publish_event(stream="unit:7", kind="third", data={})
        assert not Event.objects.exists()  # held back: no stream is locked yet
    unit = list(Event.objects.filter(stream_id="unit:7").values_list("seq", "kind"))
    assert unit == [(1, "first"), (2, "third")]
    assert Event.objects.get(stream_id="dispatch").kind == "second"


@pytest.mark.django_db
def test_a_failed_change_writes_none_of_its_events():
    with pytest.raises(RuntimeError), change_transaction():
        publish_event(stream="dispatch", kind="k", data={})
        raise RuntimeError("the change fails")
    assert not Event.objects.exists()


@pytest.mark.django_db
def test_a_nested_change_that_rolls_back_drops_its_own_events_and_keeps_the_outer_ones():
    with change_transaction():
        publish_event(stream="dispatch", kind="kept", data={})
        with pytest.raises(RuntimeError), change_transaction():
            publish_event(stream="dispatch", kind="dropped", data={})
            raise RuntimeError("the inner part fails; the outer change goes on")
        publish_event(stream="dispatch", kind="also kept", data={})
    kinds = list(Event.objects.filter(stream_id="dispatch").order_by("seq").values_list("kind"))
    assert kinds == [("kept",), ("also kept",)]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_change_holding_a_record_lock_and_one_that_published_first_do_not_deadlock(dispatched):
    """The cycle seen under load (an ack marking several dispatches delivered against a cancel):
    one change publishes to `dispatch` and then needs an assignment another change has locked,
    which then publishes to `dispatch` too. Held-back events take the stream lock only at the end,
    after every record lock, so the second finishes and the first goes on."""
    assignment_id = dispatched()["care"]
    both_in = threading.Barrier(2)

    def published_first() -> None:
        with change_transaction():
            publish_event(stream="dispatch", kind="delivered", data={})
            both_in.wait(timeout=10)
            Assignment.objects.filter(pk=assignment_id).update(safety_note="delivered")

    def locked_first() -> None:
        with change_transaction():
            Assignment.objects.select_for_update().get(pk=assignment_id)
            both_in.wait(timeout=10)
            wait_for_a_lock_waiter()  # the other change has reached the row lock
            publish_event(stream="dispatch", kind="cancelled", data={})

    outcomes = race(published_first, locked_first)
    assert outcomes == [None, None], outcomes
    kinds = set(Event.objects.filter(stream_id="dispatch").values_list("kind", flat=True))
    assert {"delivered", "cancelled"} <= kinds
