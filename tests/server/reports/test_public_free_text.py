"""No word a person typed reaches the public: a marker is written into every free-text field of
the calls, assignments, transitions and care records (and a police-only note sent through the
dispatch API), then every public answer (page, CSV, API; every period a reader can ask for) is
searched for it. Only the police-only reasons' codes and labels, and counts, are public."""

from __future__ import annotations

import datetime

import pytest

from server.care.models import Referral, ReferralUpdate
from server.reports.sample_history import write_sample_history
from tests.conftest import call_body

MARKER = "Zqx7731 Jane Roe born 1980-02-03"
PUBLIC_PATHS = ["/dashboard/", "/dashboard.csv", "/api/v1/metrics"]


@pytest.fixture
def typed_everywhere(people, units, client_for, settings):
    settings.CARE_PUBLIC_FIGURES_DELAY_DAYS = 0
    write_sample_history(
        start=datetime.date(2026, 10, 1), days=31, calls_per_day=8, free_text=MARKER
    )
    for referral in Referral.objects.all()[:20]:
        ReferralUpdate.objects.create(
            referral=referral,
            author=people["coordinator"],
            from_status=referral.status,
            to_status=referral.status,
            note=MARKER,
        )
    # And one through the dispatcher's own door, today.
    dispatcher = client_for("dispatcher")
    incident = dispatcher.post("/api/v1/incidents", call_body(narrative=MARKER), format="json")
    assert incident.status_code == 201, incident.content
    sent = dispatcher.post(
        f"/api/v1/incidents/{incident.json()['id']}/dispatch",
        {
            "spd_unit": units["2M12"].pk,
            "police_only_code": "declined_care",
            "override_reason": MARKER,
        },
        format="json",
    )
    assert sent.status_code == 201, sent.content


def public_answers(client) -> dict[str, str]:
    answers = {}
    for path in PUBLIC_PATHS:
        for query in ("", "?period=2026-10", "?period=2026-Q3", "?period=2025"):
            answer = client.get(path + query)
            assert answer.status_code == 200, (path, query, answer.content[:300])
            answers[path + query] = answer.content.decode()
    return answers


def test_no_free_text_typed_by_staff_reaches_any_public_answer(typed_everywhere, client):
    answers = public_answers(client)

    october = answers["/api/v1/metrics?period=2026-10"]
    assert "eligible_police_only_reasons" in october
    for where, body in answers.items():
        for piece in ("Zqx7731", "Jane Roe", "1980-02-03"):
            assert piece not in body, f"{piece!r} is published in {where}"
    # The reasons are published as codes with their list labels.
    assert any(code in october for code in ("no_care_team", "supervisor_decision", "other"))
