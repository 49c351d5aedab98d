"""One SQLite database under the data dir; every module of the store shares this connection and lock."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), kind TEXT NOT NULL,
    client_id TEXT, ip TEXT, name TEXT, issued_at REAL NOT NULL, expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tokens_client ON tokens(client_id);
CREATE INDEX IF NOT EXISTS tokens_ip ON tokens(ip, issued_at);
CREATE TABLE IF NOT EXISTS credit_ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, delta INTEGER NOT NULL,
    reason TEXT NOT NULL, ref TEXT, created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_user ON credit_ledger(user_id);
CREATE TABLE IF NOT EXISTS credit_holds (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, amount INTEGER NOT NULL, reason TEXT NOT NULL,
    status TEXT NOT NULL, created_at REAL NOT NULL, closed_at REAL
);
CREATE INDEX IF NOT EXISTS holds_user ON credit_holds(user_id, status);
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, task_id TEXT NOT NULL, user_id TEXT NOT NULL, task_name TEXT NOT NULL,
    language TEXT NOT NULL, created_at REAL NOT NULL, edit_count INTEGER NOT NULL DEFAULT 0,
    plan_json TEXT, lost INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);  -- the per-user session count
CREATE TABLE IF NOT EXISTS drafts (
    session_id TEXT NOT NULL, version INTEGER NOT NULL, draft_json TEXT NOT NULL, reason TEXT NOT NULL,
    created_at REAL NOT NULL, PRIMARY KEY (session_id, version)
);
CREATE TABLE IF NOT EXISTS files (
    public_id TEXT PRIMARY KEY, name TEXT NOT NULL, path TEXT NOT NULL, content_type TEXT NOT NULL,
    owner_id TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS uploads (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL, user_id TEXT NOT NULL, filename TEXT NOT NULL,
    file_type TEXT NOT NULL, public_id TEXT NOT NULL, size INTEGER NOT NULL, duration REAL,
    width INTEGER, height INTEGER, fps REAL, hash TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_session ON uploads(session_id);
CREATE INDEX IF NOT EXISTS uploads_user ON uploads(user_id);
CREATE TABLE IF NOT EXISTS generated_media (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL, kind TEXT NOT NULL, public_id TEXT NOT NULL,
    meta_json TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS media_session ON generated_media(session_id);
CREATE TABLE IF NOT EXISTS renders (
    id TEXT PRIMARY KEY, name TEXT, user_id TEXT NOT NULL, session_id TEXT NOT NULL, draft_json TEXT NOT NULL,
    format TEXT NOT NULL, quality TEXT NOT NULL, status TEXT NOT NULL, progress REAL NOT NULL,
    error TEXT, public_id TEXT, size INTEGER, duration REAL, attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL, started_at REAL, completed_at REAL
);
CREATE INDEX IF NOT EXISTS renders_status ON renders(status);
-- the storage quota, the active-render count and the fair queue all ask per user
CREATE INDEX IF NOT EXISTS renders_user_status ON renders(user_id, status, started_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Database:
    """A single connection guarded by a lock: SQLite writes serialise anyway, and this keeps threads honest."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._depth = 0  # transactions open (nested ones join the outermost); only the lock's holder
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(SCHEMA)
            self._migrate()

    def _migrate(self) -> None:
        """Data dirs from before render ids were per user: the old global id becomes the row's name."""
        columns = {r["name"] for r in self._conn.execute("PRAGMA table_info(renders)")}
        if "name" not in columns:
            self._conn.execute("ALTER TABLE renders ADD COLUMN name TEXT")
        self._conn.execute("UPDATE renders SET name=id WHERE name IS NULL")
        self._conn.execute("CREATE UNIQUE INDEX IF NOT EXISTS renders_user_name ON renders(user_id, name)")

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """An immediate transaction: read-check-write sequences (credit holds) stay atomic. One opened
        inside another (the same thread: the lock is re-entrant) joins it, so a store method that is
        one transaction can be part of a larger one: the outermost commits, or rolls back, all (no
        savepoint: a caller that catches an inner store error and goes on commits what it wrote; none
        does today)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._conn
                finally:
                    self._depth -= 1
                return
            self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:  # a failed COMMIT (disk full, busy) left it open
                    self._conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def all(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        with self._lock:
            return self._conn.execute(sql, params).rowcount

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def now() -> float:
    return time.time()
