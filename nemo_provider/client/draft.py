"""The session draft (timeline) with readable names, parsed once from the wire's short keys.

The wire format is terse (`t`, `tt`, `sg`, `d`, `m`; segments `id`, `s`, `d`, `src`, `txt`, `v`,
`fi`, `fo`, `m`, `ss`) and partly unpublished, so the model must never lose what it does not know:
a key it does not recognise, or a known key whose value has an unexpected type, is kept verbatim in
`extra` and written back by `to_wire()`. Hence `Draft.from_wire(d).to_wire() == d` for any dict.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field

TrackKind = Literal["video", "audio", "text"]

_KIND_BY_CODE: dict[int, TrackKind] = {0: "video", 1: "audio", 7: "text"}
_CODE_BY_KIND: dict[str, int] = {v: k for k, v in _KIND_BY_CODE.items()}
_LABELS: dict[str, str] = {"video": "Video", "audio": "BGM", "text": "Title"}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _is_dict(value: Any) -> bool:
    return isinstance(value, dict)


#: wire key -> (attribute, type check)
_SEGMENT_FIELDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "id": ("id", _is_id),
    "s": ("start_ms", _is_number),
    "d": ("duration_ms", _is_number),
    "src": ("src", _is_str),
    "txt": ("text", _is_str),
    "v": ("volume", _is_number),
    "fi": ("fade_in_ms", _is_number),
    "fo": ("fade_out_ms", _is_number),
    "ss": ("source_offset_ms", _is_number),
    "m": ("metadata", _is_dict),
}


def _split_known(
    wire: Mapping[str, Any], fields: Mapping[str, tuple[str, Callable[[Any], bool]]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate well-typed known keys (by attribute name) from everything else (kept verbatim)."""
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, value in wire.items():
        spec = fields.get(key)
        if spec is not None and spec[1](value):
            known[spec[0]] = copy.deepcopy(value)
        else:
            extra[key] = copy.deepcopy(value)
    return known, extra


def _seconds(ms: float) -> str:
    value = round(ms / 1000.0, 1)
    return f"{value:g}"


class _DraftPart(BaseModel):
    model_config = ConfigDict(validate_assignment=False, arbitrary_types_allowed=False)


class Segment(_DraftPart):
    """One clip, audio piece or title on a track. Times are milliseconds; volume is 0-1."""

    id: str | int | None = None
    start_ms: int | float | None = None
    duration_ms: int | float | None = None
    src: str | None = None
    text: str | None = None
    volume: int | float | None = None
    fade_in_ms: int | float | None = None
    fade_out_ms: int | float | None = None
    source_offset_ms: int | float | None = None
    metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Segment:
        known, extra = _split_known(wire, _SEGMENT_FIELDS)
        return cls(**known, extra=extra)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, (attr, _check) in _SEGMENT_FIELDS.items():
            value = getattr(self, attr)
            if value is not None:
                out[key] = copy.deepcopy(value)
        out.update(copy.deepcopy(self.extra))
        return out

    @property
    def end_ms(self) -> float | None:
        if self.start_ms is None or self.duration_ms is None:
            return None
        return float(self.start_ms) + float(self.duration_ms)

    def display_name(self) -> str:
        """A human name: metadata title/name, else the media file's name, else the id."""
        meta = self.metadata or {}
        for key in ("title", "name", "label"):
            value = meta.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
        if self.src:
            stem = PurePosixPath(unquote(urlsplit(self.src).path)).stem
            if stem:
                return stem.replace("_", " ").replace("-", " ").strip() or stem
        if self.text:
            return self.text
        return str(self.id) if self.id is not None else "untitled"


class Track(_DraftPart):
    """A track: `kind` is "video" (tt 0), "audio" (tt 1, BGM), "text" (tt 7), another int, or None."""

    kind: TrackKind | int | None = None
    segments: list[Segment] | None = None
    metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Track:
        kind: TrackKind | int | None = None
        segments: list[Segment] | None = None
        metadata: dict[str, Any] | None = None
        extra: dict[str, Any] = {}
        for key, value in wire.items():
            if key == "tt" and isinstance(value, int) and not isinstance(value, bool):
                kind = _KIND_BY_CODE.get(value, value)
            elif key == "sg" and isinstance(value, list) and all(isinstance(s, dict) for s in value):
                segments = [Segment.from_wire(s) for s in value]
            elif key == "m" and isinstance(value, dict):
                metadata = copy.deepcopy(value)
            else:
                extra[key] = copy.deepcopy(value)
        return cls(kind=kind, segments=segments, metadata=metadata, extra=extra)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.kind is not None:
            out["tt"] = _CODE_BY_KIND[self.kind] if isinstance(self.kind, str) else self.kind
        if self.segments is not None:
            out["sg"] = [s.to_wire() for s in self.segments]
        if self.metadata is not None:
            out["m"] = copy.deepcopy(self.metadata)
        out.update(copy.deepcopy(self.extra))
        return out

    @property
    def label(self) -> str:
        if isinstance(self.kind, str):
            return _LABELS[self.kind]
        return f"Track type {self.kind}" if self.kind is not None else "Track"

    def span_ms(self) -> tuple[float, float] | None:
        """(start, end) over the segments that have both, or None."""
        spans = [(float(s.start_ms or 0), s.end_ms) for s in self.segments or [] if s.end_ms is not None]
        if not spans:
            return None
        return min(a for a, _ in spans), max(float(b) for _, b in spans if b is not None)

    def summary(self) -> str:
        segments = self.segments or []
        if not segments:
            return f"{self.label}: (empty)"
        if self.kind == "text":
            names = [f'"{s.text}"' if s.text is not None else s.display_name() for s in segments]
        else:
            names = [s.display_name() for s in segments]
        shown = ", ".join(names[:3]) + (f" +{len(names) - 3} more" if len(names) > 3 else "")
        details: list[str] = []
        span = self.span_ms()
        if span is not None:
            details.append(f"{_seconds(span[0])}-{_seconds(span[1])}s")
        if self.kind == "audio" and segments[0].volume is not None:
            details.append(f"{round(float(segments[0].volume) * 100):d}%")
        suffix = f" ({', '.join(details)})" if details else ""
        return f"{self.label}: {shown}{suffix}"


class Draft(_DraftPart):
    """The timeline of a session, as `GET .../state/.../latest` returns it under `state.draft`."""

    tracks: list[Track] | None = None
    duration_ms: int | float | None = None
    metadata: dict[str, Any] | None = None
    extra: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_wire(cls, wire: Mapping[str, Any]) -> Draft:
        tracks: list[Track] | None = None
        duration: int | float | None = None
        metadata: dict[str, Any] | None = None
        extra: dict[str, Any] = {}
        for key, value in wire.items():
            if key == "t" and isinstance(value, list) and all(isinstance(t, dict) for t in value):
                tracks = [Track.from_wire(t) for t in value]
            elif key == "d" and _is_number(value):
                duration = value
            elif key == "m" and isinstance(value, dict):
                metadata = copy.deepcopy(value)
            else:
                extra[key] = copy.deepcopy(value)
        return cls(tracks=tracks, duration_ms=duration, metadata=metadata, extra=extra)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.tracks is not None:
            out["t"] = [t.to_wire() for t in self.tracks]
        if self.duration_ms is not None:
            out["d"] = self.duration_ms
        if self.metadata is not None:
            out["m"] = copy.deepcopy(self.metadata)
        out.update(copy.deepcopy(self.extra))
        return out

    @property
    def is_exportable(self) -> bool:
        """The contract's rule: tracks exist and at least one has a non-empty segment list."""
        return any(t.segments for t in self.tracks or [])

    def summary(self) -> str:
        """The one-line timeline summary the agent's "preview in timeline" stands for."""
        tracks = self.tracks or []
        if not tracks:
            return "Timeline (0 tracks): empty"
        noun = "track" if len(tracks) == 1 else "tracks"
        body = " ".join(f"{i}. {t.summary()}" for i, t in enumerate(tracks, start=1))
        return f"Timeline ({len(tracks)} {noun}): {body}"
