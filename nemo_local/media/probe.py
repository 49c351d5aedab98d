"""Describe a media file with PyAV (the ffmpeg wheel ships no ffprobe).

Raw ADTS ``.aac`` files carry no duration and bitrate-based estimates are wrong by several percent, so for
those (and any container without a usable duration) the audio packets are counted instead.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

import av


class ProbeError(ValueError):
    """The file is not a media file PyAV can open."""


@dataclass(frozen=True)
class MediaInfo:
    """What the renderer and the upload endpoint need to know about a file."""

    duration: float
    width: int | None
    height: int | None
    fps: float | None
    has_video: bool
    has_audio: bool
    video_codec: str | None
    audio_codec: str | None
    format_name: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _stream_duration(stream: av.stream.Stream) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return None


def _counted_duration(path: str, want_audio: bool) -> float:
    """Duration from the packets themselves: last pts + its duration of the first audio (or video) stream."""
    with av.open(path) as container:
        streams = container.streams.audio if want_audio else container.streams.video
        if not streams:
            return 0.0
        stream = streams[0]
        tb = stream.time_base or Fraction(1, 1)
        end = 0.0
        total = 0.0
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            dur = float(packet.duration * tb) if packet.duration else 0.0
            total += dur
            if packet.pts is not None:
                end = max(end, float(packet.pts * tb) + dur)
        return max(end, total)


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Streams, codecs, size, frame rate and duration of ``path``; raises ProbeError when unreadable."""
    spath = os.fspath(path)
    try:
        container = av.open(spath)
    except (av.error.FFmpegError, OSError) as exc:
        raise ProbeError(f"cannot read media file {os.path.basename(spath)!r}: {exc}") from exc
    with container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        fmt = container.format.name
        duration: float | None = None
        if container.duration is not None:
            duration = container.duration / av.time_base
        if duration is None or duration <= 0:
            candidates = [d for d in (_stream_duration(s) for s in (video, audio) if s) if d]
            duration = max(candidates) if candidates else None
        width = height = None
        fps: float | None = None
        vcodec = acodec = None
        if video is not None:
            width = video.codec_context.width or None
            height = video.codec_context.height or None
            rate = video.average_rate or video.guessed_rate
            fps = float(rate) if rate else None
            vcodec = video.codec_context.name
        if audio is not None:
            acodec = audio.codec_context.name
    still_image = fmt in {"image2", "png_pipe", "jpeg_pipe", "webp_pipe", "bmp_pipe"}
    if fmt == "aac" or (duration is None and not still_image):
        duration = _counted_duration(spath, want_audio=audio is not None)
    return MediaInfo(
        duration=float(duration or 0.0),
        width=width,
        height=height,
        fps=fps,
        has_video=video is not None,
        has_audio=audio is not None,
        video_codec=vcodec,
        audio_codec=acodec,
        format_name=fmt,
    )
