"""The standards exports as admin actions on the care pages (care can't import interop)."""

from __future__ import annotations

import io
import zipfile

from django.contrib import admin, messages
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


@admin.action(description="Export as NEMSIS 3.5.1 (XML, CSV, gap report)")
def export_nemsis(modeladmin, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
    from server.interop.nemsis import NemsisInvalid, export_naloxone
    from server.interop.selectors import naloxone_administrations

    records = list(naloxone_administrations().filter(pk__in=queryset.values("pk")))
    try:
        export = export_naloxone(request.user, records)
    except NemsisInvalid as exc:
        # Back to the list with the reason: a file a state repository would refuse is not given.
        named = "; ".join(f"{k}: {' '.join(v)}" for k, v in list(exc.fields.items())[:5])
        modeladmin.message_user(request, f"{exc.detail} {named}", level=messages.ERROR)
        return None
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
    install_upload()


def hsds_upload_view(request: HttpRequest) -> HttpResponse:
    """Admin page: upload an HSDS publication (JSON, datapackage zip) and see what it changed.
    It rewrites the directory, so it takes the directory's add and change permissions; one that
    would take a large share of the directory out of use is applied only when confirmed."""
    from django.core.exceptions import PermissionDenied
    from django.shortcuts import render

    from server.care.models import DirectoryService
    from server.interop.hsds import NeedsConfirmation, PublicationError

    directory = admin.site._registry[DirectoryService]
    if not (directory.has_change_permission(request) and directory.has_add_permission(request)):
        raise PermissionDenied("Importing the directory takes its add and change permissions.")
    context = {**admin.site.each_context(request), "title": "Import an HSDS directory"}
    if request.method == "POST":
        try:
            context["report"] = _import_upload(request)
        except NeedsConfirmation as exc:
            context["problem"], context["confirm"] = str(exc), True
        except PublicationError as exc:
            context["problem"] = str(exc)
    return render(request, "interop/hsds_upload.html", context)


def _import_upload(request: HttpRequest):
    import tempfile
    from pathlib import Path

    from server.interop.hsds import PublicationError, import_publication, read_file

    upload = request.FILES.get("publication")
    source = (request.POST.get("source") or "").strip()
    if upload is None or not source:
        raise PublicationError("Choose a file and name its source.")
    if upload.size > 20 * 1024 * 1024:
        raise PublicationError("The file is larger than 20 MB.")
    suffix = Path(upload.name).suffix.lower()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"publication{suffix if suffix in ('.zip', '.json') else ''}"
        with path.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        confirmed = request.POST.get("confirm_deactivation") == "yes"
        return import_publication(request.user, read_file(path), source, confirmed=confirmed)


def _with_upload(model_admin) -> None:
    from django.urls import path

    original = model_admin.get_urls

    def get_urls():
        upload = path(
            "import-hsds/",
            admin.site.admin_view(hsds_upload_view),
            name="care_directoryservice_import_hsds",
        )
        return [upload, *original()]

    model_admin.get_urls = get_urls


def install_upload() -> None:
    from server.care.models import DirectoryService

    model_admin = admin.site._registry.get(DirectoryService)
    if model_admin is not None and not getattr(model_admin, "_hsds_upload", False):
        _with_upload(model_admin)
        model_admin._hsds_upload = True
