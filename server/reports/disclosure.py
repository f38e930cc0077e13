"""Complementary suppression for one reporting period's table of counts.

The published counts are tied by sums the reader knows: a breakdown adds up to its total, a part
is at most its whole (the rest, whole minus part, is a count nobody publishes but anyone can work
out). A count from 1 to 10 is withheld; then more counts are withheld until the sums give away
neither a withheld count nor any count from 1 to 10:

- no withheld count can be solved for from the published ones (checked with the null space of the
  sums restricted to the withheld counts: a count is determined exactly when no solution of the
  homogeneous system moves it);
- no sum over withheld counts that a single relation gives (a total minus its shown cells) is
  from 1 to 10.

Each round withholds the smallest count still shown in a relation that breaks a rule, so the
withheld set only grows and the loop ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy

SMALL_CELL = 11
# Remainders (whole minus its parts) are never published; their names start with this.
REST = "rest:"


@dataclass
class Relation:
    """total = sum(parts) (+ an unpublished remainder when `exact` is false)."""

    total: str
    parts: list[str]
    exact: bool = True


@dataclass
class Table:
    counts: dict[str, int]
    relations: list[Relation] = field(default_factory=list)
    # The headline counts: withheld to protect another count only when nothing else will do.
    headline: set[str] = field(default_factory=set)

    def add_breakdown(self, total: str, parts: list[str]) -> None:
        self.relations.append(Relation(total, parts, exact=True))

    def add_nested(self, whole: str, parts: list[str]) -> None:
        self.relations.append(Relation(whole, parts, exact=False))


def small(count: int) -> bool:
    return 0 < count < SMALL_CELL


def withheld_counts(table: Table) -> set[str]:
    """The counts to withhold so that nothing under 11 can be shown or worked out."""
    values = dict(table.counts)
    rows: list[dict[str, int]] = []
    for n, relation in enumerate(table.relations):
        row = {relation.total: 1}
        for part in relation.parts:
            row[part] = row.get(part, 0) - 1
        if not relation.exact:
            rest = f"{REST}{n}"
            row[rest] = -1
            values[rest] = values[relation.total] - sum(values[p] for p in relation.parts)
        rows.append(row)
    hidden = {name for name, count in values.items() if small(count) or name.startswith(REST)}
    while True:
        broken = _first_broken(rows, values, hidden)
        if broken is None:
            return {name for name in hidden if not name.startswith(REST)}
        hidden.add(_next_to_withhold(rows[broken], values, hidden, table.headline))


def _first_broken(rows: list[dict[str, int]], values: dict, hidden: set[str]) -> int | None:
    """The index of a relation through which something is given away, or None."""
    for n, row in enumerate(rows):
        unknown = {name: c for name, c in row.items() if name in hidden}
        shown_parts = any(name not in hidden for name in row)
        if not unknown or not shown_parts:
            continue
        signs = {c > 0 for c in unknown.values()}
        if len(signs) == 1 and small(abs(sum(c * values[name] for name, c in unknown.items()))):
            return n
    for name in _determined(rows, hidden):
        if not name.startswith(REST) or small(values[name]):
            widen = _relation_to_widen(rows, name, hidden)
            # Determined with nothing around it shown: the sums alone fix it (it can only be
            # zero), so nothing published gives it away.
            if widen is not None:
                return widen
    return None


def _relation_to_widen(rows: list[dict[str, int]], name: str, hidden: set[str]) -> int | None:
    """The nearest relation to `name` (through withheld counts) that still shows a count."""
    seen, frontier = {name}, [name]
    while frontier:
        for n, row in enumerate(rows):
            if any(item in row for item in frontier) and any(k not in hidden for k in row):
                return n
        reached = {k for row in rows if any(i in row for i in frontier) for k in row}
        frontier = [k for k in reached if k not in seen]
        seen.update(frontier)
    return None


def _determined(rows: list[dict[str, int]], hidden: set[str]) -> list[str]:
    """The withheld names whose value follows from the published ones."""
    unknown = sorted({name for row in rows for name in row if name in hidden})
    if not unknown:
        return []
    column = {name: i for i, name in enumerate(unknown)}
    matrix = numpy.zeros((len(rows), len(unknown)))
    for i, row in enumerate(rows):
        for name, c in row.items():
            if name in column:
                matrix[i, column[name]] = c
    _, singular, vt = numpy.linalg.svd(matrix)
    rank = int((singular > 1e-9).sum())
    free = vt[rank:]
    return [name for name in unknown if numpy.all(numpy.abs(free[:, column[name]]) < 1e-9)]


def _next_to_withhold(
    row: dict[str, int], values: dict, hidden: set[str], headline: set[str]
) -> str:
    """The smallest count still shown in the relation (not a headline one, and a positive one,
    if there is one)."""
    shown = [name for name in row if name not in hidden]
    return min(shown, key=lambda name: (name in headline, values[name] == 0, values[name], name))
