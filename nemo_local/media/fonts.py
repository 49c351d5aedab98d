"""Find a TrueType font without any fontconfig setup, for titles and covers drawn with Pillow.

Order: ``NEMO_FONT``; for text with CJK characters a CJK-capable system font; common bold sans fonts on
Linux/macOS/Windows; a font shipped inside an installed package (matplotlib's DejaVu); finally Pillow's
own bundled font (``ImageFont.load_default(size)``, Pillow >= 10.1), so drawing never fails for lack of a
font. Titles are rendered to images by Pillow, so ffmpeg's drawtext (which needs a font file and
fontconfig) is never used.

Pillow's bundled font has no CJK glyphs: without a CJK font Chinese titles come out as boxes. The server
says so once at start-up (``report_missing_cjk_font``); ``scripts/install-fonts.sh`` installs one
(Debian's fonts-wqy-zenhei) and asks ``main()`` here whether one is there.
"""

from __future__ import annotations

import functools
import glob
import logging
import os
import sys
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

_FONT_SUFFIXES = (".ttf", ".ttc", ".otf", ".otc")


def has_cjk(text: str) -> bool:
    return any(
        "\u2e80" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" or "\uf900" <= ch <= "\ufaff" for ch in text
    )


_log = logging.getLogger(__name__)
_reported = False
INSTALL_HINT = (
    "install one (bash scripts/install-fonts.sh, or apt-get install fonts-wqy-zenhei / fonts-noto-cjk) "
    "or set NEMO_FONT to a .ttf/.ttc/.otf with CJK glyphs"
)


def cjk_font_path() -> str | None:
    """The CJK-capable font: ``NEMO_FONT`` (trusted to have the glyphs), else the first system one found."""
    explicit = os.environ.get("NEMO_FONT")
    if explicit and Path(explicit).is_file():
        return explicit
    for pattern in _CJK_GLOBS:
        # font files only: "wqy*" also matches Debian's /usr/share/fonts/truetype/wqy directory
        found = sorted(f for f in glob.glob(pattern, recursive=True) if f.lower().endswith(_FONT_SUFFIXES))
        if found:
            return found[0]
    return None


def report_missing_cjk_font() -> str | None:
    """Called at server start-up: one warning when no CJK font exists, instead of boxes drawn silently."""
    global _reported
    path = cjk_font_path()
    if path is None and not _reported:
        _reported = True
        _log.warning(
            "no CJK font found: Chinese titles and cover text will be drawn as boxes; %s", INSTALL_HINT
        )
    return path


@functools.lru_cache(maxsize=2)
def font_path(cjk: bool = False) -> str | None:
    """Path of the best font file found, or None when only Pillow's bundled font is available."""
    explicit = os.environ.get("NEMO_FONT")
    if explicit and Path(explicit).is_file():
        return explicit
    if cjk:
        found_cjk = cjk_font_path()
        if found_cjk:
            return found_cjk
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


def main() -> int:
    """Print the CJK font in use; exit 1 (and say why) without one. scripts/install-fonts.sh asks this."""
    path = cjk_font_path()
    if path is None:
        print(f"no CJK font found: {INSTALL_HINT}", file=sys.stderr)
        return 1
    print(path)
    return 0
