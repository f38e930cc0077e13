"""What the app believes of a connection, decided before Django sees it (server/asgi.py).

- `TrustedProxyHeaders`: the client's address and scheme come from `X-Forwarded-For` and
  `X-Forwarded-Proto` only when the connection itself comes from the proxy in front
  (`CARE_TRUSTED_PROXIES`, addresses or networks). From anyone else those headers are removed,
  so neither the sign-in lockout, the audit trail nor `SECURE_PROXY_SSL_HEADER` can be told a
  made-up address or scheme. The proxy replaces the header (deploy/haproxy.cfg.in), so its last
  entry is the address the proxy saw.
- `BodyLimit`: a body over `DATA_UPLOAD_MAX_MEMORY_SIZE` answers 413 in the error shape, from
  its `Content-Length` before a byte is read, or by counting the chunks as they arrive (a body
  sent chunked declares no length) before the app has kept them. Daphne reads a body before it
  calls the app; deploy/serve.py applies the same limit inside Daphne.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from django.conf import settings

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FORWARDED = (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port")
SECURE = {"http": "https", "ws": "wss"}


def trusted_networks(entries: Iterable[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip()]


def is_trusted(host: str | None, networks: list) -> bool:
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # a unix socket's path, or nothing usable
        return False
    return any(address in network for network in networks)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def forwarded_scope(scope: Scope, networks: list) -> Scope:
    """The scope as the app should see it: the forwarded client and scheme from a trusted
    proxy; from anyone else, the connection's own, with the forwarded headers taken out."""
    client = scope.get("client")
    headers = list(scope.get("headers") or [])
    if not is_trusted(client[0] if client else None, networks):
        kept = [(k, v) for k, v in headers if k.lower() not in FORWARDED]
        return {**scope, "headers": kept}
    scope = dict(scope)
    forwarded_for = _header(headers, b"x-forwarded-for")
    if forwarded_for:
        last = forwarded_for.split(",")[-1].strip()
        try:
            ipaddress.ip_address(last)
            scope["client"] = (last, 0)
        except ValueError:
            pass  # the proxy always writes an address; anything else is ignored
    if (_header(headers, b"x-forwarded-proto") or "").strip().lower() == "https":
        scope["scheme"] = SECURE.get(scope.get("scheme", "http"), scope.get("scheme"))
    return scope


class TrustedProxyHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = forwarded_scope(scope, trusted_networks(settings.CARE_TRUSTED_PROXIES))
        await self.app(scope, receive, send)


# ---- request bodies ------------------------------------------------------------------------


class BodyTooLarge(Exception):
    pass


def body_limit() -> int:
    return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)


def too_large_body(limit: int) -> bytes:
    return json.dumps(
        {
            "code": "too_large",
            "detail": f"The request body is over the limit of {limit:,} bytes; send less at "
            "once (a tablet splits its push into smaller batches).",
            "fields": {},
        }
    ).encode()


def declared_length(scope: Scope) -> int | None:
    value = _header(list(scope.get("headers") or []), b"content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


async def refuse_too_large(send: Send, limit: int) -> None:
    body = too_large_body(limit)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit()
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            await refuse_too_large(send, limit)  # the app is never called: nothing is read
            return
        received = 0
        started = False

        async def counted() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def watched(message: dict[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if not started:
                await refuse_too_large(send, limit)
