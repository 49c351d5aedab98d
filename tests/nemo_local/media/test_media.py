"""ffmpeg discovery, probing and hashing on real files."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nemo_local.media import ProbeError, ffmpeg_exe, load_font, probe, sha256_file
from nemo_local.media import ffmpeg as ffmpeg_module


def _make(tmp_path: Path, name: str, *args: str) -> Path:
    out = tmp_path / name
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", *args, str(out)], check=True)
    return out


def test_ffmpeg_exe_runs() -> None:
    result = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("ffmpeg version")


def test_ffmpeg_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    ffmpeg_module._discover.cache_clear()
    monkeypatch.setenv("NEMO_FFMPEG", str(tmp_path / "nope"))
    try:
        with pytest.raises(ffmpeg_module.FFmpegNotFoundError):
            ffmpeg_exe()
    finally:
        monkeypatch.delenv("NEMO_FFMPEG")
        ffmpeg_module._discover.cache_clear()
    assert os.path.isfile(ffmpeg_exe())


def test_probe_video_with_audio(tmp_path: Path) -> None:
    clip = _make(
        tmp_path,
        "c.mp4",
        *("-f", "lavfi", "-i", "testsrc2=s=640x360:r=25:d=2", "-f", "lavfi", "-i", "sine=d=2"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest"),
    )
    info = probe(clip)
    assert info.has_video and info.has_audio
    assert (info.width, info.height, info.video_codec, info.audio_codec) == (640, 360, "h264", "aac")
    assert info.fps == pytest.approx(25.0)
    assert abs(info.duration - 2.0) < 0.1
    assert info.to_dict()["width"] == 640


def test_probe_raw_aac_counts_packets(tmp_path: Path) -> None:
    adts = _make(tmp_path, "a.aac", "-f", "lavfi", "-i", "sine=d=3", "-c:a", "aac", "-b:a", "32k")
    info = probe(adts)
    assert info.has_audio and not info.has_video
    assert abs(info.duration - 3.0) < 0.06


def test_probe_picture_and_garbage(tmp_path: Path) -> None:
    pic = tmp_path / "p.png"
    Image.new("RGB", (320, 200), (1, 2, 3)).save(pic)
    info = probe(pic)
    assert (info.width, info.height, info.has_audio) == (320, 200, False)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video")
    with pytest.raises(ProbeError):
        probe(junk)


def test_sha256_file(tmp_path: Path) -> None:
    data = np.random.default_rng(0).bytes(3 * 1024 * 1024 + 17)
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_font_never_fails_on_latin_or_chinese() -> None:
    """Drawing must work on any machine; real CJK glyphs need a CJK system font (a documented limit)."""
    for text in ("Urban Dreams", "城市之梦"):
        font = load_font(48, text=text)
        img = Image.new("L", (400, 80))
        from PIL import ImageDraw

        ImageDraw.Draw(img).text((5, 5), text, font=font, fill=255)
        assert np.asarray(img).max() == 255
