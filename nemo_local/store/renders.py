"""Render jobs: created pending, claimed by the worker, ending completed / failed / cancelled.

A render has two identifiers. `name` is the id the client chose (or was given); it is scoped per user,
so user A's `render_1` never collides with, blocks or reveals user B's. `id` is the server's own key
(`rnd_<24 hex>`), unique across the server: the worker, its queue and its job folder use only that, so
nothing a client typed ever becomes a path.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

from nemo_local.store import paths
from nemo_local.store.db import Database, now

TERMINAL = ("completed", "failed", "cancelled")
MAX_ATTEMPTS = 2


@dataclass(frozen=True)
class RenderRow:
    id: str
    user_id: str
    session_id: str
    draft: dict[str, Any]
    format: str
    quality: str
    status: str
    progress: float
    error: str | None
    public_id: str | None
    size: int | None
    duration: float | None
    attempts: int
    created_at: float
    started_at: float | None
    completed_at: float | None
    name: str
    file_name: str | None = None  # the published file's name (in its URL), once completed


class DuplicateRenderId(Exception):
    """The user already has a render with this id (ids are unique per user, not across the server)."""


class ActiveRendersFull(Exception):
    """The user already has as many renders pending or running as the limit allows."""

    def __init__(self, active: int) -> None:
        super().__init__(f"{active} renders pending or running")
        self.active = active


def new_key() -> str:
    return "rnd_" + secrets.token_hex(12)


def _row(r: Any) -> RenderRow:
    return RenderRow(
        r["id"], r["user_id"], r["session_id"], json.loads(r["draft_json"]), r["format"], r["quality"],
        r["status"], float(r["progress"]), r["error"], r["public_id"], r["size"], r["duration"],
        int(r["attempts"]), r["created_at"], r["started_at"], r["completed_at"], r["name"] or r["id"],
        r["file_name"],
    )  # fmt: skip


# a render with the name of its published file (renders of older servers were published under their key)
_SELECT = "SELECT r.*, f.name AS file_name FROM renders r LEFT JOIN files f ON f.public_id=r.public_id"


# claim_next's pick: each user's running count and latest start, once per user, then the pending render
# that sorts first (1,000 queued behind 5,000 finished: 0.8 ms; per-row subqueries took 14-32 ms)
_NEXT = """
SELECT r.id FROM renders r
JOIN (SELECT user_id, SUM(status = 'processing') AS running, COALESCE(MAX(started_at), 0) AS served
      FROM renders GROUP BY user_id) u ON u.user_id = r.user_id
WHERE r.status = 'pending'
ORDER BY u.running, u.served, r.created_at, r.id
LIMIT 1
"""


class RenderStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        name: str,
        user_id: str,
        session_id: str,
        draft: dict[str, Any],
        fmt: str,
        quality: str,
        max_active: int | None = None,
    ) -> RenderRow:
        """A pending render named `name` for `user_id`; raises DuplicateRenderId when the user already has
        one of that name, and ActiveRendersFull when `max_active` of theirs are pending or running (checked
        in the same transaction, so parallel requests cannot slip past the limit)."""
        paths.render_name(name)
        key = new_key()
        with self._db.tx() as conn:
            if conn.execute("SELECT 1 FROM renders WHERE user_id=? AND name=?", (user_id, name)).fetchone():
                raise DuplicateRenderId(name)
            if max_active is not None:
                active = int(
                    conn.execute(
                        "SELECT COUNT(*) FROM renders WHERE user_id=? AND status IN ('pending', 'processing')",
                        (user_id,),
                    ).fetchone()[0]
                )
                if active >= max_active:
                    raise ActiveRendersFull(active)
            conn.execute(
                "INSERT INTO renders (id, name, user_id, session_id, draft_json, format, quality, status,"
                " progress, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?)",
                (key, name, user_id, session_id, json.dumps(draft), fmt, quality, now()),
            )
        found = self.get(key)
        assert found is not None
        return found

    def get(self, key: str) -> RenderRow | None:
        """By the server's key (the worker's view)."""
        r = self._db.one(f"{_SELECT} WHERE r.id=?", (key,))
        return _row(r) if r else None

    def find(self, user_id: str, name: str) -> RenderRow | None:
        """The user's render of that name (the API's view); another user's is simply not there."""
        r = self._db.one(f"{_SELECT} WHERE r.user_id=? AND r.name=?", (user_id, name))
        return _row(r) if r else None

    def active_count(self, user_id: str) -> int:
        row = self._db.one(
            "SELECT COUNT(*) AS n FROM renders WHERE user_id=? AND status IN ('pending', 'processing')",
            (user_id,),
        )
        return int(row["n"]) if row else 0

    def pending_ids(self) -> list[str]:
        return [
            r["id"] for r in self._db.all("SELECT id FROM renders WHERE status='pending' ORDER BY created_at")
        ]

    def claim_next(self) -> str | None:
        """Claim the pending render to run next, fairly across users (None when nothing is pending).

        One user's queue must not starve the others: the pick is the oldest pending render of the user
        with the fewest renders running, ties broken by who was served least recently (their latest
        start), so users take turns however many renders each queued."""
        with self._db.tx() as conn:
            row = conn.execute(_NEXT).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE renders SET status='processing', started_at=?, attempts=attempts+1, progress=0"
                " WHERE id=? AND status='pending'",
                (now(), row["id"]),
            )
            return str(row["id"])

    def claim(self, render_id: str) -> bool:
        """pending -> processing; False when the job was cancelled meanwhile."""
        return (
            self._db.run(
                "UPDATE renders SET status='processing', started_at=?, attempts=attempts+1, progress=0"
                " WHERE id=? AND status='pending'",
                (now(), render_id),
            )
            == 1
        )

    def set_progress(self, render_id: str, progress: float) -> None:
        self._db.run(
            "UPDATE renders SET progress=? WHERE id=? AND status='processing'",
            (round(progress, 1), render_id),
        )

    def complete(self, render_id: str, public_id: str, size: int, duration: float) -> bool:
        """processing -> completed; False when the render was cancelled (or failed) meanwhile."""
        return (
            self._db.run(
                "UPDATE renders SET status='completed', progress=100, public_id=?, size=?, duration=?,"
                " completed_at=? WHERE id=? AND status='processing'",
                (public_id, size, duration, now(), render_id),
            )
            == 1
        )

    def fail(self, render_id: str, error: str) -> None:
        self._db.run(
            "UPDATE renders SET status='failed', error=?, completed_at=? WHERE id=? AND status NOT IN"
            " ('completed', 'failed', 'cancelled')",
            (error, now(), render_id),
        )

    def cancel(self, render_id: str) -> bool:
        return (
            self._db.run(
                "UPDATE renders SET status='cancelled', completed_at=? WHERE id=? AND status IN ('pending', 'processing')",
                (now(), render_id),
            )
            == 1
        )

    def recover_after_restart(self) -> tuple[list[str], list[str]]:
        """Jobs a previous process left running: resume them (once more), or fail them with a reason.

        Returns (resumed ids, failed ids). Nothing is ever left 'processing' with no worker behind it.
        """
        resumed, failed = [], []
        for r in self._db.all("SELECT id, attempts FROM renders WHERE status='processing'"):
            if int(r["attempts"]) >= MAX_ATTEMPTS:
                self.fail(r["id"], "interrupted by server restarts too often; please export again")
                failed.append(r["id"])
            else:
                self._db.run("UPDATE renders SET status='pending', progress=0 WHERE id=?", (r["id"],))
                resumed.append(r["id"])
        return resumed, failed
