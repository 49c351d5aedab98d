"""Disk checks made before work or charge: a user's storage quota and the server's free-space floor.

Uploads and finished exports are kept until the data dir is cleaned, so without these one user could
fill the disk for everyone. Both limits live in nemo_local.limits; this module only measures and refuses.
"""

from __future__ import annotations

import shutil
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


def check_storage(store: Store, user_id: str, limits: Limits, adding: int = 0) -> None:
    """Refuse when the user's stored uploads and exports (plus `adding` bytes) are over their quota."""
    used = store.stored_bytes(user_id)
    if used + adding > limits.storage_bytes:
        raise LimitExceeded(
            "storage_bytes",
            "stored files",
            used + adding,
            limits,
            f"This user's storage is full: {used / MB:.1f} MB of uploads and exports are kept"
            + (f" and this request adds {adding / MB:.1f} MB" if adding else "")
            + f" (limit {limits.shown('storage_bytes')}). Nothing was stored or charged",
            code=QUOTA_CODE,
        )
