"""Encounter (CARE only): naloxone, services, a referral with consent, disposition, notes.

Each tap is one recorder call: the record and its outbox mutation are saved together on the
tablet, with or without a network, and the sync engine carries them to the server later.

The layout never moves under a finger: the naloxone details (dose, route, response) have their
own space, there from the start and only enabled once a dose is logged; buttons are built once
and only change colour or state; what grows (the referrals made and their follow-up) is at the
bottom, below everything the responder works through. Each recording choice (a service, a
dose given, its dose, route and response, the disposition, a referral) comes with its own Undo
for 10 seconds, naming what it takes back.

"Naloxone given now" records only the time of the dose: its dose and route read "not yet
recorded" until someone chooses them, and the details say which dose they edit ("Dose 2 of 2").
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from mobile.client.directory import matching, picker_label
from mobile.client.recorder import NotAllowed, RepeatDose
from mobile.client.store import Store
from mobile.client.vocabulary import ReferralStatus
from mobile.ui.sync import clock_time
from mobile.ui.widgets import GREEN, GREY, BigButton, BigToggle, ConfirmSheet, Text

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


def given_at(dose: dict) -> str:
    """When a dose was given: the tablet's own record says `occurred_at`, the server's copy
    `administered_at`."""
    return dose.get("occurred_at") or dose.get("administered_at") or ""


def naloxone_summary(doses: list[dict]) -> str:
    if not doses:
        return "Naloxone: none given yet."
    last = clock_time(max(given_at(d) for d in doses) or None)
    return f"Naloxone: {len(doses)} dose{'s' if len(doses) > 1 else ''}, last at {last}."


NOT_YET = "not yet recorded"


def which_dose(doses: list[dict]) -> str:
    """The dose the details edit (the latest), by its place: "Dose 2 of 2"."""
    return f"Dose {len(doses)} of {len(doses)}" if doses else ""


def dose_detail(doses: list[dict]) -> str:
    """Which dose the dose, route and response buttons edit, and what it holds now: what
    nobody chose yet says so."""
    if not doses:
        return "Dose, route and response: tap Naloxone given now first."
    latest = max(doses, key=given_at)
    dose = latest.get("dose_mg")
    response = latest.get("response") or "unknown"
    return (
        f"{which_dose(doses)} (given {clock_time(given_at(latest))}): "
        f"dose: {f'{dose} mg' if dose else NOT_YET}, route: {latest.get('route') or NOT_YET}, "
        f"response: {'not yet known' if response == 'unknown' else response}."
    )


class EncounterScreen(Screen):
    assignment_id = StringProperty("")
    encounter_id = StringProperty("")
    chosen_service = StringProperty("")
    latest_dose = StringProperty("")
    shown: str = ""
    built: str = ""

    @property
    def store(self) -> Store:
        return App.get_running_app().session.tablet.store

    @property
    def recorder(self):
        return App.get_running_app().session.tablet.recorder

    def on_pre_enter(self, *args) -> None:
        try:
            encounter_id = self.recorder.open_encounter(self.assignment_id)
        except NotAllowed as exc:
            App.get_running_app().tell(str(exc))
            return
        if encounter_id != self.encounter_id:  # another record opens at its top
            self.ids.page.to_top()
        self.encounter_id = encounter_id
        self.shown = ""
        self.chosen_service = ""
        self.search_later = Clock.create_trigger(
            lambda dt: self.show_matches()
        )  # keys of one frame
        encounter = self.store.record(self.encounter_id) or {}
        self.ids.notes.text = encounter.get("notes") or ""
        self.show_matches()
        self.refresh()

    # ---- what is on the tablet -------------------------------------------------------------

    def refresh(self) -> None:
        if not self.encounter_id:
            return
        protocol = self.store.protocol()
        self.build_controls(protocol)
        held = {
            kind: self.store.records(kind, parent=self.encounter_id)
            for kind in ("service", "naloxone", "referral")
        }
        encounter = self.store.record(self.encounter_id) or {}
        signature = json.dumps([held, encounter], sort_keys=True)
        if signature == self.shown:
            return
        self.shown = signature
        self.show_services({r["service"] for r in held["service"]})
        self.show_naloxone(held["naloxone"])
        self.show_referrals(held["referral"])
        self.show_disposition(encounter.get("disposition"))

    def build_controls(self, protocol: dict) -> None:
        """The catalog's buttons, built once per protocol: a tap changes their state, never their
        number or place."""
        signature = json.dumps(
            [protocol.get(k) for k in ("services", "dispositions", "naloxone")], sort_keys=True
        )
        if signature == self.built:
            return
        self.built = signature
        services = self.ids.services
        services.clear_widgets()
        for service in protocol.get("services", []):
            button = BigButton(text=service["label"], stable_id=f"service-{service['code']}")
            button.bind(on_release=lambda _b, code=service["code"]: self.log_service(code))
            services.add_widget(button)
        grid = self.ids.naloxone_edit
        grid.clear_widgets()
        naloxone = protocol.get("naloxone", {})
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
                )
                toggle.bind(on_release=lambda _b, f=field, c=choice: self.correct(f, c))
                grid.add_widget(toggle)
        dispositions = self.ids.dispositions
        dispositions.clear_widgets()
        for disposition in protocol.get("dispositions", []):
            toggle = BigToggle(
                text=disposition["label"],
                stable_id=f"disposition-{disposition['code']}",
                group="disposition",
                allow_no_selection=False,
            )
            toggle.bind(on_release=lambda _b, d=disposition: self.dispose(d["code"], d["label"]))
            dispositions.add_widget(toggle)
        self.shown = ""

    def show_services(self, logged: set[str]) -> None:
        for button in self.ids.services.children:
            done = button.stable_id.removeprefix("service-") in logged
            button.tint = GREEN if done else GREY
            button.disabled = done
        self.ids.services_heading.text = f"Services: {len(logged)} logged"

    def show_naloxone(self, doses: list[dict]) -> None:
        self.ids.naloxone_log.text = naloxone_summary(doses)
        self.ids.naloxone_detail.text = dose_detail(doses)
        self.ids.dose_row.disabled = not doses
        latest = max(doses, key=given_at) if doses else {}
        if latest and (latest["id"] != self.latest_dose or not self.ids.dose_mg.focus):
            self.ids.dose_mg.text = str(latest.get("dose_mg") or "")
        if not latest:
            self.ids.dose_mg.text = ""
        self.latest_dose = latest.get("id", "")
        # Always enabled, so nothing changes under a finger that follows "Naloxone given now".
        for toggle in self.ids.naloxone_edit.children:
            field, choice = toggle.stable_id.split("-", 1)
            toggle.state = "down" if latest.get(field) == choice else "normal"

    def show_referrals(self, referrals: list[dict]) -> None:
        names = {str(e["id"]): e["name"] for e in self.store.directory()}
        lines = [
            f"{names.get(str(r['service']), r['service'])}"
            f" ({'consent given' if r.get('consent') else 'no consent'}"
            f", {(r.get('status') or 'made').replace('_', ' ')})"
            for r in referrals
        ]
        self.ids.referral_log.text = "\n".join(lines) if lines else "No referral yet."
        # Each referral's next statuses (the protocol's flow), e.g. the person declined on scene.
        flow = self.store.protocol().get("referral_statuses", {})
        grid = self.ids.referral_moves
        grid.clear_widgets()
        for referral in referrals:
            name = names.get(str(referral["service"]), "Referral")
            for status in flow.get(referral.get("status") or ReferralStatus.MADE, []):
                button = BigButton(
                    text=f"{name}: {status.replace('_', ' ')}",
                    stable_id=f"referral-{status}-{referral['id']}",
                    tint=GREY,
                )
                button.bind(
                    on_release=lambda _b, r=referral["id"], s=status: self.move_referral(r, s)
                )
                grid.add_widget(button)

    def show_disposition(self, current: str | None) -> None:
        for toggle in self.ids.dispositions.children:
            code = toggle.stable_id.removeprefix("disposition-")
            toggle.state = "down" if code == current else "normal"

    # ---- taps ------------------------------------------------------------------------------

    def log_service(self, code: str) -> None:
        app = App.get_running_app()
        labels = {s["code"]: s["label"] for s in self.store.protocol().get("services", [])}
        app.offered(app.undo_shelf.log_service(self.encounter_id, code, labels.get(code, code)))
        self.refresh()

    def log_naloxone(self, another_dose: bool = False) -> None:
        app = App.get_running_app()
        try:
            offer = app.undo_shelf.give_naloxone(self.encounter_id, another_dose=another_dose)
        except RepeatDose as exc:
            # Most often the same dose tapped twice: ask, big and apart, before counting it.
            sheet = ConfirmSheet(on_yes=lambda: self.log_naloxone(another_dose=True))
            sheet.question = str(exc)
            sheet.yes_text = "Yes, another dose"
            sheet.open()
            return
        app.offered(offer)
        self.refresh()

    def correct(self, field: str, value: str) -> None:
        app = App.get_running_app()
        if not self.latest_dose:
            app.tell('No dose is recorded yet: tap "Naloxone given now" first.', error=True)
            self.shown = ""
            self.refresh()
            return
        which = which_dose(self.store.records("naloxone", parent=self.encounter_id))
        try:
            app.offered(
                app.undo_shelf.correct_naloxone(self.latest_dose, field, value, which=which)
            )
        except NotAllowed as exc:
            app.tell(str(exc))
        self.shown = ""
        self.refresh()

    def save_dose(self) -> None:
        if not self.latest_dose:
            return
        app = App.get_running_app()
        dose = self.ids.dose_mg.text.strip() or None
        held = (self.store.record(self.latest_dose) or {}).get("dose_mg")
        if dose == held:
            return
        which = which_dose(self.store.records("naloxone", parent=self.encounter_id))
        try:
            offer = app.undo_shelf.correct_naloxone(self.latest_dose, "dose_mg", dose, which=which)
        except NotAllowed as exc:
            app.tell(str(exc))
            return
        app.offered(offer)
        self.refresh()

    def move_referral(self, referral_id: str, status: str) -> None:
        try:
            self.recorder.update_referral(referral_id, status=status)
        except NotAllowed as exc:
            App.get_running_app().tell(str(exc), error=True)
            return
        App.get_running_app().recorded(f"Referral marked {status.replace('_', ' ')}.")
        self.refresh()

    def dispose(self, code: str, label: str) -> None:
        app = App.get_running_app()
        app.offered(app.undo_shelf.dispose(self.encounter_id, code, label))
        self.refresh()

    def save_notes(self) -> None:
        self.recorder.edit_encounter(self.encounter_id, notes=self.ids.notes.text)
        App.get_running_app().recorded("Notes saved on the tablet.")

    def show_matches(self) -> None:
        """The directory's matches for the search; the same matches stay where they are (a
        finger may be on its way to one)."""
        box = self.ids.matches
        found = matching(self.store.directory(), self.ids.search.text)
        wanted = [f"referral-{entry['id']}" for entry in found]
        if wanted and wanted == [getattr(w, "stable_id", "") for w in reversed(box.children)]:
            for toggle in box.children:
                chosen = toggle.stable_id.removeprefix("referral-") == self.chosen_service
                toggle.state = "down" if chosen else "normal"
            return
        box.clear_widgets()
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
            app.tell("Pick a service from the directory first.", error=True)
            return
        name = {str(e["id"]): e["name"] for e in self.store.directory()}.get(
            self.chosen_service, "the service"
        )
        if self.ids.consent.state != "down":
            # Without consent it is only a record that help was offered: asked, never at once.
            sheet = ConfirmSheet(on_yes=lambda: self.make_referral(name, consent=False))
            sheet.question = (
                f"The person has not consented. Record a referral to {name} without consent?"
            )
            sheet.yes_text = "Yes, offered only"
            sheet.open()
            return
        self.make_referral(name, consent=True)

    def make_referral(self, name: str, *, consent: bool) -> None:
        app = App.get_running_app()
        service = self.chosen_service
        shelf = app.undo_shelf
        shelf.refer(
            self.encounter_id,
            int(service) if service.isdigit() else service,
            name,
            consent=consent,
        )
        app.offered(shelf.offer)
        self.chosen_service = ""
        self.ids.consent.state = "normal"
        self.show_matches()
        self.refresh()
