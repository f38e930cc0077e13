"""The change-feed events dispatch publishes, declared once: kind -> what it says and where.
`server.feed` refuses to publish a kind no app declared (see `declare_event_kinds`)."""

EVENT_KINDS = {
    "incident.created": "A call was recorded and screened (dispatch stream).",
    "incident.updated": "A call's status, response or location changed (dispatch stream).",
    "assignment.dispatched": "A unit was sent to a call (dispatch stream and the unit's).",
    "assignment.updated": "An assignment moved through its lifecycle (dispatch and its unit).",
    "assignment.partner_updated": "The other unit on the call changed (the unit's stream).",
    "assignment.delivered": "A unit's tablet acknowledged receiving a dispatch (dispatch).",
    "assignment.ack_overdue": "Nobody acknowledged an assignment in time (dispatch).",
    "unit.position": "A unit's tablet reported where it is (dispatch stream only).",
    "emergency.started": "A responder pressed the emergency button (dispatch and the unit).",
    "emergency.acknowledged": "Dispatch has the emergency (dispatch and the unit).",
    "emergency.ended": "The emergency is over (dispatch and the unit).",
    "emergency.alert": "A nearby or partner SPD unit is told of an emergency (its stream).",
    "backup.requested": "A CARE team asked police to come back (dispatch).",
    "backup.sent": "An SPD unit was sent back to the call (dispatch and the CARE unit).",
    "check_in.answered": "A CARE team answered its on-scene check-in (dispatch).",
    "check_in.lapsed": "A CARE team missed its check-in (dispatch).",
    "check_in.cleared": "Dispatch reached the team that missed its check-in (dispatch).",
    "unit.duty_status": "A unit's duty status changed (dispatch).",
    "unit.updated": "Who is signed on to a unit changed (dispatch).",
    "roster.updated": "A person was put on or taken off a unit's roster (dispatch and theirs).",
    "sign_on_request.updated": "A request to ride a unit was made or answered (dispatch, theirs).",
}

# A responder in trouble: these go by the feed's priority lane (never queued behind routine
# events on a socket, re-sent until the device acks them; docs/live-feed.md).
PRIORITY_KINDS = frozenset(
    kind for kind in EVENT_KINDS if kind.startswith(("emergency.", "backup."))
)
