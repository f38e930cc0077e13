from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "server.accounts"
    label = "accounts"
    verbose_name = "People, devices and tokens"

    def ready(self) -> None:
        from django.contrib.auth import signals
        from django.db.models.signals import post_save, pre_save

        from server.accounts import (
            checks,  # noqa: F401  (registers the start-up checks)
            schema,  # noqa: F401  (registers the OpenAPI extension)
            services,
            session_locks,
        )

        # Every login path is audited and counted toward the lockout, not only the token endpoint.
        signals.user_login_failed.connect(services.on_login_failed, dispatch_uid="login-failed")
        signals.user_logged_in.connect(services.on_logged_in, dispatch_uid="care-logged-in")
        # A browser session's clock (lifetime, idle lock) starts at its sign-in.
        signals.user_logged_in.connect(session_locks.on_logged_in, dispatch_uid="session-begun")
        # Signing out of a console revokes the live-feed token that session asked for.
        signals.user_logged_out.connect(services.end_console_token, dispatch_uid="console-out")
        # A new role, unit or deactivation ends the person's tokens and sockets, whatever saved it.
        user_model = self.get_model("User")
        pre_save.connect(services.remember_access, sender=user_model, dispatch_uid="access-before")
        post_save.connect(
            services.end_access_if_changed, sender=user_model, dispatch_uid="access-changed"
        )
