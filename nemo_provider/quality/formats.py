"""What a file of each format must contain, and what each export quality means for video.

Every export format (``nemo_provider.client.constants.EXPORT_FORMATS``, which the client enforces) is
here, a test holds the two together; a few more (flac, ogg, opus) because NemoMediaCheckOperator checks
any media file, not only exports. nemo_local's renderer has its own table of how to make them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FormatSpec:
    """A format's streams: codec names as FFmpeg reports them (any of the tuple is fine)."""

    audio_codecs: tuple[str, ...] | None  # None: no audio stream expected
    video_codecs: tuple[str, ...] | None  # None: no video stream expected


_AAC = ("aac",)
_H264 = ("h264",)
_PCM = ("pcm_s16le", "pcm_s24le", "pcm_f32le", "pcm_s32le")

FORMATS: dict[str, FormatSpec] = {
    "mp4": FormatSpec(_AAC, _H264),
    "mov": FormatSpec(_AAC, _H264),
    "mkv": FormatSpec(("aac", "opus", "mp3", "flac"), ("h264", "hevc", "vp9")),
    "webm": FormatSpec(("opus", "vorbis"), ("vp9", "vp8", "av1")),
    "avi": FormatSpec(("mp3", "mp3float", "aac", "pcm_s16le"), ("h264", "mpeg4")),
    "gif": FormatSpec(None, ("gif",)),
    "mp3": FormatSpec(("mp3", "mp3float"), None),
    "wav": FormatSpec(_PCM, None),
    "flac": FormatSpec(("flac",), None),
    "m4a": FormatSpec(_AAC, None),
    "aac": FormatSpec(_AAC, None),
    "ogg": FormatSpec(("opus", "vorbis"), None),
    "opus": FormatSpec(("opus",), None),
}

#: Export quality -> lines of the short side. Only what the API contract backs: "high" is the service's
#: 1080p. Other qualities are not judged on size (nemo_local sizes video from the timeline, not from
#: the quality, and the real service's other qualities are not published).
VIDEO_LINES: dict[str, int] = {
    "high": 1080,
    "1080p": 1080,
    "hd": 1080,
    "best": 1080,
}

AUDIO_ONLY = frozenset(name for name, spec in FORMATS.items() if spec.video_codecs is None)


def format_spec(fmt: str) -> FormatSpec | None:
    return FORMATS.get((fmt or "").lower().lstrip("."))
