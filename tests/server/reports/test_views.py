"""The public dashboard page and its CSV: no sign-in, charts drawn on the server, nothing
fetched from another host, and no suppressed count in the page or its pictures."""

from __future__ import annotations

import datetime
import re

import pytest

from server.reports.charts import bar_chart
from server.reports.sample_history import write_sample_history


@pytest.fixture
def demo_history(people):
    write_sample_history(start=datetime.date(2026, 11, 1), days=10, calls_per_day=12)


def test_the_dashboard_needs_no_sign_in_and_draws_its_charts_as_inline_svg(demo_history, client):
    answer = client.get("/dashboard/?from=2026-11-01&to=2026-11-10")

    assert answer.status_code == 200
    page = answer.content.decode()
    assert page.count("<svg") >= 4
    assert "Calls CARE responded to, by hour of day" in page
    assert 'id="police-time-freed-definition"' in page
    # Nothing from another host: no script tags at all, no absolute URLs to stylesheets.
    assert "<script" not in page.split("</main>")[0]
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_the_dashboard_shows_a_suppressed_count_as_under_11_and_draws_no_bar_for_it(people, client):
    write_sample_history(start=datetime.date(2026, 11, 1), days=1, calls_per_day=6)

    page = client.get("/dashboard/?from=2026-11-01&to=2026-11-01").content.decode()

    figures = re.findall(r'data-figure="([a-z_]+)">([^<]*)<', page)
    assert figures
    for name, shown in figures:
        assert not re.fullmatch(r"[1-9]|10", shown.strip()), (name, shown)
    assert "&lt;11" in page


def test_a_date_that_is_not_a_date_shows_a_message_and_the_default_range(client, db):
    answer = client.get("/dashboard/?from=yesterday")

    assert answer.status_code == 200
    assert "Write dates as YYYY-MM-DD" in answer.content.decode()


def test_a_range_of_centuries_is_cut_to_five_years_ending_on_its_last_day(
    client, db, django_assert_max_num_queries
):
    with django_assert_max_num_queries(20):
        answer = client.get("/dashboard.csv?from=0001-01-01&to=2026-11-30")

    assert answer.status_code == 200
    assert "care-figures-2021-11-27-to-2026-11-30.csv" in answer["Content-Disposition"]
    page = client.get("/dashboard/?from=0001-01-01&to=2026-11-30").content.decode()
    assert "The page shows at most 1830 days" in page


def test_the_csv_is_a_download_named_for_its_range(client, db):
    answer = client.get("/dashboard.csv?from=2026-11-01&to=2026-11-30")

    assert answer.status_code == 200
    assert "care-figures-2026-11-01-to-2026-11-30.csv" in answer["Content-Disposition"]


def test_a_chart_with_a_withheld_cell_draws_no_bar_for_it():
    rows = [
        {"call_type": "A", "count": 40},
        {"call_type": "B", "count": "withheld"},
        {"call_type": "C", "count": "<11"},
    ]

    svg = bar_chart("By call type", rows, "call_type")

    assert svg.count('class="rect') == 1
    assert "withheld" not in svg and "&lt;11" not in svg
