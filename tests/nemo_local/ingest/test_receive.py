"""Upload names: any script and emoji are kept for display; control characters and bidirectional
overrides are refused; the name on disk is always a safe one that keeps the extension."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from nemo_local.ingest.receive import BadUpload, check_filename, safe_name
from nemo_local.limits import LimitExceeded, Limits
from nemo_local.quota import QUOTA_CODE
from nemo_local.store import paths


@pytest.mark.parametrize("name", ["名字.png", "👨\u200d👩\u200d👧.mp4", "ملف.wav", "naïve café.jpg"])
def test_names_in_any_script_are_fine(name: str) -> None:
    check_filename(name, 0, Limits())
    assert paths.PUBLIC_NAME.fullmatch(safe_name(name))
    assert safe_name(name).endswith("." + name.rsplit(".", 1)[1])


@pytest.mark.parametrize("name", ["a\x00.png", "a\nb.png", "photo\u202egnp.exe", "\ud800.png"])
def test_control_and_override_characters_are_refused(name: str) -> None:
    with pytest.raises(BadUpload, match=r"files\[0\]\.filename"):
        check_filename(name, 0, Limits())


def test_length_limit_names_the_field() -> None:
    with pytest.raises(LimitExceeded) as err:
        check_filename("a" * 256, 2, Limits())
    assert err.value.field == "files[2].filename" and err.value.switch == "--max-filename-chars"


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "..", ".", "", "a/b/c.mp4", "C:\\x\\y.png", "-.png", "x" * 500]
)
def test_safe_names_are_single_safe_components(name: str) -> None:
    out = safe_name(name)
    assert paths.PUBLIC_NAME.fullmatch(out) and len(out) <= 120 and out not in (".", "..")


@pytest.mark.asyncio
async def test_a_multipart_upload_is_cut_off_at_the_users_room(tmp_path: Path) -> None:
    """The quota is checked while the bytes stream in: a body larger than what the user has left never
    reaches the disk whole (only the per-file limit bounded it before), and nothing stays behind."""
    from nemo_local.ingest.receive import receive_multipart
    from nemo_local.quota import Room

    chunk, chunks = 64 * 1024, 40
    room = Room(used=100 * 1024, limits=Limits(storage_bytes=300 * 1024))
    peak = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal peak
        yield b'--BB\r\nContent-Disposition: form-data; name="files"; filename="a.png"\r\n\r\n'
        yield b"\x89PNG\r\n\x1a\n" + b"\x00" * (chunk - 8)
        for _ in range(chunks):
            peak = max(peak, sum(p.stat().st_size for p in tmp_path.iterdir()))  # noqa: ASYNC240
            yield b"\x00" * chunk
        yield b"\r\n--BB--\r\n"

    with pytest.raises(LimitExceeded) as refused:
        await receive_multipart("multipart/form-data; boundary=BB", body(), tmp_path, Limits(), room)
    assert refused.value.name == "storage_bytes" and refused.value.code == QUOTA_CODE == 4004
    assert "storage is full" in str(refused.value) and refused.value.data["switch"] == "--max-storage-mb"
    assert peak <= 200 * 1024  # what was left, never the 2.6 MB sent (the per-file limit is 200 MB)
    assert not list(tmp_path.iterdir())  # noqa: ASYNC240 (a test assertion)
