"""Pictures for the video track, drawn with Pillow: the generated cover card, image clips fitted to the
canvas, and titles (text segments) as transparent overlays.

Drawing titles here instead of with ffmpeg's drawtext avoids needing a font file and fontconfig at
ffmpeg's side; Pillow always has a font (see ``nemo_local.media.fonts``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from nemo_local.media.artwork import draw_waveform, gradient, hue_for
from nemo_local.media.fonts import load_font
from nemo_local.renderer.errors import RenderError
from nemo_local.renderer.timeline import Segment

TITLE_BOX_ALPHA = 150


def cover_card(width: int, height: int, title: str, samples: np.ndarray | None) -> Image.Image:
    """The picture shown when a draft has no video: gradient, the mix's waveform, the draft title."""
    img = gradient(width, height, hue_for(title or "nemo"), dark=True)
    if samples is not None and len(samples):
        top = height * 44 // 100  # above the lower third, where titles go by default
        draw_waveform(
            img, samples, (width // 10, top, width - width // 10, top + height // 4), (255, 255, 255, 200)
        )
    if title:
        font = load_font(max(28, min(width, height) // 11), text=title)
        draw = ImageDraw.Draw(img)
        lines = _wrap(title, font, int(width * 0.84), draw)
        _draw_lines(draw, lines, font, width, height * 25 // 100, fill=(255, 255, 255, 255))
    return img


def fit_picture(path: Path, width: int, height: int) -> Image.Image:
    """An uploaded picture letterboxed onto the canvas."""
    try:
        with Image.open(path) as src:
            picture = ImageOps.exif_transpose(src).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise RenderError(f"cannot read picture {path.name!r}: {exc}") from exc
    return ImageOps.pad(picture, (width, height), color=(0, 0, 0), method=Image.Resampling.LANCZOS)


def _wrap(text: str, font: Any, max_width: int, draw: ImageDraw.ImageDraw) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [text]:
        # CJK text has no spaces: wrap by characters; otherwise by words
        tokens = paragraph.split(" ") if " " in paragraph else list(paragraph)
        joiner = " " if " " in paragraph else ""
        current = ""
        for token in tokens:
            candidate = f"{current}{joiner}{token}" if current else token
            if draw.textlength(candidate, font=font) <= max_width or not current:
                current = candidate
            else:
                lines.append(current)
                current = token
        lines.append(current)
    return lines[:4]


def _draw_lines(
    draw: ImageDraw.ImageDraw,
    lines: Sequence[str],
    font: Any,
    width: int,
    centre_y: int,
    fill: tuple[int, ...],
) -> tuple[int, int, int, int]:
    boxes = [tuple(int(v) for v in draw.textbbox((0, 0), line, font=font)) for line in lines]
    line_h = max((b[3] - b[1] for b in boxes), default=0)
    gap = line_h // 4
    total = len(lines) * line_h + (len(lines) - 1) * gap
    y = centre_y - total // 2
    left = width
    right = 0
    for line, box in zip(lines, boxes, strict=True):
        w = box[2] - box[0]
        x = (width - w) // 2
        draw.text((x - box[0], y - box[1]), line, font=font, fill=fill)
        left, right = min(left, x), max(right, x + w)
        y += line_h + gap
    return left, centre_y - total // 2, right, centre_y - total // 2 + total


def title_overlay(seg: Segment, width: int, height: int) -> tuple[Image.Image, int, int]:
    """(RGBA image, x, y): the title text on a translucent rounded box, cropped to its bounds."""
    text = (seg.text or "").strip()
    meta: Mapping[str, Any] = seg.meta or {}
    size_name = str(meta.get("size", "medium")).lower()
    scale = {"small": 0.045, "medium": 0.065, "large": 0.095}.get(size_name, 0.065)
    font = load_font(max(18, int(min(width, height) * scale * (1.0 if width >= height else 1.15))), text=text)
    position = str(meta.get("position", "bottom")).lower()
    centre_y = {"top": height * 18 // 100, "center": height // 2, "middle": height // 2}.get(
        position, height * 80 // 100
    )
    layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    lines = _wrap(text, font, int(width * 0.82), draw)
    # measure first, draw the box, then the text on top
    left, top, right, bottom = _draw_lines(draw, lines, font, width, centre_y, fill=(0, 0, 0, 0))
    pad = max(12, (bottom - top) // 4)
    box = (max(0, left - 2 * pad), max(0, top - pad), min(width, right + 2 * pad), min(height, bottom + pad))
    draw.rounded_rectangle(box, radius=pad, fill=(0, 0, 0, TITLE_BOX_ALPHA))
    colour = _colour(meta.get("color"))
    _draw_lines(draw, lines, font, width, centre_y, fill=colour)
    x0, y0 = box[0] & ~1, box[1] & ~1
    cropped = layer.crop((x0, y0, box[2], box[3]))
    return cropped, x0, y0


def _colour(value: Any) -> tuple[int, int, int, int]:
    if isinstance(value, str) and value.startswith("#") and len(value) == 7:
        try:
            return (int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16), 255)
        except ValueError:
            pass
    return (255, 255, 255, 255)


class TitleOverlays:
    """Title overlays drawn when first visible and dropped once no longer visible.

    Scenes come in time order and a title is one contiguous span, so a dropped title never returns: each
    title is drawn once, and memory holds only the titles visible at one instant (bounded by the
    titles_at_once limit) instead of every title of the draft (500 large ones would be ~2 GB). Cancel is
    checked before each title is drawn, since drawing is the slow part (~35 ms for a large title)."""

    def __init__(
        self, segments: Iterable[Segment], width: int, height: int, check_cancel: Callable[[], None]
    ) -> None:
        # keyed by position: ids a client typed (or two title tracks' default ids) need not be unique
        self._segments = {str(i): seg for i, seg in enumerate(segments)}
        self._size = (width, height)
        self._check_cancel = check_cancel
        self._drawn: dict[str, tuple[Image.Image, int, int]] = {}

    def visible(self, ids: Sequence[str]) -> list[tuple[Image.Image, int, int]]:
        """The overlays of `ids` (positions, as strings, in the segments given), drawing the new ones and
        forgetting the others."""
        for gone in set(self._drawn) - set(ids):
            del self._drawn[gone]
        for title_id in ids:
            if title_id not in self._drawn:
                self._check_cancel()
                self._drawn[title_id] = title_overlay(self._segments[title_id], *self._size)
        return [self._drawn[t] for t in ids]

    def held(self) -> int:
        return len(self._drawn)


def compose_frame(base: Image.Image, overlays: Sequence[tuple[Image.Image, int, int]]) -> Image.Image:
    """The base picture with the active titles pasted on."""
    frame = base.convert("RGB") if base.mode != "RGB" else base.copy()
    for img, x, y in overlays:
        frame.paste(img, (x, y), img)
    return frame
