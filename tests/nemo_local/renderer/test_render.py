"""render_draft end to end: real ffmpeg output, checked by probing and decoding it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import psutil
import pytest

from nemo_local.media import probe
from nemo_local.renderer import RenderCancelled, RenderError, render_draft

from .helpers import decoded_audio, frame_at


def still_draft(
    seconds: float = 3.0, *, portrait: bool = False, title_at: tuple[int, int] = (1000, 1000)
) -> dict[str, Any]:
    ms = int(seconds * 1000)
    size = {"width": 1080, "height": 1920} if portrait else {"width": 1920, "height": 1080}
    return {
        "t": [
            {
                "tt": 1,
                "sg": [{"id": "bgm", "s": 0, "d": ms, "src": "nemo://music", "v": 0.8, "fi": 300, "fo": 500}],
            },
            {
                "tt": 7,
                "sg": [{"id": "title", "s": title_at[0], "d": title_at[1], "txt": "Urban Dreams 城市"}],
            },
        ],
        "d": ms,
        "m": {"title": "Test Render", **size},
    }


def clip_draft(seconds: float = 4.0) -> dict[str, Any]:
    ms = int(seconds * 1000)
    return {
        "t": [
            {"tt": 0, "sg": [{"id": "v1", "s": 0, "d": ms, "src": "nemo://clip", "v": 0.3}]},
            {"tt": 1, "sg": [{"id": "bgm", "s": 0, "d": ms, "src": "nemo://music", "v": 1.0}]},
            {"tt": 7, "sg": [{"id": "t1", "s": 1000, "d": 1500, "txt": "Hello"}]},
        ],
        "d": ms,
        "m": {"title": "Clip"},
    }


def _title_region(frame: np.ndarray) -> np.ndarray:
    h, w, _ = frame.shape
    return frame[int(h * 0.7) : int(h * 0.9), int(w * 0.3) : int(w * 0.7)].astype(np.float32)


def _assert_title_only_inside(path: Path, start: float, end: float) -> None:
    inside = frame_at(path, (start + end) / 2)
    before = frame_at(path, start - 0.4)
    after = frame_at(path, end + 0.4)
    assert np.abs(_title_region(inside) - _title_region(before)).mean() > 8.0
    assert np.abs(_title_region(inside) - _title_region(after)).mean() > 8.0


def test_still_mp4_has_cover_music_and_title(tmp_path: Path, resolve: Callable[[str], Path]) -> None:
    out = render_draft(still_draft(3.0), tmp_path / "o.mp4", resolve_media=resolve)
    info = probe(out.path)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height) == (1920, 1080)
    assert abs(info.duration - 3.0) <= 0.05
    assert (out.width, out.height, out.size) == (1920, 1080, out.path.stat().st_size)
    _assert_title_only_inside(out.path, 1.0, 2.0)
    # outside the title band the still picture does not change
    a, b = frame_at(out.path, 0.3), frame_at(out.path, 2.6)
    assert np.abs(a[: a.shape[0] // 2].astype(float) - b[: b.shape[0] // 2]).mean() < 3.0
    audio = decoded_audio(out.path)
    assert np.sqrt((audio**2).mean()) > 0.02


def test_portrait(tmp_path: Path, resolve: Callable[[str], Path]) -> None:
    out = render_draft(
        still_draft(2.0, portrait=True, title_at=(500, 1000)), tmp_path / "p.mp4", resolve_media=resolve
    )
    info = probe(out.path)
    assert (info.width, info.height) == (1080, 1920)
    _assert_title_only_inside(out.path, 0.5, 1.5)


def test_clip_with_music_mixed_and_title(tmp_path: Path, resolve: Callable[[str], Path]) -> None:
    out = render_draft(clip_draft(4.0), tmp_path / "c.mp4", resolve_media=resolve, quality="low")
    info = probe(out.path)
    assert (info.video_codec, info.audio_codec, info.width, info.height) == ("h264", "aac", 1920, 1080)
    assert abs(info.duration - 4.0) <= 0.05
    _assert_title_only_inside(out.path, 1.0, 2.5)
    audio = decoded_audio(out.path).mean(axis=1)
    spectrum = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / 44100)
    tone = spectrum[(freqs > 420) & (freqs < 460)].sum()
    assert tone > 0.01 * spectrum.sum()  # the clip's own sound is there
    assert spectrum[(freqs < 400) | (freqs > 500)].sum() > 0.3 * spectrum.sum()  # and so is the music


def test_picture_segment_is_fitted(tmp_path: Path, resolve: Callable[[str], Path]) -> None:
    draft = still_draft(2.0)
    draft["t"].insert(0, {"tt": 0, "sg": [{"id": "pic", "s": 0, "d": 1000, "src": "nemo://photo"}]})
    out = render_draft(draft, tmp_path / "pic.mp4", resolve_media=resolve)
    first = frame_at(out.path, 0.5)
    centre = first[540, 960].astype(int)
    assert centre[0] > 150 and centre[1] < 90  # the red photo, not the cover
    later = frame_at(out.path, 1.5)
    assert (
        abs(int(later[540, 960, 0]) - int(centre[0])) > 20
        or abs(int(later[540, 960, 1]) - int(centre[1])) > 20
    )


@pytest.mark.parametrize(
    ("fmt", "vcodec", "acodec"),
    [
        ("mov", "h264", "aac"),
        ("mkv", "h264", "aac"),
        ("webm", "vp9", "opus"),
        ("avi", "h264", "mp3"),
        ("gif", "gif", None),
        ("mp3", None, "mp3"),
        ("wav", None, "pcm_s16le"),
        ("m4a", None, "aac"),
        ("aac", None, "aac"),
    ],
)
def test_formats(
    tmp_path: Path, resolve: Callable[[str], Path], fmt: str, vcodec: str | None, acodec: str | None
) -> None:
    out = render_draft(
        still_draft(2.0, title_at=(500, 1000)),
        tmp_path / f"x.{fmt}",
        fmt=fmt,
        quality="low",
        resolve_media=resolve,
    )
    info = probe(out.path)
    assert info.video_codec == vcodec
    assert (info.audio_codec or "").startswith(acodec or "") if acodec else info.audio_codec is None
    assert abs(info.duration - 2.0) <= 0.05
    if vcodec is None:
        assert out.width is None and info.has_video is False
        samples = decoded_audio(out.path)
        assert abs(len(samples) / 44100 - 2.0) <= 0.05
        assert np.abs(samples).max() > 0.05


def test_progress_is_monotonic_and_complete(tmp_path: Path, resolve: Callable[[str], Path]) -> None:
    seen: list[float] = []
    render_draft(
        clip_draft(4.0), tmp_path / "g.mp4", quality="low", resolve_media=resolve, progress=seen.append
    )
    assert seen[0] == 0.0 and seen[-1] == 100.0
    assert all(0.0 <= v <= 100.0 for v in seen)
    assert seen == sorted(seen)
    assert len([v for v in seen if 5.0 < v < 100.0]) >= 2  # reported while ffmpeg ran, not just at the end


def test_cancel_stops_ffmpeg_and_leaves_no_file(tmp_path: Path, resolve: Callable[[str], Path]) -> None:
    cancel = threading.Event()
    started = threading.Event()

    def on_progress(value: float) -> None:
        if value > 5.0:
            started.set()
            cancel.set()

    out = tmp_path / "cancelled.mp4"
    me = psutil.Process()
    with pytest.raises(RenderCancelled):
        render_draft(clip_draft(4.0), out, resolve_media=resolve, progress=on_progress, cancel=cancel)
    assert started.is_set()
    assert not out.exists()
    assert not list(tmp_path.glob(".*partial"))
    assert not [p for p in me.children(recursive=True) if "ffmpeg" in p.name()]


def test_cancel_before_start(tmp_path: Path, resolve: Callable[[str], Path]) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(RenderCancelled):
        render_draft(still_draft(), tmp_path / "n.mp4", resolve_media=resolve, cancel=cancel)


@pytest.mark.parametrize(
    ("draft", "fmt", "message"),
    [
        ({"t": []}, "mp4", "no tracks"),
        ({"t": [{"tt": 1, "sg": []}]}, "mp4", "no segments"),
        ({"t": [{"tt": 1, "sg": [{"s": 0, "d": 1000}]}]}, "mp4", "no media source"),
        (still_draft(), "flv", "unsupported export format"),
        ({"t": [{"tt": 1, "sg": [{"s": 0, "d": 1000, "src": "nemo://missing"}]}]}, "mp4", "not available"),
    ],
)
def test_errors_are_render_errors(
    tmp_path: Path, resolve: Callable[[str], Path], draft: dict[str, Any], fmt: str, message: str
) -> None:
    with pytest.raises(RenderError, match=message):
        render_draft(draft, tmp_path / f"e.{fmt}", fmt=fmt, resolve_media=resolve)


def test_bad_quality_is_rejected(tmp_path: Path, resolve: Callable[[str], Path]) -> None:
    with pytest.raises(RenderError, match="unknown quality"):
        render_draft(still_draft(), tmp_path / "q.mp4", quality="ultra-max", resolve_media=resolve)


def test_clips_are_placed_trimmed_and_gaps_are_black(tmp_path: Path, resolve: Callable[[str], Path]) -> None:
    draft = {
        "t": [
            {
                "tt": 0,
                "sg": [
                    {"id": "a", "s": 0, "d": 1000, "src": "nemo://clip", "ss": 2000},
                    {
                        "id": "b",
                        "s": 2000,
                        "d": 1000,
                        "src": "nemo://clip",
                        "ss": 60000,
                    },  # offset past the end
                ],
            },
            {"tt": 1, "sg": [{"id": "bgm", "s": 0, "d": 3000, "src": "nemo://music"}]},
        ],
        "d": 3000,
    }
    out = render_draft(draft, tmp_path / "gaps.mp4", quality="low", resolve_media=resolve)
    assert abs(probe(out.path).duration - 3.0) <= 0.05
    first, gap, second = (frame_at(out.path, t) for t in (0.5, 1.5, 2.5))
    assert first.mean() > 40 and second.mean() > 40  # test pattern visible
    assert gap.mean() < 5  # black between the clips


def test_long_still_scene_joins_blocks_frame_exactly(tmp_path: Path, resolve: Callable[[str], Path]) -> None:
    draft = still_draft(12.4, title_at=(10500, 1000))  # 10 s block + units + a remainder, title late
    out = render_draft(draft, tmp_path / "long.mp4", quality="low", resolve_media=resolve)
    assert abs(probe(out.path).duration - 12.4) <= 0.05
    with av.open(str(out.path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == round(12.4 * 30)
    _assert_title_only_inside(out.path, 10.5, 11.5)


@pytest.mark.parametrize(("fmt", "vcodec"), [("gif", "gif"), ("webm", "vp9"), ("mov", "h264")])
def test_clip_drafts_in_other_video_formats(
    tmp_path: Path, resolve: Callable[[str], Path], fmt: str, vcodec: str
) -> None:
    out = render_draft(
        clip_draft(2.0), tmp_path / f"clip.{fmt}", fmt=fmt, quality="low", resolve_media=resolve
    )
    info = probe(out.path)
    assert info.video_codec == vcodec
    assert abs(info.duration - 2.0) <= 0.05
    assert info.has_audio is (fmt != "gif")


def test_picture_among_clips_is_held_for_its_slot(tmp_path: Path, resolve: Callable[[str], Path]) -> None:
    draft = {
        "t": [
            {
                "tt": 0,
                "sg": [
                    {"id": "pic", "s": 0, "d": 1000, "src": "nemo://photo"},
                    {"id": "clip", "s": 1000, "d": 1000, "src": "nemo://clip"},
                ],
            },
        ],
        "d": 2000,
    }
    out = render_draft(draft, tmp_path / "mixed.mp4", quality="low", resolve_media=resolve)
    assert abs(probe(out.path).duration - 2.0) <= 0.05
    picture, clip = frame_at(out.path, 0.5), frame_at(out.path, 1.5)
    red = picture[540, 960].astype(int)
    assert red[0] > 150 and red[1] < 90 and red[2] < 90
    assert np.abs(clip.astype(int) - picture.astype(int)).mean() > 30
