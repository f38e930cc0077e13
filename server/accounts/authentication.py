"""`Authorization: Token <key>` for devices (the token names the device it was issued to), and
`Authorization: Api-Key <key>` for system clients."""

from __future__ import annotations

from axes.backends import AxesBackend
from axes.exceptions import AxesBackendPermissionDenied
from django.utils import timezone
from rest_framework import authentication, exceptions

from server.accounts.models import SystemClient
from server.accounts.services import device_for_token, token_device_revoked
from server.accounts.system_clients import client_for_key


class LockoutBackend(AxesBackend):
    """django-axes' check before Django's password check (ModelBackend, next in the list): a
    locked sign-in is refused outright on every login path (token endpoint, admin, consoles), so
    guessing on during a lockout learns nothing. The rules are server/accounts/lockout.py.

    A call without a request is an in-process one (a shell, a test fixture), with no client
    address to count: it passes on to the password check. Being a ModelBackend too (AxesBackend),
    it still loads the person of a session signed in before the lockout moved to django-axes."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        try:
            return super().authenticate(request, username=username, password=password, **kwargs)
        except AxesBackendPermissionDenied:
            request.care_refused_while_locked = True  # audited as a refused attempt
            raise


class DeviceTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the header as 'Authorization: Token <key>'."
            )
        try:
            key = parts[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed(
                "The token has characters it can't have."
            ) from exc
        token = device_for_token(key)
        if token is None:
            if token_device_revoked(key):
                raise exceptions.AuthenticationFailed(
                    "This device was revoked by a supervisor; it can't be used to sign in.",
                    code="revoked",
                )
            raise exceptions.AuthenticationFailed(
                "This token is unknown, expired or revoked; sign in again."
            )
        device = token.device
        now = timezone.now()
        # Touch last_seen at most once a minute: one write per request would be waste.
        if device.last_seen_at is None or (now - device.last_seen_at).total_seconds() > 60:
            type(device).objects.filter(pk=device.pk).update(last_seen_at=now)
        return device.user, token

    def authenticate_header(self, request) -> str:
        return self.keyword


def request_device(request):
    """The device behind a request, or None for a browser session."""
    auth = getattr(request, "auth", None)
    return getattr(auth, "device", None)


def run_for_request(command, request, **fixed) -> dict:
    """A REST door: the command (`server.commands.Command`) with the request's body as its input,
    run as the request's person and device; `fixed` are the ids the URL names."""
    return command(actor=request.user, device=request_device(request), data=request.data, **fixed)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>` for a system client (a CAD, a partner).

    The request runs as the client's `system` account, with the client itself as `request.auth`,
    so `RoleAllowed` can hold it to its endpoint family and audit rows can name it.
    """

    keyword = "Api-Key"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the header as 'Authorization: Api-Key <key>'."
            )
        try:
            key = parts[1].decode("ascii")
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("The key has characters it can't have.") from exc
        client, usable = client_for_key(key)
        if client is None or not usable:
            # One answer for unknown, revoked and deactivated: a stolen key's holder learns
            # nothing about whether it was ever good.
            raise exceptions.AuthenticationFailed("This key is not accepted.")
        return client.user, client

    def authenticate_header(self, request) -> str:
        return self.keyword


def request_system_client(request):
    """The system client behind a request, or None for a person."""
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, SystemClient) else None
