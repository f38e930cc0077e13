"""Lock: choose a PIN at first sign-in, enter it after idle and at every start.

The rules (PIN length, hashing, when to lock) are the client core's `mobile.client.lock`.
"""

from __future__ import annotations

from pathlib import Path

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import BooleanProperty
from kivy.uix.screenmanager import Screen

from mobile.client.lock import has_pin

Builder.load_file(str(Path(__file__).with_suffix(".kv")))


class LockScreen(Screen):
    setting = BooleanProperty(False)  # True: choose a PIN (first sign-in); False: unlock

    def on_pre_enter(self, *args) -> None:
        self.setting = not has_pin(App.get_running_app().session.tablet.store)
        self.ids.pin.text = self.ids.again.text = ""
        self.ids.message.text = ""

    def refresh(self) -> None:
        pass

    def submit(self) -> None:
        app = App.get_running_app()
        pin = self.ids.pin.text.strip()
        if self.setting:
            problem = app.lock.choose_pin(pin, self.ids.again.text.strip())
            if problem:
                self.ids.message.text = problem
                return
        elif not app.lock.unlock(pin):
            self.ids.pin.text = ""
            self.ids.message.text = "That PIN is not right."
            return
        app.unlocked()
