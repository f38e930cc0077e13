"""Websocket routes, and the Origin rule that guards them."""

from __future__ import annotations

from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import path

from server.sync import consumers

websocket_urlpatterns = [
    path("ws/feed/", consumers.FeedConsumer.as_asgi()),
]


class BrowserOriginValidator(OriginValidator):
    """A browser always sends an Origin, and it must be one of our allowed hosts, so another site
    can't open a feed in a visitor's browser. Native tablets send no Origin: that is allowed,
    because the feed authenticates every socket by the token in its `hello`, never by cookie."""

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)


def guarded(application):
    return BrowserOriginValidator(application, settings.ALLOWED_HOSTS)
