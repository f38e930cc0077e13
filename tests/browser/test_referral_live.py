"""The coordinator's open pages in a real browser change by themselves when the receiving
organization updates the referral's FHIR Task from its own system; what the organization typed
is shown as text, never run as HTML."""

from __future__ import annotations

import json
import subprocess
import sys

import requests

from tests.browser.conftest import screenshot, sign_in
from tests.e2e.conftest import ROOT

# Would mark the page (and fail the test) if the browser ever ran it as HTML.
PARTNER_TEXT = "<img src=x onerror=\"document.body.dataset.pwned='yes'\"> No beds for couples"
FHIR_JSON = "application/fhir+json"


def _organization_id(name: str) -> str:
    """The HSDS id of a demo organization, read from the published directory the demo loads."""
    directory = json.loads((ROOT / "fixtures" / "directory-hsds.json").read_text())
    return next(o["id"] for o in directory["organization"] if o["name"] == name)


def _partner_key(served_system, organization_id: str) -> str:
    """A partner key, issued as an administrator would: `manage.py create_system_client`."""
    done = subprocess.run(
        [sys.executable, "manage.py", "create_system_client", "partner", "Browser partner",
         "--organization", organization_id],
        cwd=ROOT, env=served_system.env, check=True, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return done.stdout.strip()


def test_the_coordinators_open_pages_follow_the_partners_task_update(site, page, served_system):
    sign_in(page, site, "coordinator")
    page.goto(f"{site}/coordinator/?status=made")
    page.wait_for_selector("body[data-live='yes']", timeout=15000)
    row = page.locator("#referral-queue tbody tr[data-referral]").first
    referral_id = row.get_attribute("data-referral")

    detail = page.context.new_page()
    dialogs: list[str] = []
    detail.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    detail.goto(f"{site}/coordinator/referrals/{referral_id}/")
    detail.wait_for_selector("body[data-live='yes']", timeout=15000)
    assert detail.locator("#referral-status").inner_text() == "Made"
    organization = detail.locator("dt:text-is('Organization') + dd").inner_text()
    organization = organization.split(" · ")[0]

    # The organization's own system rejects the referral, with a reason, by updating the Task.
    partner = requests.Session()
    partner.headers["Authorization"] = (
        f"Api-Key {_partner_key(served_system, _organization_id(organization))}"
    )
    read = partner.get(f"{site}/fhir/Task/{referral_id}", timeout=30)
    assert read.status_code == 200, read.text
    answer = partner.patch(
        f"{site}/fhir/Task/{referral_id}",
        data=json.dumps({"status": "rejected", "statusReason": {"text": PARTNER_TEXT}}),
        headers={"Content-Type": "application/merge-patch+json", "If-Match": read.headers["ETag"]},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text

    # No reload: the referral page's status and history change by themselves...
    live_row = detail.locator("#referral-history tbody tr[data-live='yes']").first
    live_row.wait_for(timeout=15000)
    assert detail.locator("#referral-status").inner_text() == "Closed"
    cells = live_row.locator("td").all_inner_texts()
    assert cells[1] == organization
    assert cells[2] == "made → closed"
    assert PARTNER_TEXT in cells[3]  # the markup shows as the characters typed
    assert detail.locator("#referral-history img").count() == 0
    assert detail.evaluate("document.body.dataset.pwned") is None
    assert dialogs == []
    assert detail.locator("#changed-since").is_visible()
    screenshot(detail, "coordinator-referral-live")
    # Drawn again by the server, the entry reads the same (its time in the site's time zone).
    detail.reload()
    drawn = detail.locator("#referral-history tbody tr").last.locator("td").all_inner_texts()
    assert drawn[:4] == cells[:4]

    # ...and so does the queue's row: status, when, and by which organization.
    queue_row = page.locator(f"#referral-queue tr[data-referral='{referral_id}']")
    page.wait_for_selector(f"#referral-queue tr[data-referral='{referral_id}'][data-changed='yes']")
    assert queue_row.locator("[data-field='status']").inner_text() == "Closed"
    assert organization in queue_row.locator("[data-field='last-update']").inner_text()
    assert page.evaluate("document.body.dataset.pwned") is None
