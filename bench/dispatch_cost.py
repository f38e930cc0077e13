"""What one dispatch costs the feed: SQL statements, events written, channel-layer sends and
frame encodings, for a dispatch and for the cancel that frees its units (the feed benchmark's
tick), run through the dispatch services in this process on the bench's PostgreSQL database.

Frame encodings are counted where they happen: by the publisher (one per event, when the layer
message carries the frame) or by each socket (one per event per socket reached, when it carries
the event); `--sockets` says how many sockets each unit's stream reaches, as in the feed
benchmark's "100 sockets on one unit".

    .venv/bin/python bench/dispatch_cost.py --ticks 20 --sockets 100

Runs against any checkout of the project (it uses only the bench's population helpers and the
dispatch services), so two commits can be compared: copy it into the other tree's bench/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import feed_latency  # noqa: E402 - after the path


def count_sends(layer) -> list[tuple[str, dict]]:
    """Every group send the layer is asked for, noted before it is made."""
    sent: list[tuple[str, dict]] = []
    real = layer.group_send

    async def noted(group: str, message: dict) -> None:
        sent.append((group, message))
        await real(group, message)

    layer.group_send = noted
    return sent


def one_tick(services, actor, cancel: str | None, call: str, care: int, spd: int, sent) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from server.feed.models import Event

    costs = {}
    steps = [("dispatch", lambda: services.dispatch_incident(
        actor=actor, incident_id=call, care_unit=care, spd_unit=spd))]  # fmt: skip
    if cancel:
        steps.insert(0, ("cancel", lambda: services.cancel_incident(
            actor=actor, incident_id=cancel, reason="bench: freed")))  # fmt: skip
    for name, step in steps:
        events_before, sends_before = Event.objects.count(), len(sent)
        with CaptureQueriesContext(connection) as queries:
            step()
        costs[name] = {
            "queries": len(queries.captured_queries),
            "events": Event.objects.count() - events_before,
            "sends": sent[sends_before:],
        }
    return costs


def encodings(sends: list[tuple[str, dict]], sockets: int) -> int:
    """Frames encoded for these sends: once per message that carries its frame, once per socket
    reached for one that carries the event (unit streams reach `sockets`, the rest one console)."""
    total = 0
    for group, message in sends:
        if "frame" in message:
            total += 1 if not group.startswith("feed-priority.") else 0
        else:
            total += sockets if ".unit." in group else 1
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--ticks", type=int, default=20)
    p.add_argument("--sockets", type=int, default=100, help="sockets on each unit's stream")
    p.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--db-name", default="care_bench_dispatch_cost")
    args = p.parse_args()
    args.fresh_db, args.redis = True, ""
    db_url = feed_latency.prepare_database(args)
    try:
        feed_latency.setup_django(db_url)
        from channels.layers import get_channel_layer
        from django.db import connections

        from server.accounts.models import User
        from server.dispatch.incidents import services

        pop = feed_latency.populate(2)
        calls = feed_latency.screened_calls(args.ticks + 1, pop["dispatcher"])
        actor = User.objects.get(pk=pop["dispatcher"])
        sent = count_sends(get_channel_layer())
        rows = []
        for i in range(args.ticks):
            pair = i % 2
            cancel = calls[i - 2] if i >= 2 else None
            rows.append(one_tick(services, actor, cancel, calls[i], pop["care"][pair],
                                 pop["spd"][pair], sent))  # fmt: skip
        asyncio.run(asyncio.sleep(0))
        connections.close_all()
    finally:
        feed_latency.drop_database(args)
    report = {}
    for name in ("dispatch", "cancel"):
        done = [r[name] for r in rows if name in r]
        report[name] = {
            "queries": statistics.median(d["queries"] for d in done),
            "events": statistics.median(d["events"] for d in done),
            "layer_sends": statistics.median(len(d["sends"]) for d in done),
            "groups": sorted({g for d in done for g, _ in d["sends"]}, key=str)[:6],
            "frame_encodings": statistics.median(encodings(d["sends"], args.sockets) for d in done),
        }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
