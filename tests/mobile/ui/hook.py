"""The finger: the tablet app with a test hook, driven from the test's process as a person would.

`python -m tests.mobile.ui.with_finger --driver-port N [--driver-port-file F] <the app's options>`
opens the app exactly as `python -m mobile` does, plus this hook (the shipped app has none). It
listens on 127.0.0.1 for one JSON command per line and answers one JSON line; each command runs
on the UI thread. Touches are never calls on a widget: they are motion events queued in an input
provider of Kivy's own (`FingerProvider`) at window coordinates, so they go through Kivy's
post-processing and dispatch as a touchscreen's would.

Commands: press (set-up only: a widget's action by id), type, read, state, box, refresh,
targets (the named controls a finger can take now), mutations (how many the outbox holds, its
last seq, and those queued after `after_seq`),
screenshot, taps, startup, layout (touch targets, bounds and cut text on screen now), texts,
alerts (new-assignment alerts rung), quit;
and, to tap by position as a finger does: where (a widget's centre in window coordinates),
reveal (scroll a widget into view), tap (x, y, after `delay` seconds: the time a person takes
between seeing a control and touching it) and double_tap (x, y, the same spot again `gap`
seconds later on Kivy's clock), which answer with what was under the finger when it aimed and
the controls that took the taps; and hold (x, y):
a finger kept down until the emergency button's hold completes, or lifted `seconds` later on
Kivy's clock.
"""

from __future__ import annotations

import json
import os
import socketserver
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.base import EventLoop
from kivy.clock import Clock
from kivy.core.text import Label as CoreLabel
from kivy.core.window import Window
from kivy.input.motionevent import MotionEvent
from kivy.input.provider import MotionEventProvider
from kivy.metrics import Metrics, dp
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.label import Label
from kivy.uix.modalview import ModalView
from kivy.uix.scrollview import ScrollView
from kivy.uix.textinput import TextInput
from kivy.uix.widget import Widget

MIN_TARGET_DP = 48
PRESS_SECONDS = 0.08  # how long a fingertip stays on the glass in a tap


class FingerTouch(MotionEvent):
    """One fingertip on the glass at window coordinates (x, y)."""

    def __init__(self, number: int, x: float, y: float):
        super().__init__("finger", number, (x, y), is_touch=True, type_id="touch")

    def depack(self, args) -> None:
        # A provider speaks in fractions of the window; Kivy scales them back for dispatch.
        width, height = EventLoop.window.size
        self.sx, self.sy = args[0] / (width - 1.0), args[1] / (height - 1.0)
        self.profile = ["pos"]
        super().depack(args)


class FingerProvider(MotionEventProvider):
    """An input provider like the touchscreen's: events wait in a queue until Kivy's event
    loop reads its providers, then pass through the same post-processing and dispatch."""

    def __init__(self) -> None:
        super().__init__("finger", None)
        self.waiting: deque[tuple[str, FingerTouch]] = deque()
        self.count = 0

    def down(self, x: float, y: float) -> FingerTouch:
        self.count += 1
        touch = FingerTouch(self.count, x, y)
        self.waiting.append(("begin", touch))
        return touch

    def up(self, touch: FingerTouch) -> None:
        self.waiting.append(("end", touch))

    def update(self, dispatch_fn) -> None:
        while self.waiting:
            dispatch_fn(*self.waiting.popleft())


FINGER = FingerProvider()


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


def shown() -> list[tuple[Widget, bool]]:
    """Every widget drawn (no transparent ancestor), with whether it sits in a ScrollView."""
    found: list[tuple[Widget, bool]] = []

    def walk(w: Widget, scrolled: bool) -> None:
        if w.opacity <= 0:
            return
        found.append((w, scrolled))
        for child in w.children:
            walk(child, scrolled or isinstance(w, ScrollView))

    for child in Window.children:
        walk(child, False)
    return found


def name_of(widget: Widget) -> str:
    label = getattr(widget, "stable_id", "") or getattr(widget, "text", "")[:40]
    return f"{widget.__class__.__name__}({label!r})"


def needed_text_size(label: Label) -> tuple[float, float]:
    """The size the label's whole text needs: with a fixed text box, Kivy drops what doesn't fit
    from the texture, so measure it again with the height left free."""
    width, height = label.text_size
    if width is None or height is None:
        return tuple(label.texture_size)
    options = {**label._label.options, "text_size": (width, None)}
    core = CoreLabel(**options)
    core.refresh()
    return tuple(core.texture.size)


def layout_problems() -> list[str]:
    """Touch targets under 48 dp, outside the window or over one another, and text that doesn't
    fit its widget, on what is on screen now (the status bar, the message line, the screen)."""
    problems = []
    smallest = dp(MIN_TARGET_DP) - 0.5
    targets: list[tuple[Widget, tuple[float, float, float, float]]] = []
    for widget, scrolled in shown():
        x, y = widget.to_window(*widget.pos)
        right, top = x + widget.width, y + widget.height
        target = isinstance(widget, ButtonBehavior | TextInput)
        if target:
            # A target drawn over another takes its taps (and hides its text).
            for other, (ox, oy, oright, otop) in targets:
                if min(right, oright) - max(x, ox) > 1 and min(top, otop) - max(y, oy) > 1:
                    problems.append(f"{name_of(widget)} overlaps {name_of(other)}")
            targets.append((widget, (x, y, right, top)))
        if target and min(widget.width, widget.height) < smallest:
            problems.append(f"{name_of(widget)} is {widget.width:.0f}×{widget.height:.0f} px")
        # Inside a ScrollView a target may be scrolled out of view vertically, never sideways.
        if target and (x < -1 or right > Window.width + 1):
            problems.append(f"{name_of(widget)} runs off the window sideways ({x:.0f}–{right:.0f})")
        if target and not scrolled and (y < -1 or top > Window.height + 1):
            problems.append(f"{name_of(widget)} runs off the window ({y:.0f}–{top:.0f})")
        if isinstance(widget, Label) and widget.text:
            need_w, need_h = needed_text_size(widget)
            if need_w > widget.width + 1 or need_h > widget.height + 1:
                problems.append(
                    f"{name_of(widget)} cuts its text: needs {need_w:.0f}×{need_h:.0f}, "
                    f"has {widget.width:.0f}×{widget.height:.0f}"
                )
        if isinstance(widget, TextInput) and not widget.multiline:
            need = widget.line_height + widget.padding[1] + widget.padding[3]
            if need > widget.height + 1:
                problems.append(f"{name_of(widget)} cuts its text: needs {need:.0f} px high")
    return problems


def texts() -> list[str]:
    """Every text drawn now: labels, buttons and fields."""
    return [w.text for w, _ in shown() if isinstance(w, Label | TextInput) and w.text]


def target_at(x: float, y: float) -> str | None:
    """The touch target drawn on top at (x, y) in window coordinates: what a finger there hits.
    An open sheet (ModalView) covers everything drawn before it."""
    hit = None

    def walk(w: Widget) -> None:
        nonlocal hit
        if w.opacity <= 0:
            return
        if isinstance(w, ButtonBehavior | TextInput):
            left, bottom = w.to_window(*w.pos)
            inside = left <= x <= left + w.width and bottom <= y <= bottom + w.height
            if inside and not _clipped(w, x, y):
                hit = getattr(w, "stable_id", "") or name_of(w)
        for child in reversed(w.children):  # drawing order: the last drawn is on top
            walk(child)

    for layer in reversed(Window.children):
        if isinstance(layer, ModalView):
            hit = None
        walk(layer)
    emergency = find("emergency")
    if hit != "emergency" and emergency is not None and not emergency.disabled:
        left, bottom = emergency.to_window(*emergency.pos)  # it answers over every sheet
        if left <= x <= left + emergency.width and bottom <= y <= bottom + emergency.height:
            hit = "emergency"
    return hit


def targets_on_screen() -> list[dict[str, Any]]:
    """Every named control a finger can take now (drawn, enabled, on top at its centre), and
    those a swipe would bring into view (`scrolled`: scrolled out of its page)."""
    found = []
    for widget, scrolled in shown():
        name = getattr(widget, "stable_id", "")
        if not name or widget.disabled or not isinstance(widget, ButtonBehavior | TextInput):
            continue
        x, y = widget.to_window(widget.center_x, widget.center_y)
        if 0 <= x <= Window.width and 0 <= y <= Window.height and target_at(x, y) == name:
            found.append({"id": name, "x": x, "y": y, "scrolled": False})
        elif scrolled and _clipped(widget, x, y):
            found.append({"id": name, "x": x, "y": y, "scrolled": True})
    return found


def _clipped(widget: Widget, x: float, y: float) -> bool:
    """Outside the visible part of a ScrollView it sits in."""
    parent = widget.parent
    while parent is not None and parent is not Window:
        if isinstance(parent, ScrollView):
            left, bottom = parent.to_window(*parent.pos)
            if not (left <= x <= left + parent.width and bottom <= y <= bottom + parent.height):
                return True
        parent = parent.parent
    return False


def finger(x: float, y: float) -> None:
    """One tap at (x, y): down now, up `PRESS_SECONDS` later, through the input provider."""
    touch = FINGER.down(x, y)
    Clock.schedule_once(lambda dt: FINGER.up(touch), PRESS_SECONDS)


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
        if op == "layout":
            return {
                "window": list(Window.size),
                "fontscale": Metrics.fontscale,
                "problems": layout_problems(),
            }
        if op == "texts":
            return {"texts": texts()}
        if op == "alerts":
            return {"rung": list(self.app.alert.rung), "last": self.app.alert.last}
        if op == "screenshot":
            made = Window.screenshot(name=command["path"])
            os.replace(made, command["path"])
            return {"path": command["path"]}
        if op == "targets":
            return {"targets": targets_on_screen(), "screen": self.app.screens.current}
        if op == "mutations":
            held = self.app.session.tablet.store.mutations()
            return {
                "count": len(held),
                "last_seq": max((m.seq for m in held), default=0),
                # Those queued after `after_seq`: what a touch recorded.
                "after": [
                    {"type": m.type, "entity_id": m.entity_id, "data": m.data}
                    for m in held
                    if m.seq > int(command.get("after_seq", 1 << 62))
                ],
            }
        if op == "refresh":
            self.app.refresh()
            return {}
        if op == "quit":
            self.app.stop()
            return {}
        widget = find(command.get("id", ""))
        if widget is None:
            return {"error": f"no widget {command.get('id')!r} on screen"}
        if op == "box":
            x, y = widget.to_window(*widget.pos)
            return {"x": x, "y": y, "width": widget.width, "height": widget.height}
        if op == "where":
            x, y = widget.to_window(widget.center_x, widget.center_y)
            return {
                "x": x,
                "y": y,
                "hit": target_at(x, y),
                "disabled": widget.disabled,
                "scrolled": _clipped(widget, x, y),  # out of its page's view: a swipe away
            }
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

    def tap(self, command: dict[str, Any], finish) -> None:
        """One tap, or two at the same spot `gap` seconds apart on Kivy's clock; answers once
        Kivy has delivered them (a ScrollView hands a tap on after 0.2 s) and laid out."""
        x, y = float(command["x"]), float(command["y"])
        gap = command.get("gap")
        settle = float(command.get("settle", 0.5))
        # The person looks (what is under the spot now is what they aimed at), then their
        # finger travels for `delay` seconds while the screen may still change.
        seen = {"screen": self.app.screens.current, "hit": target_at(x, y)}
        Clock.schedule_once(
            lambda dt: self.land(x, y, gap, settle, seen, finish), float(command.get("delay", 0))
        )

    def land(self, x: float, y: float, gap, settle: float, seen: dict, finish) -> None:
        self.app.tap_log.clear()
        self.app.refused_log.clear()
        seen["landed_on"] = target_at(x, y)
        self.taps += 1
        finger(x, y)

        def second(dt) -> None:
            seen["second_hit"] = target_at(x, y)
            finger(x, y)
            Clock.schedule_once(done, settle)

        def done(dt) -> None:
            finish(
                {
                    **seen,
                    "took": list(self.app.tap_log),
                    "refused": list(self.app.refused_log),
                    "after": self.app.screens.current,
                }
            )

        if gap is None:
            Clock.schedule_once(done, settle)
        else:
            Clock.schedule_once(second, float(gap))

    def hold(self, command: dict[str, Any], finish) -> None:
        """A finger put down at (x, y) and kept there. Without `seconds` it is lifted on the first
        frame after the safety bar's hold completed (the app's own clock fired the send), as a
        responder lets go once the button says it went; with `seconds`, that many seconds later on
        Kivy's clock, whatever happened. Answers with what the finger hit, whether the hold fired,
        the furthest progress the button showed, and how long the finger was down."""
        x, y = float(command["x"]), float(command["y"])
        seconds = command.get("seconds")
        bar = self.app.safety_bar
        seen = {"hit": target_at(x, y), "progress": 0.0}
        self.taps += 1
        down_at = time.monotonic()  # before the bar takes the press: the hold is at most this
        touch = FINGER.down(x, y)

        def lift(_dt=None) -> None:
            watching.cancel()
            fired = bar.hold.fired
            FINGER.up(touch)
            finish({**seen, "fired": fired, "held_seconds": time.monotonic() - down_at})

        def watch(_dt) -> None:
            if "taken" not in seen and not FINGER.waiting:  # the event loop delivered the down
                seen["taken"] = bar.hold.pressed_at is not None  # the button took the finger
            seen["progress"] = max(seen["progress"], bar.hold_progress)
            if seconds is None and bar.hold.fired:
                lift()

        watching = Clock.schedule_interval(watch, 0)  # every frame
        if seconds is not None:
            Clock.schedule_once(lift, float(seconds))

    @staticmethod
    def reveal(command: dict[str, Any], finish) -> None:
        """Scroll the widget's ScrollView until it is in view (a swipe, not a tap); answers
        once the scrolled content has been laid out."""
        widget = find(command.get("id", ""))
        if widget is None:
            finish({"error": f"no widget {command.get('id')!r} on screen"})
            return
        parent = widget.parent
        # Up to the window, which is its own parent.
        while parent is not None and parent is not Window and not isinstance(parent, ScrollView):
            parent = parent.parent
        if not isinstance(parent, ScrollView):
            parent = None
        if parent is not None and parent._viewport is not None:
            # Centre it in the view: the content's visible band starts at scroll_y × (overflow).
            content = parent._viewport
            _, bottom = content.to_widget(*widget.to_window(*widget.pos), relative=True)
            overflow = content.height - parent.height
            if overflow > 0:
                wanted = bottom + widget.height / 2 - parent.height / 2
                parent.scroll_y = min(1.0, max(0.0, wanted / overflow))
        Clock.schedule_once(lambda dt: finish({}), 0.2)

    def on_ui_thread(self, command: dict[str, Any]) -> dict[str, Any]:
        done = threading.Event()
        answer: dict[str, Any] = {}

        def finish(result: dict[str, Any]) -> None:
            answer.update(result)
            done.set()

        def step(dt) -> None:
            try:
                if command.get("op") in ("tap", "double_tap"):
                    self.tap(command, finish)
                    return
                if command.get("op") == "reveal":
                    self.reveal(command, finish)
                    return
                if command.get("op") == "hold":
                    self.hold(command, finish)
                    return
                answer.update(self.run(command))
            except Exception as exc:  # report it to the test rather than kill the app
                answer["error"] = f"{exc.__class__.__name__}: {exc}"
            done.set()

        Clock.schedule_once(step, 0)
        if not done.wait(20):
            return {"error": "the UI thread did not answer within 20 s"}
        return answer

    def serve(self, port: int, port_file: str | None = None) -> None:
        """Listen on `port` (0: any free one); with `port_file`, write the port there once the
        socket is bound, so a test never picks a port that something else takes first."""
        driver = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                for line in self.rfile:
                    answer = driver.on_ui_thread(json.loads(line))
                    self.wfile.write((json.dumps(answer) + "\n").encode())
                    self.wfile.flush()

        server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        if port_file:
            Path(port_file).write_text(str(server.server_address[1]))
        threading.Thread(target=server.serve_forever, name="care-driver", daemon=True).start()
