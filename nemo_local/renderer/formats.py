"""Output formats and quality presets: container, codecs and encoder settings in one table."""

from __future__ import annotations

from dataclasses import dataclass

from nemo_local.renderer.errors import RenderError

FPS = 30  # the frame rate of every picture the renderer draws or re-times (clips, stills, titles)
# containers whose index goes first so that playback starts before the download ends
FASTSTART_MUXERS = ("mp4", "mov")


@dataclass(frozen=True)
class Quality:
    crf: int  # x264 constant rate factor
    preset: str  # x264 speed preset
    vp9_crf: int
    audio_kbps: int
    gif_width: int
    gif_fps: int

    def gif_frame_width(self, width: int, height: int) -> int:
        """A GIF's width for a ``width`` x ``height`` canvas: portrait GIFs are narrower (9:16)."""
        return self.gif_width if width >= height else self.gif_width * 9 // 16


QUALITIES: dict[str, Quality] = {
    "low": Quality(crf=28, preset="ultrafast", vp9_crf=42, audio_kbps=128, gif_width=480, gif_fps=10),
    "medium": Quality(crf=23, preset="veryfast", vp9_crf=36, audio_kbps=160, gif_width=640, gif_fps=12),
    "high": Quality(crf=20, preset="veryfast", vp9_crf=31, audio_kbps=192, gif_width=720, gif_fps=15),
}
QUALITY_ALIASES = {
    "draft": "low",
    "preview": "low",
    "standard": "medium",
    "normal": "medium",
    "best": "high",
    "hd": "high",
    "1080p": "high",
    "720p": "medium",
    "480p": "low",
}


@dataclass(frozen=True)
class Format:
    name: str
    kind: str  # video | audio | gif
    video_codec: str | None  # h264 | vp9
    audio_codec: str | None  # aac | opus | mp3 | pcm | None
    muxer: str | None  # ffmpeg -f value


FORMATS: dict[str, Format] = {
    "mp4": Format("mp4", "video", "h264", "aac", "mp4"),
    "mov": Format("mov", "video", "h264", "aac", "mov"),
    "webm": Format("webm", "video", "vp9", "opus", "webm"),
    "mkv": Format("mkv", "video", "h264", "aac", "matroska"),
    "avi": Format("avi", "video", "h264", "mp3", "avi"),
    "gif": Format("gif", "gif", None, None, "gif"),
    "mp3": Format("mp3", "audio", None, "mp3", "mp3"),
    "wav": Format("wav", "audio", None, "pcm", "wav"),
    "m4a": Format("m4a", "audio", None, "aac", "ipod"),
    "aac": Format("aac", "audio", None, "aac", "adts"),
}


def muxer_args(fmt: Format) -> list[str]:
    """ffmpeg's output options for ``fmt``'s container: the index first where the container has one."""
    return ["-movflags", "+faststart"] if fmt.muxer in FASTSTART_MUXERS else []


def get_format(name: str) -> Format:
    fmt = FORMATS.get((name or "mp4").lower().lstrip("."))
    if fmt is None:
        raise RenderError(f"unsupported export format {name!r}; use one of {', '.join(FORMATS)}")
    return fmt


def get_quality(name: str) -> Quality:
    key = (name or "high").lower()
    key = QUALITY_ALIASES.get(key, key)
    quality = QUALITIES.get(key)
    if quality is None:
        raise RenderError(f"unknown quality {name!r}; use one of {', '.join(QUALITIES)}")
    return quality


def audio_codec_args(codec: str | None, quality: Quality) -> list[str]:
    if codec == "aac":
        # the "fast" coder is ~3.5x quicker than the default two-loop search, inaudibly so at >= 128 kb/s
        return ["-c:a", "aac", "-aac_coder", "fast", "-b:a", f"{quality.audio_kbps}k"]
    if codec == "opus":
        return ["-c:a", "libopus", "-b:a", f"{quality.audio_kbps}k"]
    if codec == "mp3":
        return ["-c:a", "libmp3lame", "-b:a", f"{max(quality.audio_kbps, 160)}k"]
    if codec == "pcm":
        return ["-c:a", "pcm_s16le"]
    return ["-an"]


def video_codec_args(
    codec: str | None, quality: Quality, *, gop: int | None = None, still: bool = False
) -> list[str]:
    if codec == "h264":
        args = ["-c:v", "libx264", "-preset", quality.preset, "-crf", str(quality.crf), "-pix_fmt", "yuv420p"]
        if still:
            args += ["-tune", "stillimage", "-bf", "0"]
        if gop:
            args += ["-g", str(gop), "-keyint_min", str(gop)]
        return args
    if codec == "vp9":
        args = [
            "-c:v",
            "libvpx-vp9",
            "-crf",
            str(quality.vp9_crf),
            "-b:v",
            "0",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-row-mt",
            "1",
            "-pix_fmt",
            "yuv420p",
        ]
        if gop:
            args += ["-g", str(gop)]
        return args
    raise RenderError(f"no video codec for {codec!r}")
