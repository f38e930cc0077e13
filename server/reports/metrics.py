"""The program's public figures. Aggregates only; any count under 11 is suppressed."""

from __future__ import annotations

import datetime

from django.db.models import Count, Q

from server.care.models import Encounter, NaloxoneAdministration, Referral, ServiceGiven
from server.dispatch.models import Incident, IncidentStatus, ResponseSent

SMALL_CELL = 11


def suppress(count: int) -> int | str:
    return "<11" if 0 < count < SMALL_CELL else count


def program_metrics(*, start: datetime.date, end: datetime.date) -> dict:
    incidents = Incident.objects.filter(received_at__date__gte=start, received_at__date__lte=end)
    totals = incidents.aggregate(
        calls=Count("id"),
        eligible_calls=Count("id", filter=Q(eligible=True)),
        care_responded=Count("id", filter=Q(response=ResponseSent.DUAL)),
        eligible_police_only=Count(
            "id", filter=Q(eligible=True, response=ResponseSent.POLICE_ONLY)
        ),
        resolved_by_phone=Count("id", filter=Q(status=IncidentStatus.RESOLVED_BY_PHONE)),
        referred_to_hotline=Count("id", filter=Q(status=IncidentStatus.REFERRED_TO_HOTLINE)),
    )
    in_range = Q(encounter__assignment__incident__in=incidents)
    care = {
        "encounters": Encounter.objects.filter(assignment__incident__in=incidents).count(),
        "services_given": ServiceGiven.objects.filter(in_range).count(),
        "naloxone_administrations": NaloxoneAdministration.objects.filter(in_range).count(),
        "referrals_made": Referral.objects.filter(in_range).count(),
        "referrals_connected": Referral.objects.filter(in_range, status="connected").count(),
        "records_before_scene_safe": sum(
            model.objects.filter(in_range, before_scene_safe=True).count()
            for model in (ServiceGiven, NaloxoneAdministration, Referral)
        )
        + Encounter.objects.filter(
            assignment__incident__in=incidents, before_scene_safe=True
        ).count(),
    }
    police_only_reasons = list(
        incidents.filter(eligible=True, response=ResponseSent.POLICE_ONLY)
        .values("police_only_reason")
        .annotate(n=Count("id"))
        .order_by("-n")
    )
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        **{k: suppress(v) for k, v in totals.items()},
        **{k: suppress(v) for k, v in care.items()},
        "eligible_police_only_reasons": [
            {"reason": r["police_only_reason"] or "(none given)", "count": suppress(r["n"])}
            for r in police_only_reasons
        ],
    }
