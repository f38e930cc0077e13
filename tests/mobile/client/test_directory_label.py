"""The referral picker's line for a directory entry: the server's open-now text only while it can
still hold after the tablet synced, then the source's hours; capacity when the source has it."""

from __future__ import annotations

import datetime

from mobile.client.directory import opening_text, picker_label

UTC = datetime.UTC
SYNCED = datetime.datetime(2026, 11, 30, 20, 0, tzinfo=UTC)
OPEN_UNTIL_5 = {
    "name": "Peer recovery drop-in",
    "organization": "Eastside Recovery Cooperative",
    "hours": "Mon, Wed, Fri 10-4",
    "opening": {
        "open_now": True,
        "opens_at": None,
        "closes_at": "2026-11-30T16:00:00-08:00",
        "text": "Open now, until 16:00",
    },
    "capacity": None,
}


def test_open_now_is_shown_until_the_closing_time_the_server_gave():
    assert opening_text(OPEN_UNTIL_5, SYNCED) == "Open now, until 16:00"
    after_closing = datetime.datetime(2026, 12, 1, 0, 1, tzinfo=UTC)  # 16:01 in Seattle
    assert opening_text(OPEN_UNTIL_5, after_closing) == "Mon, Wed, Fri 10-4"


def test_opens_at_is_shown_until_that_time_comes():
    entry = {
        **OPEN_UNTIL_5,
        "opening": {
            "open_now": False,
            "opens_at": "2026-11-30T19:00:00-08:00",
            "closes_at": None,
            "text": "Opens at 19:00",
        },
    }
    assert opening_text(entry, SYNCED) == "Opens at 19:00"
    assert opening_text(entry, datetime.datetime(2026, 12, 1, 4, tzinfo=UTC)) == entry["hours"]


def test_a_closing_time_without_an_offset_is_read_as_utc_as_every_stored_time_is():
    """Read as unreadable, a time without an offset kept "Open now" on the picker for ever."""
    entry = {
        **OPEN_UNTIL_5,
        "opening": {**OPEN_UNTIL_5["opening"], "closes_at": "2026-12-01T00:00"},
    }
    assert opening_text(entry, SYNCED) == "Open now, until 16:00"
    after_closing = datetime.datetime(2026, 12, 1, 0, 1, tzinfo=UTC)
    assert opening_text(entry, after_closing) == "Mon, Wed, Fri 10-4"


def test_open_all_day_has_no_closing_time_and_stays_shown():
    entry = {**OPEN_UNTIL_5, "opening": {"open_now": True, "text": "Open now (24 hours)"}}
    later = SYNCED + datetime.timedelta(days=2)
    assert opening_text(entry, later) == "Open now (24 hours)"


def test_the_label_names_the_service_organization_hours_and_capacity():
    entry = {**OPEN_UNTIL_5, "capacity": {"items": [], "text": "12 of 40 beds available"}}
    assert picker_label(entry, SYNCED) == (
        "Peer recovery drop-in — Eastside Recovery Cooperative · Open now, until 16:00"
        " · 12 of 40 beds available"
    )


def test_an_entry_from_an_older_server_without_opening_reads_as_before():
    entry = {"name": "Sobering Center", "organization": "King County"}
    assert picker_label(entry, SYNCED) == "Sobering Center — King County"
