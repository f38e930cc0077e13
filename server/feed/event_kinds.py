"""Every change-feed event kind, declared once: what it says, which stream audiences hear it, and
the exact keys of its payload for each audience.

`publish_event` refuses a kind not declared here; where `CARE_CHECK_VOCABULARY` is on
(development and the tests) it also refuses a payload whose keys differ from its audience's
shape (a key missing or one too many), so a presenter cannot grow a field on a stream nobody
meant it for. The shapes are JSON Schemas checked with `jsonschema`; they pin names, not values.

The audiences, by stream:

- `dispatch`: the `dispatch` stream (the board: dispatchers and supervisors);
- `crew`: a CARE unit's stream `unit:N` (its responders' tablets; clinical records go here);
- `police`: an SPD unit's stream `unit:N` (officers' tablets: calls and safety, never records);
- `person`: a person's own stream `user:N` (their roster; records of a call they served, once it
  closed: server/dispatch/policies.py `record_streams`);
- `directory`: the services directory every responder reads;
- `referrals`: the coordinators' referral follow-ups.

A unit stream's name does not say whether the unit is CARE or SPD (the feed knows no units), so a
payload on `unit:N` passes when it matches exactly the crew's shape or the police's (whichever
the kind has). Kinds the police never hear (every clinical record) have no police shape; today
the kinds both hear carry the same keys to both, each audience declared on its own so that one
can narrow without the other. Where an action and an event tell of the
same change they share the name (server/audit/actions.py); the kinds are the tablet's wire
vocabulary (mobile/client/contract.py) and are not renamed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

Schema = dict[str, Any]

AUDIENCES = ("dispatch", "crew", "police", "person", "directory", "referrals")


def shape(*keys: str, optional: Iterable[str] = (), **nested: Schema) -> Schema:
    """An object with exactly these keys (`optional` ones may be absent); a nested object or
    list is given by keyword with its own schema."""
    maybe = tuple(optional)
    properties: dict[str, Schema] = {key: {} for key in (*keys, *maybe)}
    properties.update(nested)
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(set(keys) | set(nested)),
        "additionalProperties": False,
    }


def list_of(item: Schema) -> Schema:
    return {"type": "array", "items": item}


def or_null(schema: Schema) -> Schema:
    return {"anyOf": [{"type": "null"}, schema]}


def extended(base: Schema, *keys: str, optional: Iterable[str] = ()) -> Schema:
    """`base` with more keys."""
    maybe = tuple(optional)
    return {
        **base,
        "properties": {**base["properties"], **{key: {} for key in (*keys, *maybe)}},
        "required": sorted({*base["required"], *keys}),
    }


@dataclass(frozen=True)
class EventKind:
    says: str
    shapes: dict[str, Schema]  # audience -> the payload's shape for it
    priority: bool = False  # goes by the priority lane (a responder in trouble; live-feed.md)
    audiences: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        unknown = set(self.shapes) - set(AUDIENCES)
        if unknown:
            raise ValueError(f"{self.says!r}: unknown audiences {sorted(unknown)}")
        object.__setattr__(self, "audiences", tuple(self.shapes))


def _same(schema: Schema, *audiences: str) -> dict[str, Schema]:
    return dict.fromkeys(audiences, schema)


# ---- the shapes (the presenters that make them: server/dispatch/presenters.py,
# server/care/presenters.py) --------------------------------------------------------------------

CALL = shape(
    "id", "cad_number", "call_type", "priority", "address", "latitude", "longitude", "beat",
    "narrative", "received_at", "status", "source",
)  # fmt: skip
INCIDENT = extended(CALL, "eligible", "reasons", "recommendation", "response")
PARTNER = shape("assignment", "unit", "call_sign", "kind", "status", "scene_safe_at",
                "safety_note")  # fmt: skip
ASSIGNMENT = shape(
    "id", "unit", "call_sign", "kind", "status", "version", "dispatched_at", "delivered_at",
    "acknowledged_at", "on_scene_at", "scene_safe_at", "cleared_at", "safety_note",
    incident=CALL, partners=list_of(PARTNER),
)  # fmt: skip
ACK_OVERDUE = extended(ASSIGNMENT, "seconds_waiting", "delivered", "message")
POSITION = shape(
    "unit", "call_sign", "kind",
    position=or_null(shape("latitude", "longitude", "accuracy_m", "recorded_at")),
)  # fmt: skip
STAFFING = shape(
    "id", "call_sign", "kind", "duty_status", "duty_status_at",
    signed_on=list_of(shape("user", "username", "since", "vehicle")),
)  # fmt: skip
ROSTER_ENTRY = shape("id", "unit", "call_sign", "user", "username", "first_day", "last_day",
                     "note", "cancelled")  # fmt: skip
SIGN_ON_REQUEST = shape("id", "unit", "call_sign", "user", "username", "day", "reason", "status",
                        "requested_at", "decided_at")  # fmt: skip

# A realert (a second press on an open emergency) says when it came.
EMERGENCY = shape(
    "id", "unit", "call_sign", "kind", "started_at", "latitude", "longitude", "position_at",
    "acknowledged_at", "ended_at", "alerted_units",
    optional=("realerted_at",),
    incident=or_null(shape("id", "cad_number", "address")),
)  # fmt: skip
BACKUP = shape(
    "id", "assignment", "incident", "unit", "call_sign", "cad_number", "address", "urgent",
    "reason", "reason_label", "requested_at", "answered_by", "answered_at",
)  # fmt: skip
BACKUP_SENT = extended(BACKUP, "sent_call_sign")
CHECK_IN = shape("id", "assignment", "at", "recorded_at", "call_sign")
LAPSE = shape("id", "assignment", "unit", "call_sign", "cad_number", "address", "due_at",
              "raised_at", "cleared_at", "message")  # fmt: skip

ENCOUNTER = shape("id", "assignment", "version", "started_at", "people_contacted",
                  "client_initials", "client_birth_year", "disposition", "notes",
                  "before_scene_safe")  # fmt: skip
SERVICE = shape("id", "encounter", "service", "occurred_at", "note", "before_scene_safe")
SERVICE_REMOVAL = shape("id", "encounter", "removed")
NALOXONE = shape("id", "encounter", "administered_at", "doses", "dose_mg", "route", "response",
                 "ems_called", "version", "before_scene_safe")  # fmt: skip
REFERRAL = shape("id", "encounter", "service", "consent", "status", "made_at", "note",
                 "follow_up_due", "version", "before_scene_safe")  # fmt: skip
REFERRAL_FOLLOW_UP = shape(
    "id", "status", "status_label", "version", "follow_up_due",
    update=shape("at", "by", "from_status", "to_status", "note", "follow_up_due"),
)  # fmt: skip
SURVEY = shape("id", "encounter")
# An import tells how many services were added, changed, deactivated and refused; a supervisor's
# edit of one service says only that one changed.
DIRECTORY_CHANGE = shape("changed", optional=("added", "deactivated", "refused"))

# Where each family of kinds goes. Police hear of calls and of a responder in trouble, never of
# a record; a call's records go to its CARE unit's stream while it is open, then to the streams
# of the people who served it.
CALL_AUDIENCES = ("dispatch", "crew", "police")
RECORD_AUDIENCES = ("crew", "person")


EVENT_KINDS: dict[str, EventKind] = {
    # ---- calls and assignments
    "incident.created": EventKind("A call was recorded and screened.", _same(INCIDENT, "dispatch")),
    "incident.updated": EventKind(
        "A call's status, response or location changed.", _same(INCIDENT, "dispatch")
    ),
    "assignment.dispatched": EventKind(
        "A unit was sent to a call (the board and the unit).", _same(ASSIGNMENT, *CALL_AUDIENCES)
    ),
    "assignment.updated": EventKind(
        "An assignment moved through its lifecycle (the board and its unit).",
        _same(ASSIGNMENT, *CALL_AUDIENCES),
    ),
    "assignment.partner_updated": EventKind(
        "The other unit on the call changed (this unit's view of its assignment).",
        _same(ASSIGNMENT, "crew", "police"),
    ),
    "assignment.delivered": EventKind(
        "A unit's tablet received its dispatch.", _same(ASSIGNMENT, "dispatch")
    ),
    "assignment.ack_overdue": EventKind(
        "Nobody acknowledged an assignment in time.", _same(ACK_OVERDUE, "dispatch")
    ),
    # ---- units, rosters and sign-on
    "unit.position": EventKind(
        "A unit's tablet reported where it is (the board only).", _same(POSITION, "dispatch")
    ),
    "unit.updated": EventKind(
        "A unit's duty status or who is signed on to it changed (the board and the unit).",
        _same(STAFFING, "dispatch", "crew", "police"),
    ),
    "roster.updated": EventKind(
        "A person was put on or taken off a unit's roster (the board and the person).",
        _same(ROSTER_ENTRY, "dispatch", "person"),
    ),
    "sign_on_request.updated": EventKind(
        "A request to ride a unit was made or answered (the board and the person).",
        _same(SIGN_ON_REQUEST, "dispatch", "person"),
    ),
    # ---- responder safety (emergency and backup go by the priority lane)
    "emergency.started": EventKind(
        "A responder pressed the emergency button (the board and the unit).",
        _same(EMERGENCY, *CALL_AUDIENCES),
        priority=True,
    ),
    "emergency.acknowledged": EventKind(
        "Dispatch has the emergency (the board, the unit and the SPD units alerted).",
        _same(EMERGENCY, *CALL_AUDIENCES),
        priority=True,
    ),
    "emergency.ended": EventKind(
        "The emergency is over (the board, the unit and the SPD units alerted).",
        _same(EMERGENCY, *CALL_AUDIENCES),
        priority=True,
    ),
    "emergency.alert": EventKind(
        "An SPD unit on the call or nearby is told of another unit's emergency.",
        _same(EMERGENCY, "police"),
        priority=True,
    ),
    "backup.requested": EventKind(
        "A CARE team asked police to come back (the board and the team).",
        _same(BACKUP, "dispatch", "crew"),
        priority=True,
    ),
    "backup.sent": EventKind(
        "An SPD unit was sent back to the call (the board and the CARE team).",
        _same(BACKUP_SENT, "dispatch", "crew"),
        priority=True,
    ),
    "check_in.answered": EventKind(
        "A CARE team answered its on-scene check-in (the board and the team).",
        _same(CHECK_IN, "dispatch", "crew"),
    ),
    "check_in.lapsed": EventKind("A CARE team missed its check-in.", _same(LAPSE, "dispatch")),
    "check_in.cleared": EventKind(
        "Dispatch reached the team that missed its check-in.", _same(LAPSE, "dispatch")
    ),
    # ---- care records: the crew of the call only
    "encounter.updated": EventKind(
        "An encounter was opened or edited.", _same(ENCOUNTER, *RECORD_AUDIENCES)
    ),
    "service.recorded": EventKind("A service was given.", _same(SERVICE, *RECORD_AUDIENCES)),
    "service.removed": EventKind(
        "A service recorded by mistake was taken off its encounter.",
        _same(SERVICE_REMOVAL, *RECORD_AUDIENCES),
    ),
    "naloxone.recorded": EventKind(
        "A naloxone administration was recorded.", _same(NALOXONE, *RECORD_AUDIENCES)
    ),
    "naloxone.updated": EventKind(
        "A naloxone administration was corrected.", _same(NALOXONE, *RECORD_AUDIENCES)
    ),
    "naloxone.removed": EventKind(
        "A naloxone dose recorded by mistake was taken off its encounter.",
        _same(SERVICE_REMOVAL, *RECORD_AUDIENCES),
    ),
    "referral.recorded": EventKind("A referral was made.", _same(REFERRAL, *RECORD_AUDIENCES)),
    "referral.updated": EventKind(
        "A referral's status, note or follow-up date changed.",
        _same(REFERRAL, *RECORD_AUDIENCES),
    ),
    "survey.recorded": EventKind(
        "A client-experience survey was answered.", _same(SURVEY, *RECORD_AUDIENCES)
    ),
    # ---- coordinators and the directory
    "referral.followed_up": EventKind(
        "A referral was followed up (by a coordinator, a responder or the receiving "
        "organization's Task update): its status and the history entry, for coordinators.",
        _same(REFERRAL_FOLLOW_UP, "referrals"),
    ),
    "directory.updated": EventKind(
        "The services directory changed.", _same(DIRECTORY_CHANGE, "directory")
    ),
}

PRIORITY_KINDS = frozenset(kind for kind, declared in EVENT_KINDS.items() if declared.priority)


def stream_audiences(stream: str) -> tuple[str, ...]:
    """The audiences a stream may be: a unit's stream is a crew's or police's."""
    family = stream.split(":", 1)[0]
    return {"unit": ("crew", "police"), "user": ("person",)}.get(family, (family,))


def check_event(stream: str, kind: str, data: dict[str, Any], *, shapes: bool = True) -> None:
    """Refuse a kind not declared here; with `shapes`, refuse one published to a stream none of
    whose audiences hears it, or a payload that matches none of their shapes exactly."""
    declared = EVENT_KINDS.get(kind)
    if declared is None:
        raise ValueError(f"event kind {kind!r} is not declared in server/feed/event_kinds.py")
    if not shapes:
        return
    audiences = [a for a in stream_audiences(stream) if a in declared.shapes]
    if not audiences:
        raise ValueError(
            f"event kind {kind!r} is not for stream {stream!r}: its audiences are "
            f"{', '.join(declared.audiences)} (server/feed/event_kinds.py)"
        )
    problems = []
    for audience in audiences:
        errors = sorted(_validator(kind, audience).iter_errors(data), key=str)
        if not errors:
            return
        where = ["/".join(map(str, e.absolute_path)) or "the payload" for e in errors]
        said = "; ".join(f"{at}: {e.message}" for at, e in zip(where, errors, strict=True))
        problems.append(f"as {audience}'s: {said}")
    raise ValueError(
        f"event {kind!r} on {stream!r} does not have its declared keys "
        f"(server/feed/event_kinds.py): {' | '.join(problems)}"
    )


@functools.cache
def _validator(kind: str, audience: str) -> Draft202012Validator:
    return Draft202012Validator(EVENT_KINDS[kind].shapes[audience])
