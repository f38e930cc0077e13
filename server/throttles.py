"""Rate limits on authenticated writes and queries that a client could repeat in a loop: a unit's
position reports and the address search (an outside geocoder may be asked for each).

A view names its `throttle_scope`; two throttles count its requests, one per person and one per
device (a device token's device; a console session has none), each against its own rate in
`REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]` (`<scope>.user`, `<scope>.device`, set from
`CARE_THROTTLE_*`). Past either, the answer is 429 `throttled` with `Retry-After`. Counts live
in the `throttles` cache (`CARE_THROTTLE_CACHE_URL`: Redis in production, so every process
counts together; this process's memory by default).
"""

from __future__ import annotations

from typing import Any

from django.core.cache import caches
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class _ScopedThrottle(SimpleRateThrottle):
    kind = ""  # "user" or "device"

    def __init__(self) -> None:
        self.cache = caches["throttles"]
        # The rate is looked up per view (its scope), in allow_request.

    def allow_request(self, request: Any, view: Any) -> bool:
        scope = getattr(view, "throttle_scope", None)
        if not scope:
            return True
        self.scope = f"{scope}.{self.kind}"
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_rate(self) -> str:
        # Read when asked, not when the class was defined (as DRF's own does), so a changed
        # setting applies at once.
        return api_settings.DEFAULT_THROTTLE_RATES[self.scope]

    def ident(self, request: Any) -> str | None:
        raise NotImplementedError

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        ident = self.ident(request)
        if ident is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class PerPersonThrottle(_ScopedThrottle):
    kind = "user"

    def ident(self, request: Any) -> str | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return str(user.pk)


class PerDeviceThrottle(_ScopedThrottle):
    kind = "device"

    def ident(self, request: Any) -> str | None:
        device = getattr(request.auth, "device_id", None)
        return str(device) if device is not None else None
