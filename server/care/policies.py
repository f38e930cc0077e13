"""Who may read and write CARE's clinical records: encounters, services given, naloxone,
referrals, surveys and the crew's notes. The most sensitive data here.

- A CARE responder reads and records on the calls they served: they were on the assignment's
  unit during its shift (`server.dispatch.policies.served_by`), never merely on the unit now.
- Coordinators read every encounter and referral for follow-up, but through
  `encounter_for_follow_up` (no crew notes); supervisors read everything, each view audited.
- SPD officers, dispatchers, partners and the public read none of it.
"""

from __future__ import annotations

from django.db.models import QuerySet

from server.accounts.models import Role
from server.accounts.policies import READS_ALL_CLINICAL, principal
from server.care.models import Encounter, Referral
from server.dispatch.models import Assignment
from server.dispatch.policies import served_by


def served_care_assignments(user) -> QuerySet[Assignment]:
    """The CARE assignments a CARE responder served."""
    if principal(user) != Role.CARE_RESPONDER:
        return Assignment.objects.none()
    return Assignment.objects.filter(served_by(user))


def readable_encounters(user) -> QuerySet[Encounter]:
    if principal(user) in READS_ALL_CLINICAL:
        return Encounter.objects.all()
    return Encounter.objects.filter(assignment__in=served_care_assignments(user))


def readable_referrals(user) -> QuerySet[Referral]:
    if principal(user) in READS_ALL_CLINICAL:
        return Referral.objects.all()
    return Referral.objects.filter(encounter__assignment__in=served_care_assignments(user))


def may_record_on(user, assignment: Assignment) -> bool:
    """Care is recorded by the crew that serves the call (an offline record pushed after the
    shift still belongs to it), or by a supervisor."""
    role = principal(user)
    if role == Role.ADMIN:
        return True
    return (
        role == Role.CARE_RESPONDER
        and served_care_assignments(user).filter(pk=assignment.pk).exists()
    )


def reads_crew_notes(user, encounter: Encounter) -> bool:
    """The crew's free text (notes, comments) is for the crew and supervisors: a coordinator's
    follow-up reads the encounter without it."""
    role = principal(user)
    if role == Role.ADMIN:
        return True
    return (
        role == Role.CARE_RESPONDER and readable_encounters(user).filter(pk=encounter.pk).exists()
    )
