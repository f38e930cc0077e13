"""The figures a manager asks of a scenario, over its replications: the share of eligible calls
CARE reaches (with an interval), calls reached per team-hour, minutes from call to CARE on
scene, police hours freed, and where and when calls go unserved. Aggregates only."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from server.planner.simulation import Call, Outcome

# Student's t at 97.5 % for 1 to 30 degrees of freedom (two-sided 95 %); normal beyond.
T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
DAYS_PER_YEAR = 365.25


def t975(degrees: int) -> float:
    return T_975[degrees - 1] if 1 <= degrees <= len(T_975) else 1.96


@dataclass(frozen=True)
class Estimate:
    """A figure's mean over replications, the 95 % interval of that mean, and the 95 % range
    one more replication would fall in (what a single recorded period is compared with)."""

    mean: float
    low: float
    high: float
    predicted_low: float
    predicted_high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Estimate:
        mean = statistics.fmean(values)
        if len(values) < 2:
            return cls(mean, mean, mean, mean, mean)
        spread = statistics.stdev(values)
        t = t975(len(values) - 1)
        half = t * spread / len(values) ** 0.5
        wide = t * spread * (1 + 1 / len(values)) ** 0.5
        return cls(mean, mean - half, mean + half, mean - wide, mean + wide)

    def as_dict(self) -> dict:
        return {
            "mean": self.mean,
            "low": self.low,
            "high": self.high,
            "predicted_low": self.predicted_low,
            "predicted_high": self.predicted_high,
        }


def percentile(values: Sequence[float], share: float) -> float | None:
    """The nearest-rank percentile (the value at or below which `share` of values lie)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


def _one(calls: Sequence[Call], outcomes: Sequence[Outcome], team_hours: float) -> dict:
    reached = [o for o in outcomes if o.reached]
    waits = [o.wait for o in reached if o.wait is not None]
    unserved_slots: Counter = Counter()
    unserved_areas: Counter = Counter()
    for call, outcome in zip(calls, outcomes, strict=True):
        if not outcome.reached:
            unserved_slots[call.slot // 4] += 1  # hour of the week
            unserved_areas[call.area or "(no area)"] += 1
    return {
        "share": len(reached) / len(calls) if calls else 0.0,
        "reached": len(reached),
        "per_team_hour": len(reached) / team_hours if team_hours else 0.0,
        "wait_median": statistics.median(waits) if waits else 0.0,
        "wait_p90": percentile(waits, 0.9) or 0.0,
        "police_hours_freed": sum(o.police_freed for o in reached) / 60,
        "busy_hours": sum(o.busy for o in reached) / 60,
        "unserved_by_hour": unserved_slots,
        "unserved_by_area": unserved_areas,
    }


ESTIMATED = (
    "share",
    "reached",
    "per_team_hour",
    "wait_median",
    "wait_p90",
    "police_hours_freed",
    "busy_hours",
)


def summarize(
    calls: Sequence[Call],
    replications: Iterable[Sequence[Outcome]],
    *,
    team_hours: float,
    days: float,
) -> dict:
    """Figures over the replications; unserved counts are the mean per replication."""
    runs = [_one(calls, outcomes, team_hours) for outcomes in replications]
    figures: dict = {
        "eligible": len(calls),
        "team_hours": team_hours,
        "days": days,
        "replications": len(runs),
    }
    for name in ESTIMATED:
        figures[name] = Estimate.of([run[name] for run in runs]).as_dict()
    per_year = DAYS_PER_YEAR / days if days > 0 else 0.0
    figures["police_hours_freed_per_year"] = figures["police_hours_freed"]["mean"] * per_year
    figures["eligible_per_year"] = len(calls) * per_year
    figures["unserved_by_hour"] = _mean_counts([r["unserved_by_hour"] for r in runs], range(168))
    areas = sorted({a for r in runs for a in r["unserved_by_area"]})
    figures["unserved_by_area"] = _mean_counts([r["unserved_by_area"] for r in runs], areas)
    return figures


def _mean_counts(counters: list[Counter], keys) -> dict:
    n = len(counters) or 1
    return {str(k): sum(c.get(k, 0) for c in counters) / n for k in keys}
