"""Start-up checks of the sign-in settings: a production configuration that would lock everyone
out, or believe any client about its address, is named before the first request."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security)
def trusted_proxy_is_named(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """In production TLS ends at the proxy, which says so in X-Forwarded-Proto; the app believes
    that header only from `CARE_TRUSTED_PROXIES`. With none named, every request looks like
    plain HTTP and is redirected to HTTPS again and again."""
    if settings.DEBUG or not getattr(settings, "SECURE_SSL_REDIRECT", False):
        return []
    if settings.CARE_TRUSTED_PROXIES:
        return []
    return [
        checks.Error(
            "SECURE_SSL_REDIRECT is on but CARE_TRUSTED_PROXIES names no proxy: no request can "
            "prove it came over TLS, so every one is redirected.",
            hint=(
                "Set CARE_TRUSTED_PROXIES to the TLS proxy's address or network (e.g. 10.0.0.5 "
                "or 10.0.0.0/24); or, serving plain HTTP on a loopback only, "
                "SECURE_SSL_REDIRECT=false. See docs/deployment.md."
            ),
            id="care.E001",
        )
    ]
