"""The dispatch board's map under load: 500 open calls and 300 units, positions arriving at 20 a
second, in Debian's Chromium against one real Daphne process.

    .venv/bin/python bench/map_board.py            # SQLite file database
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/map_board.py

It prints:
- time to first render: from the board's navigation start to the map holding every call and
  unit (`#map[data-state=loaded]`), as the page's own clock counts it;
- dropped updates: positions the server accepted minus those the page drew (its count of
  `unit.position` events), after the last one had time to arrive;
- server cost per position update: the Daphne process's CPU seconds over the updates accepted,
  and the request's round trip as the tablets saw it (median, 95th percentile).
"""

from __future__ import annotations

import datetime
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.sync_drain import _cpu_seconds  # noqa: E402
from tests.e2e.conftest import ServedSystem, _database_url  # noqa: E402

CALLS, UNITS = 500, 300
RATE, SECONDS = 20, 30  # position updates a second, for this long
# Downtown Seattle, inside the pilot area's box.
SOUTH, NORTH, WEST, EAST = 47.595, 47.625, -122.350, -122.320

SETUP = """
import json, random, datetime
from django.contrib.auth.hashers import make_password
from django.utils import timezone
from server.accounts.models import Role, User
from server.accounts.services import issue_console_token
from server.dispatch.incidents import services
from server.dispatch.models import Unit

random.seed(7)
dispatcher = User.objects.get(username="dispatcher")
password = make_password("care-demo")
tokens = {}
for n in range(%(units)d):
    kind = "care" if n %% 2 == 0 else "spd"
    unit = Unit.objects.create(call_sign=f"B{kind[0].upper()}{n:03d}", kind=kind)
    user = User.objects.create(
        username=f"bench{n}", password=password, unit=unit,
        role=Role.CARE_RESPONDER if kind == "care" else Role.SPD_OFFICER,
    )
    tokens[unit.pk] = issue_console_token(user=user)
now = timezone.now()
for n in range(%(calls)d):
    services.create_incident(
        actor=dispatcher, cad_number=f"BENCH-{n:04d}", call_type="DOWN - CHECK FOR DOWN PERSON",
        priority=3, address=f"{n} Bench St",
        latitude=random.uniform(%(south)f, %(north)f), longitude=random.uniform(%(west)f, %(east)f),
        received_at=now - datetime.timedelta(minutes=n %% 60),
        screening={"weapons": False, "violence": False, "medical_emergency": False,
                   "imminent_danger": False},
    )
print(json.dumps(tokens))
"""


def _prepare(folder: Path) -> tuple[ServedSystem, dict[int, str], callable]:
    url, drop = _database_url(folder, prefix="care_bench_map")
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "server.settings"}
    env["DEBUG"] = "true"  # the demo people load only into a DEBUG install
    for command in (["migrate", "--no-input", "-v0"], ["load_demo"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
    script = SETUP % {
        "units": UNITS,
        "calls": CALLS,
        "south": SOUTH,
        "north": NORTH,
        "west": WEST,
        "east": EAST,
    }
    made = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    tokens = {int(k): v for k, v in json.loads(made.stdout.strip().splitlines()[-1]).items()}
    # Served with DEBUG on, as the browser tests serve it: the pages' static files come from the
    # source tree (no collectstatic). Django then also keeps each request's SQL log.
    served = {**env, "SECRET_KEY": secrets.token_urlsafe(50)}
    return ServedSystem(served, folder), tokens, drop


def _first_fixes(url: str, tokens: dict[int, str]) -> dict[int, list[float]]:
    """Every unit reports once (a minute ago) so the board opens with 300 markers."""
    where = {}
    at = (datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)).isoformat()
    session = requests.Session()
    for unit, token in tokens.items():
        where[unit] = [random.uniform(SOUTH, NORTH), random.uniform(WEST, EAST)]
        session.post(
            f"{url}/api/v1/units/{unit}/position",
            json={
                "latitude": where[unit][0],
                "longitude": where[unit][1],
                "accuracy_m": 8,
                "recorded_at": at,
            },
            headers={"Authorization": f"Token {token}"},
            timeout=30,
        ).raise_for_status()
    return where


def _open_board(page, url: str) -> float:
    page.goto(f"{url}/login/")
    page.get_by_label("Username").fill("dispatcher")
    page.get_by_label("Password").fill("care-demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#map[data-state='loaded'][data-layers='loaded']", timeout=120_000)
    page.wait_for_selector("body[data-live='yes']", timeout=60_000)
    # The page's clock, from the board's own navigation start.
    return page.evaluate("performance.now()") / 1000


def _send_updates(url: str, tokens: dict[int, str], where: dict[int, list[float]]) -> dict:
    """RATE updates a second for SECONDS, each from a random unit, 20 m on from its last fix."""
    units = list(tokens)
    answers: list[int] = []
    trips: list[float] = []
    lock = threading.Lock()
    local = threading.local()

    def send(unit: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        with lock:
            where[unit][0] += 0.00018  # about 20 m north
            body = {
                "latitude": where[unit][0],
                "longitude": where[unit][1],
                "accuracy_m": 8,
                "recorded_at": datetime.datetime.now(datetime.UTC).isoformat(),
            }
        started = time.perf_counter()
        answer = session.post(
            f"{url}/api/v1/units/{unit}/position",
            json=body,
            headers={"Authorization": f"Token {tokens[unit]}"},
            timeout=30,
        )
        with lock:
            trips.append(time.perf_counter() - started)
            answers.append(answer.status_code)

    threads: list[threading.Thread] = []
    start = time.perf_counter()
    for n in range(RATE * SECONDS):
        due = start + n / RATE
        time.sleep(max(0.0, due - time.perf_counter()))
        thread = threading.Thread(target=send, args=(random.choice(units),))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return {"answers": answers, "trips": trips, "wall": time.perf_counter() - start}


def main() -> None:
    from playwright.sync_api import sync_playwright

    random.seed(11)
    folder = Path(tempfile.mkdtemp(prefix="care-bench-map-"))
    system, tokens, drop = _prepare(folder)
    try:
        url = system.start_daphne()
        server_pid = system.processes[-1].pid
        where = _first_fixes(url, tokens)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=True,
                args=["--no-sandbox", "--disable-gpu"],
            )
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            first_render = _open_board(page, url)
            markers = page.locator(".leaflet-marker-pane .unit-icon").count()
            calls = page.locator("path.call-marker").count()
            cpu_before = _cpu_seconds(server_pid)
            sent = _send_updates(url, tokens, where)
            server_cpu = _cpu_seconds(server_pid) - cpu_before
            accepted = sum(1 for s in sent["answers"] if s == 202)
            deadline = time.monotonic() + 30
            drawn = 0
            while time.monotonic() < deadline:
                drawn = int(page.evaluate("document.getElementById('map').dataset.positions || 0"))
                if drawn >= accepted:
                    break
                time.sleep(0.5)
            browser.close()
        trips = sorted(sent["trips"])
        print(f"board: {calls} calls and {markers} unit markers drawn")
        print(f"time to first render: {first_render:.2f} s")
        print(
            f"updates: {len(sent['answers'])} sent in {sent['wall']:.1f} s, {accepted} accepted "
            f"(answers {dict(Counter(sent['answers']))}), "
            f"{drawn} drawn, dropped {accepted - drawn}"
        )
        print(
            f"server CPU per update: {server_cpu / max(accepted, 1) * 1000:.1f} ms "
            f"({server_cpu:.1f} s in all); round trip median "
            f"{statistics.median(trips) * 1000:.0f} ms, "
            f"p95 {trips[int(len(trips) * 0.95)] * 1000:.0f} ms"
        )
    finally:
        system.stop()
        drop()


if __name__ == "__main__":
    main()
