"""The served system's edge, as an outsider meets it: Daphne started as production starts it
(deploy/serve.py) refuses an oversized body before storing it, whether declared or chunked, and
neither Daphne alone (`make run`) nor the balanced cluster (`make cluster`) believes a client's
own X-Forwarded-For: rotating it does not escape the sign-in lock of the address it comes from."""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e import test_cluster

pytestmark = [pytest.mark.e2e]

cluster = test_cluster.cluster  # HAProxy before socket and API processes (PostgreSQL + Redis)
DEADLINE_SECONDS = 60
FIFTY_MEGABYTES = 50 * 1024 * 1024


def connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    conn = socket.create_connection((parts.hostname, parts.port), timeout=DEADLINE_SECONDS)
    return conn


def read_answer(conn: socket.socket) -> bytes:
    data = b""
    try:
        while chunk := conn.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def test_a_body_declared_at_300_megabytes_is_refused_before_a_byte_of_it_is_sent(served_system):
    site = served_system.start_daphne()
    with connect(site) as conn:
        conn.sendall(
            b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 300000000\r\n\r\n"
        )
        answer = read_answer(conn)  # the server answers and closes: nothing of the body waits
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"too_large"' in answer


class Reader(threading.Thread):
    def __init__(self, conn: socket.socket) -> None:
        super().__init__(daemon=True)
        self.conn, self.data = conn, b""

    def run(self) -> None:
        self.data = read_answer(self.conn)


def test_a_chunked_body_is_cut_off_near_the_limit_not_stored_whole(served_system):
    site = served_system.start_daphne()
    sent = 0
    with connect(site) as conn:
        conn.sendall(
            b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        reader = Reader(conn)
        reader.start()
        chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
        try:
            while sent < FIFTY_MEGABYTES:
                conn.sendall(chunk)
                sent += 0x10000
        except (BrokenPipeError, ConnectionResetError):
            pass
        reader.join(DEADLINE_SECONDS)
    # Kernel buffers on both sides hold a few megabytes at most; the server read 2.5 MB.
    assert sent < FIFTY_MEGABYTES
    assert reader.data == b"" or reader.data.startswith(b"HTTP/1.1 413"), reader.data[:200]


def test_a_body_under_the_limit_is_served_as_usual(served_system):
    site = served_system.start_daphne()
    answer = requests.post(
        f"{site}/api/v1/auth/token",
        json={
            "username": "care1",
            "password": "care-demo",
            "device_name": "t",
            "pad": "x" * 10_000,
        },
        timeout=DEADLINE_SECONDS,
    )
    assert answer.status_code == 201, answer.text


def sign_in_attempt(site: str, body: dict, forwarded_for: str) -> requests.Response:
    """One attempt; asked again while the balancer has taken its only API process out (a
    health check that timed out on this shared machine answers 503 from HAProxy itself)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        answer = requests.post(
            f"{site}/api/v1/auth/token",
            json=body,
            headers={"X-Forwarded-For": forwarded_for},
            timeout=DEADLINE_SECONDS,
        )
        if answer.status_code != 503 or time.monotonic() > deadline:
            return answer
        time.sleep(0.2)


def guess_from_rotating_addresses(site: str, username: str, guesses: int) -> None:
    body = {"username": username, "password": "wrong-guess", "device_name": "probe"}
    for i in range(guesses):
        answer = sign_in_attempt(site, body, f"198.51.100.{i + 1}")
        assert answer.status_code in (401, 429), answer.text


def sign_in_from(site: str, username: str, forwarded_for: str) -> requests.Response:
    body = {"username": username, "password": "care-demo", "device_name": "station"}
    return sign_in_attempt(site, body, forwarded_for)


def test_rotating_x_forwarded_for_does_not_escape_the_lock_on_daphne_alone(served_system):
    site = served_system.start_daphne()
    guess_from_rotating_addresses(site, "care3", 5)
    answer = sign_in_from(site, "care3", "198.51.100.77")
    assert answer.status_code == 429, answer.text
    assert answer.json()["code"] == "locked_out"


@pytest.mark.postgres
@pytest.mark.redis
def test_behind_the_balancer_a_client_forwarded_for_is_replaced_not_believed(cluster):
    guess_from_rotating_addresses(cluster.url, "care3", 5)
    answer = sign_in_from(cluster.url, "care3", "198.51.100.77")
    assert answer.status_code == 429, answer.text
    assert sign_in_from(cluster.url, "care4", "198.51.100.78").status_code == 201


@pytest.mark.postgres
@pytest.mark.redis
def test_the_balancer_refuses_a_body_declared_over_the_limit_with_the_error_shape(cluster):
    with connect(cluster.url) as conn:
        conn.sendall(
            b"POST /api/v1/auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 300000000\r\n\r\n"
        )
        answer = read_answer(conn)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"too_large"' in answer
