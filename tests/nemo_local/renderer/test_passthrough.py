"""Pass-through rendering with real clips made by ffmpeg: an H.264 clip shown unchanged is copied
packet for packet (only the audio is encoded); anything that changes its pictures is re-encoded, and the
reason is said. Frame counts, durations and A/V alignment are checked on the output."""

from __future__ import annotations

import hashlib
import logging
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from nemo_local.media import ffmpeg_exe
from nemo_local.renderer import render_draft

W, H = 320, 180


def _make(
    path: Path, seconds: float, *, vf: str = "", rate: int = 30, size: str = f"{W}x{H}", **opts: str
) -> Path:
    args = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={seconds}"]
    args += ["-f", "lavfi", "-i", f"sine=f=440:d={seconds}"]
    if vf:
        args += ["-vf", vf]
    codec = opts.pop("codec", "libx264")
    args += ["-c:v", codec, "-preset", "ultrafast" if codec == "libx264" else "fast"]
    for key, value in opts.items():
        args += [f"-{key}", value]
    args += ["-c:a", "aac", "-shortest", str(path)]
    subprocess.run(args, check=True)
    return path


def _rotated(src: Path, out: Path) -> Path:
    """A portrait clip stored landscape-shaped with a display rotation, as phones write them."""
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-display_rotation",
            "90",
            "-i",
            str(src),
            "-c",
            "copy",
            str(out),
        ],
        check=True,
    )
    return out


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("passthrough")
    x264 = {"pix_fmt": "yuv420p"}
    return {
        "gop30_bframes": _make(d / "a.mp4", 3.0, g="30", bf="3", **x264),
        "gop12": _make(d / "b.mp4", 2.0, g="12", bf="2", **x264),
        "gop90_no_bframes": _make(d / "c.mp4", 3.0, g="90", bf="0", **x264),
        "odd_duration": _make(d / "d.mp4", 2.37, g="25", bf="2", **x264),
        "vfr": _make(
            d / "e.mp4",
            3.0,
            vf="select='lt(n\\,30)+not(mod(n\\,3))'",
            fps_mode="vfr",
            **x264,
        ),
        "hevc": _make(
            d / "f.mp4",
            2.0,
            codec="libx265",
            pix_fmt="yuv420p",
            **{"tag:v": "hvc1"},
            **{"x265-params": "log-level=error"},
        ),
        "yuv444": _make(d / "g.mp4", 2.0, pix_fmt="yuv444p"),
        "rotated": _rotated(_make(d / "k0.mp4", 2.0, pix_fmt="yuv420p", size=f"{H}x{W}"), d / "k.mp4"),
        "vp9": _make(d / "j.mkv", 2.0, codec="libvpx-vp9", deadline="realtime", **{"cpu-used": "8"}),
        "over_1080p": _make(d / "h.mp4", 1.0, size="2560x1440", pix_fmt="yuv420p"),
        "four_three": _make(d / "i.mp4", 2.0, size="240x180", pix_fmt="yuv420p"),
    }


def _draft(src: str, seconds: float, **extra: Any) -> dict[str, Any]:
    ms = round(seconds * 1000)
    tracks: list[dict[str, Any]] = [
        {"tt": 0, "sg": [{"id": "v", "s": 0, "d": ms, "src": src, "v": 0.5}]},
        {"tt": 1, "sg": [{"id": "m", "s": 0, "d": ms, "src": "nemo://music", "v": 0.8}]},
    ]
    tracks += extra.pop("tracks", [])
    return {"t": tracks, "d": ms, "m": {"width": W, "height": H}, **extra}


def _packets(path: Path) -> list[str]:
    with av.open(str(path)) as c:
        return [hashlib.sha256(bytes(p)).hexdigest() for p in c.demux(c.streams.video[0]) if p.size]


def _decoded(path: Path) -> tuple[int, float, float]:
    """(video frames decoded, video end time incl. last frame, audio duration); fails on decode errors.

    The audio duration is the stream's declared one (the container's edit list), and the decoded samples
    must match it to within one AAC frame (the encoder pads the last one)."""
    check = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0 and not check.stderr.strip(), check.stderr
    with av.open(str(path)) as c:
        times = [f.time for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        if stream.duration is not None:
            declared = float(stream.duration * stream.time_base)
        else:  # webm: only the container's duration
            assert c.duration is not None
            declared = c.duration / 1_000_000
        samples = sum(f.samples for f in c.decode(audio=0))
    assert abs(samples / stream.rate - declared) <= 1024 / stream.rate
    step = (times[-1] - times[0]) / max(1, len(times) - 1)
    return len(times), times[-1] + step, declared


def _resolver(clips: dict[str, Path], resolve: Callable[[str], Path]) -> Callable[[str], Path]:
    def lookup(src: str) -> Path:
        return clips[src] if src in clips else resolve(src)

    return lookup


@pytest.mark.parametrize(
    ("name", "seconds", "frames"),
    [
        ("gop30_bframes", 3.0, 90),
        ("gop12", 2.0, 60),
        ("gop90_no_bframes", 3.0, 90),
        ("odd_duration", 2.37, 71),
    ],
)
def test_whole_h264_clip_is_passed_through(
    tmp_path: Path, clips: dict[str, Path], resolve: Callable[[str], Path], caplog: pytest.LogCaptureFixture,
    name: str, seconds: float, frames: int,
) -> None:  # fmt: skip
    caplog.set_level(logging.INFO, logger="nemo_local.renderer")
    out = render_draft(_draft(name, seconds), tmp_path / "o.mp4", resolve_media=_resolver(clips, resolve))
    assert out.video.startswith("video passed through"), out.video
    assert any("video passed through" in r.getMessage() for r in caplog.records)
    assert _packets(out.path) == _packets(clips[name])  # the very same H.264 packets
    count, video_end, audio = _decoded(out.path)
    assert count == frames
    assert abs(video_end - seconds) <= 1 / 30 + 1e-6  # A/V within one frame, durations exact
    assert abs(audio - seconds) <= 0.002
    assert abs(out.duration_s - seconds) <= 1 / 30


def test_clip_whose_audio_outlasts_its_video_is_passed_through(
    tmp_path: Path, resolve: Callable[[str], Path]
) -> None:
    """The upload's duration is the container's (here the sound runs 60 ms past the last frame): the
    video still passes, ending where the clip's does, and the audio is the timeline's length."""
    clip = tmp_path / "long_sound.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s={W}x{H}:r=30:d=2",
         "-f", "lavfi", "-i", "sine=f=440:d=2.06", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30",
         "-c:a", "aac", str(clip)],
        check=True,
    )  # fmt: skip
    out = render_draft(
        _draft("c", 2.06), tmp_path / "o.mp4", resolve_media=lambda s: clip if s == "c" else resolve(s)
    )
    assert out.video.startswith("video passed through (whole clip"), out.video
    count, video_end, audio = _decoded(out.path)
    assert count == 60 and abs(video_end - 2.0) < 1e-3 and abs(audio - 2.06) <= 0.002


def test_clip_cut_on_a_clean_keyframe_is_passed_through(
    tmp_path: Path, clips: dict[str, Path], resolve: Callable[[str], Path]
) -> None:
    out = render_draft(
        _draft("gop30_bframes", 2.0), tmp_path / "o.mp4", resolve_media=_resolver(clips, resolve)
    )
    assert out.video == f"video passed through (first 60 frames, {W}x{H} at 30 fps)"
    count, video_end, audio = _decoded(out.path)
    assert count == 60 and abs(video_end - 2.0) < 1e-3 and abs(audio - 2.0) <= 0.002
    source = _packets(clips["gop30_bframes"])
    assert _packets(out.path) == source[:60]


def test_music_is_mixed_with_the_clip_sound(
    tmp_path: Path, clips: dict[str, Path], resolve: Callable[[str], Path]
) -> None:
    out = render_draft(_draft("gop12", 2.0), tmp_path / "o.mp4", resolve_media=_resolver(clips, resolve))
    with av.open(str(out.path)) as c:
        audio = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
    spectrum = np.abs(np.fft.rfft(audio[0, :44100]))
    freqs = np.fft.rfftfreq(44100, 1 / 44100)
    assert spectrum[np.argmin(np.abs(freqs - 440))] > 20 * np.median(spectrum)  # the clip's own tone is there


@pytest.mark.parametrize(
    ("name", "seconds", "draft_extra", "fmt", "reason"),
    [
        ("gop30_bframes", 3.0, {}, "webm", "encoded as vp9"),
        ("vfr", 3.0, {}, "mp4", "variable frame rate"),
        ("hevc", 2.0, {}, "mp4", "the clip is hevc"),
        ("vp9", 2.0, {}, "mp4", "the clip is vp9"),
        ("rotated", 2.0, {}, "mp4", "rotated by"),
        ("yuv444", 2.0, {}, "mp4", "pixel format yuv444p"),
        ("over_1080p", 1.0, {}, "mp4", "larger than 1080p"),
        ("four_three", 2.0, {}, "mp4", "letterboxed"),
        ("gop12", 3.0, {}, "mp4", "runs past the clip's end"),
    ],
)
def test_what_cannot_pass_is_re_encoded_with_the_reason(
    tmp_path: Path, clips: dict[str, Path], resolve: Callable[[str], Path],
    name: str, seconds: float, draft_extra: dict[str, Any], fmt: str, reason: str,
) -> None:  # fmt: skip
    out = render_draft(
        _draft(name, seconds, **draft_extra), tmp_path / f"o.{fmt}", fmt=fmt, quality="low",
        resolve_media=_resolver(clips, resolve),
    )  # fmt: skip
    assert out.video.startswith("re-encoded because") and reason in out.video, out.video
    assert (out.width, out.height) == (W, H)
    count, video_end, _ = _decoded(out.path)
    assert count == round(seconds * 30)
    assert abs(video_end - seconds) <= 1 / 30 + 1e-6


def test_the_video_track_is_laid_out_once(
    tmp_path: Path, clips: dict[str, Path], resolve: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decision and the re-encode it falls back to share one layout of the video track."""
    from nemo_local.renderer import clips as clips_module
    from nemo_local.renderer import render as render_module

    calls: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return clips_module.lay_out(*args, **kwargs)

    monkeypatch.setattr(render_module, "lay_out", counted)
    out = render_draft(
        _draft("hevc", 2.0), tmp_path / "o.mp4", quality="low", resolve_media=_resolver(clips, resolve)
    )
    assert out.video.startswith("re-encoded because"), out.video
    assert len(calls) == 1
