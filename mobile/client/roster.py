"""Which units this responder may sign on to today, and asking a supervisor for the others.
No Kivy: the Shift sheet only renders what this decides.

The roster is the server's: a responder reads their own entries for the server's today
(`GET /api/v1/rosters`) and their own sign-on requests (`GET /api/v1/sign-on-requests?day=today`).
The tablet keeps the last copy in its store, so the sheet shows it at once, and the feed keeps it
current: `roster.updated` and `sign_on_request.updated` reach the person's own stream, so a
supervisor's approval on the board lets the responder sign on without a refresh.

Asking needs a connection. A request is for a supervisor to answer now, and the offline push has
no such command (`server/sync/push.py` takes the call's records and the safety actions only): a
request queued in the outbox while the responder waits at the station would be a request nobody
knows of. Offline, asking says so plainly and changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from mobile.client import api
from mobile.client.contract import ROSTER_EVENTS
from mobile.client.store import Store
from mobile.client.vocabulary import UNIT_KIND_OF_ROLE, SignOnRequestStatus

NOT_ROSTERED = "not_rostered"  # the server's code for a sign-on to a unit not rostered today

# What a unit's row offers the responder.
SIGN_ON = "sign_on"  # on its roster today: sign on directly
SIGNED_ON = "signed_on"  # riding it now
ASK = "ask"  # not on its roster: ask a supervisor
WAITING = "waiting"  # asked; no answer yet
DECLINED = "declined"  # a supervisor said no (for today)


class NeedsConnection(Exception):
    """Asking a supervisor was tried without a network: nothing was sent or kept."""


@dataclass(frozen=True)
class UnitStanding:
    """One unit's row in the Shift sheet: the responder's standing on it today."""

    id: int
    call_sign: str
    offer: str
    approved: bool = False  # on the roster because a supervisor approved a request

    @property
    def note(self) -> str:
        """A few words beside the call sign in the unit list."""
        return {
            SIGN_ON: "approved: sign on" if self.approved else "on your roster today",
            SIGNED_ON: "signed on",
            ASK: "not on your roster today",
            WAITING: "asked, waiting for a supervisor",
            DECLINED: "a supervisor declined",
        }[self.offer]

    @property
    def action(self) -> str:
        """The words on the button beside the unit."""
        return {ASK: "Ask a supervisor", WAITING: "Asked", DECLINED: "Declined"}.get(
            self.offer, "Sign on"
        )

    @property
    def option(self) -> str:
        """The unit list's row: the call sign, then its standing."""
        return f"{self.call_sign} · {self.note}"

    @property
    def words(self) -> str:
        """The sentence under the chosen unit."""
        sign = self.call_sign
        return {
            SIGN_ON: (
                f"A supervisor approved you on {sign} today: sign on."
                if self.approved
                else f"You are on {sign}'s roster today: sign on."
            ),
            SIGNED_ON: f"Signed on to {sign}.",
            ASK: f"You are not on {sign}'s roster today: ask a supervisor to approve.",
            WAITING: f"Asked — waiting for a supervisor to approve you on {sign}.",
            DECLINED: f"A supervisor declined your request to ride {sign} today.",
        }[self.offer]


def call_sign_of(option: str) -> str:
    """The call sign in a unit list row ("CARE-1 · on your roster today" -> "CARE-1")."""
    return option.split(" · ", 1)[0].strip()


class Roster:
    """The responder's roster and sign-on requests for today, kept in the store."""

    def __init__(self, store: Store, client: api.ApiClient):
        self.store = store
        self.client = client

    # ---- kept state ----------------------------------------------------------------------

    def _me(self) -> int | None:
        return (self.store.get_setting("user") or {}).get("id")

    def state(self) -> dict[str, Any]:
        """The kept copy, if it is the signed-in person's (a shared tablet keeps no one
        else's roster on show)."""
        state = self.store.get_setting("roster", {}) or {}
        return state if state.get("user") == self._me() else {}

    def _kind(self) -> str | None:
        return UNIT_KIND_OF_ROLE.get((self.store.get_setting("user") or {}).get("role"))

    def _riding(self) -> int | None:
        """The unit this tablet is signed on to, if any (the safety rules keep the shift)."""
        shift = (self.store.get_setting("safety") or {}).get("shift") or {}
        return shift.get("unit")

    # ---- reading -------------------------------------------------------------------------

    def load(self) -> list[UnitStanding]:
        """Fetch the units, this person's roster and requests for today (needs a network)."""
        kind = self._kind()
        units = [
            {"id": u["id"], "call_sign": u["call_sign"]}
            for u in self.client.units()
            if u.get("kind") == kind
        ]
        entries = self.client.get("rosters", {"day": "today"})
        requests = self.client.get("sign-on-requests", {"day": "today"})
        me = self._me()
        self.store.set_settings(
            roster={
                "user": me,
                "units": units,
                # An answer about the person's own standing only, whatever else it holds.
                "entries": [e for e in entries if me is None or e.get("user") == me],
                "requests": [r for r in requests if me is None or r.get("user") == me],
            }
        )
        return self.standings()

    def standings(self) -> list[UnitStanding]:
        """Each unit of the responder's kind, by call sign, with their standing on it."""
        state = self.state()
        return [
            self._standing(state, unit)
            for unit in sorted(state.get("units", []), key=lambda u: u["call_sign"])
        ]

    def standing(self, unit_id: int | None = None, *, call_sign: str = "") -> UnitStanding | None:
        for row in self.standings():
            if row.id == unit_id or (call_sign and row.call_sign == call_sign):
                return row
        return None

    def _standing(self, state: dict[str, Any], unit: dict[str, Any]) -> UnitStanding:
        unit_id = unit["id"]
        entries = [
            e for e in state.get("entries", []) if e["unit"] == unit_id and not e.get("cancelled")
        ]
        asked = [r for r in state.get("requests", []) if r["unit"] == unit_id]
        latest = max(asked, key=lambda r: r.get("requested_at") or "", default=None)
        approved = latest is not None and latest.get("status") == SignOnRequestStatus.APPROVED
        if self._riding() == unit_id:
            offer = SIGNED_ON
        elif entries:
            offer = SIGN_ON
        elif latest is None:
            offer = ASK
        elif latest.get("status") == SignOnRequestStatus.PENDING:
            offer = WAITING
        elif latest.get("status") == SignOnRequestStatus.DECLINED:
            offer = DECLINED
        else:  # approved, but the roster entry it made has not reached the tablet yet
            offer = SIGN_ON
        return UnitStanding(unit_id, unit["call_sign"], offer, approved=approved)

    # ---- asking --------------------------------------------------------------------------

    def ask(self, unit_id: int, reason: str = "") -> UnitStanding | None:
        """Ask a supervisor to approve this responder on a unit today. Needs a connection: it
        raises `NeedsConnection` offline, and `api.ApiError` when the server refuses (already
        rostered, already asked: the kept copy is fetched again so the row tells the truth)."""
        try:
            made = self.client.post("sign-on-requests", {"unit": unit_id, "reason": reason})
        except api.Offline as exc:
            raise NeedsConnection(
                "Asking a supervisor needs a connection: nothing was sent. "
                "Try again when the tablet is online, or call dispatch by radio."
            ) from exc
        except api.Refused:
            self._reload_quietly()
            raise
        self._keep_request(made)
        return self.standing(unit_id)

    def refused_sign_on(self, unit_id: int) -> UnitStanding | None:
        """The server refused a sign-on as not rostered: the kept roster was out of date."""
        state = {**self.state(), "user": self._me()}
        state["entries"] = [e for e in state.get("entries", []) if e["unit"] != unit_id]
        self.store.set_settings(roster=state)
        self._reload_quietly()
        return self.standing(unit_id)

    def _reload_quietly(self) -> None:
        # Offline or refused, the kept copy stays; the next open of the sheet fetches it again.
        with contextlib.suppress(api.ApiError):
            self.load()

    def _keep_request(self, request: dict[str, Any]) -> None:
        state = {**self.state(), "user": self._me()}
        state["requests"] = [
            r for r in state.get("requests", []) if r.get("id") != request.get("id")
        ] + [request]
        self.store.set_settings(roster=state)

    # ---- the feed ------------------------------------------------------------------------

    def take_event(self, db: sqlite3.Connection, kind: str, data: dict[str, Any]) -> None:
        """A roster change or a request's answer on the person's own stream (called inside the
        sync engine's transaction, like the safety rules)."""
        if kind not in ROSTER_EVENTS:
            return
        me = self._me()
        if me is not None and data.get("user") != me:
            return
        row = db.execute("SELECT value FROM settings WHERE key = 'roster'").fetchone()
        state = json.loads(row[0]) if row else {}
        if state.get("user") != me:
            state = {"user": me}
        key = "entries" if kind == "roster.updated" else "requests"
        state[key] = [r for r in state.get(key, []) if r.get("id") != data.get("id")] + [data]
        db.execute(
            "INSERT INTO settings (key, value) VALUES ('roster', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (json.dumps(state),),
        )
