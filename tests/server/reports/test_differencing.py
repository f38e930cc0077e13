"""Plays the attacker against the public figures: every public answer over a generated year is
fetched, and every pair of them is subtracted where one period holds the other. No count worked
out that way may be from 1 to 10, no withheld count may be solved for from its totals and
siblings, and no average may rest on fewer than 11 answers.

The sums the attacker uses are written here from the figures' definitions, not taken from the code.
"""

from __future__ import annotations

import datetime
import itertools

import pytest

from server.reports.sample_history import write_sample_history

YEAR = 2025
# total -> its breakdowns (each adds up to the total).
BREAKDOWNS = {
    "care_responded": [
        "care_responded_by_call_type",
        "care_responded_by_area",
        "care_responded_by_hour",
    ],
    "naloxone_administrations": ["naloxone_by_response"],
    "eligible_police_only": ["eligible_police_only_reasons"],
}
# whole -> parts that are inside it (the rest is a count anyone can work out).
NESTED = [
    ("calls", ["eligible_calls"]),
    ("calls", ["dual_dispatched"]),
    ("eligible_calls", ["eligible_police_only", "resolved_by_phone", "referred_to_hotline"]),
    ("dual_dispatched", ["care_responded"]),
    ("naloxone_administrations", ["naloxone_ems_called"]),
    ("referrals_made", ["referrals_connected"]),
    ("care_time_on_scene_calls", ["police_time_freed_calls"]),
    ("scene_safe_to_spd_clear_calls", ["police_time_freed_calls"]),
    ("eligible_calls", ["eligible_care_responded"]),
    ("care_responded", ["eligible_care_responded"]),
    # An encounter ends one way: not found, declined and transported are apart.
    ("encounters", ["person_not_found", "declined_services", "transports"]),
    ("backup_requested", ["backup_to_arrival_calls"]),
]


def periods() -> list[str]:
    months = [f"{YEAR}-{m:02d}" for m in range(1, 13)]
    return [*months, *(f"{YEAR}-Q{q}" for q in range(1, 5)), str(YEAR)]


def months_of(period: str) -> set[int]:
    if "-Q" in period:
        q = int(period[-1])
        return {3 * q - 2, 3 * q - 1, 3 * q}
    if "-" in period:
        return {int(period[-2:])}
    return set(range(1, 13))


def cells(answer: dict) -> dict[str, object]:
    """Every count of one answer by name, as shown (an int, '<11' or 'withheld')."""
    found: dict[str, object] = {}
    for key, value in answer.items():
        if isinstance(value, list):
            for row in value:
                label = next(v for k, v in row.items() if k != "count")
                found[f"{key}:{label}"] = row["count"]
        elif key == "client_experience":
            found["survey_responses"] = value["responses"]
            for q in value["questions"]:
                found[f"answers:{q['key']}"] = q["answers"]
                found[f"average:{q['key']}"] = q["average"]
        elif isinstance(value, (int, str)) and key not in ("from", "to", "period", "period_label"):
            found[key] = value
    return found


def known(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def leaks_in(table: dict[str, object], what: str) -> list[str]:
    """What the sums give away in one table of counts (an answer, or a difference of two)."""
    found = []
    for total, groups in BREAKDOWNS.items():
        for group in groups:
            rows = [k for k in table if k.startswith(group + ":")]
            if not known(table.get(total)) or not rows:
                continue
            unknown = [k for k in rows if not known(table[k])]
            rest = table[total] - sum(table[k] for k in rows if known(table[k]))
            if len(unknown) == 1:
                found.append(f"{what}: {unknown[0]} = {rest} from {total}")
            elif unknown and 0 < rest < 11:
                found.append(f"{what}: {group} withheld rows add up to {rest}")
    for whole, parts in NESTED:
        values = [table.get(whole), *(table.get(p) for p in parts)]
        if all(known(v) for v in values):
            rest = values[0] - sum(values[1:])
            if 0 < rest < 11:
                found.append(f"{what}: {whole} less {parts} = {rest}")
    return found


@pytest.fixture
def answers(people, client, settings):
    settings.CARE_PUBLIC_FIGURES_DELAY_DAYS = 0
    # Few calls a day, so a month has many small cells to protect.
    write_sample_history(start=datetime.date(YEAR, 1, 1), days=365, calls_per_day=3, seed=11)
    got = {}
    for period in periods():
        answer = client.get(f"/api/v1/metrics?period={period}")
        assert answer.status_code == 200, answer.content
        got[period] = answer.json()
    return got


def test_no_pair_of_public_answers_gives_away_a_count_under_11_or_a_small_average(answers):
    leaks = []
    for period, answer in answers.items():
        table = cells(answer)
        leaks += leaks_in(table, period)
        leaks += [f"{period}: {k} = {v}" for k, v in table.items() if known(v) and 0 < v < 11]
    for inner, outer in itertools.permutations(answers, 2):
        if not months_of(inner) < months_of(outer):
            continue
        big, small = cells(answers[outer]), cells(answers[inner])
        difference = {k: big[k] - small[k] for k in big if known(big[k]) and known(small.get(k))}
        what = f"{outer} less {inner}"
        leaks += [f"{what}: {k} = {v}" for k, v in difference.items() if 0 < v < 11]
        leaks += leaks_in(difference, what)
        for key in (k for k in big if k.startswith("average:")):
            if big[key] not in (None, "<11") and small.get(key) not in (None, "<11"):
                name = "answers:" + key.split(":", 1)[1]
                if not (known(big[name]) and known(small[name])):
                    leaks.append(f"{what}: {key} shown over a withheld number of answers")
                elif 0 < big[name] - small[name] < 11:
                    leaks.append(f"{what}: {key} over {big[name] - small[name]} answers")

    assert leaks == []


def test_no_period_less_the_periods_inside_it_gives_away_a_withheld_count(answers):
    """The attack with more than two answers: a quarter or year less every month (or quarter)
    inside it that shows a count leaves the count of the ones that withhold it."""
    leaks = []
    for outer in answers:
        inside = [p for p in answers if months_of(p) < months_of(outer)]
        for level in (
            {p for p in inside if "-" in p and "-Q" not in p},
            {p for p in inside if "-Q" in p},
        ):
            tiling = [p for p in level if months_of(p) <= months_of(outer)]
            if not tiling:
                continue
            big = cells(answers[outer])
            for key, value in big.items():
                if not known(value) or key.startswith("average:"):
                    continue
                shown = [p for p in tiling if known(cells(answers[p]).get(key, 0))]
                withheld = [p for p in tiling if p not in shown]
                rest = value - sum(cells(answers[p]).get(key, 0) for p in shown)
                if len(withheld) == 1:
                    leaks.append(f"{outer} less the rest gives {withheld[0]} {key} = {rest}")
                elif withheld and 0 < rest < 11:
                    leaks.append(f"{outer} less {shown}: {key} = {rest}")

    assert leaks == []


def test_suppression_leaves_the_headline_figures_of_a_year_and_its_months_shown(answers):
    year = answers[str(YEAR)]

    assert year["calls"] == 365 * 3
    assert all(known(answers[f"{YEAR}-{m:02d}"]["calls"]) for m in range(1, 13))
    assert known(year["care_responded"]) and year["care_responded"] > 100
    # Something was withheld: the history does have small cells to protect.
    assert any(v == "<11" for a in answers.values() for v in cells(a).values())
