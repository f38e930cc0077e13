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
}
