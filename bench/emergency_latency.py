"""Emergency button latency under the feed benchmark's load: press -> the dispatch board's
`emergency.started` frame, and press -> the `emergency.alert` frame on the tablet of the SPD unit
on the same call.

The background is the feed benchmark's (bench/feed_latency.py): --sockets CARE tablets' sockets
(hello with a real token, a ping every 10 s, an ack for every event) held by bench/feed_client.py,
and targeted dispatch ticks (cancel an earlier call + dual dispatch) at --rate per second asked,
run inside the first Daphne process as `--via service` does. The servers are the feed benchmark's
"two" topology: two Daphne processes (bench/feed_asgi.py) on the Redis channel layer and
PostgreSQL.

Beside that load, --pairs CARE units each dispatched with an SPD unit to a call of their own; the
CARE responder's tablet and the SPD officer's tablet hold sockets in the same client process, and
so do two dispatch boards (one on each Daphne process) reading the `dispatch` stream. Every
--interval seconds one CARE unit's device presses the emergency: a fresh client uuid,
`POST /api/v1/emergencies` with its device token as the tablet does, then (half an interval later)
`POST /api/v1/emergencies/{id}/end` with the PIN checked, so the unit's next press is a new
emergency. Units take turns.

Times: the press is the moment the POST is sent (the hold has completed on the tablet); the frames'
arrival times come from the client process; the commit time from the served app's on-commit hook.
Same machine, same clock, 127.0.0.1 only. Every process started here is stopped at the end.

    .venv/bin/python bench/emergency_latency.py --sockets 1000 --duration 60 \
        --db-name care_bench_feed --redis redis://127.0.0.1:6379/6
"""

from __future__ import annotations

import argparse
import datetime
import json
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import feed_latency as feed  # noqa: E402


def device_token(person) -> dict:
    """A tablet of this person's, signed in: its token for the socket's hello and for HTTP."""
    from server.accounts.models import Device, DeviceToken

    device = Device.objects.create(user=person, name="emergency benchmark tablet")
    token = secrets.token_urlsafe(32)
    DeviceToken.objects.create(
        device=device, key_hash=DeviceToken.hash(token), expires_at=feed.time_in(hours=12)
    )
    return {"id": person.pk, "token": token, "person": person}


def emergency_pairs(count: int, dispatcher_id: int) -> tuple[list[dict], list[dict]]:
    """`count` CARE units, each with a responder, dispatched with an SPD unit (its officer on
    it) to a call of their own; a signed-in tablet for each responder and officer, and for two
    dispatch boards."""
    from django.db import transaction

    from server.accounts.models import Role, User
    from server.dispatch.incidents import services
    from server.dispatch.models import Emergency, Unit, UnitKind

    actor = User.objects.get(pk=dispatcher_id)
    # An earlier run's last presses were never ended (the schedule stopped first): a unit with an
    # open emergency re-alerts it on the next press, under the old id, and nothing is measured.
    Emergency.objects.filter(unit__call_sign__startswith="BENCH-E", ended_at__isnull=True).update(
        ended_at=feed.time_in(seconds=0)
    )
    pairs = []
    for i, call in enumerate(feed.screened_calls(count, dispatcher_id)):
        people = {}
        with transaction.atomic():
            for kind, role, prefix in (
                (UnitKind.CARE, Role.CARE_RESPONDER, "BENCH-EC"),
                (UnitKind.SPD, Role.SPD_OFFICER, "BENCH-EP"),
            ):
                unit, _ = Unit.objects.get_or_create(
                    call_sign=f"{prefix}{i:03d}", defaults={"kind": kind}
                )
                person, made = User.objects.get_or_create(
                    username=f"bench-emergency-{prefix[-2:].lower()}-{i:03d}",
                    defaults={"role": role, "unit": unit},
                )
                if made:
                    person.set_unusable_password()
                    person.save()
                people[kind] = (unit, person)
        (care, responder), (spd, officer) = people[UnitKind.CARE], people[UnitKind.SPD]
        # Signed on, or neither tablet reads its unit's stream (the SPD tablet's alert is there).
        feed.open_shifts([(responder.pk, care.pk), (officer.pk, spd.pk)], by=dispatcher_id)
        services.dispatch_incident(
            actor=actor, incident_id=call, care_unit=care.pk, spd_unit=spd.pk
        )
        pairs.append(
            {
                "care_unit": care.pk,
                "spd_unit": spd.pk,
                "care_user": device_token(responder),
                "spd_user": device_token(officer),
            }
        )
    boards = []
    for n in (1, 2):  # two dispatch consoles
        board, made = User.objects.get_or_create(
            username=f"bench-board-{n}", defaults={"role": Role.DISPATCHER}
        )
        if made:
            board.set_unusable_password()
            board.save()
        boards.append(device_token(board))
    return pairs, boards


def socket_spec(holder: dict) -> dict:
    """A hello at the ends of the streams this person reads: live frames only."""
    from server.feed.models import Stream
    from server.sync.access import readable_streams

    streams = readable_streams(holder["person"])
    ends = dict(Stream.objects.filter(name__in=streams).values_list("name", "last_seq"))
    return {"token": holder["token"], "cursors": {s: ends[s] for s in streams if s in ends}}


class Presses:
    """The emergency button, pressed by one CARE device after another on a fixed schedule."""

    def __init__(self, urls: list[str], pairs: list[dict], interval: float):
        self.urls, self.pairs, self.interval = urls, pairs, interval
        self.pressed: dict[str, dict] = {}  # emergency id -> press time, answer, round trip
        self.errors: list[str] = []
        self.stop = threading.Event()

    def _post(self, session, url, body) -> requests.Response | None:
        try:
            answer = session.post(url, json=body, timeout=30, allow_redirects=False)
        except requests.RequestException as exc:
            self.errors.append(str(exc))
            return None
        if answer.status_code >= 300:
            self.errors.append(f"{answer.status_code} {answer.text[:200]}")
        return answer

    def press(self, i: int) -> None:
        """Unit i's turn: the hold has completed, the tablet sends; half an interval later the
        responder ends it with their PIN."""
        pair = self.pairs[i % len(self.pairs)]
        session = self.sessions.setdefault(i % len(self.pairs), requests.Session())
        session.headers["Authorization"] = f"Token {pair['care_user']['token']}"
        base = self.urls[i % len(self.urls)] + "/api/v1/emergencies"
        emergency = str(uuid.uuid4())
        body = {
            "id": emergency,
            "unit": pair["care_unit"],
            "started_at": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        pressed = time.time()
        answer = self._post(session, base, body)
        answered = time.time()
        if answer is None or answer.status_code != 201:
            return
        self.pressed[emergency] = {
            "at": pressed,
            "round_trip": answered - pressed,
            "spd_unit": pair["spd_unit"],
        }
        if not self.stop.wait(self.interval / 2):
            self._post(session, f"{base}/{emergency}/end", {"pin_verified": True})

    def run(self, seconds: float) -> None:
        """Presses on schedule, each on a thread of its own unit's: a slow answer delays no
        other unit's press (a unit presses again only after len(pairs) intervals)."""
        self.sessions: dict[int, requests.Session] = {}
        pool = ThreadPoolExecutor(max_workers=len(self.pairs))
        started = time.monotonic()
        i = 0
        while time.monotonic() - started < seconds:
            delay = started + i * self.interval - time.monotonic()
            if delay > 0 and self.stop.wait(delay):
                break
            pool.submit(self.press, i)
            i += 1
        pool.shutdown(wait=True)


def frames_of(pressed: dict[str, dict]) -> dict[tuple[str, int], tuple[str, str]]:
    """(stream, seq) -> (kind, emergency id) of every frame the presses published."""
    from server.feed.models import Event

    events = Event.objects.filter(kind__in=["emergency.started", "emergency.alert"]).filter(
        data__id__in=list(pressed)
    )
    return {(e.stream_id, e.seq): (e.kind, e.data["id"]) for e in events}


def measure(rows, commits, pressed, watchers: dict[int, tuple[str, int | None, str]]) -> dict:
    """Per watching socket (a board: ("board", None, name); an SPD tablet: ("spd", its unit,
    ""), pooled), the first frame of each press: from the press, and from the commit."""
    from server.feed.services import unit_stream

    published = frames_of(pressed)
    from_press: dict[int, dict[str, float]] = {index: {} for index in watchers}
    from_commit: dict[int, dict[str, float]] = {index: {} for index in watchers}
    for index, stream, seq, _kind, at in rows:
        what, watcher = published.get((stream, seq)), watchers.get(index)
        if what is None or watcher is None:
            continue
        kind, emergency = what
        press = pressed[emergency]
        role, unit, _ = watcher
        if role == "board":
            wanted = kind == "emergency.started" and stream == "dispatch"
        else:  # the SPD unit on the pressing unit's call
            wanted = kind == "emergency.alert" and unit == press["spd_unit"]
            wanted = wanted and stream == unit_stream(unit)
        if not wanted:
            continue
        from_press[index].setdefault(emergency, (at - press["at"]) * 1000)
        if (stream, seq) in commits:
            from_commit[index].setdefault(emergency, (at - commits[(stream, seq)]) * 1000)
    presses = len(pressed)

    def pooled(role: str, times: dict[int, dict[str, float]]) -> list[float]:
        return [ms for i, got in times.items() if watchers[i][0] == role for ms in got.values()]

    result = {}
    for index, (role, _, name) in watchers.items():
        if role == "board":
            result[name] = feed.summary(list(from_press[index].values()), presses)
            result[f"{name} from commit"] = feed.summary(list(from_commit[index].values()), presses)
    result["spd"] = feed.summary(pooled("spd", from_press), presses)
    result["spd from commit"] = feed.summary(pooled("spd", from_commit), presses)
    result["post round trip"] = feed.summary(
        [p["round_trip"] * 1000 for p in pressed.values()], presses
    )
    return result


def run(args) -> dict:
    feed_args = feed.parse_args(
        [
            "--rate", str(args.rate), "--duration", str(args.duration),
            "--ping-interval", str(args.ping_interval), "--workers", str(args.workers),
            "--redis", args.redis, "--broadcasts", "0",
        ]
    )  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="care_bench_emergency_"))
    db_url = args.postgres.rstrip("/") + "/" + args.db_name
    env = feed.server_env(db_url)
    for command in (["migrate", "--no-input", "-v0"], ["load_reference_data"]):
        subprocess.run([feed.PY, "manage.py", *command], cwd=ROOT, env=env, check=True, timeout=900)
    feed.setup_django(db_url)
    pop = feed.populate(args.sockets)
    feed.free_units()  # earlier runs' calls, the emergency pairs' too (BENCH-E…)
    ticks = int(args.rate * args.duration)
    calls = feed.screened_calls(ticks, pop["dispatcher"])
    pairs, boards = emergency_pairs(args.pairs, pop["dispatcher"])
    specs = feed.device_specs(pop, args.sockets, floor=False)
    # The client spreads sockets over the processes round-robin (index % 2): one board on each.
    watchers: dict[int, tuple[str, int | None, str]] = {}
    for board in boards:
        index = len(specs)
        where = "daphne1, which runs the ticks" if index % 2 == 0 else "daphne2"
        watchers[index] = ("board", None, f"board on {where}")
        specs.append({**socket_spec(board), "ack_every": args.board_ack_every})
    for pair in pairs:
        watchers[len(specs)] = ("spd", pair["spd_unit"], "")
        specs.append(socket_spec(pair["spd_user"]))
        specs.append(socket_spec(pair["care_user"]))
    servers = feed.Servers(work, "emergency")
    client = None
    presses = Presses([], pairs, args.interval)
    server_env = feed.server_env(db_url, args.redis)
    server_env["CARE_ACKS_THROUGH_REDIS"] = "true" if args.acks_through_redis else "false"
    ack_writer = None
    try:
        if args.acks_through_redis:
            ack_writer = subprocess.Popen(
                [feed.PY, "manage.py", "write_acks"],
                cwd=ROOT,
                env=server_env,
                stdout=(work / "write_acks.log").open("w"),
                stderr=subprocess.STDOUT,
            )
        for _ in range(2):
            servers.start_daphne(server_env)
        time.sleep(feed_args.settle)
        client = feed.Client(work, "emergency", servers.ws, specs, feed_args)
        live, connect_seconds = client.wait_ready()
        time.sleep(feed_args.settle)
        load = feed.ChannelsLoad(servers, pop, args.sockets, calls, feed_args)
        presses.urls = servers.http
        pressing = threading.Thread(target=presses.run, args=(args.duration,))
        cpu_before, cpu_started = feed.cpu_seconds(servers.server_pids()), time.monotonic()
        pressing.start()
        dispatched, took = load.targeted(ticks)
        presses.stop.set()
        pressing.join(60)
        time.sleep(args.settle)
        cpu_after, cpu_wall = (
            feed.cpu_seconds(servers.server_pids()),
            time.monotonic() - cpu_started,
        )
        status, rows = client.finish()
        client = None
        commits = servers.commit_times()
    finally:
        if client is not None:  # something failed mid-run: the devices' process goes too
            client.proc.kill()
            client.proc.wait(30)
        servers.stop()
        if ack_writer is not None:
            ack_writer.terminate()
            ack_writer.wait(30)
    from django.db import connections

    result = {
        "sockets": args.sockets,
        "live": live,
        "connect_seconds": connect_seconds,
        "dispatched": dispatched,
        "dispatch_rate": dispatched / max(took, args.duration),
        "acks_through_redis": args.acks_through_redis,
        "presses": len(presses.pressed),
        "press_errors": presses.errors[:5],
        "load_errors": load.errors[:5],
        "load_error_count": len(load.errors),
        "client": status,
        "cpu": {k: (cpu_after[k] - cpu_before[k]) / cpu_wall for k in cpu_before},
        "work": str(work),
    }
    result.update(measure(rows, commits, presses.pressed, watchers))
    connections.close_all()
    return result


def table(result: dict) -> str:
    lines = [
        "| measured | frames got/presses | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, s in result.items():
        if not isinstance(s, dict) or "p99" not in s:
            continue
        if key == "post round trip":
            label = "`POST /api/v1/emergencies` round trip"
        else:
            watcher = key.removesuffix(" from commit")
            frame = "`emergency.alert`" if watcher == "spd" else "`emergency.started`"
            watcher = "SPD tablet on the call" if watcher == "spd" else watcher
            since = "commit" if key.endswith("from commit") else "press"
            label = f"{since} → {watcher}: {frame}"
        lines.append(
            f"| {label} | {s['frames']}/{s['expected']} | {s['p50']:.1f} | {s['p95']:.1f} "
            f"| {s['p99']:.1f} | {s['max']:.1f} |"
        )
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sockets", type=int, default=1000, help="background CARE tablets' sockets")
    p.add_argument("--rate", type=float, default=50.0, help="background dispatch ticks asked/s")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load and presses")
    p.add_argument("--interval", type=float, default=0.3, help="seconds between presses")
    p.add_argument("--pairs", type=int, default=10, help="CARE units taking turns to press")
    p.add_argument("--ping-interval", type=float, default=10.0)
    p.add_argument("--workers", type=int, default=8, help="dispatcher threads of the load")
    p.add_argument(
        "--board-ack-every",
        type=float,
        default=0.0,
        help="0: the boards ack every event, as the board's page does (care/dispatch.js); "
        "S: cumulative acks every S seconds, as the feed's protocol allows",
    )
    p.add_argument(
        "--acks-through-redis",
        action="store_true",
        help="the Daphne processes hand acks to the Redis stream and one `manage.py write_acks` "
        "stores them, as `make cluster`'s socket processes do; without it each stores its own",
    )
    p.add_argument("--settle", type=float, default=10.0, help="seconds for late frames")
    p.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--db-name", default="care_bench_feed")
    p.add_argument("--redis", default="redis://127.0.0.1:6379/6")
    p.add_argument("--json", help="also write the result here")
    return p.parse_args(argv)


def main() -> None:
    args = parse_args()
    print(f"# emergency latency {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"# machine: {feed.machine()}", flush=True)
    result = run(args)
    print(json.dumps(result), flush=True)
    print()
    print(table(result))
    print(f"# load average after: {Path('/proc/loadavg').read_text().split()[:3]}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
