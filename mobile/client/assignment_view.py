"""What the assignment screen (and the inbox card) shows, decided without Kivy.

Scene safety, decided with the server: care recorded before the officer marks the scene safe is
ALLOWED. The server keeps it and flags it `before_scene_safe` (the flag is counted); the tablet
lets the encounter open and says plainly that the scene is not marked safe. Waiting would leave
a person in crisis without help because an officer's tablet is slow.

Status buttons: one per status the unit may move to, always in the same place (the order of the
protocol's states), the current one highlighted, the next normal step emphasised; a step that ends
the unit's part (no move out of it in the protocol's table) needs a deliberate confirmation.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from mobile.client.vocabulary import CLOSED_ASSIGNMENT_STATUSES, AssignmentStatus, UnitKind

SAFE, UNSAFE, UNCHECKED, NO_OFFICER = "safe", "unsafe", "unchecked", "no officer"


def state_label(protocol: dict[str, Any], state: str) -> str:
    labels = {s["value"]: s["label"] for s in protocol.get("assignment_states", [])}
    return labels.get(state, state.replace("_", " ").capitalize())


def since(moment: str | None, *, at: datetime.datetime | None = None) -> str:
    """'12 min ago' from an ISO time; the tablet's clock may be off by a little, never below 0."""
    if not moment:
        return "time unknown"
    at = at or datetime.datetime.now(datetime.UTC)
    seconds = max(0, int((at - datetime.datetime.fromisoformat(moment)).total_seconds()))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min ago"


def clock_minute(moment: str | None, tz: datetime.tzinfo | None = None) -> str:
    """'14:07' in the tablet's time zone (or `tz`)."""
    if not moment:
        return ""
    return datetime.datetime.fromisoformat(moment).astimezone(tz).strftime("%H:%M")


def is_open(assignment: dict[str, Any], protocol: dict[str, Any]) -> bool:
    """Still the unit's work: the protocol's table has a move out of its state (cleared and
    cancelled have none)."""
    table = protocol.get("transitions", {}).get(assignment.get("kind"))
    return not table or assignment.get("status") in table


def open_assignments(assignments: list[dict[str, Any]], protocol: dict[str, Any]) -> list[dict]:
    """The inbox: open assignments, the newest dispatch first."""
    mine = [a for a in assignments if is_open(a, protocol)]
    return sorted(mine, key=lambda a: a.get("dispatched_at") or "", reverse=True)


def scene_state(assignment: dict[str, Any]) -> str:
    """Whether an officer on this call has marked the scene safe, unsafe, or not yet."""
    officers = [p for p in assignment.get("partners") or [] if p.get("kind") == UnitKind.SPD]
    if not officers:
        return NO_OFFICER
    if any(p.get("status") == AssignmentStatus.SCENE_UNSAFE for p in officers):
        return UNSAFE
    if any(
        p.get("scene_safe_at") or p.get("status") == AssignmentStatus.SCENE_SAFE for p in officers
    ):
        return SAFE
    return UNCHECKED


def partner_line(
    assignment: dict[str, Any], protocol: dict[str, Any], tz: datetime.tzinfo | None = None
) -> str:
    """One thing about each other unit: '2M12 marked the scene safe at 14:07'."""
    partners = assignment.get("partners") or []
    if not partners:
        return "No other unit on this call."
    lines = []
    for p in partners:
        sign = p.get("call_sign") or "The other unit"
        if p.get("status") == AssignmentStatus.SCENE_UNSAFE:
            lines.append(f"{sign} marked the scene unsafe.")
        elif p.get("scene_safe_at"):
            lines.append(f"{sign} marked the scene safe at {clock_minute(p['scene_safe_at'], tz)}.")
        elif p.get("status") == AssignmentStatus.SCENE_SAFE:
            lines.append(f"{sign} marked the scene safe.")
        else:
            lines.append(f"{sign}: {state_label(protocol, p.get('status', '')).lower()}.")
    return " ".join(lines)


@dataclass(frozen=True)
class StatusButton:
    state: str
    label: str
    current: bool  # the assignment is in this state now (highlighted)
    enabled: bool  # the protocol allows this move from here, for this role
    emphasised: bool  # the next normal step
    confirm: bool  # ends the unit's part: hold or confirm, naming the call


@dataclass(frozen=True)
class AssignmentView:
    title: str
    address: str
    narrative: str
    partner: str
    scene: str
    banner: str
    buttons: tuple[StatusButton, ...]
    show_encounter: bool
    may_open_encounter: bool
    encounter_warning: str
    note_needed: bool


BANNERS = {
    SAFE: "Scene safe: the officer has cleared you to engage.",
    UNSAFE: "Scene unsafe: stay back and wait for the officer.",
    UNCHECKED: "Wait for scene safe: the officer has not marked the scene yet.",
    NO_OFFICER: "",
}
WARNINGS = {
    UNSAFE: "The officer marked the scene unsafe. Care you record now is flagged as given "
    "before the scene was safe.",
    UNCHECKED: "The scene is not marked safe yet. You can record care; it is flagged as given "
    "before the scene was safe.",
}


def status_buttons(
    assignment: dict[str, Any], protocol: dict[str, Any], role: str | None
) -> tuple[StatusButton, ...]:
    """Every status this role may ever move this kind of assignment to, in the protocol's order."""
    table = protocol.get("transitions", {}).get(assignment.get("kind"), {})
    actors = protocol.get("transition_actors", {})
    ordered = [s["value"] for s in protocol.get("assignment_states", [])]
    reachable = {to for tos in table.values() for to in tos}
    mine = [s for s in ordered if s in reachable and role in actors.get(s, [role])]
    allowed = [to for to in table.get(assignment["status"], []) if to in mine]
    ending = {s for s in mine if not table.get(s)}
    notes = set(protocol.get("transition_note_required", []))
    following = [to for to in allowed if to not in ending and to not in notes]
    next_step = following[0] if following else None
    return tuple(
        StatusButton(
            state=s,
            label=state_label(protocol, s),
            current=s == assignment["status"],
            enabled=s in allowed,
            emphasised=s == next_step,
            confirm=s in ending,
        )
        for s in mine
    )


def assignment_view(
    assignment: dict[str, Any],
    protocol: dict[str, Any],
    role: str | None,
    tz: datetime.tzinfo | None = None,
) -> AssignmentView:
    call = assignment.get("incident") or {}
    scene = scene_state(assignment) if assignment.get("kind") == UnitKind.CARE else NO_OFFICER
    buttons = status_buttons(assignment, protocol, role)
    care_on_scene = (
        assignment.get("kind") == UnitKind.CARE
        and assignment["status"] == AssignmentStatus.ON_SCENE
    )
    enabled = {b.state for b in buttons if b.enabled}
    return AssignmentView(
        # The status is the highlighted button; the title doesn't repeat it.
        title=call.get("call_type", ""),
        address=call.get("address", ""),
        narrative=call.get("narrative", ""),
        partner=partner_line(assignment, protocol, tz),
        scene=scene,
        banner=_banner(assignment, scene),
        buttons=buttons,
        show_encounter=assignment.get("kind") == UnitKind.CARE,
        may_open_encounter=care_on_scene,
        encounter_warning=WARNINGS.get(scene, "") if care_on_scene else _closed_why(assignment),
        note_needed=bool(enabled & set(protocol.get("transition_note_required", []))),
    )


def _closed_why(assignment: dict[str, Any]) -> str:
    """Why "Open the encounter" takes no tap yet, said where it shows."""
    if (
        assignment.get("kind") != UnitKind.CARE
        or assignment.get("status") in CLOSED_ASSIGNMENT_STATUSES
    ):
        return ""
    return "The encounter opens once you are on scene: tap On scene when you arrive."


def _banner(assignment: dict[str, Any], scene: str) -> str:
    text = BANNERS[scene]
    if scene == UNSAFE:
        officers = [p for p in assignment.get("partners") or [] if p.get("kind") == UnitKind.SPD]
        why = next((p.get("safety_note") for p in officers if p.get("safety_note")), "")
        text += f"\nOfficer: {why}" if why else ""
    return text


def banner_as_known(
    banner: str, online: bool, last_sync: str | None, tz: datetime.tzinfo | None = None
) -> str:
    """The scene banner as the tablet may say it: offline, it is what the tablet last heard and
    when (an officer may have marked the scene since), never a present fact."""
    if online or not banner:
        return banner
    when = f"at {clock_minute(last_sync, tz)}" if last_sync else "before the connection dropped"
    return f"Offline. Last known {when}: {banner}"


def confirm_question(assignment: dict[str, Any], protocol: dict[str, Any], state: str) -> str:
    """The question a step that ends the unit's part asks, naming the call."""
    call = assignment.get("incident") or {}
    named = ", ".join(x for x in (call.get("call_type"), call.get("address")) if x) or "this call"
    return f"Mark {named} {state_label(protocol, state).lower()}? Your unit's part ends."
