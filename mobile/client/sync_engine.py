"""The sync engine: drains the outbox to the server and brings the server's changes home.

It runs in a background thread. Screens record through the recorder and return at once; the
engine pushes the outbox in the order it was written, in batches, backing off exponentially with
jitter while the network is away. A batch that timed out is retried with the SAME mutation ids:
the server answers `duplicate` for what it already applied, so nothing is applied twice.

Pull pages are applied and their cursors stored in one store transaction, so a crash mid-page
replays the page instead of skipping it. A cursor the server no longer serves (410) is recovered
from a snapshot of what this device may see.
"""

from __future__ import annotations

import datetime
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from mobile.client import api
from mobile.client.contract import (
    ASSIGNMENT_EVENTS,
    PARTNER_EVENT,
    RECORD_EVENTS,
    REMOVAL_EVENTS,
    REMOVALS,
)
from mobile.client.store import (
    CLINICAL_KINDS,
    CONFLICT,
    DONE,
    PENDING,
    REJECTED,
    Mutation,
    Store,
    iso,
    now,
)
from mobile.client.vocabulary import Role

logger = logging.getLogger(__name__)

DEFAULT_RETENTION = datetime.timedelta(hours=12)
PUSH_SECONDS_PER_MUTATION = 0.1


def until_own_edit_repeats(batch: list[Mutation]) -> list[Mutation]:
    """The batch up to a second versioned edit of the same record: that edit was made on top of
    the first (an Undo, a second choice), so it is sent once the first is applied and its base
    version moved to the version the first made; sent together, the server would see our own
    first edit as someone else's and answer a conflict."""
    seen: set[str] = set()
    for n, mutation in enumerate(batch):
        if n and mutation.base_version is not None and mutation.entity_id in seen:
            return batch[:n]
        seen.add(mutation.entity_id)
    return batch


@dataclass(frozen=True)
class SyncState:
    """What the status bar shows. A fresh copy on every change; listeners get the new one."""

    online: bool = False
    queued: int = 0
    last_sync: str | None = None
    last_error: str | None = None
    rejected: tuple[Mutation, ...] = field(default_factory=tuple)
    revoked: bool = False
    signed_out: bool = False
    # How often the store has taken the server's changes (feed events, pull pages, a snapshot):
    # a new number tells the screens to show them.
    server_changes: int = 0


class SyncEngine:
    def __init__(
        self,
        store: Store,
        client: api.ApiClient,
        *,
        batch_size: int = 100,
        page_size: int = 500,
        interval: float = 15.0,
        base_delay: float = 0.5,
        max_delay: float = 60.0,
        retention: datetime.timedelta = DEFAULT_RETENTION,
        rng: random.Random | None = None,
    ):
        self.store = store
        self.client = client
        self.event_hooks: list[Callable[[Any, str, dict[str, Any]], None]] = []
        self.batch_size = self.max_batch_size = batch_size
        self.page_size = page_size
        self.interval = interval
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.retention = retention
        self.rng = rng or random.Random()
        self.failures = 0
        # Set by the live feed while its socket is up: then the feed brings events and the
        # engine's own pull is only a safety net.
        self.feed_live = False
        # Asked after a 401: is this device revoked (wipe) or only signed out (keep the outbox)?
        self.revocation_check: Callable[[], bool] | None = None
        self._listeners: list[Callable[[SyncState], None]] = []
        self._state = SyncState(queued=store.queued_count())
        # The sync thread, the feed's thread and the UI (recording) all report changes.
        self._state_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sync_lock = threading.Lock()

    # ---- observable state ------------------------------------------------------------------

    @property
    def state(self) -> SyncState:
        return self._state

    def add_listener(self, listener: Callable[[SyncState], None]) -> None:
        """Called from the sync thread; a UI marshals to its own thread (Kivy: Clock)."""
        self._listeners.append(listener)

    def _update(self, *, taken: int = 0, **changes: Any) -> None:
        changes.setdefault("queued", self.store.queued_count())
        changes.setdefault("rejected", tuple(self.store.mutations(REJECTED)))
        with self._state_lock:
            seen = self._state.server_changes + taken
            self._state = replace(self._state, server_changes=seen, **changes)
            state = self._state
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:  # a broken screen must not stop the sync
                logger.exception("sync listener failed")

    # ---- the background thread ---------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="care-sync", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def nudge(self) -> None:
        """Something was recorded: sync soon. Never blocks."""
        self._update()
        self._wake.set()

    def connection_works(self) -> None:
        """Something reached the server (the feed's welcome, any 2xx answer): what is queued
        goes now, not when the retry timer runs out (up to a minute after an outage)."""
        if self._sync_lock.locked():
            return  # a round is under way (its own answers land here): it sends the queue
        if self.failures or self.store.queued_count():
            self.failures = 0
            self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            ok = self.sync_once()
            if self._state.revoked or self._state.signed_out:
                return
            self._wake.wait(self.interval if ok else self.backoff_delay())
            self._wake.clear()

    def backoff_delay(self) -> float:
        """Exponential backoff with full jitter: spreads a fleet of tablets reconnecting at once."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(self.failures - 1, 0))
        return self.rng.uniform(ceiling / 2, ceiling)

    # ---- one round -------------------------------------------------------------------------

    def sync_once(self, *, pull: bool = True) -> bool:
        """Push everything queued, then pull. True when the server answered throughout."""
        with self._sync_lock:
            try:
                self.push_pending()
                if pull:
                    self.pull()
                self.store.purge_synced_clinical(self.retention)
            except api.Revoked as exc:
                self.store.wipe()
                self._update(online=False, revoked=True, last_error=exc.detail, queued=0)
                return False
            except api.SignedOut as exc:
                # HTTP says only "unknown, expired or revoked"; the feed can tell revoked apart.
                if self.revocation_check is not None and self.revocation_check():
                    self.store.wipe()
                    self._update(online=False, revoked=True, last_error=exc.detail, queued=0)
                else:
                    self._update(online=False, signed_out=True, last_error=exc.detail)
                return False
            except (api.Offline, api.ServerTrouble) as exc:
                self.failures += 1
                self._update(online=False, last_error=exc.detail)
                return False
            except api.ApiError as exc:
                self.failures += 1
                self._update(online=True, last_error=exc.detail)
                return False
            self.failures = 0
            self._update(online=True, last_sync=iso(now()), last_error=None)
            return True

    def refresh_reference(self) -> None:
        """Protocol, directory and the unit's assignments, straight from the server."""
        protocol = self.client.protocol()
        role = (self.store.get_setting("user") or {}).get("role")
        # Only CARE reads the referral directory; the server refuses it to an officer.
        directory = self.client.directory() if role != Role.SPD_OFFICER else []
        assignments = self.client.assignments()
        self.store.set_settings(protocol=protocol, directory=directory)
        with self.store.transaction() as db:
            for assignment in assignments:
                self.store.take_server_assignment(db, assignment)

    # ---- push ------------------------------------------------------------------------------

    def push_pending(self) -> None:
        while True:
            batch = until_own_edit_repeats(self.store.pending(self.batch_size))
            if not batch:
                return
            self.store.mark_sent([m.id for m in batch])
            try:
                answer = self.client.push(
                    [m.as_push() for m in batch],
                    iso(now()),
                    # A big batch takes the server longer; don't give up on it too soon.
                    timeout=self.client.timeout + PUSH_SECONDS_PER_MUTATION * len(batch),
                )
            except api.Offline:
                # Next time send fewer (the same first ids): a slow link still makes progress.
                self.batch_size = max(1, len(batch) // 2)
                raise
            self.batch_size = min(self.max_batch_size, self.batch_size * 2)
            retry = self.apply_results(batch, answer.get("results", []))
            self._update(online=True)
            if retry:
                # The server failed on its side and kept nothing: the change stays queued. Back
                # off like any server trouble instead of sending the same batch again at once.
                raise api.ServerTrouble(200, "server_error", retry[0])

    def apply_results(self, batch: list[Mutation], results: list[dict[str, Any]]) -> list[str]:
        """Settle each answered mutation; returns the reasons of those to send again later."""
        by_id = {m.id: m for m in batch}
        refresh: list[str] = []
        retry: list[str] = []
        with self.store.transaction() as db:
            for result in results:
                mutation = by_id.get(str(result.get("id")))
                if mutation is None:
                    continue
                status = result.get("status")
                if status == "duplicate" and result.get("original_status"):
                    # A retry of something answered before: the first answer is what counts.
                    status = result["original_status"]
                if status == "applied" or status == "duplicate":
                    status = "applied"
                server = result.get("server") if isinstance(result.get("server"), dict) else None
                if status == "applied":
                    self.store.finish(db, mutation.id, DONE, server=server)
                    self._accept(db, mutation, server)
                    if mutation.base_version is not None and server and server.get("version"):
                        # Our next edit of it was made on top of this one, not on the old copy.
                        self.store.rebase(
                            db, mutation.entity_id, mutation.base_version, server["version"]
                        )
                elif status == "conflict":
                    self.store.finish(
                        db, mutation.id, CONFLICT, reason=result.get("reason"), server=server
                    )
                    self._keep_server_copy(db, mutation, server, refresh)
                elif status == "rejected" and result.get("retryable"):
                    # The server's own fault; nothing was kept: send it again later.
                    retry.append(str(result.get("reason") or "The server failed; retrying."))
                elif status == "rejected":
                    self.store.finish(
                        db,
                        mutation.id,
                        REJECTED,
                        reason=result.get("reason") or "Refused by the server.",
                        server=server,
                    )
                    self._keep_server_copy(db, mutation, server, refresh)
        # Outside the transaction: these ask the server.
        for assignment_id in refresh:
            self._refresh_assignment(assignment_id)
        return retry

    def _take_server_copy(self, db, mutation: Mutation, server: dict[str, Any] | None) -> bool:
        """Keep the server's copy of the mutation's entity; False when the answer had none."""
        if not server or str(server.get("id")) != mutation.entity_id:
            return False
        kind = mutation.type.split(".")[0]
        if mutation.type in REMOVALS.values():  # taken off: nothing of it is kept
            self.store.drop_record(db, mutation.entity_id)
        elif kind == "assignment":
            self.store.take_server_assignment(db, server)
        else:
            parent = server.get("assignment") if kind == "encounter" else server.get("encounter")
            self.store.take_server_record(db, kind, server, parent=parent)
        return True

    def _accept(self, db, mutation: Mutation, server: dict[str, Any] | None) -> None:
        """The server has it: its copy becomes the view once nothing else is pending."""
        if not self._take_server_copy(db, mutation, server):
            self.store.settle(db, mutation.entity_id)

    def _keep_server_copy(
        self, db, mutation: Mutation, server: dict[str, Any] | None, refresh: list[str]
    ) -> None:
        """A conflict or refusal: the server's copy wins on the tablet; the UI shows why."""
        if self._take_server_copy(db, mutation, server):
            return
        if mutation.type == "assignment.transition":
            refresh.append(mutation.entity_id)
            return
        if self.store.has_pending_for([mutation.entity_id]):
            return
        if self.store.has_server_copy(db, mutation.entity_id):
            self.store.settle(db, mutation.entity_id)
        else:
            # A create the server refused: the record exists only here. The outbox row keeps
            # what was written and why it was refused.
            self.store.forget_record(db, mutation.entity_id)

    def _refresh_assignment(self, assignment_id: str) -> None:
        try:
            fresh = self.client.assignment(assignment_id)
        except api.Refused:  # no longer visible to this unit
            with self.store.transaction() as db:
                self.store.forget_assignment(db, assignment_id)
            return
        with self.store.transaction() as db:
            self.store.take_server_assignment(db, fresh)

    # ---- pull ------------------------------------------------------------------------------

    def pull(self) -> int:
        """Page through the feed from the stored cursors; returns the events applied."""
        applied = 0
        while True:
            try:
                page = self.client.pull(self.store.cursors(), limit=self.page_size)
            except api.CursorExpired:
                self.resync()
                continue
            self.apply_events(page.get("events", []), page.get("cursors", {}))
            applied += len(page.get("events", []))
            if not page.get("has_more"):
                return applied

    def apply_events(self, events: list[dict[str, Any]], cursors: dict[str, int]) -> None:
        """Apply a page and move the cursors in the same transaction, then tell the listeners
        (a live feed frame or a pull page alike: the screens show it without polling)."""
        with self.store.transaction() as db:
            for event in events:
                self.apply_event(db, event)
                self.store.put_cursor(db, event["stream"], event["seq"])
            for stream, seq in cursors.items():
                self.store.put_cursor(db, stream, seq)
        if events:
            self._update(taken=len(events))

    def apply_event(self, db, event: dict[str, Any]) -> None:
        data, kind = event.get("data") or {}, event.get("kind")
        mutation_id = event.get("mutation_id")
        if mutation_id:
            # Our own echo: the server applied it even if its push answer never reached us.
            mine = self.store.mutation(mutation_id)
            if mine is not None and mine.state in ("queued", "sent"):
                self.store.finish(db, mutation_id, DONE)
        if kind in ASSIGNMENT_EVENTS:
            self.store.take_server_assignment(db, data)
        elif kind == PARTNER_EVENT:
            self._update_partner(db, data)
        elif kind in REMOVAL_EVENTS:
            self.store.drop_record(db, str(data.get("id")))
        elif kind in RECORD_EVENTS and self._removal_waits(RECORD_EVENTS[kind], data):
            pass  # taken off on this tablet; its removal is on its way to the server
        elif kind in RECORD_EVENTS:
            record = RECORD_EVENTS[kind]
            parent = data.get("assignment") if record == "encounter" else data.get("encounter")
            self.store.take_server_record(db, record, data, parent=parent)
        for hook in self.event_hooks:  # e.g. the safety rules (emergency acknowledged, check-ins)
            hook(db, kind, data)

    def _removal_waits(self, record: str, data: dict[str, Any]) -> bool:
        removal = REMOVALS.get(record)
        return removal is not None and any(
            m.type == removal and m.state in PENDING
            for m in self.store.mutations_for(str(data.get("id")))
        )

    def _update_partner(self, db, view: dict[str, Any]) -> None:
        """The other unit on our call moved (e.g. SPD marked the scene safe).

        The server sends each unit ITS OWN assignment's view, `partners` holding the other
        unit's new state; only the partners change, so both copies take them (a pending move of
        ours keeps the tablet's own status) and an assignment not on this tablet is left alone.
        """
        if "partners" in view:
            self.store.set_partners(db, str(view.get("id")), view["partners"])

    def resync(self) -> None:
        """Register-then-events: take a snapshot, then read events after its cursors."""
        snapshot = self.client.snapshot()
        reference = {k: snapshot[k] for k in ("protocol", "directory") if k in snapshot}
        if reference:
            self.store.set_settings(**reference)
        kinds = CLINICAL_KINDS
        with self.store.transaction() as db:
            self.store.reset_cursors(db)
            for assignment in snapshot.get("assignments", []):
                self.store.take_server_assignment(db, assignment)
            for kind in kinds:
                for record in snapshot.get(f"{kind}s", []):
                    parent = record.get("assignment" if kind == "encounter" else "encounter")
                    self.store.take_server_record(db, kind, record, parent=parent)
            # The snapshot is everything this device may see now: what it no longer holds
            # (a call closed or cancelled while the events about it were pruned) leaves the
            # tablet, unless a change of ours on it is still on its way.
            seen = {str(a["id"]) for a in snapshot.get("assignments", [])}
            seen |= {str(r["id"]) for kind in kinds for r in snapshot.get(f"{kind}s", [])}
            self.store.forget_unseen(db, seen)
            for stream, seq in snapshot.get("cursors", {}).items():
                self.store.put_cursor(db, stream, int(seq))
        self._update(taken=1)
