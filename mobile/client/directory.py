"""The referral picker's search over the cached directory of services."""

from __future__ import annotations

from typing import Any

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
