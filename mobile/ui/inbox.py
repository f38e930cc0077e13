"""Inbox: this unit's open assignments, live. One tap acknowledges a new one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.lang import Builder
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen

from mobile.client.assignment_view import (
    SAFE,
    open_assignments,
    partner_line,
    scene_state,
    since,
    state_label,
)
from mobile.client.recorder import NotAllowed
from mobile.client.vocabulary import AssignmentStatus
from mobile.ui.widgets import AMBER, GREEN, GREY, BigButton, Text

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


def _protocol() -> dict[str, Any]:
    return App.get_running_app().session.tablet.store.protocol()


class AssignmentCard(BoxLayout):
    def __init__(self, assignment: dict[str, Any], **kwargs):
        super().__init__(**kwargs)
        self.assignment = assignment
        call = assignment.get("incident") or {}
        protocol = _protocol()
        self.ids.call_type.text = (
            f"{call.get('call_type', '')} — {state_label(protocol, assignment['status'])}"
        )
        self.ids.address.text = call.get("address", "")
        self.ids.narrative.text = call.get("narrative", "")
        self.ids.partner.text = partner_line(assignment, protocol)
        self.ids.partner.tint = GREEN if scene_state(assignment) == SAFE else GREY
        self.tick()
        app = App.get_running_app()
        allowed = app.session.tablet.recorder.allowed_next(assignment["id"])
        if AssignmentStatus.ACKNOWLEDGED in allowed:
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
            app.session.tablet.recorder.transition(
                self.assignment["id"], AssignmentStatus.ACKNOWLEDGED
            )
        except NotAllowed as exc:
            app.tell(str(exc))
            return
        app.open_assignment(self.assignment["id"])


class InboxScreen(Screen):
    shown: str = ""

    def open_assignments(self) -> list[dict[str, Any]]:
        store = App.get_running_app().session.tablet.store
        return open_assignments(store.assignments(), store.protocol())

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
