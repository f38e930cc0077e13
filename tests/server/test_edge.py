"""The ASGI edge (server/edge.py): forwarded headers are believed only from the proxy's address,
and a body over the limit answers 413 before the app keeps it, whether it declares its length
or arrives in chunks."""

from __future__ import annotations

import asyncio
import json

import pytest

from server.edge import BodyLimit, forwarded_scope, trusted_networks

PROXY = trusted_networks(["127.0.0.1", "10.8.0.0/16"])


def http_scope(client: str, *headers: tuple[bytes, bytes]) -> dict:
    return {
        "type": "http",
        "scheme": "http",
        "method": "POST",
        "path": "/api/v1/auth/token",
        "client": (client, 50123),
        "headers": list(headers),
    }


def test_a_client_forwarded_for_is_ignored_and_taken_out_of_the_request():
    seen = forwarded_scope(
        http_scope(
            "203.0.113.9",
            (b"x-forwarded-for", b"198.51.100.1"),
            (b"x-forwarded-proto", b"https"),
            (b"user-agent", b"probe"),
        ),
        PROXY,
    )
    assert seen["client"][0] == "203.0.113.9"
    assert seen["scheme"] == "http"
    assert seen["headers"] == [(b"user-agent", b"probe")]


def test_the_proxy_forwarded_for_and_proto_are_believed():
    seen = forwarded_scope(
        http_scope(
            "10.8.3.4", (b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-proto", b"https")
        ),
        PROXY,
    )
    assert seen["client"][0] == "198.51.100.1"
    assert seen["scheme"] == "https"


def test_the_proxy_entry_is_the_last_one_whatever_a_client_put_before_it():
    seen = forwarded_scope(
        http_scope("127.0.0.1", (b"x-forwarded-for", b"6.6.6.6, 198.51.100.7")), PROXY
    )
    assert seen["client"][0] == "198.51.100.7"


def test_with_no_trusted_proxy_configured_nobody_is_believed():
    seen = forwarded_scope(http_scope("127.0.0.1", (b"x-forwarded-for", b"198.51.100.1")), [])
    assert seen["client"][0] == "127.0.0.1"


# ---- bodies --------------------------------------------------------------------------------


class Recorder:
    """An app that reads the whole body, as Django does, and answers 200."""

    def __init__(self) -> None:
        self.called = False
        self.body = b""

    async def __call__(self, scope, receive, send) -> None:
        self.called = True
        while True:
            message = await receive()
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def run(app, scope, chunks: list[bytes]) -> tuple[list[dict], int]:
    """Messages the app sent, and how many chunks it asked for."""
    sent: list[dict] = []
    asked = 0

    async def receive():
        nonlocal asked
        asked += 1
        if asked <= len(chunks):
            return {
                "type": "http.request",
                "body": chunks[asked - 1],
                "more_body": asked < len(chunks),
            }
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent, asked


def status_and_body(sent: list[dict]) -> tuple[int, dict | bytes]:
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body


@pytest.fixture
def limit(settings) -> int:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    return 1000


def test_a_body_declared_over_the_limit_is_refused_and_the_app_never_called(limit):
    inner = Recorder()
    scope = http_scope("203.0.113.9", (b"content-length", b"300000000"))
    sent, asked = run(BodyLimit(inner), scope, [b"x" * 100])
    status, body = status_and_body(sent)
    assert (status, body["code"]) == (413, "too_large")
    assert not inner.called and asked == 0


def test_a_chunked_body_is_refused_at_the_first_chunk_past_the_limit(limit):
    inner = Recorder()
    chunks = [b"x" * 400] * 50  # 20,000 bytes, no length declared
    sent, asked = run(BodyLimit(inner), http_scope("203.0.113.9"), chunks)
    status, body = status_and_body(sent)
    assert (status, body["code"]) == (413, "too_large")
    assert asked == 3  # 400, 800, 1,200: the third is past the limit, and no more is read


def test_a_body_at_the_limit_reaches_the_app_whole(limit):
    inner = Recorder()
    sent, _ = run(BodyLimit(inner), http_scope("203.0.113.9"), [b"x" * 500, b"y" * 500])
    assert status_and_body(sent)[0] == 200
    assert inner.body == b"x" * 500 + b"y" * 500


def test_django_behind_the_edge_answers_413_to_a_chunked_body_past_the_limit(limit):
    from server.asgi import application

    scope = {**http_scope("203.0.113.9"), "path": "/api/v1/auth/token", "query_string": b""}
    scope["headers"] = [(b"host", b"testserver"), (b"content-type", b"application/json")]
    scope.update({"http_version": "1.1", "raw_path": b"/api/v1/auth/token", "root_path": ""})
    sent, asked = run(application, scope, [b"x" * 400] * 50)
    status, body = status_and_body(sent)
    assert (status, body["code"]) == (413, "too_large")
    assert asked == 3
