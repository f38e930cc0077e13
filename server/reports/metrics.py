"""The program's public figures. Aggregates only: any count from 1 to 10 is withheld, and so are
the counts beside it that would give it away by subtraction (disclosure.py); medians, averages,
shares and sums are shown only over 11 or more calls or answers whose count is itself shown.

The figures of any run of days come from one code path: the range's summed parts (daily.py: the
roll-up, and the days not rolled up counted from the calls) -> `raw_figures` (unsuppressed) ->
`shown_figures` (suppressed). The public gets whole published periods (publication.py);
signed-in staff may ask any range of days.
"""

from __future__ import annotations

import datetime

from server.care.models import NaloxoneResponse, SurveyQuestion
from server.dispatch.models import PoliceOnlyReason
from server.reports.daily import CALL_TOTALS, MEASURES, Parts, range_parts
from server.reports.disclosure import SMALL_CELL, Table, small, withheld_counts

SUPPRESSED = "<11"
# A count of 11 or more hidden only because showing it would reveal a small one by subtraction.
WITHHELD = "withheld"

CARE_TOTALS = (
    "encounters",
    "services_given",
    "naloxone_administrations",
    "naloxone_ems_called",
    "referrals_made",
    "referrals_connected",
    "records_before_scene_safe",
)
# The figures peer programs publish (CAHOOTS, Denver STAR), counted the same way here; with the
# backup's minutes to arrive (MEASURES) and the share of eligible calls CARE responded to.
PEER_TOTALS = (
    "eligible_care_responded",
    "backup_requested",
    "person_not_found",
    "declined_services",
    "transports",
)
PEER_MEASURES = ("backup_to_arrival",)
# The program is judged on these: another count is withheld in their place where one will do.
HEADLINE = ("calls", "care_responded", "eligible_calls", "eligible_police_only")
# Breakdowns shown as lists: (figure, the key naming a row, the parts' prefix in the counts).
BREAKDOWNS = {
    "care_responded_by_call_type": "call_type",
    "care_responded_by_area": "area",
    "care_responded_by_hour": "hour",
    "naloxone_by_response": "response",
    "eligible_police_only_reasons": "reason",
}
OUTSIDE_ANY_AREA = "(outside any area)"
# Calls sent police only before reasons were codes, or with none chosen.
NO_CODE = "(no code)"

DEFINITIONS = {
    "period": "The public figures are published per whole calendar month, quarter or year "
    "(Seattle time), a few days after the period closes, and are not changed afterwards. "
    "Weeks are not published: a week cuts across two months, and the two together would "
    "reveal single days.",
    "care_responded": "Calls received in the period on which a CARE team arrived on scene.",
    "dispatch_to_arrival": "Minutes from a CARE team being dispatched to it arriving on scene.",
    "scene_safe_to_spd_clear": "Minutes from the SPD unit marking the scene safe to the SPD unit "
    "clearing the call.",
    "care_time_on_scene": "Minutes from a CARE team arriving on scene to it clearing the call.",
    "medians": "Each median is taken over the calls' times counted to the nearest second.",
    "eligible_care_responded": "Eligible calls (calls that passed screening for CARE) on which a "
    "CARE team arrived on scene; the share is of all eligible calls, as Denver STAR reports it.",
    "backup_requested": "Times a CARE team on scene asked police to come back. The minutes to "
    "arrive run from the request to the SPD unit sent in answer arriving on scene, over the "
    "requests answered that way.",
    "person_not_found": "CARE encounters that ended with the person not found (unable to locate).",
    "declined_services": "CARE encounters in which the person declined services.",
    "transports": "CARE encounters that ended with the person transported to services.",
    "police_time_freed": "For each dual-dispatched call whose SPD unit marked the scene safe: the "
    "time from the SPD unit clearing to the CARE team clearing (zero when CARE cleared first). "
    "It is the on-scene time the officers handed over to CARE after the scene was safe, which "
    "they would otherwise have stayed for. Summed over calls, in hours.",
    "referrals_connected": "Referrals made in the field that a coordinator has marked connected.",
    "client_experience": "Answers (1 to 5) of people who consented to the survey; 'agree' is 4 or "
    "5. An average or share is shown only over 11 or more answers.",
    "eligible_police_only": "Calls that passed screening for CARE but were sent police only, by "
    "the reason the dispatcher chose from the program's list (the list's codes and labels only: "
    "no words a dispatcher typed are published).",
    "suppression": "Any count from 1 to 10 is shown as <11. Other counts are shown as 'withheld' "
    "where they, with the totals and the counts beside them, would give away a count under 11 "
    "(complementary suppression). A quarter or a year shows a count only where every one of "
    "its months shows it, so no period's figures can be subtracted from another's to reveal a "
    "month's withheld count. Medians, averages, shares and totals are shown only over 11 or "
    "more calls or answers whose count is shown.",
    "no_noise": "Every count shown is the true count: no random noise is added. Withholding "
    "counts, rather than blurring them, keeps every breakdown adding up to its total; the finest "
    "cells are shown for a quarter or a year, where they are large enough.",
}


# ---- the unsuppressed figures --------------------------------------------------------------------


def cell(figure: str, item: object) -> str:
    """The name of one row of a breakdown (figure:item); a figure's own count is its name."""
    return f"{figure}:{item}"


def raw_figures(parts: Parts, questions: list[str] | None = None) -> dict:
    """The unsuppressed figures of summed parts: counts by cell name, medians, sums."""
    figures = parts.figures
    counts = {name: figures[(name, "")] for name in CALL_TOTALS + CARE_TOTALS + PEER_TOTALS}
    for figure, item in list(figures):
        prefix = _BREAKDOWN_OF.get(figure)
        if prefix and figures[(figure, item)]:
            counts[f"{prefix}:{_item(prefix, item)}"] = figures[(figure, item)]
    for hour in range(24):
        counts.setdefault(f"care_responded_by_hour:{hour}", 0)
    for value, _ in NaloxoneResponse.choices:
        counts.setdefault(f"naloxone_by_response:{value}", 0)
    counts["care_responded"] = sum(
        n for name, n in counts.items() if name.startswith("care_responded_by_hour:")
    )
    medians = {}
    for measure in MEASURES:
        medians[measure], counts[f"{measure}_calls"] = _median_of(parts.durations, measure)
    counts["police_time_freed_calls"] = figures[("police_time_freed_calls", "")]
    counts["survey_responses"] = figures[("survey_responses", "")]
    totals = {}
    for key in questions if questions is not None else question_keys():
        counts[cell("survey_answers", key)] = figures[("survey_answers", key)]
        counts[cell("survey_agree", key)] = figures[("survey_agree", key)]
        totals[key] = figures[("survey_total", key)]
    return {
        "counts": counts,
        "medians": medians,
        "police_time_freed_seconds": figures[("police_time_freed_us", "")] / 1_000_000,
        "survey_totals": totals,
    }


_BREAKDOWN_OF = {
    "care_responded_call_type": "care_responded_by_call_type",
    "care_responded_area": "care_responded_by_area",
    "care_responded_hour": "care_responded_by_hour",
    "naloxone_response": "naloxone_by_response",
    "police_only_code": "eligible_police_only_reasons",
}


def _item(prefix: str, item: str) -> str:
    if prefix == "care_responded_by_area" and not item:
        return OUTSIDE_ANY_AREA
    return item


def question_keys() -> list[str]:
    return list(
        SurveyQuestion.objects.filter(active=True)
        .order_by("order", "key")
        .values_list("key", flat=True)
    )


def _median_of(durations: dict, measure: str) -> tuple[float, int]:
    """The median (percentile_cont 0.5) of whole-second times kept as counts per second."""
    counts = sorted((s, n) for (m, s), n in durations.items() if m == measure and n)
    total = sum(n for _, n in counts)
    if not total:
        return 0, 0
    low_rank, high_rank = (total - 1) // 2, total // 2
    low = high = None
    seen = 0
    for seconds, n in counts:
        seen += n
        if low is None and seen > low_rank:
            low = seconds
        if seen > high_rank:
            high = seconds
            break
    return (low + high) / 2, total


# ---- what may be shown ---------------------------------------------------------------------------


def relations(counts: dict[str, int]) -> Table:
    """The sums a reader of the figures knows hold between the counts."""
    table = Table(dict(counts), headline=set(HEADLINE))
    for figure, total in (
        ("care_responded_by_call_type", "care_responded"),
        ("care_responded_by_area", "care_responded"),
        ("care_responded_by_hour", "care_responded"),
        ("naloxone_by_response", "naloxone_administrations"),
        ("eligible_police_only_reasons", "eligible_police_only"),
    ):
        table.add_breakdown(total, [n for n in counts if n.startswith(figure + ":")])
    # A CARE team on scene is one call CARE responded to: the two counts are one number.
    table.add_breakdown("care_responded", ["dispatch_to_arrival_calls"])
    for whole, parts in (
        ("calls", ["eligible_calls"]),
        ("calls", ["dual_dispatched"]),
        ("eligible_calls", ["eligible_police_only", "resolved_by_phone", "referred_to_hotline"]),
        ("dual_dispatched", ["care_responded"]),
        ("dispatch_to_arrival_calls", ["care_time_on_scene_calls"]),
        ("care_time_on_scene_calls", ["police_time_freed_calls"]),
        ("scene_safe_to_spd_clear_calls", ["police_time_freed_calls"]),
        ("naloxone_administrations", ["naloxone_ems_called"]),
        ("referrals_made", ["referrals_connected"]),
        ("eligible_calls", ["eligible_care_responded"]),
        ("care_responded", ["eligible_care_responded"]),
        # One disposition per encounter: the three are apart from each other.
        ("encounters", ["person_not_found", "declined_services", "transports"]),
        ("backup_requested", ["backup_to_arrival_calls"]),
    ):
        table.add_nested(whole, parts)
    for name in counts:
        if name.startswith("survey_answers:"):
            key = name.split(":", 1)[1]
            table.add_nested("survey_responses", [name])
            table.add_nested(name, [cell("survey_agree", key)])
    return table


def hidden_in_range(raw: dict) -> set[str]:
    """The counts one period's (or one range's) table withholds on its own."""
    return withheld_counts(relations(raw["counts"]))


# ---- the answer --------------------------------------------------------------------------------


def shown_figures(raw: dict, hidden: set[str], start: datetime.date, end: datetime.date) -> dict:
    """The public answer: `raw`'s figures with the `hidden` counts withheld."""
    counts = raw["counts"]

    def shown(name: str) -> int | str:
        if name in hidden:
            return SUPPRESSED if small(counts[name]) else WITHHELD
        return counts[name]

    def enough(name: str) -> bool:
        return name not in hidden and counts[name] >= SMALL_CELL

    answer: dict = {"from": start.isoformat(), "to": end.isoformat()}
    for name in (*CALL_TOTALS, "care_responded", *CARE_TOTALS):
        answer[name] = shown(name)
    answer["referrals_connected_share"] = _share(
        counts, "referrals_connected", "referrals_made", hidden
    )
    for name in PEER_TOTALS:
        answer[name] = shown(name)
    answer["eligible_care_responded_share"] = _share(
        counts, "eligible_care_responded", "eligible_calls", hidden
    )
    for figure, key in BREAKDOWNS.items():
        answer[figure] = [
            {key: _label(figure, name), "count": shown(name)} for name in _rows(counts, figure)
        ]
    labels = dict(PoliceOnlyReason.objects.values_list("code", "label"))
    answer["eligible_police_only_reasons"] = [
        {
            "reason": row["reason"],
            "label": labels.get(row["reason"], NO_CODE),
            "count": row["count"],
        }
        for row in answer["eligible_police_only_reasons"]
    ]
    answer |= _times(raw, shown, enough)
    answer["client_experience"] = _experience(raw, shown, enough, hidden)
    answer["definitions"] = DEFINITIONS
    return answer


def _rows(counts: dict[str, int], figure: str) -> list[str]:
    names = [n for n in counts if n.startswith(figure + ":")]
    if figure == "care_responded_by_hour":
        return sorted(names, key=lambda n: int(n.split(":", 1)[1]))
    if figure == "naloxone_by_response":
        order = [value for value, _ in NaloxoneResponse.choices]
        return sorted(names, key=lambda n: order.index(n.split(":", 1)[1]))
    return sorted(names, key=lambda n: (-counts[n], n))


def _label(figure: str, name: str) -> object:
    item = name.split(":", 1)[1]
    if figure == "care_responded_by_hour":
        return int(item)
    if figure == "naloxone_by_response":
        return NaloxoneResponse(item).label
    return item


def _share(counts: dict, part: str, whole: str, hidden: set[str]) -> float | str:
    """part / whole as a percentage, shown only when both counts are and the whole is 11+."""
    if not counts[whole]:
        return 0.0
    if whole in hidden or part in hidden or counts[whole] < SMALL_CELL:
        return SUPPRESSED
    return round(100 * counts[part] / counts[whole], 1)


def _times(raw: dict, shown, enough) -> dict:
    figures = {}
    for measure in MEASURES:
        calls = f"{measure}_calls"
        n = raw["counts"][calls]
        figures[f"median_{measure}_minutes"] = (
            round(raw["medians"][measure] / 60, 1) if enough(calls) else (SUPPRESSED if n else None)
        )
        figures[calls] = shown(calls)
    n = raw["counts"]["police_time_freed_calls"]
    figures["police_time_freed_hours"] = (
        round(raw["police_time_freed_seconds"] / 3600, 1)
        if enough("police_time_freed_calls")
        else (SUPPRESSED if n else 0.0)
    )
    figures["police_time_freed_calls"] = shown("police_time_freed_calls")
    return figures


def _experience(raw: dict, shown, enough, hidden: set[str]) -> dict:
    counts, questions = raw["counts"], []
    texts = dict(SurveyQuestion.objects.values_list("key", "text"))
    for key, total in raw["survey_totals"].items():
        answers = cell("survey_answers", key)
        given = counts[answers]
        questions.append(
            {
                "key": key,
                "question": texts.get(key, key),
                "answers": shown(answers),
                # Sum over count is the mean of whole answers, rounded once, as fmean does.
                "average": round(total / given, 2)
                if enough(answers)
                else (SUPPRESSED if given else None),
                "agree_share": _share(counts, cell("survey_agree", key), answers, hidden),
            }
        )
    return {"responses": shown("survey_responses"), "questions": questions}


# ---- a range of days (staff) ---------------------------------------------------------------------


def program_metrics(*, start: datetime.date, end: datetime.date) -> dict:
    """The figures for local days start to end inclusive, suppressed as one table."""
    raw = raw_figures(range_parts(start, end))
    return shown_figures(raw, hidden_in_range(raw), start, end)
