"""The standards exports as admin actions on the care pages (care can't import interop)."""

from __future__ import annotations

import io
import zipfile

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from server.care.models import Encounter, NaloxoneAdministration


def _zip(name: str, files: dict[str, bytes | str]) -> HttpResponse:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for filename, content in files.items():
            archive.writestr(filename, content)
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}.zip"'
    return response


@admin.action(description="Export as NEMSIS 3.5 (XML, CSV, gap report)")
def export_nemsis(modeladmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
    from server.interop.nemsis import export_naloxone
    from server.interop.selectors import naloxone_administrations

    records = list(naloxone_administrations().filter(pk__in=queryset.values("pk")))
    export = export_naloxone(request.user, records)
    return _zip(
        "nemsis-naloxone",
        {
            "nemsis-naloxone.xml": export.xml,
            "nemsis-naloxone.csv": export.csv,
            "nemsis-gaps.csv": export.gaps_csv,
        },
    )


@admin.action(description="De-identified research extract (CSV, Parquet, dictionary)")
def export_research(modeladmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
    from server.interop.research import research_extract
    from server.interop.selectors import research_encounters

    encounters = research_encounters().filter(pk__in=queryset.values("pk"))
    extract = research_extract(request.user, encounters)
    return _zip("care-research-extract", extract.files())


def _add(model, action) -> None:
    model_admin = admin.site._registry.get(model)
    if model_admin is None:
        return
    actions = list(model_admin.actions or [])
    if action not in actions:
        model_admin.actions = [*actions, action]


def install_admin_actions() -> None:
    _add(NaloxoneAdministration, export_nemsis)
    _add(Encounter, export_research)
