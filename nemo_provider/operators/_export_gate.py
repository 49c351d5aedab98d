"""The end of an export: the quality gate, the manifest, and what lineage needs (``_export.finish``).

Expectations come from what the session says it made and what the export asked: the timeline's length,
the music's tempo, key and loudness (when the music is the only thing heard), loopability (when the file
is the loop itself), the format's codecs and the quality's picture size. ``expect=`` overrides any of them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from nemo_provider.operators._export import ExportSpec
    from nemo_provider.quality.expect import Expectations

#: A music segment counts as "the whole file" when it covers the timeline to within this.
_COVER_MS = 50.0


def music_of(facts: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the generated track on the timeline, its segment) when that track is the only thing heard."""
    media = facts.get("media") or []
    audible = (facts.get("timeline") or {}).get("audible") or []
    if len(audible) != 1 or audible[0]["kind"] != "audio" or not media:
        return None, None
    seg = audible[0]
    by_id = {m.get("id"): m for m in media}
    return by_id.get(seg.get("media_id"), media[-1]), seg


def expectations_for_export(facts: dict[str, Any], fmt: str, quality: str) -> Expectations:
    from nemo_provider.quality import Expectations
    from nemo_provider.quality.formats import AUDIO_ONLY, VIDEO_LINES

    fmt = (fmt or "").lower()
    tl = facts.get("timeline") or {}
    exp = Expectations(format=fmt)
    if tl.get("duration_ms"):
        exp.duration_s = float(tl["duration_ms"]) / 1000
    if fmt not in AUDIO_ONLY and fmt != "gif":
        exp.lines = VIDEO_LINES.get((quality or "").lower())
    music, seg = music_of(facts)
    if music is None or seg is None:
        exp.silence = False  # other sources (an uploaded clip's sound, silence under a title) are unknown
        return exp
    exp.bpm = music.get("bpm")
    exp.key = music.get("key")
    start = float(seg.get("start_ms") or 0)
    length = float(seg.get("duration_ms") or 0)
    covers = start <= _COVER_MS and abs(start + length - float(tl.get("duration_ms") or length)) <= _COVER_MS
    faded = (seg.get("fade_in_ms") or 0) + (seg.get("fade_out_ms") or 0) > 0.1 * max(length, 1.0)
    if music.get("lufs") is not None and covers and not faded:
        volume = float(seg.get("volume") or 1.0)
        exp.lufs = float(music["lufs"]) + 20 * math.log10(volume)
    exp.silence = covers
    exp.loop = bool(
        music.get("loop")
        and fmt in AUDIO_ONLY
        and covers
        and not faded
        and abs(length - float(music.get("duration_ms") or 0)) <= _COVER_MS
    )
    return exp


def finish_export(
    op: ExportSpec,
    log: Any,
    client: Any,
    status: Any,
    path: str,
    size: int,
    facts: dict[str, Any],
    record_lineage: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """Gate, manifest and lineage for a delivered export; returns the result's media/quality/manifest.

    The lineage is recorded before a failing gate raises, so a failed check still names its file."""
    from nemo_provider.operators import _manifest
    from nemo_provider.operators._local_copy import local_copy, sha256_of
    from nemo_provider.operators.quality import NemoQualityError, resolve_policy

    media = facts.get("media") or []
    policy = resolve_policy(op.quality_check)
    result = None
    sha256 = None
    if policy != "off" or op.manifest:
        with local_copy(path) as local:
            sha256 = sha256_of(local)
            if policy != "off":
                result = _gate(op, local, facts)
    quality = result.as_dict() if result is not None else None
    manifest_at = None
    manifest: dict[str, Any] | None = None
    if op.manifest:
        manifest = _manifest.build(
            uri=path,
            fmt=op.format,
            size=size,  # as delivered and verified (deliver() measured it, local or object storage)
            sha256=sha256,
            session_id=op.session_id,
            render_id=status.id,
            media=media,
            base_url=getattr(client, "base_url", None),
            credits_spent=op.credits_spent,
            quality=quality,
        )
        manifest_at = _manifest.write(path, manifest)
        log.info("Manifest written to %s.", manifest_at)
    record_lineage({"inputs": [], "outputs": [path], "facet": _facet(manifest, quality, op, status, media)})
    if result is not None and not result.passed:
        if policy == "fail":
            raise NemoQualityError.from_result(f"Render {status.id} ({path})", result)
        log.warning("Render %s missed the quality check: %s", status.id, result.summary())
    elif result is not None:
        log.info("Render %s passed the quality check: %s", status.id, result.summary())
    return {"media": media, "quality": quality, "manifest": manifest_at}


def _gate(op: ExportSpec, local: str, facts: dict[str, Any]) -> Any:
    from nemo_provider import quality
    from nemo_provider.quality.checking import Outcome, QualityResult
    from nemo_provider.quality.measuring import MediaUnreadableError

    expect = expectations_for_export(facts, op.format, op.quality).merged(op.expect)
    try:
        report = quality.measure(local)
    except MediaUnreadableError as err:
        miss = Outcome("readable", False, str(err), "decodable media")
        return QualityResult(passed=False, outcomes=[miss], measured={}, expected=expect.as_dict())
    return quality.check(report, expect)


def _facet(
    manifest: dict[str, Any] | None,
    quality: dict[str, Any] | None,
    op: ExportSpec,
    status: Any,
    media: list[Any],
) -> dict[str, Any]:
    """The custom run facet: the manifest's fields (without the full measurement) and the gate's verdict."""
    if manifest is not None:
        facet = {k: v for k, v in manifest.items() if k not in ("quality", "media", "schema", "created_at")}
    else:
        facet = {"session_id": op.session_id, "render_id": status.id}
    if quality is not None:
        facet["quality"] = {k: quality.get(k) for k in ("passed", "summary", "misses", "notes")}
    else:
        facet["quality"] = None
    return facet
