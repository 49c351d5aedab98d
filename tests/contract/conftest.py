"""What the contract tests share: the API contract's own text, a client that records every request it
sends to the real nemo_local, and one small genuine file of every accepted upload type."""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from nemo_provider.client import NemoClient
from tests._helpers import Recorder
from tests.conftest import NemoServer

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "api-contract.md"


def contract_text() -> str:
    """docs/api-contract.md, whitespace runs made single (its sentences wrap across lines)."""
    return " ".join(CONTRACT.read_text(encoding="utf-8").split())


def contract_list(pattern: str) -> list[str]:
    """The comma-separated names the contract lists where `pattern` (one group) matches."""
    found = re.search(pattern, contract_text())
    assert found, f"the contract no longer says {pattern!r}"
    return [name.strip() for name in found.group(1).split(",")]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def client(nemo_server: NemoServer, recorder: Recorder) -> Iterator[NemoClient]:
    """The provider's client, anonymous, against the session's real nemo_local."""
    with NemoClient(nemo_server.base_url, client_id=str(uuid.uuid4()), transport=recorder) as c:
        yield c


def _ffmpeg(*args: str) -> None:
    from nemo_local.media import ffmpeg_exe

    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


_VIDEO = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=0.5"]
_AUDIO = ["-f", "lavfi", "-i", "sine=frequency=440:duration=0.5"]
_MAKE = {
    "mp4": [*_VIDEO, "-c:v", "libx264", "-pix_fmt", "yuv420p"],
    "mov": [*_VIDEO, "-c:v", "libx264", "-pix_fmt", "yuv420p"],
    "mkv": [*_VIDEO, "-c:v", "libx264", "-pix_fmt", "yuv420p"],
    "avi": [*_VIDEO, "-c:v", "mpeg4"],
    "webm": [*_VIDEO, "-c:v", "libvpx"],
    "mp3": [*_AUDIO, "-c:a", "libmp3lame"],
    "wav": _AUDIO,
    "m4a": [*_AUDIO, "-c:a", "aac"],
    "aac": [*_AUDIO, "-c:a", "aac", "-f", "adts"],
}
_PILLOW = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}


@pytest.fixture(scope="session")
def sample_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One genuine, tiny file per extension in `_MAKE` and `_PILLOW` (keyed by extension)."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("contract-media")
    out: dict[str, Path] = {}
    for ext, args in _MAKE.items():
        out[ext] = folder / f"sample.{ext}"
        _ffmpeg(*args, str(out[ext]))
    for ext, kind in _PILLOW.items():
        out[ext] = folder / f"sample.{ext}"
        Image.new("RGB", (32, 24), (200, 30, 30)).save(out[ext], kind)
    return out
