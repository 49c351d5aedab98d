"""Locate the ffmpeg binary once, so no caller has to know whether it came from a wheel or the system.

Order: the ``NEMO_FFMPEG`` environment variable (an explicit choice wins), the static binary shipped in
the ``imageio-ffmpeg`` wheel (the installed project then needs no apt step), then ``ffmpeg`` on PATH.
"""

from __future__ import annotations

import functools
import os
import shutil


class FFmpegNotFoundError(RuntimeError):
    """No usable ffmpeg binary: neither NEMO_FFMPEG, imageio-ffmpeg nor PATH provides one."""


@functools.lru_cache(maxsize=1)
def _discover() -> str:
    explicit = os.environ.get("NEMO_FFMPEG")
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            return explicit
        raise FFmpegNotFoundError(f"NEMO_FFMPEG points to {explicit!r}, which is not an executable file")
    try:
        import imageio_ffmpeg

        exe: str = imageio_ffmpeg.get_ffmpeg_exe()
        if exe and os.path.isfile(exe):
            return exe
    except (ImportError, RuntimeError):
        pass
    found = shutil.which("ffmpeg")
    if found:
        return found
    raise FFmpegNotFoundError("ffmpeg not found: install the 'imageio-ffmpeg' package or put ffmpeg on PATH")


def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary (cached after the first call)."""
    return _discover()
