"""The CARE Field tablet app: a status bar and a notice line over a ScreenManager of the screens.

Screens read the tablet's local store and record through its recorder; the network stays on the
sync engine's thread. Store changes that arrive from the server (live feed or pull) reach the
screens through the sync engine's listener, which fires a refresh throttled with
`Clock.create_trigger`; a once-a-second tick only moves the clock ("time since dispatch"), the
idle lock and the Undo offer. The rules (lock, announce-once, undo, tap guard) are the client
core's; this module binds them to the window.
"""

from __future__ import annotations

import time
from pathlib import Path

from kivy.app import App
from kivy.clock import Clock
from kivy.core.window import Window
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.screenmanager import NoTransition, ScreenManager
from kivy.uix.widget import Widget

from mobile.client.announce import to_announce
from mobile.client.lock import IdleLock
from mobile.client.message_line import MessageLine
from mobile.client.position import PositionSource
from mobile.client.sync_engine import SyncState
from mobile.client.undo import Offer, TapGuard, UndoShelf
from mobile.ui.alert import NewAssignmentAlert
from mobile.ui.assignment import AssignmentScreen
from mobile.ui.encounter import EncounterScreen
from mobile.ui.enrol import EnrolScreen
from mobile.ui.inbox import InboxScreen
from mobile.ui.lock import LockScreen
from mobile.ui.safety_bar import SafetyBar
from mobile.ui.session import TabletSession
from mobile.ui.signin import SignInScreen
from mobile.ui.survey import SurveyScreen
from mobile.ui.sync import StatusBar, SyncScreen
from mobile.ui.widgets import PAPER, layout_places

Builder.load_file(str(Path(__file__).with_name("notice.kv")))

SIGNED_IN_SCREENS = ("inbox", "assignment", "encounter", "survey", "sync")


class Notice(BoxLayout):
    """The one-line message and the Undo, in space reserved for them under the status bar."""


class CareTabletApp(App):
    title = "CARE Field"
    came_from = StringProperty("inbox")  # where the sync screen goes back to

    def __init__(
        self,
        *,
        store_path: Path,
        server_url: str | None,
        lock_after_minutes: float | None = None,
        position_source: PositionSource | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.session = TabletSession(store_path, server_url, position_source)
        self.session.on_sync_change = self.sync_changed
        self.lock = IdleLock(lambda: self.session.tablet.store, minutes=lock_after_minutes)
        self.resume_to = "inbox"  # a remembered tablet opens locked: the PIN, then the inbox
        self.sync_state: SyncState | None = None
        self.alert = NewAssignmentAlert()
        self.line = MessageLine()
        self.prompted_for = None  # the signed-in tablet already told how to sign on
        self.tap_guard = TapGuard()
        self.tap_log: list[str] = []  # the controls that took a tap, for the test hook
        self.refused_log: list[str] = []  # and those whose tap guard refused one
        self._undo: UndoShelf | None = None
        # Cold-start figures: the first screen ready for input, and the inbox first shown.
        self.ready_at: float | None = None
        self.inbox_shown_at: float | None = None

    def build(self):
        Window.clearcolor = PAPER
        root = FloatLayout()
        column = BoxLayout(orientation="vertical")
        self.status_bar = StatusBar()
        self.notice = Notice()
        self.message = self.notice.ids.message
        self.screens = ScreenManager(transition=NoTransition())
        for screen in (
            SignInScreen(),
            InboxScreen(),
            AssignmentScreen(),
            EncounterScreen(),
            SyncScreen(),
            SurveyScreen(),
            LockScreen(),
            EnrolScreen(),
        ):
            self.screens.add_widget(screen)
        column.add_widget(self.status_bar)
        # The safety bar's first row (the emergency button) has its place in the column; the
        # rows it opens (shift, the emergency's end, the check-in) lie over the screen below,
        # so nothing under a finger moves when they open.
        self.safety_bar = SafetyBar(size_hint=(1, None))
        self.bar_place = Widget(size_hint_y=None, height=0)
        column.add_widget(self.bar_place)
        column.add_widget(self.notice)
        column.add_widget(self.screens)
        root.add_widget(column)
        root.add_widget(self.safety_bar)
        self.bar_place.bind(pos=self.place_safety_bar, size=self.place_safety_bar)
        self.safety_bar.bind(height=self.place_safety_bar, first_row=self.place_safety_bar)
        self.refresh_soon = Clock.create_trigger(lambda dt: self.refresh(), 0.1)
        Clock.schedule_interval(lambda dt: self.tick(), 1.0)
        Window.bind(on_touch_down=self.touched, on_key_down=self.touched)
        Window.bind(on_touch_up=lambda *_: self.watch_layout())
        self.go("inbox" if self.session.signed_in else "signin")
        return root

    def place_safety_bar(self, *_args) -> None:
        self.bar_place.height = self.safety_bar.first_row
        self.safety_bar.top = self.bar_place.top

    # ---- navigation --------------------------------------------------------------------------

    def go(self, name: str) -> None:
        if name in SIGNED_IN_SCREENS and not self.session.signed_in:
            if self.screens.current == "signin":  # Inbox or Sync tapped before signing in
                self.tell(f"Sign in first: the {name} opens once you are signed in.", error=True)
            name = "signin"
        elif name in SIGNED_IN_SCREENS and self.needs_pin():
            if self.screens.current != "lock":  # unlocking returns where the responder was
                self.resume_to = name
            name = "lock"
        self.line.screen_changed()
        self.message.text = self.line.text
        if name == "sync" and self.screens.current in ("inbox", "assignment", "encounter"):
            self.came_from = self.screens.current  # the sync screen's way back
        self.screens.current = name
        self.show_undo()  # none on the survey, from its first frame
        self.refresh_soon()
        self.watch_layout()

    def open_assignment(self, assignment_id: str) -> None:
        self.screens.get_screen("assignment").assignment_id = assignment_id
        self.go("assignment")

    def open_encounter(self, assignment_id: str) -> None:
        self.screens.get_screen("encounter").assignment_id = assignment_id
        self.go("encounter")

    def open_survey(self, encounter_id: str) -> None:
        self.screens.get_screen("survey").encounter_id = encounter_id
        self.go("survey")

    # ---- stable layouts: a tap lands on what it was aimed at ---------------------------------

    def watch_layout(self, frames: int = 3) -> None:
        """Tell the tap guard what the screen offers where, over the next frames (a rebuilt grid
        is laid out a frame or two later): a control that moved ignores taps for 500 ms."""

        def check(dt, left=frames) -> None:
            self.tap_guard.laid_out(layout_places())
            if left > 1:
                Clock.schedule_once(lambda dt: check(dt, left - 1), 0)

        Clock.schedule_once(check, 0)

    def refused(self, control) -> None:
        """A tap the guard ignored: say so, so the person looks again before tapping."""
        self.refused_log.append(getattr(control, "stable_id", ""))
        self.tell(
            "That button had just moved: nothing was recorded. Look, then tap again.", error=True
        )

    # ---- the lock ------------------------------------------------------------------------------

    def needs_pin(self) -> bool:
        return self.lock.needs_pin()

    def touched(self, *args) -> None:
        self.lock.touched()

    def unlocked(self) -> None:
        self.go(self.resume_to)

    def tick(self) -> None:
        """Once a second: the idle lock, the Undo's 10 s, and the clock on screen ("dispatched
        3 min ago"). Store changes don't wait for it: the sync engine's listener redraws at once."""
        if self.session.signed_in and self.lock.tick():
            self.go(self.screens.current)
        if self.line.tick():
            self.message.text = self.line.text
        self.show_undo()
        screen = self.screens.current_screen
        if self.session.signed_in:
            self.safety_bar.refresh()  # a check-in comes due with time alone
        if self.session.signed_in and hasattr(screen, "tick"):
            screen.tick()

    # ---- the notice line and Undo ------------------------------------------------------------

    def tell(self, message: str, *, error: bool = False) -> None:
        """Say it on the message line: an error stays until the person acts, a confirmation
        long enough to read."""
        self.line.say(message, error=error)
        self.message.text = message

    def acted(self) -> None:
        """A control took a tap: an error on the line has been seen."""
        self.line.acted()
        self.message.text = self.line.text

    @property
    def undo_shelf(self) -> UndoShelf:
        recorder = self.session.tablet.recorder
        if self._undo is None or self._undo.recorder is not recorder:
            self._undo = UndoShelf(recorder)
        return self._undo

    def recorded(self, said: str) -> None:
        """Something with no Undo of its own was recorded: say so, and withdraw the Undo on
        offer, which would take back an older choice than this one."""
        self.undo_shelf.withdraw()
        self.tell(said)
        self.show_undo()

    def offered(self, offer: Offer) -> None:
        """A consequential choice was recorded: say what, with an Undo for 10 s."""
        self.tell(offer.told or offer.said)
        self.show_undo()

    def show_undo(self) -> None:
        """The Undo names what it takes back; none while the person being helped holds the
        tablet (the survey)."""
        offer = self._undo.offer if self._undo is not None and self.session.signed_in else None
        if self.screens.current == "survey":
            offer = None
        button = self.notice.ids.undo
        if offer is None and button.opacity:
            if self.message.text == button.said:
                self.line.screen_changed()  # the Undo's time is up: its words go once read
                self.message.text = self.line.text
            button.said = ""
        elif offer is not None:
            button.said = offer.said
        button.opacity = 1 if offer is not None else 0
        button.disabled = offer is None

    def undo(self) -> None:
        said = self.notice.ids.undo.said
        if self.undo_shelf.undo() is not None:
            self.tell(f"Undone: {said}. The correction is queued.")
            self.notice.ids.undo.said = ""
        self.show_undo()
        self.refresh_soon()

    def prompt_sign_on(self) -> None:
        """Once per sign-in, on the inbox: a responder not signed on to a unit is told how."""
        tablet = self.session.tablet
        if self.prompted_for is tablet or self.screens.current != "inbox":
            return
        self.prompted_for = tablet
        if not tablet.safety.state().get("shift"):
            self.tell(
                "Not signed on to a unit on this tablet: tap Shift, choose your unit, Sign on."
            )

    def announce_new_assignments(self) -> None:
        """A call dispatched to this unit and never announced on this tablet: banner, sound and
        vibration, once per assignment (whatever screen is open)."""
        store = self.session.tablet.store
        for assignment_id in to_announce(store):
            call = (store.assignment(assignment_id) or {}).get("incident") or {}
            self.alert(assignment_id)
            if self.needs_pin():  # a locked tablet rings but shows nothing of the call
                self.tell("New assignment: unlock to see it.")
            else:
                self.tell(f"New assignment: {call.get('call_type')}, {call.get('address', '')}")

    # ---- keeping the screens current --------------------------------------------------------

    def sync_changed(self, state: SyncState) -> None:
        self.sync_state = state
        if state.revoked:
            self.session.sign_out()
            self.go("signin")
            self.tell("This tablet was revoked: its records were wiped. Sign in again.")
        elif state.signed_out:
            self.session.sign_out()
            self.go("signin")
            self.tell("Your sign-in expired. Sign in again; queued changes are kept.")
        self.refresh_soon()

    def refresh(self) -> None:
        if not self.session.signed_in:
            self.status_bar.show(None, 0)
            self.show_undo()
            self.safety_bar.unbind_tablet()
            return
        tablet = self.session.tablet
        self.status_bar.show(self.sync_state or tablet.engine.state, tablet.store.queued_count())
        self.prompt_sign_on()
        self.announce_new_assignments()
        if self.safety_bar.tablet is not tablet:
            self.safety_bar.bind_tablet(tablet)
        self.safety_bar.locked = self.needs_pin()
        self.safety_bar.refresh()
        self.screens.current_screen.refresh()
        self.watch_layout()
        if self.ready_at is None:
            self.ready_at = time.time()
        if self.inbox_shown_at is None and self.screens.current == "inbox":
            self.inbox_shown_at = time.time()

    def on_stop(self) -> None:
        self.session.sign_out()
