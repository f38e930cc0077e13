"""How long the public dashboard's figures take over a big city's year of calls.

Builds (once) a PostgreSQL database of its own holding about N incidents (default 1,000,000) with
their SPD and CARE assignments, every assignment's transitions, and the CARE records (encounters,
services, naloxone, referrals, surveys), made by the program's one sample-history generator
(server/reports/sample_history.py) and written with COPY. Then rolls the year up day by day (timed;
COPY marks no day changed, so the roll-up is what the dashboard reads), times `program_metrics` (a
staff range) for the whole year and for one month, several runs each, and prints the median and the
worst; checks the year against the figures summed from the calls day by day; times one day
computed from the calls, which is what today's share of any range costs; and times the public
answer for the year 2025 (`period_metrics`): its first ask, which publishes the twelve months, and
the asks after it, served from the published months.

    python bench/metrics_year.py [INCIDENTS] [--rebuild]
    python bench/metrics_year.py --reuse      # roll-up and timing, against the database as it is

The database is `care_bench_metrics` (or $BENCH_DB) on BENCH_PG's server (default
127.0.0.1:5432, postgres). A second run reuses it unless --rebuild is given. --reuse skips
loading the demo data and topping up the incidents (it still applies new migrations, so new
indexes are timed).
"""

from __future__ import annotations

import datetime
import json
import os
import statistics
import sys
import time

BASE = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB", "care_bench_metrics")
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

    from server.reports.daily import Parts, range_parts, spans_parts
    from server.reports.metrics import program_metrics, raw_figures
    from server.reports.periods import parse_period
    from server.reports.publication import period_metrics

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
    start, end = ranges["year"]
    began = time.perf_counter()
    from_calls = Parts()
    for part in spans_parts([(start, end)]).values():
        from_calls.add(part)
    took = (time.perf_counter() - began) * 1000
    same = raw_figures(from_calls) == raw_figures(range_parts(start, end))
    print(f"year from the calls: {took:.0f} ms, {'the same' if same else 'DIFFERENT'} figures")
    day = datetime.date(2025, 6, 15)
    runs = []
    for _ in range(5):
        began = time.perf_counter()
        parts = Parts()
        for part in spans_parts([(day, day)]).values():
            parts.add(part)
        raw_figures(parts)
        runs.append((time.perf_counter() - began) * 1000)
    print(
        f"one day ({day}) from the calls, as today is: median {statistics.median(runs):.0f} ms, "
        f"worst {max(runs):.0f} ms"
    )
    year = parse_period("2025")
    began = time.perf_counter()
    period_metrics(year)
    first = (time.perf_counter() - began) * 1000
    runs = []
    for _ in range(5):
        began = time.perf_counter()
        period_metrics(year)
        runs.append((time.perf_counter() - began) * 1000)
    print(
        f"public year 2025: first ask (publishes 12 months) {first:.0f} ms; then median "
        f"{statistics.median(runs):.0f} ms, worst {max(runs):.0f} ms"
    )


def generate(count: int, offset: int) -> dict[str, int]:
    """About `count` incidents spread over 2025, from the shared sample-history generator."""
    from django.db import connection

    from server.care.models import (
        Encounter,
        NaloxoneAdministration,
        Referral,
        ServiceGiven,
        SurveyResponse,
    )
    from server.dispatch.models import Assignment, AssignmentTransition, Incident
    from server.reports.sample_history import References, sample_days

    now = datetime.datetime.now(datetime.UTC)
    models = {
        "incident": Incident,
        "assignment": Assignment,
        "transition": AssignmentTransition,
        "encounter": Encounter,
        "service": ServiceGiven,
        "naloxone": NaloxoneAdministration,
        "referral": Referral,
        "survey": SurveyResponse,
    }
    tables = {name: (model, _columns(model, name)) for name, model in models.items()}
    counts = dict.fromkeys(tables, 0)
    rows: dict[str, list] = {name: [] for name in tables}
    per_day = max(1, count // 365)
    days = sample_days(
        YEAR_START,
        365,
        per_day,
        References.from_database(),
        seed=offset + 11,
        prefix=f"B{offset}-",
        transitions=True,
    )
    for day in days:
        rows["incident"] += [_row(i, now) for i in day.incidents]
        rows["assignment"] += [_row(a, now) for a in day.assignments]
        rows["transition"] += [_row(t, now) for t in day.transitions]
        for name in ("encounter", "service", "naloxone", "referral", "survey"):
            rows[name] += [_row(r, now) for r in day.of_kind(models[name])]
        if len(rows["incident"]) >= 20_000:
            _flush(connection, tables, rows, counts)
    _flush(connection, tables, rows, counts)
    return counts


def _columns(model, name: str) -> list[str]:
    """The table's columns (a transition's id is the database's own)."""
    return [
        f.column
        for f in model._meta.concrete_fields
        if not (f.column == "id" and name == "transition")
    ]


def _row(record, now) -> dict:
    """The record as COPY writes it: the values its fields hold, with the times Django would set
    on save (auto_now, auto_now_add), and JSON as text."""
    row = {}
    for field in record._meta.concrete_fields:
        value = getattr(record, field.attname)
        if value is None and (
            getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        ):
            value = now
        row[field.column] = json.dumps(value) if isinstance(value, (dict, list)) else value
    return row


def _flush(connection, tables, rows, counts) -> None:
    with connection.cursor() as cursor:
        raw = cursor.cursor
        for name, (model, columns) in tables.items():
            if not rows[name]:
                continue
            sql = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"
            with raw.copy(sql) as copy:
                for row in rows[name]:
                    copy.write_row([row[c] for c in columns])
            counts[name] += len(rows[name])
            rows[name].clear()
    connection.commit() if not connection.get_autocommit() else None


if __name__ == "__main__":
    main()
