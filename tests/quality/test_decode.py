"""decode(): a long MP3 decoded in two halves side by side is the one-pass decode, bit for bit; codecs
whose state runs through the whole file (AAC's noise substitution) are decoded in one pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nemo_provider.quality import decode as decoding

from .conftest import ffmpeg

SECONDS = 16.0  # ~610 MP3 frames: both halves above SPLIT_MIN_PACKETS


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from nemo_local.composer import compose

    track = compose("energetic electronic at 128 bpm", duration_s=SECONDS, seed=3)
    return track.write(tmp_path_factory.mktemp("decode") / "music.wav")


def _runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ``skip`` of every decoder run decode() starts (a second run means it split the file)."""
    skips: list[int] = []
    real = decoding._decode_run

    def spy(ctx: Any, packets: list[Any], skip: int, resampler: Any, out: list[list[np.ndarray]]) -> Any:
        skips.append(skip)
        return real(ctx, packets, skip, resampler, out)

    monkeypatch.setattr(decoding, "_decode_run", spy)
    return skips


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("cbr192.mp3", ["-c:a", "libmp3lame", "-b:a", "192k"]),
        ("cbr64.mp3", ["-c:a", "libmp3lame", "-b:a", "64k"]),  # a busier bit reservoir
        ("vbr.mp3", ["-c:a", "libmp3lame", "-q:a", "6"]),
        ("mono.mp3", ["-c:a", "libmp3lame", "-ac", "1", "-b:a", "48k"]),
        ("mp3.mkv", ["-c:a", "libmp3lame", "-b:a", "128k"]),
        ("mp3.avi", ["-c:a", "libmp3lame", "-b:a", "128k"]),
    ],
)
def test_a_split_mp3_decode_is_the_one_pass_decode_bit_for_bit(
    name: str, args: list[str], music: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / name
    ffmpeg("-i", str(music), *args, str(path))
    runs = _runs(monkeypatch)
    split = decoding.decode(path)
    assert sorted(runs) == [0, decoding.SPLIT_WARMUP], "the file was not decoded in two halves"
    monkeypatch.setattr(decoding, "SPLIT_CODECS", frozenset())
    whole = decoding.decode(path)
    assert runs[2:] == [0]
    assert split.audio is not None and whole.audio is not None
    assert split.audio.shape == whole.audio.shape
    assert np.array_equal(split.audio, whole.audio)
    assert abs(len(split.audio) / split.sample_rate - SECONDS) < 0.1


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("aac.m4a", ["-c:a", "aac", "-b:a", "128k"]),  # FFmpeg's AAC encoder uses noise substitution
        ("short.mp3", ["-t", "4", "-c:a", "libmp3lame"]),  # too short to be worth a second decoder
        ("flac.flac", ["-c:a", "flac"]),
    ],
)
def test_other_codecs_and_short_files_decode_in_one_pass(
    name: str, args: list[str], music: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / name
    ffmpeg("-i", str(music), *args, str(path))
    runs = _runs(monkeypatch)
    dec = decoding.decode(path)
    assert runs == [0]
    assert dec.audio is not None and len(dec.audio) > 0
