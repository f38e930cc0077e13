"""The referral picker: the search over the cached directory of services, and how an entry
reads there.

The server says, when the tablet last synced, whether a service is open (`opening`) and how much
room it has (`capacity`). The tablet keeps that for hours offline, so an "open now" is shown only
while it can still be true: until the closing time the server gave, or, for "opens at", until that
time comes. After that the entry falls back to the source's own hours text.
"""

from __future__ import annotations

import datetime
from typing import Any

from mobile.client.store import parse_time

# As many matches as the encounter screen has room reserved for.
SHOWN_MATCHES = 3


def matching(directory: list[dict[str, Any]], words: str) -> list[dict[str, Any]]:
    """Directory entries whose name, organization or category hold every word typed."""
    wanted = words.lower().split()
    found = []
    for entry in directory:
        text = " ".join(str(entry.get(k, "")) for k in ("name", "organization", "category"))
        if all(w in text.lower() for w in wanted):
            found.append(entry)
    return found[:SHOWN_MATCHES]


def opening_text(entry: dict[str, Any], now: datetime.datetime) -> str:
    """The server's open-now text while it still holds, else the service's hours."""
    opening = entry.get("opening") or {}
    text = str(opening.get("text") or "")
    if opening.get("open_now") is True:
        closes = parse_time(opening.get("closes_at"))
        if text and (closes is None or now < closes):
            return text
    elif opening.get("open_now") is False:
        opens = parse_time(opening.get("opens_at"))
        if text and opens is not None and now < opens:
            return text
    return str(entry.get("hours") or "")


def picker_label(entry: dict[str, Any], now: datetime.datetime) -> str:
    """'Night shelter — Harbor Light · Opens at 19:00 · 12 of 40 beds available'."""
    parts = [f"{entry.get('name', '')} — {entry.get('organization', '')}"]
    hours = opening_text(entry, now)
    if hours:
        parts.append(hours)
    capacity = entry.get("capacity") or {}
    if isinstance(capacity, dict) and capacity.get("text"):
        parts.append(str(capacity["text"]))
    return " · ".join(parts)
