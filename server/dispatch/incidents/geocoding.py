"""Address search for the dispatcher: candidates to pick from, never a silent rewrite.

Two sources: the gazetteer (addresses the system has already placed, from typed calls and CAD
documents) and, when `GEOCODER_URL` names a Nominatim-compatible service, its answers through
geopy. The dispatcher sees every candidate with its source and chooses; the typed address is
kept as typed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from geopy.exc import GeopyError
from geopy.geocoders import Nominatim

from server.dispatch.geography import service_bounds
from server.dispatch.incidents import selectors

logger = logging.getLogger(__name__)

QUERY_MAX = 200
USER_AGENT = "care-field-dispatch"


@dataclass(frozen=True)
class GeocodeCandidate:
    label: str
    latitude: float
    longitude: float
    source: str  # "gazetteer" or "geocoder"


def candidates(query: str, limit: int = 8) -> list[GeocodeCandidate]:
    found = [
        GeocodeCandidate(label=address, latitude=lat, longitude=lon, source="gazetteer")
        for address, lat, lon in selectors.gazetteer(query, limit)
    ]
    if settings.GEOCODER_URL:
        found += _geocoder_candidates(query, limit)
    return found


def _geocoder() -> Nominatim:
    url = urlsplit(settings.GEOCODER_URL)
    return Nominatim(
        user_agent=USER_AGENT,
        scheme=url.scheme or "https",
        domain=(url.netloc + url.path).rstrip("/"),
        timeout=settings.GEOCODER_TIMEOUT_SECONDS,
    )


def _geocoder_candidates(query: str, limit: int) -> list[GeocodeCandidate]:
    bounds = service_bounds()
    # Prefer, don't restrict to, the service area: a call may come from just over the line.
    viewbox = [(bounds[1], bounds[0]), (bounds[3], bounds[2])] if bounds else None
    try:
        answers = _geocoder().geocode(
            query, exactly_one=False, limit=limit, viewbox=viewbox, bounded=False
        )
    except GeopyError:
        # Its candidates are extra: the gazetteer's still answer, and the page says none came.
        logger.warning("geocoder at %s did not answer", settings.GEOCODER_URL, exc_info=True)
        return []
    return [
        GeocodeCandidate(
            label=a.address, latitude=a.latitude, longitude=a.longitude, source="geocoder"
        )
        for a in answers or []
    ]
