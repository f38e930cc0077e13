"""The safety bar on every screen: the emergency button (press and hold), the emergency's
status and its end with the PIN, the check-in prompt, and the unit's duty status in one tap.

Rules live in `mobile.client.safety`; this only renders and binds. Network calls run off the UI
thread and come back through `mainthread`.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock, mainthread
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.dropdown import DropDown
from kivy.uix.spinner import Spinner, SpinnerOption

from mobile.client.api import ApiError, Offline
from mobile.client.lock import pin_matches
from mobile.client.roster import ASK, DECLINED, NOT_ROSTERED, WAITING, NeedsConnection, call_sign_of
from mobile.client.safety import HoldToSend
from mobile.ui.widgets import BigButton, ConfirmSheet, Guarded

HOLD_TICK_SECONDS = 0.05


class EmergencyButton(BigButton):
    """Press and hold; the bar decides when the hold is long enough."""

    def on_touch_down(self, touch):
        if self.collide_point(*touch.pos) and not self.disabled:
            touch.grab(self)
            self.parent.parent.hold_started()
            return True
        return super().on_touch_down(touch)

    def on_touch_up(self, touch):
        if touch.grab_current is self:
            touch.ungrab(self)
            self.parent.parent.hold_ended()
            return True
        return super().on_touch_up(touch)


class UnitOption(Guarded, SpinnerOption):
    """One unit in the list: a fingertip's size, named by its call sign, with the responder's
    standing on it today ("CARE-2 · not on your roster today")."""

    stable_id = StringProperty("")

    def on_text(self, _option, text: str) -> None:
        self.stable_id = f"unit-{call_sign_of(text)}"


class UnitList(DropDown):
    """The unit list, as wide as the bar: each row says its standing in full."""


class UnitPicker(Guarded, Spinner):
    stable_id = StringProperty("")

    def _on_dropdown_select(self, instance, data, *largs):
        """The picker shows the chosen call sign; the sentence under it says the rest."""
        super()._on_dropdown_select(instance, call_sign_of(data), *largs)


class SafetyBar(BoxLayout):
    banner = StringProperty("")
    hold_progress = NumericProperty(0)
    can_end = NumericProperty(0)
    check_in_for = StringProperty("")
    duty_status = StringProperty("")
    unit_names = ListProperty([])  # the unit list's rows: call sign · standing today
    chosen = StringProperty("")  # the call sign picked in the list
    roster_words = StringProperty("")  # the chosen unit's standing, in a sentence
    offer = StringProperty("")  # what the chosen unit offers (mobile.client.roster)
    asking = BooleanProperty(False)  # the button beside the unit asks a supervisor
    action_text = StringProperty("Sign on")
    # Not `on_shift`: Kivy takes a property named `on_…` for an event handler, and a kv rule
    # bound to it never updates (the button read "Sign on" while signed on).
    signed_on = BooleanProperty(False)
    signed_in = BooleanProperty(False)
    show_shift = BooleanProperty(False)  # the shift and duty-status rows, shown on demand
    locked = BooleanProperty(False)  # a locked tablet keeps only the emergency button
    first_row = NumericProperty(0)  # the emergency row's height: the place kept for the bar

    def __init__(self, **kwargs):
        self.tablet = None
        self._units: dict[str, int] = {}  # call sign -> unit id, of the list shown
        super().__init__(**kwargs)
        self.hold = HoldToSend()
        self._holding = None

    def on_touch_down(self, touch):
        """Only rows on show take touches. A hidden row is 0 high, but its buttons keep their
        own height (56 dp) and stand, invisible and disabled, over the emergency button above
        it; a disabled widget swallows the touches that land on it, so a finger on most of the
        emergency button would have done nothing."""
        if self.disabled and self.collide_point(*touch.pos):
            return True
        taken = any(row.dispatch("on_touch_down", touch) for row in self.children[:] if row.height)
        # The bar lies over the screen: a touch between its rows must not reach what is under.
        return taken or (self.signed_in and self.collide_point(*touch.pos))

    # ---- binding to the tablet -----------------------------------------------------------

    def on_locked(self, _widget, locked: bool) -> None:
        if locked:
            self.show_shift = False

    def on_show_shift(self, _widget, shown: bool) -> None:
        if shown:  # the kept list at once (full before the first tap on it), then today's
            self.show_roster()
            self.load_units()

    def unbind_tablet(self) -> None:
        self.tablet = None
        self.refresh()

    def bind_tablet(self, tablet) -> None:
        self.tablet = tablet
        self.chosen = ""  # another person's tablet session: nothing chosen for them yet
        seconds = (tablet.store.protocol() or {}).get("emergency_hold_seconds")
        if seconds:
            self.hold = HoldToSend(seconds)
        self.refresh()

    def refresh(self) -> None:
        self.signed_in = self.tablet is not None and self.tablet.signed_in
        if not self.signed_in:
            return
        safety = self.tablet.safety
        view = safety.emergency()
        if view is not None and view.ended:
            # Said once on the message line, then forgotten: a restart shows no stale "ended".
            App.get_running_app().tell("Emergency ended.")
            safety.forget_ended_emergency()
            view = None
        self.banner = view.message if view else safety.nearby_alert()
        self.can_end = 1 if view is not None and not view.ended else 0
        asked = [a for a in self.tablet.store.assignments() if safety.check_in_asked(a)]
        self.check_in_for = str(asked[0]["id"]) if asked else ""
        self.duty_status = (safety.state().get("unit") or {}).get("duty_status", "")
        self.signed_on = bool(safety.state().get("shift"))
        self.show_roster()

    def show_roster(self) -> None:
        """The unit list and the chosen unit's standing, from the tablet's kept roster (the
        feed keeps it current: an approval shows without a refresh)."""
        if self.tablet is None:
            return
        rows = self.tablet.roster.standings()
        self._units = {row.call_sign: row.id for row in rows}
        options = [row.option for row in rows]
        if options != list(self.unit_names):
            self.unit_names = options
        row = self.tablet.roster.standing(call_sign=self.chosen) if self.chosen else None
        self.offer = row.offer if row is not None else ""
        self.roster_words = row.words if row is not None else ""
        self.asking = self.offer in (ASK, WAITING, DECLINED) and not self.signed_on
        if self.signed_on:
            self.action_text = "Sign off"
        else:
            self.action_text = row.action if row is not None else "Sign on"

    # ---- the emergency button ------------------------------------------------------------

    def hold_started(self) -> None:
        self.hold.press(time.monotonic())
        self._holding = Clock.schedule_interval(lambda dt: self._held(), HOLD_TICK_SECONDS)

    def _held(self) -> None:
        at = time.monotonic()
        self.hold_progress = self.hold.progress(at)
        if self.hold.tick(at):
            self._send()

    def hold_ended(self) -> None:
        if self._holding is not None:
            self._holding.cancel()
            self._holding = None
        if self.hold.release(time.monotonic()):
            self._send()
        self.hold_progress = 0

    def _send(self) -> None:
        if self.tablet is None:
            return
        user = self.tablet.store.get_setting("user") or {}
        unit = (user.get("unit") or {}).get("id")
        if unit is None:
            self.banner = "This account rides no unit: call dispatch by radio."
            return
        self.banner = "Sending emergency…"
        tablet = self.tablet
        threading.Thread(
            target=lambda: self._sent(tablet.safety.send_emergency(unit=unit)), daemon=True
        ).start()

    @mainthread
    def _sent(self, view) -> None:
        self.banner = view.message
        self.refresh()

    def end_emergency(self, pin: str) -> None:
        if self.tablet is None:
            return
        if not pin_matches(self.tablet.store, pin):
            self.ids.pin.text = ""  # typed again from empty, never after a wrong one
            App.get_running_app().tell(
                "That PIN is not right: the emergency is still on.", error=True
            )
            return
        self.ids.pin.text = ""
        self.tablet.safety.end_emergency(pin_ok=True)
        self.refresh()

    # ---- check-ins and duty status -------------------------------------------------------

    def answer_check_in(self) -> None:
        if self.tablet is not None and self.check_in_for:
            self.tablet.safety.answer_check_in(self.check_in_for)
            self.refresh()

    def set_duty(self, status: str) -> None:
        if self.tablet is None:
            return
        unit = ((self.tablet.store.get_setting("user") or {}).get("unit") or {}).get("id")
        tablet = self.tablet

        def work() -> None:
            try:
                tablet.safety.set_duty_status(unit, status)
            except (Offline, ApiError) as exc:
                self._told(f"Duty status not changed: {exc}")
                return
            self._told("")

        threading.Thread(target=work, daemon=True).start()

    # ---- sign on and off -----------------------------------------------------------------

    def load_units(self) -> None:
        """Fetch the units with the responder's roster and requests for today."""
        if self.tablet is None:
            return
        tablet = self.tablet

        def work() -> None:
            try:
                tablet.roster.load()
            except (Offline, ApiError) as exc:
                self._told(f"Units not loaded: {exc}", error=True)
                return
            self._told("")

        threading.Thread(target=work, daemon=True).start()

    def choose_unit(self, text: str) -> None:
        """The picker's text changed: a call sign chosen from the list."""
        if text in self._units:
            self.chosen = text
        self.show_roster()

    def shift_action(self, vehicle: str) -> None:
        """The button beside the unit: sign on or off, or ask a supervisor."""
        if self.offer == ASK and not self.signed_on:
            self.ask_supervisor()
        elif self.offer not in (WAITING, DECLINED) or self.signed_on:
            self.toggle_shift(self.chosen, vehicle)

    def ask_supervisor(self) -> None:
        if self.tablet is None or not self.chosen:
            return
        tablet, call_sign = self.tablet, self.chosen
        unit = self._units.get(call_sign)

        def work() -> None:
            try:
                tablet.roster.ask(unit)
            except NeedsConnection as exc:
                self._told(str(exc), error=True)
                return
            except (Offline, ApiError) as exc:
                self._told(f"Not asked: {exc}", error=True)
                return
            self._told(f"Asked a supervisor to approve you on {call_sign}.")

        threading.Thread(target=work, daemon=True).start()

    def toggle_shift(self, call_sign: str, vehicle: str) -> None:
        if self.tablet is None:
            return
        tablet, unit = self.tablet, self._units.get(call_sign)
        if self.signed_on:
            riding = ((tablet.store.get_setting("user") or {}).get("unit") or {}).get("call_sign")
            sheet = ConfirmSheet(on_yes=lambda: self._shift_work(tablet, None, "", riding))
            sheet.question = f"Sign {riding or 'your unit'} off duty? Dispatch stops sending calls."
            sheet.yes_text = "Yes, sign off"
            sheet.open()
            return
        if unit is None:
            App.get_running_app().tell(
                "Choose your unit first: the list left of Sign on.", error=True
            )
            return
        self._shift_work(tablet, unit, vehicle, call_sign)

    def _shift_work(self, tablet, unit: int | None, vehicle: str, call_sign: str | None) -> None:
        """Sign on to `unit`, or off with `unit` None, off the UI thread."""

        def work() -> None:
            try:
                if unit is None:
                    tablet.safety.sign_off()
                    self._told(f"Signed {call_sign or 'your unit'} off duty.", done=True)
                else:
                    tablet.safety.sign_on(unit=unit, vehicle=vehicle)
                    self._told(f"Signed on to {call_sign}.", done=True)
            except ApiError as exc:
                if unit is not None and exc.code == NOT_ROSTERED:
                    # Not a dead end: the row now offers to ask a supervisor, right here.
                    tablet.roster.refused_sign_on(unit)
                    self._told(f"{exc} Tap “Ask a supervisor”.", error=True)
                    return
                self._told(f"Not done: {exc}", error=True)

        threading.Thread(target=work, daemon=True).start()

    @mainthread
    def _told(self, message: str, *, error: bool = False, done: bool = False) -> None:
        if message:
            App.get_running_app().tell(message, error=error)
        if done:  # the panel lies over the message line: close it so the message is seen
            self.show_shift = False
        self.refresh()
        app = App.get_running_app()
        if hasattr(app, "watch_layout"):  # the tap guard sees what changed words or appeared
            app.watch_layout()


Builder.load_file(str(Path(__file__).with_suffix(".kv")))
