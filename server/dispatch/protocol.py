"""The live protocol row, made from the settings' defaults the first time it is asked for."""

from __future__ import annotations

import datetime

from django.conf import settings

from server.dispatch.models import Protocol


def current_protocol() -> Protocol:
    protocol = Protocol.objects.order_by("pk").first()
    if protocol is None:
        protocol, _ = Protocol.objects.get_or_create(
            pk=1,
            defaults={
                "pilot_start": datetime.time(11, 0),
                "pilot_end": datetime.time(23, 0),
                "timezone": settings.TIME_ZONE,
                "dispatch_model": settings.CARE_DISPATCH_MODEL,
                "hotline_name": settings.CARE_HOTLINE_NAME,
            },
        )
    return protocol
