"""Enrol this tablet: the server, a supervisor's one-time code (typed, or read off the QR), and a
name for the tablet. The network call runs in the client core, off the UI thread."""

from __future__ import annotations

import threading
from pathlib import Path

from kivy.app import App
from kivy.clock import mainthread
from kivy.lang import Builder
from kivy.uix.screenmanager import Screen

from mobile.client.api import ApiError
from mobile.client.tablet import Tablet
from mobile.ui import widgets  # noqa: F401  (the shared widget rules, loaded before this kv)

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class EnrolScreen(Screen):
    def on_pre_enter(self, *args) -> None:
        if not self.ids.enrol_server_url.text:
            self.ids.enrol_server_url.text = App.get_running_app().session.server_url or ""

    def refresh(self) -> None:
        pass

    def enrol(self) -> None:
        url, code, name = (
            self.ids[k].text.strip() for k in ("enrol_server_url", "enrol_code", "tablet_name")
        )
        if not (url and code and name):
            self.show("Fill in the server, the code from your supervisor and this tablet's name.")
            return
        self.ids.enrol.disabled = True
        self.show("Enrolling…")
        store_path = App.get_running_app().session.store_path
        threading.Thread(
            target=self._work, args=(store_path, url, code, name), name="care-enrol", daemon=True
        ).start()

    def _work(self, store_path: Path, url: str, code: str, name: str) -> None:
        tablet = None
        try:
            tablet = Tablet(store_path, server_url=url)
            tablet.enrol(code, name)
        except (ApiError, ValueError) as exc:
            self._done(getattr(exc, "detail", str(exc)), enrolled=False)
            return
        finally:
            if tablet is not None:
                tablet.close()
        self._done(f"This tablet is enrolled as {name}. Sign in.", enrolled=True)

    @mainthread
    def _done(self, message: str, *, enrolled: bool) -> None:
        self.ids.enrol.disabled = False
        self.ids.enrol_code.text = ""
        app = App.get_running_app()
        if enrolled:
            app.go("signin")
            app.tell(message)
        else:
            self.show(message)

    def show(self, message: str) -> None:
        self.ids.enrol_message.text = message
