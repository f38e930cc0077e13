"""Sign in: server URL, username, password and a name for this tablet."""

from __future__ import annotations

import socket
from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.uix.screenmanager import Screen

from mobile.ui import widgets  # noqa: F401  (the shared widget rules, loaded before this kv)

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class SignInScreen(Screen):
    def on_pre_enter(self, *args) -> None:
        app = App.get_running_app()
        if not self.ids.server_url.text:
            self.ids.server_url.text = app.session.server_url or ""
        if not self.ids.device_name.text:
            self.ids.device_name.text = f"{socket.gethostname()}-tablet"

    def refresh(self) -> None:
        pass

    def sign_in(self) -> None:
        fields = {k: self.ids[k].text.strip() for k in ("server_url", "username", "device_name")}
        if not all(fields.values()) or not self.ids.password.text:
            self.show("Fill in the server, your username and password, and this tablet's name.")
            return
        self.ids.sign_in.disabled = True
        self.show("Signing in…")
        App.get_running_app().session.sign_in(
            fields["server_url"],
            fields["username"],
            self.ids.password.text,
            fields["device_name"],
            done=self.signed_in,
            failed=self.refused,
        )

    def signed_in(self) -> None:
        self.ids.password.text = ""
        self.ids.sign_in.disabled = False
        self.show("")
        app = App.get_running_app()
        # A password sign-in is its own proof; the lock asks for a PIN only if none is set.
        app.lock.signed_in()
        app.go("inbox")

    def refused(self, reason: str) -> None:
        self.ids.sign_in.disabled = False
        self.show(reason)

    def show(self, message: str) -> None:
        self.ids.message.text = message
