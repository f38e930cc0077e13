"""How fast a tablet drains its outbox: 1,000 queued records pushed over loopback to a real
Daphne server, then the same 1,000 replayed (every one a duplicate the server must recognize).

    .venv/bin/python bench/sync_drain.py            # SQLite file database
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/sync_drain.py

Targets (issue 4): drain <= 2 s, replay <= 1 s.

Beside the wall-clock time it prints the CPU seconds the server process and this (tablet) process
spent: on a busy machine the wall clock stretches, the CPU time much less, and the two together say
which side the time goes to.
"""

from __future__ import annotations

import datetime
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mobile.client.store import DONE  # noqa: E402
from mobile.client.tablet import Tablet  # noqa: E402
from tests.e2e.conftest import ServedSystem, _database_url  # noqa: E402

RECORDS = 1000
# A downtown person-down call inside pilot hours: eligible for CARE.
CALL = {
    "call_type": "DOWN - CHECK FOR DOWN PERSON",
    "priority": 3,
    "address": "3rd Ave & Pine St",
    "latitude": 47.6107,
    "longitude": -122.3396,
    "narrative": "Man lying on the sidewalk, breathing, not responding to calls.",
    "received_at": "2026-11-18T14:00:00-08:00",
    "screening": {
        "weapons": False,
        "violence": False,
        "medical_emergency": False,
        "imminent_danger": False,
    },
}


def _prepare(folder: Path) -> tuple[ServedSystem, callable]:
    url, drop = _database_url(folder)
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "server.settings"}
    env["DEBUG"] = "true"  # the demo people and passwords load only into a DEBUG install
    for command in (["migrate", "--no-input", "-v0"], ["load_demo"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    # Served as deployed: DEBUG off (no query log), behind a proxy that ends TLS.
    served = {**env, "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50)}
    served["SECURE_SSL_REDIRECT"] = "false"
    return ServedSystem(served, folder), drop


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Stopwatch:
    """Wall time, the server's CPU time and the tablet's CPU time of one phase."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        self._server = _cpu_seconds(self.server_pid)
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._wall
        self.tablet_cpu = time.process_time() - self._cpu
        self.server_cpu = _cpu_seconds(self.server_pid) - self._server

    def line(self, label: str, target: str) -> str:
        return (
            f"{label:<20}{self.wall:6.2f} s  ({RECORDS / self.wall:,.0f} mutations/s)  "
            f"server CPU {self.server_cpu:5.2f} s, tablet CPU {self.tablet_cpu:5.2f} s  "
            f"target {target}"
        )


def _dispatch_to_care1(url: str) -> str:
    session = requests.Session()
    token = session.post(
        f"{url}/api/v1/auth/token",
        json={"username": "dispatcher", "password": "care-demo", "device_name": "bench"},
        timeout=10,
    ).json()["token"]
    session.headers["Authorization"] = f"Token {token}"
    units = {u["call_sign"]: u["id"] for u in session.get(f"{url}/api/v1/units", timeout=10).json()}
    call = {**CALL, "cad_number": f"BENCH-{time.time_ns()}"}
    incident = session.post(f"{url}/api/v1/incidents", json=call, timeout=10).json()
    answer = session.post(
        f"{url}/api/v1/incidents/{incident['id']}/dispatch",
        json={"care_unit": units["CARE-1"], "spd_unit": units["2M12"]},
        timeout=30,
    )
    answer.raise_for_status()
    return next(a["id"] for a in answer.json()["assignments"] if a["kind"] == "care")


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="care-bench-"))
    system, drop = _prepare(folder)
    try:
        url = system.start_daphne()
        assignment = _dispatch_to_care1(url)
        tablet = Tablet(folder / "tablet.sqlite3", server_url=url, timeout=60)
        tablet.sign_in("care1", "care-demo", "bench-tablet")
        for to in ("acknowledged", "en_route", "on_scene"):
            tablet.recorder.transition(assignment, to)
        encounter = tablet.recorder.open_encounter(assignment, people_contacted=1)
        tablet.engine.push_pending()

        shift_start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=12)
        started = time.perf_counter()
        for i in range(RECORDS):
            tablet.recorder.log_service(
                encounter, "basic-needs", at=shift_start + datetime.timedelta(seconds=43 * i)
            )
        recorded = time.perf_counter() - started
        ids = [m.id for m in tablet.store.pending(RECORDS)]

        server_pid = system.processes[-1].pid
        with Stopwatch(server_pid) as drain:
            tablet.engine.push_pending()
        assert tablet.store.queued_count() == 0
        assert all(tablet.store.mutation(i).state == DONE for i in ids)

        # The same 1,000 again, same ids: as if every answer had been lost.
        with tablet.store.transaction() as db:
            db.executemany("UPDATE outbox SET state = 'queued' WHERE id = ?", [(i,) for i in ids])
        with Stopwatch(server_pid) as replay:
            tablet.engine.push_pending()
        assert tablet.store.queued_count() == 0

        print(f"database            {system.env['DATABASE_URL'].split(':')[0]}")
        print(f"record {RECORDS} offline  {recorded:6.2f} s  (local store, one transaction each)")
        print(drain.line(f"drain {RECORDS}", "<= 2 s"))
        print(replay.line(f"replay {RECORDS} (dups)", "<= 1 s"))
        tablet.close()
    finally:
        system.stop()
        drop()


if __name__ == "__main__":
    main()
