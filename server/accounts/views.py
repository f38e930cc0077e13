"""Sign-in and sign-out for the web consoles (Django sessions, CSRF-protected forms)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views


class SignInView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        # Each role lands on its own console; anyone else on the home page.
        role = getattr(self.request.user, "role", "")
        return {"dispatcher": "/dispatch/", "coordinator": "/coordinator/"}.get(role, "/")


class SignOutPageView(auth_views.LogoutView):
    next_page = "/login/"
