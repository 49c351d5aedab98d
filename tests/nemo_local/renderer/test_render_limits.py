"""The renderer refuses oversized work itself (defence in depth behind the API's checks) and keeps the
work it accepts bounded: raw frames on disk do not grow with the number of titles."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from nemo_local.limits import Limits, replace
from nemo_local.media import probe
from nemo_local.renderer import RenderError, render_draft
from nemo_local.renderer.stills import STILL_BATCH

from .helpers import frame_at, png_header_only


def _picture_draft() -> dict[str, Any]:
    return {"t": [{"tt": 0, "sg": [{"id": "pic", "s": 0, "d": 1000, "src": "nemo://pic"}]}], "d": 1000}


@pytest.mark.parametrize("size", [(20000, 20000), (8000, 6000)])
def test_huge_picture_fails_with_the_limit_named(tmp_path: Path, size: tuple[int, int]) -> None:
    pic = png_header_only(tmp_path / "huge.png", *size)
    with pytest.raises(RenderError, match=r"picture of video segment 'pic' is over the limit.*megapixels"):
        render_draft(_picture_draft(), tmp_path / "o.mp4", resolve_media=lambda _: pic)
    assert not list(tmp_path.glob("*.mp4")) and not list(tmp_path.glob(".*partial"))


def test_unreadable_picture_fails_with_a_reason(tmp_path: Path) -> None:
    pic = tmp_path / "broken.png"
    pic.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a picture" * 50)
    with pytest.raises(RenderError, match="cannot read"):
        render_draft(_picture_draft(), tmp_path / "o.mp4", resolve_media=lambda _: pic)


@pytest.mark.parametrize(
    ("draft", "message"),
    [
        ({"t": [{"tt": 7, "sg": [{"s": i, "d": 1, "txt": "x"} for i in range(10_000)]}]}, "draft segments"),
        ({"t": [{"tt": 7, "sg": []}] * 51}, "draft tracks"),
        ({"t": [{"tt": 7, "sg": [{"s": 0, "d": 4_000_000, "txt": "x"}]}]}, "draft duration"),
        ({"t": [{"tt": 7, "sg": [{"s": 0, "d": "Infinity", "txt": "x"}]}]}, "not a finite number"),
        ({"t": [{"tt": 1, "sg": [{"s": 0, "d": 1000, "src": "nemo://a", "v": "loud"}]}]}, "volume"),
        ({"t": [{"tt": 7, "sg": [{"s": 0, "d": 1000, "txt": "x"}]}], "m": {"width": "inf"}}, "width"),
    ],
)
def test_bad_or_oversized_drafts_are_refused_before_any_work(
    tmp_path: Path, draft: dict[str, Any], message: str
) -> None:
    with pytest.raises(RenderError, match=message):
        render_draft(draft, tmp_path / "o.mp4", resolve_media=lambda _: tmp_path / "none")
    assert not list(tmp_path.iterdir())


def _raw_bytes(folder: Path) -> int:
    """Bytes of the raw frames in ``folder`` now; files (or folders) the renderer removes while they are
    being counted are skipped, not an error."""
    try:
        paths = list(folder.rglob("*.yuv"))
    except FileNotFoundError:
        return 0
    total = 0
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            total += path.stat().st_size
    return total


def test_many_titles_keep_raw_frames_bounded(tmp_path: Path, resolve: Callable[[str], Path]) -> None:
    """240 distinct titles over a still picture: at most STILL_BATCH raw frames exist at any moment, and
    every title still shows in its own range."""
    n = 240
    draft = {
        "t": [
            {"tt": 7, "sg": [{"id": f"t{i}", "s": i * 50, "d": 50, "txt": f"line {i}"} for i in range(n)]},
            {"tt": 1, "sg": [{"id": "m", "s": 0, "d": n * 50, "src": "nemo://music"}]},
        ],
        "d": n * 50,
        "m": {"width": 320, "height": 180},
    }
    work = tmp_path / "work"
    most = [0]
    errors: list[BaseException] = []
    done = threading.Event()

    def watch() -> None:
        try:
            while not done.is_set():
                most[0] = max(most[0], _raw_bytes(work))
                done.wait(0.005)
        except BaseException as err:  # a watcher that died would make the bound below vacuous
            errors.append(err)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        out = render_draft(draft, tmp_path / "o.mp4", resolve_media=resolve, work_dir=work, quality="low")
    finally:
        done.set()
        watcher.join()
    assert not errors
    frame_bytes = 320 * 180 * 3 // 2
    assert 0 < most[0] <= STILL_BATCH * frame_bytes
    assert abs(probe(out.path).duration - n * 0.05) < 0.1
    a, b = frame_at(out.path, 1.02), frame_at(out.path, 9.02)  # "line 20" vs "line 180"
    assert abs(a.astype(int) - b.astype(int)).sum() > 0


def test_many_titles_over_a_clip_are_one_input(tmp_path: Path, resolve: Callable[[str], Path]) -> None:
    """Titles over a clip go through one overlay of one concat input, so 150 of them neither open 150
    inputs nor slow the encode by 150 filters; each still shows only in its range."""
    n = 150
    titles = [{"id": f"t{i}", "s": i * 20, "d": 20, "txt": f"{i}"} for i in range(n)]
    titles.append({"id": "late", "s": 3000, "d": 500, "txt": "LATE TITLE"})
    draft = {
        "t": [
            {"tt": 0, "sg": [{"id": "v", "s": 0, "d": 4000, "src": "nemo://clip"}]},
            {"tt": 7, "sg": titles},
        ],
        "d": 4000,
        "m": {"width": 640, "height": 360},
    }
    out = render_draft(draft, tmp_path / "o.mp4", resolve_media=resolve, quality="low")
    assert abs(probe(out.path).duration - 4.0) < 0.1
    region = (slice(int(360 * 0.7), int(360 * 0.9)), slice(int(640 * 0.3), int(640 * 0.7)))
    inside, after = frame_at(out.path, 3.25)[region], frame_at(out.path, 3.75)[region]
    assert abs(inside.astype(float) - after.astype(float)).mean() > 8.0


def test_server_limits_override_the_defaults(tmp_path: Path, resolve: Callable[[str], Path]) -> None:
    small = replace(Limits(), export_seconds=1.0)
    draft = {"t": [{"tt": 1, "sg": [{"s": 0, "d": 2000, "src": "nemo://music"}]}]}
    with pytest.raises(RenderError, match=r"limit 1 s.*--max-export-seconds"):
        render_draft(draft, tmp_path / "o.wav", fmt="wav", resolve_media=resolve, limits=small)
    Image.new("RGB", (4, 4)).save(tmp_path / "ok.png")  # and a picture under the limit renders
    out = render_draft(_picture_draft(), tmp_path / "p.mp4", resolve_media=lambda _: tmp_path / "ok.png")
    assert out.size > 0
