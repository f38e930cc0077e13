"""The pages after the password: set up an authenticator, give a code, unlock a console."""

from __future__ import annotations

from urllib.parse import quote

from django.contrib.auth import authenticate, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from server.accounts import mfa, passkeys, session_locks, sso

SIGN_IN = "/login/"


def _next(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(wanted, {request.get_host()})
    return wanted if wanted and safe else sso.landing_page(request.user)


def _locked_out(request: HttpRequest) -> HttpResponse | None:
    """Too many wrong codes (or passwords): signed out, and told why on the sign-in page."""
    locked = mfa.locked_out_now(request)
    if locked is None:
        return None
    logout(request)
    return render(request, "accounts/login.html", {"locked_detail": locked.detail}, status=429)


@login_required(login_url=SIGN_IN)
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    if mfa.has_second_factor(request.user):
        return redirect(f"/login/verify/?next={quote(_next(request))}")
    device = mfa.start_enrolment(request.user)
    problem = ""
    if request.method == "POST":
        codes = mfa.confirm_enrolment(request, device, request.POST.get("code", ""))
        if codes is not None:
            context = {"codes": codes, "next": _next(request)}
            return render(request, "accounts/recovery_codes.html", context)
        problem = "That code doesn't match. Type the six digits the app shows now."
    context = {
        "qr": mfa.qr_svg_data_uri(device),
        "secret": mfa.secret_base32(device),
        "problem": problem,
        "next": _next(request),
        "after_passkey": f"/login/recovery-codes/?next={quote(_next(request))}",
    }
    return render(request, "accounts/enrol.html", context, status=400 if problem else 200)


@login_required(login_url=SIGN_IN)
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    if not mfa.has_second_factor(request.user):
        return redirect(f"/login/enrol/?next={quote(_next(request))}")
    problem = ""
    if request.method == "POST":
        if mfa.check_second_factor(request, request.POST.get("code", "")):
            return redirect(_next(request))
        refused = _locked_out(request)
        if refused is not None:
            return refused
        problem = "That code doesn't match, or that recovery code was used before."
    context = {"problem": problem, "next": _next(request), **_factors(request)}
    return render(request, "accounts/verify.html", context, status=400 if problem else 200)


@login_required(login_url=SIGN_IN)
@require_http_methods(["GET", "POST"])
def unlock(request: HttpRequest) -> HttpResponse:
    """The second factor for a local account that has one, the password for one that hasn't,
    the provider (asked to check the person again) for a provider's session."""
    if not request.session.get(session_locks.LOCKED):
        return redirect(_next(request))
    by_provider = request.session.get(mfa.SIGNED_IN_BY) == "idp"
    by_code = not by_provider and mfa.has_second_factor(request.user)
    problem = ""
    if request.method == "POST" and not by_provider:
        if _unlocked(request, by_code):
            session_locks.unlock(request, by="second_factor" if by_code else "password")
            return redirect(_next(request))
        refused = _locked_out(request)
        if refused is not None:
            return refused
        problem = "That doesn't match. Try again."
    context = {"by_provider": by_provider, "by_code": by_code, "problem": problem}
    context.update({"next": _next(request), **_factors(request)})
    return render(request, "accounts/unlock.html", context, status=400 if problem else 200)


def _factors(request: HttpRequest) -> dict:
    """Which second factors this person can give here: a passkey, codes (app or recovery)."""
    user = request.user
    return {
        "passkey": passkeys.has_passkey(user),
        "app": mfa.has_authenticator_app(user),
    }


def _unlocked(request: HttpRequest, by_code: bool) -> bool:
    if by_code:
        return mfa.check_second_factor(request, request.POST.get("code", ""))
    username = request.user.get_username()
    person = authenticate(request, username=username, password=request.POST.get("password", ""))
    return person is not None and person.pk == request.user.pk
