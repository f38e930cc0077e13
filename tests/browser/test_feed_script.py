"""The consoles' feed script (server/static/care/feed.js) in a real browser, against a socket the
test plays the server's part on: a frame the page has applied already (the replay after a
reconnect overlapping what the page had, a priority frame sent again) is acked, not applied twice.

No Daphne here: the page, the token door and the socket are Playwright routes, so the test decides
exactly which frames arrive and when.
"""

from __future__ import annotations

import json

from tests.e2e.conftest import ROOT

ORIGIN = "http://care.test"
FEED_JS = ROOT / "server" / "static" / "care" / "feed.js"
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>feed</title></head>
<body><p id="live-status">Connecting…</p>
<script src="/static/care/feed.js"></script>
<script>
  window.applied = [];
  window.careFeed.open({
    tokenUrl: "/console-token",
    cursors: {},
    status: document.getElementById("live-status"),
    onEvent: function (frame) { window.applied.push([frame.stream, frame.seq]); }
  });
</script></body></html>"""


class PlayedServer:
    """The server's side of each socket the page opens: what the page said, and a way to answer."""

    def __init__(self) -> None:
        self.sockets: list = []
        self.heard: list[list[dict]] = []  # per socket, the frames the page sent

    def accept(self, ws) -> None:
        heard: list[dict] = []
        self.sockets.append(ws)
        self.heard.append(heard)

        def on_message(message) -> None:
            frame = json.loads(message)
            heard.append(frame)
            if frame["type"] == "hello":
                ws.send(json.dumps({"type": "welcome", "streams": ["dispatch"]}))

        ws.on_message(on_message)

    def hello(self, socket: int) -> dict:
        return next(f for f in self.heard[socket] if f["type"] == "hello")

    def acks(self, socket: int) -> list[int]:
        return [f["seq"] for f in self.heard[socket] if f["type"] == "ack"]


def event(seq: int, kind: str = "incident.updated") -> str:
    return json.dumps(
        {"type": "event", "stream": "dispatch", "seq": seq, "kind": kind, "data": {"n": seq}}
    )


def open_the_page(page) -> tuple[PlayedServer, list[str]]:
    server = PlayedServer()
    loads: list[str] = []

    def serve(route) -> None:
        path = route.request.url.removeprefix(ORIGIN)
        if path == "/static/care/feed.js":
            route.fulfill(body=FEED_JS.read_text(), content_type="text/javascript")
        elif path == "/console-token" and route.request.method == "POST":
            route.fulfill(
                body=json.dumps({"token": "a-console-token"}), content_type="application/json"
            )
        elif path == "/board/":
            loads.append(path)
            route.fulfill(body=PAGE, content_type="text/html")
        else:
            route.fulfill(status=404, body="")

    page.route(f"{ORIGIN}/**", serve)
    page.route_web_socket("ws://care.test/ws/feed/", server.accept)
    page.goto(f"{ORIGIN}/board/")
    page.wait_for_selector("body[data-live='yes']", timeout=15000)
    return server, loads


def wait_until(page, condition, what: str) -> None:
    """Let the page and its routes run (Playwright delivers their messages only while the test is
    inside one of its calls) until `condition()` holds, or fail after a generous deadline."""
    for _ in range(300):
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"never happened: {what}")


def applied(page) -> list[list]:
    return page.evaluate("window.applied")


def test_a_frame_replayed_after_a_reconnect_is_applied_once_and_the_next_one_is_applied(
    browser,
):
    page = browser.new_page()
    try:
        server, _ = open_the_page(page)
        server.sockets[0].send(event(1))
        server.sockets[0].send(event(2))
        wait_until(page, lambda: 2 in server.acks(0), "the page acked seq 2")
        assert applied(page) == [["dispatch", 1], ["dispatch", 2]]

        # The server goes away; the page reconnects with the cursor it holds.
        server.sockets[0].close(code=4503, reason="layer lost")
        wait_until(page, lambda: len(server.sockets) == 2 and server.heard[1], "a second hello")
        assert server.hello(1)["cursors"] == {"dispatch": 2}

        # The server's replay overlaps what the page had: seq 2 again, then the new seq 3.
        server.sockets[1].send(event(2))
        server.sockets[1].send(event(3))
        wait_until(page, lambda: 3 in server.acks(1), "the page acked seq 3")
        assert applied(page) == [["dispatch", 1], ["dispatch", 2], ["dispatch", 3]]
    finally:
        page.close()


def test_a_priority_frame_sent_again_is_acked_again_but_applied_once(browser):
    page = browser.new_page()
    try:
        server, _ = open_the_page(page)
        server.sockets[0].send(event(1, "emergency.started"))
        wait_until(page, lambda: server.acks(0) == [1], "the page acked the emergency")
        # Its ack was lost on the way, so the server sends the emergency again: the page acks it
        # again (or the server would keep re-sending) and raises no second alert.
        server.sockets[0].send(event(1, "emergency.started"))
        wait_until(page, lambda: server.acks(0) == [1, 1], "the page acked the emergency again")
        assert applied(page) == [["dispatch", 1]]
    finally:
        page.close()


def test_a_cursor_past_the_servers_stream_draws_the_page_afresh(browser):
    page = browser.new_page()
    try:
        server, loads = open_the_page(page)
        assert loads == ["/board/"]
        # The server's database was restored behind the page: every new seq would look applied
        # already, so the page is drawn again with the server's cursors.
        server.sockets[0].send(
            json.dumps({"type": "error", "code": "cursor_ahead", "message": "resync dispatch"})
        )
        wait_until(page, lambda: len(loads) == 2, "the page drawn again")
    finally:
        page.close()


def test_an_ordinary_error_frame_leaves_the_page_as_it_is(browser):
    page = browser.new_page()
    try:
        server, loads = open_the_page(page)
        server.sockets[0].send(
            json.dumps({"type": "error", "code": "bad_ack", "message": "Ack a seq you were sent"})
        )
        server.sockets[0].send(event(1))
        wait_until(page, lambda: server.acks(0) == [1], "the page acked seq 1")
        assert loads == ["/board/"]
        assert applied(page) == [["dispatch", 1]]
    finally:
        page.close()
