"""The analysts' commands: import_call_history (bad rows listed, not fatal) and plan (figures,
a target search, a CSV, validation)."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import CommandError, call_command

from server.planner.models import CallHistory, PlanRun
from tests.server.planner.test_history import export, row


@pytest.fixture
def export_file(tmp_path):
    path = tmp_path / "calls.csv"
    rows = [row("03/02/2026 12:00:00 PM"), row("not a time"), row("03/02/2026 12:20:00 PM")]
    path.write_text(export(rows).getvalue())
    return path


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_import_call_history_lists_bad_rows_and_keeps_the_good(reference, export_file):
    said = run("import_call_history", str(export_file), "--quiet-progress")
    assert "2 calls imported of 3 rows read; 1 bad rows" in said
    assert "line 3:" in said
    assert CallHistory.objects.get(name="calls.csv").calls == 2


def test_import_call_history_refuses_a_missing_file(reference, tmp_path):
    with pytest.raises(CommandError, match="No file"):
        run("import_call_history", str(tmp_path / "absent.csv"))


def test_plan_runs_todays_program_over_a_file_and_writes_the_csv(units, export_file, tmp_path):
    out = tmp_path / "figures.csv"
    said = run("plan", "today", "--history", str(export_file), "--target", "0.8", "--csv", str(out))
    assert "Eligible calls in the history: 2" in said
    # With no record of its own, a team drives 10 minutes and stays 45: one team is still busy
    # at 12:20 past the 10-minute wait, so reaching both calls takes two.
    assert "Teams needed for 80% of eligible calls at these hours: 2" in said
    rows = list(csv.reader(out.open()))
    assert rows[1][3:6] == ["run", "eligible", "2"]
    assert PlanRun.objects.count() == 1


def test_plan_names_the_scenarios_when_asked_for_one_that_does_not_exist(units, export_file):
    with pytest.raises(CommandError, match="No scenario 'nowhere'"):
        run("plan", "nowhere", "--history", str(export_file))
