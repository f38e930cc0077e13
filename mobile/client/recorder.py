"""What the screens call to record the work of a call, with or without a network.

Each call changes the tablet's view and queues the outbox mutation that carries it to the server
in ONE store transaction, then nudges the sync engine. The allowed assignment transitions come from
the server's protocol (cached in the store); the tablet keeps no table of its own.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from typing import Any

from mobile.client.store import Store, iso, now


class NotAllowed(Exception):
    """The protocol does not allow this from here; the message says why, for the responder."""


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
        if assignment["kind"] != "care":
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

    def log_naloxone(
        self,
        encounter_id: str,
        *,
        dose_mg: float = 4,
        doses: int = 1,
        route: str = "intranasal",
        response: str = "unknown",
        ems_called: bool = False,
        at: datetime.datetime | None = None,
    ) -> str:
        """One tap: a dose given now. Details can be corrected later."""
        return self._accumulate(
            "naloxone",
            encounter_id,
            at,
            {
                "dose_mg": str(dose_mg),
                "doses": doses,
                "route": route,
                "response": response,
                "ems_called": ems_called,
            },
        )

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
