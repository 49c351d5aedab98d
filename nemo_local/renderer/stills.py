"""Video from still pictures (cover card, uploaded images, titles) without encoding every frame.

The timeline is cut into scenes (ranges with the same picture and the same titles). Each distinct
picture is encoded once as a 1 s closed-GOP unit (plus one short remainder segment per scene), and the
units are repeated by packet copy (:mod:`~nemo_local.renderer.joiner`) together with the audio, which is
encoded in parallel from the moment the mix starts. A minute of 1080p costs a few segment encodes
instead of 1800 frame encodes.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from nemo_local.renderer import joiner
from nemo_local.renderer.errors import RenderError
from nemo_local.renderer.export import Export
from nemo_local.renderer.formats import FPS, Format, audio_codec_args, video_codec_args
from nemo_local.renderer.mixdown import PCM_INPUT
from nemo_local.renderer.runner import Proc, concat_input
from nemo_local.renderer.timeline import Timeline
from nemo_local.renderer.visuals import TitleOverlays, compose_frame

# 1 s closed-GOP units: x264 still analyses every repeated frame (~10-15 ms at 1080p), so the unit is kept
# short; a keyframe per second of a flat picture costs only a few kB.
UNIT_FRAMES = FPS
STILL_BATCH = 16  # distinct pictures drawn (as raw frames) and encoded at a time


_Y_LUT = [round(16 + v * 219 / 255) for v in range(256)]
_C_LUT = [round(16 + v * 224 / 255) for v in range(256)]


def yuv420p_bytes(img: Image.Image) -> bytes:
    """Planar BT.601 limited-range YUV 4:2:0: ffmpeg reads it without decoding or scaling anything.

    Pillow's YCbCr conversion is the same BT.601 matrix in full range; lookup tables bring it to the
    limited range and a 2x2 box reduction subsamples the chroma, all in C (~10x quicker than numpy)."""
    y, cb, cr = img.convert("RGB").convert("YCbCr").split()
    planes = [y.point(_Y_LUT), cb.reduce(2).point(_C_LUT), cr.reduce(2).point(_C_LUT)]
    return b"".join(p.tobytes() for p in planes)


@dataclass(frozen=True)
class Scene:
    start_frame: int
    frames: int
    key: tuple[str, tuple[str, ...]]  # (base picture id, active title ids)


def frame_of(t: float) -> int:
    return round(t * FPS)


def plan_scenes(timeline: Timeline, base_at: Callable[[float], str]) -> list[Scene]:
    """Cut [0, duration) where the picture or the set of visible titles changes; merge equal neighbours."""
    total = frame_of(timeline.duration)
    cuts = {0, total}
    for seg in (*timeline.video, *timeline.text):
        for t in (seg.start, seg.end):
            f = frame_of(t)
            if 0 < f < total:
                cuts.add(f)
    if total <= 0:  # render_draft refuses such exports first
        raise RenderError("the export is shorter than one video frame; make it longer")
    edges = sorted(cuts)
    scenes: list[Scene] = []
    for a, b in itertools.pairwise(edges):
        mid = (a + b) / 2 / FPS
        # by position in timeline.text (TitleOverlays' keys): ids a client typed, or two title tracks'
        # default ids, need not be unique
        titles = tuple(str(i) for i, s in enumerate(timeline.text) if s.start <= mid < s.end)
        key = (base_at(mid), titles)
        if scenes and scenes[-1].key == key:
            last = scenes[-1]
            scenes[-1] = Scene(last.start_frame, last.frames + (b - a), key)
        else:
            scenes.append(Scene(a, b - a, key))
    return scenes


def _segment_ext(fmt: Format) -> str:
    """A segment container whose packets the export's muxer takes as they are: AVI wants H.264 with
    start codes (MP4 segments carry length-prefixed NAL units), WebM wants VP9 from WebM."""
    if fmt.video_codec == "vp9":
        return ".webm"
    return ".avi" if fmt.muxer == "avi" else ".mp4"


def start_audio(ex: Export, audio_wav: Path | None = None) -> tuple[Proc, Path]:
    """Start encoding the mix at once: it runs on the second core while the pictures are drawn and
    encoded, and is usually the longest single step of a still export. ``audio_wav`` None: the mix's
    PCM comes on the process's stdin (see :class:`~nemo_local.renderer.runner.StdinFeed`) as it is made."""
    audio_ext = {"aac": ".m4a", "opus": ".ogg", "mp3": ".mp3"}.get(ex.fmt.audio_codec or "", ".mka")
    audio_out = ex.work / f"audio{audio_ext}"
    source = ["-i", str(audio_wav)] if audio_wav is not None else [*PCM_INPUT, "-i", "pipe:0"]
    proc = ex.jobs.start(
        "encoding the audio",
        [*source, *audio_codec_args(ex.fmt.audio_codec, ex.quality), str(audio_out)],
        progress=True,
        stdin=audio_wav is None,
    )
    return proc, audio_out


def render_stills(
    ex: Export, bases: Mapping[str, Image.Image], base_at: Callable[[float], str], audio: tuple[Proc, Path]
) -> None:
    """Write the export (a video format) from pictures + titles + the mixed audio, whose encode
    ``audio`` (from :func:`start_audio`) is already running."""
    timeline, fmt, quality, work, jobs, report = ex.timeline, ex.fmt, ex.quality, ex.work, ex.jobs, ex.report
    audio_proc, audio_out = audio
    scenes = plan_scenes(timeline, base_at)
    overlays = TitleOverlays(timeline.text, timeline.width, timeline.height, jobs.check_cancel)
    jobs.check_cancel()

    needed: dict[tuple[tuple[str, tuple[str, ...]], int], Path] = {}
    for scene in scenes:
        q, r = divmod(scene.frames, UNIT_FRAMES)
        for count in ([UNIT_FRAMES] if q else []) + ([r] if r else []):
            needed.setdefault((scene.key, count), work / f"seg_{len(needed):04d}{_segment_ext(fmt)}")
    total_encoded = sum(count for (_, count) in needed) / FPS
    encoded = [0.0]  # seconds of segments finished in earlier batches
    current: list[Proc] = []

    def tick() -> None:
        running = current[0].out_time_s if current else 0.0
        video_part = min(1.0, (encoded[0] + running) / max(total_encoded, 1e-3))
        audio_part = ex.seconds_done(audio_proc.out_time_s)
        report(8.0 + 80.0 * (0.5 * video_part + 0.5 * audio_part))

    # Distinct pictures are drawn and encoded a batch at a time and their raw frames deleted after, so
    # the disk holds at most STILL_BATCH raw frames however many scenes (titles) the draft has.
    keys = list(dict.fromkeys(scene.key for scene in scenes))
    for first in range(0, len(keys), STILL_BATCH):
        batch = keys[first : first + STILL_BATCH]
        raw: dict[tuple[str, tuple[str, ...]], Path] = {}
        for key in batch:
            jobs.check_cancel()
            base_id, title_ids = key
            frame = compose_frame(bases[base_id], overlays.visible(title_ids))
            name = hashlib.sha256(repr(key).encode()).hexdigest()[:12]
            raw[key] = work / f"pic_{name}.yuv"
            raw[key].write_bytes(yuv420p_bytes(frame))
        inputs: list[str] = []
        outputs: list[str] = []
        input_index: dict[tuple[str, tuple[str, ...]], int] = {}
        batch_seconds = 0.0
        for (key, count), seg_path in needed.items():
            if key not in raw:
                continue
            if key not in input_index:
                input_index[key] = len(input_index)
                inputs += [
                    "-f",
                    "rawvideo",
                    "-pix_fmt",
                    "yuv420p",
                    "-s",
                    f"{timeline.width}x{timeline.height}",
                    "-framerate",
                    str(FPS),
                    "-stream_loop",
                    "-1",
                    "-i",
                    str(raw[key]),
                ]
            outputs += [
                "-map",
                f"{input_index[key]}:v",
                "-frames:v",
                str(count),
                *video_codec_args(fmt.video_codec, quality, gop=UNIT_FRAMES, still=True),
                "-r",
                str(FPS),
                "-an",
                str(seg_path),
            ]
            batch_seconds += count / FPS
        current[:] = [jobs.start("encoding the picture segments", [*inputs, *outputs], progress=True)]
        jobs.wait(tick, only=current)  # the audio keeps encoding meanwhile
        current.clear()
        encoded[0] += batch_seconds
        for path in raw.values():
            path.unlink(missing_ok=True)

    jobs.wait(tick)  # the audio
    report(88.0)
    entries: list[tuple[Path, int]] = []
    for scene in scenes:
        q, r = divmod(scene.frames, UNIT_FRAMES)
        if q:
            entries += [(needed[(scene.key, UNIT_FRAMES)], UNIT_FRAMES)] * q
        if r:
            entries.append((needed[(scene.key, r)], r))
    jobs.check_cancel()
    joiner.join(entries, FPS, audio_out, ex.out, ex.fmt, timeline.duration, jobs.check_cancel)
    report(99.0)


def render_gif_from_stills(
    ex: Export, bases: Mapping[str, Image.Image], base_at: Callable[[float], str]
) -> None:
    """An animated GIF of the scenes: each picture decoded once (concat of images with durations)."""
    timeline, quality, work, jobs = ex.timeline, ex.quality, ex.work, ex.jobs
    scenes = plan_scenes(timeline, base_at)
    overlays = TitleOverlays(timeline.text, timeline.width, timeline.height, jobs.check_cancel)
    width = quality.gif_frame_width(timeline.width, timeline.height)
    height = max(2, round(timeline.height * width / timeline.width / 2) * 2)
    lines: list[str] = []
    made: dict[tuple[str, tuple[str, ...]], Path] = {}
    for scene in scenes:
        if scene.key not in made:
            base_id, title_ids = scene.key
            path = work / f"gif_{len(made):03d}.png"
            frame = compose_frame(bases[base_id], overlays.visible(title_ids))
            # scaled once here rather than once per GIF frame inside ffmpeg
            frame.resize((width, height), Image.Resampling.LANCZOS).save(path, compress_level=1)
            made[scene.key] = path
        lines += [f"file '{made[scene.key].name}'", f"duration {scene.frames / FPS:.4f}"]
    lines.append(f"file '{made[scenes[-1].key].name}'")  # the concat demuxer needs the last file repeated
    listing = work / "gif.txt"
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ex.report(20.0)
    graph = (
        f"fps={quality.gif_fps},split[a][b];"
        "[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer:bayer_scale=4"
    )
    proc = jobs.start(
        "encoding the GIF",
        [
            *concat_input(listing),
            "-filter_complex",
            graph,
            "-t",
            f"{timeline.duration:.3f}",
            "-f",
            "gif",
            str(ex.out),
        ],
        progress=True,
    )
    jobs.wait(lambda: ex.report(20.0 + 78.0 * ex.seconds_done(proc.out_time_s)))
