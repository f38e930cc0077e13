"""The outbox and its streams: events commit with their change, and sequence numbers within a
stream have no gaps or repeats even with many writers at once."""

import threading

import pytest
from django.db import connection, transaction

from server.errors import InvalidInput
from server.sync.models import Event
from server.sync.services import events_after, parse_cursors, publish_event


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
