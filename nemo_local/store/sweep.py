"""Start-up clean-up of files no request will ever own: a server killed in the middle of an upload, a
URL fetch or a composition leaves a partial file that no `files` row points at. At start-up no request
is running, so every such file under uploads/ and media/ (and everything under tmp/) is removed.

Render job folders and their work files are the render worker's to sweep (nemo_local.worker)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from pathlib import Path

from nemo_local.store.db import Database

log = logging.getLogger("nemo_local.store")
SWEPT_FOLDERS = ("uploads", "media")


def sweep_orphans(data_dir: Path, db: Database) -> int:
    """Remove unreferenced files under uploads/ and media/, empty folders there, and tmp/'s content.
    Only call it before the server accepts requests. Returns how many files were removed."""
    referenced = {os.path.realpath(r["path"]) for r in db.all("SELECT path FROM files")}
    removed = 0
    for folder in SWEPT_FOLDERS:
        root = data_dir / folder
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root, topdown=False):
            for name in filenames:
                path = os.path.join(dirpath, name)
                if os.path.realpath(path) not in referenced:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                        removed += 1
            for name in dirnames:
                with contextlib.suppress(OSError):  # only empty folders go
                    os.rmdir(os.path.join(dirpath, name))
    tmp = data_dir / "tmp"
    if tmp.is_dir():
        for entry in tmp.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
            removed += 1
    if removed:
        log.info("start-up sweep: removed %d partial or orphaned files", removed)
    return removed
