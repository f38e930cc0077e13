"""A test hook: drive the running app from another process, by stable widget id.

Started only when `python -m mobile --driver-port N` asks for it. It listens on 127.0.0.1 for
one JSON command per line and answers one JSON line; each command runs on the UI thread, exactly
as a tap would. Commands: press, type, read, state, screenshot, taps, startup, quit.
"""

from __future__ import annotations

import json
import os
import socketserver
import threading
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.uix.widget import Widget


def process_started() -> float:
    """When this process started (epoch seconds), from /proc: includes interpreter start-up."""
    ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
    boot = next(
        int(line.split()[1])
        for line in Path("/proc/stat").read_text().splitlines()
        if line.startswith("btime")
    )
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def visible_widgets(widget: Widget):
    yield widget
    for child in widget.children:
        yield from visible_widgets(child)


def find(stable_id: str) -> Widget | None:
    for widget in visible_widgets(Window):
        if getattr(widget, "stable_id", None) == stable_id:
            return widget
    return None


class Driver:
    def __init__(self, app: App):
        self.app = app
        self.taps = 0

    def run(self, command: dict[str, Any]) -> dict[str, Any]:
        op = command.get("op")
        if op == "state":
            ids = [w.stable_id for w in visible_widgets(Window) if getattr(w, "stable_id", "")]
            return {"screen": self.app.screens.current, "ids": ids}
        if op == "startup":
            shown = self.app.inbox_shown_at
            started, ready = process_started(), self.app.ready_at
            return {
                "ready_seconds": None if ready is None else ready - started,
                "inbox_seconds": None if shown is None else shown - started,
                "resident_mb": resident_mb(),
            }
        if op == "taps":
            return {"taps": self.taps}
        if op == "screenshot":
            made = Window.screenshot(name=command["path"])
            os.replace(made, command["path"])
            return {"path": command["path"]}
        if op == "quit":
            self.app.stop()
            return {}
        widget = find(command.get("id", ""))
        if widget is None:
            return {"error": f"no widget {command.get('id')!r} on screen"}
        if op == "read":
            return {
                "text": widget.text,
                "disabled": widget.disabled,
                "state": getattr(widget, "state", None),
                "tint": list(getattr(widget, "tint", [])),
            }
        self.app.touched()  # a command is the person at the tablet: not idle
        if op == "type":
            widget.text = command["text"]
            return {}
        if op == "press":
            if widget.disabled:
                return {"error": f"{command['id']!r} is disabled"}
            self.taps += 1
            widget.trigger_action(duration=0)
            return {}
        return {"error": f"unknown op {op!r}"}

    def on_ui_thread(self, command: dict[str, Any]) -> dict[str, Any]:
        done = threading.Event()
        answer: dict[str, Any] = {}

        def step(dt) -> None:
            try:
                answer.update(self.run(command))
            except Exception as exc:  # report it to the test rather than kill the app
                answer["error"] = f"{exc.__class__.__name__}: {exc}"
            done.set()

        Clock.schedule_once(step, 0)
        if not done.wait(20):
            return {"error": "the UI thread did not answer within 20 s"}
        return answer

    def serve(self, port: int) -> None:
        driver = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for line in self.rfile:
                    answer = driver.on_ui_thread(json.loads(line))
                    self.wfile.write((json.dumps(answer) + "\n").encode())
                    self.wfile.flush()

        server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="care-driver", daemon=True).start()
