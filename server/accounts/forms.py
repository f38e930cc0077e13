"""Sign-in forms that say so when an account is locked (the lock itself: django-axes and the
rules in server/accounts/lockout.py)."""

from __future__ import annotations

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from server.accounts import lockout, services


class SaysWhenLocked:
    """A locked person reads why, and until when, instead of "wrong password"."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            username = (self.cleaned_data.get("username") or "")[:150]
            address = lockout.client_address(self.request)
            locked = services.locked_out(username=username, address=address)
            if locked is not None:
                raise ValidationError(locked.detail, code="locked_out") from None
            raise


class ConsoleSignInForm(SaysWhenLocked, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That username and password don't match. Try again.",
    }


class AdminSignInForm(SaysWhenLocked, AdminAuthenticationForm):
    pass
