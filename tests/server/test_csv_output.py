"""Every CSV the program writes shows a cell a spreadsheet would run as a formula as text: a
leading apostrophe before =, +, -, @, tab or carriage return (OWASP's CSV injection rule)."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.test import Client

from server import csv_output
from server.accounts.models import Role, User
from server.dispatch.models import CallType, Incident
from server.reports.sample_history import write_sample_history
from tests.conftest import PASSWORD


@pytest.mark.parametrize(
    "value, written",
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Supervisor decision", "Supervisor decision"),
        ("", ""),
        (12, 12),
        (4.5, 4.5),
        (None, None),
    ],
)
def test_a_cell_that_starts_like_a_formula_gets_a_leading_apostrophe(value, written):
    assert csv_output.safe_cell(value) == written


def read(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode())))


def test_the_dashboard_csv_writes_a_formula_like_call_type_as_text(people, client, settings):
    settings.CARE_PUBLIC_FIGURES_DELAY_DAYS = 0
    # Reference data an administrator edits is where a label like this could come from.
    CallType.objects.update(active=False)
    CallType.objects.create(code='=HYPERLINK("http://x.test","Open")', eligible=True)
    write_sample_history(start=datetime.date(2026, 10, 1), days=31, calls_per_day=6)

    rows = read(client.get("/dashboard.csv?period=2026-10").content)

    items = [item for _, item, _ in rows]
    assert '\'=HYPERLINK("http://x.test","Open")' in items
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@")]


def test_the_admins_incident_export_writes_typed_formulas_as_text(people):
    write_sample_history(
        start=datetime.date(2026, 10, 1), days=1, calls_per_day=30, free_text="=cmd|' /C calc'!A0"
    )
    supervisor = User.objects.create_superuser(
        "supervisor", "supervisor@example.org", PASSWORD, role=Role.ADMIN
    )
    admin = Client()
    admin.force_login(supervisor)
    chosen = [str(pk) for pk in Incident.objects.values_list("pk", flat=True)]

    answer = admin.post(
        "/admin/dispatch/incident/",
        {"action": "export_csv", "_selected_action": chosen},
    )

    assert answer.status_code == 200
    rows = read(answer.content)
    notes = [row[rows[0].index("police_only_note")] for row in rows[1:]]
    assert "'=cmd|' /C calc'!A0" in notes
    assert not [cell for row in rows for cell in row if cell[:1] in ("=", "+", "-", "@")]
