"""Pass-through: when the timeline shows one uploaded H.264 clip unchanged, copy its video stream and
encode only the audio mix, instead of decoding and re-encoding every frame (a 60 s 1080p clip: about a
second instead of half a minute).

The decision is explicit: :func:`decide` returns either a :class:`PassThrough` plan or the reason the
video must be re-encoded, and the renderer logs which ("video passed through" / "re-encoded because …").
A clip passes when nothing about its pictures would change: H.264 4:2:0 8-bit within 1080p, square
pixels, a constant frame rate, the canvas's aspect ratio, no titles over it, shown from its first frame,
and the timeline ends where the clip ends (within a frame) or on a keyframe that no earlier frame needs —
so the copy is frame-exact: ``-frames:v N`` copies the first N packets in decode order, which are exactly
the first N frames when frame N is such a clean keyframe.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from nemo_local.renderer import smart
from nemo_local.renderer.clips import Piece
from nemo_local.renderer.export import Export
from nemo_local.renderer.formats import Format, audio_codec_args, muxer_args
from nemo_local.renderer.mixdown import PCM_INPUT
from nemo_local.renderer.smart import SmartPlan
from nemo_local.renderer.timeline import Timeline

log = logging.getLogger("nemo_local.renderer")
PASS_CONTAINERS = ("mp4", "mov", "matroska")
PASS_PIX_FMTS = ("yuv420p", "yuvj420p")
MAX_LONG_SIDE, MAX_SHORT_SIDE = 1920, 1080
MAX_FPS = 60.0
# A clip's audio often runs a few tens of ms past its last video frame (and the upload's duration is the
# container's): a timeline that long still passes, its video ending where the clip's does, as in the clip.
END_SLACK_S = 0.1


@dataclass(frozen=True)
class VideoIndex:
    """What a stream copy needs to know about a clip's video, from its packets (nothing decoded)."""

    codec: str
    pix_fmt: str | None
    width: int
    height: int
    sar: Fraction | None
    time_base: Fraction
    pts: tuple[int, ...]  # presentation order
    clean_keys: frozenset[int]  # pts of keyframes no later packet (in decode order) displays before
    has_pts: bool
    container_start: float  # the file's start time (s): ffmpeg's -ss counts from there
    rotation: int  # display rotation in degrees (a phone's portrait clip stored landscape)

    @property
    def frame_step(self) -> int | None:
        """The constant pts step between frames, or None for a variable frame rate."""
        steps = {b - a for a, b in zip(self.pts, self.pts[1:], strict=False)}
        if len(steps) == 1:
            return steps.pop()
        if len(steps) == 2 and max(steps) - min(steps) <= 1:  # a rounding tick (e.g. 1001-based rates)
            return round((self.pts[-1] - self.pts[0]) / (len(self.pts) - 1))
        return None

    @property
    def rate(self) -> Fraction | None:
        step = self.frame_step
        return 1 / (step * self.time_base) if step else None

    @property
    def fps(self) -> float | None:
        rate = self.rate
        return float(rate) if rate else None

    def seconds(self, pts: int) -> float:
        return float((pts - self.pts[0]) * self.time_base)


def index_video(path: Path) -> VideoIndex | None:
    """Index the first video stream's packets; None when there is no video or it cannot be read."""
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError):
        return None
    with container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        ctx = stream.codec_context
        decode_order: list[tuple[int | None, bool]] = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                decode_order.append((packet.pts, bool(packet.is_keyframe)))
        except av.error.FFmpegError:
            return None
        has_pts = bool(decode_order) and all(p is not None for p, _ in decode_order)
        clean: set[int] = set()
        if has_pts:
            later_min: int | None = None
            for pts, key in reversed(decode_order):
                assert pts is not None
                if key and (later_min is None or later_min > pts):
                    clean.add(pts)
                later_min = pts if later_min is None else min(later_min, pts)
        sar = stream.sample_aspect_ratio
        rotation = _rotation(path)
        return VideoIndex(
            codec=ctx.name,
            pix_fmt=ctx.pix_fmt,
            width=ctx.width,
            height=ctx.height,
            sar=Fraction(sar) if sar else None,
            time_base=Fraction(stream.time_base or Fraction(1, 1)),
            pts=tuple(sorted(p for p, _ in decode_order if p is not None)),
            clean_keys=frozenset(clean),
            has_pts=has_pts,
            container_start=(container.start_time or 0) / av.time_base,
            rotation=rotation,
        )


def _rotation(path: Path) -> int:
    """The display rotation of the first frame (PyAV shows the display matrix only on frames)."""
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                return int(getattr(frame, "rotation", 0) or 0)
    except (av.error.FFmpegError, OSError):
        pass
    return 0


@dataclass(frozen=True)
class PassThrough:
    """Copy the first ``frames`` frames of ``source``'s video stream."""

    source: Path
    frames: int
    total_frames: int
    fps: float
    width: int
    height: int

    def describe(self) -> str:
        cut = "whole clip" if self.frames == self.total_frames else f"first {self.frames} frames"
        return f"video passed through ({cut}, {self.width}x{self.height} at {self.fps:g} fps)"


def _unfit(index: VideoIndex | None, timeline: Timeline) -> str | None:
    """Why this clip's pictures cannot be copied into the export (None: they can)."""
    if index is None or not index.has_pts or len(index.pts) < 2:
        return "the clip's video packets carry no usable timestamps"
    if index.codec != "h264":
        return f"the clip is {index.codec}, exports carry H.264"
    if index.pix_fmt not in PASS_PIX_FMTS:
        return f"the clip's pixel format {index.pix_fmt} is not 8-bit 4:2:0"
    long_side, short_side = max(index.width, index.height), min(index.width, index.height)
    if long_side > MAX_LONG_SIDE or short_side > MAX_SHORT_SIDE:
        return f"the clip is {index.width}x{index.height}, larger than 1080p"
    if index.rotation % 360:
        return f"the clip is displayed rotated by {index.rotation} degrees"
    if index.sar not in (None, Fraction(0), Fraction(1)):
        return f"the clip has non-square pixels (SAR {index.sar})"
    if (
        abs(index.width * timeline.height - index.height * timeline.width)
        > 0.01 * timeline.width * index.height
    ):
        return (
            f"the clip's {index.width}x{index.height} frame would be letterboxed onto the "
            f"{timeline.width}x{timeline.height} canvas"
        )
    fps = index.fps
    if fps is None:
        return "the clip has a variable frame rate"
    if fps > MAX_FPS:
        return f"the clip runs at {fps:.0f} fps"
    return None


def decide(timeline: Timeline, pieces: list[Piece], fmt: Format) -> PassThrough | SmartPlan | str:
    """A pass-through plan, a smart-rendering plan, or why the video is re-encoded (a sentence ending
    the log line "re-encoded because …"). ``pieces``: the video track laid out (:func:`clips.lay_out`),
    which the re-encode uses too."""
    if fmt.video_codec != "h264" or fmt.muxer not in PASS_CONTAINERS:
        return f"{fmt.name} exports are encoded as {fmt.video_codec or fmt.kind}"
    if any(p.path is None for p in pieces):
        return "the video track has gaps"
    if any(p.is_picture for p in pieces):
        return "the video track shows a picture"
    indexes: dict[Path, VideoIndex] = {}
    for piece in pieces:
        assert piece.path is not None
        if piece.path not in indexes:
            index = index_video(piece.path)
            reason = _unfit(index, timeline)
            if reason is not None:
                return reason
            assert index is not None
            indexes[piece.path] = index
    shapes = {(i.width, i.height, i.rate) for i in indexes.values()}
    if len(shapes) > 1:
        return "the clips differ in size or frame rate"
    first = next(iter(indexes.values()))
    rate = first.rate
    assert rate is not None
    frame = 1.0 / float(rate)
    if len(pieces) == 1 and not timeline.text and pieces[0].offset <= 0.5 * frame:
        source = pieces[0].path
        assert source is not None
        total = len(first.pts)
        clip_end = first.seconds(first.pts[-1]) + frame
        if timeline.duration > clip_end + max(0.5 * frame, END_SLACK_S):
            return "the timeline runs past the clip's end (its last frame would be held)"
        frames = total
        if timeline.duration < clip_end - 0.5 * frame:
            frames = round(timeline.duration * float(rate))
        if frames == total or first.pts[frames] in first.clean_keys:
            return PassThrough(source, frames, total, float(rate), first.width, first.height)
    result = smart.plan(timeline, pieces, indexes, rate, slack_frames=round(END_SLACK_S * float(rate)))
    if isinstance(result, str):
        why = "titles are drawn over the video" if timeline.text else "cuts fall inside groups of pictures"
        return f"{why} and {result}"
    return result


def render_passthrough(
    ex: Export, plan: PassThrough, mix: Callable[[Callable[[bytes], None]], object]
) -> None:
    """One ffmpeg pass: the clip's video packets copied, the mix encoded beside them. ``mix(sink)``
    produces the mix's PCM into ``sink``: it is piped to ffmpeg as it is made, so copying the video and
    encoding the audio start at once instead of after the whole mix was written to disk."""
    args = [
        "-i",
        str(plan.source),
        *PCM_INPUT,
        "-i",
        "pipe:0",
        "-map",
        "0:v:0",
        "-map",
        "1:a:0",
        "-c:v",
        "copy",
    ]
    if plan.frames < plan.total_frames:
        args += ["-frames:v", str(plan.frames)]
    args += [*audio_codec_args(ex.fmt.audio_codec, ex.quality), "-map_metadata", "-1"]
    args += [*muxer_args(ex.fmt), "-f", str(ex.fmt.muxer), str(ex.out)]
    proc = ex.jobs.start("copying the video and encoding the audio", args, progress=True, stdin=True)
    stdin = proc.popen.stdin
    assert stdin is not None

    def feed(data: bytes) -> None:
        stdin.write(data)

    try:
        mix(feed)
    except BrokenPipeError:
        pass  # ffmpeg stopped reading: it failed, and wait() below says why
    finally:
        with contextlib.suppress(BrokenPipeError, OSError):
            stdin.close()
    ex.jobs.wait(lambda: ex.report(5.0 + 93.0 * ex.seconds_done(proc.out_time_s)))
