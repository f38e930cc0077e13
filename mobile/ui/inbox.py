"""Inbox: this unit's open assignments, live. One tap acknowledges a new one."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.lang import Builder
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen

from mobile.client.recorder import NotAllowed
from mobile.ui.widgets import AMBER, GREEN, GREY, BigButton, Text

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

FINISHED = ("cleared", "cancelled")


def since(moment: str | None, *, at: datetime.datetime | None = None) -> str:
    """'12 min ago' from an ISO time; the tablet's clock may be off by a little, never below 0."""
    if not moment:
        return "time unknown"
    at = at or datetime.datetime.now(datetime.UTC)
    seconds = max(0, int((at - datetime.datetime.fromisoformat(moment)).total_seconds()))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min ago"


def state_label(state: str) -> str:
    protocol = App.get_running_app().session.tablet.store.protocol()
    labels = {s["value"]: s["label"] for s in protocol.get("assignment_states", [])}
    return labels.get(state, state.replace("_", " "))


def partner_line(assignment: dict[str, Any]) -> tuple[str, bool]:
    """The other unit on the call and whether it has marked the scene safe."""
    partners = assignment.get("partners") or []
    if not partners:
        return "No other unit on this call.", False
    parts, safe = [], False
    for p in partners:
        marked = bool(p.get("scene_safe_at")) or p.get("status") == "scene_safe"
        safe = safe or marked
        scene = (
            "scene SAFE"
            if marked
            else ("scene UNSAFE" if p.get("status") == "scene_unsafe" else "scene not yet checked")
        )
        parts.append(f"{p.get('call_sign')} ({state_label(p.get('status', ''))}, {scene})")
    return "With " + "; ".join(parts), safe


class AssignmentCard(BoxLayout):
    def __init__(self, assignment: dict[str, Any], **kwargs):
        super().__init__(**kwargs)
        self.assignment = assignment
        call = assignment.get("incident") or {}
        partner, safe = partner_line(assignment)
        self.ids.call_type.text = (
            f"{call.get('call_type', '')} — {state_label(assignment['status'])}"
        )
        self.ids.address.text = call.get("address", "")
        self.ids.narrative.text = call.get("narrative", "")
        self.ids.partner.text = partner
        self.ids.partner.tint = GREEN if safe else GREY
        self.tick()
        app = App.get_running_app()
        allowed = app.session.tablet.recorder.allowed_next(assignment["id"])
        if "acknowledged" in allowed:
            ack = BigButton(text="Acknowledge", tint=AMBER, stable_id=f"ack-{assignment['id']}")
            ack.bind(on_release=lambda *_: self.acknowledge())
            self.ids.actions.add_widget(ack)
        show = BigButton(text="Open", stable_id=f"open-{assignment['id']}")
        show.bind(on_release=lambda *_: app.open_assignment(assignment["id"]))
        self.ids.actions.add_widget(show)

    def tick(self) -> None:
        self.ids.since.text = "Dispatched " + since(self.assignment.get("dispatched_at"))

    def acknowledge(self) -> None:
        app = App.get_running_app()
        try:
            app.session.tablet.recorder.transition(self.assignment["id"], "acknowledged")
        except NotAllowed as exc:
            app.tell(str(exc))
            return
        app.open_assignment(self.assignment["id"])


class InboxScreen(Screen):
    shown: str = ""

    def open_assignments(self) -> list[dict[str, Any]]:
        held = App.get_running_app().session.tablet.store.assignments()
        mine = [a for a in held if a["status"] not in FINISHED]
        return sorted(mine, key=lambda a: a.get("dispatched_at") or "", reverse=True)

    def refresh(self) -> None:
        assignments = self.open_assignments()
        # Rebuild only when something changed: a tap must never land on a vanishing button.
        signature = json.dumps(assignments, sort_keys=True)
        cards = self.ids.cards
        if signature != self.shown:
            self.shown = signature
            cards.clear_widgets()
            for assignment in assignments:
                cards.add_widget(AssignmentCard(assignment))
            if not assignments:
                cards.add_widget(Text(text="No open assignments. New ones appear here."))
        self.tick()

    def tick(self) -> None:
        for card in self.ids.cards.children:
            if isinstance(card, AssignmentCard):
                card.tick()
