"""Find a TrueType font without any fontconfig setup, for titles and covers drawn with Pillow.

Order: ``NEMO_FONT``; for text with CJK characters a CJK-capable system font; common bold sans fonts on
Linux/macOS/Windows; a font shipped inside an installed package (matplotlib's DejaVu); finally Pillow's
own bundled font (``ImageFont.load_default(size)``, Pillow >= 10.1), so drawing never fails for lack of a
font. Titles are rendered to images by Pillow, so ffmpeg's drawtext (which needs a font file and
fontconfig) is never used.
"""

from __future__ import annotations

import functools
import glob
import os
from pathlib import Path

from PIL import ImageFont

FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont

_LATIN_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSansBold.ttf",
    "/Library/Fonts/Arial Bold.ttf",
    "/System/Library/Fonts/Supplemental/Arial Bold.ttf",
    "C:/Windows/Fonts/arialbd.ttf",
)
_CJK_GLOBS = (
    "/usr/share/fonts/**/NotoSansCJK*",
    "/usr/share/fonts/**/NotoSerifCJK*",
    "/usr/share/fonts/**/wqy*",
    "/usr/share/fonts/**/DroidSansFallback*",
    "/usr/share/fonts/**/*[Uu]ming*",
    "/System/Library/Fonts/PingFang.ttc",
    "C:/Windows/Fonts/msyh*.tt*",
)


def has_cjk(text: str) -> bool:
    return any(
        "\u2e80" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" or "\uf900" <= ch <= "\ufaff" for ch in text
    )


@functools.lru_cache(maxsize=2)
def font_path(cjk: bool = False) -> str | None:
    """Path of the best font file found, or None when only Pillow's bundled font is available."""
    explicit = os.environ.get("NEMO_FONT")
    if explicit and Path(explicit).is_file():
        return explicit
    if cjk:
        for pattern in _CJK_GLOBS:
            found = sorted(glob.glob(pattern, recursive=True))
            if found:
                return found[0]
    for candidate in _LATIN_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    try:
        import matplotlib

        bundled = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"
        if bundled.is_file():
            return str(bundled)
    except ImportError:
        pass
    return None


@functools.lru_cache(maxsize=64)
def _load(path: str | None, size: int) -> FontType:
    if path is not None:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        return ImageFont.load_default()


def load_font(size: int, text: str = "") -> FontType:
    """A font of about ``size`` pixels able to draw ``text`` as well as this machine allows."""
    return _load(font_path(has_cjk(text)), int(size))
