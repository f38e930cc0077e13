"""Reference data every install needs: the dispatch side (area, beats, protocol) and the care
catalogs (services, dispositions, survey questions, the services directory). Adds what is missing,
never overwrites an administrator's edits."""

from __future__ import annotations

from django.db import transaction

from server.care.models import DirectoryService, Disposition, ServiceType, SurveyQuestion
from server.dispatch.reference_data import FIXTURES, json_fixture, load_dispatch_reference_data

__all__ = ["FIXTURES", "load_catalogs", "load_reference_data"]


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
    for item in json_fixture("directory.json"):
        made["directory"] += DirectoryService.objects.get_or_create(
            id=item["id"], defaults={k: v for k, v in item.items() if k != "id"}
        )[1]
    return made


def load_reference_data() -> dict[str, int]:
    with transaction.atomic():
        return {**load_dispatch_reference_data(), **load_catalogs()}
