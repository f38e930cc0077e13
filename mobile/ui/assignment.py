"""Assignment: the call, a fixed row of status buttons, the scene banner and the encounter.

Everything shown is the client core's `assignment_view` (the cached protocol and the person's
role): one button per status the unit can move to, always in the same place, the current one
highlighted, the next step emphasised; Cleared asks for a confirmation naming the call. The
encounter opens on scene whether or not the officer has marked the scene safe, with a warning
until they have (the server flags that care `before_scene_safe`).
"""

from __future__ import annotations

import json
from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from mobile.client.assignment_view import (
    SAFE,
    UNCHECKED,
    UNSAFE,
    AssignmentView,
    StatusButton,
    assignment_view,
    banner_as_known,
    confirm_question,
    since,
    state_label,
)
from mobile.client.recorder import NotAllowed
from mobile.client.vocabulary import AssignmentStatus
from mobile.ui.call_place import CallPlace  # noqa: F401 - the kv below places one
from mobile.ui.widgets import AMBER, BLUE, GREEN, GREY, RED, BigButton, ConfirmSheet

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

BANNER_TINTS = {SAFE: GREEN, UNSAFE: RED, UNCHECKED: AMBER}
MOVE_TINTS = {AssignmentStatus.SCENE_SAFE: GREEN, AssignmentStatus.SCENE_UNSAFE: RED}


class AssignmentScreen(Screen):
    assignment_id = StringProperty("")
    shown: str = ""

    opened: str = ""

    def on_pre_enter(self, *args) -> None:
        if self.assignment_id != self.opened:  # another record opens at its top
            self.ids.page.to_top()
            self.opened = self.assignment_id
        self.shown = ""
        self.ids.note.text = ""
        self.refresh()

    def view(self) -> tuple[dict | None, AssignmentView | None]:
        store = App.get_running_app().session.tablet.store
        assignment = store.assignment(self.assignment_id)
        if assignment is None:
            return None, None
        role = (store.get_setting("user") or {}).get("role")
        return assignment, assignment_view(assignment, store.protocol(), role)

    def refresh(self) -> None:
        assignment, view = self.view()
        if view is None:
            return
        self.tick()
        self.ids.call_place.show(assignment.get("incident") or {})
        app = App.get_running_app()
        sync = app.sync_state or app.session.tablet.engine.state
        signature = json.dumps([assignment, repr(view), sync.online], sort_keys=True)
        if signature == self.shown:
            return
        self.shown = signature
        self.ids.title.text = view.title
        self.ids.address.text = view.address
        self.ids.narrative.text = view.narrative
        self.ids.partner.text = view.partner
        banner = self.ids.banner
        # Offline the banner is what the tablet last heard, and when: not a present fact.
        banner.text = banner_as_known(view.banner, sync.online, sync.last_sync)
        banner.tint = BANNER_TINTS.get(view.scene, (0, 0, 0, 0))
        self.show_buttons(view.buttons)
        encounter = self.ids.encounter
        encounter.opacity = 1 if view.show_encounter else 0
        encounter.disabled = not view.may_open_encounter
        self.ids.warning.text = view.encounter_warning
        self.ids.warning.tint = AMBER if view.encounter_warning else (0, 0, 0, 0)
        self.ids.note.opacity = 1 if view.note_needed else 0
        self.ids.note.disabled = not view.note_needed

    def tick(self) -> None:
        assignment = App.get_running_app().session.tablet.store.assignment(self.assignment_id)
        if assignment is not None:
            self.ids.since.text = "Dispatched " + since(assignment.get("dispatched_at"))

    def show_buttons(self, buttons: tuple[StatusButton, ...]) -> None:
        """Same buttons, same places: only their colour and whether they take a tap change."""
        grid = self.ids.moves
        held = {b.stable_id: b for b in grid.children}
        if sorted(held) != sorted(f"to-{b.state}" for b in buttons):
            grid.clear_widgets()
            held = {}
            for b in buttons:
                button = BigButton(stable_id=f"to-{b.state}")
                button.bind(on_release=lambda _b, to=b.state: self.move(to))
                grid.add_widget(button)
                held[button.stable_id] = button
        for b in buttons:
            button = held[f"to-{b.state}"]
            button.text = b.label
            button.current = b.current
            button.disabled = not b.enabled
            button.bold = b.emphasised or b.current
            if b.current:
                button.tint = GREEN
            elif b.emphasised:
                button.tint = BLUE
            else:
                button.tint = MOVE_TINTS.get(b.state, GREY)

    def move(self, to: str) -> None:
        assignment, view = self.view()
        if view is None:
            return
        app = App.get_running_app()
        protocol = app.session.tablet.store.protocol()
        note = self.ids.note.text.strip()
        if to in protocol.get("transition_note_required", []) and not note:
            app.tell(f"Say why in the note before marking it {state_label(protocol, to).lower()}.")
            return
        button = next(b for b in view.buttons if b.state == to)
        if button.confirm:
            sheet = ConfirmSheet(on_yes=lambda: self.record_move(to, note))
            sheet.question = confirm_question(assignment, protocol, to)
            sheet.yes_text = f"Yes, {state_label(protocol, to).lower()}"
            sheet.open()
            app.watch_layout()
            return
        self.record_move(to, note)

    def record_move(self, to: str, note: str) -> None:
        app = App.get_running_app()
        try:
            app.session.tablet.recorder.transition(self.assignment_id, to, note=note)
        except NotAllowed as exc:
            app.tell(str(exc), error=True)
            return
        protocol = app.session.tablet.store.protocol()
        app.recorded(f"Status: {state_label(protocol, to)}.")
        self.ids.note.text = ""
        self.refresh()
