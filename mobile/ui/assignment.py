"""Assignment: the call, and big buttons for exactly the moves the server's protocol allows.

The buttons come from `Recorder.allowed_next` (the cached protocol and the person's role), never
from a table of our own. A CARE team sees a banner that stays amber until the officer on the call
marks the scene safe, then turns green and opens the way to the encounter.
"""

from __future__ import annotations

import json
from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from mobile.client.recorder import NotAllowed
from mobile.ui.call_place import CallPlace  # noqa: F401 - the kv below places one
from mobile.ui.inbox import partner_line, since, state_label
from mobile.ui.widgets import AMBER, BLUE, GREEN, RED, BigButton

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

TINTS = {"scene_safe": GREEN, "scene_unsafe": RED}


class AssignmentScreen(Screen):
    assignment_id = StringProperty("")
    shown: str = ""

    def on_pre_enter(self, *args) -> None:
        self.shown = ""
        self.ids.note.text = ""
        self.refresh()

    def refresh(self) -> None:
        app = App.get_running_app()
        assignment = app.session.tablet.store.assignment(self.assignment_id)
        if assignment is None:
            return
        call = assignment.get("incident") or {}
        self.tick()
        self.ids.call_place.show(call)
        allowed = app.session.tablet.recorder.allowed_next(self.assignment_id)
        signature = json.dumps([assignment, allowed], sort_keys=True)
        if signature == self.shown:
            return
        self.shown = signature
        self.ids.title.text = f"{call.get('call_type', '')} — {state_label(assignment['status'])}"
        self.ids.address.text = call.get("address", "")
        self.ids.narrative.text = call.get("narrative", "")
        partner, safe = partner_line(assignment)
        self.ids.partner.text = partner
        self.show_banner(assignment, safe)
        self.show_moves(assignment, allowed)

    def tick(self) -> None:
        assignment = App.get_running_app().session.tablet.store.assignment(self.assignment_id)
        if assignment is not None:
            self.ids.since.text = "Dispatched " + since(assignment.get("dispatched_at"))

    def show_banner(self, assignment: dict, safe: bool) -> None:
        banner = self.ids.banner
        officers = [p for p in assignment.get("partners", []) if p.get("kind") == "spd"]
        if assignment["kind"] != "care" or not officers:
            banner.text, banner.tint, banner.opacity = "", (0, 0, 0, 0), 0
            return
        banner.opacity = 1
        unsafe = any(p.get("status") == "scene_unsafe" for p in officers)
        if safe:
            banner.text, banner.tint = "SCENE SAFE — the officer has cleared you to engage.", GREEN
        elif unsafe:
            why = next((p.get("safety_note") for p in officers if p.get("safety_note")), "")
            text = "SCENE UNSAFE — stay back; wait for the officer."
            banner.text, banner.tint = text + (f"\nOfficer: {why}" if why else ""), RED
        else:
            banner.text, banner.tint = "WAIT FOR SCENE SAFE — the officer has not marked it.", AMBER

    def show_moves(self, assignment: dict, allowed: list[str]) -> None:
        moves = self.ids.moves
        moves.clear_widgets()
        for to in allowed:
            button = BigButton(text=state_label(to), stable_id=f"to-{to}", tint=TINTS.get(to, BLUE))
            button.bind(on_release=lambda _b, to=to: self.move(to))
            moves.add_widget(button)
        care_on_scene = assignment["kind"] == "care" and assignment["status"] == "on_scene"
        _, safe = partner_line(assignment)
        officers = any(p.get("kind") == "spd" for p in assignment.get("partners", []))
        self.ids.encounter.opacity = 1 if care_on_scene else 0
        self.ids.encounter.disabled = not care_on_scene or (officers and not safe)
        protocol = App.get_running_app().session.tablet.store.protocol()
        needs_note = set(protocol.get("transition_note_required", [])) & set(allowed)
        self.ids.note.opacity = 1 if needs_note else 0
        self.ids.note.disabled = not needs_note

    def move(self, to: str) -> None:
        app = App.get_running_app()
        protocol = app.session.tablet.store.protocol()
        note = self.ids.note.text.strip()
        if to in protocol.get("transition_note_required", []) and not note:
            app.tell(f"Say why in the note before marking it {state_label(to).lower()}.")
            return
        try:
            app.session.tablet.recorder.transition(self.assignment_id, to, note=note)
        except NotAllowed as exc:
            app.tell(str(exc))
            return
        self.ids.note.text = ""
        self.refresh()
