"""Web console sessions: when they began, when they lock, and when they end.

A console locks after CARE_CONSOLE_IDLE_LOCK_MINUTES without the person opening a page (CJIS
5.5.5 session lock: at most 30 minutes); the page's own background fetches don't count as the
person being there. A locked session opens again with the second factor, the password (a local
account without one) or the provider. Whatever the console does, a session ends
SESSION_COOKIE_AGE after its sign-in. Locks, unlocks and ends are in the audit trail.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth import logout
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from server.accounts import mfa, services
from server.audit.services import record_audit

SIGNED_IN_AT = "care_signed_in_at"
ACTIVE_AT = "care_active_at"
LOCKED = "care_locked"
# Pages a session may reach while it owes a second factor or is locked: signing in, out, again.
OPEN_PATHS = ("/login/", "/logout/", "/admin/logout/", "/static/", "/healthz")
TOUCH_EVERY_SECONDS = 30  # the last-activity time is written at most this often


def begin_session(request: HttpRequest, *, signed_in_by: str) -> None:
    now = time.time()
    request.session.update(
        {mfa.SIGNED_IN_BY: signed_in_by, SIGNED_IN_AT: now, ACTIVE_AT: now, LOCKED: False}
    )


def on_logged_in(sender, request, user, **kwargs) -> None:
    """Django's user_logged_in: a password sign-in (the provider's callback says "idp" after)."""
    if request is not None and hasattr(request, "session"):
        begin_session(request, signed_in_by="password")


def is_navigation(request: HttpRequest) -> bool:
    """A page the person opened, not a script's fetch (browsers say which in Sec-Fetch-Mode)."""
    if request.path.startswith("/api/"):
        return False
    return request.headers.get("Sec-Fetch-Mode", "navigate") == "navigate"


def refuse(request: HttpRequest, to: str, code: str, detail: str) -> HttpResponse:
    if is_navigation(request):
        return redirect(f"{to}?next={quote(request.get_full_path())}")
    return JsonResponse({"code": code, "detail": detail}, status=401)


def lock(request: HttpRequest, idle_seconds: float) -> None:
    """Lock the session; its console's live-feed token dies, so the board stops updating."""
    request.session[LOCKED] = True
    held = request.session.get(services.CONSOLE_TOKEN) or {}
    token = services.device_for_token(held["key"]) if held.get("key") else None
    if token is not None:
        services.sign_out(token=token)
    request.session.pop(services.CONSOLE_TOKEN, None)
    with transaction.atomic():
        record_audit(
            actor=request.user,
            action="auth.session_locked",
            obj=request.user,
            after={"idle_minutes": int(idle_seconds // 60)},
        )


def unlock(request: HttpRequest, *, by: str) -> None:
    request.session.update({LOCKED: False, ACTIVE_AT: time.time()})
    with transaction.atomic():
        record_audit(
            actor=request.user, action="auth.session_unlocked", obj=request.user, after={"by": by}
        )


def end_expired(request: HttpRequest) -> HttpResponse:
    user = request.user
    with transaction.atomic():
        record_audit(actor=user, action="auth.session_expired", obj=user)
    logout(request)
    return refuse(request, "/login/", "session_expired", "Your session ended; sign in again.")


class SignInGate:
    """For a signed-in browser session: its lifetime, its idle lock, and its second factor."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            refusal = self.check(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    def check(self, request: HttpRequest) -> HttpResponse | None:
        session, now = request.session, time.time()
        if now - session.setdefault(SIGNED_IN_AT, now) > settings.SESSION_COOKIE_AGE:
            return end_expired(request)
        if request.path.startswith(OPEN_PATHS):
            return None
        idle = now - session.setdefault(ACTIVE_AT, now)
        limit = settings.CARE_CONSOLE_IDLE_LOCK_MINUTES * 60
        if limit and idle > limit and not session.get(LOCKED):
            lock(request, idle)
        if session.get(LOCKED):
            return refuse(request, "/login/unlock/", "session_locked", "This console is locked.")
        if mfa.second_factor_missing(request):
            to = "/login/verify/" if mfa.has_second_factor(request.user) else "/login/enrol/"
            return refuse(request, to, "second_factor_required", "Give your second factor.")
        if is_navigation(request) and idle > TOUCH_EVERY_SECONDS:
            session[ACTIVE_AT] = now
        return None
