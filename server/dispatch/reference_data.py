"""Loading the program's reference data: geography, call types, protocol, catalogs, directory.

Each loader adds what is missing and never overwrites what an administrator has since edited,
so it is safe to run on every start.
"""

from __future__ import annotations

import csv
import datetime
import functools
import json
from pathlib import Path

from django.conf import settings

from server.dispatch.models import (
    Area,
    BackupReason,
    Beat,
    CallType,
    PoliceOnlyReason,
    Protocol,
    ScreeningQuestion,
)

FIXTURES = Path(settings.BASE_DIR) / "fixtures"


@functools.cache
def json_fixture(name: str):
    # Cached: the GeoJSON is over a megabyte and the test suite loads it many times.
    return json.loads((FIXTURES / name).read_text())


def load_geography() -> dict[str, int]:
    protocol = json_fixture("protocol.json")
    pilot = set(protocol["pilot_areas"])
    areas = json_fixture("seattle/spd-mcpp-areas.geojson")["features"]
    beats = json_fixture("seattle/spd-beats.geojson")["features"]
    made = {"areas": 0, "beats": 0}
    for feature in areas:
        name = feature["properties"]["NAME"]
        _, created = Area.objects.get_or_create(
            name=name,
            defaults={
                "precinct": feature["properties"].get("PRECINCT") or "",
                "in_pilot": name in pilot,
                "geometry": feature["geometry"],
            },
        )
        made["areas"] += created
    for feature in beats:
        _, created = Beat.objects.get_or_create(
            name=feature["properties"]["name"], defaults={"geometry": feature["geometry"]}
        )
        made["beats"] += created
    missing = pilot - set(Area.objects.values_list("name", flat=True))
    if missing:
        raise ValueError(f"pilot areas not in the MCPP data: {sorted(missing)}")
    return made


def load_protocol() -> dict[str, int]:
    data = json_fixture("protocol.json")
    eligible = set(data["eligible_call_types"])
    with (FIXTURES / "seattle/spd-call-data-sample.csv").open(newline="") as handle:
        codes = {row["Initial Call Type"].strip() for row in csv.DictReader(handle)}
    codes = {c for c in codes if c and c != "--"} | eligible
    made = {"call_types": 0, "questions": 0, "police_only_reasons": 0}
    for code in sorted(codes):
        _, created = CallType.objects.get_or_create(
            code=code, defaults={"eligible": code in eligible}
        )
        made["call_types"] += created
    for q in data["screening_questions"]:
        _, created = ScreeningQuestion.objects.get_or_create(
            key=q["key"], defaults={k: v for k, v in q.items() if k != "key"}
        )
        made["questions"] += created
    for reason in data["police_only_reasons"]:
        _, created = PoliceOnlyReason.objects.get_or_create(
            code=reason["code"], defaults={k: v for k, v in reason.items() if k != "code"}
        )
        made["police_only_reasons"] += created
    hours = data["pilot_hours"]
    Protocol.objects.get_or_create(
        pk=1,
        defaults={
            "pilot_start": datetime.time.fromisoformat(hours["start"]),
            "pilot_end": datetime.time.fromisoformat(hours["end"]),
            "timezone": settings.TIME_ZONE,
            "dispatch_model": settings.CARE_DISPATCH_MODEL,
            "hotline_name": settings.CARE_HOTLINE_NAME,
        },
    )
    return made


# Why a CARE team asks police back: a starting list; administrators edit it in admin.
BACKUP_REASONS = (
    ("escalating", "Person escalating or threatening"),
    ("weapon_seen", "Weapon seen"),
    ("crowd", "Crowd or others interfering"),
    ("medical_scene", "Scene needs control for medics"),
    ("other", "Other"),
)


def load_backup_reasons() -> dict[str, int]:
    made = 0
    for code, label in BACKUP_REASONS:
        made += BackupReason.objects.get_or_create(code=code, defaults={"label": label})[1]
    return {"backup_reasons": made}


def load_dispatch_reference_data() -> dict[str, int]:
    """The pilot area, beats and protocol; the care catalogs load above this app."""
    return {**load_geography(), **load_protocol(), **load_backup_reasons()}
