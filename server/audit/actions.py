"""Every audit action, declared once: the name an audit row's `action` may take, and what it
records. `record_audit` refuses a name not declared here where `CARE_CHECK_VOCABULARY` is on
(development and the tests), so a new write cannot invent a synonym of an old one.

Where an action and a feed event tell of the same change, they share the name (`referral.recorded`
is both): the feed's kinds are the tablet's wire vocabulary and are not renamed.
"""

from __future__ import annotations

# Families made from a vocabulary: an assignment's statuses, the records an admin page opens,
# the reference data a supervisor edits (server/reference_edits.py). Audit sits below dispatch
# and can't import its `AssignmentStatus`; tests/server/audit/test_audit_actions.py holds these
# to it.
ASSIGNMENT_STATUSES = (
    "acknowledged",
    "en_route",
    "on_scene",
    "scene_safe",
    "scene_unsafe",
    "cleared",
    "cancelled",
)
VIEWED_RECORDS = ("encounter", "servicegiven", "naloxoneadministration", "referral",
                  "surveyresponse")  # fmt: skip
REFERENCE_RECORDS = (
    "area",
    "backupreason",
    "beat",
    "calltype",
    "calltypemapping",
    "cautionmapping",
    "directoryservice",
    "disposition",
    "policeonlyreason",
    "programhours",
    "protocol",
    "screeningquestion",
    "servicetype",
    "surveyquestion",
    "unit",
)

AUDIT_ACTIONS: dict[str, str] = {
    "accounts.access_changed": "A person's role, unit or standing changed.",
    "accounts.created_by_sso": "A person was made on first sign-in through the provider.",
    "accounts.deactivated": "A person was deactivated; their devices revoked.",
    "accounts.person_changed": "An administrator edited a person.",
    "accounts.person_created": "An administrator added a person.",
    "assignment.ack_overdue": "Nobody acknowledged an assignment in time.",
    "assignment.delivered": "A unit's tablet received its dispatch.",
    "assignment.dispatched": "A unit was sent to a call.",
    "auth.locked_out": "Sign-ins refused after too many failures.",
    "auth.login": "A person signed in.",
    "auth.login_failed": "A sign-in failed.",
    "auth.mfa_enrolled": "A person set up a second factor.",
    "auth.passkey_added": "A person added a passkey as their second factor.",
    "auth.passkey_refused": "A passkey's answer was refused (counted like a wrong password).",
    "auth.passkey_removed": "A person removed one of their passkeys.",
    "auth.mfa_reset": "An administrator reset a person's second factor.",
    "auth.second_factor": "A person passed their second factor.",
    "auth.session_expired": "A console session ended for idleness.",
    "auth.session_locked": "A console session was locked.",
    "auth.session_unlocked": "A console session was unlocked.",
    "auth.sso_refused": "The provider's sign-in was refused.",
    "auth.token_issued": "A device token was issued.",
    "auth.token_revoked": "A device token was revoked.",
    "auth.token_rotated": "A device token was rotated.",
    "auth.unlocked": "An administrator unlocked a person after failed sign-ins.",
    "backup.requested": "A CARE team asked police to come back.",
    "check_in.answered": "A CARE team answered its check-in.",
    "check_in.lapse_cleared": "Dispatch reached a team that missed its check-in.",
    "check_in.lapsed": "A CARE team missed its check-in.",
    "device.clock_skew_cleared": "A device's clock agrees with the server's again.",
    "device.clock_skew_flagged": "A device's clock is off.",
    "device.revoked": "A device was revoked.",
    "directory.imported": "The services directory was imported.",
    "directory.service_moved": "A directory service moved to another organization.",
    "emergency.acknowledged": "Dispatch has the emergency.",
    "emergency.ended": "An emergency is over.",
    "emergency.realerted": "A second press re-alerted an open emergency.",
    "emergency.started": "A responder pressed the emergency button.",
    "encounter.created": "An encounter was opened.",
    "encounter.updated": "An encounter was edited.",
    "events.pruned": "Old feed events were removed by retention.",
    "fhir.task_updated": "A partner updated a referral's Task.",
    "incident.cancelled": "A call was cancelled.",
    "incident.created": "A call was recorded and screened.",
    "incident.dispatched": "Units were sent to a call.",
    "incident.located": "A call's location was corrected.",
    "incident.referred_to_hotline": "A call was referred to the hotline.",
    "incident.resolved_by_phone": "A call was resolved by phone.",
    "incident.updated": "A call's status, response or location changed.",
    "incident.updated_from_cad": "The CAD updated a call.",
    "interop.nemsis_export": "A NEMSIS export was made.",
    "interop.research_extract": "A research extract was made.",
    "metrics.range_viewed": "A person read figures for a range of days.",
    "naloxone.recorded": "A naloxone administration was recorded.",
    "naloxone.updated": "A naloxone administration was corrected.",
    "naloxone.removed": "A naloxone dose recorded by mistake was taken off its open call.",
    "planner.run": "A plan was run.",
    "planner.scenario_deleted": "A scenario was removed.",
    "planner.scenario_saved": "A scenario was added or changed.",
    "positions.pruned": "Old positions were removed by retention.",
    "published_month.withdrawn": "A published month's figures were withdrawn.",
    "referral.recorded": "A referral was made.",
    "referral.updated": "A referral's status, note or follow-up date changed.",
    "roster.added": "A person was put on a unit's roster.",
    "roster.cancelled": "A roster entry was cancelled.",
    "service.recorded": "A service was given.",
    "service.removed": "A service recorded by mistake was taken off its open call.",
    "shift.ended": "A person signed off.",
    "shift.started": "A person signed on.",
    "sign_on_request.decided": "A request to ride a unit was answered.",
    "sign_on_request.made": "A request to ride a unit was made.",
    "survey.recorded": "A client-experience survey was answered.",
    "system_client.created": "A system client's key was issued.",
    "system_client.key_rotated": "A system client's key was rotated.",
    "system_client.revoked": "A system client was revoked.",
    "tablet.enrolled": "A tablet enrolled.",
    "tablet.enrolment_code_created": "An enrolment code was made.",
    "tablet.revoked": "A tablet was revoked.",
    "unit.duty_status": "A unit's duty status changed.",
    "unit.position_refused": "A unit's reported position was refused.",
    **{f"assignment.{s}": f"An assignment moved to {s}." for s in ASSIGNMENT_STATUSES},
    **{f"{r}.viewed": "A clinical record was opened." for r in VIEWED_RECORDS},
    **{f"{r}.{done}": f"Reference data was {done} by a supervisor." for r in REFERENCE_RECORDS
       for done in ("created", "changed", "deleted")},
}  # fmt: skip


def declare_audit_actions(actions: dict[str, str]) -> None:
    """More names (the tests' own)."""
    AUDIT_ACTIONS.update(actions)


def check_action(action: str) -> None:
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"audit action {action!r} is not declared in server/audit/actions.py")
