"""Deny by default: a view answers only the roles it lists for the method asked."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from server.accounts.models import Role, SystemClient, SystemScope

ANYONE = "anonymous"
FIELD_ROLES = (Role.CARE_RESPONDER, Role.SPD_OFFICER)
# Every person's role; the `system` role is no person and opens no person endpoint.
ALL_ROLES = tuple(r for r in Role.values if r != Role.SYSTEM)
# A view lists these beside roles to open a method to system clients of one endpoint family.
CAD_KEY = f"system:{SystemScope.CAD}"
PARTNER_KEY = f"system:{SystemScope.PARTNER}"


def role_of(user) -> str | None:
    if not user or not user.is_authenticated:
        return None
    if user.role == Role.SYSTEM:
        return Role.SYSTEM
    if user.is_superuser:
        return Role.ADMIN
    return user.role


class RoleAllowed(BasePermission):
    """Reads `view.roles`: {"GET": (...roles), "POST": (...)}; a missing method is denied.

    `ANYONE` in the list opens a method to the public; `CAD_KEY` / `PARTNER_KEY` to the system
    clients of that endpoint family, and nothing else does: a system client can't call a person
    endpoint, nor another family's.
    """

    message = "Your role may not do this."

    def has_permission(self, request, view) -> bool:
        roles_by_method = getattr(view, "roles", None) or {}
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        allowed = roles_by_method.get(method, ())
        if ANYONE in allowed:
            return True
        client = getattr(request, "auth", None)
        if isinstance(client, SystemClient):
            return client.usable and f"system:{client.scope}" in allowed
        role = role_of(request.user)
        # The system role only ever acts through its key (above), never through a session.
        return role is not None and role != Role.SYSTEM and role in allowed
