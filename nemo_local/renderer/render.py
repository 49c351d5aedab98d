"""render_draft(): the one entry point. Chooses the pipeline (audio only, still pictures, clips), owns the
temporary directory, reports monotonic progress, and publishes the output atomically."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from nemo_local.limits import LimitExceeded, Limits, check_pixels
from nemo_local.media import ProbeError, probe
from nemo_local.media.pictures import header_size
from nemo_local.renderer import mixdown, passthrough, smart
from nemo_local.renderer.clips import lay_out, render_clips
from nemo_local.renderer.errors import RenderError
from nemo_local.renderer.export import Export
from nemo_local.renderer.formats import FPS, Format, Quality, audio_codec_args, get_format, get_quality
from nemo_local.renderer.runner import Jobs, StdinFeed
from nemo_local.renderer.stills import render_gif_from_stills, render_stills, start_audio
from nemo_local.renderer.timeline import Timeline, parse_draft
from nemo_local.renderer.visuals import cover_card, fit_picture

log = logging.getLogger("nemo_local.renderer")
_PICTURE_CODECS = {"png", "mjpeg", "jpeg", "webp", "bmp", "tiff"}
COVER_ID = "cover"
STILL_VIDEO = "still pictures encoded once and repeated by stream copy"


@dataclass(frozen=True)
class RenderOutput:
    path: Path
    size: int
    duration_s: float
    width: int | None
    height: int | None
    video: str = ""  # how the video was made: "video passed through (…)", "re-encoded because …", …


class _Progress:
    """Monotonic 0-100 reporting; never lets a failing callback break the render."""

    def __init__(self, callback: Callable[[float], None] | None) -> None:
        self.callback = callback
        self.value = 0.0
        self.started = False

    def __call__(self, value: float) -> None:
        value = max(self.value, min(100.0, float(value)))
        if self.callback is None or (self.started and value - self.value < 0.5 and value < 100.0):
            return
        if self.started and value == self.value == 100.0:
            return
        self.started = True
        self.value = value
        with contextlib.suppress(Exception):  # progress display must not fail a render
            self.callback(round(value, 1))


def _resolve_all(timeline: Timeline, resolve_media: Callable[[str], Path]) -> dict[str, Path]:
    resolved: dict[str, Path] = {}
    for seg in (*timeline.video, *timeline.audio):
        assert seg.src is not None
        if seg.src in resolved:
            continue
        try:
            path = Path(resolve_media(seg.src))
        except Exception as exc:  # whatever the resolver raises, the render fails with a readable reason
            raise RenderError(f"media for segment {seg.id!r} is not available: {exc}") from exc
        if not path.is_file():
            raise RenderError(f"media for segment {seg.id!r} is not available")
        resolved[seg.src] = path
    return resolved


def _check_pixels(seg_id: str, what: str, width: int, height: int, limits: Limits) -> None:
    """The limit's rule (limits.check_pixels) as a render failure, for a picture's header and a clip's frame."""
    try:
        check_pixels(width, height, f"{what} of video segment {seg_id!r}", limits)
    except LimitExceeded as exc:
        raise RenderError(str(exc)) from exc


def _pictures_among(
    timeline: Timeline, resolved: dict[str, Path], limits: Limits
) -> tuple[set[str], bool, dict[str, float]]:
    """(srcs that are still pictures, whether any video segment is a moving clip, clip durations).

    A picture's pixel count is read from its header before anything decodes it: a 20000x20000 PNG would
    take 1.6 GB to decode, so it fails here with the limit named, as it does at upload."""
    pictures: set[str] = set()
    durations: dict[str, float] = {}
    moving = False
    for seg in timeline.video:
        assert seg.src is not None
        size = header_size(resolved[seg.src])  # None: not a picture Pillow reads (a clip)
        if size is not None:
            _check_pixels(seg.id, "picture", *size, limits)
        try:
            info = probe(resolved[seg.src])
        except ProbeError as exc:
            raise RenderError(str(exc)) from exc
        if not info.has_video:
            raise RenderError(f"video segment {seg.id!r} has no picture in it")
        if info.width and info.height:
            _check_pixels(seg.id, "frame size", info.width, info.height, limits)
        if info.video_codec in _PICTURE_CODECS and (
            info.format_name.endswith("_pipe") or info.format_name == "image2"
        ):
            pictures.add(seg.src)
        else:
            moving = True
            durations[seg.src] = info.duration
    return pictures, moving, durations


class _Pictures(Mapping[str, Image.Image]):
    """The still pictures of a draft fitted to the canvas when first needed, the last few kept: fitting
    every distinct picture up front held 6 MB of each (500 pictures, 3 GB) and ignored cancel meanwhile."""

    KEEP = 16

    def __init__(self, cover: Image.Image, resolved: Mapping[str, Path], width: int, height: int) -> None:
        self._cover, self._resolved, self._size = cover, resolved, (width, height)
        self._kept: OrderedDict[str, Image.Image] = OrderedDict()

    def __getitem__(self, key: str) -> Image.Image:
        if key == COVER_ID:
            return self._cover
        if key in self._kept:
            self._kept.move_to_end(key)
            return self._kept[key]
        picture = fit_picture(self._resolved[key], *self._size)
        self._kept[key] = picture
        while len(self._kept) > self.KEEP:
            self._kept.popitem(last=False)
        return picture

    def __iter__(self) -> Iterator[str]:
        return iter([COVER_ID, *self._resolved])

    def __len__(self) -> int:
        return 1 + len(self._resolved)


def _encode_audio(ex: Export, wav: Path) -> None:
    if wav == ex.out:  # a WAV export is the mix itself
        return
    fmt = ex.fmt
    args = ["-i", str(wav), *audio_codec_args(fmt.audio_codec, ex.quality), "-f", str(fmt.muxer), str(ex.out)]
    proc = ex.jobs.start("encoding the audio", args, progress=True)
    ex.jobs.wait(lambda: ex.report(30.0 + 68.0 * ex.seconds_done(proc.out_time_s)))


def _render_still(
    ex: Export,
    resolved: dict[str, Path],
    pictures: set[str],
    mix_into: Callable[[Callable[[bytes], None]], np.ndarray],
) -> None:
    """Video from the cover card and still pictures. The audio encoder starts before the mix and takes
    its PCM as it is made (the mix runs ahead of it: see StdinFeed), so the audio, usually the longest
    step, is done soon after the pictures; a GIF only needs the mix's peaks for its cover."""
    timeline = ex.timeline
    audio = start_audio(ex) if ex.fmt.kind != "gif" else None
    if audio is None:
        peaks = mix_into(lambda _: None)
    else:
        with StdinFeed(audio[0]) as feed:
            peaks = mix_into(feed.put)
    ex.report(5.0)
    cover = cover_card(timeline.width, timeline.height, timeline.title, peaks)
    only = {src: resolved[src] for src in pictures}
    bases = _Pictures(cover, only, timeline.width, timeline.height)

    def base_at(t: float) -> str:
        for seg in reversed(timeline.video):
            if seg.start <= t < seg.end:
                assert seg.src is not None
                return seg.src
        return COVER_ID

    if audio is None:
        render_gif_from_stills(ex, bases, base_at)
    else:
        render_stills(ex, bases, base_at, audio)


def _make(ex: Export, resolved: dict[str, Path], limits: Limits, cancel: threading.Event | None) -> str:
    """Run the pipeline the draft needs; returns how the video was made (logged, and in RenderOutput)."""
    timeline, spec, name = ex.timeline, ex.fmt, ex.out.name.removeprefix(".").removesuffix(".partial")

    def mix_into(sink: Callable[[bytes], None]) -> np.ndarray:
        return mixdown.mix_to_sink(
            timeline, sink, lambda src: resolved[src], cancel, lambda f: ex.report(5.0 * f)
        )

    if spec.kind == "audio":
        wav = ex.out if spec.audio_codec == "pcm" else ex.work / "mix.wav"
        mixdown.mix_to_wav(timeline, wav, lambda src: resolved[src], cancel, lambda f: ex.report(5.0 * f))
        ex.report(5.0)
        _encode_audio(ex, wav)
        return ""
    pictures, moving, durations = _pictures_among(timeline, resolved, limits)
    if not moving:
        log.info("export %s: video from %s", name, STILL_VIDEO)
        _render_still(ex, resolved, pictures, mix_into)
        return STILL_VIDEO
    pieces = lay_out(timeline, resolved, pictures, durations)  # once: the plan and the re-encode share it
    plan = passthrough.decide(timeline, pieces, spec)
    if isinstance(plan, passthrough.PassThrough):  # the mix is piped straight into the encoder
        log.info("export %s: %s", name, plan.describe())
        passthrough.render_passthrough(ex, plan, mix_into)
        return plan.describe()
    wav = ex.work / "mix.wav"
    mixdown.mix_to_wav(timeline, wav, lambda src: resolved[src], cancel, lambda f: ex.report(5.0 * f))
    ex.report(5.0)
    if isinstance(plan, smart.SmartPlan):
        log.info("export %s: %s", name, plan.describe())
        smart.render_smart(ex, plan, start_audio(ex, wav))
        return plan.describe()
    video = f"re-encoded because {plan}"
    log.info("export %s: video %s", name, video)
    render_clips(ex, pieces, wav)
    return video


def _long_enough(timeline: Timeline, spec: Format, preset: Quality) -> None:
    """A video export needs one whole frame: shorter ones once failed deep inside a pipeline (an
    'internal error', or ffmpeg's message with the server's paths in it)."""
    if spec.kind == "audio":
        return
    fps = preset.gif_fps if spec.kind == "gif" else FPS
    if timeline.duration * fps < 1:
        raise RenderError(
            f"the export is {timeline.duration * 1000:g} ms long, shorter than one video frame "
            f"({1000 / fps:.1f} ms); make it longer or export audio"
        )


def render_draft(
    draft: Mapping[str, Any],
    out_path: Path,
    *,
    fmt: str = "mp4",
    quality: str = "high",
    resolve_media: Callable[[str], Path],
    progress: Callable[[float], None] | None = None,
    cancel: threading.Event | None = None,
    work_dir: Path | None = None,
    limits: Limits | None = None,
) -> RenderOutput:
    """Render ``draft`` to ``out_path``; raises RenderError (bad draft, media, ffmpeg) or RenderCancelled.

    ``limits`` defaults to ``Limits.from_env()``; the server passes the ones it was started with."""
    out_path = Path(out_path)
    spec = get_format(fmt)
    preset = get_quality(quality)
    limits = limits or Limits.from_env()
    timeline = parse_draft(draft, limits)
    _long_enough(timeline, spec, preset)
    report = _Progress(progress)
    report(0.0)
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="render-", dir=work_dir))
    partial = out_path.with_name(f".{out_path.name}.partial")
    jobs = Jobs(cancel)
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        resolved = _resolve_all(timeline, resolve_media)
        jobs.check_cancel()
        video_path = _make(
            Export(timeline, partial, spec, preset, work, jobs, report), resolved, limits, cancel
        )
        jobs.check_cancel()
        os.replace(partial, out_path)
    except BaseException:  # cancelled, failed or interrupted: no ffmpeg left running, no partial file left
        jobs.kill_all()
        partial.unlink(missing_ok=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    try:
        info = probe(out_path)
        duration = info.duration
        width, height = info.width, info.height
    except ProbeError:
        duration, width, height = timeline.duration, None, None
    if spec.kind == "audio":
        width = height = None
    report(100.0)
    return RenderOutput(
        path=out_path,
        size=out_path.stat().st_size,
        duration_s=duration,
        width=width,
        height=height,
        video=video_path,
    )
