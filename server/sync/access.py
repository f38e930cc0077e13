"""Which streams a person may read: the feed's half of "deny by default"."""

from __future__ import annotations

from server.accounts.models import Role
from server.accounts.permissions import role_of
from server.feed.services import unit_stream, user_stream


def readable_streams(user) -> list[str]:
    role = role_of(user)
    if role is None or not user.is_active:
        return []
    streams = [user_stream(user.pk)]
    if role in (Role.DISPATCHER, Role.ADMIN):
        streams.append("dispatch")
    if role in (Role.CARE_RESPONDER, Role.SPD_OFFICER) and user.unit_id:
        streams.append(unit_stream(user.unit_id))
    if role in (Role.CARE_RESPONDER, Role.COORDINATOR, Role.ADMIN):
        streams.append("directory")
    if role in (Role.COORDINATOR, Role.ADMIN):
        # How referrals are followed up (by coordinators and by the partners' Task updates),
        # for the coordinators' pages; no clinical record travels on it.
        streams.append("referrals")
    return streams
