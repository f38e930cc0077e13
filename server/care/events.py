"""The change-feed events care publishes, declared once: care records go on the CARE unit's
stream only; the directory on the `directory` stream every responder reads."""

EVENT_KINDS = {
    "encounter.updated": "An encounter was opened or edited.",
    "service.recorded": "A service was given.",
    "naloxone.recorded": "A naloxone administration was recorded.",
    "naloxone.updated": "A naloxone administration was corrected.",
    "referral.recorded": "A referral was made.",
    "referral.updated": "A referral's status, note or follow-up date changed.",
    "survey.recorded": "A client-experience survey was answered.",
    "directory.updated": "The services directory changed.",
}
