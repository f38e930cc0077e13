"""Reference data every install needs: the dispatch side (area, beats, protocol) and the care
catalogs (services, dispositions, survey questions, the services directory). Adds what is missing,
never overwrites an administrator's edits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from django.db import transaction

from server.care.models import DirectoryService, Disposition, ServiceType, SurveyQuestion
from server.dispatch.reference_data import FIXTURES, json_fixture, load_dispatch_reference_data

__all__ = ["DIRECTORY_IMPORTERS", "FIXTURES", "load_catalogs", "load_reference_data"]

DEMO_DIRECTORY_FILE = "directory-hsds.json"
DEMO_DIRECTORY_SOURCE = "fixtures/directory-hsds.json"
# (path, source name) -> services added. Filled by server.interop at startup.
DIRECTORY_IMPORTERS: list[Callable[[Path, str], int]] = []


def load_catalogs() -> dict[str, int]:
    data = json_fixture("catalogs.json")
    made = {"services": 0, "dispositions": 0, "survey_questions": 0, "directory": 0}
    for order, item in enumerate(data["services"]):
        made["services"] += ServiceType.objects.get_or_create(
            code=item["code"], defaults={"label": item["label"], "order": order}
        )[1]
    for order, item in enumerate(data["dispositions"]):
        made["dispositions"] += Disposition.objects.get_or_create(
            code=item["code"], defaults={"label": item["label"], "order": order}
        )[1]
    for order, item in enumerate(data["survey_questions"]):
        made["survey_questions"] += SurveyQuestion.objects.get_or_create(
            key=item["key"], defaults={"text": item["text"], "order": order}
        )[1]
    if not DirectoryService.objects.filter(source=DEMO_DIRECTORY_SOURCE).exists():
        # First install: the demo directory, an HSDS publication, read by the HSDS importer
        # (interop, above care, registers it at startup). Later runs leave it to `import_hsds`.
        for load in DIRECTORY_IMPORTERS:
            made["directory"] += load(FIXTURES / DEMO_DIRECTORY_FILE, DEMO_DIRECTORY_SOURCE)
    return made


def load_reference_data() -> dict[str, int]:
    with transaction.atomic():
        return {**load_dispatch_reference_data(), **load_catalogs()}
