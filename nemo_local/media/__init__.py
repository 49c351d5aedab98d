"""Media plumbing shared by the renderer and the server: one place to find ffmpeg, probe files, hash them."""

from nemo_local.media import children
from nemo_local.media.ffmpeg import FFmpegNotFoundError, ffmpeg_exe
from nemo_local.media.fonts import font_path, load_font
from nemo_local.media.hashing import sha256_file
from nemo_local.media.probe import MediaInfo, ProbeError, probe

__all__ = [
    "FFmpegNotFoundError",
    "MediaInfo",
    "ProbeError",
    "children",
    "ffmpeg_exe",
    "font_path",
    "load_font",
    "probe",
    "sha256_file",
]
