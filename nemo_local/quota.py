"""Disk checks made before work or charge: a user's storage quota and the server's free-space floor.

Uploads and finished exports are kept until the data dir is cleaned, so without these one user could
fill the disk for everyone. Both limits live in nemo_local.limits; this module only measures and refuses.
An upload is counted against the quota while it streams in (`Room`), so a body larger than what the user
has left is cut off there instead of being written to disk first.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from nemo_local.limits import MB, LimitExceeded, Limits
from nemo_local.store import Store

QUOTA_CODE = 422  # the user must delete or be given more room: retrying the same request cannot help
DISK_CODE = 507  # Insufficient Storage: the server's own condition, for its operator to fix


def free_bytes(path: Path) -> int:
    return int(shutil.disk_usage(path).free)


def check_free_disk(data_dir: Path, limits: Limits, what: str) -> None:
    """Refuse `what` ("this upload", "this render") while the data dir's disk is under the floor."""
    free = free_bytes(data_dir)
    if free < limits.free_disk_bytes:
        raise LimitExceeded(
            "free_disk_bytes",
            "free disk space",
            free,
            limits,
            f"The server's disk is nearly full ({free / MB:.0f} MB free, it keeps at least "
            f"{limits.shown('free_disk_bytes')} free): {what} was refused, nothing was stored or charged. "
            "Retry once the operator has freed space",
            code=DISK_CODE,
        )


def storage_full(used: int, adding: int, limits: Limits) -> LimitExceeded:
    """The quota's one error: `used` bytes kept, `adding` more asked for."""
    return LimitExceeded(
        "storage_bytes",
        "stored files",
        used + adding,
        limits,
        f"This user's storage is full: {used / MB:.1f} MB of uploads and exports are kept"
        + (f" and this request adds {adding / MB:.1f} MB" if adding else "")
        + f" (limit {limits.shown('storage_bytes')}). Nothing was stored or charged",
        code=QUOTA_CODE,
    )


def check_storage(store: Store, user_id: str, limits: Limits, adding: int = 0) -> None:
    """Refuse when the user's stored uploads and exports (plus `adding` bytes) are over their quota."""
    used = store.stored_bytes(user_id)
    if used + adding > limits.storage_bytes:
        raise storage_full(used, adding, limits)


@dataclass
class Room:
    """What one request may still store for its user, counted down as its bytes arrive."""

    used: int
    limits: Limits
    adding: int = 0

    def check(self, more: int) -> None:
        """Refuse (the quota's error) unless `more` bytes still fit; counts nothing."""
        if self.used + self.adding + more > self.limits.storage_bytes:
            raise storage_full(self.used, self.adding + more, self.limits)

    def take(self, size: int) -> None:
        """Count `size` bytes just received; refused once they no longer fit."""
        self.check(size)
        self.adding += size


def storage_room(store: Store, user_id: str, limits: Limits) -> Room:
    """The user's room for one upload, refused at once when not one more byte fits."""
    room = Room(store.stored_bytes(user_id), limits)
    room.check(1)
    return room
