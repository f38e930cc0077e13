"""The tablet's HTTP client for `/api/v1/`: one method per call, errors as exceptions.

The transport is a `requests.Session`, handed in, so tests can mount an adapter that drops,
duplicates or delays requests on the way to a real server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests

DEFAULT_TIMEOUT = 10.0


class ApiError(Exception):
    """The server answered with an error; `detail` is its sentence for a person to read."""

    def __init__(self, status: int, code: str, detail: str, body: dict[str, Any] | None = None):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.body = body or {}


class Offline(ApiError):
    """No answer: no network, a refused connection, or a timeout. The request may have arrived."""

    def __init__(self, detail: str):
        super().__init__(0, "offline", detail)


class SignedOut(ApiError):
    """401: the token is unknown or expired; the responder signs in again."""


class Revoked(ApiError):
    """The device was revoked: the tablet wipes its store."""


class Forbidden(ApiError):
    """403 for anything but revocation."""


class CursorExpired(ApiError):
    """410 from pull: the server no longer keeps events that old; resync from a snapshot."""


class Refused(ApiError):
    """400/404/409 and other answers that say this request will never succeed as it is."""


class ServerTrouble(ApiError):
    """5xx: try again later."""


def _error(response: requests.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("code") or response.status_code)
    detail = str(body.get("detail") or response.reason or f"HTTP {response.status_code}")
    status = response.status_code
    # Only an explicit code: "unknown, expired or revoked" must not wipe a tablet whose token
    # merely expired with changes still queued.
    if code == "revoked":
        return Revoked(status, "revoked", detail, body)
    kind = {401: SignedOut, 403: Forbidden, 410: CursorExpired}.get(status)
    if kind is None:
        kind = ServerTrouble if status >= 500 else Refused
    return kind(status, code, detail, body)


class ApiClient:
    """Talks to one CARE Field server as one device."""

    def __init__(
        self,
        server_url: str,
        *,
        token: str | None = None,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ):
        self.server_url = server_url.rstrip("/")
        self.token = token
        self.session = session or requests.Session()
        self.timeout = timeout
        # Told of every 2xx answer: a working connection (the sync engine sends its queue).
        self.answered: Callable[[], None] = lambda: None

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        try:
            response = self.session.request(
                method,
                f"{self.server_url}/api/v1/{path}",
                headers=headers,
                timeout=kwargs.pop("timeout", self.timeout),
                **kwargs,
            )
        except requests.RequestException as exc:
            raise Offline(f"No answer from the server: {exc.__class__.__name__}.") from exc
        if response.status_code >= 400:
            raise _error(response)
        self.answered()
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    # ---- the published contract ----------------------------------------------------------

    def sign_in(
        self,
        username: str,
        password: str,
        device_name: str,
        *,
        tablet: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """→ {token, device_id, user}; the client keeps the token for later calls. An enrolled
        tablet names itself (`tablet`: its `tablet_id` and `tablet_secret`)."""
        body = {"username": username, "password": password, "device_name": device_name}
        if tablet:
            body |= {"tablet_id": tablet["tablet_id"], "tablet_secret": tablet["tablet_secret"]}
        answer = self._call("POST", "auth/token", json=body)
        self.token = answer["token"]
        return answer

    def enrol(self, code: str, name: str) -> dict[str, Any]:
        """Trade a supervisor's one-time code for this tablet's identity:
        → {tablet_id, tablet_secret, name}."""
        return self._call("POST", "tablets/enrol", json={"code": code, "name": name})

    def me(self) -> dict[str, Any]:
        return self._call("GET", "me")

    def protocol(self) -> dict[str, Any]:
        return self._call("GET", "protocol")

    def directory(self) -> list[dict[str, Any]]:
        return self._call("GET", "directory/services")

    def assignments(self, *, open_only: bool = False) -> list[dict[str, Any]]:
        return self._call("GET", "assignments", params={"open": "true"} if open_only else None)

    def assignment(self, assignment_id: str) -> dict[str, Any]:
        return self._call("GET", f"assignments/{assignment_id}")

    def push(
        self, mutations: list[dict[str, Any]], device_time: str, *, timeout: float | None = None
    ) -> dict[str, Any]:
        return self._call(
            "POST",
            "sync/push",
            json={"device_time": device_time, "mutations": mutations},
            timeout=timeout or self.timeout,
        )

    def units(self) -> list[dict[str, Any]]:
        return self._call("GET", "units")

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        """A read the tablet needs now (the responder's roster and requests)."""
        return self._call("GET", path, params=params)

    def post(
        self, path: str, body: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """A write the tablet needs answered now (an emergency, a sign-on), outside the queue."""
        return self._call("POST", path, json=body or {}, timeout=timeout or self.timeout)

    def pull(self, cursors: dict[str, int], *, limit: int = 500) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if cursors:
            params["cursors"] = ",".join(f"{s}:{n}" for s, n in sorted(cursors.items()))
        return self._call("GET", "sync/pull", params=params)

    def snapshot(self) -> dict[str, Any]:
        return self._call("GET", "sync/snapshot")
