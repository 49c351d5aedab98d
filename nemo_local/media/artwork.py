"""Pillow drawing shared by the composer's cover and the renderer's title cards: gradients and waveforms."""

from __future__ import annotations

import colorsys
import hashlib

import numpy as np
from PIL import Image, ImageDraw


def hue_for(text: str) -> float:
    """A stable hue (0-1) for a piece of text, so the same title always gets the same colours."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:2], "big") / 65535.0


def gradient(width: int, height: int, hue: float, *, dark: bool = False) -> Image.Image:
    """Vertical two-colour gradient around ``hue``."""
    top = colorsys.hsv_to_rgb(hue, 0.55, 0.35 if dark else 0.75)
    bottom = colorsys.hsv_to_rgb((hue + 0.08) % 1.0, 0.75, 0.12 if dark else 0.35)
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    rows = (np.array(top)[None, :] * (1 - t) + np.array(bottom)[None, :] * t) * 255
    arr = np.ascontiguousarray(np.broadcast_to(rows[:, None, :], (height, width, 3)).astype(np.uint8))
    return Image.fromarray(arr, "RGB")


def waveform_envelope(samples: np.ndarray, columns: int) -> np.ndarray:
    """Peak level (0-1) of ``columns`` equal slices of the audio."""
    if samples.ndim == 2:  # per-channel columns: an elementwise maximum is far faster than max(axis=1)
        mono = np.abs(samples[:, 0])
        for ch in range(1, samples.shape[1]):
            mono = np.maximum(mono, np.abs(samples[:, ch]))
    else:
        mono = np.abs(samples)
    if len(mono) == 0 or columns <= 0:
        return np.zeros(max(columns, 0), dtype=np.float32)
    edges = np.linspace(0, len(mono), columns + 1).astype(np.int64)
    peaks = np.maximum.reduceat(mono, np.minimum(edges[:-1], len(mono) - 1))
    top = float(peaks.max()) or 1.0
    return (peaks / top).astype(np.float32)


def draw_waveform(
    img: Image.Image, samples: np.ndarray, box: tuple[int, int, int, int], color: tuple[int, ...]
) -> None:
    """Mirror-bar waveform inside ``box`` (left, top, right, bottom)."""
    left, top, right, bottom = box
    bar_w = max(2, (right - left) // 160)
    columns = max(1, (right - left) // (bar_w + 2))
    env = waveform_envelope(samples, columns)
    draw = ImageDraw.Draw(img, "RGBA")
    mid = (top + bottom) // 2
    half = (bottom - top) // 2
    for i, level in enumerate(env):
        x0 = left + i * (bar_w + 2)
        h = max(1, int(level * half))
        draw.rounded_rectangle((x0, mid - h, x0 + bar_w, mid + h), radius=bar_w // 2, fill=color)
