"""Red-team findings on the free-disk floor (--min-free-disk-mb): it was measured only before an upload
began, so one request of 20 files of 200 MB could take the disk far below it; and a write that failed
for want of space (ENOSPC) answered 500 "internal error (OSError)". The floor is now measured again
every few MB while the bytes arrive, and a full disk is the floor's 507; nothing is left behind."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from nemo_local.limits import MB, LimitExceeded, Limits

FLOOR = 500 * MB


def _body(name: str, size: int, chunk: int) -> AsyncIterator[bytes]:
    async def body() -> AsyncIterator[bytes]:
        yield f'--BB\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n\r\n'.encode()
        yield b"\x89PNG\r\n\x1a\n" + b"\x00" * 56
        for _ in range(size // chunk):
            yield b"\x00" * chunk
        yield b"\r\n--BB--\r\n"

    return body()


@pytest.mark.asyncio
async def test_the_floor_is_measured_while_an_upload_streams_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nemo_local.quota
    from nemo_local.ingest.receive import receive_multipart
    from nemo_local.quota import DISK_CHECK_BYTES, Room

    received = [0]
    # the disk has 10 MB above the floor; what the upload writes takes them
    monkeypatch.setattr(nemo_local.quota, "free_bytes", lambda _: FLOOR + 10 * MB - received[0])
    room = Room(used=0, limits=Limits(), data_dir=tmp_path)
    real_take = room.take

    def take(size: int) -> None:
        received[0] += size
        real_take(size)

    monkeypatch.setattr(room, "take", take)
    dest = tmp_path / "uploads"
    dest.mkdir()
    with pytest.raises(LimitExceeded) as refused:
        await receive_multipart(
            "multipart/form-data; boundary=BB", _body("a.png", 100 * MB, MB), dest, Limits(), room
        )
    assert refused.value.code == 507 and refused.value.data["switch"] == "--min-free-disk-mb"
    assert "disk is nearly full" in str(refused.value)
    assert received[0] <= 10 * MB + DISK_CHECK_BYTES + MB  # cut off near the floor, not after 100 MB
    assert not list(dest.iterdir())


@pytest.mark.asyncio
@pytest.mark.parametrize("chunk", [MB, 1024], ids=["write-fails", "close-fails"])
async def test_a_full_disk_is_the_floors_507_not_a_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    """/dev/full fails every write with ENOSPC: large writes at once, small ones when flushed."""
    from nemo_local.ingest.receive import receive_multipart

    real_open = Path.open

    def open_full(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if mode == "wb" and self.name.endswith("_full.png"):
            return builtins.open("/dev/full", "wb")
        return real_open(self, mode, *args, **kwargs)

    monkeypatch.setattr(Path, "open", open_full)
    with pytest.raises(LimitExceeded) as refused:
        await receive_multipart(
            "multipart/form-data; boundary=BB", _body("full.png", 4 * chunk, chunk), tmp_path, Limits()
        )
    assert refused.value.code == 507 and refused.value.data["switch"] == "--min-free-disk-mb"
    assert not list(tmp_path.iterdir())  # noqa: ASYNC240 (a test assertion)
