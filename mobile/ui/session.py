"""The app's one tablet, with every network call kept off the UI thread.

Signing in is the only call the screens start themselves; it runs in a thread and its answer
comes back on the UI thread through `kivy.clock.mainthread`. Everything else the screens do goes
through the recorder (local SQLite, no network) and the sync engine's own thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from kivy.clock import mainthread

from mobile.client.api import ApiError
from mobile.client.position import PositionSource
from mobile.client.store import Store
from mobile.client.sync_engine import SyncState
from mobile.client.tablet import Tablet


class TabletSession:
    def __init__(
        self,
        store_path: Path,
        server_url: str | None,
        position_source: PositionSource | None = None,
    ):
        self.store_path = Path(store_path)
        self.position_source = position_source
        self.store_path.parent.mkdir(parents=True, exist_ok=True)
        self.server_url = server_url
        self.tablet: Tablet | None = None
        self.on_sync_change: Callable[[SyncState], None] = lambda state: None
        remembered = self._remembered()
        if remembered:
            self.tablet = Tablet(
                self.store_path, server_url=server_url, position_source=self.position_source
            )
            self._watch()

    def _remembered(self) -> bool:
        """A device signed in before (token kept) reopens to its inbox."""
        if not self.store_path.exists():
            return False
        store = Store(self.store_path)
        try:
            return store.token is not None and (self.server_url or store.server_url) is not None
        finally:
            store.close()

    @property
    def signed_in(self) -> bool:
        return self.tablet is not None and self.tablet.signed_in

    @property
    def role(self) -> str | None:
        if self.tablet is None:
            return None
        return (self.tablet.store.get_setting("user") or {}).get("role")

    def sign_in(
        self,
        server_url: str,
        username: str,
        password: str,
        device_name: str,
        *,
        done: Callable[[], None],
        failed: Callable[[str], None],
    ) -> None:
        """Returns at once; `done` or `failed(reason)` is called later on the UI thread."""

        def work() -> None:
            tablet = None
            try:
                tablet = Tablet(
                    self.store_path, server_url=server_url, position_source=self.position_source
                )
                tablet.sign_in(username, password, device_name)
            except ApiError as exc:
                if tablet is not None:
                    tablet.close()
                self._back(failed, exc.detail)
                return
            except ValueError as exc:
                self._back(failed, str(exc))
                return
            self.tablet = tablet
            self._watch()
            self._back(done)

        threading.Thread(target=work, name="care-sign-in", daemon=True).start()

    def _watch(self) -> None:
        self.tablet.engine.add_listener(self._state_changed)
        self.tablet.start()

    def _state_changed(self, state: SyncState) -> None:
        # Called on the sync thread: hand the state to the UI thread.
        self._back(self.on_sync_change, state)

    @staticmethod
    @mainthread
    def _back(callback: Callable, *args) -> None:
        callback(*args)

    def sign_out(self) -> None:
        if self.tablet is not None:
            tablet, self.tablet = self.tablet, None
            threading.Thread(target=tablet.close, name="care-close", daemon=True).start()
