"""Every change to a call, delivered to the CAD: queued in the database from the dispatch stream
(so a restart loses nothing), POSTed with a signature by `manage.py deliver_cad_updates`.

At least once: a delivery is marked delivered only after the CAD answered 2xx; a CAD that saw it
but whose answer was lost gets it again, with the same delivery id to deduplicate on. A failure
waits 30 s, then twice as long each time, up to 24 h. A dead CAD never slows a dispatch: nothing
here runs inside a dispatcher's request.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
import time

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from server.dispatch.models import Incident
from server.feed.models import Event
from server.interop.eido_out import incident_eido
from server.interop.models import CadDelivery, CadOutboxCursor

logger = logging.getLogger(__name__)

FIRST_RETRY = datetime.timedelta(seconds=30)
LAST_RETRY = datetime.timedelta(hours=24)
BATCH = 200
CURSOR = "dispatch"


def backoff(attempts: int) -> datetime.timedelta:
    """The wait after the n-th failed attempt: 30 s, 60 s, 2 min, ... never more than 24 h."""
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LAST_RETRY)


REPLAY_WINDOW_SECONDS = 300


def signature(secret: str, timestamp: str, delivery_id: str, body: bytes) -> str:
    """HMAC-SHA256 over `<timestamp>.<delivery id>.<body>`, hex, as sent in X-CARE-Signature
    (`sha256=...`). The delivery id is signed so a captured delivery can't be sent again under
    a fresh id to get past the CAD's deduplication."""
    message = f"{timestamp}.{delivery_id}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_delivery(
    secret: str, headers: dict[str, str], body: bytes, seen: set[str], now: float | None = None
) -> str | None:
    """The check a CAD's receiver makes (docs/cad-integration.md), as a reference: None when
    the delivery is to be taken, else why not. `seen` holds the delivery ids taken within the
    last REPLAY_WINDOW_SECONDS; an id seen before is a replay (or a retry of one already taken:
    answer it 2xx and don't apply it again)."""
    stamp = headers.get("X-CARE-Timestamp", "")
    delivery_id = headers.get("X-CARE-Delivery", "")
    sent = headers.get("X-CARE-Signature", "")
    expected = "sha256=" + signature(secret, stamp, delivery_id, body)
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        return "bad signature"
    try:
        age = abs((now if now is not None else time.time()) - int(stamp))
    except ValueError:
        return "bad timestamp"
    if age > REPLAY_WINDOW_SECONDS:
        return "timestamp outside the window"
    if delivery_id in seen:
        return "already taken"
    seen.add(delivery_id)
    return None


def _incident_of(event: Event) -> str | None:
    data = event.data if isinstance(event.data, dict) else {}
    if event.kind.startswith("incident."):
        return data.get("id")
    inner = data.get("incident")
    return inner.get("id") if isinstance(inner, dict) else None


def enqueue_changes() -> int:
    """Turn the dispatch stream's new events into deliveries (one per call changed per batch:
    the document is the call's whole current state). Returns how many were queued."""
    if not settings.CARE_CAD_ENDPOINT_URL:
        return 0
    with transaction.atomic():
        cursor, _ = CadOutboxCursor.objects.select_for_update().get_or_create(name=CURSOR)
        events = list(
            Event.objects.filter(stream_id=CURSOR, seq__gt=cursor.last_seq).order_by("seq")[:BATCH]
        )
        if not events:
            return 0
        latest: dict[str, int] = {}
        for event in events:
            incident_id = _incident_of(event)
            if incident_id:
                latest[incident_id] = event.seq
        now = timezone.now()
        incidents = Incident.objects.select_related("call_type").in_bulk(list(latest))
        CadDelivery.objects.bulk_create(
            CadDelivery(
                incident=incident,
                event_seq=latest[str(pk)],
                body=json.dumps(incident_eido(incident), separators=(",", ":")),
                next_attempt_at=now,
            )
            for pk, incident in incidents.items()
        )
        cursor.last_seq = events[-1].seq
        cursor.save(update_fields=["last_seq"])
    return len(incidents)


def _claim(now: datetime.datetime, limit: int) -> list[CadDelivery]:
    """Take due deliveries, leasing them past the send timeout so a second worker skips them."""
    lease = now + datetime.timedelta(seconds=settings.CARE_CAD_TIMEOUT_SECONDS * 3 + 30)
    with transaction.atomic():
        due = list(
            CadDelivery.objects.select_for_update(skip_locked=True)
            .filter(delivered_at__isnull=True, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "event_seq")[:limit]
        )
        CadDelivery.objects.filter(pk__in=[d.pk for d in due]).update(next_attempt_at=lease)
    return due


def send(delivery: CadDelivery, *, session: requests.Session | None = None) -> str | None:
    """POST one delivery; None when the CAD took it, else what went wrong."""
    body = delivery.body.encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-CARE-Delivery": str(delivery.id),
        "X-CARE-Timestamp": stamp,
        "X-CARE-Signature": "sha256="
        + signature(settings.CARE_CAD_SIGNING_SECRET, stamp, str(delivery.id), body),
    }
    try:
        answer = (session or requests).post(
            settings.CARE_CAD_ENDPOINT_URL,
            data=body,
            headers=headers,
            timeout=settings.CARE_CAD_TIMEOUT_SECONDS,
            allow_redirects=False,  # the call goes to the configured CAD and nowhere else
        )
    except requests.RequestException as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    if 200 <= answer.status_code < 300:
        return None
    if answer.is_redirect:
        return f"HTTP {answer.status_code}: redirects are not followed"
    return f"HTTP {answer.status_code}"


def deliver_due(*, limit: int = 50, session: requests.Session | None = None) -> tuple[int, int]:
    """Send what is due; (delivered, failed)."""
    if not settings.CARE_CAD_ENDPOINT_URL:
        return 0, 0
    delivered = failed = 0
    for delivery in _claim(timezone.now(), limit):
        error = send(delivery, session=session)
        attempts = delivery.attempts + 1
        if error is None:
            CadDelivery.objects.filter(pk=delivery.pk).update(
                attempts=attempts, delivered_at=timezone.now(), last_error=""
            )
            delivered += 1
        else:
            CadDelivery.objects.filter(pk=delivery.pk).update(
                attempts=attempts,
                next_attempt_at=timezone.now() + backoff(attempts),
                last_error=error,
            )
            logger.warning("CAD delivery %s failed (attempt %s): %s", delivery.pk, attempts, error)
            failed += 1
    return delivered, failed
