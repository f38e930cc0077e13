"""Reads of care records, by who may see them."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone

from server.care import policies
from server.care.models import DirectoryService, Encounter, Referral, ReferralStatus
from server.dispatch.models import Incident, ResponseSent, UnitKind

FINISHED_REFERRAL_STATUSES = (ReferralStatus.CONNECTED, ReferralStatus.CLOSED)


def visible_encounters(user) -> QuerySet[Encounter]:
    """Coordinators and supervisors read every encounter; a CARE responder those of the calls
    they served (`server.care.policies`); others none."""
    return policies.readable_encounters(user).select_related("assignment__unit", "disposition")


def visible_referrals(user) -> QuerySet[Referral]:
    return policies.readable_referrals(user).select_related(
        "service", "encounter__assignment__unit"
    )


def overdue(referrals: QuerySet[Referral]) -> QuerySet[Referral]:
    """Follow-ups due before today that nobody has finished."""
    return referrals.filter(follow_up_due__lt=timezone.localdate()).exclude(
        status__in=FINISHED_REFERRAL_STATUSES
    )


def is_overdue(referral: Referral) -> bool:
    return bool(
        referral.follow_up_due
        and referral.follow_up_due < timezone.localdate()
        and referral.status not in FINISHED_REFERRAL_STATUSES
    )


def directory(q: str = "") -> QuerySet[DirectoryService]:
    services = DirectoryService.objects.filter(active=True)
    q = (q or "").strip()
    if q:
        services = services.filter(Q(name__icontains=q) | Q(organization__icontains=q))
    return services


def dispatcher_outcomes(user) -> list[dict]:
    """How the calls this dispatcher sent to CARE ended: the feedback call takers asked for."""
    encounters = {
        e.assignment.incident_id: e
        for e in Encounter.objects.filter(
            assignment__incident__created_by=user, assignment__kind=UnitKind.CARE
        )
        .select_related("assignment", "disposition")
        .prefetch_related("referrals")
        .order_by("-started_at")[:200]
    }
    incidents = (
        Incident.objects.filter(created_by=user, response=ResponseSent.DUAL)
        .select_related("call_type")
        .order_by("-received_at")[:20]
    )
    return [
        {
            "incident": i,
            "disposition": getattr(getattr(encounters.get(i.pk), "disposition", None), "label", ""),
            "referrals": len(encounters[i.pk].referrals.all()) if i.pk in encounters else 0,
        }
        for i in incidents
    ]


def outcomes_panel(user) -> dict:
    return {"outcomes": dispatcher_outcomes(user)}
