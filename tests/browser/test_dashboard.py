"""The public dashboard in a real browser: charts drawn, CSV equal to the API, nothing under 11."""

from __future__ import annotations

import csv
import datetime
import io
import re
from zoneinfo import ZoneInfo

from tests.browser.conftest import screenshot, sign_in

SEATTLE = ZoneInfo("America/Los_Angeles")


def seattle_today() -> datetime.date:
    """The server counts days in Seattle; between 00:00 and 08:00 UTC the UTC date is tomorrow."""
    return datetime.datetime.now(SEATTLE).date()


def test_the_dashboard_draws_its_charts_and_its_csv_agrees_with_the_api(site, page):
    today = seattle_today()
    start = (today - datetime.timedelta(days=31)).isoformat()
    query = f"from={start}&to={today.isoformat()}"
    # A range of days is for signed-in staff (the public picks a whole closed period).
    sign_in(page, site, "coordinator")

    page.goto(f"{site}/dashboard/")
    page.get_by_label("From").fill(start)
    page.get_by_label("To").fill(today.isoformat())
    page.get_by_role("button", name="Show range").click()
    page.wait_for_url(re.compile(r".*from=.*"))

    # The stylesheet came from our own static files (no CDN): the header has its colour.
    header = page.evaluate(
        "getComputedStyle(document.querySelector('header.site')).backgroundColor"
    )
    assert header == "rgb(18, 40, 76)"
    charts = page.locator("figure.chart svg")
    assert charts.count() == 4
    assert charts.first.is_visible()
    assert page.locator("figure.chart svg rect.rect").count() > 10  # bars were drawn
    screenshot(page, "dashboard")

    api = page.request.get(f"{site}/api/v1/metrics?{query}").json()
    download = page.request.get(f"{site}/dashboard.csv?{query}")
    rows = list(csv.reader(io.StringIO(download.text())))
    assert rows[:3] == [
        ["section", "item", "value"],
        ["range", "from", start],
        ["range", "to", today.isoformat()],
    ]
    # Each figure the API answers, looked up by the test, is the CSV's value for it.
    for key, value in api.items():
        not_figures = ("from", "to", "period", "period_label")
        if not isinstance(value, (list, dict)) and key not in not_figures:
            assert ["figures", key, "" if value is None else str(value)] in rows
    for row in api["care_responded_by_call_type"]:
        assert ["care_responded_by_call_type", row["call_type"], str(row["count"])] in rows
    assert len(rows) > 3 + len(api["care_responded_by_call_type"])
    assert int(page.locator('[data-figure="care_responded"]').inner_text()) == api["care_responded"]


def test_no_count_under_11_shows_on_the_page_for_a_single_quiet_day(site, page):
    day = (seattle_today() - datetime.timedelta(days=3)).isoformat()
    sign_in(page, site, "coordinator")

    page.goto(f"{site}/dashboard/?from={day}&to={day}")

    shown = page.locator("[data-figure]").all_inner_texts()
    cells = page.locator("td.num").all_inner_texts()
    for text in shown + cells:
        assert not re.fullmatch(r"[1-9]|10", text.strip()), text
    assert "<11" in shown + cells
    screenshot(page, "dashboard-one-day")


def test_the_public_picks_a_whole_closed_period_and_gets_no_range_of_days(site, page):
    page.goto(f"{site}/dashboard/")

    assert page.get_by_label("From").count() == 0
    choices = page.locator("#period option").all_inner_texts()
    assert len(choices) >= 12
    page.get_by_label("Period", exact=True).select_option(index=1)
    page.get_by_role("button", name="Show", exact=True).click()
    page.wait_for_url(re.compile(r".*period=.*"))
    assert page.locator('[data-figure="calls"]').count() == 1
    screenshot(page, "dashboard-public-period")
