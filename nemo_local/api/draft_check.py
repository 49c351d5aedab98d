"""A draft sent for export is checked before any work starts: its shape, every value the renderer reads
(a volume of "loud", a width of inf, a duration of Infinity or 1e12 are refused naming the field), and the
limits on tracks, segments, nesting and export length. The renderer checks again (defence in depth);
this check exists so that a bad draft is a clear 422/413 at creation, never a failed render later.

One reader: the keys (short and readable) are the renderer's `timeline.KEYS`, and a draft that passes
these bounds is then read by the renderer's own `parse_draft`, so what it cannot render (nothing to
export, a clip without a source) is refused here in its words, and what it renders is never refused."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from nemo_local.limits import LimitExceeded, Limits
from nemo_local.renderer.timeline import KEYS, shown  # light: the pipelines load only to render

MAX_DEPTH = 32  # a real draft nests 5 levels (draft > t > track > sg > segment > m)
MAX_SIDE = 16384
MAX_SOURCE_OFFSET_MS = 24 * 3600 * 1000
MAX_STRING_CHARS = 2048
_SURROGATE = re.compile("[\ud800-\udfff]")

_TIMES = ("start", "duration", "fade_in", "fade_out")  # timeline.KEYS names of a segment's times (ms)
Keys = Mapping[str, tuple[str, ...]]


class DraftInvalid(ValueError):
    """A value of the draft is not what the renderer can use; `field` is its path, e.g. draft.t[0].sg[2].v."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field} {why}")
        self.field = field


def _first(d: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str, Any] | None:
    for name in names:
        if name in d and d[name] is not None:
            return name, d[name]
    return None


def _as_float(value: int | float) -> float:
    """`float(value)`, but an integer too large for a float (JSON allows 400 digits) is infinite instead
    of an OverflowError, so it is refused like Infinity rather than crashing the request (a red-team
    finding: `"d": 1000…0` answered 500)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _number(field: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DraftInvalid(field, f"must be a number, not {shown(value)}")
    number = _as_float(value)
    if not math.isfinite(number):
        raise DraftInvalid(field, f"must be a finite number, not {shown(value)}")
    if number < low or number > high:
        raise DraftInvalid(field, f"must be between {low:g} and {high:g}, not {shown(value)}")
    return number


def _no_surrogate(value: str) -> None:
    if not value.isascii() and _SURROGATE.search(value):
        raise DraftInvalid(
            "draft", f"has a text with a lone UTF-16 surrogate, not valid Unicode: {shown(value)}"
        )


def _depth_ok(draft: Any) -> None:
    """Iterative, so a draft nested a thousand levels deep is refused without recursing. Every text (and
    key) is valid Unicode too: a lone surrogate once failed the render as "internal error"."""
    stack: list[tuple[Any, int]] = [(draft, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise DraftInvalid("draft", f"is nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, str):
            _no_surrogate(value)
        elif isinstance(value, Mapping):
            for key in value:
                if isinstance(key, str):
                    _no_surrogate(key)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def _string(field: str, value: Any, limit: int) -> None:
    if not isinstance(value, str):
        raise DraftInvalid(field, f"must be a string, not {shown(value)}")
    if len(value) > limit:
        raise DraftInvalid(field, f"is {len(value)} characters long (at most {limit})")


def _segment(field: str, seg: Any, limits: Limits, max_ms: float, keys: Keys) -> tuple[float, float]:
    """Check one segment; returns where it starts and ends (ms)."""
    if not isinstance(seg, Mapping):
        raise DraftInvalid(field, "must be an object")
    values: dict[str, float] = {}
    for name in _TIMES:
        found = _first(seg, keys[name])
        if found is not None:  # start and duration: their sum is checked against the export limit below
            high = math.inf if name in ("start", "duration") else max_ms
            values[name] = _number(f"{field}.{found[0]}", found[1], 0, high)
    offset = _first(seg, keys["source_offset"])
    if offset is not None:
        _number(f"{field}.{offset[0]}", offset[1], 0, MAX_SOURCE_OFFSET_MS)
    volume = _first(seg, keys["volume"])
    if volume is not None:
        _number(f"{field}.{volume[0]}", volume[1], 0, 100)
    text = _first(seg, keys["text"])
    if text is not None:
        _string(f"{field}.{text[0]}", text[1], limits.text_chars)
    source = _first(seg, keys["src"])
    if source is not None:
        _string(f"{field}.{source[0]}", source[1], MAX_STRING_CHARS)
    end = values.get("start", 0.0) + values.get("duration", 0.0)
    if end > max_ms:
        raise LimitExceeded(
            "export_seconds",
            field,
            round(end / 1000, 3),
            limits,
            f"{field} ends at {end / 1000:g} s, beyond the export limit of {limits.shown('export_seconds')}",
        )
    return values.get("start", 0.0), end


def check_draft(draft: Any, limits: Limits) -> None:
    """Raise DraftInvalid (a value the renderer can't use, or a draft it cannot render) or LimitExceeded
    (tracks, segments, length)."""
    # the renderer is imported here, not at the top: this runs in a thread, off the event loop
    from nemo_local.renderer import RenderError
    from nemo_local.renderer.timeline import TEXT, most_at_once, parse_draft, track_kind

    if not isinstance(draft, Mapping):
        raise DraftInvalid("draft", "must be an object")
    _depth_ok(draft)
    max_ms = limits.export_seconds * 1000
    tracks = _first(draft, KEYS["tracks"])
    if tracks is None or not isinstance(tracks[1], list):
        raise DraftInvalid("draft.t", "must be a list of tracks")
    key, track_list = tracks
    if len(track_list) > limits.draft_tracks:
        raise LimitExceeded("draft_tracks", f"draft.{key}", len(track_list), limits)

    segments = 0
    titles: list[tuple[float, float]] = []
    for ti, track in enumerate(track_list):
        tfield = f"draft.{key}[{ti}]"
        if not isinstance(track, Mapping):
            raise DraftInvalid(tfield, "must be an object")
        kind = _first(track, KEYS["type"])
        if kind is not None and (isinstance(kind[1], bool) or not isinstance(kind[1], int | str)):
            raise DraftInvalid(
                f"{tfield}.{kind[0]}", f"must be a track type code or name, not {shown(kind[1])}"
            )
        titled = kind is not None and track_kind(kind[1]) == TEXT
        found = _first(track, KEYS["segments"])
        if found is None:
            continue
        skey, segs = found
        if not isinstance(segs, list):
            raise DraftInvalid(f"{tfield}.{skey}", "must be a list of segments")
        segments += len(segs)
        if segments > limits.draft_segments:
            raise LimitExceeded("draft_segments", "draft", f"more than {limits.draft_segments}", limits)
        for si, seg in enumerate(segs):
            start, end = _segment(f"{tfield}.{skey}[{si}]", seg, limits, max_ms, KEYS)
            text = _first(seg, KEYS["text"])
            if titled and end > start and text is not None and str(text[1]).strip():
                titles.append((start, end))
    # the renderer's own counter, asked before any work (it holds every visible title while drawing)
    at_once = most_at_once(titles)
    if at_once > limits.titles_at_once:
        raise LimitExceeded("titles_at_once", "titles visible at one instant", at_once, limits)
    declared = _first(draft, KEYS["draft_duration"])
    if declared is not None:
        field = f"draft.{declared[0]}"
        value = declared[1]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(_as_float(value))
        ):
            raise DraftInvalid(field, f"must be a finite number of milliseconds, not {shown(value)}")
        if value < 0:
            raise DraftInvalid(field, f"must not be negative, not {value!r}")
        if value > max_ms:
            raise LimitExceeded(
                "export_seconds",
                field,
                round(float(value) / 1000, 3),
                limits,
                f"{field} makes the export {float(value) / 1000:g} s long (limit {limits.shown('export_seconds')})",
            )
    meta = _first(draft, KEYS["meta"])
    if meta is not None:
        mkey, mvalue = meta
        if not isinstance(mvalue, Mapping):
            raise DraftInvalid(f"draft.{mkey}", "must be an object")
        for side in ("width", "height"):
            if mvalue.get(side) is not None:
                _number(f"draft.{mkey}.{side}", mvalue[side], 0, MAX_SIDE)
    try:
        parse_draft(draft, limits)
    except RenderError as exc:  # e.g. nothing to export, a clip without a source: the renderer's words
        raise DraftInvalid("draft", f"cannot be exported: {exc}") from exc
