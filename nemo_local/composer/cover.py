"""A PNG cover for a track: mood-coloured gradient, the track's real waveform, title and facts.

Drawn with Pillow only (no fonts configuration needed: a bundled TrueType font is found in ``fonts.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import ImageDraw

from nemo_local.media.artwork import draw_waveform, gradient
from nemo_local.media.fonts import load_font

MOOD_HUES: dict[str, float] = {
    "calm": 0.55,
    "chill": 0.72,
    "happy": 0.13,
    "upbeat": 0.08,
    "energetic": 0.95,
    "epic": 0.02,
    "dark": 0.68,
    "romantic": 0.92,
    "sad": 0.6,
}


def render_cover(
    samples: np.ndarray,
    metadata: Mapping[str, Any],
    path: str | os.PathLike[str],
    size: tuple[int, int] = (1024, 1024),
) -> None:
    """Write the cover PNG for a track to ``path``."""
    width, height = size
    mood = str(metadata.get("mood", "chill"))
    hue = MOOD_HUES.get(mood, 0.6)
    img = gradient(width, height, hue, dark=mood in ("dark", "epic", "sad"))
    draw_waveform(
        img, samples, (width // 12, height // 3, width - width // 12, height * 2 // 3), (255, 255, 255)
    )
    draw = ImageDraw.Draw(img)
    title = str(metadata.get("title", ""))
    title_font = load_font(max(24, width // 14), text=title)
    draw.text((width // 12, height // 10), title, font=title_font, fill=(255, 255, 255))
    facts = f"{metadata.get('genre', '')} · {metadata.get('mood', '')} · {metadata.get('bpm', '')} BPM · {metadata.get('key', '')}"
    seconds = int(metadata.get("duration_ms", 0)) / 1000
    facts += f" · {int(seconds // 60)}:{seconds % 60:04.1f}"
    small = load_font(max(14, width // 36), text=facts)
    draw.text((width // 12, height - height // 6), facts, font=small, fill=(235, 235, 235))
    img.save(os.fspath(path), format="PNG", compress_level=3)
