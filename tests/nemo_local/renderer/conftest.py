"""Small real media for renderer tests: a composed track, a 1080p test clip with a tone, a picture."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from nemo_local.composer import compose
from nemo_local.media import ffmpeg_exe

CLIP_SECONDS = 4.0


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("render-media")
    compose("upbeat corporate", duration_s=5.0, seed=2).write(root / "music.wav")
    subprocess.run(
        [
            ffmpeg_exe(),
            "-loglevel",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            f"testsrc2=s=1920x1080:r=30:d={CLIP_SECONDS}",
            "-f",
            "lavfi",
            "-i",
            f"sine=f=440:d={CLIP_SECONDS}",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-c:a",
            "aac",
            "-shortest",
            str(root / "clip.mp4"),
        ],
        check=True,
    )
    Image.new("RGB", (800, 600), (200, 40, 40)).save(root / "photo.png")
    return root


@pytest.fixture(scope="session")
def resolve(media_dir: Path) -> Callable[[str], Path]:
    table = {
        "nemo://music": media_dir / "music.wav",
        "nemo://clip": media_dir / "clip.mp4",
        "nemo://photo": media_dir / "photo.png",
    }

    def lookup(src: str) -> Path:
        return table[src]

    return lookup
