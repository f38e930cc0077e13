"""The public dashboard page, its CSV and the metrics API: whole published periods for the public,
ranges of days for signed-in staff (audited), a clear 400 for anything else, never a 500."""

from __future__ import annotations

import csv
import datetime
import io
import re

import pytest
from django.core.management import call_command

from server.audit.models import AuditEntry
from server.dispatch.models import Incident
from server.reports.charts import bar_chart
from server.reports.models import PublishedMonth
from server.reports.sample_history import write_sample_history

OCTOBER = datetime.date(2026, 10, 1)


@pytest.fixture(autouse=True)
def _published_when_closed(settings):
    settings.CARE_PUBLIC_FIGURES_DELAY_DAYS = 0


@pytest.fixture
def october(people):
    write_sample_history(start=OCTOBER, days=31, calls_per_day=12)


def test_the_dashboard_needs_no_sign_in_and_draws_its_charts_as_inline_svg(october, client):
    answer = client.get("/dashboard/?period=2026-10")

    assert answer.status_code == 200
    page = answer.content.decode()
    assert page.count("<svg") >= 4
    assert "October 2026" in page
    assert "Calls CARE responded to, by hour of day" in page
    assert 'id="police-time-freed-definition"' in page
    # Nothing from another host: no script tags at all, no absolute URLs to stylesheets.
    assert "<script" not in page.split("</main>")[0]
    assert not re.search(r'(src|href)="(https?:)?//', page)
    # The public gets no date-range form.
    assert 'name="from"' not in page


def test_the_dashboard_shows_a_suppressed_count_as_under_11_and_draws_no_bar_for_it(people, client):
    write_sample_history(start=OCTOBER, days=1, calls_per_day=6)

    page = client.get("/dashboard/?period=2026-10").content.decode()

    figures = re.findall(r'data-figure="([a-z_]+)">([^<]*)<', page)
    assert figures
    for name, shown in figures:
        assert not re.fullmatch(r"[1-9]|10", shown.strip()), (name, shown)
    assert "&lt;11" in page


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-10-01&to=2026-10-31",
        "to=0001-01-01",
        "from=0001-01-01&to=9999-12-31",
        "from=yesterday",
    ],
)
def test_the_public_asking_for_a_range_of_days_gets_a_clear_400_on_every_door(client, db, query):
    api = client.get(f"/api/v1/metrics?{query}")
    page = client.get(f"/dashboard/?{query}")
    download = client.get(f"/dashboard.csv?{query}")

    assert api.status_code == page.status_code == download.status_code == 400
    assert api.json()["code"] == "invalid"
    assert "per whole period" in api.json()["detail"]
    assert download.json() == api.json()
    assert "per whole period" in page.content.decode()


@pytest.mark.parametrize(
    "period, words",
    [
        ("2026-W43", "Weekly figures are not published"),
        ("2026-13", "is not a reporting period"),
        ("0001", "is not a reporting period"),
        ("9999-Q4", "is not a reporting period"),
        ("2026-Q5", "is not a reporting period"),
        ("26-10", "is not a reporting period"),
    ],
)
def test_a_period_that_is_not_a_month_quarter_or_year_answers_400(client, db, period, words):
    api = client.get(f"/api/v1/metrics?period={period}")
    page = client.get(f"/dashboard/?period={period}")
    download = client.get(f"/dashboard.csv?period={period}")

    assert api.status_code == page.status_code == download.status_code == 400
    assert words in api.json()["detail"]
    assert "period" in api.json()["fields"]
    assert words in page.content.decode()


def test_a_period_is_published_only_after_it_closes(client, db, settings):
    today = datetime.date.today()
    this_month = f"{today:%Y-%m}"
    this_year = f"{today:%Y}"

    for period in (this_month, this_year):
        answer = client.get(f"/api/v1/metrics?period={period}")
        assert answer.status_code == 400
        assert "published on" in answer.json()["detail"]
    assert not PublishedMonth.objects.filter(month=today.replace(day=1)).exists()

    settings.CARE_PUBLIC_FIGURES_DELAY_DAYS = 7
    closed_at = (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    answer = client.get(f"/api/v1/metrics?period={closed_at:%Y-%m}")
    assert answer.status_code == (400 if today.day <= 7 else 200)


def test_a_published_month_keeps_its_figures_when_a_record_changes_later(october, client):
    first = client.get("/api/v1/metrics?period=2026-10").json()
    changed = Incident.objects.filter(eligible=True)[:20]
    Incident.objects.filter(pk__in=[i.pk for i in changed]).update(eligible=False)
    again = client.get("/api/v1/metrics?period=2026-10").json()
    quarter = client.get("/api/v1/metrics?period=2026-Q4")

    assert again == first
    assert first["calls"] == 31 * 12
    assert first["period"] == "2026-10"
    assert first["from"] == "2026-10-01" and first["to"] == "2026-10-31"
    assert quarter.status_code == 400  # December has not closed


def test_without_a_period_the_public_gets_the_latest_published_month(client, db):
    answer = client.get("/api/v1/metrics").json()
    today = datetime.date.today()
    latest = (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)

    assert answer["period"] == f"{latest:%Y-%m}"
    assert answer["from"] == latest.isoformat()


@pytest.mark.parametrize("who", ["admin", "coordinator"])
def test_staff_may_ask_any_range_and_each_ask_is_audited(october, client, people, who):
    client.force_login(people[who])

    api = client.get("/api/v1/metrics?from=2026-10-03&to=2026-10-04")
    page = client.get("/dashboard/?from=2026-10-03&to=2026-10-04")
    download = client.get("/dashboard.csv?from=2026-10-03&to=2026-10-04")

    assert api.status_code == page.status_code == download.status_code == 200
    assert api.json()["calls"] == 24
    assert api.json()["period"] is None
    assert 'name="from"' in page.content.decode()
    audited = AuditEntry.objects.filter(action="metrics.range_viewed", actor=people[who])
    assert sorted(audited.values_list("after__where", flat=True)) == ["api", "csv", "page"]
    assert set(audited.values_list("object_id", flat=True)) == {"2026-10-03..2026-10-04"}


@pytest.mark.parametrize("who", ["dispatcher", "care1", "officer1"])
def test_other_roles_get_the_public_answer_to_a_range(client, people, who):
    client.force_login(people[who])

    assert client.get("/api/v1/metrics?from=2026-10-03&to=2026-10-04").status_code == 400
    assert not AuditEntry.objects.filter(action="metrics.range_viewed").exists()


@pytest.mark.parametrize("query", ["to=0001-01-01", "from=0001-01-01&to=2026-11-30"])
def test_staff_asking_for_dates_out_of_range_get_400_not_500(client, people, query):
    client.force_login(people["admin"])

    api = client.get(f"/api/v1/metrics?{query}")
    page = client.get(f"/dashboard/?{query}")
    download = client.get(f"/dashboard.csv?{query}")

    assert api.status_code == page.status_code == download.status_code == 400
    assert api.json()["code"] == "invalid"
    assert page.status_code == 400 and "problem" in page.content.decode()


def test_the_csv_is_a_download_named_for_its_period_with_the_apis_values(october, client):
    answer = client.get("/dashboard.csv?period=2026-10")
    api = client.get("/api/v1/metrics?period=2026-10").json()

    assert answer.status_code == 200
    assert "care-figures-2026-10.csv" in answer["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(answer.content.decode())))
    assert ["range", "period", "2026-10"] in rows
    assert ["figures", "calls", str(api["calls"])] in rows


def test_a_chart_with_a_withheld_cell_draws_no_bar_for_it():
    rows = [
        {"call_type": "A", "count": 40},
        {"call_type": "B", "count": "withheld"},
        {"call_type": "C", "count": "<11"},
    ]

    svg = bar_chart("By call type", rows, "call_type")

    assert svg.count('class="rect') == 1
    assert "withheld" not in svg and "&lt;11" not in svg


def test_the_nightly_job_publishes_the_months_that_are_due_and_fixes_them(people, client):
    this_month = datetime.date.today().replace(day=1)
    last_month = (this_month - datetime.timedelta(days=1)).replace(day=1)
    write_sample_history(start=last_month, days=28, calls_per_day=6)

    call_command("roll_up_metrics", verbosity=0)
    published = set(PublishedMonth.objects.values_list("month", flat=True))
    assert last_month in published
    assert this_month not in published

    stored = PublishedMonth.objects.get(month=last_month).figures
    Incident.objects.filter(eligible=True).update(eligible=False)
    call_command("roll_up_metrics", verbosity=0)

    assert PublishedMonth.objects.get(month=last_month).figures == stored
    answer = client.get(f"/api/v1/metrics?period={last_month:%Y-%m}").json()
    assert answer["eligible_calls"] != 0
