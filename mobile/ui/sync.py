"""Sync: the always-visible status bar, and a screen listing queued and refused changes."""

from __future__ import annotations

import datetime
from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.screenmanager import Screen

from mobile.client.recorder import NotAllowed
from mobile.client.store import PENDING, REJECTED, Mutation
from mobile.client.sync_engine import SyncState
from mobile.client.undo import can_take_back
from mobile.ui.widgets import AMBER, GREEN, GREY, RED, BigButton, Text

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

WHAT = {
    "assignment.transition": "Status change",
    "encounter.upsert": "Encounter",
    "service.create": "Service",
    "service.remove": "Service taken off",
    "naloxone.create": "Naloxone dose",
    "naloxone.update": "Naloxone correction",
    "naloxone.remove": "Naloxone dose taken off",
    "referral.create": "Referral",
    "referral.update": "Referral follow-up",
    "survey.create": "Survey",
}


def clock_time(moment: str | None) -> str:
    if not moment:
        return "never"
    return datetime.datetime.fromisoformat(moment).astimezone().strftime("%H:%M:%S")


def describe(mutation: Mutation, names: dict[str, str] | None = None) -> str:
    """'Referral to Crisis Line at 14:02:11': `names` turns service codes and directory ids
    into the words the responder saw."""
    what = WHAT.get(mutation.type, mutation.type)
    if mutation.type == "encounter.upsert" and "disposition" in mutation.data:
        what = "Disposition"
    detail = str(
        mutation.data.get("to")
        or mutation.data.get("service")
        or mutation.data.get("disposition")
        or ""
    )
    detail = (names or {}).get(detail, detail.replace("_", " "))
    if mutation.type == "referral.create":
        detail = f"to {detail}"
    return f"{what} {detail} at {clock_time(mutation.occurred_at)}".replace("  ", " ")


def readable_names(store) -> dict[str, str]:
    """Service codes and directory ids to their labels, from the cached reference data."""
    protocol = store.protocol()
    names = {s["code"]: s["label"] for s in protocol.get("services", [])}
    names.update({d["code"]: d["label"] for d in protocol.get("dispositions", [])})
    names.update({str(e["id"]): e["name"] for e in store.directory()})
    return names


class StatusBar(BoxLayout):
    def show(self, state: SyncState | None, queued: int) -> None:
        if state is None:
            self.ids.status.text, self.ids.status.tint = "Not signed in", GREY
            return
        if state.revoked:
            words, tint = "This tablet was revoked", RED
        elif state.signed_out:
            words, tint = "Signed out — sign in again", RED
        elif state.online:
            words, tint = "Online", GREEN
        else:
            words, tint = "Offline — changes are kept on the tablet", AMBER
        rejected = f" · {len(state.rejected)} refused" if state.rejected else ""
        self.ids.status.text = (
            f"{words} · {queued} queued{rejected} · last sync {clock_time(state.last_sync)}"
        )
        self.ids.status.tint = tint


class SyncScreen(Screen):
    def refresh(self) -> None:
        store = App.get_running_app().session.tablet.store
        queued = [m for m in store.mutations() if m.state in PENDING]
        rejected = store.mutations(REJECTED)
        box = self.ids.changes
        box.clear_widgets()
        names = readable_names(store)
        box.add_widget(Text(text=f"Waiting to reach the server: {len(queued)}", bold=True))
        for mutation in queued:
            said = describe(mutation, names)
            box.add_widget(Text(text=said))
            if can_take_back(mutation):
                back = BigButton(text="Take back", stable_id=f"take-back-{mutation.id}", tint=GREY)
                back.bind(on_release=lambda _b, mid=mutation.id, s=said: self.take_back(mid, s))
                box.add_widget(back)
        box.add_widget(Text(text=f"Refused by the server: {len(rejected)}", bold=True))
        for mutation in rejected:
            box.add_widget(Text(text=f"{describe(mutation, names)} — {mutation.reason}", tint=RED))
            dismiss = BigButton(text="I have read this", stable_id=f"dismiss-{mutation.id}")
            dismiss.bind(on_release=lambda _b, mid=mutation.id: self.dismiss(mid))
            box.add_widget(dismiss)

    def sync_now(self) -> None:
        """Wake the sync engine (it is otherwise backing off after failures); never waits.
        Offline, say why nothing can go yet (it is tried again by itself)."""
        app = App.get_running_app()
        engine = app.session.tablet.engine
        state = engine.state
        engine.failures = 0
        engine.nudge()
        if not state.online:
            why = state.last_error or "no answer from the server"
            app.tell(
                f"Trying now, but the tablet is offline ({why}). Queued changes are kept and "
                "go by themselves once the server answers.",
                error=True,
            )
        else:
            app.tell("Syncing now.")

    def take_back(self, mutation_id: str, said: str) -> None:
        """One more queued change that undoes it (offered for Undo in turn)."""
        app = App.get_running_app()
        try:
            app.offered(app.undo_shelf.take_back(mutation_id, said))
        except NotAllowed as exc:
            app.tell(str(exc))
        self.refresh()

    def dismiss(self, mutation_id: str) -> None:
        App.get_running_app().session.tablet.store.dismiss_rejected(mutation_id)
        self.refresh()
