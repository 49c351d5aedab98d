"""Disk checks made before work or charge: a user's storage quota and the server's free-space floor.

Uploads and finished exports are kept until the data dir is cleaned, so without these one user could
fill the disk for everyone. Both limits live in nemo_local.limits; this module only measures and refuses.
An upload is counted against the quota while it streams in (`Room`), so a body larger than what the user
has left is cut off there instead of being written to disk first; the bytes of a user's uploads still
streaming in are counted for all of them (`InFlight`), so parallel uploads share one quota.
"""

from __future__ import annotations

import errno
import shutil
import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from nemo_local.limits import MB, LimitExceeded, Limits
from nemo_local.store import Store

# The quota's own envelope code (HTTP 422), ours: the contract has none. Distinct from the 422 of a bad
# request so a client can name it; the user must delete or be given more room: retrying cannot help.
QUOTA_CODE = 4004
QUOTA_HTTP_STATUS = 422
DISK_CODE = 507  # Insufficient Storage: the server's own condition, for its operator to fix


def free_bytes(path: Path) -> int:
    return int(shutil.disk_usage(path).free)


DISK_CHECK_BYTES = 4 * MB  # while an upload streams in, the floor is measured again every this many bytes


def disk_full(free: int, limits: Limits, what: str) -> LimitExceeded:
    """The free-disk floor's one error (507): `free` bytes are left."""
    return LimitExceeded(
        "free_disk_bytes",
        "free disk space",
        free,
        limits,
        f"The server's disk is nearly full ({free / MB:.0f} MB free, it keeps at least "
        f"{limits.shown('free_disk_bytes')} free): {what} was refused, nothing was stored or charged. "
        "Retry once the operator has freed space",
        code=DISK_CODE,
    )


def check_free_disk(data_dir: Path, limits: Limits, what: str) -> None:
    """Refuse `what` ("this upload", "this render") while the data dir's disk is under the floor."""
    free = free_bytes(data_dir)
    if free < limits.free_disk_bytes:
        raise disk_full(free, limits, what)


def out_of_space(exc: OSError, path: Path, limits: Limits, what: str) -> LimitExceeded | None:
    """The floor's error for a write that failed for want of space (ENOSPC, EDQUOT), else None: a full
    disk is the server's condition (507), not an internal error (a red-team finding: it answered 500)."""
    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    try:
        free = free_bytes(path)
    except OSError:
        free = 0
    return disk_full(free, limits, what)


def storage_full(used: int, adding: int, limits: Limits) -> LimitExceeded:
    """The quota's one error (code QUOTA_CODE, HTTP 422): `used` bytes kept, `adding` more asked for;
    `data` = {field: "stored files", limit: the quota in bytes, value: used + adding, switch}."""
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


class InFlight:
    """Bytes of uploads still streaming in (not yet stored), per user. Without it each upload measured
    the quota against what was stored when it began, and four parallel 31 KB uploads under a 40 KB
    quota kept two of them (red team): N parallel uploads could store N quotas."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._bytes: dict[str, int] = {}

    def _add(self, user_id: str, size: int) -> None:
        """Under the lock (the caller's check and this add are one step)."""
        left = self._bytes.get(user_id, 0) + size
        if left > 0:
            self._bytes[user_id] = left
        else:
            self._bytes.pop(user_id, None)


def check_storage(
    store: Store, user_id: str, limits: Limits, adding: int = 0, in_flight: InFlight | None = None
) -> None:
    """Refuse when the user's stored uploads and exports (plus what is streaming in, plus `adding`
    bytes) are over their quota: ``Room``'s rule, for a request that streams nothing in itself."""
    Room(store.stored_bytes(user_id), limits, in_flight=in_flight, user_id=user_id).check(adding)


@dataclass
class Room:
    """What one request may still store for its user, counted down as its bytes arrive. With
    `in_flight`, the user's other uploads streaming in count too; `release()` once the files are stored
    (their bytes are then in the database) or discarded."""

    used: int
    limits: Limits
    adding: int = 0
    in_flight: InFlight | None = None
    user_id: str = ""
    data_dir: Path | None = None  # with it, the free-disk floor is measured again as the bytes arrive
    _released: bool = field(default=False, repr=False)
    _unmeasured: int = field(default=0, repr=False)

    def _others(self) -> int:
        """Bytes the user's other uploads hold right now (the caller holds the lock)."""
        if self.in_flight is None or self._released:
            return 0
        return self.in_flight._bytes.get(self.user_id, 0) - self.adding

    def _fits(self, used: int, more: int) -> None:
        others = self._others()
        if used + others + self.adding + more > self.limits.storage_bytes:
            raise storage_full(used + others, self.adding + more, self.limits)

    def check(self, more: int) -> None:
        """Refuse (the quota's error) unless `more` bytes still fit; counts nothing."""
        with self._locked():
            self._fits(self.used, more)

    def take(self, size: int) -> None:
        """Count `size` bytes just received; refused once they no longer fit, in the quota or (every
        DISK_CHECK_BYTES) above the free-disk floor: checked only before it began, an upload of 20
        files of 200 MB could take the disk well under the floor (red team)."""
        with self._locked():
            self._fits(self.used, size)
            self.adding += size
            if self.in_flight is not None and not self._released:
                self.in_flight._add(self.user_id, size)
        self._unmeasured += size
        if self.data_dir is not None and self._unmeasured >= DISK_CHECK_BYTES:
            self._unmeasured = 0
            check_free_disk(self.data_dir, self.limits, "this upload")

    def settle(self, store: Store) -> None:
        """The last check, once every file is received: against what is stored now (others' uploads may
        have finished meanwhile), the others still streaming, and this request's bytes."""
        stored = store.stored_bytes(self.user_id)  # not under the lock: every upload chunk takes it
        with self._locked():
            self._fits(stored, 0)

    def release(self) -> None:
        """This request's bytes are stored (counted by the database) or discarded: stop holding them."""
        with self._locked():
            if self.in_flight is not None and not self._released:
                self.in_flight._add(self.user_id, -self.adding)
            self._released = True

    def _locked(self) -> AbstractContextManager[object]:
        return self.in_flight._lock if self.in_flight is not None else nullcontext()


def storage_room(store: Store, user_id: str, limits: Limits, in_flight: InFlight | None = None) -> Room:
    """The user's room for one upload, refused at once when not one more byte fits."""
    room = Room(
        store.stored_bytes(user_id), limits, in_flight=in_flight, user_id=user_id, data_dir=store.data_dir
    )
    room.check(1)
    return room
