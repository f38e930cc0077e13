"""The tablet's local SQLite store: the truth on the device while the network is away.

Every change is one transaction (WAL journal, synchronous=FULL), so the app can be killed at any
instant and reopen to a consistent store: a record and the outbox mutation that carries it to the
server are written together or not at all.

Each assignment and record keeps two copies: `data`, the tablet's view (what the screens show,
including changes not yet on the server), and `server`, the newest copy the server has sent (by
version). When no mutation on it is pending, the view is settled to the server's copy; so a
server change that arrives while the tablet is ahead is never lost, only applied later.
"""

from __future__ import annotations

import datetime
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assignments (
    id TEXT PRIMARY KEY, status TEXT NOT NULL, data TEXT NOT NULL, server TEXT,
    updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, parent TEXT, data TEXT NOT NULL, server TEXT,
    synced_at TEXT, updated_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS records_parent ON records (parent);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, type TEXT NOT NULL,
    entity_id TEXT NOT NULL, base_version INTEGER, occurred_at TEXT NOT NULL, data TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued', reason TEXT, server TEXT, attempts INTEGER NOT NULL
    DEFAULT 0, created_at TEXT NOT NULL, finished_at TEXT);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox (state, seq);
-- "anything still pending on this record?" is asked once per answer while a long queue drains.
CREATE INDEX IF NOT EXISTS outbox_entity ON outbox (entity_id, state);
CREATE TABLE IF NOT EXISTS cursors (stream TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""

# Outbox states. `queued` and `sent` still need the server; the others are finished.
QUEUED, SENT, DONE, CONFLICT, REJECTED = "queued", "sent", "done", "conflict", "rejected"
PENDING = (QUEUED, SENT)

# Records holding what a responder learned about a person: purged once synced and old.
CLINICAL_KINDS = ("encounter", "service", "naloxone", "referral", "survey")


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat()


def parse_time(text: str | None) -> datetime.datetime | None:
    """A stored or server time (ISO 8601, 'Z' or an offset); None when missing or unreadable."""
    if not text:
        return None
    try:
        moment = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Mutation:
    """One offline change on its way to the server (a row of the outbox)."""

    id: str
    type: str
    entity_id: str
    base_version: int | None
    occurred_at: str
    data: dict[str, Any]
    state: str = QUEUED
    reason: str | None = None
    server: dict[str, Any] | None = None
    attempts: int = 0
    seq: int = 0

    def as_push(self) -> dict[str, Any]:
        """The mutation as `POST /api/v1/sync/push` takes it."""
        body: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "entity_id": self.entity_id,
            "occurred_at": self.occurred_at,
            "data": self.data,
        }
        if self.base_version is not None:
            body["base_version"] = self.base_version
        return body


def _newer(held: str | None, incoming: dict[str, Any]) -> bool:
    if held is None:
        return True
    return (incoming.get("version") or 0) >= (json.loads(held).get("version") or 0)


def _mutation(row: sqlite3.Row) -> Mutation:
    return Mutation(
        id=row["id"],
        type=row["type"],
        entity_id=row["entity_id"],
        base_version=row["base_version"],
        occurred_at=row["occurred_at"],
        data=json.loads(row["data"]),
        state=row["state"],
        reason=row["reason"],
        server=json.loads(row["server"]) if row["server"] else None,
        attempts=row["attempts"],
        seq=row["seq"],
    )


class Store:
    """One SQLite file per tablet. Thread-safe: the UI thread records, the sync thread drains."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit the UI has shown as saved survives a power cut, not only a killed app.
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All writes inside commit together; an exception rolls every one back."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def _all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # ---- settings: server URL, device token, who signed in, protocol, directory -----------

    def get_setting(self, key: str, default: Any = None) -> Any:
        row = self._one("SELECT value FROM settings WHERE key = ?", key)
        return json.loads(row["value"]) if row else default

    def set_settings(self, **values: Any) -> None:
        with self.transaction() as db:
            for key, value in values.items():
                db.execute(
                    "INSERT INTO settings (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, json.dumps(value)),
                )

    @property
    def token(self) -> str | None:
        return self.get_setting("token")

    @property
    def server_url(self) -> str | None:
        return self.get_setting("server_url")

    def protocol(self) -> dict[str, Any]:
        return self.get_setting("protocol", {})

    def directory(self) -> list[dict[str, Any]]:
        return self.get_setting("directory", [])

    # ---- assignments ------------------------------------------------------------------------

    @staticmethod
    def put_assignment(db: sqlite3.Connection, data: dict[str, Any]) -> None:
        db.execute(
            "INSERT INTO assignments (id, status, data, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET status = excluded.status, data = excluded.data, "
            "updated_at = excluded.updated_at",
            (str(data["id"]), data["status"], json.dumps(data), iso(now())),
        )

    def assignment(self, assignment_id: str) -> dict[str, Any] | None:
        row = self._one("SELECT data FROM assignments WHERE id = ?", str(assignment_id))
        return json.loads(row["data"]) if row else None

    def assignments(self) -> list[dict[str, Any]]:
        return [
            json.loads(r["data"]) for r in self._all("SELECT data FROM assignments ORDER BY id")
        ]

    # ---- clinical records: encounters and what accumulates under them ------------------------

    @staticmethod
    def put_record(
        db: sqlite3.Connection,
        kind: str,
        data: dict[str, Any],
        *,
        parent: str | None,
        synced: bool,
    ) -> None:
        stamp = iso(now())
        db.execute(
            "INSERT INTO records (id, kind, parent, data, synced_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET data = excluded.data, "
            "parent = COALESCE(excluded.parent, records.parent), "
            "synced_at = excluded.synced_at, updated_at = excluded.updated_at",
            (str(data["id"]), kind, parent, json.dumps(data), stamp if synced else None, stamp),
        )

    @staticmethod
    def drop_record(db: sqlite3.Connection, record_id: str) -> None:
        """A record taken off its encounter (a service logged by mistake)."""
        db.execute("DELETE FROM records WHERE id = ?", (str(record_id),))

    def record(self, record_id: str) -> dict[str, Any] | None:
        row = self._one("SELECT data FROM records WHERE id = ?", str(record_id))
        return json.loads(row["data"]) if row else None

    def records(self, kind: str, parent: str | None = None) -> list[dict[str, Any]]:
        if parent is None:
            rows = self._all("SELECT data FROM records WHERE kind = ? ORDER BY id", kind)
        else:
            rows = self._all(
                "SELECT data FROM records WHERE kind = ? AND parent = ? ORDER BY id",
                kind,
                str(parent),
            )
        return [json.loads(r["data"]) for r in rows]

    def encounter_for(self, assignment_id: str) -> dict[str, Any] | None:
        found = self.records("encounter", parent=str(assignment_id))
        return found[0] if found else None

    # ---- the server's copies ----------------------------------------------------------------

    def take_server_assignment(self, db: sqlite3.Connection, data: dict[str, Any]) -> None:
        """The server's copy of an assignment; older versions than the one held are ignored."""
        assignment_id = str(data["id"])
        row = db.execute("SELECT server FROM assignments WHERE id = ?", (assignment_id,)).fetchone()
        if row is None:
            db.execute(
                "INSERT INTO assignments (id, status, data, server, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (assignment_id, data["status"], json.dumps(data), json.dumps(data), iso(now())),
            )
        elif _newer(row["server"], data):
            db.execute(
                "UPDATE assignments SET server = ? WHERE id = ?", (json.dumps(data), assignment_id)
            )
        self.settle(db, assignment_id)

    def take_server_record(
        self, db: sqlite3.Connection, kind: str, data: dict[str, Any], *, parent: str | None
    ) -> None:
        """The server's copy of a clinical record (merged: some events carry only a summary)."""
        record_id = str(data["id"])
        row = db.execute("SELECT server FROM records WHERE id = ?", (record_id,)).fetchone()
        if row is None:
            stamp = iso(now())
            db.execute(
                "INSERT INTO records (id, kind, parent, data, server, synced_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (record_id, kind, parent, json.dumps(data), json.dumps(data), stamp, stamp),
            )
        elif _newer(row["server"], data):
            merged = {**json.loads(row["server"] or "{}"), **data}
            db.execute(
                "UPDATE records SET server = ?, parent = COALESCE(?, parent) WHERE id = ?",
                (json.dumps(merged), parent, record_id),
            )
        self.settle(db, record_id)

    def settle(self, db: sqlite3.Connection, entity_id: str) -> None:
        """With nothing pending on it, the tablet shows exactly the server's copy."""
        if self.has_pending_for([str(entity_id)]):
            return
        stamp = iso(now())
        db.execute(
            "UPDATE assignments SET data = server, status = json_extract(server, '$.status'), "
            "updated_at = ? WHERE id = ? AND server IS NOT NULL",
            (stamp, str(entity_id)),
        )
        db.execute(
            "UPDATE records SET data = server, synced_at = ?, updated_at = ? "
            "WHERE id = ? AND server IS NOT NULL",
            (stamp, stamp, str(entity_id)),
        )

    @staticmethod
    def has_server_copy(db: sqlite3.Connection, record_id: str) -> bool:
        """Whether the server has ever sent this record (so it exists beyond this tablet)."""
        row = db.execute("SELECT server FROM records WHERE id = ?", (str(record_id),)).fetchone()
        return row is not None and row["server"] is not None

    @staticmethod
    def forget_record(db: sqlite3.Connection, record_id: str) -> None:
        db.execute("DELETE FROM records WHERE id = ?", (str(record_id),))

    @staticmethod
    def forget_assignment(db: sqlite3.Connection, assignment_id: str) -> None:
        db.execute("DELETE FROM assignments WHERE id = ?", (str(assignment_id),))

    @staticmethod
    def set_partners(db: sqlite3.Connection, assignment_id: str, partners: list[Any]) -> bool:
        """Replace the other units' states on both copies of a held assignment (the tablet's
        view and the server's); False when the assignment is not on this tablet."""
        row = db.execute(
            "SELECT data, server FROM assignments WHERE id = ?", (str(assignment_id),)
        ).fetchone()
        if row is None:
            return False
        for column in ("data", "server"):
            if row[column] is not None:
                held = {**json.loads(row[column]), "partners": partners}
                db.execute(
                    f"UPDATE assignments SET {column} = ? WHERE id = ?",
                    (json.dumps(held), str(assignment_id)),
                )
        return True

    def forget_unseen(self, db: sqlite3.Connection, seen: set[str]) -> None:
        """After a snapshot (everything this device may see now): drop the assignments and the
        server's records it no longer holds, unless a change of ours on them is still pending."""
        for table, which in (("assignments", "1 = 1"), ("records", "server IS NOT NULL")):
            held = [r["id"] for r in db.execute(f"SELECT id FROM {table} WHERE {which}")]
            for entity_id in held:
                if entity_id not in seen and not self.has_pending_for([entity_id]):
                    db.execute(f"DELETE FROM {table} WHERE id = ?", (entity_id,))

    # ---- the outbox ---------------------------------------------------------------------------

    @staticmethod
    def enqueue(
        db: sqlite3.Connection,
        *,
        type: str,
        entity_id: str,
        data: dict[str, Any],
        occurred_at: datetime.datetime,
        base_version: int | None = None,
    ) -> Mutation:
        """Queue a mutation inside the caller's transaction (the one that changed the view)."""
        mutation = Mutation(
            id=str(uuid.uuid4()),
            type=type,
            entity_id=str(entity_id),
            base_version=base_version,
            occurred_at=iso(occurred_at),
            data=data,
        )
        db.execute(
            "INSERT INTO outbox (id, type, entity_id, base_version, occurred_at, data, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                mutation.id,
                mutation.type,
                mutation.entity_id,
                mutation.base_version,
                mutation.occurred_at,
                json.dumps(data),
                iso(now()),
            ),
        )
        return mutation

    def pending(self, limit: int = 100) -> list[Mutation]:
        """The oldest unfinished mutations, in the order they were made."""
        # An emergency goes ahead of everything queued before it (mobile.client.safety).
        rows = self._all(
            "SELECT * FROM outbox WHERE state IN (?, ?) "
            "ORDER BY type = 'emergency.start' DESC, seq LIMIT ?",
            *PENDING,
            limit,
        )
        return [_mutation(r) for r in rows]

    def mutations(self, state: str | None = None) -> list[Mutation]:
        if state is None:
            rows = self._all("SELECT * FROM outbox ORDER BY seq")
        else:
            rows = self._all("SELECT * FROM outbox WHERE state = ? ORDER BY seq", state)
        return [_mutation(r) for r in rows]

    def mutation(self, mutation_id: str) -> Mutation | None:
        row = self._one("SELECT * FROM outbox WHERE id = ?", str(mutation_id))
        return _mutation(row) if row else None

    def mutations_for(self, entity_id: str) -> list[Mutation]:
        """Every change made on this tablet to one entity, in the order made."""
        rows = self._all("SELECT * FROM outbox WHERE entity_id = ? ORDER BY seq", str(entity_id))
        return [_mutation(r) for r in rows]

    def server_copy(self, record_id: str) -> dict[str, Any] | None:
        """The newest copy of a record the server has sent; None while only the tablet has it."""
        row = self._one("SELECT server FROM records WHERE id = ?", str(record_id))
        return json.loads(row["server"]) if row and row["server"] else None

    def queued_count(self) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM outbox WHERE state IN (?, ?)", *PENDING)
        return int(row["n"])

    def mark_sent(self, mutation_ids: list[str]) -> None:
        """Before a push: a mutation that was sent may have been applied, so it is never
        rewritten, only retried with the same id."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE outbox SET state = 'sent', attempts = attempts + 1 WHERE id = ? "
                "AND state IN ('queued', 'sent')",
                [(m,) for m in mutation_ids],
            )

    @staticmethod
    def finish(
        db: sqlite3.Connection,
        mutation_id: str,
        state: str,
        *,
        reason: str | None = None,
        server: dict[str, Any] | None = None,
    ) -> None:
        db.execute(
            "UPDATE outbox SET state = ?, reason = ?, server = ?, finished_at = ? WHERE id = ?",
            (state, reason, json.dumps(server) if server else None, iso(now()), mutation_id),
        )

    @staticmethod
    def rebase(db: sqlite3.Connection, entity_id: str, old: int, new: int) -> None:
        """Queued edits of a record made on version `old` now stand on `new` (the version our
        own earlier edit produced). Only queued ones: a sent mutation is never rewritten."""
        db.execute(
            "UPDATE outbox SET base_version = ? WHERE entity_id = ? AND state = 'queued' "
            "AND base_version = ?",
            (int(new), str(entity_id), int(old)),
        )

    def has_pending_for(self, entity_ids: list[str]) -> bool:
        if not entity_ids:
            return False
        marks = ",".join("?" * len(entity_ids))
        row = self._one(
            f"SELECT 1 FROM outbox WHERE state IN ('queued', 'sent') AND entity_id IN ({marks})"
            " LIMIT 1",
            *entity_ids,
        )
        return row is not None

    def dismiss_rejected(self, mutation_id: str) -> None:
        """The responder has read why it was refused; keep the row, stop showing it."""
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET state = 'dismissed' WHERE id = ? AND state = 'rejected'",
                (mutation_id,),
            )

    # ---- stream cursors --------------------------------------------------------------------

    @staticmethod
    def reset_cursors(db: sqlite3.Connection) -> None:
        """Before a snapshot's cursors are taken: the old ones no longer mean anything."""
        db.execute("DELETE FROM cursors")

    def cursors(self) -> dict[str, int]:
        return {r["stream"]: r["seq"] for r in self._all("SELECT stream, seq FROM cursors")}

    @staticmethod
    def put_cursor(db: sqlite3.Connection, stream: str, seq: int) -> None:
        # Never backwards: a late page or a replayed frame must not rewind the device.
        db.execute(
            "INSERT INTO cursors (stream, seq) VALUES (?, ?) ON CONFLICT (stream) "
            "DO UPDATE SET seq = MAX(cursors.seq, excluded.seq)",
            (stream, int(seq)),
        )

    # ---- data at rest ------------------------------------------------------------------------

    def purge_synced_clinical(self, older_than: datetime.timedelta) -> int:
        """Delete clinical records the server has and nobody touched for `older_than`.

        A record with a mutation still pending is never purged: it is not on the server yet.
        """
        cutoff = iso(now() - older_than)
        marks = ",".join("?" * len(CLINICAL_KINDS))
        with self.transaction() as db:
            cursor = db.execute(
                f"DELETE FROM records WHERE kind IN ({marks}) AND synced_at IS NOT NULL "
                "AND synced_at < ? AND id NOT IN (SELECT entity_id FROM outbox "
                "WHERE state IN ('queued', 'sent'))",
                (*CLINICAL_KINDS, cutoff),
            )
            return cursor.rowcount

    def wipe(self) -> None:
        """A revoked device forgets everything: token, records, outbox, cursors."""
        with self.transaction() as db:
            for table in ("settings", "assignments", "records", "outbox", "cursors"):
                db.execute(f"DELETE FROM {table}")
        with self._lock:
            self._db.execute("VACUUM")
