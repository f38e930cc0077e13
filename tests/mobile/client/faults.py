"""A requests transport that misbehaves on purpose, between the tablet and a real server.

Faults are armed one request at a time (`arm("drop_after")`) so a test decides exactly where the
network fails:

- `offline`: every request fails before it leaves (airplane mode) until `online()`.
- `drop_before`: the request never reaches the server.
- `drop_after`: the server gets it and commits, the answer is lost (the tablet sees a timeout).
- `duplicate`: the request arrives twice, one after the other; the tablet sees the second answer.
- `race`: two copies arrive at the same time on two connections; the tablet sees one answer.
- `server_error`: the proxy in front of the server answers 503 (the server is restarting); the
  request never reaches the server.
- `stall()`: every request waits at the door until `release()`, as on a link that has stopped
  moving; `stalled` is set once one is waiting.
"""

from __future__ import annotations

import threading
from collections import deque

import requests
from requests.adapters import HTTPAdapter

FAULTS = ("drop_before", "drop_after", "duplicate", "race")
# Only guards against a hang: a stalled request is released long before this.
STALL_SECONDS = 60


class FaultyAdapter(HTTPAdapter):
    def __init__(self) -> None:
        super().__init__()
        self.armed: deque[str] = deque()
        self.is_offline = False
        self.seen: list[tuple[str, str]] = []  # (fault or "ok", path) for each request
        self.stalled = threading.Event()
        self._released = threading.Event()
        self._released.set()

    def arm(self, *faults: str) -> None:
        self.armed.extend(faults)

    def offline(self) -> None:
        self.is_offline = True

    def online(self) -> None:
        self.is_offline = False

    def stall(self) -> None:
        self.stalled.clear()
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def send(self, request, **kwargs):
        path = request.path_url.split("?")[0]
        if not self._released.is_set():
            self.stalled.set()
            self._released.wait(STALL_SECONDS)
        if self.is_offline:
            self.seen.append(("offline", path))
            raise requests.ConnectionError("network unreachable (test)")
        fault = self.armed.popleft() if self.armed else "ok"
        self.seen.append((fault, path))
        if fault == "drop_before":
            raise requests.ConnectionError("connection reset before sending (test)")
        if fault == "drop_after":
            super().send(request, **kwargs)
            raise requests.ReadTimeout("answer lost after the server committed (test)")
        if fault == "duplicate":
            super().send(request.copy(), **kwargs)
            return super().send(request, **kwargs)
        if fault == "race":
            return self._race(request, **kwargs)
        if fault == "server_error":
            return self._unavailable(request)
        return super().send(request, **kwargs)

    @staticmethod
    def _unavailable(request) -> requests.Response:
        answer = requests.Response()
        answer.status_code = 503
        answer.reason = "Service Unavailable"
        answer.headers["Content-Type"] = "application/json"
        answer._content = b'{"code": "unavailable", "detail": "The server is restarting."}'
        answer.request, answer.url = request, request.url
        return answer

    def _race(self, request, **kwargs):
        answers: list = [None, None]

        def copy(i: int) -> None:
            # Each copy on its own connection pool, so they really are concurrent.
            adapter = HTTPAdapter()
            try:
                answers[i] = adapter.send(request.copy(), **kwargs)
            except requests.RequestException as exc:
                answers[i] = exc
            finally:
                adapter.close()

        threads = [threading.Thread(target=copy, args=(i,)) for i in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for answer in answers:
            if isinstance(answer, requests.Response):
                return answer
        raise answers[0]


def faulty_session() -> tuple[requests.Session, FaultyAdapter]:
    session = requests.Session()
    adapter = FaultyAdapter()
    session.mount("http://", adapter)
    return session, adapter
