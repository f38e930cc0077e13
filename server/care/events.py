"""The change-feed events care publishes, declared once: care records go on the CARE unit's
stream only; the directory on the `directory` stream every responder reads; a referral's
follow-up (its status, when, by whom, the note) on the `referrals` stream coordinators read."""

EVENT_KINDS = {
    "encounter.updated": "An encounter was opened or edited.",
    "service.recorded": "A service was given.",
    "service.removed": "A service recorded by mistake was taken off its encounter.",
    "naloxone.recorded": "A naloxone administration was recorded.",
    "naloxone.updated": "A naloxone administration was corrected.",
    "naloxone.removed": "A naloxone dose recorded by mistake was taken off its encounter.",
    "referral.recorded": "A referral was made.",
    "referral.updated": "A referral's status, note or follow-up date changed.",
    "referral.followed_up": (
        "A referral was followed up (by a coordinator, a responder or the receiving "
        "organization's Task update): its status and the history entry, for coordinators."
    ),
    "survey.recorded": "A client-experience survey was answered.",
    "directory.updated": "The services directory changed.",
}
