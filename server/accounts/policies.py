"""Who is who, for every policy: the groups of roles the program's rules are written in.

Each app's `policies.py` says who may run which of its commands on which record, and who may read
which record; they all speak of people through the names here, so a group (who dispatches, who
writes care records) is declared once. A command's `roles` is enforced by the command runner
(`server.commands.Command.execute`) for every door: REST, offline push, feed socket, console form,
admin action, CAD document, partner update.
"""

from __future__ import annotations

from server.accounts.models import Role, SystemScope
from server.accounts.permissions import CAD_KEY, PARTNER_KEY, role_of

# ---- the groups -----------------------------------------------------------------------------

DISPATCHERS = (Role.DISPATCHER, Role.ADMIN)  # run the 911 side: calls, units, dispatch
FIELD = (Role.CARE_RESPONDER, Role.SPD_OFFICER)  # ride units and sign on to them
CARE_WRITERS = (Role.CARE_RESPONDER, Role.ADMIN)  # record care on a CARE assignment
SUPERVISORS = (Role.ADMIN,)  # rosters, other people's shifts, every record (audited)
# Read every clinical record, not only their crew's: follow-up is the coordinators' work; a
# supervisor's reads of a person's record are audited.
READS_ALL_CLINICAL = (Role.COORDINATOR, Role.ADMIN)
FOLLOW_UP = (Role.COORDINATOR, Role.ADMIN, PARTNER_KEY)  # move a referral on after the call
DIRECTORY_READERS = (Role.CARE_RESPONDER, Role.COORDINATOR, Role.ADMIN, Role.DISPATCHER)
CAD = (CAD_KEY,)
PARTNERS = (PARTNER_KEY,)


def principal(actor) -> str | None:
    """The name a policy knows an actor by: a person's role, or a system client's key family
    (`system:cad`, `system:partner`). None for nobody, a deactivated account, or a key that
    was revoked."""
    role = role_of(actor)
    if role is None:
        return None
    if role != Role.SYSTEM:
        return role if actor.is_active else None
    # A system client's account never signs in (it may be inactive): its key decides.
    client = getattr(actor, "system_client", None)
    if client is None or not client.usable or client.scope not in SystemScope.values:
        return None
    return f"system:{client.scope}"
