"""The NEMSIS 3.5.1 naloxone export: what the tablet recorded comes back out of the XML element by
element, every file passes the NEMSIS TAC's own EMSDataSet_v3.xsd (vendored under
server/interop/standards/), what CARE does not record goes as a Not Value and is in the gap
report, a file the XSD refuses is never written, and no free text leaves."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from lxml import etree

from server.audit.models import AuditEntry
from server.care import services
from server.care.models import NaloxoneAdministration
from server.interop.conformance import nemsis_errors
from server.interop.nemsis import NemsisInvalid, export_naloxone, schema
from server.interop.selectors import naloxone_administrations

NS = {"n": "http://www.nemsis.org"}
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
NOTE_MARKER = "NOTE-MUST-NOT-LEAVE"


@pytest.fixture(autouse=True)
def agency(settings):
    settings.CARE_NEMSIS_AGENCY_STATE_ID = "WA-CARE-0001"
    settings.CARE_NEMSIS_AGENCY_NUMBER = "CARE0001"
    settings.CARE_NEMSIS_AGENCY_STATE = "53"


def _call_on_which_care_gave_naloxone(dispatched, people, move, *, cleared: bool):
    call = dispatched()
    steps = ("acknowledged", "en_route", "on_scene", "cleared")
    for step in steps if cleared else steps[:-1]:
        assert move("care1", call["care"], step).status_code == 200
        if cleared:  # both units back in service, free for another call
            assert move("officer1", call["spd"], step).status_code == 200
    return services.upsert_encounter(
        actor=people["care1"],
        encounter_id=uuid.uuid4(),
        assignment_id=call["care"],
        started_at=timezone.now(),
        changes={"people_contacted": 1, "disposition": "transferred-ems", "notes": NOTE_MARKER},
    )


@pytest.fixture
def encounter(dispatched, people, move):
    """An encounter on a call the CARE unit has cleared (back in service: eTimes.13)."""
    return _call_on_which_care_gave_naloxone(dispatched, people, move, cleared=True)


def _naloxone(people, encounter, **values) -> NaloxoneAdministration:
    data = {"administered_at": timezone.now(), "dose_mg": "4", "doses": 1, "route": "intranasal"}
    return services.record_naloxone(
        actor=people["care1"],
        administration_id=uuid.uuid4(),
        encounter_id=encounter.pk,
        **(data | values),
    )


@pytest.fixture
def two_doses(people, encounter):
    first = _naloxone(people, encounter, response="improved")
    second = _naloxone(
        people, encounter, route="intramuscular", dose_mg="0.4", doses=2, response="unknown"
    )
    return first, second


def _export(people):
    return export_naloxone(people["admin"], list(naloxone_administrations()))


def test_each_naloxone_administration_reads_back_from_the_xml_element_by_element(
    people, encounter, two_doses
):
    first, second = two_doses
    root = etree.fromstring(_export(people).xml)
    reports = root.findall("n:Header/n:PatientCareReport", NS)
    assert len(reports) == 1
    report = reports[0]
    assert report.findtext("n:eRecord/n:eRecord.01", namespaces=NS) == str(encounter.pk)
    cad = encounter.assignment.incident.cad_number
    assert report.findtext("n:eResponse/n:eResponse.03", namespaces=NS) == cad
    groups = {
        g.get("CorrelationID"): g
        for g in report.findall("n:eMedications/n:eMedications.MedicationGroup", NS)
    }
    assert set(groups) == {str(first.pk), str(second.pk)}

    one = groups[str(first.pk)]
    assert one.findtext("n:eMedications.01", namespaces=NS) == first.administered_at.isoformat(
        timespec="seconds"
    )
    assert one.findtext("n:eMedications.02", namespaces=NS) == "9923001"
    assert one.findtext("n:eMedications.03", namespaces=NS) == "7242"
    assert one.find("n:eMedications.03", NS).get("CodeType") == "9924003"  # RxNorm
    assert one.findtext("n:eMedications.04", namespaces=NS) == "9927017"
    assert one.findtext("n:eMedications.DosageGroup/n:eMedications.05", namespaces=NS) == "4.00"
    assert one.findtext("n:eMedications.DosageGroup/n:eMedications.06", namespaces=NS) == "3706021"
    assert one.findtext("n:eMedications.07", namespaces=NS) == "9916001"
    assert one.findtext("n:eMedications.10", namespaces=NS) == "9905021"

    two = groups[str(second.pk)]
    assert two.findtext("n:eMedications.04", namespaces=NS) == "9927015"
    # Two doses of 0.4 mg at one recorded time go as one administration of 0.8 mg.
    assert two.findtext("n:eMedications.DosageGroup/n:eMedications.05", namespaces=NS) == "0.80"
    unknown = two.find("n:eMedications.07", NS)
    assert unknown.text is None
    assert unknown.get("NV") == "7701003"
    assert unknown.get(XSI_NIL) == "true"
    disposition = "n:eDisposition/n:eDisposition.IncidentDispositionGroup/n:eDisposition.27"
    assert report.findtext(disposition, namespaces=NS) == "4227001"


def test_the_export_is_valid_against_nemsis_s_own_xsd(people, two_doses):
    assert nemsis_errors(_export(people).xml) == []


def test_a_dose_and_route_not_yet_recorded_go_as_not_recorded_and_the_file_stays_valid(
    people, encounter
):
    chosen = _naloxone(people, encounter)
    tapped = _naloxone(people, encounter, dose_mg=None, route=None)
    export = _export(people)
    assert nemsis_errors(export.xml) == []
    root = etree.fromstring(export.xml)
    groups = {
        g.get("CorrelationID"): g
        for g in root.iter("{http://www.nemsis.org}eMedications.MedicationGroup")
    }
    for name in ("eMedications.04", "eMedications.DosageGroup/n:eMedications.05"):
        sent = groups[str(tapped.pk)].find(f"n:{name}", NS)
        assert (sent.text, sent.get("NV"), sent.get(XSI_NIL)) == (None, "7701003", "true")
        assert groups[str(chosen.pk)].find(f"n:{name}", NS).get("NV") is None
    gaps = [element for element, _, _ in export.gaps[str(tapped.pk)]]
    assert {"eMedications.04", "eMedications.05"} <= set(gaps)


def test_the_header_and_record_carry_the_agency_and_software_from_settings(
    people, two_doses, settings
):
    settings.CARE_NEMSIS_SOFTWARE_VERSION = "9.9.9"
    root = etree.fromstring(_export(people).xml)
    demographic = root.find("n:Header/n:DemographicGroup", NS)
    assert [e.text for e in demographic] == ["WA-CARE-0001", "CARE0001", "53"]
    assert root.findtext(".//n:eResponse.AgencyGroup/n:eResponse.01", namespaces=NS) == "CARE0001"
    software = root.find(".//n:eRecord.SoftwareApplicationGroup", NS)
    assert [e.text for e in software] == ["CARE Field", "CARE Field", "9.9.9"]


def test_what_care_does_not_record_goes_as_the_right_not_value(people, two_doses):
    report = etree.fromstring(_export(people).xml).find(".//n:PatientCareReport", NS)

    def not_value(path: str) -> tuple[str | None, str | None, str | None]:
        element = report.find(path, NS)
        return element.text, element.get("NV"), element.get(XSI_NIL)

    assert not_value("n:ePatient/n:ePatient.AgeGroup/n:ePatient.15") == (None, "7701003", "true")
    assert not_value("n:eVitals/n:eVitals.VitalGroup/n:eVitals.01") == (None, "7701003", "true")
    assert not_value("n:eDisposition/n:eDisposition.16") == (None, "7701001", "true")
    assert not_value("n:eOutcome/n:eOutcome.01") == (None, "7701001", "true")
    # What CARE does record is sent as a value, never as a Not Value.
    assert report.find("n:eTimes/n:eTimes.06", NS).get("NV") is None
    assert report.findtext("n:eTimes/n:eTimes.13", namespaces=NS)
    # The sections stand in the XSD's order: eDispatch before eMedications, .08 before .10.
    sections = [etree.QName(e).localname for e in report]
    assert sections.index("eDispatch") < sections.index("eMedications")
    group = report.find(".//n:eMedications.MedicationGroup", NS)
    names = [etree.QName(e).localname for e in group]
    assert names.index("eMedications.08") < names.index("eMedications.10")


def test_an_export_without_the_agency_settings_is_refused_naming_them(people, two_doses, settings):
    settings.CARE_NEMSIS_AGENCY_NUMBER = ""
    with pytest.raises(NemsisInvalid) as refused:
        _export(people)
    assert set(refused.value.fields) == {"CARE_NEMSIS_AGENCY_NUMBER"}
    assert not AuditEntry.objects.filter(action="interop.nemsis_export").exists()


def test_a_file_the_xsd_refuses_is_not_written_and_its_element_is_named(
    tmp_path, two_doses, settings
):
    settings.CARE_NEMSIS_AGENCY_STATE = "WA"  # an ANSI state code is two digits
    with pytest.raises(CommandError) as refused:
        call_command("export_nemsis", str(tmp_path / "out"), stdout=io.StringIO())
    assert "dAgency.04" in str(refused.value)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_record_whose_unit_is_still_on_the_call_is_held_back_and_reported(
    people, dispatched, move, two_doses
):
    open_encounter = _call_on_which_care_gave_naloxone(dispatched, people, move, cleared=False)
    waiting = _naloxone(people, open_encounter, response="improved")
    export = _export(people)
    assert export.count == 2
    assert str(waiting.pk) not in export.xml.decode()
    [gap] = export.gaps[str(waiting.pk)]
    assert gap[:2] == ("eTimes.13", "held back")
    assert nemsis_errors(export.xml) == []


def test_the_schema_refuses_a_route_nemsis_does_not_list(people, two_doses):
    root = etree.fromstring(_export(people).xml)
    root.find(".//n:eMedications.04", NS).text = "intranasal"
    assert not schema().is_valid(root)


def test_the_schema_refuses_a_unit_disposition_outside_its_3_5_group(people, two_doses):
    root = etree.fromstring(_export(people).xml)
    disposition = root.find(".//n:eDisposition", NS)
    group = disposition.find("n:eDisposition.IncidentDispositionGroup", NS)
    disposition.replace(group, group.find("n:eDisposition.27", NS))
    assert not schema().is_valid(root)


def test_no_free_text_note_leaves_in_xml_csv_or_gap_report(people, encounter, two_doses):
    export = _export(people)
    for text in (export.xml.decode(), export.csv, export.gaps_csv):
        assert NOTE_MARKER not in text
        assert encounter.assignment.incident.address not in text
        assert "Man lying on the sidewalk" not in text


def test_the_csv_has_one_row_per_administration_with_the_same_codes(people, two_doses):
    first, second = two_doses
    rows = {row["CorrelationID"]: row for row in csv.DictReader(io.StringIO(_export(people).csv))}
    assert set(rows) == {str(first.pk), str(second.pk)}
    assert rows[str(first.pk)]["eMedications.04"] == "9927017"
    assert rows[str(first.pk)]["eMedications.07"] == "9916001"
    assert rows[str(second.pk)]["eMedications.05"] == "0.80"
    assert rows[str(second.pk)]["eMedications.07"] == "7701003"
    assert rows[str(second.pk)]["doses"] == "2"


def test_every_record_has_a_gap_report_and_unknowns_are_named(people, two_doses):
    first, second = two_doses
    gaps = list(csv.DictReader(io.StringIO(_export(people).gaps_csv)))
    by_record: dict[str, set[str]] = {}
    for gap in gaps:
        by_record.setdefault(gap["CorrelationID"], set()).add(gap["element"])
    assert {"eVitals.01", "ePatient.15", "eSituation.11"} <= by_record[str(first.pk)]
    # What 3.5 asks of every record beside the unit disposition, and CARE does not record.
    assert {"eMedications.08", "eDisposition.28", "eDisposition.30"} <= by_record[str(first.pk)]
    assert "eMedications.07" not in by_record[str(first.pk)]
    assert {"eMedications.07", "eMedications.01"} <= by_record[str(second.pk)]
    # Every Not Value in the file is in the gap report, with what was sent and why.
    root = etree.fromstring(_export(people).xml)
    in_file = {etree.QName(e).localname for e in root.iter() if e.get("NV")}
    named = by_record[str(first.pk)] | by_record[str(second.pk)]
    assert in_file == named - {"eMedications.01"}  # .01 is named for its two doses in one
    first_rows = [g for g in gaps if g["CorrelationID"] == str(first.pk)]
    assert all(g["sent as"] and g["why"] for g in first_rows)


def test_an_export_is_audited_with_what_it_contained(people, two_doses):
    _export(people)
    entry = AuditEntry.objects.get(action="interop.nemsis_export")
    assert entry.actor == people["admin"]
    assert entry.after["count"] == 2


def test_the_management_command_writes_xml_csv_and_gaps(tmp_path, two_doses):
    call_command("export_nemsis", str(tmp_path), stdout=io.StringIO())
    root = etree.parse(str(tmp_path / "nemsis-naloxone.xml")).getroot()
    assert len(root.findall(".//n:eMedications.MedicationGroup", NS)) == 2
    assert (tmp_path / "nemsis-gaps.csv").read_text().startswith("CorrelationID,")
    assert len((tmp_path / "nemsis-naloxone.csv").read_text().strip().splitlines()) == 3


def test_the_admin_action_returns_the_export_as_a_zip(client, people, two_doses):
    people["admin"].is_staff = people["admin"].is_superuser = True
    people["admin"].save()
    client.force_login(people["admin"])
    answer = client.post(
        "/admin/care/naloxoneadministration/",
        {"action": "export_nemsis", "_selected_action": [str(two_doses[0].pk)]},
    )
    assert answer.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert sorted(archive.namelist()) == [
        "nemsis-gaps.csv",
        "nemsis-naloxone.csv",
        "nemsis-naloxone.xml",
    ]
    root = etree.fromstring(archive.read("nemsis-naloxone.xml"))
    assert len(root.findall(".//n:eMedications.MedicationGroup", NS)) == 1


def test_the_admin_action_refuses_a_file_the_xsd_refuses_with_the_reason(
    client, people, two_doses, settings
):
    settings.CARE_NEMSIS_AGENCY_STATE = "WA"
    people["admin"].is_staff = people["admin"].is_superuser = True
    people["admin"].save()
    client.force_login(people["admin"])
    answer = client.post(
        "/admin/care/naloxoneadministration/",
        {"action": "export_nemsis", "_selected_action": [str(two_doses[0].pk)]},
        follow=True,
    )
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/html")
    assert "dAgency.04" in answer.content.decode()


# NEMSIS 3.5 eMedications.07, Response to Medication: Improved, Unchanged, Worse.
@pytest.mark.parametrize(
    ("response", "code"),
    [("improved", "9916001"), ("unchanged", "9916003"), ("worse", "9916005")],
)
def test_each_known_response_to_naloxone_goes_as_its_own_nemsis_code(
    people, encounter, response, code
):
    given = _naloxone(people, encounter, response=response)
    export = _export(people)
    root = etree.fromstring(export.xml)
    [group] = [
        g
        for g in root.iter("{http://www.nemsis.org}eMedications.MedicationGroup")
        if g.get("CorrelationID") == str(given.pk)
    ]
    assert group.findtext("n:eMedications.07", namespaces=NS) == code
    rows = {row["CorrelationID"]: row for row in csv.DictReader(io.StringIO(export.csv))}
    assert rows[str(given.pk)]["eMedications.07"] == code
