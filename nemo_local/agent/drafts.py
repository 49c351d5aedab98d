"""Pure edits of a draft in the contract's short-key form (t, tt, sg, d, m; segment id, s, d, src, txt,
v, fi, fo, m, ss). Unknown keys a client put on the draft are left untouched."""

from __future__ import annotations

import copy
import secrets
from typing import Any

VIDEO, AUDIO, TEXT = 0, 1, 7
Draft = dict[str, Any]


def seg_id() -> str:
    return "seg_" + secrets.token_hex(6)


def empty_draft(title: str = "project", width: int = 1920, height: int = 1080) -> Draft:
    return {"t": [], "d": 0, "m": {"title": title, "width": width, "height": height}}


def tracks(draft: Draft, tt: int) -> list[dict[str, Any]]:
    return [t for t in draft.get("t", []) if t.get("tt") == tt]


def ensure_track(draft: Draft, tt: int) -> dict[str, Any]:
    found = tracks(draft, tt)
    if found:
        return found[0]
    track: dict[str, Any] = {"tt": tt, "sg": []}
    draft.setdefault("t", []).append(track)
    return track


def music_segment(draft: Draft) -> dict[str, Any] | None:
    for track in tracks(draft, AUDIO):
        for seg in track.get("sg", []):
            if seg.get("m", {}).get("generated"):
                return dict(seg) if not isinstance(seg, dict) else seg
    return None


def video_length_ms(draft: Draft) -> int:
    ends = [int(s.get("s", 0)) + int(s.get("d", 0)) for t in tracks(draft, VIDEO) for s in t.get("sg", [])]
    return max(ends, default=0)


def recompute_duration(draft: Draft) -> Draft:
    ends = [int(s.get("s", 0)) + int(s.get("d", 0)) for t in draft.get("t", []) for s in t.get("sg", [])]
    draft["d"] = max(ends, default=0)
    return draft


def set_music(draft: Draft, src: str, duration_ms: int, meta: dict[str, Any]) -> Draft:
    """Put a generated track on the audio track, replacing the previous one but keeping its volume/fades."""
    out = copy.deepcopy(draft)
    old = music_segment(out)
    seg = {
        "id": seg_id(),
        "s": 0,
        "d": duration_ms,
        "src": src,
        "ss": 0,
        "v": old.get("v", 1.0) if old else 1.0,
        "fi": min(old.get("fi", 0), duration_ms) if old else 0,
        "fo": min(old.get("fo", 0), duration_ms) if old else 0,
        "m": {**meta, "generated": True},
    }
    track = ensure_track(out, AUDIO)
    if old is not None:
        track["sg"] = [seg if s is old else s for s in track["sg"]]
    else:
        track["sg"].append(seg)
    return recompute_duration(out)


def set_volume(draft: Draft, volume: float | None = None, scale: float | None = None) -> Draft:
    out = copy.deepcopy(draft)
    seg = music_segment(out)
    if seg is not None:
        current = float(seg.get("v", 1.0))
        seg["v"] = round(max(0.0, min(1.0, volume if volume is not None else current * (scale or 1.0))), 3)
    return out


def set_fade(draft: Draft, which: str, ms: int) -> Draft:
    out = copy.deepcopy(draft)
    seg = music_segment(out)
    if seg is not None:
        seg[which] = max(0, min(int(ms), int(seg.get("d", 0))))
    return out


def add_title(draft: Draft, text: str, duration_ms: int, start_ms: int = 0) -> Draft:
    out = copy.deepcopy(draft)
    track = ensure_track(out, TEXT)
    track["sg"].append(
        {"id": seg_id(), "s": start_ms, "d": duration_ms, "txt": text, "m": {"style": "title"}}
    )
    return recompute_duration(out)


def add_visual(draft: Draft, src: str, duration_ms: int, meta: dict[str, Any]) -> Draft:
    """An uploaded video or picture goes at the end of the video track; the first one sets the canvas."""
    out = copy.deepcopy(draft)
    track = ensure_track(out, VIDEO)
    start = max((int(s["s"]) + int(s["d"]) for s in track["sg"]), default=0)
    if not track["sg"] and meta.get("width") and meta.get("height"):
        portrait = meta["height"] > meta["width"]
        out.setdefault("m", {}).update(
            {"width": 1080 if portrait else 1920, "height": 1920 if portrait else 1080}
        )
    track["sg"].append({"id": seg_id(), "s": start, "d": duration_ms, "src": src, "ss": 0, "m": meta})
    return recompute_duration(out)


def add_audio(draft: Draft, src: str, duration_ms: int, meta: dict[str, Any]) -> Draft:
    out = copy.deepcopy(draft)
    track = ensure_track(out, AUDIO)
    track["sg"].append({"id": seg_id(), "s": 0, "d": duration_ms, "src": src, "ss": 0, "v": 1.0, "m": meta})
    return recompute_duration(out)


def _span(seg: dict[str, Any]) -> str:
    start, dur = int(seg.get("s", 0)), int(seg.get("d", 0))
    return f"{start / 1000:g}-{(start + dur) / 1000:g}s"


def summary(draft: Draft | None) -> str:
    """The one-line timeline summary of the contract."""
    if not draft or not draft.get("t"):
        return "Timeline (0 tracks): empty"
    items = []
    n = 0
    for track in draft["t"]:
        for seg in track.get("sg", []):
            n += 1
            meta = seg.get("m", {})
            tt = track.get("tt")
            if tt == TEXT:
                items.append(f'{n}. Title: "{seg.get("txt", "")}" ({_span(seg)})')
            elif tt == AUDIO:
                name = meta.get("title") or meta.get("name") or "Audio"
                items.append(f"{n}. BGM: {name} ({_span(seg)}, {round(float(seg.get('v', 1.0)) * 100)}%)")
            else:
                items.append(f"{n}. Video: {meta.get('name', 'clip')} ({_span(seg)})")
    return f"Timeline ({len(draft['t'])} tracks): " + " ".join(items)
