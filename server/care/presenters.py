"""What each role reads of a care record (docs/security.md, "Minimum necessary")."""

from __future__ import annotations

from server.care.models import Encounter


def encounter_for_follow_up(encounter: Encounter, referrals: list[dict]) -> dict:
    """A coordinator's view: enough to find the person and follow the referrals up (who, when,
    how it ended, what was given), never the crew's notes nor a naloxone administration's
    detail. The same summary the coordinator's console shows."""
    return {
        "id": str(encounter.id),
        "assignment": str(encounter.assignment_id),
        "version": encounter.version,
        "started_at": encounter.started_at.isoformat(),
        "people_contacted": encounter.people_contacted,
        "client_initials": encounter.client_initials,
        "client_birth_year": encounter.client_birth_year,
        "disposition": encounter.disposition.code if encounter.disposition_id else None,
        "services": [s.service.code for s in encounter.services.select_related("service")],
        "naloxone_given": encounter.naloxone.exists(),
        "referrals": referrals,
    }
