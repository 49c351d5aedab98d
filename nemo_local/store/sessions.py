"""Sessions and their draft history: every change to a draft is a new version, the latest one is the state."""

from __future__ import annotations

import json
import secrets
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


class SessionStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, user_id: str, task_name: str, language: str) -> SessionRow:
        sid = _new_session_id()
        task_id = "task_" + secrets.token_hex(8)
        self._db.run(
            "INSERT INTO sessions (id, task_id, user_id, task_name, language, created_at) VALUES (?, ?, ?, ?, ?, ?)",
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
        with self._db.tx() as conn:
            row = conn.execute("SELECT MAX(version) FROM drafts WHERE session_id=?", (session_id,)).fetchone()
            version = int(row[0] or 0) + 1
            conn.execute(
                "INSERT INTO drafts VALUES (?, ?, ?, ?, ?)",
                (session_id, version, json.dumps(draft), reason, now()),
            )
            return version

    def draft_history(self, session_id: str) -> list[tuple[int, str]]:
        rows = self._db.all(
            "SELECT version, reason FROM drafts WHERE session_id=? ORDER BY version", (session_id,)
        )
        return [(int(r["version"]), str(r["reason"])) for r in rows]
