"""State under the data dir: one SQLite database plus files (uploads, generated tracks, renders)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from nemo_local.limits import Limits
from nemo_local.store import paths
from nemo_local.store.credits import Balance, CreditLedger, InsufficientCredits
from nemo_local.store.db import Database
from nemo_local.store.media import MediaStore, PublicFile, UploadRow
from nemo_local.store.renders import ActiveRendersFull, DuplicateRenderId, RenderRow, RenderStore
from nemo_local.store.sessions import SessionRow, SessionsFull, SessionStore
from nemo_local.store.tokens import IssuedToken, TokenInfo, TokenStore

__all__ = [
    "ActiveRendersFull",
    "Balance",
    "CreditLedger",
    "DuplicateRenderId",
    "InsufficientCredits",
    "IssuedToken",
    "MediaStore",
    "PublicFile",
    "RenderRow",
    "RenderStore",
    "SessionRow",
    "SessionStore",
    "SessionsFull",
    "Store",
    "TokenInfo",
    "UploadRow",
]


def _secret(data_dir: Path) -> bytes:
    """A per-data-dir secret (0600) that keys anonymous-token derivation across restarts."""
    path = data_dir / "secret.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    return path.read_bytes()


class Store:
    """Every repository over one database, plus the directory layout for files."""

    SUBDIRS = ("uploads", "media", "renders", "tmp")

    def __init__(self, data_dir: Path, limits: Limits | None = None) -> None:
        """`limits`: the server's (the draft history's bound); library callers get the environment's."""
        limits = limits or Limits.from_env()
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir = data_dir.resolve()
        self.data_dir = data_dir
        for sub in self.SUBDIRS:
            (data_dir / sub).mkdir(exist_ok=True)
        self.db = Database(data_dir / "nemo_local.sqlite3")
        self.tokens = TokenStore(self.db, _secret(data_dir))
        self.credits = CreditLedger(self.db)
        self.sessions = SessionStore(self.db, limits.draft_versions)
        self.media = MediaStore(self.db, data_dir)
        self.renders = RenderStore(self.db)

    def dir(self, name: str) -> Path:
        if name not in self.SUBDIRS:
            raise paths.UnsafePath(f"{name!r} is not a folder of the data dir")
        return self.data_dir / name

    def path(self, folder: str, *parts: str) -> Path:
        """`<data dir>/<folder>/<parts...>`, refused (UnsafePath) unless it stays inside that folder."""
        return paths.under(self.dir(folder), *parts)

    def stored_bytes(self, user_id: str) -> int:
        """What one user keeps on the server's disk, from the database: their uploads, the files of their
        completed renders, and the drafts their renders keep (a draft may be a megabyte of JSON, kept
        whatever the render's outcome: without counting them, renders that fail at once filled the
        database past any quota)."""
        row = self.db.one(
            "SELECT (SELECT COALESCE(SUM(size), 0) FROM uploads WHERE user_id=?)"
            " + (SELECT COALESCE(SUM(CASE WHEN status='completed' THEN COALESCE(size, 0) ELSE 0 END"
            " + LENGTH(CAST(draft_json AS BLOB))), 0) FROM renders WHERE user_id=?) AS n",
            (user_id, user_id),
        )
        return int(row["n"]) if row else 0

    def close(self) -> None:
        self.db.close()
