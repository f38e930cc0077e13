"""The feed socket's close codes, here so that whoever closes a device's sockets (sign-out,
revocation, deactivation) names the same numbers as the socket itself. Daphne allows 1000 and
3000-4999."""

CLOSE_MALFORMED = 4400  # a bad first frame, or any frame over the size limit
CLOSE_UNAUTHENTICATED = 4401  # no or bad token, no `hello` in time, or signed out
CLOSE_REVOKED = 4403  # the device was revoked, or its person may no longer use it
CLOSE_SILENT = 4408  # stopped answering heartbeats
CLOSE_FLOODING = 4429  # more than a second's worth of frames over the rate limit
CLOSE_LAYER_LOST = 4503  # the channel layer (Redis) is out of reach: reconnect
