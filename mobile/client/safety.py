"""The tablet's safety rules: the emergency button, on-scene check-ins, police backup, and the
responder's shift and duty status. No Kivy here: the screens only render what this decides.

An emergency is put in the outbox, ahead of every other queued change (`Store.pending` takes
`emergency.start` first), and sent at once: over the live feed's socket when it is open (no new
connection to make), else, or when the socket gives no acceptance within a couple of seconds,
over HTTP. Whichever path the server acknowledges marks the outbox entry done; when neither
does, the outbox sends it first as soon as there is a network. The server knows the id: one
press is one emergency, however many ways it arrives.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mobile.client import api
from mobile.client.contract import SAFETY_EVENTS
from mobile.client.store import DONE, Store, iso, now
from mobile.client.vocabulary import (
    CLOSED_ASSIGNMENT_STATUSES,
    UNIT_KIND_OF_ROLE,
    AssignmentStatus,
    UnitKind,
)

EMERGENCY_HOLD_SECONDS = 2.0  # the protocol may say otherwise (`emergency_hold_seconds`)
DEFAULT_CHECK_IN_MINUTES = 20
DEFAULT_GRACE_MINUTES = 2
# How long the socket has to accept an emergency before HTTP is tried: a live socket answers
# within a fraction of a second; one that does not is half-dead, and HTTP may yet get through.
EMERGENCY_SOCKET_SECONDS = 2.0

# The live feed's emergency sender: (the emergency's body, deadline seconds) -> the emergency as
# the server stored it, or None when the socket is down, refused it or did not answer in time.
LiveSender = Callable[[dict[str, Any], float], dict[str, Any] | None]


class HoldToSend:
    """Press and hold: the emergency is sent only once the button was held long enough, so a
    brushed screen sends nothing. Times are monotonic seconds, given by the caller."""

    def __init__(self, hold_seconds: float = EMERGENCY_HOLD_SECONDS):
        self.hold_seconds = hold_seconds
        self.pressed_at: float | None = None
        self.fired = False

    def press(self, at: float) -> None:
        self.pressed_at, self.fired = at, False

    def progress(self, at: float) -> float:
        """0..1 while held, for the ring the button draws."""
        if self.pressed_at is None:
            return 0.0
        return min(1.0, max(0.0, (at - self.pressed_at) / self.hold_seconds))

    def tick(self, at: float) -> bool:
        """True exactly once, at the moment the hold is long enough."""
        if self.pressed_at is None or self.fired:
            return False
        if at - self.pressed_at >= self.hold_seconds:
            self.fired = True
            return True
        return False

    def release(self, at: float) -> bool:
        """Let go: True if this release completes a hold that had not fired yet."""
        fire = self.tick(at)
        self.pressed_at = None
        return fire


@dataclass(frozen=True)
class EmergencyView:
    """What the emergency banner says."""

    id: str
    sent: bool  # the server has it (the socket or HTTP answered, or the queue delivered it)
    acknowledged: bool
    ended: bool
    realerted: bool = False

    @property
    def message(self) -> str:
        if self.ended:
            return "Emergency ended."
        if self.realerted:
            return "Emergency still open: everyone alerted again."
        if self.acknowledged:
            return "Dispatch has your alert."
        if self.sent:
            return "Emergency sent. Waiting for dispatch…"
        return "Emergency queued: it goes first as soon as there is a network."


def check_in_due(
    assignment: dict[str, Any],
    *,
    last_answer: str | None,
    minutes: int = DEFAULT_CHECK_IN_MINUTES,
) -> datetime.datetime | None:
    """When "All OK?" is next asked: only while CARE is on scene and no officer is still on the
    call; counted from arrival, the officers' clearing, or the last answer, whichever is latest."""
    if (
        assignment.get("kind") != UnitKind.CARE
        or assignment.get("status") != AssignmentStatus.ON_SCENE
    ):
        return None
    partners = assignment.get("partners") or []
    officers = [p for p in partners if p.get("kind") == UnitKind.SPD]
    if any(p.get("status") not in CLOSED_ASSIGNMENT_STATUSES for p in officers):
        return None
    marks = [assignment.get("on_scene_at"), last_answer]
    marks += [p.get("cleared_at") for p in officers]
    times = [datetime.datetime.fromisoformat(m) for m in marks if m]
    if not times:
        return None
    return max(times) + datetime.timedelta(minutes=minutes)


class Safety:
    """The tablet's safety actions, over the store, the API client and the sync engine."""

    def __init__(
        self,
        store: Store,
        client: api.ApiClient,
        *,
        nudge=lambda: None,
        live: LiveSender | None = None,
    ):
        self.store = store
        self.client = client
        self.nudge = nudge
        self.live = live
        self.socket_seconds = EMERGENCY_SOCKET_SECONDS

    # ---- kept state ----------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return self.store.get_setting("safety", {})

    def _save(self, **changes: Any) -> None:
        self.store.set_settings(safety={**self.state(), **changes})

    @staticmethod
    def _save_in(db: sqlite3.Connection, state: dict[str, Any]) -> None:
        db.execute(
            "INSERT INTO settings (key, value) VALUES ('safety', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (json.dumps(state),),
        )

    def take_event(self, db: sqlite3.Connection, kind: str, data: dict[str, Any]) -> None:
        """A feed event on this unit's stream (called inside the sync engine's transaction)."""
        if kind not in SAFETY_EVENTS:
            return
        row = db.execute("SELECT value FROM settings WHERE key = 'safety'").fetchone()
        state = json.loads(row[0]) if row else {}
        mine = state.get("emergency") or {}
        nearby = state.get("nearby_alert") or {}
        if kind == "emergency.ended" and nearby.get("id") == data.get("id"):
            state["nearby_alert"] = None
        if kind.startswith("emergency.") and kind != "emergency.alert":
            if mine.get("id") == data.get("id"):
                mine.update(
                    sent=True,
                    acknowledged=bool(data.get("acknowledged_at")),
                    ended=bool(data.get("ended_at")),
                )
                state["emergency"] = mine
        elif kind == "emergency.alert":
            state["nearby_alert"] = data
        elif kind == "check_in.answered":
            answers = state.setdefault("check_ins", {})
            previous = answers.get(data.get("assignment"))
            if previous is None or data.get("at", "") > previous:
                answers[data["assignment"]] = data.get("at")
        elif kind in ("backup.requested", "backup.sent"):
            state.setdefault("backup", {})[data.get("assignment")] = data
        elif kind == "unit.updated":
            state["unit"] = data
        self._save_in(db, state)

    # ---- the emergency button ------------------------------------------------------------

    def emergency(self) -> EmergencyView | None:
        held = self.state().get("emergency")
        if not held:
            return None
        return EmergencyView(
            id=held["id"],
            sent=bool(held.get("sent")),
            acknowledged=bool(held.get("acknowledged")),
            ended=bool(held.get("ended")),
            realerted=bool(held.get("realerted")),
        )

    def send_emergency(
        self, *, unit: int, latitude: float | None = None, longitude: float | None = None
    ) -> EmergencyView:
        """Queue the emergency (first in line), then send it at once: over the open socket,
        else over HTTP; the queue is left to try again only if neither took it."""
        emergency_id = str(uuid.uuid4())
        held = self.emergency()
        open_before = held is not None and not held.ended
        started = now()
        data: dict[str, Any] = {"unit": unit}
        if latitude is not None and longitude is not None:
            data.update(latitude=latitude, longitude=longitude)
        with self.store.transaction() as db:
            queued = Store.enqueue(
                db, type="emergency.start", entity_id=emergency_id, data=data, occurred_at=started
            )
            state = self.state()
            if not open_before:
                state["emergency"] = {"id": emergency_id, "sent": False, "mutation": queued.id}
            self._save_in(db, state)
        body = {"id": emergency_id, "started_at": iso(started), **data}
        stored = self._sent_over_socket(body) or self._sent_over_http(body)
        if stored is None:
            self.nudge()  # the queue tries again, ahead of everything else
            return self.emergency()
        with self.store.transaction() as db:
            self.store.finish(db, queued.id, DONE)
            state = self.state()
            # The unit's open emergency, if it had one: the server alerted everyone again to
            # that one, and it is the one the PIN ends.
            state["emergency"].update(
                id=str(stored.get("id") or emergency_id),
                sent=True,
                acknowledged=bool(stored.get("acknowledged_at")),
                realerted=bool(stored.get("realerted_at")) or open_before,
            )
            self._save_in(db, state)
        return self.emergency()

    def _sent_over_socket(self, body: dict[str, Any]) -> dict[str, Any] | None:
        return self.live(body, self.socket_seconds) if self.live is not None else None

    def _sent_over_http(self, body: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return self.client.post("emergencies", body, timeout=5) or {"id": body["id"]}
        except (api.Offline, api.ApiError):
            return None

    def end_emergency(self, *, pin_ok: bool) -> EmergencyView | None:
        """End it once the responder's PIN was checked on this tablet (the screen checks it)."""
        view = self.emergency()
        if view is None or not pin_ok:
            return view
        with self.store.transaction() as db:
            Store.enqueue(
                db,
                type="emergency.end",
                entity_id=view.id,
                data={"pin_verified": True},
                occurred_at=now(),
            )
            state = self.state()
            state["emergency"]["ended"] = True
            self._save_in(db, state)
        self.nudge()
        return self.emergency()

    def nearby_alert(self) -> str:
        """Another unit's emergency this unit was alerted to (an SPD tablet), in words."""
        alert = self.state().get("nearby_alert")
        if not alert:
            return ""
        where = (alert.get("incident") or {}).get("address") or "see dispatch"
        return f"EMERGENCY: {alert.get('call_sign', 'a unit')} needs help — {where}."

    def forget_ended_emergency(self) -> None:
        view = self.emergency()
        if view is not None and view.ended:
            self._save(emergency=None)

    # ---- check-ins -----------------------------------------------------------------------

    def check_in_due(self, assignment: dict[str, Any]) -> datetime.datetime | None:
        protocol = self.store.protocol()
        return check_in_due(
            assignment,
            last_answer=self.state().get("check_ins", {}).get(str(assignment.get("id"))),
            minutes=protocol.get("check_in_minutes", DEFAULT_CHECK_IN_MINUTES),
        )

    def check_in_asked(self, assignment: dict[str, Any], at: datetime.datetime | None = None):
        """Whether the "All OK?" prompt shows now."""
        due = self.check_in_due(assignment)
        return due is not None and (at or now()) >= due

    def answer_check_in(self, assignment_id: str) -> None:
        """One tap: counted at this tablet's time, even if it syncs later."""
        answered = now()
        with self.store.transaction() as db:
            Store.enqueue(
                db,
                type="check_in.create",
                entity_id=assignment_id,
                data={"id": str(uuid.uuid4())},
                occurred_at=answered,
            )
            state = self.state()
            state.setdefault("check_ins", {})[assignment_id] = iso(answered)
            self._save_in(db, state)
        self.nudge()

    # ---- police backup -------------------------------------------------------------------

    def request_backup(self, assignment_id: str, *, urgent: bool, reason: str | None) -> None:
        data: dict[str, Any] = {"id": str(uuid.uuid4()), "urgent": urgent}
        if reason:
            data["reason"] = reason
        with self.store.transaction() as db:
            Store.enqueue(
                db, type="backup.request", entity_id=assignment_id, data=data, occurred_at=now()
            )
        self.nudge()

    # ---- shift and duty status (online: the board and dispatch need them now) --------------

    def units_to_sign_on(self) -> list[dict]:
        """The units of this responder's kind (a CARE responder rides CARE teams only)."""
        role = (self.store.get_setting("user") or {}).get("role")
        kind = UNIT_KIND_OF_ROLE.get(role)
        return [u for u in self.client.units() if u.get("kind") == kind]

    def sign_on(self, *, unit: int, partner: int | None = None, vehicle: str = "") -> dict:
        body: dict[str, Any] = {"unit": unit, "vehicle": vehicle}
        if partner:
            body["partner"] = partner
        shift = self.client.post("shifts", body)
        self._save(shift=shift)
        user = self.store.get_setting("user") or {}
        # The unit this tablet now rides with: its emergency and duty status are that unit's.
        user["unit"] = {
            **(user.get("unit") or {}),
            "id": shift["unit"],
            "call_sign": shift["call_sign"],
        }
        self.store.set_settings(user=user)
        return shift

    def sign_off(self) -> dict | None:
        shift = self.state().get("shift")
        if not shift:
            return None
        ended = self.client.post(f"shifts/{shift['id']}/end")
        self._save(shift=None)
        return ended

    def set_duty_status(self, unit: int, status: str) -> dict:
        answer = self.client.post(f"units/{unit}/duty-status", {"status": status, "at": iso(now())})
        self._save(unit=answer)
        return answer
