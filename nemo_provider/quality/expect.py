"""What a file is expected to be: ``Expectations`` (from a dict, or from what a session says it made)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nemo_provider.quality.tolerances import DEFAULT_TRUE_PEAK_CEILING_DBTP


@dataclass
class Expectations:
    """Every field is optional: ``None`` means "not asked", so it is not checked.

    ``format``: the export format (mp3, mp4, …): its streams and codecs. ``duration_s``: the length.
    ``lufs``: integrated loudness target. ``true_peak_max_dbtp``: the ceiling (``None`` disables it).
    ``bpm`` / ``key`` (e.g. ``"A minor"``): the music asked for. ``loop``: the file must wrap without an
    audible seam. ``lines``: the short side of the picture (1080 for 1080p, either orientation);
    ``width``/``height``/``fps``/``video_codec``/``audio_codec``: exact values. ``silence``,
    ``clipping``, ``av_sync``: set False to skip those checks.
    """

    format: str | None = None
    duration_s: float | None = None
    lufs: float | None = None
    true_peak_max_dbtp: float | None = DEFAULT_TRUE_PEAK_CEILING_DBTP
    bpm: float | None = None
    key: str | None = None
    loop: bool = False
    lines: int | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    silence: bool = True
    clipping: bool = True
    av_sync: bool = True

    @classmethod
    def from_value(cls, value: Expectations | Mapping[str, Any] | None) -> Expectations:
        """Accept an Expectations, a dict of its fields (unknown keys are an error), or None."""
        if value is None:
            return cls()
        if isinstance(value, Expectations):
            return value
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"Unknown expectation(s) {unknown}; known: {sorted(known)}.")
        return cls(**{k: _coerce(k, v) for k, v in value.items()})

    def merged(self, overrides: Expectations | Mapping[str, Any] | None) -> Expectations:
        """These expectations with the keys of ``overrides`` (a dict: only the keys it names) replaced."""
        if overrides is None:
            return self
        if isinstance(overrides, Expectations):
            return overrides
        Expectations.from_value(overrides)  # validates the keys
        return dataclasses.replace(self, **{k: _coerce(k, v) for k, v in overrides.items()})

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_NUMBERS = {"duration_s": float, "lufs": float, "true_peak_max_dbtp": float, "bpm": float, "fps": float,
            "lines": int, "width": int, "height": int}  # fmt: skip
_FLAGS = ("loop", "silence", "clipping", "av_sync")


def _coerce(key: str, value: Any) -> Any:
    """Templated values arrive as strings ("30", "true"): turn them into the field's type."""
    if value is None or value == "" or value == "None":
        return None if key not in _FLAGS else False
    if key in _NUMBERS and isinstance(value, str):
        try:
            return _NUMBERS[key](float(value))
        except ValueError:
            raise ValueError(f"Expectation {key}={value!r} is not a number.") from None
    if key in _FLAGS and isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return value
