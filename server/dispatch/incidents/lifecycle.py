"""The one table of allowed assignment transitions, and who may make each.

The server checks every transition against it and `GET /api/v1/protocol` publishes it, so the
tablet shows exactly these buttons and never keeps a copy of its own.
"""

from __future__ import annotations

from server.accounts.models import Role
from server.dispatch.models import AssignmentStatus as S
from server.dispatch.models import UnitKind

_FIELD_PATH = {
    S.DISPATCHED: [S.ACKNOWLEDGED, S.CANCELLED],
    S.ACKNOWLEDGED: [S.EN_ROUTE, S.CANCELLED],
    S.EN_ROUTE: [S.ON_SCENE, S.CANCELLED],
}

TRANSITIONS: dict[str, dict[str, list[str]]] = {
    UnitKind.CARE: {
        **_FIELD_PATH,
        S.ON_SCENE: [S.CLEARED, S.CANCELLED],
    },
    UnitKind.SPD: {
        **_FIELD_PATH,
        # Officers judge the scene; clearing straight from on scene covers a person gone on arrival.
        S.ON_SCENE: [S.SCENE_SAFE, S.SCENE_UNSAFE, S.CLEARED, S.CANCELLED],
        S.SCENE_UNSAFE: [S.SCENE_SAFE, S.CLEARED, S.CANCELLED],
        S.SCENE_SAFE: [S.CLEARED, S.CANCELLED],
    },
}

# Who may move an assignment into each state. Field roles only for their own unit.
ACTORS: dict[str, list[str]] = {
    S.ACKNOWLEDGED: [Role.CARE_RESPONDER, Role.SPD_OFFICER],
    S.EN_ROUTE: [Role.CARE_RESPONDER, Role.SPD_OFFICER],
    S.ON_SCENE: [Role.CARE_RESPONDER, Role.SPD_OFFICER],
    S.SCENE_SAFE: [Role.SPD_OFFICER],
    S.SCENE_UNSAFE: [Role.SPD_OFFICER],
    S.CLEARED: [Role.CARE_RESPONDER, Role.SPD_OFFICER],
    S.CANCELLED: [Role.DISPATCHER, Role.ADMIN],
}

# States that need a note from the person making the change.
NOTE_REQUIRED = {S.SCENE_UNSAFE, S.CANCELLED}


def allowed_next(kind: str, current: str) -> list[str]:
    return [str(s) for s in TRANSITIONS.get(kind, {}).get(current, [])]


def is_allowed(kind: str, current: str, requested: str) -> bool:
    return requested in allowed_next(kind, current)


def published_table() -> dict:
    """The lifecycle as plain JSON, for the protocol endpoint."""
    return {
        "transitions": {
            str(kind): {str(frm): [str(t) for t in tos] for frm, tos in table.items()}
            for kind, table in TRANSITIONS.items()
        },
        "transition_actors": {str(k): [str(r) for r in v] for k, v in ACTORS.items()},
        "transition_note_required": sorted(str(s) for s in NOTE_REQUIRED),
        "assignment_states": [{"value": v, "label": str(lbl)} for v, lbl in S.choices],
    }
