"""The CARE Field ASGI app as the feed benchmark serves it: the real application, plus two things
only a benchmark needs.

* Every event's commit time is written to `BENCH_COMMIT_LOG` (one `stream seq unix_time` line per
  event) from the on-commit hook that hands the event to the channel layer, so the client can
  measure commit -> frame received on the same clock.
* `POST /bench/dispatch` runs a list of dispatch ticks (cancel an earlier call, dispatch the next)
  through `server.dispatch.incidents.services` at a given rate, on threads of its own inside this
  process: the targeted load without HTTP in the way (the in-memory layer only reaches sockets of
  the process that commits).
* `POST /bench/broadcast` publishes one event on the `directory` stream (the stream every CARE
  responder reads), in a transaction, exactly as a directory change would: the broadcast case.

Run it with `python -m daphne bench.feed_asgi:application` from the project root.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.db import connection, transaction

from server.asgi import application as care_application  # sets Django up: keep it first of ours
from server.feed import services as feed

_commit_log = open(os.environ["BENCH_COMMIT_LOG"], "a", buffering=1)  # noqa: SIM115
_push_to_layer = feed._push


def _push_noting_commit(event) -> None:
    # on_commit callbacks run right after COMMIT returns: this is the commit time.
    _commit_log.write(f"{event.stream_id} {event.seq} {time.time():.6f}\n")
    _push_to_layer(event)


_push_all_to_layer = feed._push_all


def _push_all_noting_commit(events) -> None:
    now = time.time()
    for event in events:
        _commit_log.write(f"{event.stream_id} {event.seq} {now:.6f}\n")
    _push_all_to_layer(events)


# The publishers look `_push` / `_push_all` up at commit time: replacing the module attributes
# is enough.
feed._push = _push_noting_commit
feed._push_all = _push_all_noting_commit


@sync_to_async
def _publish_directory_change(number: int) -> int:
    with transaction.atomic():
        event = feed.publish_event(
            stream="directory",
            kind="directory.updated",
            data={
                "service": {
                    "id": number,
                    "name": f"Bench shelter {number}",
                    "organization": "Benchmark",
                    "beds_open": number % 40,
                }
            },
        )
    return event.seq


def _run_ticks(plan: dict, loop: asyncio.AbstractEventLoop) -> dict:
    """Each tick: cancel the call given (freeing its units), then dispatch the next one.

    Ticks run as Django runs a sync view: on a worker thread started from the server's event loop
    (`sync_to_async`), so the on-commit push reaches the channel layer on that loop. A bare thread
    would make `async_to_sync` start a loop of its own, and the in-memory layer would wake the
    socket's consumer only when its loop next stirred (hundreds of ms late)."""
    from server.accounts.models import User
    from server.dispatch.incidents import services

    actor = User.objects.get(pk=plan["dispatcher"])
    errors: list[str] = []
    done = 0
    lock = threading.Lock()

    def tick(cancel: str | None, call: str, care: int, spd: int) -> None:
        nonlocal done
        try:
            if cancel:
                services.cancel_incident(actor=actor, incident_id=cancel, reason="bench: freed")
            services.dispatch_incident(actor=actor, incident_id=call, care_unit=care, spd_unit=spd)
            with lock:
                done += 1
        except Exception as exc:  # counted and reported by the bench, like an HTTP error
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=plan["workers"])
    run_tick = sync_to_async(tick, thread_sensitive=False, executor=pool)
    pending = []
    for i, args in enumerate(plan["ticks"]):
        delay = started + i / plan["rate"] - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        pending.append(asyncio.run_coroutine_threadsafe(run_tick(*args), loop))
    # Bounded: ticks the server could not start within a moment of the schedule's end are
    # dropped, not run late.
    deadline = time.monotonic() + 2
    for future in pending:
        with contextlib.suppress(BaseException):
            future.result(timeout=max(0.0, deadline - time.monotonic()))
    pool.shutdown(wait=True, cancel_futures=True)
    connection.close()
    return {"dispatched": done, "seconds": time.monotonic() - started, "errors": errors}


async def _read_body(receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _answer(send, payload: dict) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(payload).encode()})


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"] == "/bench/dispatch":
        plan = json.loads(await _read_body(receive))
        # A thread of its own, not the one Django runs sync views on.
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(None, _run_ticks, plan, loop)
        await _answer(send, result)
        return
    if scope["type"] == "http" and scope["path"] == "/bench/broadcast":
        await _read_body(receive)
        seq = await _publish_directory_change(int(time.time() * 1000) % 100_000)
        await _answer(send, {"stream": "directory", "seq": seq})
        return
    await care_application(scope, receive, send)
