"""The referral picker's search over the cached directory."""

from __future__ import annotations

from mobile.client.directory import SHOWN_MATCHES, matching

DIRECTORY = [
    {
        "id": 1,
        "name": "24-Hour Crisis Line",
        "organization": "Crisis Connections",
        "category": "crisis",
    },
    {"id": 2, "name": "Detox intake", "organization": "Valley Cities", "category": "treatment"},
    {"id": 3, "name": "Women's shelter", "organization": "Mary's Place", "category": "shelter"},
]


def test_search_matches_every_word_across_name_organization_and_kind():
    assert [e["id"] for e in matching(DIRECTORY, "crisis")] == [1]
    assert [e["id"] for e in matching(DIRECTORY, "SHELTER mary")] == [3]
    assert matching(DIRECTORY, "detox shelter") == []


def test_an_empty_search_shows_the_first_few_entries_only():
    many = DIRECTORY * 4
    assert matching(many, "") == many[:SHOWN_MATCHES]
