"""Smart rendering: titles and cuts that are not on keyframes re-encode only the GOPs they touch; the
rest is copied. The result decodes without errors, has exactly the frames and timestamps it should, and
the frames around every join look like a full re-encode's (PSNR >= 35 dB)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from nemo_local.media import ffmpeg_exe
from nemo_local.renderer import passthrough, render_draft

W, H, RATE = 320, 180, 30


def _clip(path: Path, seconds: float, gop: int, bframes: int) -> Path:
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s={W}x{H}:r={RATE}:d={seconds}",
         "-f", "lavfi", "-i", f"sine=f=440:d={seconds}", "-c:v", "libx264", "-preset", "veryfast",
         "-g", str(gop), "-bf", str(bframes), "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(path)],
        check=True,
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def smart_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("smart")
    return {"g30": _clip(d / "g30.mp4", 3.0, 30, 3), "g45": _clip(d / "g45.mp4", 3.0, 45, 2)}


def _frames(path: Path) -> tuple[list[float], list[np.ndarray]]:
    check = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0 and not check.stderr.strip(), check.stderr
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
    return [float(f.time) for f in frames], [f.to_ndarray(format="gray") for f in frames]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


def _nal_units(packet: bytes) -> list[bytes]:
    """The NAL units of a length-prefixed (MP4/Matroska) H.264 packet, without parameter sets (SPS 7,
    PPS 8): the join may put those in-band, and they carry no picture."""
    units, i = [], 0
    while i + 4 <= len(packet):
        n = int.from_bytes(packet[i : i + 4], "big")
        unit = packet[i + 4 : i + 4 + n]
        if unit and unit[0] & 0x1F not in (7, 8):
            units.append(unit)
        i += 4 + n
    return units


def _same_pictures(copied: list[bytes], source: list[bytes]) -> bool:
    """Packet for packet the same coded pictures (parameter sets aside)."""
    return len(copied) == len(source) and all(
        _nal_units(c) == _nal_units(s) for c, s in zip(copied, source, strict=True)
    )


def _render_both(
    draft: dict[str, Any], tmp_path: Path, lookup: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, Path]:
    smart_out = render_draft(draft, tmp_path / "smart.mp4", resolve_media=lookup)
    with monkeypatch.context() as m:
        m.setattr(passthrough, "decide", lambda *a, **k: "full re-encode for the comparison")
        full = render_draft(draft, tmp_path / "full.mp4", resolve_media=lookup)
    assert full.video == "re-encoded because full re-encode for the comparison"
    return smart_out, full.path


def _check_joins(smart_path: Path, full_path: Path, joins: list[int], total: int) -> None:
    times, frames = _frames(smart_path)
    _, full_frames = _frames(full_path)
    assert len(frames) == total == len(full_frames)
    assert np.allclose(times, [i / RATE for i in range(total)], atol=1e-3)  # exact timestamps, CFR
    for join in joins:
        for i in range(max(0, join - 3), min(total, join + 3)):
            assert _psnr(frames[i], full_frames[i]) >= 35.0, (join, i, _psnr(frames[i], full_frames[i]))


def _draft(
    pieces: list[dict[str, Any]], seconds: float, titles: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    ms = round(seconds * 1000)
    tracks = [
        {"tt": 0, "sg": pieces},
        {"tt": 1, "sg": [{"id": "m", "s": 0, "d": ms, "src": "nemo://music", "v": 0.5}]},
    ]
    if titles:
        tracks.append({"tt": 7, "sg": titles})
    return {"t": tracks, "d": ms, "m": {"width": W, "height": H}}


def test_title_re_encodes_only_the_gop_it_touches(
    tmp_path: Path,
    smart_clips: dict[str, Path],
    resolve: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lookup = lambda src: smart_clips.get(src) or resolve(src)  # noqa: E731
    draft = _draft(
        [{"id": "v", "s": 0, "d": 3000, "src": "g30"}], 3.0, [{"s": 300, "d": 600, "txt": "Hello"}]
    )
    out, full = _render_both(draft, tmp_path, lookup, monkeypatch)
    assert (
        out.video
        == f"video smart-rendered: 60 of 90 frames passed through, 30 re-encoded in 1 span(s) ({W}x{H} at 30 fps)"
    )
    _check_joins(out.path, full, [30], 90)
    assert _same_pictures(_packets(out.path)[30:], _packets(smart_clips["g30"])[30:])  # GOPs 2, 3 copied
    region = (slice(int(H * 0.7), int(H * 0.9)), slice(int(W * 0.3), int(W * 0.7)))
    _, frames = _frames(out.path)
    _, source = _frames(smart_clips["g30"])
    assert np.abs(frames[24][region].astype(float) - source[24][region]).mean() > 8  # the title shows
    assert np.abs(frames[40][region].astype(float) - source[40][region]).mean() < 1  # and is gone later


def test_cuts_inside_gops_re_encode_the_partial_gops(
    tmp_path: Path,
    smart_clips: dict[str, Path],
    resolve: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Source 0.5-3.0 s of a GOP-45 clip (keyframes at frames 0, 45, 90), then 0-1 s of a GOP-30 clip:
    the partial GOP (source frames 15-44) is re-encoded, the whole ones copied, both sources in one
    stream, and a cut ending inside a GOP (0-1.5 s of the GOP-30 clip) re-encodes that GOP's part."""
    lookup = lambda src: smart_clips.get(src) or resolve(src)  # noqa: E731
    pieces = [
        {"id": "a", "s": 0, "d": 2500, "src": "g45", "ss": 500},
        {"id": "b", "s": 2500, "d": 1500, "src": "g30"},
    ]
    out, full = _render_both(_draft(pieces, 4.0), tmp_path, lookup, monkeypatch)
    assert (
        out.video
        == f"video smart-rendered: 75 of 120 frames passed through, 45 re-encoded in 2 span(s) ({W}x{H} at 30 fps)"
    )
    _check_joins(out.path, full, [30, 75, 105], 120)
    with av.open(str(out.path)) as c:
        audio = c.streams.audio[0]
        assert audio.duration is not None
        assert abs(float(audio.duration * audio.time_base) - 4.0) < 0.002


def test_cuts_on_keyframes_copy_everything(
    tmp_path: Path, smart_clips: dict[str, Path], resolve: Callable[[str], Path]
) -> None:
    """Two cuts of one clip, both on keyframes (GOP 30): nothing is re-encoded, in mkv too."""
    lookup = lambda src: smart_clips.get(src) or resolve(src)  # noqa: E731
    pieces = [
        {"id": "a", "s": 0, "d": 1000, "src": "g30", "ss": 2000},
        {"id": "b", "s": 1000, "d": 1000, "src": "g30", "ss": 0},
    ]
    out = render_draft(_draft(pieces, 2.0), tmp_path / "o.mkv", fmt="mkv", resolve_media=lookup)
    assert (
        out.video == f"video passed through (2 runs of whole GOPs joined by stream copy, {W}x{H} at 30 fps)"
    )
    times, frames = _frames(out.path)
    assert len(frames) == 60 and np.allclose(times, [i / RATE for i in range(60)], atol=1e-3)
    _, source = _frames(smart_clips["g30"])
    assert _psnr(frames[0], source[60]) == 99.0 and _psnr(frames[30], source[0]) == 99.0  # bit-exact pictures
    assert _same_pictures(
        _packets(out.path), _packets(smart_clips["g30"])[60:] + _packets(smart_clips["g30"])[:30]
    )
