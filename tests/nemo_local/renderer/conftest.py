"""Small real media for renderer tests: a composed track, a 1080p test clip with a tone, a picture."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
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


def frame_at(path: Path, t: float) -> np.ndarray:
    """RGB frame shown at ``t`` seconds (the last frame whose time is <= t)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        chosen = None
        for frame in container.decode(stream):
            if frame.time is not None and frame.time > t + 1e-3:
                break
            chosen = frame
        assert chosen is not None
        return chosen.to_ndarray(format="rgb24")


def decoded_audio(path: Path) -> np.ndarray:
    """All audio as (n, channels) float32."""
    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            arr = frame.to_ndarray()
            if not frame.format.is_planar:  # packed: one row of interleaved samples
                arr = arr.reshape(-1, len(frame.layout.channels)).T
            chunks.append(arr)
    data = np.concatenate(chunks, axis=1) if chunks else np.zeros((2, 0))
    if data.dtype.kind == "i":
        data = data / 32768.0
    return data.T.astype(np.float32)
