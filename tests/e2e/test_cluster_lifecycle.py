"""`make cluster` as a newcomer runs it (deploy/cluster.py): production settings on a plain-HTTP
loopback without a SECRET_KEY of one's own, and no process left behind when the runner is
killed outright."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import demo_template, own_database_prefix
from tests.e2e.test_cluster import RunningCluster, haproxy, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

# What a newcomer's shell does not set: production mode, no key, no redirect setting.
UNSET = ("DEBUG", "SECRET_KEY", "SECURE_SSL_REDIRECT")


@pytest.fixture
def newcomer_cluster(tmp_path, own_redis):
    if haproxy() is None:
        pytest.skip("haproxy is not installed (apt-get install -y haproxy)")
    url, drop = demo_template.copy_to(tmp_path, own_database_prefix("lifecycle"))
    env = {key: value for key, value in os.environ.items() if key not in UNSET}
    env.update(DATABASE_URL=url, REDIS_URL=own_redis.url, DJANGO_SETTINGS_MODULE="server.settings")
    running = None
    try:
        running = RunningCluster(tmp_path, env, sockets=1, api=1)
        yield running
    finally:
        if running is not None and running.process.poll() is None:
            running.stop()
        drop()


def gone(pid: int) -> bool:
    """No such process, or only its zombie (nobody may reap an orphan here)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def port_closed(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_a_cluster_without_secret_key_or_debug_answers_plain_http_requests_itself(
    newcomer_cluster,
):
    def answered():
        answer = requests.get(
            f"{newcomer_cluster.url}/api/v1/me", allow_redirects=False, timeout=30
        )
        # 503: the API process is not up behind the balancer yet (or a busy machine's database
        # is out of connections for a moment): ask again.
        return [answer] if answer.status_code != 503 else None  # a 4xx answer is falsy

    (answer,) = wait_for("the API answers through the balancer", answered)
    # Not a redirect to HTTPS: the API itself answers, and asks for a token.
    assert answer.status_code == 401, (answer.status_code, answer.headers.get("Location"))
    assert answer.json()["code"] == "not_authenticated"


def test_every_process_of_a_cluster_dies_when_its_runner_is_killed(newcomer_cluster):
    state = newcomer_cluster.state()
    children = [m["pid"] for m in state["members"].values()]
    assert len(children) == 5  # a socket and an API process, the watcher, the ack writer, HAProxy
    assert not any(gone(pid) for pid in children)
    port = int(state["url"].rsplit(":", 1)[1])

    os.kill(newcomer_cluster.process.pid, signal.SIGKILL)
    newcomer_cluster.process.wait(timeout=30)

    wait_for("every process the cluster started is gone", lambda: all(map(gone, children)))
    wait_for("nothing listens on the cluster's port", lambda: port_closed(port))
