"""One tablet: its store, API client, recorder, sync engine and live feed, wired together.

The Kivy app makes one `Tablet` and binds its screens to `tablet.recorder` (to record) and
`tablet.engine.state` / `add_listener` (to show sync status).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import requests

from mobile.client.api import ApiClient
from mobile.client.live_feed import LiveFeed
from mobile.client.position import PositionReporter, PositionSource
from mobile.client.recorder import Recorder
from mobile.client.roster import Roster
from mobile.client.safety import Safety
from mobile.client.store import Store
from mobile.client.sync_engine import DEFAULT_RETENTION, SyncEngine


class Tablet:
    def __init__(
        self,
        store_path: str | Path,
        *,
        server_url: str | None = None,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        retention: datetime.timedelta = DEFAULT_RETENTION,
        position_source: PositionSource | None = None,
        **engine_options,
    ):
        self.store = Store(store_path)
        url = server_url or self.store.server_url
        if url is None:
            raise ValueError("Which server? Pass server_url the first time.")
        if server_url:
            self.store.set_settings(server_url=server_url.rstrip("/"))
        self.client = ApiClient(url, token=self.store.token, session=session, timeout=timeout)
        self.engine = SyncEngine(self.store, self.client, retention=retention, **engine_options)
        self.recorder = Recorder(self.store, on_change=self.engine.nudge)
        self.client.answered = self.engine.connection_works
        self.feed = LiveFeed(self.engine)
        # The emergency goes over the feed's socket first when it is open.
        self.safety = Safety(
            self.store, self.client, nudge=self.engine.nudge, live=self.feed.send_emergency
        )
        self.engine.event_hooks.append(self.safety.take_event)
        # Which units the responder may sign on to today, and their requests to a supervisor.
        self.roster = Roster(self.store, self.client)
        self.engine.event_hooks.append(self.roster.take_event)
        self.positions = PositionReporter(self.store, position_source, on_change=self.engine.nudge)
        self.engine.revocation_check = self.feed.is_revoked

    def enrol(self, code: str, name: str) -> dict:
        """Enrol this tablet with a supervisor's one-time code; its identity is kept in the store
        (and forgotten with everything else if the tablet is revoked)."""
        answer = self.client.enrol(code.strip().upper(), name)
        self.store.set_settings(
            tablet={"tablet_id": answer["tablet_id"], "tablet_secret": answer["tablet_secret"]},
            tablet_name=answer["name"],
        )
        return answer

    @property
    def enrolled(self) -> bool:
        return self.store.get_setting("tablet") is not None

    def sign_in(self, username: str, password: str, device_name: str) -> dict:
        """Bind this tablet to a person's token and load what the field work needs."""
        tablet = self.store.get_setting("tablet")
        answer = self.client.sign_in(username, password, device_name, tablet=tablet)
        self.store.set_settings(
            token=answer["token"], device_id=answer["device_id"], user=answer["user"]
        )
        self.engine.refresh_reference()
        return answer

    @property
    def signed_in(self) -> bool:
        return self.store.token is not None

    def start(self, *, live: bool = True) -> None:
        """Background sync (and the live socket); returns at once."""
        self.engine.start()
        if live:
            self.feed.start()
        self.positions.start()

    def close(self) -> None:
        self.positions.stop()
        self.feed.stop()
        self.engine.stop()
        self.store.close()
