"""Real Daphne processes on their own database, for tests about the served system."""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _admin_url(base: str) -> str:
    return base.rsplit("/", 1)[0] + "/postgres"


def _create_database(base: str, name: str, template: str | None = None) -> tuple[str, callable]:
    admin_url = _admin_url(base)
    copy = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return base.rsplit("/", 1)[0] + "/" + name, drop


def _database_url(tmp_path: Path, prefix: str = "care_e2e") -> tuple[str, callable]:
    """A database of its own for the server processes: a SQLite file, or a fresh PostgreSQL
    database (named `prefix` and a random suffix) when the suite runs against PostgreSQL."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        return f"sqlite:///{tmp_path / 'e2e.sqlite3'}", lambda: None
    return _create_database(base, f"{prefix}_{uuid.uuid4().hex[:8]}")


def _prepare(env: dict[str, str]) -> None:
    for command in (["migrate", "--no-input", "-v0"], ["load_demo"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )


class DemoTemplate:
    """One migrated, demo-loaded database per test run, copied for each served system: a copy
    takes a fraction of a second, migrating and loading the demo several seconds."""

    def __init__(self) -> None:
        self.url: str | None = None
        self._drop: callable = lambda: None

    def copy_to(self, tmp_path: Path, prefix: str) -> tuple[str, callable]:
        if self.url is None:
            self._build()
        base = os.environ.get("DATABASE_URL", "")
        if not base.startswith("postgres"):
            target = tmp_path / "e2e.sqlite3"
            shutil.copyfile(self.url.removeprefix("sqlite:///"), target)
            return f"sqlite:///{target}", lambda: None
        template = self.url.rsplit("/", 1)[1]
        return _create_database(base, f"{prefix}_{uuid.uuid4().hex[:8]}", template)

    def _build(self) -> None:
        base = os.environ.get("DATABASE_URL", "")
        if base.startswith("postgres"):
            url, self._drop = _create_database(
                base, f"{own_database_prefix('e2e_template')}_{uuid.uuid4().hex[:8]}"
            )
        else:
            folder = Path(tempfile.mkdtemp(prefix="care-e2e-template-"))
            url = f"sqlite:///{folder / 'demo.sqlite3'}"
            self._drop = lambda: shutil.rmtree(folder, ignore_errors=True)
        _prepare(
            {
                **os.environ,
                "DATABASE_URL": url,
                "DEBUG": "true",
                "DJANGO_SETTINGS_MODULE": "server.settings",
            }
        )
        self.url = url

    def drop(self) -> None:
        self._drop()
        self.url = None


demo_template = DemoTemplate()


class ServedSystem:
    def __init__(self, env: dict[str, str], tmp_path: Path):
        self.env = env
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen] = []
        self.ports: dict[subprocess.Popen, str] = {}

    def start_daphne(self, port: int | None = None) -> str:
        """Start a Daphne process (on `port`, to restart one that died) and wait until it serves.

        The test binds the listening socket itself and hands it to Daphne (`--fd`), so no other
        process can take the port between choosing it and serving on it."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port or 0))
        listener.listen(128)
        port = listener.getsockname()[1]
        log = (self.tmp_path / f"daphne-{port}.log").open("a")
        try:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "deploy/serve.py",  # Daphne as production starts it (body limit inside)
                    "--fd",
                    str(listener.fileno()),
                    "server.asgi:application",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=[listener.fileno()],
            )
        finally:
            listener.close()  # Daphne holds its own copy
        self.processes.append(proc)
        self.ports[proc] = str(port)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"daphne exited: {(self.tmp_path / log.name).read_text()}")
            try:
                requests.get(f"{url}/api/v1/metrics", timeout=1)
                return url
            except (requests.ConnectionError, requests.Timeout):  # not accepting yet, or busy
                time.sleep(0.2)
        raise RuntimeError("daphne did not start within 30 s")

    def kill(self, url: str) -> None:
        """Kill one Daphne process outright (SIGKILL: no goodbye to its sockets)."""
        port = url.rsplit(":", 1)[1]
        for proc in self.processes:
            if self.ports[proc] == port:
                proc.kill()
                proc.wait(timeout=10)

    def restart(self, url: str) -> str:
        """Start a process again on the port of one that was killed."""
        return self.start_daphne(int(url.rsplit(":", 1)[1]))

    def pid(self, url: str) -> int:
        """The live process serving `url`."""
        port = url.rsplit(":", 1)[1]
        return next(p.pid for p in self.processes if p.poll() is None and self.ports[p] == port)

    def stop(self) -> None:
        # Teardown only: nothing is checked after it, so Daphne's graceful shutdown (up to 10 s
        # while a socket is open) is not waited out.
        for proc in self.processes:
            proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()


def serve(tmp_path: Path, *, prefix: str = "care_e2e", **settings: str):
    """Migrated, demo-loaded database and a way to start Daphne processes on it; `settings`
    are environment variables for the processes (REDIS_URL, CARE_FEED_HEARTBEAT_SECONDS...).
    Without settings the database is a copy of the run's demo template; with them it is
    prepared under them, in case one changes what is loaded."""
    if settings:
        url, drop = _database_url(tmp_path, prefix)
    else:
        url, drop = demo_template.copy_to(tmp_path, prefix)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "server.settings",
        **settings,
    }
    if settings:
        _prepare(env)
    system = ServedSystem(env, tmp_path)
    try:
        yield system
    finally:
        system.stop()
        drop()


@pytest.fixture
def served_system(tmp_path):
    """Migrated, demo-loaded database and a way to start Daphne processes on it."""
    yield from serve(tmp_path)


def until(check, seconds: float) -> bool:
    """Wait for `check()` to hold, asking every tenth of a second; False if it never did within
    `seconds` (a guard against a hang, never a figure)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def own_database_prefix(purpose: str) -> str:
    """Databases a test makes are named after the run's test database, so runs sharing one
    PostgreSQL server never touch each other's (and can be told apart by `datname`)."""
    return f"{os.environ.get('TEST_DATABASE_NAME') or 'care'}_{purpose}"


class PortTaken(OSError):
    """Another process bound the port between choosing it and the server binding it."""


class RedisServer:
    """A redis-server of the test's own, so the test may kill and restart it. It keeps nothing
    on disk: a restart loses every group and queued message, as a crash of a cache would."""

    def __init__(self, tmp_path: Path, port: int):
        self.tmp_path = tmp_path
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp_path),
            ],
            stdout=(self.tmp_path / f"redis-{self.port}.log").open("a"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.tmp_path / f"redis-{self.port}.log").read_text()
                self.process = None
                if "Address already in use" in log:
                    raise PortTaken(self.port)
                raise RuntimeError(f"redis-server exited: {log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory):
    """A Redis to restart: on CARE_E2E_REDIS_PORT when set (machines that reserve ports),
    else on any free port."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    fixed = os.environ.get("CARE_E2E_REDIS_PORT")
    folder = tmp_path_factory.mktemp("redis")
    for _ in range(5):
        server = RedisServer(folder, int(fixed or _free_port()))
        try:
            server.start()
            break
        except PortTaken:
            if fixed:
                raise
    else:
        raise RuntimeError("no free port for redis-server after 5 tries")
    yield server
    server.kill()


def welfare_check(cad_number: str) -> dict:
    """A CARE-eligible call in Pioneer Square, as a CAD feed would send it."""
    return {
        "cad_number": cad_number,
        "call_type": "SERVICE - WELFARE CHECK",
        "priority": 3,
        "address": "2nd Ave & Yesler Way",
        "latitude": 47.6017,
        "longitude": -122.3331,
        "narrative": "Caller worried about a woman sitting in the rain for hours.",
        "received_at": "2026-11-18T15:30:00-08:00",
        "screening": {
            "weapons": False,
            "violence": False,
            "medical_emergency": False,
            "imminent_danger": False,
        },
    }


class Desk:
    """A dispatcher's console on one process: a call dispatched to CARE-1 and 2M12, then
    cancelled, over and over. Like a person at a console it tries again after an error: a call
    whose answer was lost is cancelled on a later round, so the units are free again."""

    def __init__(self, url: str, cad_prefix: str):
        self.url = url
        self.cad_prefix = cad_prefix
        self.session = requests.Session()
        answer = self.session.post(
            f"{url}/api/v1/auth/token",
            json={"username": "dispatcher", "password": "care-demo", "device_name": "console"},
            timeout=10,
        )
        answer.raise_for_status()
        self.session.headers["Authorization"] = f"Token {answer.json()['token']}"
        units = self.session.get(f"{url}/api/v1/units", timeout=10).json()
        self.units = {u["call_sign"]: u["id"] for u in units}
        self.numbers = itertools.count(1)
        self.open_incidents: list[str] = []
        self.errors = 0
        self.dispatched = 0  # calls whose dispatch the server answered
        self.server_errors: list[tuple[int, str]] = []  # (status, error code) of each 5xx

    def _note(self, answer: requests.Response) -> None:
        if answer.status_code >= 500:
            try:
                code = answer.json().get("code", "")
            except ValueError:
                code = "(not JSON)"
            self.server_errors.append((answer.status_code, code))

    def _post(self, path: str, body: dict) -> dict | None:
        """The answer, or None when the server failed or could not be reached."""
        try:
            answer = self.session.post(f"{self.url}/api/v1/{path}", json=body, timeout=10)
        except requests.RequestException:
            self.errors += 1
            return None
        if answer.status_code >= 400:
            self._note(answer)
            self.errors += 1
            return None
        return answer.json()

    def dispatch(self) -> str | None:
        """A new call sent to CARE-1; the CARE assignment's id when the answer came back."""
        self.cancel_open()
        incident = self._post(
            "incidents", welfare_check(f"{self.cad_prefix}{next(self.numbers):04d}")
        )
        if incident is None:
            return None
        self.open_incidents.append(incident["id"])
        made = self._post(
            f"incidents/{incident['id']}/dispatch",
            {"care_unit": self.units["CARE-1"], "spd_unit": self.units["2M12"]},
        )
        if made is None:
            return None
        self.dispatched += 1
        return next(a["id"] for a in made["assignments"] if a["unit"] == self.units["CARE-1"])

    def cancel_open(self) -> None:
        for incident in list(self.open_incidents):
            try:
                answer = self.session.post(
                    f"{self.url}/api/v1/incidents/{incident}/cancel",
                    json={"reason": "caller gone"},
                    timeout=10,
                )
            except requests.RequestException:
                self.errors += 1
                continue
            if answer.status_code < 500:  # cancelled now, or already (a lost answer)
                self.open_incidents.remove(incident)
            else:
                self._note(answer)
                self.errors += 1
