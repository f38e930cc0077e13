"""Each recording choice shown with its own Undo for 10 seconds, naming what it takes back, and
taps that land after a layout change ignored.

Undo records one more change (a service's or a dose's removal, a naloxone correction, a
referral update, an encounter edit), queued and synced like the rest, which the server keeps and
audits. The choices offered: a service logged ("Undo: service De-escalation"), a dose given
("Undo: Naloxone given, Dose 1 of 1"), a dose's dose, route and response (naming which dose),
the disposition, a referral, and taking back a change still queued (itself undone by recording
it again). The latest choice is the one on offer: Undo never reaches past it to an older one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mobile.client.assignment_view import clock_minute
from mobile.client.recorder import NotAllowed, Recorder
from mobile.client.store import PENDING, Mutation
from mobile.client.vocabulary import ReferralStatus

UNDO_SECONDS = 10.0
TAP_GUARD_SECONDS = 0.5
REFERRAL_TAKEN_BACK = ReferralStatus.CLOSED
TAKEN_BACK_NOTE = "Taken back on the tablet: chosen by mistake."


@dataclass(frozen=True)
class Offer:
    """What was just chosen, in the responder's words, and how to take it back."""

    said: str
    revert: Callable[[], str]
    until: float
    told: str = ""  # what the message line says it recorded (else `said`)


class UndoShelf:
    """Holds the latest consequential choice for `UNDO_SECONDS`; a newer one replaces it."""

    def __init__(self, recorder: Recorder, *, clock: Callable[[], float] = time.monotonic):
        self.recorder = recorder
        self.clock = clock
        self._offer: Offer | None = None

    @property
    def offer(self) -> Offer | None:
        if self._offer is not None and self.clock() >= self._offer.until:
            self._offer = None
        return self._offer

    def _keep(self, said: str, revert: Callable[[], str], told: str = "") -> Offer:
        self._offer = Offer(
            said=said, revert=revert, until=self.clock() + UNDO_SECONDS, told=told or said
        )
        return self._offer

    def withdraw(self) -> None:
        """Something else was recorded since: the Undo on offer would take back an older choice
        than the one the person just made, so it goes."""
        self._offer = None

    def undo(self) -> str | None:
        """Take back the offered choice (one more queued change); its mutation id, or None when
        the offer has expired."""
        offer = self.offer
        if offer is None:
            return None
        self._offer = None
        return offer.revert()

    # ---- the guarded choices --------------------------------------------------------------

    def take_back(self, mutation_id: str, said: str) -> Offer:
        """Take back a queued change by recording its opposite; Undo records it again."""
        mutation = self.recorder.store.mutation(mutation_id)
        if mutation is None or not can_take_back(mutation):
            raise NotAllowed("Only a queued service, naloxone correction, disposition or referral.")
        revert, again = TAKE_BACK[mutation.type](self.recorder, mutation)
        revert()
        return self._keep(f"Taken back: {said}", again)

    def log_service(self, encounter_id: str, code: str, label: str) -> Offer:
        """A service given; its Undo takes that service (and only it) off the encounter."""
        service_id = self.recorder.log_service(encounter_id, code)
        return self._keep(
            f"service {label}",
            lambda: self.recorder.remove_service(service_id),
            told=f"Service logged: {label}.",
        )

    def give_naloxone(self, encounter_id: str, *, another_dose: bool = False) -> Offer:
        """ "Naloxone given now": the time of a dose, recorded; its Undo takes that dose (and
        only it) off the encounter, naming it by its place ("Naloxone given, Dose 2 of 2").
        Raises `RepeatDose` for a second dose within a minute unless `another_dose`."""
        dose_id = self.recorder.log_naloxone(encounter_id, another_dose=another_dose)
        doses = self.recorder.store.records("naloxone", parent=str(encounter_id))
        given = (self.recorder.store.record(dose_id) or {}).get("occurred_at")
        which = f"Dose {len(doses)} of {len(doses)}"
        return self._keep(
            f"Naloxone given, {which}",
            lambda: self.recorder.remove_naloxone(dose_id),
            told=f"{which} recorded at {clock_minute(given)}: choose its dose, route and response.",
        )

    def correct_naloxone(self, record_id: str, field: str, value: Any, *, which: str = "") -> Offer:
        """A dose's dose, route or response chosen; `which` names the dose ("Dose 2 of 2")."""
        before = (self.recorder.store.record(record_id) or {}).get(field)
        self.recorder.correct_naloxone(record_id, **{field: value})
        words = {"route": "route", "response": "response", "dose_mg": "dose"}.get(field, field)
        shown = f"{value} mg" if field == "dose_mg" else value
        if value is None:
            shown = "not yet recorded"
        return self._keep(
            f"{which}, {words}: {shown}" if which else f"Naloxone {words}: {shown}",
            lambda: self.recorder.correct_naloxone(record_id, **{field: before}),
        )

    def dispose(self, encounter_id: str, code: str, label: str) -> Offer:
        before = (self.recorder.store.record(encounter_id) or {}).get("disposition")
        self.recorder.edit_encounter(encounter_id, disposition=code)
        return self._keep(
            f"Disposition: {label}",
            lambda: self.recorder.edit_encounter(encounter_id, disposition=before or ""),
        )

    def refer(self, encounter_id: str, service: int | str, name: str, *, consent: bool) -> str:
        """Make the referral, with consent or as a record that one was offered and declined;
        either is offered for undo (which closes it)."""
        referral_id = self.recorder.refer(encounter_id, service, consent=consent)
        self._keep(
            f"Referral to {name}, {'with consent' if consent else 'no consent'}",
            lambda: self.recorder.update_referral(
                referral_id, status=REFERRAL_TAKEN_BACK, note=TAKEN_BACK_NOTE
            ),
        )
        return referral_id


def can_take_back(mutation: Mutation) -> bool:
    """A queued change that one more change can take back: a naloxone correction, a
    disposition, a referral."""
    if mutation.state not in PENDING:
        return False
    if mutation.type == "encounter.upsert":
        return "disposition" in mutation.data
    return mutation.type in TAKE_BACK


def _before(recorder: Recorder, mutation: Mutation) -> dict[str, Any]:
    """The entity as it was just before `mutation`: the server's copy, then the tablet's earlier
    changes to it, in order."""
    held: dict[str, Any] = dict(recorder.store.server_copy(mutation.entity_id) or {})
    for earlier in recorder.store.mutations_for(mutation.entity_id):
        if earlier.seq >= mutation.seq:
            break
        held.update(earlier.data)
    return held


def _take_back_naloxone(recorder: Recorder, m: Mutation) -> tuple[Callable, Callable]:
    before = _before(recorder, m)
    fields = {k: before.get(k) for k in m.data}
    return (
        lambda: recorder.correct_naloxone(m.entity_id, **fields),
        lambda: recorder.correct_naloxone(m.entity_id, **m.data),
    )


def _take_back_disposition(recorder: Recorder, m: Mutation) -> tuple[Callable, Callable]:
    before = _before(recorder, m).get("disposition") or ""
    again = m.data["disposition"]
    return (
        lambda: recorder.edit_encounter(m.entity_id, disposition=before),
        lambda: recorder.edit_encounter(m.entity_id, disposition=again),
    )


def _take_back_referral(recorder: Recorder, m: Mutation) -> tuple[Callable, Callable]:
    data = m.data
    return (
        lambda: recorder.update_referral(
            m.entity_id, status=REFERRAL_TAKEN_BACK, note=TAKEN_BACK_NOTE
        ),
        # A closed referral stays closed: undoing the take-back makes the referral again.
        lambda: recorder.refer(
            data["encounter"], data["service"], consent=data["consent"], note=data.get("note", "")
        ),
    )


def _take_back_service(recorder: Recorder, m: Mutation) -> tuple[Callable, Callable]:
    data = m.data
    return (
        lambda: recorder.remove_service(m.entity_id),
        # Given after all: logged again (a new record; the removal stays in the audit).
        lambda: recorder.log_service(data["encounter"], data["service"], note=data.get("note", "")),
    )


TAKE_BACK = {
    "service.create": _take_back_service,
    "naloxone.update": _take_back_naloxone,
    "encounter.upsert": _take_back_disposition,
    "referral.create": _take_back_referral,
}


class TapGuard:
    """Ignores a tap on a control that appeared, moved or changed its words within
    `TAP_GUARD_SECONDS`: that finger was aimed at what was there before. A control that stayed
    put takes its taps at once, however much else on the screen changed."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.places: dict[str, tuple] = {}
        self.changed_at: dict[str, float] = {}

    def laid_out(self, places: dict[str, tuple]) -> None:
        """What each control offers and where, on screen now (its words and its box)."""
        now = self.clock()
        for control, place in places.items():
            if self.places.get(control) != place:
                self.changed_at[control] = now
        self.places = dict(places)

    def allows(self, control: str) -> bool:
        """Whether a tap on `control` now counts."""
        changed = self.changed_at.get(control)
        return changed is None or self.clock() - changed >= TAP_GUARD_SECONDS
