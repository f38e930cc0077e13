"""Deny by default: a view answers only the roles it lists for the method asked."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from server.accounts.models import Role

ANYONE = "anonymous"
FIELD_ROLES = (Role.CARE_RESPONDER, Role.SPD_OFFICER)
ALL_ROLES = tuple(Role.values)


def role_of(user) -> str | None:
    if not user or not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.ADMIN
    return user.role


class RoleAllowed(BasePermission):
    """Reads `view.roles`: {"GET": (...roles), "POST": (...)}; a missing method is denied.

    `ANYONE` in the list opens a method to the public.
    """

    message = "Your role may not do this."

    def has_permission(self, request, view) -> bool:
        roles_by_method = getattr(view, "roles", None) or {}
        method = "GET" if request.method in ("HEAD", "OPTIONS") else request.method
        allowed = roles_by_method.get(method, ())
        if ANYONE in allowed:
            return True
        role = role_of(request.user)
        return role is not None and role in allowed
