"""Who may act on and read the dispatch side's records: assignments, shifts, rosters, emergencies.

**Records belong to the crew that served the call.** A person served an assignment when they were
on its unit (a shift on that unit) at some moment between its dispatch and its clearing; an open
assignment is served by everyone on the unit now. Being on the unit now opens its current and
future work, never its past: a responder who signs on to another team's unit does not read what
that team did last week. Each read below is a queryset filter, so REST, the offline pull and
snapshot, the feed socket and the consoles all ask the same question.

Who may run each command is the command's own `roles` (enforced by the runner for every door);
this module answers the per-record half: *which* assignment, shift or emergency.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce, Greatest, Now
from django.utils import timezone

from server.accounts.models import Role
from server.accounts.policies import DISPATCHERS, FIELD, principal
from server.dispatch.models import Assignment, RosterEntry, Shift, Unit, UnitKind
from server.feed.services import unit_stream, user_stream

# A person of each field role rides only units of one kind: an officer never sits on a CARE
# team, so configuration can't hand police a CARE unit's clinical stream.
KIND_FOR_ROLE = {Role.CARE_RESPONDER: UnitKind.CARE, Role.SPD_OFFICER: UnitKind.SPD}
ROLE_FOR_KIND = {kind: role for role, kind in KIND_FOR_ROLE.items()}


# ---- what a person served ------------------------------------------------------------------


def served_by(user) -> Exists:
    """An `Assignment` filter: the user had a shift on its unit while it was open."""
    # The call's end by the clock that cleared it, but never before its dispatch (the server's
    # clock): whoever was on the unit when it was sent served it, whatever a tablet's clock said.
    end = Greatest(Coalesce(OuterRef("cleared_at"), Now()), OuterRef("dispatched_at"))
    crew_shift = Shift.objects.filter(
        user_id=user.pk, unit_id=OuterRef("unit_id"), started_at__lte=end
    ).filter(Q(ended_at__isnull=True) | Q(ended_at__gte=OuterRef("dispatched_at")))
    return Exists(crew_shift)


def served_assignments(user) -> QuerySet[Assignment]:
    """The assignments a field user served; none for anyone else."""
    if principal(user) not in FIELD:
        return Assignment.objects.none()
    return Assignment.objects.filter(served_by(user))


def visible_assignments(user) -> QuerySet[Assignment]:
    """Dispatch and supervisors see every assignment; a field user the ones they served."""
    role = principal(user)
    if role in DISPATCHERS:
        return Assignment.objects.all()
    if role in FIELD:
        return served_assignments(user)
    return Assignment.objects.none()


def served(user, assignment: Assignment) -> bool:
    return served_assignments(user).filter(pk=assignment.pk).exists()


def may_move(user, assignment: Assignment) -> bool:
    """A field user moves the assignments they serve (an offline change pushed after sign-off
    still belongs to the shift it was made on); dispatch and supervisors reach any (which step
    each role may take is the lifecycle's `ACTORS`)."""
    role = principal(user)
    if role in DISPATCHERS:
        return True
    return role in FIELD and served(user, assignment)


# ---- shifts and rosters --------------------------------------------------------------------


def fits(person, unit: Unit) -> bool:
    """A person's role rides this kind of unit."""
    return KIND_FOR_ROLE.get(principal(person)) == unit.kind


def rostered(person, unit: Unit, day) -> bool:
    """A supervisor put this person on this unit for `day` (a local date)."""
    return RosterEntry.objects.filter(
        user_id=person.pk,
        unit_id=unit.pk,
        first_day__lte=day,
        last_day__gte=day,
        cancelled_at__isnull=True,
    ).exists()


def may_sign_on_others(actor) -> bool:
    """Signing someone else on or off, naming a partner, approving a request: a supervisor's."""
    return principal(actor) == Role.ADMIN


def may_end_shift(actor, shift: Shift) -> bool:
    return shift.user_id == actor.pk or may_sign_on_others(actor)


# ---- unit-bound actions --------------------------------------------------------------------


def on_unit_now(actor, unit_id) -> bool:
    """Signed on to this unit now (an open shift on it)."""
    return Shift.objects.filter(user_id=actor.pk, unit_id=unit_id, ended_at__isnull=True).exists()


def raised_emergency(actor, device, emergency) -> bool:
    """The tablet that raised an emergency ends it (after its own PIN check): the server knows
    the device by its token, which no other device holds."""
    return (
        device is not None
        and emergency.device_id == device.pk
        and emergency.started_by_id == actor.pk
    )


# ---- where a call's records travel ---------------------------------------------------------


def crew_of(assignment: Assignment) -> list[int]:
    """The people who served an assignment: on its unit at some moment while it was open."""
    end = max(assignment.cleared_at or timezone.now(), assignment.dispatched_at)
    return sorted(
        set(
            Shift.objects.filter(unit_id=assignment.unit_id, started_at__lte=end)
            .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=assignment.dispatched_at))
            .values_list("user_id", flat=True)
        )
    )


def record_streams(assignment: Assignment) -> list[str]:
    """Where a change to a call's records is published. While the call is open, the unit's
    stream (everyone on the unit now serves it); once it closed, only the streams of the people
    who served it, so a crew that joined the unit later never receives it (a record pushed
    from a tablet after its shift, a coordinator's follow-up)."""
    if assignment.is_open:
        return [unit_stream(assignment.unit_id)]
    return [user_stream(person) for person in crew_of(assignment)]


def reads_crew_words(viewer, assignment: Assignment) -> bool:
    """Free text a CARE responder typed on a call (a step's note) is clinical: read by the crew
    that served it and supervisors, never by dispatch or police."""
    role = principal(viewer)
    if role == Role.ADMIN:
        return True
    return role == Role.CARE_RESPONDER and served(viewer, assignment)
