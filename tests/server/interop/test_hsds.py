"""The directory from Open Referral HSDS 3.0, against publications written by hand from the spec
(tests/server/interop/hsds/): the JSON form and the tabular data package, each with bad rows."""

from __future__ import annotations

import datetime
import http.server
import io
import json
import shutil
import threading
import uuid
import zipfile
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from server.audit.models import AuditEntry
from server.care import services
from server.care.models import DirectoryService, Referral
from server.care.opening import opening
from server.feed.models import Event
from server.interop.conformance import hsds_errors, hsds_page_errors
from server.interop.hsds import PublicationError, import_hsds, import_publication, read_json

HERE = Path(__file__).parent / "hsds"
JSON_FORM = HERE / "publication.json"
TABULAR = HERE / "tabular"
NIGHT_SHELTER = "8d2e5c10-1a2b-4c3d-8e9f-000000000001"
DROP_IN = "8d2e5c10-1a2b-4c3d-8e9f-000000000002"
EVENING = "8d2e5c10-1a2b-4c3d-8e9f-000000000003"
SOURCE = "harbor-and-eastside"


def _names(items) -> set[str]:
    return {item["name"] for item in items}


def _directory_events() -> int:
    return Event.objects.filter(stream_id="directory", kind="directory.updated").count()


def test_the_json_form_adds_its_services_and_refuses_each_bad_row_with_a_reason(reference):
    report = import_hsds(None, str(JSON_FORM), SOURCE)
    assert _names(report.added) == {"Night shelter", "Peer recovery drop-in", "Evening meeting"}
    refused = {item["name"]: item["reason"] for item in report.refused}
    assert set(refused) == {
        "Row with a bad id",
        "Row with an unknown organization",
        "Row with a status HSDS does not have",
        "Row with a bad email",
    }
    assert "UUID" in refused["Row with a bad id"]
    assert "organization" in refused["Row with an unknown organization"]
    assert "'open'" in refused["Row with a status HSDS does not have"]
    assert "mail" in refused["Row with a bad email"].lower()
    assert not DirectoryService.objects.filter(name__startswith="Row with").exists()


def test_an_imported_service_keeps_its_hsds_links_schedule_and_capacity(reference):
    import_hsds(None, str(JSON_FORM), SOURCE)
    shelter = DirectoryService.objects.get(hsds_id=NIGHT_SHELTER)
    assert str(shelter.pk) == NIGHT_SHELTER
    assert shelter.organization == "Harbor Light Outreach"
    assert shelter.organization_hsds_id == "6a0c1f3e-2b1d-4e6f-9a3b-000000000001"
    assert shelter.source == SOURCE
    assert shelter.source_updated_at == datetime.datetime(2026, 11, 20, 10, tzinfo=datetime.UTC)
    assert shelter.phone == "206-555-0100"
    assert shelter.address == "100 Example Way N, Seattle"
    assert shelter.category == "shelter"
    assert shelter.schedules[0]["opens_at"] == "19:00"
    assert shelter.capacity[0]["available"] == 12
    assert shelter.capacity[0]["unit"] == "beds"
    # The organization's phone stands in for a service that has none of its own.
    assert DirectoryService.objects.get(hsds_id=DROP_IN).phone == "206-555-0199"


def test_the_tabular_package_gives_the_same_services_and_refuses_rows_its_schema_refuses(
    reference,
):
    report = import_hsds(None, str(TABULAR), SOURCE)
    assert _names(report.added) == {"Night shelter", "Peer recovery drop-in", "Evening meeting"}
    refused = {(item["table"], item["id"]): item["reason"] for item in report.refused}
    assert ("service", "8d2e5c10-1a2b-4c3d-8e9f-000000000006") in refused
    assert ("service_capacity", "0a1b2c3d-4e5f-4a6b-9c7d-000000000002") in refused
    shelter = DirectoryService.objects.get(hsds_id=NIGHT_SHELTER)
    assert shelter.capacity[0]["available"] == 12 and shelter.capacity[0]["maximum"] == 40
    assert shelter.address == "100 Example Way N, Seattle"


def test_a_service_whose_status_is_not_active_is_not_offered(reference, client_for):
    import_hsds(None, str(JSON_FORM), SOURCE)
    assert DirectoryService.objects.get(hsds_id=EVENING).active is False
    listed = client_for("care1").get("/api/v1/directory/services").json()
    names = {service["name"] for service in listed}
    assert "Night shelter" in names
    assert "Evening meeting" not in names


def test_a_re_run_changes_nothing_and_publishes_nothing(reference):
    import_hsds(None, str(JSON_FORM), SOURCE)
    events, audits = _directory_events(), AuditEntry.objects.count()
    before = {s.pk: s.updated_at for s in DirectoryService.objects.all()}
    again = import_hsds(None, str(JSON_FORM), SOURCE)
    assert (again.added, again.changed, again.deactivated) == ([], [], [])
    assert _directory_events() == events
    assert AuditEntry.objects.count() == audits
    assert {s.pk: s.updated_at for s in DirectoryService.objects.all()} == before


def test_an_import_that_changes_something_publishes_directory_updated_and_is_audited(reference):
    events = _directory_events()
    import_hsds(None, str(JSON_FORM), SOURCE)
    event = Event.objects.filter(stream_id="directory", kind="directory.updated").last()
    assert _directory_events() == events + 1
    assert event.data["added"] == 3
    assert AuditEntry.objects.filter(action="directory.imported", object_id=SOURCE).exists()


def test_a_changed_field_is_reported_by_name(reference):
    import_hsds(None, str(JSON_FORM), SOURCE)
    data = json.loads(JSON_FORM.read_text())
    data["service"][1]["description"] = "Walk in, or call ahead."
    report = import_publication(None, read_json(data), SOURCE)
    assert report.changed == [{"id": DROP_IN, "name": "Peer recovery drop-in",
                               "fields": ["description"]}]  # fmt: skip


def test_a_service_missing_from_the_next_import_is_taken_out_of_use_not_deleted(
    reference, dispatched, people
):
    import_hsds(None, str(JSON_FORM), SOURCE)
    call = dispatched()
    encounter = services.upsert_encounter(
        actor=people["care1"], encounter_id=uuid.uuid4(), assignment_id=call["care"],
        started_at=timezone.now(), changes={"people_contacted": 1},
    )  # fmt: skip
    referral = services.create_referral(
        actor=people["care1"], referral_id=uuid.uuid4(), encounter_id=encounter.pk,
        service=DROP_IN, consent=True, made_at=timezone.now(),
    )  # fmt: skip
    data = json.loads(JSON_FORM.read_text())
    data["service"] = [s for s in data["service"] if s["id"] != DROP_IN]
    report = import_publication(None, read_json(data), SOURCE)
    assert report.deactivated == [{"id": DROP_IN, "name": "Peer recovery drop-in"}]
    gone = DirectoryService.objects.get(pk=DROP_IN)
    assert gone.active is False
    assert Referral.objects.get(pk=referral.pk).service_id == gone.pk
    # Another source's services are not touched by this source's import.
    assert DirectoryService.objects.filter(source="fixtures/directory-hsds.json", active=True)


def test_the_demo_directory_is_an_hsds_publication_loaded_by_the_importer(reference):
    demo = DirectoryService.objects.filter(source="fixtures/directory-hsds.json")
    assert demo.count() == 11
    lifeline = demo.get(name="988 Suicide & Crisis Lifeline")
    assert lifeline.phone == "988"
    assert lifeline.category == "crisis"
    assert lifeline.hsds_id == "0b7f0a52-5d2c-4c57-9b65-6f1d1a4e0005"
    assert opening(lifeline.schedules)["text"] == "Open now (24 hours)"


def test_the_directory_payload_says_open_now_and_shows_capacity(reference, client_for):
    import_hsds(None, str(JSON_FORM), SOURCE)
    listed = {s["name"]: s for s in client_for("care1").get("/api/v1/directory/services").json()}
    assert listed["Mobile Crisis Team"]["opening"]["open_now"] is True
    shelter = listed["Night shelter"]
    assert shelter["opening"]["open_now"] in (True, False)
    assert shelter["opening"]["text"].startswith(("Open now", "Opens at"))
    assert shelter["capacity"]["text"].startswith("12 of 40 beds available")
    assert listed["Peer recovery drop-in"]["capacity"] is None


def test_the_snapshot_carries_the_same_directory_payload(reference, client_for):
    import_hsds(None, str(JSON_FORM), SOURCE)
    answer = client_for("care1").get("/api/v1/sync/snapshot")
    assert answer.status_code == 200, answer.content
    by_name = {s["name"]: s for s in answer.json()["directory"]}
    assert by_name["Night shelter"]["capacity"]["items"][0]["maximum"] == 40
    assert "opening" in by_name["Night shelter"]


SEATTLE_MONDAY_NOON = datetime.datetime(2026, 11, 16, 20, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (SEATTLE_MONDAY_NOON, "Open now, until 16:00"),
        (SEATTLE_MONDAY_NOON + datetime.timedelta(hours=6), "Opens Wed 10:00"),
        (SEATTLE_MONDAY_NOON - datetime.timedelta(hours=3), "Opens at 10:00"),
    ],
)
def test_opening_follows_the_weekly_schedule_in_seattle_time(settings, now, expected):
    settings.TIME_ZONE = "America/Los_Angeles"
    schedule = {"freq": "WEEKLY", "byday": "MO,WE,FR", "opens_at": "10:00", "closes_at": "16:00"}
    assert opening([schedule], now)["text"] == expected


def test_an_overnight_schedule_is_open_after_midnight_and_a_lapsed_one_never(settings):
    settings.TIME_ZONE = "America/Los_Angeles"
    night = {"freq": "WEEKLY", "byday": "MO", "opens_at": "19:00", "closes_at": "07:00"}
    tuesday_2am = datetime.datetime(2026, 11, 17, 10, 0, tzinfo=datetime.UTC)
    assert opening([night], tuesday_2am)["open_now"] is True
    lapsed = {**night, "valid_to": "2026-11-01"}
    assert opening([lapsed], tuesday_2am) == {
        "open_now": None, "opens_at": None, "closes_at": None, "text": ""
    }  # fmt: skip


def test_a_monthly_schedule_on_the_second_tuesday(settings):
    settings.TIME_ZONE = "America/Los_Angeles"
    clinic = {"freq": "MONTHLY", "byday": "2TU", "opens_at": "09:00", "closes_at": "12:00"}
    monday = datetime.datetime(2026, 12, 7, 20, 0, tzinfo=datetime.UTC)
    assert opening([clinic], monday)["text"] == "Opens Tue 09:00"
    assert opening([clinic], monday)["opens_at"].startswith("2026-12-08T09:00")


def test_the_directory_is_published_as_hsds_and_reads_back_unchanged(reference, client_for):
    import_hsds(None, str(JSON_FORM), SOURCE)
    answer = client_for("coordinator").get("/api/v1/directory.hsds.json")
    assert answer.status_code == 200
    body = answer.json()
    assert body["total_items"] == DirectoryService.objects.count()
    by_id = {s["id"]: s for s in body["contents"]}
    shelter = by_id[NIGHT_SHELTER]
    assert shelter["organization"]["id"] == "6a0c1f3e-2b1d-4e6f-9a3b-000000000001"
    assert shelter["capacities"][0]["unit"]["name"] == "beds"
    assert by_id[EVENING]["status"] == "temporarily closed"
    # Our own publication, read by our own importer under the same source, changes nothing.
    mine = [s for s in body["contents"] if s["id"] in (NIGHT_SHELTER, DROP_IN, EVENING)]
    report = import_publication(None, read_json(mine), SOURCE)
    assert (report.added, report.changed, report.deactivated, report.refused) == ([], [], [], [])


def test_an_officer_cannot_read_the_hsds_directory(reference, client_for):
    assert client_for("officer1").get("/api/v1/directory.hsds.json").status_code == 403


def test_the_command_reads_a_publication_from_a_url_served_for_real(reference, tmp_path):
    shutil.copytree(TABULAR, tmp_path / "pkg")
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "pkg"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        out = io.StringIO()
        url = f"http://127.0.0.1:{server.server_address[1]}/datapackage.json"
        call_command("import_hsds", url, "--source", SOURCE, stdout=out)
    finally:
        server.shutdown()
        server.server_close()
    assert "3 added" in out.getvalue()
    assert DirectoryService.objects.filter(source=SOURCE).count() == 3


def test_a_file_that_is_not_a_publication_is_refused_whole(reference, tmp_path):
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": "world"}')
    with pytest.raises(PublicationError):
        import_hsds(None, str(junk), SOURCE)
    assert not DirectoryService.objects.filter(source=SOURCE).exists()


def test_a_zip_whose_paths_climb_out_is_refused(reference, tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("../../escape.json", "{}")
    with pytest.raises(PublicationError):
        import_hsds(None, str(bad), SOURCE)


def test_the_admin_upload_imports_a_zipped_package_and_shows_the_report(reference, client, people):
    people["admin"].is_staff = people["admin"].is_superuser = True
    people["admin"].save()
    client.force_login(people["admin"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in TABULAR.iterdir():
            archive.write(path, path.name)
    buffer.seek(0)
    buffer.name = "package.zip"
    answer = client.post(
        "/admin/care/directoryservice/import-hsds/", {"source": SOURCE, "publication": buffer}
    )
    assert answer.status_code == 200
    text = answer.content.decode()
    assert "3 added" in text
    assert "refused service" in text
    assert DirectoryService.objects.filter(source=SOURCE).count() == 3


def test_the_coordinators_referral_page_shows_hours_and_capacity(
    reference, dispatched, people, client
):
    import_hsds(None, str(JSON_FORM), SOURCE)
    call = dispatched()
    encounter = services.upsert_encounter(
        actor=people["care1"], encounter_id=uuid.uuid4(), assignment_id=call["care"],
        started_at=timezone.now(), changes={"people_contacted": 1},
    )  # fmt: skip
    referral = services.create_referral(
        actor=people["care1"], referral_id=uuid.uuid4(), encounter_id=encounter.pk,
        service=NIGHT_SHELTER, consent=True, made_at=timezone.now(),
    )  # fmt: skip
    client.force_login(people["coordinator"])
    page = client.get(f"/coordinator/referrals/{referral.pk}/").content.decode()
    assert "12 of 40 beds available" in page
    assert 'id="service-opening"' in page
    assert ("Open now" in page) or ("Opens at 19:00" in page)


# ---- the publication against Open Referral's own compiled schemas (server/interop/standards) --


def _published(client_for) -> dict:
    answer = client_for("coordinator").get("/api/v1/directory.hsds.json")
    assert answer.status_code == 200
    return answer.json()


def test_the_published_page_and_every_service_in_it_validate_against_hsds_3_0(
    reference, client_for
):
    import_hsds(None, str(JSON_FORM), SOURCE)
    page = _published(client_for)
    assert len(page["contents"]) >= 4  # the demo directory and the imported services
    assert hsds_page_errors("service_list", page) == []
    for service in page["contents"]:
        assert hsds_errors("service", service) == [], service["name"]
        assert hsds_errors("organization", service["organization"]) == [], service["name"]
        for at in service["service_at_locations"]:
            assert hsds_errors("service_at_location", at) == [], service["name"]


def test_a_service_with_a_category_and_an_address_publishes_both_validly(reference, client_for):
    import_hsds(None, str(JSON_FORM), SOURCE)
    shelter = next(s for s in _published(client_for)["contents"] if s["id"] == NIGHT_SHELTER)
    assert shelter["attributes"][0]["taxonomy_term"]["description"]
    assert shelter["service_at_locations"][0]["location"]["name"].startswith("100 Example Way N")
    assert hsds_errors("service", shelter) == []


def test_the_official_schema_refuses_a_taxonomy_term_without_its_description(reference, client_for):
    # The other side of the rule: the check above would catch what the issue found.
    import_hsds(None, str(JSON_FORM), SOURCE)
    shelter = next(s for s in _published(client_for)["contents"] if s["id"] == NIGHT_SHELTER)
    del shelter["attributes"][0]["taxonomy_term"]["description"]
    errors = hsds_errors("service", shelter)
    assert errors and "'description' is a required property" in errors[0]
    page = {"total_items": "one", "contents": [shelter]}
    assert hsds_page_errors("service_list", page) == [
        "/total_items: 'one' is not of type 'integer'"
    ]


# December 2026: Sunday the 6th; Thursdays the 24th and 31st (its last day); Fridays the 4th,
# 11th, 18th and 25th. February 2027 (28 days): Fridays the 5th, 12th, 19th and 26th.
def _seattle_noon(day: str) -> datetime.datetime:
    return datetime.datetime.combine(
        datetime.date.fromisoformat(day),
        datetime.time(12, 0),
        tzinfo=ZoneInfo("America/Los_Angeles"),
    )


def _monthly_opening(settings, now: str, **schedule) -> dict:
    settings.TIME_ZONE = "America/Los_Angeles"
    clinic = {"freq": "MONTHLY", "opens_at": "09:00", "closes_at": "12:00", **schedule}
    return opening([clinic], _seattle_noon(now))


@pytest.mark.parametrize(
    ("bymonthday", "now", "opens"),
    [
        ("15", "2026-12-14", "2026-12-15"),
        ("-1", "2026-12-28", "2026-12-31"),
        ("-2", "2026-12-28", "2026-12-30"),
        ("1,-1", "2026-12-28", "2026-12-31"),
        ("1", "2026-12-28", "2027-01-01"),
        ("-1", "2027-02-22", "2027-02-28"),
        ("1", "2026-12-16", None),
    ],
)
def test_a_monthly_schedule_on_days_of_the_month_counts_back_from_the_month_s_end(
    settings, bymonthday, now, opens
):
    answer = _monthly_opening(settings, now, bymonthday=bymonthday)
    if opens is None:  # no day named falls in the week looked ahead
        assert answer["open_now"] is None
    else:
        assert answer["opens_at"].startswith(f"{opens}T09:00")


@pytest.mark.parametrize(
    ("byday", "now", "opens"),
    [
        ("FR", "2026-12-17", "2026-12-18"),
        ("1SU", "2026-12-03", "2026-12-06"),
        ("3FR", "2026-12-17", "2026-12-18"),
        ("4FR", "2026-12-17", None),
        ("-1FR", "2026-12-21", "2026-12-25"),
        ("-1FR", "2026-12-17", None),
        ("-2FR", "2026-12-17", "2026-12-18"),
        ("-1TH", "2026-12-21", None),
        ("-1TH", "2026-12-28", "2026-12-31"),
        ("-1FR", "2027-02-22", "2027-02-26"),
    ],
)
def test_a_monthly_schedule_on_an_ordinal_weekday_counts_negative_ordinals_from_the_end(
    settings, byday, now, opens
):
    answer = _monthly_opening(settings, now, byday=byday)
    if opens is None:  # the weekday in the week looked ahead is not the one named
        assert answer["open_now"] is None
    else:
        assert answer["opens_at"].startswith(f"{opens}T09:00")
