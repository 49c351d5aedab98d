"""The session's generated media as plain dicts, for the export's XCom, its expectations and its manifest.

The export reads the session state anyway (to find the draft); these dicts are what it already holds,
so no extra API call is made. Fields the service does not send are ``None``; extra fields a server
adds (nemo_local: ``genre``, ``loop``, ``instruments``, ``true_peak``) are kept.
"""

from __future__ import annotations

from typing import Any

#: Always present in each dict (``None`` when the service did not say).
MEDIA_KEYS = ("id", "kind", "title", "prompt", "bpm", "key", "mood", "seed", "lufs", "duration_ms")

#: Kept when the service sends them: they make better expectations and a fuller manifest.
OPTIONAL_KEYS = ("genre", "loop", "instruments", "true_peak", "energy")


def session_media(state: Any) -> list[dict[str, Any]]:
    """``SessionState.generated_media`` -> JSON-safe dicts (no URLs: they may be signed)."""
    out: list[dict[str, Any]] = []
    for media in getattr(state, "generated_media", None) or []:
        dumped = media.model_dump(mode="json") if hasattr(media, "model_dump") else dict(media)
        item = {key: dumped.get(key) for key in MEDIA_KEYS}
        item.update({key: dumped[key] for key in OPTIONAL_KEYS if dumped.get(key) is not None})
        out.append(item)
    return out
