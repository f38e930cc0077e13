"""`/healthz` and the process roles the balancer routes to.

`CARE_PROCESS_ROLE` says what one server process serves:

* `all` (the default, `make run`): pages, the API and the feed socket in one process;
* `api`: pages and the API; the balancer sends it everything but `/ws/`;
* `socket`: only `/ws/feed/` (and `/healthz`); any other HTTP path answers 404, so a balancer
  misrouting the API to it is seen at once instead of quietly loading a socket process.

`/healthz` is answered here, before Django: no middleware, no session, no database, nothing about
any person. It says the process is up and its event loop turns, which is what the balancer's
check needs to stop sending new sockets to a process that died or hangs.
"""

from __future__ import annotations

import json
import os

ROLES = ("all", "api", "socket")


def process_role() -> str:
    role = os.environ.get("CARE_PROCESS_ROLE", "all")
    if role not in ROLES:
        raise SystemExit(f"CARE_PROCESS_ROLE must be one of {', '.join(ROLES)}, not {role!r}")
    return role


async def _answer(send, status: int, body: dict) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class HealthCheck:
    """ASGI wrapper for the HTTP side: `/healthz` first; then Django, or for a socket process a
    404 in the project's error shape."""

    def __init__(self, app, role: str) -> None:
        self.app, self.role = app, role

    async def __call__(self, scope, receive, send) -> None:
        if scope["path"] == "/healthz":
            await _answer(send, 200, {"status": "ok", "role": self.role})
            return
        if self.role == "socket":
            await _answer(
                send,
                404,
                {"code": "not_found", "detail": "This process serves only /ws/feed/ and /healthz."},
            )
            return
        await self.app(scope, receive, send)
