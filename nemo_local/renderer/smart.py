"""Smart rendering: when titles or cuts touch only part of an H.264 clip, re-encode only the groups of
pictures (GOPs) they touch, with the clip's own size and frame rate, and copy every other GOP packet for
packet. A 3 s title over a minute of 1080p costs one GOP's encode, not sixty seconds of it.

The output is a list of spans in output frames: ``copy`` spans are runs of whole source GOPs, each
starting on a clean keyframe (no later packet displays before it), remuxed by PyAV into an MP4 segment
whose first frame is at 0; ``encode`` spans are decoded from the source (frame-accurately), overlaid
with the titles visible in them, and encoded as one closed GOP. The segments are joined by ffmpeg's
concat demuxer with exact ``duration`` directives (frames / fps), which also puts each segment's own
parameter sets in-band (``auto_convert``), so encoded and copied GOPs play as one stream; the audio mix
is encoded beside them and muxed in.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av

from nemo_local.renderer.clips import Piece, title_track
from nemo_local.renderer.export import Export
from nemo_local.renderer.formats import muxer_args, video_codec_args
from nemo_local.renderer.runner import Proc, concat_input
from nemo_local.renderer.timeline import Timeline

if TYPE_CHECKING:
    from nemo_local.renderer.passthrough import VideoIndex

MAX_SPANS = 200  # segments joined in one export (each encode span is one ffmpeg run)


@dataclass(frozen=True)
class Span:
    kind: str  # "copy" | "encode"
    out_start: int  # first output frame
    frames: int
    source: Path
    src_start: int  # first source frame (presentation order)


@dataclass(frozen=True)
class SmartPlan:
    spans: tuple[Span, ...]
    rate: Fraction  # frames per second, exact
    width: int
    height: int
    indexes: dict[Path, VideoIndex]

    @property
    def encoded_frames(self) -> int:
        return sum(s.frames for s in self.spans if s.kind == "encode")

    @property
    def total_frames(self) -> int:
        return sum(s.frames for s in self.spans)

    def describe(self) -> str:
        if self.encoded_frames == 0:
            return (
                f"video passed through ({len(self.spans)} runs of whole GOPs joined by stream copy, "
                f"{self.width}x{self.height} at {float(self.rate):g} fps)"
            )
        copied = self.total_frames - self.encoded_frames
        return (
            f"video smart-rendered: {copied} of {self.total_frames} frames passed through, "
            f"{self.encoded_frames} re-encoded in {sum(s.kind == 'encode' for s in self.spans)} span(s) "
            f"({self.width}x{self.height} at {float(self.rate):g} fps)"
        )


def plan(
    timeline: Timeline,
    pieces: list[Piece],
    indexes: dict[Path, VideoIndex],
    rate: Fraction,
    slack_frames: int = 0,
) -> SmartPlan | str:
    """Spans covering every output frame, or why smart rendering does not apply. The last piece may end
    up to ``slack_frames`` past its clip's last frame (the video then ends there, as in the clip)."""
    total_out = round(timeline.duration * rate)
    titled = [False] * total_out
    for seg in timeline.text:
        for f in range(max(0, round(seg.start * rate)), min(total_out, round(seg.end * rate))):
            titled[f] = True
    spans: list[Span] = []
    short = 0
    for number, piece in enumerate(pieces):
        if piece.path is None:
            return "the video track has gaps"
        index = indexes[piece.path]
        a, b = round(piece.start * rate), min(total_out, round((piece.start + piece.duration) * rate))
        f0 = round(piece.offset * rate)
        n = b - a
        total_src = len(index.pts)
        if f0 + n > total_src:
            if number != len(pieces) - 1 or f0 + n - total_src > slack_frames:
                return "a clip would have to hold its last frame"
            short = f0 + n - total_src
            n -= short
        keys = [i for i, p in enumerate(index.pts) if p in index.clean_keys] + [total_src]
        copy = [False] * n
        for k0, k1 in itertools.pairwise(keys):
            if k0 >= f0 and k1 <= f0 + n and not any(titled[a + k0 - f0 : a + k1 - f0]):
                copy[k0 - f0 : k1 - f0] = [True] * (k1 - k0)
        i = 0
        while i < n:
            j = i
            while j < n and copy[j] == copy[i]:
                j += 1
            spans.append(Span("copy" if copy[i] else "encode", a + i, j - i, piece.path, f0 + i))
            i = j
    if sum(s.frames for s in spans) != total_out - short:
        return "the clips do not cover the timeline frame for frame"
    if len(spans) > MAX_SPANS:
        return f"the timeline would need {len(spans)} segments (more than {MAX_SPANS})"
    if not any(s.kind == "copy" for s in spans):
        return "no group of pictures is left untouched"
    first = indexes[pieces[0].path] if pieces[0].path else None
    assert first is not None
    return SmartPlan(tuple(spans), rate, first.width, first.height, indexes)


def _copy_span(span: Span, index: VideoIndex, out: Path) -> None:
    """Remux the span's packets (whole GOPs) into ``out`` with its first frame at time 0."""
    first_pts = index.pts[span.src_start]
    end = span.src_start + span.frames
    end_pts = index.pts[end] if end < len(index.pts) else None
    with av.open(str(span.source)) as src, av.open(str(out), "w", format="mp4") as dst:
        stream = src.streams.video[0]
        target = dst.add_stream_from_template(stream)
        src.seek(first_pts, stream=stream, backward=True, any_frame=False)
        for packet in src.demux(stream):
            if packet.size == 0 or packet.pts is None:
                continue
            if packet.pts < first_pts or (end_pts is not None and packet.pts >= end_pts):
                if end_pts is not None and packet.dts is not None and packet.dts >= end_pts:
                    break
                continue
            packet.pts -= first_pts
            if packet.dts is not None:
                packet.dts -= first_pts
            packet.stream = target
            dst.mux(packet)


def _encode_args(ex: Export, span: Span, plan_: SmartPlan) -> list[str]:
    index = plan_.indexes[span.source]
    rate = plan_.rate
    start_s = float(index.pts[span.src_start] * index.time_base) - index.container_start
    seek = max(0.0, start_s - 0.25 / float(rate))
    args = ["-ss", f"{seek:.6f}", "-i", str(span.source)]
    window = dataclasses.replace(ex.timeline, width=plan_.width, height=plan_.height)
    t0 = span.out_start / rate
    t1 = (span.out_start + span.frames) / rate
    listing = title_track(
        window, ex.work, ex.jobs.check_cancel, float(t0), float(t1), tag=f"span{span.out_start}"
    )
    graph = f"[0:v]setpts=PTS-STARTPTS,fps={rate},format=yuv420p[v]"
    if listing is not None:
        args += concat_input(listing)
        graph += ";[v][1:v]overlay=x=0:y=0:eof_action=repeat:format=yuv420[v2];[v2]null[vout]"
    else:
        graph += ";[v]null[vout]"
    out = ex.work / f"span_{span.out_start:07d}.mp4"
    return [
        *args,
        "-filter_complex",
        graph,
        "-map",
        "[vout]",
        "-frames:v",
        str(span.frames),
        *video_codec_args("h264", ex.quality, gop=span.frames),
        "-r",
        str(rate),
        "-video_track_timescale",
        str(index.time_base.denominator),
        "-an",
        str(out),
    ]


def render_smart(ex: Export, plan_: SmartPlan, audio: tuple[Proc, Path]) -> None:
    """Encode the touched spans (one ffmpeg at a time, beside the audio encode), remux the others, join."""
    work, jobs, report = ex.work, ex.jobs, ex.report
    _, audio_out = audio
    segments: list[Path] = []
    done = [0]
    encode_total = max(1, plan_.encoded_frames)
    current: list[Proc] = []

    def tick() -> None:
        running = current[0].out_time_s * float(plan_.rate) if current else 0.0
        part = min(1.0, (done[0] + running) / encode_total)
        report(8.0 + 85.0 * part)

    for span in plan_.spans:
        jobs.check_cancel()
        if span.kind == "copy":
            seg = work / f"span_{span.out_start:07d}.mp4"
            _copy_span(span, plan_.indexes[span.source], seg)
        else:
            args = _encode_args(ex, span, plan_)
            seg = Path(args[-1])
            current[:] = [jobs.start("re-encoding the touched pictures", args, progress=True)]
            jobs.wait(tick, only=current)
            current.clear()
            done[0] += span.frames
        segments.append(seg)
    jobs.wait(tick)  # the audio
    lines: list[str] = []
    for span, seg in zip(plan_.spans, segments, strict=True):
        lines += [f"file '{seg.name}'", f"duration {float(Fraction(span.frames) / plan_.rate):.9f}"]
    listing = work / "spans.txt"
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mux = [*concat_input(listing), "-i", str(audio_out), "-map", "0:v", "-map", "1:a", "-c", "copy"]
    mux += [*muxer_args(ex.fmt), "-f", str(ex.fmt.muxer), str(ex.out)]
    jobs.start("joining the video", mux)
    jobs.wait()
    report(99.0)
