"""How long the planner takes over a big city's year of calls, and how it grows.

Writes a year of N calls (default 300,000) in SPD's Call Data export format: person-down and
welfare checks at the seed rates (2,686 and 5,533 a year), the rest other call types, placed
at random inside the city's areas, more by day than by night. Then, in a PostgreSQL database
of its own: imports the file (`import_export`, as `manage.py import_call_history` does), runs
one scenario (city-wide, 24/7, both eligible types) for 10 replications as `manage.py plan`
does, and times how the simulation alone grows with eligible calls and with teams (a stress
scenario in which every call type is eligible).

    python bench/planner.py [CALLS] [--keep]

The database is `care_bench_planner` (or $BENCH_DB) on BENCH_PG's server (default
127.0.0.1:5432, postgres); it is dropped and made again each run unless --keep.
"""

from __future__ import annotations

import csv
import datetime
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

BASE = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB_NAME = os.environ.get("BENCH_DB", "care_bench_planner")
os.environ["DATABASE_URL"] = f"{BASE}/{DB_NAME}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
os.environ.setdefault("DEBUG", "true")  # an unset DEBUG means production (SECRET_KEY needed)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy  # noqa: E402
import psycopg  # noqa: E402
import shapely  # noqa: E402

from server.interop.replay import COLUMNS, INELIGIBLE, TIME_FORMAT, YEARLY  # noqa: E402

YEAR = 2025


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ensure_database(keep: bool) -> None:
    with psycopg.connect(f"{BASE}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME]).fetchone()
        if exists and not keep:
            conn.execute(f"DROP DATABASE {DB_NAME}")
            exists = None
        if not exists:
            conn.execute(f"CREATE DATABASE {DB_NAME}")


def _points(count: int, rng: numpy.random.Generator) -> numpy.ndarray:
    """`count` (lon, lat) points inside the city's areas, uniformly."""
    areas = json.loads((ROOT / "fixtures/seattle/spd-mcpp-areas.geojson").read_text())["features"]
    city = shapely.union_all([shapely.geometry.shape(f["geometry"]) for f in areas])
    shapely.prepare(city)
    west, south, east, north = city.bounds
    found = numpy.empty((0, 2))
    while len(found) < count:
        xy = numpy.column_stack(
            [rng.uniform(west, east, count * 2), rng.uniform(south, north, count * 2)]
        )
        found = numpy.vstack([found, xy[shapely.contains_xy(city, xy[:, 0], xy[:, 1])]])
    return found[:count]


def write_year(path: Path, calls: int, seed: int = 7) -> dict[str, int]:
    rng = numpy.random.default_rng(seed)
    picker = random.Random(seed)
    eligible = sum(YEARLY.values())
    types = [t for t, n in YEARLY.items() for _ in range(n)]
    types += [picker.choice(INELIGIBLE)[0] for _ in range(max(calls - eligible, 0))]
    picker.shuffle(types)
    types = types[:calls]
    where = _points(len(types), rng)
    start = datetime.datetime(YEAR, 1, 1)
    days = rng.integers(0, 365, len(types))
    # Daytime-heavy: most calls between 08:00 and 23:00, as in the CAD replay's demo day.
    minutes = rng.triangular(6 * 60, 15 * 60, 24 * 60 - 1, len(types))
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for i, call_type in enumerate(types):
            at = start + datetime.timedelta(days=int(days[i]), minutes=float(minutes[i]))
            writer.writerow(
                [f"{YEAR}{i:08d}", "", "911", 3, call_type, "", at.strftime(TIME_FORMAT), "",
                 "", "", "", f"{where[i, 0]:.7f}", f"{where[i, 1]:.7f}"]
            )  # fmt: skip
    return {"calls": len(types), "eligible_types": eligible}


def all_day(teams: int) -> list[dict]:
    return [{"weekday": d, "start": "00:00", "end": "00:00", "teams": teams} for d in range(7)]


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    calls = int(args[0]) if args else 300_000
    ensure_database("--keep" in sys.argv)

    import django

    django.setup()
    from django.core.management import call_command

    from server.care.reference_data import load_reference_data
    from server.planner import selectors, services
    from server.planner.history import import_export
    from server.planner.models import Scenario

    call_command("migrate", verbosity=0)
    load_reference_data()
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "calls.csv"
        began = time.perf_counter()
        made = write_year(path, calls)
        print(
            f"wrote {made['calls']:,} calls ({path.stat().st_size / 1e6:.0f} MB) "
            f"in {time.perf_counter() - began:.1f} s"
        )
        began = time.perf_counter()
        with path.open(newline="") as handle:
            history = import_export(handle, name=f"bench year {time.time():.0f}")
        took = time.perf_counter() - began
        print(
            f"import: {history.calls:,} calls in {took:.1f} s ({history.calls / took:,.0f}/s), "
            f"{history.rows_bad} bad; peak RSS {peak_rss_mb():.0f} MB"
        )

    scenario = Scenario.objects.filter(name="bench: city-wide 24/7").first()
    values = {
        "city_wide": True,
        "areas": [],
        "hours": all_day(4),
        "call_types": list(YEARLY),
        "replications": 10,
        "travel_source": "distance",
        "scene_source": "fixed",
    }
    scenario = services.save_scenario(
        actor=None, scenario=scenario, name="bench: city-wide 24/7", **values
    )
    began = time.perf_counter()
    run = services.run_plan(scenario=scenario, history=history, replications=10)
    took = time.perf_counter() - began
    share = run.results["share"]
    print(
        f"plan (city-wide 24/7, 4 teams, 10 replications): {took:.1f} s over "
        f"{run.results['screened']:,} calls, {run.results['eligible']:,} eligible; share "
        f"{share['mean']:.3f} [{share['low']:.3f}, {share['high']:.3f}]; "
        f"peak RSS {peak_rss_mb():.0f} MB"
    )

    began = time.perf_counter()
    rows = list(selectors.history_rows(history))
    print(f"read the history: {time.perf_counter() - began:.1f} s")
    growth(scenario, rows, services)
    print(f"load average at end: {os.getloadavg()}")


def growth(scenario, rows, services) -> None:
    """The simulation alone (rows in memory, screened once per size) as calls and teams grow:
    every call type eligible, so every call is simulated."""
    from server.interop.replay import INELIGIBLE as OTHERS

    scenario.call_types = [*YEARLY, *(t for t, _ in OTHERS)]
    for step in (4, 2, 1):
        subset = rows[::step]
        began = time.perf_counter()
        prepared = services.prepare(scenario, subset)
        screened = time.perf_counter() - began
        for teams in (8, 32, 128):
            scenario.hours = all_day(teams)
            prepared.teams = [teams] * 672
            began = time.perf_counter()
            figures = services.simulate(scenario, prepared, list(range(10)))
            print(
                f"  {len(subset):>7,} calls ({len(prepared.demand.calls):,} eligible), "
                f"{teams:>3} teams: screen {screened:.1f} s, simulate x10 "
                f"{time.perf_counter() - began:.1f} s, share {figures['share']['mean']:.3f}, "
                f"peak RSS {peak_rss_mb():.0f} MB"
            )


if __name__ == "__main__":
    main()
