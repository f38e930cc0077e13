"""Reads the standards exports start from."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet

from server.care.models import DirectoryService, Encounter, NaloxoneAdministration


def naloxone_administrations(
    since: datetime.datetime | None = None, until: datetime.datetime | None = None
) -> QuerySet[NaloxoneAdministration]:
    queryset = NaloxoneAdministration.objects.select_related(
        "encounter__assignment__incident", "encounter__assignment__unit", "encounter__disposition"
    ).order_by("administered_at", "id")
    if since is not None:
        queryset = queryset.filter(administered_at__gte=since)
    if until is not None:
        queryset = queryset.filter(administered_at__lt=until)
    return queryset


def research_encounters(
    since: datetime.datetime | None = None, until: datetime.datetime | None = None
) -> QuerySet[Encounter]:
    queryset = (
        Encounter.objects.select_related(
            "assignment__incident__call_type", "assignment__unit", "disposition"
        )
        .prefetch_related("services__service", "naloxone", "referrals__service")
        .order_by("started_at", "id")
    )
    if since is not None:
        queryset = queryset.filter(started_at__gte=since)
    if until is not None:
        queryset = queryset.filter(started_at__lt=until)
    return queryset


def published_directory() -> QuerySet[DirectoryService]:
    """Every directory service, offered or not: a service taken out of use is published as
    inactive so a reader learns it is gone."""
    return DirectoryService.objects.order_by("organization", "name")
