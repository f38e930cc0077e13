"""Every CSV the program writes goes through `writer`: a cell a spreadsheet would run as a formula
is written with a leading apostrophe (OWASP's CSV injection rule).

A spreadsheet treats a cell starting with =, +, - or @ as a formula, and a tab or carriage return
in front of one hides the sign from a check that looks at the first character only. Such a cell
gets a leading ' so it is shown as text. Numbers written as numbers are left alone: they are
never formulas. (The `defusedcsv` package leaves tab and carriage return through, so it is not
used here.)
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def safe_cell(value: Any) -> Any:
    """The value as it may go into a CSV cell."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeWriter:
    """csv.writer whose every cell passes through `safe_cell`."""

    def __init__(self, target: _Writable) -> None:
        self._writer = csv.writer(target)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(target: _Writable) -> SafeWriter:
    return SafeWriter(target)
