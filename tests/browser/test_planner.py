"""The planner page in a real browser: a supervisor takes the program's own calls as a history,
runs today's program with a target share, and checks the model against the record."""

from __future__ import annotations

import re

from tests.browser.conftest import screenshot, sign_in


def test_a_supervisor_plans_from_the_programs_own_calls(site, page):
    sign_in(page, site, "admin")
    page.goto(f"{site}/planner/")
    page.get_by_role("button", name="Use the program's own calls as a history").click()
    page.wait_for_load_state()

    page.get_by_label("Scenario", exact=True).select_option(label="Today's program")
    page.get_by_label("Teams for a target share (%)").fill("80")
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_url(re.compile(r".*/planner/\?run=\d+"), timeout=120_000)

    results = page.locator("#results")
    assert "Today's program over The program's own incidents" in results.inner_text()
    assert page.locator("#side-by-side tbody tr").count() >= 1
    assert page.locator("#heat tbody tr").count() == 7
    assert page.locator("#target").is_visible()
    assert page.locator("#results svg").count() >= 3  # share, hours of the week, area map

    page.get_by_role("button", name="Check today's program against the record").click()
    page.wait_for_url(re.compile(r".*/planner/\?run=\d+"), timeout=120_000)
    assert page.locator("#validation table tbody tr").count() == 4
    assert page.locator("#model-ok, #model-off").count() == 1
    screenshot(page, "planner")
