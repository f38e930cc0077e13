"""Issuing, checking, rotating and revoking the keys systems (a CAD, a partner) call with."""

from __future__ import annotations

import hmac
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone

from server.accounts.models import (
    KEY_PREFIX_LENGTH,
    Role,
    SystemClient,
    SystemClientKind,
    User,
)
from server.audit.services import record_audit
from server.commands import full_clean
from server.errors import Conflict, InvalidInput

KEY_SEPARATOR = "."
# Compared against when a key's prefix matches no client, so an unknown prefix takes as long to
# refuse as a known one with a wrong secret.
_NO_SUCH_HASH = SystemClient.hash("no such key")


def _new_key() -> tuple[str, str]:
    """(visible prefix, whole key): `<prefix>.<secret>`, the secret 256 random bits."""
    prefix = secrets.token_hex(KEY_PREFIX_LENGTH // 2)
    return prefix, f"{prefix}{KEY_SEPARATOR}{secrets.token_urlsafe(32)}"


def _audit_view(client: SystemClient) -> dict:
    return {
        "kind": client.kind,
        "name": client.name,
        "scope": client.scope,
        "organization_id": client.organization_id,
        "active": client.active,
        "key_prefix": client.key_prefix,
    }


def create_system_client(
    *, actor: User | None, kind: str, name: str, organization_id: str = ""
) -> tuple[SystemClient, str]:
    """A new client and its key. The key is returned once and never stored: only its hash."""
    name = (name or "").strip()
    if kind not in SystemClientKind.values:
        raise InvalidInput(
            f"'{kind}' is not a kind of system client.",
            fields={"kind": [f"One of: {', '.join(SystemClientKind.values)}."]},
        )
    prefix, key = _new_key()
    client = SystemClient(
        kind=kind,
        name=name,
        scope=kind,
        organization_id=(organization_id or "").strip(),
        key_prefix=prefix,
        key_hash=SystemClient.hash(key),
    )
    full_clean(client, exclude=["user"])
    try:
        with transaction.atomic():
            user = User(username=f"system-{kind}-{secrets.token_hex(6)}", role=Role.SYSTEM)
            user.first_name = name[:150]
            user.is_active = False  # no password, session or device token ever signs it in
            user.set_unusable_password()
            user.save()
            client.user = user
            client.save(force_insert=True)
            record_audit(
                actor=actor, action="system_client.created", obj=client, after=_audit_view(client)
            )
    except IntegrityError as exc:
        raise Conflict(
            f"A system client named {name!r} already exists.",
            fields={"name": ["Already used."]},
        ) from exc
    return client, key


def rotate_key(*, actor: User | None, client: SystemClient) -> str:
    """A new key for the client; the old one stops working at once."""
    with transaction.atomic():
        locked = SystemClient.objects.select_for_update().get(pk=client.pk)
        if locked.revoked_at is not None:
            raise Conflict("A revoked client gets no new key; issue a new client.")
        before = _audit_view(locked)
        locked.key_prefix, key = _new_key()
        locked.key_hash = SystemClient.hash(key)
        locked.rotated_at = timezone.now()
        locked.save(update_fields=["key_prefix", "key_hash", "rotated_at"])
        record_audit(
            actor=actor,
            action="system_client.key_rotated",
            obj=locked,
            before=before,
            after=_audit_view(locked),
        )
    client.refresh_from_db()
    return key


def revoke(*, actor: User | None, client: SystemClient, reason: str = "") -> SystemClient:
    """The key stops working for good; the client stays for the audit trail."""
    with transaction.atomic():
        locked = SystemClient.objects.select_for_update().get(pk=client.pk)
        if locked.revoked_at is None:
            before = _audit_view(locked)
            locked.revoked_at = timezone.now()
            locked.active = False
            locked.save(update_fields=["revoked_at", "active"])
            record_audit(
                actor=actor,
                action="system_client.revoked",
                obj=locked,
                before=before,
                after=_audit_view(locked) | {"reason": reason[:200]},
            )
    client.refresh_from_db()
    return client


def client_for_key(key: str) -> tuple[SystemClient | None, bool]:
    """(the client a key belongs to, whether it may be used). Unknown key: (None, False)."""
    prefix, _, secret = key.partition(KEY_SEPARATOR)
    client = None
    if secret and len(prefix) == KEY_PREFIX_LENGTH:
        client = SystemClient.objects.select_related("user").filter(key_prefix=prefix).first()
    stored = client.key_hash if client else _NO_SUCH_HASH
    # Constant time: how long the refusal takes says nothing about how much of the key matched.
    matches = hmac.compare_digest(stored.encode(), SystemClient.hash(key).encode())
    if client is None or not matches:
        return None, False
    return client, client.usable
