"""Live feed latency: dispatch commit -> event frame received on the device's socket.

Scenarios, each with 1, 100 and 1,000 (--sockets) device sockets held by one asyncio client
process (bench/feed_client.py), every socket heartbeating with `ping` frames and acking events:

* single: one Daphne process, in-memory channel layer, PostgreSQL;
* two:    two Daphne processes, Redis channel layer, PostgreSQL; sockets and dispatches alternate
          between the two processes, so every event crosses Redis and half cross processes;
* floor:  a minimal `websockets` server (bench/feed_floor.py) doing the same sends and broadcasts
          with no auth, database or channel layer: the floor the others are divided by.

Each scenario runs two loads: targeted dispatches (--rate per second for --duration seconds, through
`POST /api/v1/incidents/{id}/dispatch`, each with the cancel of an earlier call to free its units,
so every tick is two write transactions and two frames to one unit's socket), then --broadcasts
events on the `directory` stream, which every socket reads. Commit times come from the on-commit
hook of the served app (bench/feed_asgi.py); receive times from the client; same machine, same
clock. All traffic stays on 127.0.0.1 and every loop is bounded.

    .venv/bin/python bench/feed_latency.py --sockets 10,100 --duration 5 --modes single,floor
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
SEATTLE_DOWNTOWN = (47.6097, -122.3422)


# ---- the bench's own database ------------------------------------------------------------------


def prepare_database(args) -> str:
    admin_url = args.postgres.rstrip("/") + "/postgres"
    url = args.postgres.rstrip("/") + "/" + args.db_name
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [args.db_name]
        ).fetchone()
        if exists and args.fresh_db:
            conn.execute(f'DROP DATABASE "{args.db_name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{args.db_name}"')
    env = server_env(url)
    for command in (["migrate", "--no-input", "-v0"], ["load_reference_data"]):
        subprocess.run([PY, "manage.py", *command], cwd=ROOT, env=env, check=True, timeout=600)
    return url


def drop_database(args) -> None:
    with psycopg.connect(args.postgres.rstrip("/") + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.db_name}" WITH (FORCE)')


def server_env(db_url: str, redis_url: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        DATABASE_URL=db_url,
        DJANGO_SETTINGS_MODULE="server.settings",
        DEBUG="false",
        SECRET_KEY="feed-benchmark-" + "k" * 40,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        SECURE_SSL_REDIRECT="false",  # production terminates TLS at the proxy; here is plain HTTP
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def setup_django(db_url: str) -> None:
    os.environ.update(server_env(db_url))
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def populate(count: int) -> dict:
    """`count` CARE units each with one responder and a fresh device token, `count` SPD partner
    units, and a dispatcher with a token. Units and people are kept between runs; tokens are new."""
    from django.db import transaction

    from server.accounts.models import Device, DeviceToken, Role, User
    from server.dispatch.models import Unit, UnitKind

    with transaction.atomic():
        care, spd = [], []
        for kind, prefix, out in ((UnitKind.CARE, "BENCH-C", care), (UnitKind.SPD, "BENCH-S", spd)):
            signs = [f"{prefix}{i:04d}" for i in range(count)]
            have = set(Unit.objects.filter(call_sign__in=signs).values_list("call_sign", flat=True))
            Unit.objects.bulk_create([Unit(call_sign=s, kind=kind) for s in signs if s not in have])
            by_sign = dict(Unit.objects.filter(call_sign__in=signs).values_list("call_sign", "pk"))
            out.extend(by_sign[s] for s in signs)
        names = [f"bench-care-{i:04d}" for i in range(count)]
        have = set(User.objects.filter(username__in=names).values_list("username", flat=True))
        new_users = []
        for name, unit_id in zip(names, care, strict=True):
            if name not in have:
                user = User(username=name, role=Role.CARE_RESPONDER, unit_id=unit_id)
                user.set_unusable_password()
                new_users.append(user)
        User.objects.bulk_create(new_users)
        dispatcher, made = User.objects.get_or_create(
            username="bench-dispatcher", defaults={"role": Role.DISPATCHER}
        )
        if made:
            dispatcher.set_unusable_password()
            dispatcher.save()
        users = dict(User.objects.filter(username__in=names).values_list("username", "pk"))
        people = [users[n] for n in names] + [dispatcher.pk]
        devices = Device.objects.bulk_create(
            [Device(user_id=pk, name="feed benchmark tablet") for pk in people]
        )
        keys = [secrets.token_urlsafe(32) for _ in devices]
        expires = time_in(hours=12)
        DeviceToken.objects.bulk_create(
            [
                DeviceToken(device=d, key_hash=DeviceToken.hash(k), expires_at=expires)
                for d, k in zip(devices, keys, strict=True)
            ]
        )
    open_shifts(list(zip(people[:-1], care, strict=True)), by=dispatcher.pk)
    return {
        "care": care,
        "spd": spd,
        "users": people[:-1],
        "tokens": keys[:-1],
        "dispatcher_token": keys[-1],
        "dispatcher": dispatcher.pk,
    }


def open_shifts(crew: list[tuple[int, int]], *, by: int) -> None:
    """Sign each (person, unit) on, unless they already are: a responder's socket reads a unit's
    stream only through an open shift (`server/sync/access.py`), whatever `User.unit` says. Bench
    bookkeeping, straight in the database as a supervisor's sign-on would leave it (floor at the
    stream's end), so 1,000 sign-ons don't each publish and audit."""
    from django.utils import timezone

    from server.dispatch.models import Shift
    from server.feed.models import Stream

    on = set(
        Shift.objects.filter(user_id__in=[p for p, _ in crew], ended_at__isnull=True).values_list(
            "user_id", "unit_id"
        )
    )
    wrong = [p for p, u in on if (p, u) not in set(crew)]
    Shift.objects.filter(user_id__in=wrong, ended_at__isnull=True).update(ended_at=timezone.now())
    ends = dict(Stream.objects.values_list("name", "last_seq"))
    now = timezone.now()
    Shift.objects.bulk_create(
        [
            Shift(
                unit_id=unit,
                user_id=person,
                started_at=now,
                signed_on_by_id=by,
                stream_floor=ends.get(f"unit:{unit}", 0),
            )
            for person, unit in crew
            if (person, unit) not in on
        ]
    )


def time_in(**delta):
    import datetime

    from django.utils import timezone

    return timezone.now() + datetime.timedelta(**delta)


def screened_calls(count: int, dispatcher_id: int) -> list[str]:
    """CARE-eligible, screened calls waiting for a dispatch (made here, outside the timed part)."""
    from server.dispatch.models import (
        CallType,
        DispatchModel,
        Incident,
        IncidentStatus,
        Recommendation,
    )

    call_type = CallType.objects.filter(eligible=True, active=True).first()
    now = time_in(seconds=0)
    calls = Incident.objects.bulk_create(
        [
            Incident(
                cad_number=f"BENCH-{secrets.token_hex(6)}",
                call_type=call_type,
                priority=3,
                address="1st Ave & Pike St",
                latitude=SEATTLE_DOWNTOWN[0],
                longitude=SEATTLE_DOWNTOWN[1],
                received_at=now,
                screening={},
                in_pilot_area=True,
                eligible=True,
                recommendation=Recommendation.DUAL_DISPATCH,
                dispatch_model=DispatchModel.NINE_ONE_ONE_LED,
                status=IncidentStatus.SCREENED,
                created_by_id=dispatcher_id,
            )
            for _ in range(count)
        ]
    )
    return [str(c.pk) for c in calls]


def free_units() -> None:
    """Call off whatever an earlier scenario left dispatched, so every unit starts free. Bench
    bookkeeping, straight in the database: nothing is listening yet, and the cursors taken after
    this start past it."""
    from server.dispatch.models import Assignment, Incident, IncidentStatus

    Assignment.objects.filter(unit__call_sign__startswith="BENCH-").exclude(
        status__in=["cleared", "cancelled"]
    ).update(status="cancelled")
    Incident.objects.filter(
        cad_number__startswith="BENCH-", status=IncidentStatus.DISPATCHED
    ).update(status=IncidentStatus.CANCELLED)


def device_specs(pop: dict, n: int, floor: bool) -> list[dict]:
    """What each socket says in its hello: a token, and cursors at the streams' current ends so
    the bench measures live delivery, not a replay of earlier runs."""
    from server.feed.models import Stream

    if floor:
        return [{"token": f"unit:{pop['care'][i]},directory", "cursors": {}} for i in range(n)]
    ends = dict(Stream.objects.values_list("name", "last_seq"))
    specs = []
    for i in range(n):
        streams = [f"unit:{pop['care'][i]}", f"user:{pop['users'][i]}", "directory"]
        specs.append(
            {"token": pop["tokens"][i], "cursors": {s: ends[s] for s in streams if s in ends}}
        )
    return specs


# ---- processes ---------------------------------------------------------------------------------

ALL_CPUS = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))


def unpinned(cmd: list[str]) -> list[str]:
    """Servers may run on every core, whatever core the load generator pinned itself to."""
    return ["taskset", "-c", ALL_CPUS, *cmd]


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    import psutil

    out = {}
    for name, pid in pids.items():
        try:
            times = psutil.Process(pid).cpu_times()
            out[name] = times.user + times.system
        except psutil.Error:
            out[name] = float("nan")
    return out


def rss_bytes(pids: list[int]) -> int:
    import psutil

    total = 0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            total += psutil.Process(pid).memory_info().rss
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listening on {port} after {seconds} s")


class Servers:
    """The server processes of one scenario, their URLs and their commit logs."""

    def __init__(self, work: Path, name: str):
        self.work, self.name = work, name
        self.procs: list[subprocess.Popen] = []
        self.ports: list[int] = []
        self.commit_logs: list[Path] = []

    def start_daphne(self, env: dict[str, str]) -> None:
        port = free_port()
        log, commits = self._files(port)
        cmd = [
            PY,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "bench.feed_asgi:application",
        ]
        proc = subprocess.Popen(
            unpinned(cmd),
            cwd=ROOT,
            env={**env, "BENCH_COMMIT_LOG": str(commits)},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self._started(proc, port, log)

    def start_cluster(self, env: dict[str, str], sockets: int, server: str) -> None:
        """deploy/cluster.py as `make cluster` runs it: HAProxy in front, `sockets` socket
        processes, two API processes, the acknowledgement watcher."""
        commits = self.work / f"{self.name}-commits.log"
        commits.touch()
        self.commit_logs.append(commits)
        state = self.work / f"{self.name}-cluster.json"
        log = self.work / f"{self.name}-cluster.log"
        cmd = [
            PY, "deploy/cluster.py", "--port", "0", "--sockets", str(sockets), "--api", "2",
            "--socket-server", server, "--app", "bench.feed_asgi:application",
            "--state", str(state), "--work", str(self.work / f"{self.name}-cluster"),
        ]  # fmt: skip
        proc = subprocess.Popen(
            unpinned(cmd),
            cwd=ROOT,
            env={**env, "BENCH_COMMIT_LOG": str(commits)},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        deadline = time.monotonic() + 180
        while not (state.exists() and "cluster on" in log.read_text()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"cluster did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        self.cluster_state = json.loads(state.read_text())
        self.ports.append(int(self.cluster_state["url"].rsplit(":", 1)[1]))

    def server_pids(self) -> dict[str, int]:
        """The processes whose CPU and memory the report shows, by name."""
        if hasattr(self, "cluster_state"):
            return {
                name: m["pid"]
                for name, m in self.cluster_state["members"].items()
                if m["role"] in ("socket", "api", "balancer")
            }
        return {f"daphne{i + 1}": p.pid for i, p in enumerate(self.procs)}

    def socket_pids(self) -> list[int]:
        if hasattr(self, "cluster_state"):
            members = self.cluster_state["members"].values()
            return [m["pid"] for m in members if m["role"] == "socket"]
        return [p.pid for p in self.procs]

    def start_floor(self, seconds: float) -> None:
        port = free_port()
        log, commits = self._files(port)
        cmd = [PY, str(ROOT / "bench" / "feed_floor.py"), str(port), str(commits), str(seconds)]
        proc = subprocess.Popen(unpinned(cmd), stdout=log.open("w"), stderr=subprocess.STDOUT)
        self._started(proc, port, log)

    def _files(self, port: int) -> tuple[Path, Path]:
        commits = self.work / f"{self.name}-{port}-commits.log"
        commits.touch()
        self.commit_logs.append(commits)
        return self.work / f"{self.name}-{port}.log", commits

    def _started(self, proc, port, log) -> None:
        self.procs.append(proc)
        self.ports.append(port)
        wait_for_port(port, proc, log)

    @property
    def http(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports]

    @property
    def ws(self) -> list[str]:
        return [f"ws://127.0.0.1:{p}/ws/feed/" for p in self.ports]

    def commit_times(self) -> dict[tuple[str, int], float]:
        times = {}
        for path in self.commit_logs:
            for line in path.read_text().splitlines():
                stream, seq, at = line.split()
                times[(stream, int(seq))] = float(at)
        return times

    def stop(self) -> None:
        for proc in self.procs:
            # cluster.py drains and stops its processes on SIGINT, as on Ctrl-C
            proc.send_signal(signal.SIGINT if hasattr(self, "cluster_state") else signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


class Client:
    """bench/feed_client.py as a subprocess: holds the sockets, writes down arrivals."""

    def __init__(self, work: Path, name: str, urls: list[str], specs: list[dict], args):
        self.devices = work / f"{name}-devices.json"
        self.devices.write_text(json.dumps(specs))
        self.out = work / f"{name}-received.txt"
        cmd = [
            PY,
            str(ROOT / "bench" / "feed_client.py"),
            "--urls",
            ",".join(urls),
            "--devices",
            str(self.devices),
            "--out",
            str(self.out),
            "--ping-interval",
            str(args.ping_interval),
            *([] if args.ack else ["--no-ack"]),
            "--max-seconds",
            str(args.duration + args.broadcasts * args.broadcast_interval + 600),
        ]
        if args.pin_load is not None:  # the devices' process shares the load generator's core
            cmd = ["taskset", "-c", str(args.pin_load), *cmd]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )

    def wait_ready(self) -> tuple[int, float]:
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "ready":
            raise RuntimeError(f"client did not get ready: {line}")
        return int(line[1]), float(line[2])

    def finish(self) -> tuple[str, list[tuple]]:
        self.proc.stdin.write("stop\n")
        self.proc.stdin.flush()
        status = self.proc.stdout.readline().strip()
        self.proc.wait(timeout=120)
        rows = []
        for line in self.out.read_text().splitlines():
            index, stream, seq, kind, at = line.split()
            rows.append((int(index), stream, int(seq), kind, float(at)))
        return status, rows


# ---- load --------------------------------------------------------------------------------------


def run_ticks(rate: float, count: int, tick, workers: int) -> tuple[int, float]:
    """Call tick(i) for i in range(count), started at `rate` per second on a worker pool; return
    how many succeeded and the seconds it took."""
    ok = 0
    lock = threading.Lock()

    def counted(i: int) -> None:
        nonlocal ok
        if tick(i):
            with lock:
                ok += 1

    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=workers)
    for i in range(count):
        delay = started + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        pool.submit(counted, i)
    # Bounded: ticks that could not start in their time are dropped, not run late.
    pool.shutdown(wait=True, cancel_futures=True)
    return ok, time.monotonic() - started


class ChannelsLoad:
    """Dispatches and broadcasts through the served CARE Field app, over HTTP."""

    def __init__(self, servers: Servers, pop: dict, n: int, calls: list[str], args):
        self.urls, self.pop, self.n, self.calls, self.args = servers.http, pop, n, calls, args
        # Behind the balancer the load is always what a dispatcher's console sends: HTTP.
        self.cluster = hasattr(servers, "cluster_state")
        self.local = threading.local()
        self.errors: list[str] = []
        self.reuse = min(n, 25)  # cancel the call dispatched this many ticks ago
        # A unit is on one call at a time: with fewer unit pairs than dispatcher threads, ticks on
        # one pair would overtake each other (a call cancelled before it was dispatched).
        self.workers = min(args.workers, n)

    def _session(self) -> requests.Session:
        if not hasattr(self.local, "session"):
            self.local.session = requests.Session()
            self.local.session.headers["Authorization"] = f"Token {self.pop['dispatcher_token']}"
        return self.local.session

    def _post(self, url: str, body: dict) -> bool:
        try:
            answer = self._session().post(url, json=body, timeout=30, allow_redirects=False)
        except requests.RequestException as exc:
            self.errors.append(str(exc))
            return False
        if answer.status_code >= 300:
            self.errors.append(f"{answer.status_code} {answer.text[:200]}")
        return answer.status_code < 300

    def tick(self, i: int) -> bool:
        base = self.urls[i % len(self.urls)] + "/api/v1/incidents/"
        if i >= self.reuse:
            self._post(base + self.calls[i - self.reuse] + "/cancel", {"reason": "bench: freed"})
        pair = i % self.n
        body = {"care_unit": self.pop["care"][pair], "spd_unit": self.pop["spd"][pair]}
        return self._post(base + self.calls[i] + "/dispatch", body)

    def targeted(self, count: int) -> tuple[int, float]:
        if self.args.via == "http" or self.cluster:
            return run_ticks(self.args.rate, count, self.tick, self.workers)
        # Dispatcher threads inside the first process; the second (if any) only serves sockets.
        plan = {
            "rate": self.args.rate,
            "workers": self.workers,
            "dispatcher": self.pop["dispatcher"],
            "ticks": [
                [
                    self.calls[i - self.reuse] if i >= self.reuse else None,
                    self.calls[i],
                    self.pop["care"][i % self.n],
                    self.pop["spd"][i % self.n],
                ]
                for i in range(count)
            ],
        }
        answer = requests.post(
            self.urls[0] + "/bench/dispatch", json=plan, timeout=count / self.args.rate + 300
        ).json()
        self.errors.extend(answer["errors"])
        return answer["dispatched"], answer["seconds"]

    def broadcast(self, j: int) -> bool:
        try:
            answer = requests.post(
                self.urls[j % len(self.urls)] + "/bench/broadcast",
                timeout=30,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            self.errors.append(str(exc))
            return False
        return answer.status_code == 201


class FloorLoad:
    """The same ticks and broadcasts as control frames to the floor server."""

    def __init__(self, servers: Servers, pop: dict, n: int, args):
        import warnings

        from websockets.sync.client import connect

        warnings.filterwarnings("ignore", category=DeprecationWarning, module=__name__)

        self.control = connect(f"ws://127.0.0.1:{servers.ports[0]}/control")
        self.lock = threading.Lock()
        self.pop, self.n, self.errors, self.args = pop, n, [], args
        self.reuse = min(n, 25)

    def _send(self, frame: dict) -> bool:
        with self.lock:
            self.control.send(json.dumps(frame))
        return True

    def tick(self, i: int) -> bool:
        streams = []
        if i >= self.reuse:
            streams.append(
                [f"unit:{self.pop['care'][(i - self.reuse) % self.n]}", "assignment.updated"]
            )
        streams.append([f"unit:{self.pop['care'][i % self.n]}", "assignment.dispatched"])
        return self._send({"type": "bench.send", "streams": streams})

    def targeted(self, count: int) -> tuple[int, float]:
        return run_ticks(self.args.rate, count, self.tick, self.args.workers)

    def broadcast(self, j: int) -> bool:
        return self._send({"type": "bench.broadcast"})


# ---- one scenario ------------------------------------------------------------------------------


def run_scenario(mode: str, n: int, pop: dict, db_url: str, work: Path, args) -> dict:
    name = f"{mode}-{n}"
    ticks = int(args.rate * args.duration)
    if mode != "floor":
        free_units()
    calls = [] if mode == "floor" else screened_calls(ticks, pop["dispatcher"])
    specs = device_specs(pop, n, floor=mode == "floor")
    servers = Servers(work, name)
    try:
        if mode == "single":
            servers.start_daphne(server_env(db_url))
        elif mode == "two":
            for _ in range(2):
                servers.start_daphne(server_env(db_url, args.redis))
        elif mode.startswith("cluster"):
            count, server = cluster_shape(mode)
            servers.start_cluster(server_env(db_url, args.redis), count, server)
        else:
            servers.start_floor(args.duration + args.broadcasts * args.broadcast_interval + 900)
        time.sleep(args.settle)
        rss_before = rss_bytes(servers.socket_pids())
        client = Client(work, name, servers.ws, specs, args)
        live, connect_seconds = client.wait_ready()
        time.sleep(args.settle)
        rss_after = rss_bytes(servers.socket_pids())
        load = (
            FloorLoad(servers, pop, n, args)
            if mode == "floor"
            else ChannelsLoad(servers, pop, n, calls, args)
        )
        cpu_before, cpu_started = cpu_seconds(servers.server_pids()), time.monotonic()
        dispatched, took = load.targeted(ticks)
        time.sleep(args.settle)
        broadcasts = 0
        for j in range(args.broadcasts):
            broadcasts += load.broadcast(j)
            time.sleep(args.broadcast_interval)
        time.sleep(args.settle)
        cpu_after, cpu_wall = cpu_seconds(servers.server_pids()), time.monotonic() - cpu_started
        status, rows = client.finish()
        commits = servers.commit_times()
    finally:
        servers.stop()
    result = {
        "mode": mode,
        "sockets": n,
        "live": live,
        "connect_seconds": connect_seconds,
        "dispatched": dispatched,
        "dispatch_rate": dispatched / max(took, args.duration),
        "broadcasts": broadcasts,
        "client": status,
        "errors": load.errors[:5],
        "error_count": len(load.errors),
        # share of one core each server process used over the load phases
        "cpu": {k: (cpu_after[k] - cpu_before[k]) / cpu_wall for k in cpu_before},
        "rss_per_socket_kib": (rss_after - rss_before) / max(live, 1) / 1024,
    }
    result.update(latencies(rows, commits, dispatched, broadcasts * live))
    return result


def cluster_shape(mode: str) -> tuple[int, str]:
    """`cluster3` is three Daphne socket processes, `cluster3u` three uvicorn ones."""
    shape = mode.removeprefix("cluster")
    server = "uvicorn" if shape.endswith("u") else "daphne"
    return int(shape.rstrip("u")), server


def latencies(rows, commits, dispatched: int, broadcast_frames: int) -> dict:
    targeted, others, broadcast = [], [], []
    for _index, stream, seq, kind, at in rows:
        committed = commits.get((stream, seq))
        if committed is None:
            continue  # replayed from an earlier run, not measured
        ms = (at - committed) * 1000
        if stream == "directory":
            broadcast.append(ms)
        elif kind == "assignment.dispatched":
            targeted.append(ms)
        else:  # the cancel that freed the unit: assignment.updated / partner_updated
            others.append(ms)
    return {
        "targeted": summary(targeted, dispatched),
        "cancel": summary(others, None),
        "broadcast": summary(broadcast, broadcast_frames),
    }


def summary(values: list[float], expected: int | None) -> dict:
    values = sorted(values)

    def pct(p: float) -> float:
        if not values:
            return float("nan")
        return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]

    return {
        "frames": len(values),
        "expected": expected,
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "max": values[-1] if values else float("nan"),
    }


# ---- report ------------------------------------------------------------------------------------

MODE_NAMES = {
    "single": "Channels, 1 Daphne, in-memory layer, PG",
    "two": "Channels, 2 Daphne, Redis layer, PG",
    "floor": "floor: raw `websockets` server",
}


def mode_name(mode: str) -> str:
    if mode.startswith("cluster"):
        count, server = cluster_shape(mode)
        layer = os.environ.get("CARE_CHANNEL_LAYER", "pubsub")  # the settings' default
        return f"HAProxy, {count} {server} socket + 2 API processes, Redis {layer}"
    return MODE_NAMES[mode]


def table(results: list[dict]) -> str:
    floors = {
        (r["sockets"], p): r[p]
        for r in results
        if r["mode"] == "floor"
        for p in ("targeted", "broadcast")
    }
    lines = [
        "| server | sockets | load | frames got/expected | p50 ms | p95 ms | p99 ms | max ms "
        "| p50 / floor | p99 / floor | CPU per process | RSS/socket KiB |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        for pattern, label in (
            ("targeted", f"targeted, {r['dispatch_rate']:.0f}/s"),
            ("broadcast", f"broadcast ×{r['broadcasts']}"),
        ):
            s = r[pattern]
            floor = floors.get((r["sockets"], pattern))
            ratios = ("", "")
            if floor and r["mode"] != "floor" and floor["p50"] > 0 and floor["p99"] > 0:
                ratios = (f"{s['p50'] / floor['p50']:.1f}×", f"{s['p99'] / floor['p99']:.1f}×")
            lines.append(
                f"| {mode_name(r['mode'])} | {r['sockets']} | {label} "
                f"| {s['frames']}/{s['expected']} | {s['p50']:.1f} | {s['p95']:.1f} "
                f"| {s['p99']:.1f} | {s['max']:.1f} | {ratios[0]} | {ratios[1]} "
                f"| {cpu_text(r) if pattern == 'targeted' else ''} "
                f"| {r['rss_per_socket_kib']:.0f} |"
            )
    return "\n".join(lines)


def cpu_text(r: dict) -> str:
    return " ".join(f"{name} {share:.0%}" for name, share in r.get("cpu", {}).items())


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in subprocess.run(
                ["lscpu"], capture_output=True, text=True
            ).stdout.splitlines()
            if line.startswith("Model name")
        ),
        "unknown",
    )
    mem = next(
        (
            line.split()[1]
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        "0",
    )
    load = Path("/proc/loadavg").read_text().split()[:3]
    return (
        f"{os.cpu_count()} CPUs (nproc), {model}, {int(mem) / 1024 / 1024:.0f} GiB RAM; "
        f"load average before the run {' '.join(load)}"
    )


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sockets", default="1,100,1000", help="socket counts, comma-separated")
    p.add_argument(
        "--modes",
        default="single,two,floor",
        help="single, two, floor, clusterN (HAProxy + N Daphne socket processes + 2 API "
        "processes: deploy/cluster.py), clusterNu (the same with uvicorn socket processes)",
    )
    p.add_argument(
        "--pin-load",
        type=int,
        default=None,
        help="pin the load generator (this process's dispatches) and the devices' process to "
        "this CPU with taskset; servers stay on every CPU",
    )
    p.add_argument("--duration", type=float, default=10.0, help="seconds of targeted dispatches")
    p.add_argument("--rate", type=float, default=50.0, help="targeted dispatches per second")
    p.add_argument("--broadcasts", type=int, default=10, help="broadcasts to every socket")
    p.add_argument("--broadcast-interval", type=float, default=1.0, help="seconds between them")
    p.add_argument("--ping-interval", type=float, default=10.0, help="each socket's heartbeat")
    p.add_argument("--no-ack", dest="ack", action="store_false", help="devices don't ack")
    p.add_argument(
        "--via",
        choices=["service", "http"],
        default="service",
        help="dispatch on threads inside the (first) Daphne process calling the dispatch service, "
        "or through POST /api/v1/incidents/{id}/dispatch",
    )
    p.add_argument("--workers", type=int, default=8, help="concurrent dispatch requests")
    p.add_argument("--settle", type=float, default=2.0, help="seconds between phases")
    p.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--db-name", default="care_bench_feed")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/6")
    p.add_argument("--fresh-db", action="store_true", help="drop and recreate the database first")
    p.add_argument("--keep-db", action="store_true", help="keep the database afterwards")
    p.add_argument("--json", help="also write the results here")
    return p.parse_args(argv)


def main() -> None:
    args = parse_args()
    if args.pin_load is not None:
        os.sched_setaffinity(0, {args.pin_load})
    counts = [int(c) for c in args.sockets.split(",")]
    modes = args.modes.split(",")
    print(f"# feed latency {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"# machine: {machine()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="care_bench_feed_"))
    db_url = prepare_database(args)
    results = []
    try:
        setup_django(db_url)
        pop = populate(max(counts))
        # The floor goes first for each count so its figures are there for the ratios.
        for n in counts:
            for mode in sorted(modes, key=lambda m: m != "floor"):
                result = run_scenario(mode, n, pop, db_url, work, args)
                results.append(result)
                print(json.dumps(result), flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            drop_database(args)
    print()
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    print(f"# server logs, commit logs and arrivals in {work}")


if __name__ == "__main__":
    main()
