"""The coordinator console in a real browser: sign in, filter the queue, follow a referral up."""

from __future__ import annotations

import re

from tests.browser.conftest import screenshot, sign_in


def test_a_coordinator_filters_the_queue_and_updates_a_referral(site, page):
    page.goto(f"{site}/coordinator/")
    assert "/login/" in page.url  # the console denies a stranger and asks them to sign in
    screenshot(page, "login")
    sign_in(page, site, "coordinator")
    assert page.url.endswith("/coordinator/")

    page.get_by_label("Status").select_option("made")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r".*status=made.*"))
    statuses = page.locator("#referral-queue tbody td:nth-child(4)").all_inner_texts()
    assert statuses and set(statuses) == {"Made"}
    screenshot(page, "coordinator-queue")

    page.locator("#referral-queue tbody a").first.click()
    page.wait_for_url(re.compile(r".*/coordinator/referrals/.*"))
    assert page.get_by_role("heading", name="Encounter summary").is_visible()
    page.get_by_label("New status").select_option("contacted")
    page.get_by_label("Note").fill("Spoke with intake; appointment Thursday.")
    page.get_by_label("Next follow-up by").fill("2030-01-15")
    page.get_by_role("button", name="Save follow-up").click()
    page.wait_for_url(re.compile(r".*saved=1"))

    assert page.locator("#referral-status").inner_text() == "Contacted"
    assert page.get_by_text("Spoke with intake; appointment Thursday.").is_visible()
    screenshot(page, "coordinator-referral")


def test_the_console_refuses_a_dispatcher(site, page):
    sign_in(page, site, "dispatcher")

    answer = page.goto(f"{site}/coordinator/")

    assert answer.status == 403
    assert page.get_by_role("heading", name="This page is not for your role").is_visible()
