"""The call on the assignment screen: a small map (the pilot area, the call, this unit) drawn on
a canvas, the distance, and a Navigate button that opens the device's maps app.

Only renders: the frame, the distance and the link come from `mobile.client.call_place`.
"""

from __future__ import annotations

import os
import webbrowser
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.graphics import Color, Ellipse, Line, Rectangle
from kivy.lang import Builder
from kivy.metrics import dp
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.widget import Widget

from mobile.client.call_place import (
    MapFrame,
    call_point,
    distance_text,
    last_fix,
    navigate_uri,
    outline_rings,
)

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

CALL_COLOUR = (0.85, 0.15, 0.15, 1)
UNIT_COLOUR = (0.3, 0.6, 1, 1)
AREA_COLOUR = (0.75, 0.78, 0.85, 1)
GROUND = (0.12, 0.13, 0.16, 1)


class CallMap(Widget):
    """Pilot area outline, the call (red) and the unit (blue), north up."""

    stable_id = StringProperty("")
    # What is on the canvas ("area,call,unit"): the test driver reads a widget's `text`.
    text = StringProperty("")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rings: list = []
        self.call = None
        self.unit = None
        self._redraw = Clock.create_trigger(self.redraw)
        self.bind(pos=self._redraw, size=self._redraw)

    def show(self, rings: list, call, unit) -> None:
        self.rings, self.call, self.unit = rings, call, unit
        self._redraw()

    def redraw(self, *_args) -> None:
        self.canvas.clear()
        points = [p for ring in self.rings for p in ring]
        points += [p for p in (self.call, self.unit) if p is not None]
        drawn = []
        with self.canvas:
            Color(*GROUND)
            Rectangle(pos=self.pos, size=self.size)
            if not points or self.width < 10 or self.height < 10:
                self.text = ""
                return
            frame = MapFrame.around(points, self.width, self.height)

            def at(point):
                x, y = frame.to_pixels(point)
                return self.x + x, self.y + y

            Color(*AREA_COLOUR)
            for ring in self.rings:
                Line(points=[c for p in ring for c in at(p)], width=dp(1.2), close=True)
                drawn.append("area")
            for point, colour, name in (
                (self.unit, UNIT_COLOUR, "unit"),
                (self.call, CALL_COLOUR, "call"),
            ):
                if point is None:
                    continue
                x, y = at(point)
                size = dp(14)
                Color(*colour)
                Ellipse(pos=(x - size / 2, y - size / 2), size=(size, size))
                drawn.append(name)
        self.text = ",".join(sorted(set(drawn)))


class CallPlace(BoxLayout):
    """The map, the distance line and Navigate, for one call."""

    def show(self, call: dict) -> None:
        store = App.get_running_app().session.tablet.store
        rings = outline_rings(store.protocol().get("pilot_area"))
        self.point = call_point(call)
        self.label = call.get("address", "") or "CARE call"
        unit = last_fix(store)
        self.ids.call_map.show(rings, self.point, unit)
        self.ids.distance.text = distance_text(unit, self.point)
        self.ids.navigate.disabled = self.point is None

    def navigate(self) -> None:
        if getattr(self, "point", None) is None:
            return
        android = "ANDROID_ARGUMENT" in os.environ
        # Kivy's Android browser hands any URI to the system (a geo: one opens the maps app).
        if not webbrowser.open(navigate_uri(self.point, self.label, android=android)):
            App.get_running_app().tell(
                f"No maps app on this tablet: the call is at {self.label}.", error=True
            )
