"""Real Daphne processes on their own database, for tests about the served system."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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


def _database_url(tmp_path: Path) -> tuple[str, callable]:
    """A database of its own for the server processes: a SQLite file, or a fresh PostgreSQL
    database when the suite runs against PostgreSQL."""
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres"):
        return f"sqlite:///{tmp_path / 'e2e.sqlite3'}", lambda: None
    name = f"care_e2e_{uuid.uuid4().hex[:8]}"
    admin_url = base.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return base.rsplit("/", 1)[0] + "/" + name, drop


class ServedSystem:
    def __init__(self, env: dict[str, str], tmp_path: Path):
        self.env = env
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen] = []

    def start_daphne(self) -> str:
        port = _free_port()
        log = (self.tmp_path / f"daphne-{port}.log").open("w")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(port),
                "server.asgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"daphne exited: {(self.tmp_path / log.name).read_text()}")
            try:
                requests.get(f"{url}/api/v1/metrics", timeout=1)
                return url
            except requests.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError("daphne did not start within 30 s")

    def kill(self, url: str) -> None:
        """Kill one Daphne process outright (SIGKILL: no goodbye to its sockets)."""
        port = url.rsplit(":", 1)[1]
        for proc in self.processes:
            if proc.args[proc.args.index("-p") + 1] == port:
                proc.kill()
                proc.wait(timeout=10)

    def stop(self) -> None:
        for proc in self.processes:
            proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def served_system(tmp_path):
    """Migrated, demo-loaded database and a way to start Daphne processes on it."""
    url, drop = _database_url(tmp_path)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "server.settings",
    }
    for command in (["migrate", "--no-input", "-v0"], ["load_demo"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=300,
        )
    system = ServedSystem(env, tmp_path)
    yield system
    system.stop()
    drop()


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
