"""What ``measure`` found in a file: plain dataclasses, JSON-safe through ``as_dict``."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any


def clean(value: Any) -> Any:
    """NaN/inf -> None, rounded floats, numpy scalars -> Python, recursively (XCom, manifests and
    OpenLineage want plain JSON)."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(float(value), 4)
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


@dataclass
class SeamReport:
    """How audible the wrap from the last sample to the first is, against the track's own changes.

    ``level_jump_db`` / ``spectral_jump``: the change across the seam; ``*_percentile``: where that change
    ranks among the track's frame-to-frame changes (100 = larger than every one of them); ``*_ratio``:
    the change over the largest the track makes itself (a loop starts on a downbeat, so its seam may be
    as big as any onset, not bigger); ``click_ratio``: the seam's sample step over the track's
    99.9th-percentile step (> 1 is a click).
    """

    level_jump_db: float
    spectral_jump: float
    level_percentile: float
    spectral_percentile: float
    level_ratio: float
    spectral_ratio: float
    click_ratio: float


@dataclass
class AudioReport:
    codec: str
    sample_rate: int
    channels: int
    duration_s: float
    frame_s: float  # the codec's frame (0 for PCM): the finest step a file's length can take
    integrated_lufs: float | None = None
    true_peak_dbtp: float | None = None
    sample_peak_dbfs: float | None = None
    leading_silence_s: float | None = None
    trailing_silence_s: float | None = None
    dropouts: list[list[float]] = field(default_factory=list)  # [start_s, end_s] of each
    clipped_runs: int = 0
    tempo_bpm: float | None = None
    tempo_confidence: float | None = None
    key: str | None = None  # e.g. "A minor"
    key_confidence: float | None = None
    seam: SeamReport | None = None
    level_curve_dbfs: list[float] = field(default_factory=list)  # RMS level of each tenth
    onset_curve: list[float] = field(default_factory=list)  # mean onset strength of each tenth (attacks)


@dataclass
class VideoReport:
    codec: str
    width: int
    height: int
    fps: float | None
    frames: int
    duration_s: float


@dataclass
class MediaReport:
    """Everything measured in one file. ``av_offset_s`` is video minus audio duration."""

    path: str
    container: str
    size: int
    duration_s: float
    audio: AudioReport | None = None
    video: VideoReport | None = None
    av_offset_s: float | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self, *, curves: bool = True) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if not curves and data.get("audio"):
            data["audio"].pop("level_curve_dbfs", None)
            data["audio"].pop("onset_curve", None)
        return clean(data)
