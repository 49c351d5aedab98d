"""Draft dict (the contract's short keys) -> a normalised timeline the renderer can act on.

Short keys: ``t`` tracks, ``tt`` track type (0 video, 1 audio/BGM, 7 text), ``sg`` segments, ``d``
duration ms, ``m`` metadata. Segment: ``id``, ``s`` start ms, ``d`` duration ms, ``src``, ``txt``, ``v``
volume, ``fi``/``fo`` fades ms, ``ss`` source offset ms, ``m``. Readable names (``tracks``, ``type``,
``segments``, ``start_ms``, ...) are accepted as well, so a draft passed through the client's readable
model renders the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nemo_local.limits import LimitExceeded, Limits
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
# Every key the renderer reads, the contract's short one first, then the readable names it also accepts.
# The one list: nemo_local.api.draft_check names a draft's fields by it.
KEYS: Mapping[str, tuple[str, ...]] = {
    "tracks": ("t", "tracks"),
    "type": ("tt", "type", "kind"),
    "segments": ("sg", "segments"),
    "draft_duration": ("d", "duration_ms"),
    "meta": ("m", "metadata"),
    "start": ("s", "start_ms", "start"),
    "duration": ("d", "duration_ms", "duration"),
    "fade_in": ("fi", "fade_in_ms"),
    "fade_out": ("fo", "fade_out_ms"),
    "source_offset": ("ss", "source_offset_ms", "offset_ms"),
    "volume": ("v", "volume"),
    "text": ("txt", "text"),
    "src": ("src", "url", "source"),
}


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


def segment_count(draft: Any) -> int:
    """Segments on all of a draft's tracks, by the short or readable keys (what the segment limit
    counts); 0 for no draft or one without tracks."""
    tracks = _get(draft, *KEYS["tracks"]) if isinstance(draft, Mapping) else None
    if not isinstance(tracks, list):
        return 0
    lists = (_get(t, *KEYS["segments"]) for t in tracks if isinstance(t, Mapping))
    return sum(len(x) for x in lists if isinstance(x, list))


def _number(value: Any, what: str) -> float:
    """A finite number, or a RenderError naming the field ("loud", inf and NaN are refused)."""
    if isinstance(value, bool):
        raise RenderError(f"draft has a non-numeric {what}: {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise RenderError(f"draft has a non-numeric {what}: {shown(value)}") from exc
    if not math.isfinite(number):
        raise RenderError(f"draft has an invalid {what}: {shown(value)} (not a finite number)")
    return number


def shown(value: Any) -> str:
    """A value as an error message quotes it: its repr, cut at 40 characters (the renderer's and the
    server's draft checks both quote this way)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _ms(value: Any, what: str) -> float:
    number = _number(value, what)
    if number < 0:
        raise RenderError(f"draft has an invalid {what}: {value!r} (negative)")
    return number / 1000.0


def _segment(raw: Mapping[str, Any], kind: str, index: int) -> Segment:
    if not isinstance(raw, Mapping):
        raise RenderError(f"draft {kind} segment {index} is not an object")
    start = _ms(_get(raw, *KEYS["start"], default=0), f"{kind} segment start")
    duration = _ms(_get(raw, *KEYS["duration"], default=0), f"{kind} segment duration")
    meta = _get(raw, *KEYS["meta"], default={}) or {}
    volume = _number(_get(raw, *KEYS["volume"], default=1.0), f"{kind} segment volume")
    if 2.0 < volume <= 100.0:
        volume /= 100.0  # a percentage ("35") rather than a fraction
    return Segment(
        id=str(_get(raw, "id", default=f"{kind}{index}")),
        start=start,
        duration=duration,
        src=_get(raw, *KEYS["src"]),
        text=_get(raw, *KEYS["text"]),
        volume=max(0.0, min(2.0, volume)),
        fade_in=_ms(_get(raw, *KEYS["fade_in"], default=0), "fade-in"),
        fade_out=_ms(_get(raw, *KEYS["fade_out"], default=0), "fade-out"),
        source_offset=_ms(_get(raw, *KEYS["source_offset"], default=0), "source offset"),
        meta=meta if isinstance(meta, Mapping) else {},
    )


def _even(value: float) -> int:
    return max(2, int(value / 2.0 + 0.5) * 2)  # half up: 1001 -> 1002 (H.264 needs even sizes)


def canvas_size(meta: Mapping[str, Any]) -> tuple[int, int]:
    """1920x1080 landscape by default; portrait (1080x1920) when the draft's metadata is taller than wide."""
    try:
        width = float(meta.get("width") or 0)
        height = float(meta.get("height") or 0)
    except (TypeError, ValueError, OverflowError):
        width = height = 0.0
    if not (math.isfinite(width) and math.isfinite(height)):
        raise RenderError("draft metadata has a width or height that is not a finite number")
    if width <= 0 or height <= 0:
        orientation = str(meta.get("orientation") or meta.get("aspect") or "").lower()
        return (1080, 1920) if orientation in ("portrait", "9:16", "vertical") else (1920, 1080)
    scale = min(1.0, MAX_SIDE / max(width, height))
    return _even(width * scale), _even(height * scale)


def _over(name: str, field: str, value: float | str, limits: Limits) -> RenderError:
    return RenderError(str(LimitExceeded(name, field, value, limits)))


def track_kind(code: Any) -> str | None:
    """VIDEO, AUDIO or TEXT for a track's type code or name; None for types that are not rendered."""
    return _TYPE_CODES.get(code if not isinstance(code, str) else code.lower())


def most_at_once(spans: Iterable[tuple[float, float]]) -> int:
    """The largest number of (start, end) spans overlapping at one instant (a sweep over starts and ends):
    every visible title is drawn and held while its frames are made, so this bounds the renderer's memory.
    The API asks it of a draft at render creation, the renderer again for its own callers."""
    spans = list(spans)
    events = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans])
    most = current = 0
    for _, step in events:  # at equal times an end (-1) sorts first: touching titles do not overlap
        current += step
        most = max(most, current)
    return most


def parse_draft(draft: Mapping[str, Any], limits: Limits | None = None) -> Timeline:
    """Validate and normalise ``draft``; raises RenderError with a readable reason when it cannot render.

    The draft limits (tracks, segments, duration) are checked here too, before any work: the API checks
    them first, but the renderer must not depend on every caller doing so."""
    limits = limits or Limits.from_env()
    if not isinstance(draft, Mapping):
        raise RenderError("draft must be an object")
    tracks = _get(draft, *KEYS["tracks"])
    if not isinstance(tracks, list) or not tracks:
        raise RenderError("draft has no tracks ('t')")
    if len(tracks) > limits.draft_tracks:
        raise _over("draft_tracks", "draft tracks", len(tracks), limits)
    counted = segment_count(draft)
    if counted > limits.draft_segments:
        raise _over("draft_segments", "draft segments", counted, limits)
    meta = _get(draft, *KEYS["meta"], default={}) or {}
    meta = meta if isinstance(meta, Mapping) else {}
    video: list[Segment] = []
    audio: list[Segment] = []
    text: list[Segment] = []
    for ti, track in enumerate(tracks):
        if not isinstance(track, Mapping):
            raise RenderError(f"draft track {ti} is not an object")
        code = _get(track, *KEYS["type"])
        kind = track_kind(code)
        if kind is None:
            continue  # unknown track types (effects, stickers...) are not rendered
        raw_segments = _get(track, *KEYS["segments"], default=[]) or []
        if not isinstance(raw_segments, list):
            raise RenderError(f"draft track {ti} has segments ('sg') that are not a list")
        for si, raw in enumerate(raw_segments):
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
    declared = _get(draft, *KEYS["draft_duration"])
    duration = _ms(declared, "duration") if declared else max(ends)
    if duration <= 0:
        duration = max(ends)
    if duration > limits.export_seconds:
        raise _over("export_seconds", "draft duration (s)", round(duration, 3), limits)
    at_once = most_at_once((t.start, t.end) for t in text)
    if at_once > limits.titles_at_once:
        raise _over("titles_at_once", "titles visible at one instant", at_once, limits)
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
