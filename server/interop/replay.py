"""SPD's public Call Data export (13 columns) as EIDO documents, and a generated demo day of
pilot-area calls in the same format, so a demo shows a live stream of real-format CAD calls."""

from __future__ import annotations

import contextlib
import csv
import datetime
import json
import random
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shapely.geometry import Point, shape

SEATTLE = zoneinfo.ZoneInfo("America/Los_Angeles")
COLUMNS = [
    "CAD Event Number",
    "Event Clearance Description",
    "Call Type",
    "Priority",
    "Initial Call Type",
    "Final Call Type",
    "Original Time Queued",
    "Arrived Time",
    "Precinct",
    "Sector",
    "Beat",
    "Blurred_Longitude",
    "Blurred_Latitude",
]
TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PERSON_DOWN, WELFARE = "DOWN - CHECK FOR DOWN PERSON", "SERVICE - WELFARE CHECK"
# Seed figures: SPD calls a year of each type CARE may take.
YEARLY = {PERSON_DOWN: 2686, WELFARE: 5533}
INELIGIBLE = [
    ("SUSPICIOUS PERSON, VEHICLE OR INCIDENT", 3),
    ("THEFT - SHOPLIFT", 3),
    ("DISTURBANCE, MISCELLANEOUS/OTHER", 2),
    ("TRAFFIC - BLOCKING ROADWAY", 3),
    ("ASLT - IP/JO - PERSON", 1),
    ("NOISE - DIST, GENERAL (CONST, RESID, BALL PLAY)", 4),
]


def queued_at(row: dict[str, str]) -> datetime.datetime:
    local = datetime.datetime.strptime(row["Original Time Queued"].strip(), TIME_FORMAT)
    return local.replace(tzinfo=SEATTLE)


def read_calls(path: Path) -> list[dict[str, str]]:
    """The export's rows with a time, in the order they were queued."""
    with path.open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("Original Time Queued", "").strip()]
    return sorted(rows, key=queued_at)


SPD_AGENCY = "agency-spd-cad"


def _pidf(latitude: float, longitude: float) -> str:
    return (
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" '
        'xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
        'xmlns:gml="http://www.opengis.net/gml" entity="pres:caller@spd-cad">'
        '<tuple id="geo"><status><gp:geopriv><gp:location-info>'
        f'<gml:Point srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>{latitude} {longitude}</gml:pos>'
        "</gml:Point></gp:location-info><gp:method>Derived</gp:method></gp:geopriv></status>"
        "</tuple></presence>"
    )


def row_to_eido(row: dict[str, str]) -> dict[str, Any]:
    """One export row as the first EIDO document a CAD would send for it (NENA's shape: one
    incident component, arrays of references, each component's owning agency)."""
    number = row["CAD Event Number"].strip()
    when = queued_at(row).isoformat()
    call_type = row["Initial Call Type"].strip() or "UNKNOWN"
    prologue = {"lastUpdateTimeStamp": when, "updatedByAgencyReference": {"$ref": SPD_AGENCY}}
    incident: dict[str, Any] = {
        "$id": f"incident-{number}",
        **prologue,
        "internalIncidentId": number,
        "incidentTypeCommonRegistryText": call_type[:120],
        "incidentTypeInternalCode": call_type[:120],
        "incidentStatusCommonRegistryText": ["Pending"],
    }
    with contextlib.suppress(KeyError, ValueError):
        incident["incidentCommonPriorityNumber"] = min(max(int(row["Priority"]), 0), 9)
    if row.get("Beat", "").strip():
        incident["beatOrDispatchGroupText"] = row["Beat"].strip()[:10]
    document: dict[str, Any] = {
        "$id": f"eido-{number}",
        **prologue,
        "eidoVersion": "1.0",
        "issuingElementIdentification": "spd-cad-replay",
        "incidentComponent": incident,
        "callComponent": [
            {
                "$id": f"call-{number}",
                **prologue,
                "callStartTimestamp": when,
                "callStateRegistryText": "callAnswered",
                "direction": "incoming",
                "standardPrimaryCallType": row.get("Call Type", "").strip()[:64] or "Unknown",
            }
        ],
        "agencyComponent": [
            {
                "$id": SPD_AGENCY,
                **prologue,
                "agencyRoleDescriptionRegistryText": ["Primary PSAP"],
                "agencyType": ["police"],
            }
        ],
    }
    try:
        latitude = float(row["Blurred_Latitude"])
        longitude = float(row["Blurred_Longitude"])
    except (KeyError, ValueError):
        return document  # no coordinates: the call waits as needing a location
    incident["locationReference"] = [{"$ref": f"loc-{number}"}]
    document["locationComponent"] = [
        {
            "$id": f"loc-{number}",
            **prologue,
            "locationTypeDescriptionRegistryText": "Incident",
            "locationByValue": _pidf(latitude, longitude),
        }
    ]
    return document


# ---- the generated demo day ------------------------------------------------------------------


def _features(name: str) -> list[dict]:
    return json.loads((FIXTURES / "seattle" / name).read_text())["features"]


def _point_in(polygon, rng: random.Random) -> Point:
    minx, miny, maxx, maxy = polygon.bounds
    while True:
        point = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if polygon.covers(point):
            return point


def demo_day(day: datetime.date, *, seed: int = 7) -> Iterator[dict[str, str]]:
    """A day of calls in the export's format: person-down and welfare checks at the seed rates
    (Poisson, the day's share of the year), mostly in the pilot area, plus ineligible calls."""
    rng = random.Random(seed)
    pilot = set(json.loads((FIXTURES / "protocol.json").read_text())["pilot_areas"])
    areas = [f for f in _features("spd-mcpp-areas.geojson")]
    inside = [
        (shape(f["geometry"]), f["properties"]) for f in areas if f["properties"]["NAME"] in pilot
    ]
    outside = [
        (shape(f["geometry"]), f["properties"])
        for f in areas
        if f["properties"]["NAME"] not in pilot
    ]
    beats = [
        (shape(f["geometry"]), f["properties"]["name"]) for f in _features("spd-beats.geojson")
    ]
    calls: list[tuple[str, int, bool]] = []
    for call_type, per_year in YEARLY.items():
        calls += [(call_type, 3, rng.random() < 0.85) for _ in range(_poisson(rng, per_year / 365))]
    for call_type, priority in INELIGIBLE:
        calls += [(call_type, priority, rng.random() < 0.6) for _ in range(_poisson(rng, 4))]
    start = datetime.datetime.combine(day, datetime.time(0, 0), tzinfo=SEATTLE)
    rows = []
    for i, (call_type, priority, in_pilot) in enumerate(calls):
        polygon, props = rng.choice(inside if in_pilot else outside)
        point = _point_in(polygon, rng)
        beat = next((name for geom, name in beats if geom.covers(point)), "")
        # Daytime-heavy: most calls between 08:00 and 23:00.
        minutes = rng.triangular(6 * 60, 24 * 60 - 1, 15 * 60)
        queued = start + datetime.timedelta(minutes=minutes, seconds=rng.randint(0, 59))
        rows.append(
            {
                "CAD Event Number": f"{day:%Y}{day.timetuple().tm_yday:03d}{i:06d}",
                "Event Clearance Description": "",
                "Call Type": "911",
                "Priority": str(priority),
                "Initial Call Type": call_type,
                "Final Call Type": "",
                "Original Time Queued": queued.strftime(TIME_FORMAT),
                "Arrived Time": "",
                "Precinct": props.get("PRECINCT", ""),
                "Sector": "",
                "Beat": beat,
                "Blurred_Longitude": f"{point.x:.7f}",
                "Blurred_Latitude": f"{point.y:.7f}",
            }
        )
    yield from sorted(rows, key=queued_at)


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: fine for the small daily means here.
    limit, count, product = pow(2.718281828459045, -mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def write_csv(rows, path: Path) -> int:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        n = 0
        for row in rows:
            writer.writerow(row)
            n += 1
    return n
