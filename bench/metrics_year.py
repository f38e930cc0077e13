"""How long the public dashboard's figures take over a big city's year of calls.

Builds (once) a PostgreSQL database of its own holding about N incidents (default 1,000,000) with
their SPD and CARE assignments, every assignment's transitions, and the CARE records (encounters,
naloxone, referrals, surveys), written with COPY. Then rolls the year up day by day (timed; COPY
marks no day changed, so the roll-up is what the dashboard reads), times `program_metrics` for the
whole year and for one month, several runs each, and prints the median and the worst; checks the
answers against `live_metrics` (the same figures computed from the calls alone, also timed) and
times one day computed from the calls, which is what today's share of any range costs.

    python bench/metrics_year.py [INCIDENTS] [--rebuild]
    python bench/metrics_year.py --reuse      # roll-up and timing, against the database as it is

The database is `care_bench_metrics` on DATABASE_URL's server (default 127.0.0.1:5432, postgres).
A second run reuses it unless --rebuild is given. --reuse skips loading the demo data and topping
up the incidents (it still applies new migrations, so new indexes are timed).
"""

from __future__ import annotations

import datetime
import json
import os
import random
import statistics
import sys
import time
import uuid

BASE = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = "care_bench_metrics"
os.environ["DATABASE_URL"] = f"{BASE}/{DB_NAME}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
os.environ.setdefault("DEBUG", "true")  # an unset DEBUG means production (SECRET_KEY needed)
os.environ.pop("TEST_DATABASE_NAME", None)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import psycopg  # noqa: E402

YEAR_START = datetime.date(2025, 1, 1)


def ensure_database(rebuild: bool) -> None:
    with psycopg.connect(f"{BASE}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if exists and rebuild:
            conn.execute(f"DROP DATABASE {DB_NAME}")
            exists = None
        if not exists:
            conn.execute(f"CREATE DATABASE {DB_NAME}")


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    target = int(args[0]) if args else 1_000_000
    ensure_database("--rebuild" in sys.argv)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from server.dispatch.models import Incident

    call_command("migrate", verbosity=0)
    if "--reuse" in sys.argv:
        print(f"incidents in the database: {Incident.objects.count():,}")
        time_roll_up()
        time_metrics()
        return
    call_command("load_demo", verbosity=0)
    have = Incident.objects.count()
    if have < target:
        started = time.perf_counter()
        counts = generate(target - have, offset=have)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        took = time.perf_counter() - started
        print(f"generated in {took:.0f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    print(f"incidents in the database: {Incident.objects.count():,}")
    time_roll_up()
    time_metrics()


def time_roll_up() -> None:
    from django.db import connection

    from server.reports.daily import roll_up
    from server.reports.models import DailyDuration, DailyFigure

    days = [YEAR_START + datetime.timedelta(days=n) for n in range(365)]
    began = time.perf_counter()
    roll_up(days)
    took = time.perf_counter() - began
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE reports_dailyfigure, reports_dailyduration")
    print(
        f"rolled up {len(days)} days in {took:.1f} s: {DailyFigure.objects.count():,} figure "
        f"rows, {DailyDuration.objects.count():,} duration rows"
    )


def time_metrics() -> None:
    from django.db import connection, reset_queries

    from server.reports.daily import Parts, spans_parts
    from server.reports.metrics import figures_from_parts, live_metrics, program_metrics

    ranges = {
        "year": (YEAR_START, YEAR_START + datetime.timedelta(days=364)),
        "month": (datetime.date(2025, 6, 1), datetime.date(2025, 6, 30)),
    }
    for name, (start, end) in ranges.items():
        runs = []
        for _ in range(5):
            reset_queries()
            began = time.perf_counter()
            figures = program_metrics(start=start, end=end)
            runs.append((time.perf_counter() - began) * 1000)
        print(
            f"{name} ({start} to {end}), from the roll-up: median {statistics.median(runs):.0f} "
            f"ms, worst {max(runs):.0f} ms over {len(runs)} runs; care_responded "
            f"{figures['care_responded']}, queries per run "
            f"{len(connection.queries) if connection.queries_logged else 'n/a'}"
        )
        began = time.perf_counter()
        live = live_metrics(start=start, end=end)
        took = (time.perf_counter() - began) * 1000
        same = "the same figures" if live == figures else "DIFFERENT FIGURES"
        print(f"{name} from the calls alone: {took:.0f} ms, {same}")
    day = datetime.date(2025, 6, 15)
    runs = []
    for _ in range(5):
        began = time.perf_counter()
        parts = Parts()
        for part in spans_parts([(day, day)]).values():
            parts.add(part)
        one_day = figures_from_parts(day, day, parts)
        runs.append((time.perf_counter() - began) * 1000)
    same = "the same figures" if one_day == live_metrics(start=day, end=day) else "DIFFERENT"
    print(
        f"one day ({day}) from the calls, as today is: median {statistics.median(runs):.0f} ms, "
        f"worst {max(runs):.0f} ms; {same} as live_metrics"
    )


def template(model, **fixed) -> dict:
    """The row a model would write with its Python defaults: COPY bypasses them otherwise."""
    obj = model(**fixed)
    row = {}
    for field in model._meta.concrete_fields:
        value = getattr(obj, field.attname)
        row[field.column] = json.dumps(value) if isinstance(value, (dict, list)) else value
    return row


def generate(count: int, offset: int) -> dict[str, int]:
    from django.db import connection

    from server.accounts.models import User
    from server.care.models import (
        DirectoryService,
        Encounter,
        NaloxoneAdministration,
        Referral,
        SurveyResponse,
    )
    from server.dispatch.models import (
        Area,
        Assignment,
        AssignmentTransition,
        CallType,
        Incident,
        Unit,
    )

    rng = random.Random(offset + 11)
    now = datetime.datetime.now(datetime.UTC)
    dispatcher = User.objects.get(username="dispatcher")
    responder = User.objects.get(username="care1")
    officer = User.objects.get(username="officer1")
    call_types = list(CallType.objects.values_list("pk", "eligible"))
    eligible_types = [t for t in call_types if t[1]]
    areas = list(Area.objects.values_list("name", flat=True))
    care_units = list(Unit.objects.filter(kind="care").values_list("pk", flat=True))
    spd_units = list(Unit.objects.filter(kind="spd").values_list("pk", flat=True))
    services = list(DirectoryService.objects.values_list("pk", flat=True))
    tables = {
        "incident": (Incident, template(Incident, created_by=dispatcher, created_at=now)),
        "assignment": (Assignment, template(Assignment, updated_at=now)),
        "transition": (AssignmentTransition, template(AssignmentTransition, actor=officer)),
        "encounter": (Encounter, template(Encounter, recorded_by=responder, updated_at=now)),
        "naloxone": (
            NaloxoneAdministration,
            template(NaloxoneAdministration, recorded_by=responder),
        ),
        "referral": (Referral, template(Referral, recorded_by=responder, updated_at=now)),
        "survey": (SurveyResponse, template(SurveyResponse, recorded_by=responder)),
    }
    for _, row in tables.values():
        for key in ("recorded_at", "recorded_at"):
            if key in row and row[key] is None:
                row[key] = now
    counts = dict.fromkeys(tables, 0)
    rows: dict[str, list] = {name: [] for name in tables}
    # Times to the second, as a CAD system keeps them, so durations take many distinct values.
    span = 365 * 24 * 3600
    for n in range(count):
        received = datetime.datetime(2025, 1, 1, 8, tzinfo=datetime.UTC) + datetime.timedelta(
            seconds=rng.randrange(span)
        )
        # Half the calls are of the types CARE may take, as in the pilot's busiest beats.
        type_id, eligible = rng.choice(eligible_types if rng.random() < 0.5 else call_types)
        incident_id = uuid.uuid4()
        roll = rng.random()
        response, status, reason = "police_only", "closed", ""
        if eligible and roll < 0.05:
            response, status = "", "resolved_by_phone"
        elif eligible and roll < 0.08:
            response, status = "", "referred_to_hotline"
        elif eligible and roll < 0.6:
            response = "dual"
        elif eligible:
            reason = rng.choice(["No CARE team available", "Supervisor decision", ""])
        dispatched = received + datetime.timedelta(seconds=rng.randint(30, 300))
        rows["incident"].append(
            {
                "id": incident_id,
                "cad_number": f"B{offset + n:09d}",
                "call_type_id": type_id,
                "priority": 3,
                "address": "Bench St",
                "latitude": 47.6,
                "longitude": -122.33,
                "received_at": received,
                "area": rng.choice(areas),
                "eligible": eligible,
                "recommendation": "dual_dispatch" if eligible else "police_only",
                "dispatch_model": "911_led",
                "status": status,
                "response": response,
                "police_only_reason": reason,
                "dispatched_at": dispatched if response else None,
                "closed_at": received + datetime.timedelta(hours=2),
            }
        )
        if not response:
            continue
        spd_safe = dispatched + datetime.timedelta(seconds=rng.randint(360, 1500))
        spd_clear = spd_safe + datetime.timedelta(seconds=rng.randint(60, 900))
        spd = _assignment(
            rows,
            incident_id,
            rng.choice(spd_units),
            "spd",
            dispatched,
            spd_safe - datetime.timedelta(minutes=3),
            spd_safe,
            spd_clear,
        )
        _transitions(rows, spd, officer.pk)
        if response == "dual":
            arrive = dispatched + datetime.timedelta(seconds=rng.randint(300, 1800))
            clear = max(arrive, spd_clear) + datetime.timedelta(seconds=rng.randint(300, 5400))
            care = _assignment(
                rows, incident_id, rng.choice(care_units), "care", dispatched, arrive, None, clear
            )
            _transitions(rows, care, responder.pk)
            _care_records(rows, rng, care, services)
        if len(rows["incident"]) >= 20_000:
            _flush(connection, tables, rows, counts)
    _flush(connection, tables, rows, counts)
    return counts


def _assignment(rows, incident_id, unit, kind, dispatched, arrive, safe, clear) -> dict:
    row = {
        "id": uuid.uuid4(),
        "incident_id": incident_id,
        "unit_id": unit,
        "kind": kind,
        "status": "cleared",
        "dispatched_at": dispatched,
        "acknowledged_at": dispatched + datetime.timedelta(seconds=20),
        "on_scene_at": arrive,
        "scene_safe_at": safe,
        "cleared_at": clear,
    }
    rows["assignment"].append(row)
    return row


def _transitions(rows, a, actor_id) -> None:
    steps = [
        ("dispatched", "acknowledged", a["acknowledged_at"]),
        ("acknowledged", "en_route", a["acknowledged_at"]),
        ("en_route", "on_scene", a["on_scene_at"]),
    ]
    last = "on_scene"
    if a["scene_safe_at"]:
        steps.append(("on_scene", "scene_safe", a["scene_safe_at"]))
        last = "scene_safe"
    steps.append((last, "cleared", a["cleared_at"]))
    for frm, to, at in steps:
        rows["transition"].append(
            {
                "assignment_id": a["id"],
                "from_status": frm,
                "to_status": to,
                "actor_id": actor_id,
                "occurred_at": at,
                "recorded_at": at,
            }
        )


def _care_records(rows, rng, care, services) -> None:
    encounter = uuid.uuid4()
    at = care["on_scene_at"]
    rows["encounter"].append(
        {"id": encounter, "assignment_id": care["id"], "started_at": at, "recorded_at": at}
    )
    if rng.random() < 0.08:
        rows["naloxone"].append(
            {
                "id": uuid.uuid4(),
                "encounter_id": encounter,
                "administered_at": at,
                "doses": 1,
                "dose_mg": 4,
                "route": "intranasal",
                "recorded_at": at,
                "response": rng.choice(["improved"] * 8 + ["unchanged", "unknown"]),
                "ems_called": rng.random() < 0.5,
            }
        )
    if rng.random() < 0.4:
        rows["referral"].append(
            {
                "id": uuid.uuid4(),
                "encounter_id": encounter,
                "service_id": rng.choice(services),
                "consent": True,
                "made_at": at,
                "recorded_at": at,
                "status": rng.choice(["connected", "connected", "made", "contacted", "declined"]),
            }
        )
    if rng.random() < 0.25:
        rows["survey"].append(
            {
                "id": uuid.uuid4(),
                "encounter_id": encounter,
                "consent": True,
                "answered_at": at,
                "recorded_at": at,
                "answers": json.dumps(
                    {
                        k: rng.choice([3, 4, 5, 5])
                        for k in ("respected", "helped", "would_call_again")
                    }
                ),
            }
        )


def _flush(connection, tables, rows, counts) -> None:
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for name, (model, base) in tables.items():
            if not rows[name]:
                continue
            columns = [c for c in base if not (c == "id" and name == "transition")]
            sql = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
            with raw.copy(sql) as copy:
                for row in rows[name]:
                    merged = base | row
                    copy.write_row([merged[c] for c in columns])
            counts[name] += len(rows[name])
            rows[name].clear()
    connection.commit() if not connection.get_autocommit() else None


if __name__ == "__main__":
    main()
