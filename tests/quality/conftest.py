"""Media made here for the quality tests: signals with known properties, encoded by the bundled ffmpeg."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

SR = 44100


def write_wav(path: Path, x: np.ndarray, sr: int = SR) -> Path:
    """float (n, ch) -> 16-bit PCM WAV with PyAV."""
    import av

    pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=sr, layout="stereo" if pcm.shape[1] == 2 else "mono")
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout=stream.layout.name)
        frame.sample_rate = sr
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args], check=True
    )


@pytest.fixture(scope="session")
def track(tmp_path_factory: pytest.TempPathFactory):
    """One 8 s nemo_local track (known bpm/key/loudness) as WAV, composed once for the session."""
    from nemo_local.composer import compose

    folder = tmp_path_factory.mktemp("quality-track")
    composed = compose("upbeat corporate track for a product explainer", duration_s=8.0, seed=3)
    composed.write(folder / "track.wav")
    return composed, folder / "track.wav"


@pytest.fixture(scope="session")
def encode(track, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """encode("mp3") -> the session track in that export format (video formats get a 1080p picture)."""
    folder = tmp_path_factory.mktemp("quality-formats")
    cache: dict[str, Path] = {}
    _, wav = track
    video = {
        "mp4": [
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "stillimage",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
        ],
        "webm": [
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-b:v",
            "200k",
            "-c:a",
            "libopus",
        ],
    }
    remux = {"mov", "mkv"}  # the MP4's streams in another container: no second 1080p encode
    # AVI as nemo_local makes it (renderer/formats.py: H.264 + MP3): the MP4's picture, MP3 sound
    audio = {"mp3": ["-c:a", "libmp3lame", "-b:a", "192k"], "m4a": ["-c:a", "aac"], "aac": ["-c:a", "aac", "-f", "adts"],
             "wav": ["-c:a", "pcm_s16le"], "flac": ["-c:a", "flac"]}  # fmt: skip

    def _encode(fmt: str) -> Path:
        if fmt in cache:
            return cache[fmt]
        out = folder / f"track.{fmt}"
        if fmt in remux:
            ffmpeg("-i", str(_encode("mp4")), "-c", "copy", str(out))
        elif fmt == "avi":
            ffmpeg("-i", str(_encode("mp4")), "-c:v", "copy", "-c:a", "libmp3lame", "-b:a", "192k", str(out))
        elif fmt in video:
            ffmpeg("-f", "lavfi", "-i", "color=c=navy:s=1920x1080:r=30:d=8", "-i", str(wav), *video[fmt],
                   "-shortest", str(out))  # fmt: skip
        elif fmt == "gif":
            ffmpeg("-f", "lavfi", "-i", "testsrc=s=320x180:r=10:d=3", str(out))
        else:
            ffmpeg("-i", str(wav), *audio[fmt], str(out))
        cache[fmt] = out
        return out

    return _encode
