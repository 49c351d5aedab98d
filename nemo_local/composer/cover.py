"""A PNG cover for a track: mood-coloured gradient, the track's real waveform, title and facts.

Drawn with Pillow only (no fonts configuration needed: a bundled TrueType font is found in ``fonts.py``).
"""

from __future__ import annotations

import colorsys
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

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


def _gradient(width: int, height: int, hue: float, dark: bool) -> Image.Image:
    top = colorsys.hsv_to_rgb(hue, 0.55, 0.35 if dark else 0.75)
    bottom = colorsys.hsv_to_rgb((hue + 0.08) % 1.0, 0.75, 0.12 if dark else 0.35)
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    rows = (np.array(top)[None, :] * (1 - t) + np.array(bottom)[None, :] * t) * 255
    arr = np.repeat(rows[:, None, :], width, axis=1).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


def waveform_envelope(samples: np.ndarray, columns: int) -> np.ndarray:
    """Peak level (0-1) of ``columns`` equal slices of the track."""
    mono = np.abs(samples).max(axis=1) if samples.ndim == 2 else np.abs(samples)
    if len(mono) == 0:
        return np.zeros(columns, dtype=np.float32)
    edges = np.linspace(0, len(mono), columns + 1).astype(np.int64)
    peaks = np.maximum.reduceat(mono, np.minimum(edges[:-1], len(mono) - 1))
    top = float(peaks.max()) or 1.0
    return (peaks / top).astype(np.float32)


def draw_waveform(
    img: Image.Image, samples: np.ndarray, box: tuple[int, int, int, int], color: tuple[int, int, int]
) -> None:
    """Mirror-bar waveform inside ``box`` (left, top, right, bottom)."""
    left, top, right, bottom = box
    bar_w = max(2, (right - left) // 160)
    columns = max(1, (right - left) // (bar_w + 2))
    env = waveform_envelope(samples, columns)
    draw = ImageDraw.Draw(img)
    mid = (top + bottom) // 2
    half = (bottom - top) // 2
    for i, level in enumerate(env):
        x0 = left + i * (bar_w + 2)
        h = max(1, int(level * half))
        draw.rounded_rectangle((x0, mid - h, x0 + bar_w, mid + h), radius=bar_w // 2, fill=color)


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
    img = _gradient(width, height, hue, dark=mood in ("dark", "epic", "sad"))
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
