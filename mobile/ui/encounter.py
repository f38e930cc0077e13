"""Encounter (CARE only): services, one-tap naloxone, a referral with consent, disposition, notes.

Each tap is one recorder call: the record and its outbox mutation are saved together on the
tablet, with or without a network, and the sync engine carries them to the server later.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from mobile.client.recorder import NotAllowed, Recorder
from mobile.client.store import Store, now
from mobile.ui.sync import clock_time
from mobile.ui.widgets import GREEN, BigButton, BigToggle, Text

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


def correct_naloxone(recorder: Recorder, record_id: str, **changes: Any) -> None:
    """Correct a logged dose (route, response...): the server takes `naloxone.update`, which the
    recorder has no call for yet. Saved like every recorder call: the tablet's copy and the
    outbox mutation in one transaction, then the sync engine is nudged."""
    store = recorder.store
    record = store.record(record_id)
    if record is None:
        raise NotAllowed("This dose is not on this tablet.")
    with store.transaction() as db:
        store.enqueue(
            db, type="naloxone.update", entity_id=record_id, occurred_at=now(), data=changes
        )
        store.put_record(
            db, "naloxone", {**record, **changes}, parent=record["encounter"], synced=False
        )
    recorder.on_change()


class EncounterScreen(Screen):
    assignment_id = StringProperty("")
    encounter_id = StringProperty("")
    chosen_service = StringProperty("")
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
                tint=GREEN if done else (0.3, 0.32, 0.36, 1),
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
        if not doses:
            return
        # The latest dose's details, one tap each to correct.
        latest = max(doses, key=lambda d: d.get("occurred_at") or d.get("administered_at") or "")
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
            f" ({'consent given' if r.get('consent') else 'no consent'})"
            for r in referrals
        ]
        self.ids.referral_log.text = "Referred: " + "; ".join(lines) if lines else "No referral."

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
        correct_naloxone(self.recorder, record_id, **{field: value})
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
        for entry in found:
            toggle = BigToggle(
                text=f"{entry['name']} — {entry.get('organization', '')}",
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
