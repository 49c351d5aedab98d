"""Video from uploaded clips: one ffmpeg pass that trims, fits, joins, titles and encodes.

Pieces are laid end to end on the video track (a later clip starting inside an earlier one cuts it);
gaps become black; pictures among the clips are looped for their duration. Titles are one extra input:
a concat-demuxer list of Pillow-drawn full-canvas RGBA pictures, one per distinct set of visible titles,
each shown for its time range by a single overlay (so a draft's titles cost one input and one filter, not
one of each per title). The audio is the numpy mix (clip sound + music) from a WAV.

Every clip piece is an ffmpeg input with its own decoder, so their number is bounded (MAX_PIECES).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from nemo_local.renderer.errors import RenderError
from nemo_local.renderer.export import Export
from nemo_local.renderer.formats import FPS, audio_codec_args, muxer_args, video_codec_args
from nemo_local.renderer.runner import concat_input
from nemo_local.renderer.timeline import Timeline
from nemo_local.renderer.visuals import TitleOverlays

MAX_PIECES = 100  # clip pieces (ffmpeg inputs, one decoder each) in one export


@dataclass(frozen=True)
class Piece:
    start: float
    duration: float
    path: Path | None  # None: black gap
    offset: float
    is_picture: bool


def lay_out(
    timeline: Timeline,
    resolved: dict[str, Path],
    pictures: set[str],
    durations: dict[str, float] | None = None,
) -> list[Piece]:
    """Sequential pieces covering exactly [0, duration)."""
    durations = durations or {}
    pieces: list[Piece] = []
    cursor = 0.0
    segs = [s for s in timeline.video if s.start < timeline.duration]
    for i, seg in enumerate(segs):
        start = max(seg.start, cursor)
        end = min(seg.end, timeline.duration)
        if i + 1 < len(segs):
            end = min(end, max(segs[i + 1].start, start))
        if end - start < 1.0 / FPS:
            continue
        if start - cursor >= 1.0 / FPS:
            pieces.append(Piece(cursor, start - cursor, None, 0.0, False))
        assert seg.src is not None
        offset = seg.source_offset + (start - seg.start)
        length = durations.get(seg.src, 0.0)
        if length > 0 and offset >= length:  # past the clip's end: show its last moment rather than nothing
            offset = max(0.0, length - 0.5)
        pieces.append(Piece(start, end - start, resolved[seg.src], offset, seg.src in pictures))
        cursor = end
    if timeline.duration - cursor >= 1.0 / FPS:
        pieces.append(Piece(cursor, timeline.duration - cursor, None, 0.0, False))
    return pieces


def _input_args(piece: Piece, width: int, height: int) -> list[str]:
    if piece.path is None:
        return ["-f", "lavfi", "-i", f"color=c=black:s={width}x{height}:r={FPS}:d={piece.duration:.3f}"]
    if piece.is_picture:
        return ["-loop", "1", "-framerate", str(FPS), "-t", f"{piece.duration:.3f}", "-i", str(piece.path)]
    args = ["-t", f"{piece.duration:.3f}"]
    if piece.offset > 0:
        args = ["-ss", f"{piece.offset:.3f}", *args]
    return [*args, "-i", str(piece.path)]


def build_graph(timeline: Timeline, pieces: list[Piece], title_input: int | None, out_label: str) -> str:
    w, h = timeline.width, timeline.height
    parts: list[str] = []
    for i, piece in enumerate(pieces):
        # a clip shorter than its slot holds its last frame (tpad) so the timeline never shrinks
        parts.append(
            f"[{i}:v]scale={w}:{h}:force_original_aspect_ratio=decrease,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,"
            f"setsar=1,fps={FPS},format=yuv420p,tpad=stop_mode=clone:stop_duration={piece.duration:.3f},"
            f"trim=duration={piece.duration:.3f},setpts=PTS-STARTPTS[p{i}]"
        )
    joined = "".join(f"[p{i}]" for i in range(len(pieces)))
    label = "base"
    parts.append(f"{joined}concat=n={len(pieces)}:v=1:a=0[{label}]")
    if title_input is not None:
        parts.append(f"[{label}][{title_input}:v]overlay=x=0:y=0:eof_action=repeat:format=yuv420[titled]")
        label = "titled"
    parts.append(f"[{label}]null[{out_label}]")
    return ";".join(parts)


def title_track(
    timeline: Timeline,
    work: Path,
    check_cancel: Callable[[], None],
    t0: float = 0.0,
    t1: float | None = None,
    tag: str = "titles",
) -> Path | None:
    """A concat-demuxer listing of full-canvas RGBA pictures: the visible titles over [t0, t1) (whole
    timeline by default), transparent where none shows, starting at 0. One picture per distinct set of
    titles; None when no title shows in the window."""
    end = timeline.duration if t1 is None else t1
    inside = [seg for seg in timeline.text if seg.start < end and seg.end > t0]
    if not inside:
        return None
    cuts = {t0, end}
    for seg in inside:
        cuts.update(t for t in (seg.start, seg.end) if t0 < t < end)
    edges = sorted(cuts)
    spans: list[tuple[float, tuple[int, ...]]] = []  # (duration, indices of the visible titles)
    for a, b in itertools.pairwise(edges):
        mid = (a + b) / 2
        visible = tuple(i for i, seg in enumerate(inside) if seg.start <= mid < seg.end)
        if spans and spans[-1][1] == visible:
            spans[-1] = (spans[-1][0] + (b - a), visible)
        else:
            spans.append((b - a, visible))
    overlays = TitleOverlays(inside, timeline.width, timeline.height, check_cancel)  # keyed by position
    pictures: dict[tuple[int, ...], Path] = {}
    lines: list[str] = []
    for duration, visible in spans:
        if visible not in pictures:
            check_cancel()
            layer = Image.new("RGBA", (timeline.width, timeline.height), (0, 0, 0, 0))
            for img, x, y in overlays.visible([str(i) for i in visible]):
                layer.alpha_composite(img, (x, y))
            pictures[visible] = work / f"{tag}_{len(pictures):04d}.png"
            layer.save(pictures[visible], compress_level=1)
        lines += [f"file '{pictures[visible].name}'", f"duration {duration:.6f}"]
    lines.append(f"file '{pictures[spans[-1][1]].name}'")  # the concat demuxer needs the last file repeated
    listing = work / f"{tag}.txt"
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return listing


def render_clips(ex: Export, pieces: list[Piece], audio_wav: Path) -> None:
    """Write the export (a video format or GIF) from the clips laid out as ``pieces`` (:func:`lay_out`),
    the titles and the mixed audio."""
    timeline, fmt, quality, work, jobs = ex.timeline, ex.fmt, ex.quality, ex.work, ex.jobs
    if len(pieces) > MAX_PIECES:
        raise RenderError(
            f"the video track cuts into {len(pieces)} pieces (clips and gaps); one export takes at most "
            f"{MAX_PIECES}: join clips or remove cuts"
        )
    args: list[str] = []
    for piece in pieces:
        args += _input_args(piece, timeline.width, timeline.height)
    listing = title_track(timeline, work, jobs.check_cancel)
    title_input: int | None = None
    if listing is not None:
        title_input = len(pieces)
        args += concat_input(listing)
    audio_index = len(pieces) + (1 if listing is not None else 0)
    args += ["-i", str(audio_wav)]
    graph = build_graph(timeline, pieces, title_input, "vout")
    if fmt.kind == "gif":
        width = quality.gif_frame_width(timeline.width, timeline.height)
        graph = graph.replace(
            "null[vout]",
            f"fps={quality.gif_fps},scale={width}:-2:flags=lanczos,split[ga][gb];"
            "[ga]palettegen=stats_mode=diff[gp];[gb][gp]paletteuse=dither=bayer:bayer_scale=4[vout]",
        )
        args += [
            "-filter_complex",
            graph,
            "-map",
            "[vout]",
            "-t",
            f"{timeline.duration:.3f}",
            "-f",
            "gif",
            str(ex.out),
        ]
    else:
        args += [
            "-filter_complex",
            graph,
            "-map",
            "[vout]",
            "-map",
            f"{audio_index}:a",
            *video_codec_args(fmt.video_codec, quality, gop=2 * FPS),
            "-r",
            str(FPS),
            *audio_codec_args(fmt.audio_codec, quality),
            "-t",
            f"{timeline.duration:.3f}",
        ]
        args += [*muxer_args(fmt), "-f", str(fmt.muxer), str(ex.out)]
    proc = jobs.start("encoding the video", args, progress=True)
    jobs.wait(lambda: ex.report(5.0 + 93.0 * ex.seconds_done(proc.out_time_s)))
