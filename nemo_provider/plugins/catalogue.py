"""The delivered tracks, read from Airflow's metadata database (the export operators' XComs).

Source of truth: every task instance that started a Nemo render pushed a ``render_id`` XCom, and its
``return_value`` holds the delivery (``{render_id, url, path, format, size, duration}``, plus
``media``, ``quality`` and ``manifest`` where the quality gate added them). NemoPromptOperator's export
action nests the same dict under ``result``. The track's musical metadata (title, prompt, bpm, key,
loudness, credits) comes from ``media`` when present, else from the NemoGenerateOperator of the same
run and map index (the one whose session the export rendered, when that is known).

Only the page's rows are decoded: counting and paging happen in SQL, so a list of thousands answers in
one page's time (bench/ui_tracks.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, and_, cast, func, select, tuple_
from sqlalchemy.orm import aliased

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: XCom key every render-starting task pushes (NemoExportOperator, NemoPromptOperator's export action).
RENDER_ID_KEY = "render_id"
RETURN_KEY = "return_value"
GENERATE_OPERATORS = ("NemoGenerateOperator",)
#: Formats the browser gets a <video> element for; GIF (animation, no sound) gets an <img>; the rest <audio>.
VIDEO_FORMATS = frozenset({"mp4", "mov", "webm", "mkv", "avi"})
ANIMATION_FORMATS = frozenset({"gif"})
PAGE_SIZE = 25
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class TrackFilter:
    """What the user narrowed the list to; ``dag_ids`` is what the user may read (None: everything)."""

    dag_ids: frozenset[str] | None = None
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    map_index: int | None = None
    q: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass
class Track:
    """One delivered file and what is known about it; ``asdict`` is the JSON API's item."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    delivered_at: str | None
    render_id: str | None
    format: str | None
    size: int | None
    duration: float | None
    path: str | None
    manifest: str | None = None
    title: str | None = None
    prompt: str | None = None
    bpm: float | None = None
    key: str | None = None
    mood: str | None = None
    seed: int | None = None
    lufs: float | None = None
    credits_spent: float | None = None
    quality: dict[str, Any] | None = None
    run_state: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_video(self) -> bool:
        return (self.format or "").lower() in VIDEO_FORMATS

    @property
    def is_animation(self) -> bool:
        return (self.format or "").lower() in ANIMATION_FORMATS

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["is_video"] = self.is_video
        return data


def _value(raw: Any) -> Any:
    """An XCom value as stored (JSON column; older rows may hold a JSON string)."""
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def delivery(value: Any) -> dict[str, Any] | None:
    """The export dict inside a return value, or None when the task delivered no file."""
    value = _value(value)
    if isinstance(value, dict) and isinstance(value.get("result"), dict) and value.get("action") == "export":
        value = value["result"]
    if isinstance(value, dict) and value.get("path"):
        return value
    return None


def _base_query(flt: TrackFilter) -> Any:
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel

    ret = aliased(XComModel, name="ret")
    rid = aliased(XComModel, name="rid")
    stmt = (
        select(ret, DagRun.state)
        .join(
            rid,
            and_(
                rid.dag_run_id == ret.dag_run_id,
                rid.task_id == ret.task_id,
                rid.map_index == ret.map_index,
                rid.key == RENDER_ID_KEY,
            ),
        )
        .join(DagRun, DagRun.id == ret.dag_run_id)
        .where(ret.key == RETURN_KEY)
    )
    if flt.dag_ids is not None:
        stmt = stmt.where(ret.dag_id.in_(sorted(flt.dag_ids)))
    if flt.dag_id:
        stmt = stmt.where(ret.dag_id == flt.dag_id)
    if flt.run_id:
        stmt = stmt.where(ret.run_id == flt.run_id)
    if flt.task_id:
        stmt = stmt.where(ret.task_id == flt.task_id)
    if flt.map_index is not None:
        stmt = stmt.where(ret.map_index == flt.map_index)
    if flt.since:
        stmt = stmt.where(ret.timestamp >= flt.since)
    if flt.until:
        stmt = stmt.where(ret.timestamp < flt.until)
    if flt.q:
        # one scan of the return values for the text, then the exports of those (run, map index):
        # a correlated EXISTS per export row was 100x slower on SQLite
        gen = aliased(XComModel, name="gen")
        like = f"%{flt.q.strip().lower()}%"
        matching = select(gen.dag_run_id, gen.map_index).where(
            gen.key == RETURN_KEY, func.lower(cast(gen.value, String)).like(like)
        )
        stmt = stmt.where(tuple_(ret.dag_run_id, ret.map_index).in_(matching))
    return stmt, ret


def list_tracks(
    session: Session, flt: TrackFilter, *, page: int = 1, page_size: int = PAGE_SIZE
) -> tuple[list[Track], int]:
    """One page of tracks, newest delivery first, and how many match in total."""
    page = max(1, page)
    page_size = max(1, min(MAX_PAGE_SIZE, page_size))
    stmt, ret = _base_query(flt)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(ret.timestamp.desc(), ret.task_id, ret.map_index)
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    rows = list(rows)
    tracks = [_track(row[0], row[1]) for row in rows]
    _add_generation_metadata(session, rows, tracks)
    return tracks, int(total)


def get_track(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int) -> Track | None:
    """One task instance's delivery (None when it delivered nothing)."""
    tracks, _ = list_tracks(
        session, TrackFilter(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index), page_size=1
    )
    return tracks[0] if tracks else None


def _track(xcom: Any, run_state: Any) -> Track:
    value = delivery(xcom.value) or {}
    ts = xcom.timestamp
    track = Track(
        dag_id=xcom.dag_id,
        run_id=xcom.run_id,
        task_id=xcom.task_id,
        map_index=xcom.map_index,
        delivered_at=ts.isoformat() if ts is not None else None,
        render_id=value.get("render_id"),
        format=value.get("format"),
        size=value.get("size"),
        duration=value.get("duration"),
        path=value.get("path"),
        manifest=value.get("manifest"),
        quality=value.get("quality") if isinstance(value.get("quality"), dict) else None,
        run_state=str(getattr(run_state, "value", run_state)) if run_state is not None else None,
    )
    media = value.get("media")
    if isinstance(media, list) and media and isinstance(media[-1], dict):
        _apply_media(track, media[-1])
    return track


def _apply_media(track: Track, media: dict[str, Any]) -> None:
    for name in ("title", "prompt", "bpm", "key", "mood", "seed", "lufs"):
        if getattr(track, name) is None and media.get(name) is not None:
            setattr(track, name, media[name])


def _add_generation_metadata(session: Session, rows: list[Any], tracks: list[Track]) -> None:
    """Fill title/prompt/bpm/key/loudness/credits from the run's generate tasks (one query per page)."""
    if not rows:
        return
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel

    run_ids = {row[0].dag_run_id for row in rows}
    generated = session.execute(
        select(XComModel.dag_run_id, XComModel.task_id, XComModel.map_index, XComModel.value)
        .join(
            TaskInstance,
            and_(
                TaskInstance.dag_id == XComModel.dag_id,
                TaskInstance.run_id == XComModel.run_id,
                TaskInstance.task_id == XComModel.task_id,
                TaskInstance.map_index == XComModel.map_index,
            ),
        )
        .where(
            XComModel.dag_run_id.in_(run_ids),
            XComModel.key == RETURN_KEY,
            TaskInstance.operator.in_(GENERATE_OPERATORS),
        )
    ).all()
    by_run: dict[tuple[int, int], list[tuple[str, dict[str, Any]]]] = {}
    for dag_run_id, task_id, map_index, value in generated:
        value = _value(value)
        if isinstance(value, dict):
            by_run.setdefault((dag_run_id, map_index), []).append((task_id, value))
    sessions = _rendered_sessions(session, rows)
    for row, track in zip(rows, tracks, strict=True):
        candidates = by_run.get((row[0].dag_run_id, row[0].map_index), [])
        ident = (track.dag_id, track.run_id, track.task_id, track.map_index)
        chosen = _pick_generate(candidates, sessions.get(ident), track.task_id)
        if chosen is None:
            continue
        media = chosen.get("generated_media") or []
        if media and isinstance(media[-1], dict):
            _apply_media(track, media[-1])
        if track.credits_spent is None and chosen.get("credits_spent") is not None:
            track.credits_spent = chosen["credits_spent"]


def _pick_generate(
    candidates: list[tuple[str, dict[str, Any]]], session_id: str | None, export_task_id: str
) -> dict[str, Any] | None:
    """The generate task whose session was exported; else the one sharing the export's task group."""
    if not candidates:
        return None
    if session_id:
        for _task_id, value in candidates:
            if value.get("session_id") == session_id:
                return value
    group = export_task_id.rpartition(".")[0]
    same_group = [v for t, v in candidates if t.rpartition(".")[0] == group]
    if same_group:
        return same_group[-1]
    return candidates[-1][1] if len(candidates) == 1 else None


def _rendered_sessions(session: Session, rows: list[Any]) -> dict[tuple[str, str, str, int], str]:
    """The export tasks' rendered ``session_id`` by task instance, from rendered template fields."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF

    wanted = {(r[0].dag_id, r[0].run_id, r[0].task_id, r[0].map_index) for r in rows}
    dag_ids = {w[0] for w in wanted}
    run_ids = {w[1] for w in wanted}
    found: dict[tuple[str, str, str, int], str] = {}
    for dag_id, run_id, task_id, map_index, fields in session.execute(
        select(RTIF.dag_id, RTIF.run_id, RTIF.task_id, RTIF.map_index, RTIF.rendered_fields).where(
            RTIF.dag_id.in_(dag_ids), RTIF.run_id.in_(run_ids)
        )
    ).all():
        if (dag_id, run_id, task_id, map_index) in wanted and isinstance(fields, dict):
            sid = fields.get("session_id")
            if isinstance(sid, str):
                found[(dag_id, run_id, task_id, map_index)] = sid
    return found
