"""Draft dict (the contract's short keys) -> a normalised timeline the renderer can act on.

Short keys: ``t`` tracks, ``tt`` track type (0 video, 1 audio/BGM, 7 text), ``sg`` segments, ``d``
duration ms, ``m`` metadata. Segment: ``id``, ``s`` start ms, ``d`` duration ms, ``src``, ``txt``, ``v``
volume, ``fi``/``fo`` fades ms, ``ss`` source offset ms, ``m``. Readable names (``tracks``, ``type``,
``segments``, ``start_ms``, ...) are accepted as well, so a draft passed through the client's readable
model renders the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nemo_local.renderer.errors import RenderError

VIDEO, AUDIO, TEXT = "video", "audio", "text"
_TYPE_CODES = {
    0: VIDEO,
    1: AUDIO,
    7: TEXT,
    "video": VIDEO,
    "audio": AUDIO,
    "bgm": AUDIO,
    "music": AUDIO,
    "text": TEXT,
    "title": TEXT,
}
MAX_SIDE = 1920
MAX_DURATION_S = 3600.0


@dataclass(frozen=True)
class Segment:
    """One timed item, times in seconds."""

    id: str
    start: float
    duration: float
    src: str | None = None
    text: str | None = None
    volume: float = 1.0
    fade_in: float = 0.0
    fade_out: float = 0.0
    source_offset: float = 0.0
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    duration: float
    title: str
    video: list[Segment]
    audio: list[Segment]
    text: list[Segment]


def _get(d: Mapping[str, Any], *names: str, default: Any = None) -> Any:
    for name in names:
        if name in d and d[name] is not None:
            return d[name]
    return default


def _ms(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise RenderError(f"draft has a non-numeric {what}: {value!r}") from exc
    if number != number or number < 0:  # NaN or negative
        raise RenderError(f"draft has an invalid {what}: {value!r}")
    return number / 1000.0


def _segment(raw: Mapping[str, Any], kind: str, index: int) -> Segment:
    if not isinstance(raw, Mapping):
        raise RenderError(f"draft {kind} segment {index} is not an object")
    start = _ms(_get(raw, "s", "start_ms", "start", default=0), f"{kind} segment start")
    duration = _ms(_get(raw, "d", "duration_ms", "duration", default=0), f"{kind} segment duration")
    meta = _get(raw, "m", "metadata", default={}) or {}
    volume = float(_get(raw, "v", "volume", default=1.0))
    if 2.0 < volume <= 100.0:
        volume /= 100.0  # a percentage ("35") rather than a fraction
    return Segment(
        id=str(_get(raw, "id", default=f"{kind}{index}")),
        start=start,
        duration=duration,
        src=_get(raw, "src", "url", "source"),
        text=_get(raw, "txt", "text"),
        volume=max(0.0, min(2.0, volume)),
        fade_in=_ms(_get(raw, "fi", "fade_in_ms", default=0), "fade-in"),
        fade_out=_ms(_get(raw, "fo", "fade_out_ms", default=0), "fade-out"),
        source_offset=_ms(_get(raw, "ss", "source_offset_ms", "offset_ms", default=0), "source offset"),
        meta=meta if isinstance(meta, Mapping) else {},
    )


def _even(value: float) -> int:
    return max(2, int(value / 2.0 + 0.5) * 2)  # half up: 1001 -> 1002 (H.264 needs even sizes)


def canvas_size(meta: Mapping[str, Any]) -> tuple[int, int]:
    """1920x1080 landscape by default; portrait (1080x1920) when the draft's metadata is taller than wide."""
    try:
        width = float(meta.get("width") or 0)
        height = float(meta.get("height") or 0)
    except (TypeError, ValueError):
        width = height = 0.0
    if width <= 0 or height <= 0:
        orientation = str(meta.get("orientation") or meta.get("aspect") or "").lower()
        return (1080, 1920) if orientation in ("portrait", "9:16", "vertical") else (1920, 1080)
    scale = min(1.0, MAX_SIDE / max(width, height))
    return _even(width * scale), _even(height * scale)


def parse_draft(draft: Mapping[str, Any]) -> Timeline:
    """Validate and normalise ``draft``; raises RenderError with a readable reason when it cannot render."""
    if not isinstance(draft, Mapping):
        raise RenderError("draft must be an object")
    tracks = _get(draft, "t", "tracks")
    if not isinstance(tracks, list) or not tracks:
        raise RenderError("draft has no tracks ('t')")
    meta = _get(draft, "m", "metadata", default={}) or {}
    meta = meta if isinstance(meta, Mapping) else {}
    video: list[Segment] = []
    audio: list[Segment] = []
    text: list[Segment] = []
    for ti, track in enumerate(tracks):
        if not isinstance(track, Mapping):
            raise RenderError(f"draft track {ti} is not an object")
        code = _get(track, "tt", "type", "kind")
        kind = _TYPE_CODES.get(code if not isinstance(code, str) else code.lower())
        if kind is None:
            continue  # unknown track types (effects, stickers...) are not rendered
        for si, raw in enumerate(_get(track, "sg", "segments", default=[]) or []):
            seg = _segment(raw, kind, si)
            if seg.duration <= 0:
                continue
            if kind == TEXT and not (seg.text or "").strip():
                continue
            if kind in (VIDEO, AUDIO) and not seg.src:
                raise RenderError(f"{kind} segment {seg.id!r} has no media source ('src')")
            {VIDEO: video, AUDIO: audio, TEXT: text}[kind].append(seg)
    ends = [s.end for s in (*video, *audio, *text)]
    if not ends:
        raise RenderError("draft has no segments to render")
    declared = _get(draft, "d", "duration_ms")
    duration = _ms(declared, "duration") if declared else max(ends)
    if duration <= 0:
        duration = max(ends)
    if duration > MAX_DURATION_S:
        raise RenderError(f"draft is {duration:.0f} s long; the limit is {MAX_DURATION_S:.0f} s")
    width, height = canvas_size(meta)
    title = str(_get(meta, "title", "name", default="") or "")
    return Timeline(
        width=width,
        height=height,
        duration=duration,
        title=title,
        video=sorted(video, key=lambda s: s.start),
        audio=sorted(audio, key=lambda s: s.start),
        text=sorted(text, key=lambda s: s.start),
    )
