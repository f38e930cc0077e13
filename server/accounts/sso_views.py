"""The pages of a provider's sign-in: the start (to the provider), the callback (back from it),
and what a refused person reads."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from mozilla_django_oidc import views as oidc_views
from requests import RequestException

from server.accounts import sso
from server.accounts.session_locks import LOCKED, begin_session, unlock

# What a refused person reads, by the reason the backend or this view recorded.
REFUSALS = {
    "no_role": (
        403,
        "Your city account has no CARE Field role",
        "None of your groups at the city's sign-in gives access to CARE Field. Ask your "
        "supervisor to add you to the right group; until then you can't use CARE Field.",
    ),
    "deactivated": (
        403,
        "Your CARE Field account is deactivated",
        "An administrator deactivated your account here. Ask a supervisor.",
    ),
    "state": (
        400,
        "That sign-in link was already used or has expired",
        "Each sign-in through the city's provider can be used once. Start again.",
    ),
    "id_token": (
        401,
        "The city's sign-in could not be checked",
        "The answer from the city's sign-in was not valid for CARE Field. Start again; if "
        "it happens again, tell the administrator.",
    ),
    "provider": (
        502,
        "The city's sign-in did not answer",
        "CARE Field could not reach the city's sign-in. Try again in a moment.",
    ),
}


def refused_page(request: HttpRequest, reason: str) -> HttpResponse:
    status, title, detail = REFUSALS.get(reason, REFUSALS["id_token"])
    context = {"title": title, "detail": detail, "reason": reason}
    return render(request, "accounts/sso_refused.html", context, status=status)


class SsoStartView(oidc_views.OIDCAuthenticationRequestView):
    """To the provider's authorization endpoint, with state, nonce and a PKCE challenge."""

    def __init__(self, *args, **kwargs) -> None:
        oidc_views.View.__init__(self, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not sso.enabled():
            raise Http404("Single sign-on is not configured.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = sso.provider()["authorization_endpoint"]
        except (RequestException, KeyError, ValueError, SuspiciousOperation):
            return refused_page(request, "provider")
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)

    def get_extra_params(self, request: HttpRequest) -> dict:
        # Unlocking a console asks the provider to check the person again, not to wave them on.
        return {"prompt": "login"} if request.GET.get("again") else {}


class SsoCallbackView(oidc_views.OIDCAuthenticationCallbackView):
    def get(self, request: HttpRequest) -> HttpResponse:
        if not sso.enabled():
            raise Http404("Single sign-on is not configured.")
        try:
            return super().get(request)
        except SuspiciousOperation as exc:
            if getattr(request, "care_sso_refusal", None) is None:
                sso.refuse(request, reason="state", detail=str(exc)[:200])
            return refused_page(request, request.care_sso_refusal)
        except (RequestException, ValueError, KeyError) as exc:
            # The provider didn't answer, or answered something that isn't OpenID Connect.
            sso.refuse(request, reason="provider", detail=str(exc)[:200])
            return refused_page(request, "provider")

    def login_failure(self) -> HttpResponse:
        reason = getattr(self.request, "care_sso_refusal", None)
        user = getattr(self, "user", None)
        if reason is None and user is not None and not user.is_active:
            reason = "deactivated"
            sso.refuse(self.request, reason=reason, subject=user.sso_identity.subject)
        if reason is None:
            reason = "state"
            sso.refuse(self.request, reason=reason, detail=self.request.GET.get("error", "")[:100])
        return refused_page(self.request, reason)

    def login_success(self) -> HttpResponse:
        was_locked = self.request.user == self.user and self.request.session.get(LOCKED)
        super().login_success()
        if was_locked:
            unlock(self.request, by="idp")
        begin_session(self.request, signed_in_by="idp")
        next_url = self.request.session.get("oidc_login_next")
        return redirect(next_url or sso.landing_page(self.user))
