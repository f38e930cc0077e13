"""The CARE Field ASGI app with `tracemalloc` on, for bench/feed_idle_memory.py: on SIGUSR2 the
process writes a snapshot to the path named in `$BENCH_SNAPSHOT_DIR/snapshot-to`, then removes
that file to say it is done.

    python deploy/serve.py --fd N bench.feed_memory_asgi:application
"""

from __future__ import annotations

import asyncio
import collections
import gc
import inspect
import json
import os
import signal
import tracemalloc
from pathlib import Path

tracemalloc.start(1)

from server.asgi import application  # noqa: E402, F401 - served as it is

_FOLDER = Path(os.environ["BENCH_SNAPSHOT_DIR"])


def _dump(signum, frame) -> None:
    request = _FOLDER / "snapshot-to"
    target = Path(request.read_text().strip())
    tracemalloc.take_snapshot().dump(str(target))
    # And the live objects by type (what the allocations above are, counted).
    kinds = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
    queues = [o for o in gc.get_objects() if isinstance(o, asyncio.Queue)]
    owners = collections.Counter()
    for queue in queues:
        for holder in gc.get_referrers(queue):
            if holder is not queues:
                owners[_describe(holder)] += 1
    target.with_suffix(".objects").write_text(json.dumps({"kinds": kinds, "queue_holders": owners}))
    request.unlink()


def _describe(holder) -> str:
    if isinstance(holder, dict):
        return "dict:" + ",".join(sorted(str(k) for k in list(holder)[:3]))[:80]
    if inspect.isframe(holder):
        return f"frame:{holder.f_code.co_filename.split('/')[-1]}:{holder.f_code.co_name}"
    return type(holder).__qualname__


signal.signal(signal.SIGUSR2, _dump)
