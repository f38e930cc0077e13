"""Encounter (CARE only): services, one-tap naloxone, a referral with consent, disposition, notes.

Each tap is one recorder call: the record and its outbox mutation are saved together on the
tablet, with or without a network, and the sync engine carries them to the server later.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from mobile.client.directory import picker_label
from mobile.client.recorder import NotAllowed
from mobile.client.store import Store
from mobile.ui.sync import clock_time
from mobile.ui.widgets import GREEN, GREY, BigButton, BigToggle, Text

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

SHOWN_MATCHES = 5


def matching(directory: list[dict[str, Any]], words: str) -> list[dict[str, Any]]:
    """Directory entries whose name, organization or category hold every word typed."""
    wanted = words.lower().split()
    found = []
    for entry in directory:
        text = " ".join(str(entry.get(k, "")) for k in ("name", "organization", "category"))
        if all(w in text.lower() for w in wanted):
            found.append(entry)
    return found[:SHOWN_MATCHES]


class EncounterScreen(Screen):
    assignment_id = StringProperty("")
    encounter_id = StringProperty("")
    chosen_service = StringProperty("")
    latest_dose = StringProperty("")
    shown: str = ""

    @property
    def store(self) -> Store:
        return App.get_running_app().session.tablet.store

    @property
    def recorder(self):
        return App.get_running_app().session.tablet.recorder

    def on_pre_enter(self, *args) -> None:
        try:
            self.encounter_id = self.recorder.open_encounter(self.assignment_id)
        except NotAllowed as exc:
            App.get_running_app().tell(str(exc))
            return
        self.shown = ""
        self.chosen_service = ""
        self.search_later = Clock.create_trigger(lambda dt: self.show_matches(), 0.2)
        encounter = self.store.record(self.encounter_id) or {}
        self.ids.notes.text = encounter.get("notes") or ""
        self.show_matches()
        self.refresh()

    # ---- what is on the tablet -------------------------------------------------------------

    def refresh(self) -> None:
        if not self.encounter_id:
            return
        held = {
            kind: self.store.records(kind, parent=self.encounter_id)
            for kind in ("service", "naloxone", "referral")
        }
        encounter = self.store.record(self.encounter_id) or {}
        signature = json.dumps([held, encounter], sort_keys=True)
        if signature == self.shown:
            return
        self.shown = signature
        protocol = self.store.protocol()
        self.show_services(protocol, {r["service"] for r in held["service"]})
        self.show_naloxone(held["naloxone"])
        self.show_referrals(held["referral"])
        self.show_dispositions(protocol, encounter.get("disposition"))

    def show_services(self, protocol: dict, logged: set[str]) -> None:
        grid = self.ids.services
        grid.clear_widgets()
        for service in protocol.get("services", []):
            done = service["code"] in logged
            button = BigButton(
                text=service["label"] + (" — logged" if done else ""),
                stable_id=f"service-{service['code']}",
                tint=GREEN if done else GREY,
                disabled=done,
            )
            button.bind(on_release=lambda _b, code=service["code"]: self.log_service(code))
            grid.add_widget(button)

    def show_naloxone(self, doses: list[dict]) -> None:
        times = ", ".join(clock_time(d.get("occurred_at")) for d in doses)
        self.ids.naloxone_log.text = (
            f"{len(doses)} naloxone dose(s) logged at {times}" if doses else "No naloxone given."
        )
        grid = self.ids.naloxone_edit
        grid.clear_widgets()
        dose_row = self.ids.dose_row
        dose_row.opacity, dose_row.disabled = (1, False) if doses else (0, True)
        if not doses:
            self.latest_dose = ""
            return
        # The latest dose's details, one tap each to correct; its dose in mg typed and saved.
        latest = max(doses, key=lambda d: d.get("occurred_at") or d.get("administered_at") or "")
        if latest["id"] != self.latest_dose or not self.ids.dose_mg.focus:
            self.ids.dose_mg.text = str(latest.get("dose_mg", ""))
        self.latest_dose = latest["id"]
        naloxone = self.store.protocol().get("naloxone", {})
        for field, choices in (
            ("route", naloxone.get("routes", [])),
            ("response", naloxone.get("responses", [])),
        ):
            for choice in choices:
                toggle = BigToggle(
                    text=f"{field.capitalize()}: {choice}",
                    stable_id=f"{field}-{choice}",
                    group=f"naloxone-{field}",
                    allow_no_selection=False,
                    state="down" if latest.get(field) == choice else "normal",
                )
                toggle.bind(
                    on_release=lambda _b, f=field, c=choice, r=latest["id"]: self.correct(r, f, c)
                )
                grid.add_widget(toggle)

    def show_referrals(self, referrals: list[dict]) -> None:
        names = {str(e["id"]): e["name"] for e in self.store.directory()}
        lines = [
            f"{names.get(str(r['service']), r['service'])}"
            f" ({'consent given' if r.get('consent') else 'no consent'}"
            f", {(r.get('status') or 'made').replace('_', ' ')})"
            for r in referrals
        ]
        self.ids.referral_log.text = "Referred: " + "; ".join(lines) if lines else "No referral."
        # Each referral's next statuses (the protocol's flow), e.g. the person declined on scene.
        flow = self.store.protocol().get("referral_statuses", {})
        grid = self.ids.referral_moves
        grid.clear_widgets()
        for referral in referrals:
            name = names.get(str(referral["service"]), "Referral")
            for status in flow.get(referral.get("status") or "made", []):
                button = BigButton(
                    text=f"{name}: {status.replace('_', ' ')}",
                    stable_id=f"referral-{status}-{referral['id']}",
                    tint=GREY,
                )
                button.bind(
                    on_release=lambda _b, r=referral["id"], s=status: self.move_referral(r, s)
                )
                grid.add_widget(button)

    def show_dispositions(self, protocol: dict, current: str | None) -> None:
        grid = self.ids.dispositions
        grid.clear_widgets()
        for disposition in protocol.get("dispositions", []):
            toggle = BigToggle(
                text=disposition["label"],
                stable_id=f"disposition-{disposition['code']}",
                group="disposition",
                allow_no_selection=False,
                state="down" if disposition["code"] == current else "normal",
            )
            toggle.bind(on_release=lambda _b, code=disposition["code"]: self.dispose(code))
            grid.add_widget(toggle)

    # ---- taps ------------------------------------------------------------------------------

    def log_service(self, code: str) -> None:
        self.recorder.log_service(self.encounter_id, code)
        self.refresh()

    def log_naloxone(self) -> None:
        self.recorder.log_naloxone(self.encounter_id)
        self.refresh()

    def correct(self, record_id: str, field: str, value: str) -> None:
        try:
            self.recorder.correct_naloxone(record_id, **{field: value})
        except NotAllowed as exc:
            App.get_running_app().tell(str(exc))
            return
        self.refresh()

    def save_dose(self) -> None:
        if not self.latest_dose:
            return
        dose = self.ids.dose_mg.text.strip()
        held = (self.store.record(self.latest_dose) or {}).get("dose_mg")
        if dose == held:
            return
        try:
            self.recorder.correct_naloxone(self.latest_dose, dose_mg=dose)
        except NotAllowed as exc:
            App.get_running_app().tell(str(exc))
            return
        App.get_running_app().tell(f"Dose corrected to {dose} mg.")
        self.refresh()

    def move_referral(self, referral_id: str, status: str) -> None:
        try:
            self.recorder.update_referral(referral_id, status=status)
        except NotAllowed as exc:
            App.get_running_app().tell(str(exc))
            return
        self.refresh()

    def dispose(self, code: str) -> None:
        self.recorder.edit_encounter(self.encounter_id, disposition=code)
        self.refresh()

    def save_notes(self) -> None:
        self.recorder.edit_encounter(self.encounter_id, notes=self.ids.notes.text)
        App.get_running_app().tell("Notes saved on the tablet.")

    def show_matches(self) -> None:
        box = self.ids.matches
        box.clear_widgets()
        found = matching(self.store.directory(), self.ids.search.text)
        now = datetime.datetime.now(datetime.UTC)
        for entry in found:
            toggle = BigToggle(
                text=picker_label(entry, now),
                stable_id=f"referral-{entry['id']}",
                group="referral",
                state="down" if str(entry["id"]) == self.chosen_service else "normal",
            )
            toggle.bind(on_release=lambda b, sid=str(entry["id"]): self.choose(b, sid))
            box.add_widget(toggle)
        if not found:
            box.add_widget(Text(text="Nothing in the directory matches."))

    def choose(self, toggle, service_id: str) -> None:
        self.chosen_service = service_id if toggle.state == "down" else ""

    def refer(self) -> None:
        app = App.get_running_app()
        if not self.chosen_service:
            app.tell("Pick a service from the directory first.")
            return
        self.recorder.refer(
            self.encounter_id,
            int(self.chosen_service) if self.chosen_service.isdigit() else self.chosen_service,
            consent=self.ids.consent.state == "down",
        )
        self.chosen_service = ""
        self.ids.consent.state = "normal"
        self.show_matches()
        self.refresh()
