"""Passkey ceremonies (django-otp-webauthn's views, held to CARE Field's rules) and the pages a
person keeps their passkeys on.

The library's JSON endpoints live under /login/passkey/ (reachable while a session owes its
second factor or is locked, like the other second-factor pages). Added here: only a local
account's open session may add a passkey; a refused passkey is audited and counted by the
lockout, and at the lock the person is signed out; a passkey opens a locked console; no input
answers a server error.
"""

from __future__ import annotations

from urllib.parse import quote

from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django.views.i18n import JavaScriptCatalog
from django_otp_webauthn import exceptions as ceremony_errors
from django_otp_webauthn import views as ceremonies

from server.accounts import mfa, passkeys, session_locks, sso
from server.errors import CareFieldError

SIGN_IN = "/login/"


def _malformed_as_refusal(exc: Exception) -> Exception:
    """The library answers its own errors as JSON and lets anything else through (a 500);
    input it could not read at all is a refusal like any other."""
    if isinstance(exc, ceremony_errors.OTPWebAuthnApiError):
        return exc
    if isinstance(exc, (ValueError, TypeError, KeyError, AttributeError, IndexError)):
        return ceremony_errors.MalformedRequest(detail="That passkey answer could not be read.")
    return exc


class AddRefused(ceremony_errors.OTPWebAuthnApiError):
    status_code = 403
    default_code = "passkey_add_refused"
    default_detail = "Open your console (sign in or unlock) before adding a passkey."


class RegistrationRules:
    def check_can_register(self):
        if not passkeys.may_add_passkey(self.request):
            raise AddRefused()

    def handle_exception(self, exc):
        return super().handle_exception(_malformed_as_refusal(exc))


class BeginRegistration(RegistrationRules, ceremonies.BeginCredentialRegistrationView):
    pass


class CompleteRegistration(RegistrationRules, ceremonies.CompleteCredentialRegistrationView):
    def post(self, *args, **kwargs):
        first = not mfa.has_second_factor(self.request.user)
        answer = super().post(*args, **kwargs)
        credential = passkeys.passkeys_of(self.request.user).order_by("-pk").first()
        passkeys.added(self.request, credential, first=first)
        return answer


class BeginAuthentication(ceremonies.BeginCredentialAuthenticationView):
    def handle_exception(self, exc):
        return super().handle_exception(_malformed_as_refusal(exc))


class CompleteAuthentication(ceremonies.CompleteCredentialAuthenticationView):
    """A passkey as the second factor after the password, or to open a locked console."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            refused = _locked_out(request)
            if refused is not None:
                return refused  # a guess during a lock neither counts nor is checked
        return super().dispatch(request, *args, **kwargs)

    def complete_auth(self, device) -> None:
        super().complete_auth(device)
        passkeys.used(self.request, device)
        if self.request.session.get(session_locks.LOCKED):
            session_locks.unlock(self.request, by="passkey")

    def get_success_url(self) -> str:
        return self.get_redirect_url() or sso.landing_page(self.request.user)

    def handle_exception(self, exc):
        exc = _malformed_as_refusal(exc)
        if (
            isinstance(exc, ceremony_errors.OTPWebAuthnApiError)
            and self.request.user.is_authenticated
        ):
            passkeys.refused(self.request, code=exc.code)
            locked = _locked_out(self.request)
            if locked is not None:
                return locked
        return super().handle_exception(exc)


def _locked_out(request: HttpRequest) -> JsonResponse | None:
    """Too many refused second factors (or passwords): signed out, and told why."""
    locked = mfa.locked_out_now(request)
    if locked is None:
        return None
    logout(request)
    return JsonResponse(locked.as_dict(), status=locked.status)


# Named as the library's template tags expect (namespace "otp_webauthn").
ceremony_urls = (
    [
        path(
            "registration/begin/", BeginRegistration.as_view(), name="credential-registration-begin"
        ),
        path(
            "registration/complete/",
            CompleteRegistration.as_view(),
            name="credential-registration-complete",
        ),
        path(
            "authentication/begin/",
            BeginAuthentication.as_view(),
            name="credential-authentication-begin",
        ),
        path(
            "authentication/complete/",
            CompleteAuthentication.as_view(),
            name="credential-authentication-complete",
        ),
        path(
            "jsi18n/",
            JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]),
            name="js-i18n-catalog",
        ),
    ],
    "otp_webauthn",
)


def _next(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(wanted, {request.get_host()})
    return wanted if wanted and safe else sso.landing_page(request.user)


@never_cache
@login_required(login_url=SIGN_IN)
@require_http_methods(["GET"])
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """After a first passkey: ten recovery codes, shown once (a reload shows none again)."""
    if not request.session.pop(mfa.RECOVERY_CODES_DUE, False) or not request.user.is_verified():
        return redirect(_next(request))
    codes = mfa.issue_recovery_codes(request.user)
    return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": _next(request)})


@login_required(login_url=SIGN_IN)
@require_http_methods(["GET"])
def second_factor_page(request: HttpRequest) -> HttpResponse:
    """A local account's second factors: its passkeys (add, remove) and whether an app is set."""
    return _second_factor_page(request)


@login_required(login_url=SIGN_IN)
@require_POST
def remove_passkey(request: HttpRequest, passkey_id: int) -> HttpResponse:
    try:
        passkeys.remove(request, passkey_id=passkey_id)
    except CareFieldError as exc:
        return _second_factor_page(request, problem=exc.detail, status=exc.status)
    return redirect("/account/second-factor/")


def _second_factor_page(request: HttpRequest, *, problem: str = "", status: int = 200):
    user = request.user
    if request.session.get(mfa.SIGNED_IN_BY) == "idp" or not user.has_usable_password():
        context = {"by_provider": True}
        return render(request, "accounts/second_factor.html", context, status=status)
    context = {
        "passkeys": list(passkeys.passkeys_of(user)),
        "authenticator_app": mfa.has_authenticator_app(user),
        "problem": problem,
        "after_passkey": f"/account/second-factor/?next={quote(_next(request))}",
    }
    return render(request, "accounts/second_factor.html", context, status=status)
