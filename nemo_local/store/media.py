"""Files the server hands out (uploads, generated tracks, finished renders) under unguessable public
paths `/files/<public_id>/<name>`, so a client never puts a token in a URL; plus upload and
generated-media records for the session state."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from nemo_local.store import paths
from nemo_local.store.db import Database, now

FILES_PREFIX = "/files/"


@dataclass(frozen=True)
class PublicFile:
    public_id: str
    name: str
    path: Path
    content_type: str

    @property
    def url_path(self) -> str:
        return f"{FILES_PREFIX}{self.public_id}/{self.name}"


@dataclass(frozen=True)
class UploadRow:
    id: str
    filename: str
    file_type: str
    public: PublicFile
    size: int
    duration: float | None
    width: int | None
    height: int | None
    fps: float | None
    hash: str


class MediaStore:
    """Only files inside the data dir are ever published or served (checked both ways: a row pointing
    elsewhere, however it got there, is treated as missing)."""

    def __init__(self, db: Database, root: Path) -> None:
        self._db = db
        self._root = root

    def publish(self, path: Path, name: str, content_type: str, owner_id: str) -> PublicFile:
        path = paths.inside(self._root, path)
        paths.public_name(name)
        public_id = secrets.token_urlsafe(18)
        self._db.run(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?)",
            (public_id, name, str(path), content_type, owner_id, now()),
        )
        return PublicFile(public_id, name, path, content_type)

    def public_file(self, public_id: str) -> PublicFile | None:
        if not paths.is_valid(paths.public_id, public_id):
            return None
        row = self._db.one("SELECT * FROM files WHERE public_id=?", (public_id,))
        if row is None:
            return None
        try:
            path = paths.inside(self._root, Path(row["path"]))
        except paths.UnsafePath:
            return None
        return PublicFile(row["public_id"], row["name"], path, row["content_type"])

    def resolve_url(self, src: str) -> Path:
        """Map a media URL this server handed out back to its local file (the renderer's resolve_media).

        Only our own `/files/<id>/<name>` paths resolve, whatever host the client used to reach us;
        anything else is refused, so a draft can never make the renderer read arbitrary paths or URLs.
        """
        path = unquote(urlsplit(src).path)
        if not path.startswith(FILES_PREFIX):
            raise FileNotFoundError(f"media is not served by this server: {src}")
        parts = path[len(FILES_PREFIX) :].split("/", 1)
        found = self.public_file(parts[0]) if parts and parts[0] else None
        if found is None or not found.path.is_file():
            raise FileNotFoundError(f"media not found on this server: {src}")
        return found.path

    def add_upload(self, session_id: str, user_id: str, row: UploadRow) -> None:
        self._db.run(
            "INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                row.id, session_id, user_id, row.filename, row.file_type, row.public.public_id, row.size,
                row.duration, row.width, row.height, row.fps, row.hash, now(),
            ),
        )  # fmt: skip

    def uploads(self, session_id: str) -> list[dict[str, Any]]:
        rows = self._db.all(
            "SELECT u.*, f.name AS fname FROM uploads u JOIN files f ON f.public_id=u.public_id"
            " WHERE u.session_id=? ORDER BY u.created_at",
            (session_id,),
        )
        return [dict(r) for r in rows]

    def add_generated(self, session_id: str, media_id: str, public: PublicFile, meta: dict[str, Any]) -> None:
        self._db.run(
            "INSERT INTO generated_media VALUES (?, ?, 'music', ?, ?, ?)",
            (media_id, session_id, public.public_id, json.dumps(meta), now()),
        )

    def generated(self, session_id: str) -> list[dict[str, Any]]:
        rows = self._db.all(
            "SELECT g.id, g.kind, g.meta_json, f.public_id, f.name FROM generated_media g"
            " JOIN files f ON f.public_id=g.public_id WHERE g.session_id=? ORDER BY g.created_at",
            (session_id,),
        )
        out = []
        for r in rows:
            meta = json.loads(r["meta_json"])
            out.append(
                {
                    "id": r["id"],
                    "kind": r["kind"],
                    "url_path": f"{FILES_PREFIX}{r['public_id']}/{r['name']}",
                    **meta,
                }
            )
        return out
