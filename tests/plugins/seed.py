"""Rows in Airflow's metadata database as the export and generate operators leave them.

Used by the plugin tests and bench/ui_tracks.py to build a catalogue of any size in milliseconds
(core inserts, no DAG runs): a DAG, its runs, a NemoGenerateOperator and a NemoExportOperator task
instance per track with their XComs, plus the export's rendered ``session_id``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any


def seed_tracks(
    session: Any,
    dag_id: str,
    files: list[Path] | None = None,
    *,
    count: int | None = None,
    runs: int = 1,
    start: datetime | None = None,
    prompt: str = "calm piano for a study stream",
    with_quality: bool = False,
) -> list[dict[str, Any]]:
    """Insert ``count`` delivered tracks (default: one per file) spread over ``runs`` runs of ``dag_id``.

    Returns one dict per track: dag_id, run_id, task_id, map_index, path, size.
    """
    from airflow.models.dag import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.models.dagrun import DagRun
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as RTIF
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from sqlalchemy import insert, select

    files = files or []
    count = len(files) if count is None else count
    start = start or datetime(2026, 11, 1, tzinfo=timezone.utc)
    if session.scalar(select(DagBundleModel.name).where(DagBundleModel.name == "dags-folder")) is None:
        session.add(DagBundleModel(name="dags-folder"))
        session.flush()
    if session.scalar(select(DagModel.dag_id).where(DagModel.dag_id == dag_id)) is None:
        session.execute(
            insert(DagModel.__table__).values(
                dag_id=dag_id,
                bundle_name="dags-folder",
                max_active_tasks=16,
                max_consecutive_failed_dag_runs=0,
                has_task_concurrency_limits=False,
                is_paused=False,
            )
        )
    run_rows = []
    for r in range(runs):
        run_id = f"manual__{(start + timedelta(days=r)).isoformat()}"
        result = session.execute(
            insert(DagRun.__table__)
            .values(dag_id=dag_id, run_id=run_id, run_type="manual", state="success", run_after=start)
            .returning(DagRun.__table__.c.id)
        )
        run_rows.append((result.scalar_one(), run_id))
    tis, xcoms, rtifs, out = [], [], [], []
    per_run = max(1, -(-count // runs))
    for i in range(count):
        run_index = min(i // per_run, runs - 1)
        dag_run_id, run_id = run_rows[run_index]
        map_index = i % per_run
        path = files[i % len(files)] if files else Path(f"/nonexistent/track-{i}.mp3")
        size = path.stat().st_size if path.exists() else 1000 + i
        fmt = path.suffix.lstrip(".") or "mp3"
        session_id = f"s-{dag_id}-{i}"
        when = start + timedelta(days=run_index, minutes=i)
        for task_id, operator in (
            ("track.generate", "NemoGenerateOperator"),
            ("track.export", "NemoExportOperator"),
        ):
            tis.append(
                {
                    "id": uuid.uuid4(),
                    "task_id": task_id,
                    "dag_id": dag_id,
                    "run_id": run_id,
                    "map_index": map_index,
                    "pool": "default_pool",
                    "operator": operator,
                    "state": "success",
                    "try_number": 1,
                }
            )
        media = {
            "title": f"Track {i}",
            "prompt": f"{prompt} #{i}",
            "bpm": 80 + i % 40,
            "key": "G major",
            "mood": "calm",
            "seed": i,
            "lufs": -14.0,
            "duration_ms": 6000,
        }
        generated = {"session_id": session_id, "generated_media": [media], "credits_spent": 5, "texts": []}
        export = {
            "render_id": f"render_{i}",
            "url": f"http://127.0.0.1:9/files/render_{i}.{fmt}",
            "path": str(path),
            "format": fmt,
            "size": size,
            "duration": 6.0,
        }
        if with_quality:
            # the shape of the quality gate's QualityResult.as_dict()
            export["quality"] = {
                "passed": i % 2 == 0,
                "summary": "all 4 checks passed" if i % 2 == 0 else "1 check(s) missed: too quiet",
                "measured": {"lufs": -14.1},
            }
        common = {"dag_run_id": dag_run_id, "dag_id": dag_id, "run_id": run_id, "map_index": map_index}
        xcoms += [
            {
                **common,
                "task_id": "track.generate",
                "key": "return_value",
                "value": generated,
                "timestamp": when,
            },
            {
                **common,
                "task_id": "track.export",
                "key": "render_id",
                "value": export["render_id"],
                "timestamp": when,
            },
            {**common, "task_id": "track.export", "key": "return_value", "value": export, "timestamp": when},
        ]
        rtifs.append(
            {
                "dag_id": dag_id,
                "task_id": "track.export",
                "run_id": run_id,
                "map_index": map_index,
                "rendered_fields": {"session_id": session_id, "format": fmt},
            }
        )
        out.append({"dag_id": dag_id, "run_id": run_id, "task_id": "track.export", "map_index": map_index,
                    "path": str(path), "size": size})  # fmt: skip
    session.execute(insert(TaskInstance.__table__), tis)
    session.execute(insert(XComModel.__table__), xcoms)
    session.execute(insert(RTIF.__table__), rtifs)
    session.commit()
    return out
