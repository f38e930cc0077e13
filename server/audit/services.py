"""Writing to the audit trail. Called by every other app's services inside their transaction."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

from django.conf import settings
from django.db import models

from server.audit.actions import check_action
from server.audit.models import AuditEntry


def snapshot(instance: models.Model, fields: list[str] | None = None) -> dict[str, Any]:
    """A JSON-safe copy of a record's concrete fields, for an audit entry's before/after."""
    out: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        value = field.value_from_object(instance)
        out[field.attname if field.is_relation else field.name] = _json_safe(value)
    return out


def _json_safe(value: Any) -> Any:
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal):
        return str(value)
    return value


def record_audit(
    *,
    actor: Any,
    device: Any = None,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    entry = audit_entry(
        actor=actor,
        device=device,
        action=action,
        obj=obj,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
    )
    entry.save(force_insert=True)
    return entry


def _system_client_of(actor: Any) -> Any:
    """The system client whose key made the request, when the actor is its system account.

    Duck-typed: audit sits below accounts and names none of its models."""
    if actor is None or getattr(actor, "role", None) != "system":
        return None
    return getattr(actor, "system_client", None)


def audit_entry(
    *,
    actor: Any,
    device: Any = None,
    action: str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    """The entry `record_audit` writes, unsaved: for callers that write many rows at once."""
    if settings.CARE_CHECK_VOCABULARY:
        check_action(action)
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or str(obj.pk)
    actor = actor if getattr(actor, "pk", None) else None
    client = _system_client_of(actor)
    return AuditEntry(
        actor=actor,
        system_client=client,
        actor_label=client.label if client else (actor.get_username() if actor else ""),
        device=device,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
    )
