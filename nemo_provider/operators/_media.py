"""What the session says it made, as plain dicts: the export's XCom ``media``, its expectations, its manifest.

The export reads the session state anyway (to find the draft); these facts are taken from it, so no
extra API call is made. Fields the service does not send are ``None``; extra fields a server adds
(nemo_local: ``genre``, ``loop``, ``instruments``, ``true_peak``, ``shape``, ``engine``) are kept.
"""

from __future__ import annotations

from typing import Any

#: Always present in each media dict (``None`` when the service did not say).
MEDIA_KEYS = ("id", "kind", "title", "prompt", "bpm", "key", "mood", "seed", "lufs", "duration_ms")

#: Kept when the service sends them: they make better expectations and a fuller manifest.
OPTIONAL_KEYS = ("genre", "loop", "instruments", "true_peak", "energy", "shape", "engine")


def session_media(state: Any) -> list[dict[str, Any]]:
    """``SessionState.generated_media`` -> JSON-safe dicts (no URLs: they may be signed)."""
    out: list[dict[str, Any]] = []
    for media in getattr(state, "generated_media", None) or []:
        dumped = media.model_dump(mode="json") if hasattr(media, "model_dump") else dict(media)
        item = {key: dumped.get(key) for key in MEDIA_KEYS}
        item.update({key: dumped[key] for key in OPTIONAL_KEYS if dumped.get(key) is not None})
        out.append(item)
    return out


def timeline(state: Any) -> dict[str, Any]:
    """The draft's facts the quality gate needs: its length, canvas and audible segments."""
    draft = getattr(state, "draft", None)
    if draft is None:
        return {}
    audible: list[dict[str, Any]] = []
    for track in draft.tracks:
        kind = track.kind
        if kind not in ("video", "audio", 0, 1):  # titles (7) and unknown kinds are silent
            continue
        for seg in track.segments:
            volume = 1.0 if seg.volume is None else float(seg.volume)
            if volume <= 0:
                continue
            meta = seg.metadata or {}
            audible.append(
                {
                    "kind": "audio" if kind in ("audio", 1) else "video",
                    "media_id": meta.get("media_id"),
                    "start_ms": seg.start_ms,
                    "duration_ms": seg.duration_ms,
                    "volume": volume,
                    "fade_in_ms": seg.fade_in_ms or 0,
                    "fade_out_ms": seg.fade_out_ms or 0,
                }
            )
    meta = draft.metadata or {}
    return {
        "duration_ms": draft.duration_ms,
        "width": meta.get("width"),
        "height": meta.get("height"),
        "audible": audible,
    }


def session_facts(state: Any) -> dict[str, Any]:
    """``{"media": [...], "timeline": {...}}``: small enough to carry through a deferral."""
    return {"media": session_media(state), "timeline": timeline(state)}
