"""Sessions and their draft history: every change to a draft is a new version, the latest one is the state."""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nemo_local.store import paths
from nemo_local.store.db import Database, now


@dataclass(frozen=True)
class SessionRow:
    id: str
    task_id: str
    user_id: str
    task_name: str
    language: str
    edit_count: int
    plan: dict[str, Any] | None


def _new_session_id() -> str:
    """A numeric id of 19 digits like the real service's, never starting with 0."""
    return str(secrets.randbelow(9 * 10**18) + 10**18)


class SessionsFull(Exception):
    """The user already has `count` sessions, the most one may create (limits.sessions_per_user)."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count} sessions")
        self.count = count


class SessionStore:
    """Sessions, and each one's draft history: only the newest `keep_versions` drafts of a session are
    kept (limits.draft_versions), since every upload and edit writes a whole new version and nothing
    reads any but the latest; without a bound a session's history grew without end."""

    def __init__(self, db: Database, keep_versions: int) -> None:
        self._db = db
        self.keep_versions = keep_versions

    def create(
        self, user_id: str, task_name: str, language: str, max_sessions: int | None = None
    ) -> SessionRow:
        """A new session; with `max_sessions`, raises SessionsFull when the user has that many (counted
        in the same transaction, so parallel requests cannot slip past the limit)."""
        sid = _new_session_id()
        task_id = "task_" + secrets.token_hex(8)
        with self._db.tx() as conn:
            if max_sessions is not None:
                count = int(
                    conn.execute(
                        "SELECT COUNT(*) FROM sessions WHERE user_id=? AND lost=0", (user_id,)
                    ).fetchone()[0]
                )
                if count >= max_sessions:
                    raise SessionsFull(count)
            conn.execute(
                "INSERT INTO sessions (id, task_id, user_id, task_name, language, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (sid, task_id, user_id, task_name, language, now()),
            )
        return SessionRow(sid, task_id, user_id, task_name, language, 0, None)

    def get(self, session_id: str, user_id: str) -> SessionRow | None:
        """The session if it exists, is not lost, and belongs to `user_id` (else None: 1002 for the caller)."""
        if not paths.is_valid(paths.session_id, session_id):
            return None
        row = self._db.one(
            "SELECT * FROM sessions WHERE id=? AND user_id=? AND lost=0", (session_id, user_id)
        )
        if row is None:
            return None
        plan = json.loads(row["plan_json"]) if row["plan_json"] else None
        return SessionRow(
            row["id"],
            row["task_id"],
            row["user_id"],
            row["task_name"],
            row["language"],
            row["edit_count"],
            plan,
        )

    def next_edit_index(self, session_id: str) -> int:
        """Counts edits per session; the agent's deterministic 'silent edit' share is based on it."""
        with self._db.tx() as conn:
            row = conn.execute("SELECT edit_count FROM sessions WHERE id=?", (session_id,)).fetchone()
            index = int(row["edit_count"]) if row else 0
            conn.execute("UPDATE sessions SET edit_count=? WHERE id=?", (index + 1, session_id))
            return index

    def set_plan(self, session_id: str, plan: dict[str, Any]) -> None:
        self._db.run("UPDATE sessions SET plan_json=? WHERE id=?", (json.dumps(plan), session_id))

    def lose_all(self) -> int:
        """Fault injection: every session existing now answers 1002 from now on."""
        return self._db.run("UPDATE sessions SET lost=1 WHERE lost=0")

    def latest_draft(self, session_id: str) -> tuple[int, dict[str, Any] | None]:
        row = self._db.one(
            "SELECT version, draft_json FROM drafts WHERE session_id=? ORDER BY version DESC LIMIT 1",
            (session_id,),
        )
        if row is None:
            return 0, None
        return int(row["version"]), json.loads(row["draft_json"])

    def save_draft(self, session_id: str, draft: dict[str, Any], reason: str) -> int:
        """Save `draft` as the session's next version (whatever the latest one holds: a change made from
        a draft read earlier goes through `update_draft`)."""
        with self._db.tx() as conn:
            row = conn.execute("SELECT MAX(version) FROM drafts WHERE session_id=?", (session_id,)).fetchone()
            return self._insert_next(conn, session_id, int(row[0] or 0), draft, reason)

    def update_draft(
        self,
        session_id: str,
        change: Callable[[dict[str, Any] | None], dict[str, Any] | None],
        reason: str,
    ) -> int | None:
        """Read the latest draft, `change` it and save the result as the next version, in one transaction;
        returns the new version, or None when `change` returned None (nothing to save). Read, then saved
        in two steps, parallel uploads to one session each added their files to the same version and the
        last save dropped the others' (all answered `session_state_applied: true`; red team). `change`
        runs under the database's lock: a pure, quick function of the draft."""
        with self._db.tx() as conn:
            row = conn.execute(
                "SELECT version, draft_json FROM drafts WHERE session_id=? ORDER BY version DESC LIMIT 1",
                (session_id,),
            ).fetchone()
            draft = change(json.loads(row["draft_json"]) if row else None)
            if draft is None:
                return None
            return self._insert_next(conn, session_id, int(row["version"]) if row else 0, draft, reason)

    def _insert_next(
        self, conn: sqlite3.Connection, session_id: str, latest: int, draft: dict[str, Any], reason: str
    ) -> int:
        """Insert `draft` as the version after `latest` and drop the history past `keep_versions`."""
        version = latest + 1
        conn.execute(
            "INSERT INTO drafts VALUES (?, ?, ?, ?, ?)",
            (session_id, version, json.dumps(draft), reason, now()),
        )
        # the history keeps its newest versions only (numbers go on rising: the latest is the state)
        conn.execute(
            "DELETE FROM drafts WHERE session_id=? AND version<=?",
            (session_id, version - self.keep_versions),
        )
        return version

    def draft_history(self, session_id: str) -> list[tuple[int, str]]:
        rows = self._db.all(
            "SELECT version, reason FROM drafts WHERE session_id=? ORDER BY version", (session_id,)
        )
        return [(int(r["version"]), str(r["reason"])) for r in rows]
