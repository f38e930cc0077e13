"""Sign-in and sign-out for the web consoles (Django sessions, CSRF-protected forms)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from server.accounts.forms import ConsoleSignInForm
from server.accounts.models import Role
from server.accounts.permissions import role_of
from server.accounts.sso import end_session_url


class SignInView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = ConsoleSignInForm
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        # Each role lands on its own console; anyone else on the home page.
        role = getattr(self.request.user, "role", "")
        return {Role.DISPATCHER: "/dispatch/", Role.COORDINATOR: "/coordinator/"}.get(role, "/")


class SignOutPageView(auth_views.LogoutView):
    next_page = "/login/"

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        # A provider's session ends at the provider too, which then sends the person back here.
        provider_sign_out = end_session_url(request)
        answer = super().post(request, *args, **kwargs)
        return HttpResponseRedirect(provider_sign_out) if provider_sign_out else answer


def console_for(*roles: str) -> Callable:
    """Let a page answer only the roles it names (administrators always); deny everyone else.

    Not signed in: the sign-in page, then back. Signed in with another role: a 403 page.
    """

    def wrap(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), login_url="/login/")
            if role_of(request.user) not in (*roles, Role.ADMIN):
                return render(request, "accounts/forbidden.html", {"needed": roles}, status=403)
            return view(request, *args, **kwargs)

        return guarded

    return wrap
