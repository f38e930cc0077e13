"""The de-identified research extract: no names, notes, addresses or ids that lead back to a
record leave in the CSV or the Parquet file; every combination of week, beat, age band and call
type it shows is shared by at least 11 rows; cells a spreadsheet would run are text."""

from __future__ import annotations

import csv
import datetime
import io
import uuid
import zipfile

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from server.audit.models import AuditEntry
from server.care.models import (
    DirectoryService,
    Disposition,
    Encounter,
    NaloxoneAdministration,
    Referral,
    ServiceGiven,
    ServiceType,
)
from server.dispatch.models import (
    Assignment,
    AssignmentStatus,
    CallType,
    Incident,
    Recommendation,
    UnitKind,
)
from server.interop.research import K, research_extract
from server.interop.selectors import research_encounters

MARKERS = {
    "name": "Zebulon Quickfeather",
    "initials": "ZQ",
    "encounter_note": "ENCOUNTER-NOTE-MARKER",
    "service_note": "SERVICE-NOTE-MARKER",
    "referral_note": "REFERRAL-NOTE-MARKER",
    "narrative": "NARRATIVE-MARKER",
    "address": "4321 Marker Ave N",
    "safety_note": "SAFETY-NOTE-MARKER",
}
# A Monday afternoon in Seattle (so every encounter falls in one week).
MONDAY = datetime.datetime(2026, 11, 16, 12, 0, tzinfo=datetime.UTC) + datetime.timedelta(hours=8)


def _encounter(people, units, *, birth_year=1980, beat="M1", offset=0) -> Encounter:
    started = MONDAY + datetime.timedelta(hours=offset)
    incident = Incident.objects.create(
        cad_number=f"R-{uuid.uuid4().hex[:12]}",
        call_type=CallType.objects.filter(eligible=True).first(),
        priority=3,
        address=MARKERS["address"],
        latitude=47.6107,
        longitude=-122.3396,
        narrative=f"{MARKERS['narrative']} {MARKERS['name']}",
        received_at=started - datetime.timedelta(minutes=20),
        beat=beat,
        recommendation=Recommendation.DUAL_DISPATCH,
        dispatch_model="911_led",
        response="dual",
        created_by=people["dispatcher"],
    )
    assignment = Assignment.objects.create(
        incident=incident,
        unit=units["CARE-1"],
        kind=UnitKind.CARE,
        status=AssignmentStatus.CLEARED,
        dispatched_at=started - datetime.timedelta(minutes=15),
        on_scene_at=started,
        cleared_at=started + datetime.timedelta(minutes=40),
        safety_note=MARKERS["safety_note"],
    )
    encounter = Encounter.objects.create(
        id=uuid.uuid4(),
        recorded_by=people["care1"],
        assignment=assignment,
        started_at=started,
        client_initials=MARKERS["initials"],
        client_birth_year=birth_year,
        disposition=Disposition.objects.get(code="referred"),
        notes=f"{MARKERS['encounter_note']} {MARKERS['name']}",
    )
    ServiceGiven.objects.create(
        id=uuid.uuid4(),
        recorded_by=people["care1"],
        encounter=encounter,
        service=ServiceType.objects.first(),
        occurred_at=started,
        note=MARKERS["service_note"],
    )
    NaloxoneAdministration.objects.create(
        id=uuid.uuid4(),
        recorded_by=people["care1"],
        encounter=encounter,
        administered_at=started,
        dose_mg="4",
        route="intranasal",
        response="improved",
    )
    Referral.objects.create(
        id=uuid.uuid4(),
        recorded_by=people["care1"],
        encounter=encounter,
        service=DirectoryService.objects.first(),
        consent=True,
        status="connected",
        note=MARKERS["referral_note"],
        made_at=started,
    )
    return encounter


@pytest.fixture
def crowd(people, units):
    """K encounters alike, and one whose age band is unlike any other."""
    alike = [_encounter(people, units, offset=i) for i in range(K)]
    odd = _encounter(people, units, birth_year=1940, offset=K)
    return alike, odd


def _extract(people):
    return research_extract(people["admin"], research_encounters())


def _parquet_rows(extract) -> list[dict]:
    return pq.read_table(io.BytesIO(extract.parquet())).to_pylist()


def test_no_name_note_address_or_narrative_leaves_in_csv_or_parquet(people, crowd):
    extract = _extract(people)
    texts = [extract.csv(), str(_parquet_rows(extract))]
    for text in texts:
        for what, marker in MARKERS.items():
            if what == "initials":
                continue  # two letters also occur inside words; checked by column below
            assert marker not in text, what
    assert all(row["age_band"] != "ZQ" for row in extract.rows)


def test_no_id_that_links_back_to_a_record_or_a_person_leaves(people, crowd):
    alike, odd = crowd
    extract = _extract(people)
    text = extract.csv() + str(_parquet_rows(extract))
    for encounter in [*alike, odd]:
        assignment = encounter.assignment
        for value in (encounter.pk, assignment.pk, assignment.incident.pk):
            assert str(value) not in text
        assert assignment.incident.cad_number not in text
    for username in ("care1", "dispatcher"):
        assert username not in text
    header = next(csv.reader(io.StringIO(extract.csv())))
    forbidden = {
        "id",
        "encounter_id",
        "incident_id",
        "cad_number",
        "address",
        "latitude",
        "longitude",
        "notes",
        "narrative",
        "client_initials",
        "client_birth_year",
        "recorded_by",
        "unit",
    }
    assert not forbidden & set(header)


def test_dates_are_weeks_and_ages_are_bands(people, crowd):
    rows = _extract(people).rows
    assert {row["week"] for row in rows} == {"2026-11-16"}
    assert {row["age_band"] for row in rows} == {"45-54"}
    assert {row["beat"] for row in rows} == {"M1"}


def test_a_combination_shared_by_fewer_than_eleven_is_not_shown(people, crowd):
    extract = _extract(people)
    combos: dict[tuple, int] = {}
    for row in extract.rows:
        key = (row["week"], row["beat"], row["age_band"], row["call_type"])
        combos[key] = combos.get(key, 0) + 1
    assert min(combos.values()) >= 11
    # The one person aged 86 is neither shown with their band nor counted in a small cell.
    assert all(row["age_band"] != "65 and over" for row in extract.rows)
    assert len(extract.rows) + extract.left_out == K + 1


def test_ten_alike_are_too_few_to_show_at_all(people, units):
    for i in range(K - 1):
        _encounter(people, units, offset=i)
    extract = _extract(people)
    assert extract.rows == []
    assert extract.left_out == K - 1


def test_the_csv_and_parquet_hold_the_same_rows_and_the_outcomes(people, crowd):
    extract = _extract(people)
    parquet = _parquet_rows(extract)
    from_csv = list(csv.DictReader(io.StringIO(extract.csv())))
    assert len(parquet) == len(from_csv) == len(extract.rows) == K
    row = parquet[0]
    assert row["minutes_dispatch_to_scene"] == "10-19"  # 15 minutes, as a band
    assert row["minutes_on_scene"] == "30-59"  # 40 minutes
    assert row["naloxone_administrations"] == 1
    assert row["naloxone_improved"] is True
    assert row["referral_best_status"] == "connected"
    assert from_csv[0]["minutes_on_scene"] == "30-59"


def test_every_column_is_in_the_dictionary(people, crowd):
    extract = _extract(people)
    described = {row["column"] for row in csv.DictReader(io.StringIO(extract.dictionary()))}
    header = next(csv.reader(io.StringIO(extract.csv())))
    assert set(header) <= described


def test_a_cell_a_spreadsheet_would_run_is_written_as_text(people, units):
    formula = CallType.objects.create(code='=HYPERLINK("evil")', eligible=True)
    for i in range(K):
        incident = _encounter(people, units, offset=i).assignment.incident
        incident.call_type = formula
        incident.save()
    rows = list(csv.DictReader(io.StringIO(_extract(people).csv())))
    assert {row["call_type"] for row in rows} == {'\'=HYPERLINK("evil")'}


def test_an_extract_is_audited(people, crowd):
    _extract(people)
    entry = AuditEntry.objects.get(action="interop.research_extract")
    assert entry.actor == people["admin"]
    assert entry.after == {"rows": K, "left_out": 1, "k": K}


def test_the_management_command_writes_csv_parquet_and_dictionary(tmp_path, crowd):
    call_command("export_research", str(tmp_path), stdout=io.StringIO())
    assert pq.read_table(tmp_path / "care-research.parquet").num_rows == K
    assert (tmp_path / "care-research-dictionary.csv").exists()
    assert len((tmp_path / "care-research.csv").read_text().strip().splitlines()) == K + 1


def test_the_admin_action_returns_the_extract_as_a_zip(client, people, crowd):
    people["admin"].is_staff = people["admin"].is_superuser = True
    people["admin"].save()
    client.force_login(people["admin"])
    alike, odd = crowd
    answer = client.post(
        "/admin/care/encounter/",
        {"action": "export_research", "_selected_action": [str(e.pk) for e in [*alike, odd]]},
    )
    assert answer.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert sorted(archive.namelist()) == [
        "care-research-dictionary.csv",
        "care-research.csv",
        "care-research.parquet",
    ]
