"""Which new assignments to announce (sound and vibration), once per assignment.

Decided from the store, not from what a screen happens to redraw: a call is announced once, when
it first shows up dispatched, and the ids announced are kept in the store's settings, so a
refresh, a replayed feed frame, a resync or the app reopening never rings again (and a wipe
forgets them with everything else).
"""

from __future__ import annotations

from mobile.client.store import Store
from mobile.client.vocabulary import AssignmentStatus

ANNOUNCED = "announced_assignments"


def to_announce(store: Store) -> list[str]:
    """Assignments dispatched to this unit that were never announced on this tablet; marks them
    announced. Only a call still waiting for its acknowledgement rings."""
    announced = set(store.get_setting(ANNOUNCED, []))
    new = [
        a["id"]
        for a in store.assignments()
        if a.get("status") == AssignmentStatus.DISPATCHED and a["id"] not in announced
    ]
    if new:
        store.set_settings(**{ANNOUNCED: sorted(announced | set(new))})
    return new
