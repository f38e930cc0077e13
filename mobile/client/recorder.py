"""What the screens call to record the work of a call, with or without a network.

Each call changes the tablet's view and queues the outbox mutation that carries it to the server
in ONE store transaction, then nudges the sync engine. The allowed assignment transitions come from
the server's protocol (cached in the store); the tablet keeps no table of its own.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Callable
from typing import Any

from mobile.client.store import Store, iso, now, parse_time
from mobile.client.vocabulary import ReferralStatus, UnitKind


class NotAllowed(Exception):
    """The protocol does not allow this from here; the message says why, for the responder."""


# A second naloxone dose follows the first by two or three minutes; a second tap within a minute
# is far more often the same dose tapped twice, and every dose is a public figure, so the tablet
# asks before recording it.
REPEAT_DOSE_SECONDS = 60


class RepeatDose(NotAllowed):
    """A dose is already recorded on this encounter less than `REPEAT_DOSE_SECONDS` ago; record
    another only when the responder confirms (`another_dose=True`)."""


# What a dose correction may change; the server's `naloxone.update` takes exactly these.
NALOXONE_EDITABLE = ("dose_mg", "doses", "route", "response", "ems_called")
# Only until the first protocol load: the server publishes its limits in `GET /api/v1/protocol`
# (`limits.naloxone`), and those are the ones checked.
FALLBACK_NALOXONE_LIMITS = {"dose_mg_max": 16, "doses_min": 1, "doses_max": 10}


def naloxone_limits(protocol: dict[str, Any]) -> dict[str, Any]:
    """The server's naloxone limits, from the cached protocol; the fallback before it is loaded."""
    published = (protocol.get("limits") or {}).get("naloxone") or {}
    older = (protocol.get("naloxone") or {}).get("max_dose_mg")
    limits = dict(FALLBACK_NALOXONE_LIMITS)
    if older is not None:
        limits["dose_mg_max"] = older
    limits.update({k: v for k, v in published.items() if v is not None})
    return limits


class Recorder:
    def __init__(self, store: Store, *, on_change: Callable[[], None] | None = None):
        self.store = store
        # The sync engine's nudge: recording never waits for the network.
        self.on_change = on_change or (lambda: None)

    # ---- assignments -----------------------------------------------------------------------

    def allowed_next(self, assignment_id: str) -> list[str]:
        """The states this assignment may move to, per the cached protocol."""
        assignment = self._assignment(assignment_id)
        protocol = self.store.protocol()
        table = protocol.get("transitions", {}).get(assignment["kind"], {})
        role = (self.store.get_setting("user") or {}).get("role")
        actors = protocol.get("transition_actors", {})
        # Only the moves this person's role may make (a responder never cancels a call).
        return [to for to in table.get(assignment["status"], []) if role in actors.get(to, [role])]

    def transition(
        self,
        assignment_id: str,
        to: str,
        *,
        note: str = "",
        at: datetime.datetime | None = None,
    ) -> str:
        """Move an assignment (acknowledged, en route, on scene, scene safe, cleared...)."""
        assignment = self._assignment(assignment_id)
        if to not in self.allowed_next(assignment_id):
            raise NotAllowed(
                f"A {assignment['kind']} assignment that is {assignment['status']} "
                f"cannot become {to}."
            )
        at = at or now()
        with self.store.transaction() as db:
            mutation = self.store.enqueue(
                db,
                type="assignment.transition",
                entity_id=assignment["id"],
                base_version=assignment.get("version"),
                occurred_at=at,
                data={"to": to, "note": note},
            )
            self.store.put_assignment(db, {**assignment, "status": to})
        self.on_change()
        return mutation.id

    def _assignment(self, assignment_id: str) -> dict[str, Any]:
        assignment = self.store.assignment(str(assignment_id))
        if assignment is None:
            raise NotAllowed("This assignment is not on this tablet.")
        return assignment

    # ---- the encounter -----------------------------------------------------------------------

    def open_encounter(
        self, assignment_id: str, *, at: datetime.datetime | None = None, **fields: Any
    ) -> str:
        """Start the encounter for a CARE assignment (once); returns its id."""
        assignment = self._assignment(assignment_id)
        if assignment["kind"] != UnitKind.CARE:
            raise NotAllowed("Only a CARE unit records encounters.")
        existing = self.store.encounter_for(assignment["id"])
        if existing is not None:
            if fields:
                self.edit_encounter(existing["id"], **fields)
            return existing["id"]
        at = at or now()
        encounter_id = str(uuid.uuid4())
        view = {"id": encounter_id, "assignment": assignment["id"], "started_at": iso(at)}
        view.update(fields)
        with self.store.transaction() as db:
            self.store.enqueue(
                db,
                type="encounter.upsert",
                entity_id=encounter_id,
                occurred_at=at,
                data={"assignment": assignment["id"], "started_at": iso(at), **fields},
            )
            self.store.put_record(db, "encounter", view, parent=assignment["id"], synced=False)
        self.on_change()
        return encounter_id

    def edit_encounter(
        self, encounter_id: str, *, at: datetime.datetime | None = None, **fields: Any
    ) -> str:
        """Change summary fields (people contacted, initials, disposition, notes)."""
        encounter = self._encounter(encounter_id)
        at = at or now()
        with self.store.transaction() as db:
            mutation = self.store.enqueue(
                db,
                type="encounter.upsert",
                entity_id=encounter_id,
                # The version this edit saw; the server merges field by field from it.
                base_version=encounter.get("version"),
                occurred_at=at,
                data={"assignment": encounter["assignment"], **fields},
            )
            self.store.put_record(
                db,
                "encounter",
                {**encounter, **fields},
                parent=encounter["assignment"],
                synced=False,
            )
        self.on_change()
        return mutation.id

    def _encounter(self, encounter_id: str) -> dict[str, Any]:
        encounter = self.store.record(str(encounter_id))
        if encounter is None:
            raise NotAllowed("This encounter is not on this tablet.")
        return encounter

    # ---- records that only accumulate ----------------------------------------------------

    def _accumulate(
        self, kind: str, encounter_id: str, at: datetime.datetime | None, data: dict[str, Any]
    ) -> str:
        self._encounter(encounter_id)
        at = at or now()
        record_id = str(uuid.uuid4())
        body = {"encounter": str(encounter_id), **data}
        with self.store.transaction() as db:
            self.store.enqueue(
                db, type=f"{kind}.create", entity_id=record_id, occurred_at=at, data=body
            )
            self.store.put_record(
                db,
                kind,
                {"id": record_id, "occurred_at": iso(at), **body},
                parent=str(encounter_id),
                synced=False,
            )
        self.on_change()
        return record_id

    def log_service(
        self,
        encounter_id: str,
        service: str,
        *,
        note: str = "",
        at: datetime.datetime | None = None,
    ) -> str:
        return self._accumulate("service", encounter_id, at, {"service": service, "note": note})

    def remove_service(self, service_id: str, *, at: datetime.datetime | None = None) -> str:
        """Take a service logged by mistake off its encounter: one more queued change (the
        server keeps the removal in its audit), and the tablet stops showing it at once."""
        if self.store.record(str(service_id)) is None:
            raise NotAllowed("This service is not on this tablet.")
        return self._take_off("service.remove", str(service_id), at)

    def remove_naloxone(self, record_id: str, *, at: datetime.datetime | None = None) -> str:
        """Take a dose recorded by mistake (a "Naloxone given now" tapped in error) off its
        encounter, as a service is taken off: queued, audited on the server, gone here now."""
        if self.store.record(str(record_id)) is None:
            raise NotAllowed("This dose is not on this tablet.")
        return self._take_off("naloxone.remove", str(record_id), at)

    def _take_off(self, removal: str, record_id: str, at: datetime.datetime | None) -> str:
        with self.store.transaction() as db:
            mutation = self.store.enqueue(
                db, type=removal, entity_id=record_id, occurred_at=at or now(), data={}
            )
            self.store.drop_record(db, record_id)
        self.on_change()
        return mutation.id

    def log_naloxone(
        self,
        encounter_id: str,
        *,
        dose_mg: float | str | None = None,
        doses: int = 1,
        route: str | None = None,
        response: str = "unknown",
        ems_called: bool = False,
        at: datetime.datetime | None = None,
        another_dose: bool = False,
    ) -> str:
        """One tap: the time of a dose given now. Its dose and route stay "not yet recorded"
        (None) until someone chooses them: nothing clinical is assumed. Raises `RepeatDose` when
        a dose was recorded within the last minute, unless the responder confirmed it."""
        at = at or now()
        if not another_dose:
            self._refuse_repeat_dose(encounter_id, at)
        chosen = self._naloxone_changes(
            {
                k: v
                for k, v in (("dose_mg", dose_mg), ("route", route), ("response", response))
                if v not in (None, "unknown")  # "unknown": the response is not yet known
            }
            | {"doses": doses}
        )
        return self._accumulate(
            "naloxone",
            encounter_id,
            at,
            {
                "dose_mg": chosen.get("dose_mg"),
                "doses": chosen["doses"],
                "route": chosen.get("route"),
                "response": chosen.get("response", "unknown"),
                "ems_called": bool(ems_called),
            },
        )

    def _refuse_repeat_dose(self, encounter_id: str, at: datetime.datetime) -> None:
        times = [
            parse_time(r.get("occurred_at") or r.get("administered_at"))
            for r in self.store.records("naloxone", parent=str(encounter_id))
        ]
        ago = [abs((at - t).total_seconds()) for t in times if t is not None]
        if ago and min(ago) < REPEAT_DOSE_SECONDS:
            raise RepeatDose(f"A dose was recorded {round(min(ago))} s ago. Record another dose?")

    def refer(
        self,
        encounter_id: str,
        service: int | str,
        *,
        consent: bool,
        note: str = "",
        at: datetime.datetime | None = None,
    ) -> str:
        return self._accumulate(
            "referral", encounter_id, at, {"service": service, "consent": consent, "note": note}
        )

    def survey(
        self,
        encounter_id: str,
        answers: dict[str, int],
        *,
        consent: bool = True,
        comment: str = "",
        at: datetime.datetime | None = None,
    ) -> str:
        return self._accumulate(
            "survey",
            encounter_id,
            at,
            {"consent": consent, "answers": answers, "comment": comment},
        )

    # ---- corrections -------------------------------------------------------------------------

    def correct_naloxone(
        self, record_id: str, *, at: datetime.datetime | None = None, **changes: Any
    ) -> str:
        """Correct a logged dose (dose in mg, doses, route, response, EMS called); checked
        against the protocol's catalog the way the server checks it."""
        record = self.store.record(str(record_id))
        if record is None:
            raise NotAllowed("This dose is not on this tablet.")
        changes = self._naloxone_changes(changes)
        with self.store.transaction() as db:
            mutation = self.store.enqueue(
                db,
                type="naloxone.update",
                entity_id=str(record_id),
                occurred_at=at or now(),
                data=changes,
            )
            self.store.put_record(
                db, "naloxone", {**record, **changes}, parent=record["encounter"], synced=False
            )
        self.on_change()
        return mutation.id

    def _naloxone_changes(self, changes: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(changes) - set(NALOXONE_EDITABLE))
        if unknown or not changes:
            raise NotAllowed(
                f"A dose correction changes {', '.join(NALOXONE_EDITABLE)}"
                + (f", not {', '.join(unknown)}." if unknown else ".")
            )
        protocol = self.store.protocol()
        catalog = protocol.get("naloxone", {})
        limits = naloxone_limits(protocol)
        checked = dict(changes)
        # None takes a dose or route back to "not yet recorded".
        if checked.get("dose_mg") is not None:
            checked["dose_mg"] = self._dose_mg(checked["dose_mg"], limits["dose_mg_max"])
        fewest, most = limits["doses_min"], limits["doses_max"]
        if "doses" in checked and not (
            isinstance(checked["doses"], int)
            and not isinstance(checked["doses"], bool)
            and fewest <= checked["doses"] <= most
        ):
            raise NotAllowed(f"Between {fewest} and {most} doses.")
        for field, kinds in (("route", "routes"), ("response", "responses")):
            choices = catalog.get(kinds)
            if field == "route" and checked.get(field, "") is None:
                continue
            if field in checked and choices and checked[field] not in choices:
                raise NotAllowed(f"The {field} is one of {', '.join(choices)}.")
        if "ems_called" in checked:
            checked["ems_called"] = bool(checked["ems_called"])
        return checked

    @staticmethod
    def _dose_mg(value: Any, most: Any) -> str:
        """The dose as the server's decimal takes it (two places), within the server's limit."""
        ceiling = decimal.Decimal(str(most))
        try:
            dose = decimal.Decimal(str(value).strip().replace(",", "."))
        except decimal.InvalidOperation:
            raise NotAllowed("The dose is a number of mg, e.g. 4 or 2.5.") from None
        if not dose.is_finite() or not (0 < dose <= ceiling):
            raise NotAllowed(f"A dose is more than 0 and at most {ceiling} mg.")
        rounded = dose.quantize(decimal.Decimal("0.01"), rounding=decimal.ROUND_HALF_UP)
        if rounded != dose:
            raise NotAllowed("A dose is given to at most two decimal places of a mg.")
        return f"{rounded:f}".rstrip("0").rstrip(".")

    def update_referral(
        self,
        referral_id: str,
        *,
        status: str | None = None,
        note: str = "",
        follow_up_due: datetime.date | None = None,
        at: datetime.datetime | None = None,
    ) -> str:
        """Move a referral along (contacted, declined...), add a note or a follow-up date; the
        next statuses are the protocol's, and the edit carries the version it saw."""
        referral = self.store.record(str(referral_id))
        if referral is None:
            raise NotAllowed("This referral is not on this tablet.")
        current = referral.get("status") or ReferralStatus.MADE
        if status is not None and status != current:
            flow = self.store.protocol().get("referral_statuses", {})
            allowed = flow.get(current, [])
            if status not in allowed:
                raise NotAllowed(
                    f"A referral that is {current} can't become {status}"
                    + (f"; it can become {', '.join(allowed)}." if allowed else "; it is closed.")
                )
        data: dict[str, Any] = {}
        if status is not None and status != current:
            data["status"] = status
        if note.strip():
            data["note"] = note.strip()
        if follow_up_due is not None:
            data["follow_up_due"] = follow_up_due.isoformat()
        if not data:
            raise NotAllowed("Change the status, add a note, or set a follow-up date.")
        # The note goes into the referral's history on the server, not onto the referral.
        view = {**referral, **{k: v for k, v in data.items() if k != "note"}}
        with self.store.transaction() as db:
            mutation = self.store.enqueue(
                db,
                type="referral.update",
                entity_id=str(referral_id),
                base_version=referral.get("version"),
                occurred_at=at or now(),
                data=data,
            )
            self.store.put_record(db, "referral", view, parent=referral["encounter"], synced=False)
        self.on_change()
        return mutation.id
