"""Which streams a person may read, and from where: the feed's half of "deny by default".

A unit's stream is its crew's: a field user reads the stream of the unit they are signed on to,
and only from the point they joined it (their shift's `stream_floor`), so signing on to another
team's unit never replays what that team recorded before. Records of calls that closed before
they joined are never published there again (`server.dispatch.policies.record_streams`).
"""

from __future__ import annotations

from server.accounts.models import Role
from server.accounts.policies import FIELD, principal
from server.dispatch.models import Shift
from server.feed.services import unit_stream, user_stream


class ReadableStreams(list):
    """The stream names a person may read (a list, as the `welcome` frame sends it), with the
    first sequence number of each they may not read below: `floors[stream]`, 0 when all."""

    floors: dict[str, int]

    def __init__(self, names: list[str], floors: dict[str, int] | None = None) -> None:
        super().__init__(names)
        self.floors = floors or {}

    def floor(self, stream: str) -> int:
        return self.floors.get(stream, 0)


def readable_streams(user) -> ReadableStreams:
    shift = None
    if principal(user) in FIELD:
        shift = (
            Shift.objects.filter(user_id=user.pk, ended_at__isnull=True)
            .values_list("unit_id", "stream_floor")
            .first()
        )
    return _readable(user, shift)


def readable_streams_of(users: list) -> dict[int, ReadableStreams]:
    """`readable_streams` of many people by their pk, with one query for all their open shifts
    (the sockets of a process re-read their streams together)."""
    field = [user.pk for user in users if principal(user) in FIELD]
    shifts = {
        user_id: (unit_id, floor)
        for user_id, unit_id, floor in Shift.objects.filter(
            user_id__in=field, ended_at__isnull=True
        ).values_list("user_id", "unit_id", "stream_floor")
    }
    return {user.pk: _readable(user, shifts.get(user.pk)) for user in users}


def _readable(user, shift: tuple[int, int] | None) -> ReadableStreams:
    """The rule, given the person's open shift as (unit, stream floor) or None."""
    role = principal(user)
    if role is None or role == Role.SYSTEM or role.startswith("system:"):
        return ReadableStreams([])
    streams = [user_stream(user.pk)]
    floors: dict[str, int] = {}
    if role in (Role.DISPATCHER, Role.ADMIN):
        streams.append("dispatch")
    if role in FIELD and shift is not None:
        stream = unit_stream(shift[0])
        streams.append(stream)
        floors[stream] = shift[1]
    if role in (Role.CARE_RESPONDER, Role.COORDINATOR, Role.ADMIN):
        streams.append("directory")
    if role in (Role.COORDINATOR, Role.ADMIN):
        # How referrals are followed up (by coordinators and by the partners' Task updates),
        # for the coordinators' pages; no clinical record travels on it.
        streams.append("referrals")
    return ReadableStreams(streams, floors)
