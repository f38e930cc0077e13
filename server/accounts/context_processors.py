"""What every sign-in page needs to say: is the city's sign-in offered, is a second factor on."""

from django.conf import settings
from django.http import HttpRequest

from server.accounts import sso


def sign_in(request: HttpRequest) -> dict:
    return {"sso_enabled": sso.enabled(), "mfa_required": settings.CARE_MFA_REQUIRED}
