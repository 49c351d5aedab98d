"""Every example DAG loads, and runs green under dag.test() against a real nemo_local server.

Files are checked by probing them with PyAV (there is no ffprobe binary here): container, streams,
duration and, for the 1080p exports, the frame size.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "example_dags"
TRACK_S = 6


def local(path_or_uri: str | Path) -> Path:
    """The file behind an export's path or ``file://`` URI (Asset events carry URIs)."""
    text = str(path_or_uri)
    return Path(text[len("file://") :] if text.startswith("file://") else text)


def probe(path: str | Path) -> dict[str, Any]:
    with av.open(str(local(path))) as container:
        video = [s for s in container.streams if s.type == "video"]
        audio = [s for s in container.streams if s.type == "audio"]
        return {
            "duration": (container.duration or 0) / 1_000_000,
            "has_audio": bool(audio),
            "video_size": (video[0].codec_context.width, video[0].codec_context.height) if video else None,
        }


@pytest.fixture(scope="module")
def dagbag(airflow_db: Path):
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag

    return DagBag(dag_folder=str(EXAMPLES), safe_mode=False)


@pytest.fixture
def nemo_env(nemo_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Point nemo_default at the real local server through an environment connection."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_NEMO_DEFAULT", json.dumps({"conn_type": "nemo", "host": nemo_server.base_url})
    )
    out = tmp_path / "exports"
    monkeypatch.setenv("NEMO_EXPORT_DIR", str(out))
    return out


def test_dagbag_loads_every_example_without_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert {
        "nemo_weekly_background_tracks",
        "nemo_generate_from_ui",
        "nemo_video_soundtrack",
        "nemo_video_soundtrack_consumer",
    } <= set(dagbag.dag_ids)
    weekly = dagbag.get_dag("nemo_weekly_background_tracks")
    assert weekly.catchup is False
    ui = dagbag.get_dag("nemo_generate_from_ui")
    assert set(ui.params.keys()) >= {"prompt", "mood", "duration_s", "output_format", "loop"}
    assert ui.get_task("export").deferrable is True


def _run(dagbag, dag_id: str, conf: dict[str, Any]):
    dag = dagbag.get_dag(dag_id)
    dr = dag.test(run_conf=conf)
    states = {
        ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): ti.state
        for ti in dr.get_task_instances()
    }
    assert dr.state == "success", states
    return dr


def _xcom(dr, task_id: str, map_index: int = -1) -> Any:
    ti = dr.get_task_instance(task_id, map_index=map_index)
    return ti.xcom_pull(task_ids=task_id, map_indexes=map_index)


@pytest.mark.e2e
def test_generate_from_ui_runs_green(dagbag, nemo_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No output_dir in the form: the export goes to the `nemo_export_destination` Variable, an
    # object-storage URI (file:// here, through the same ObjectStoragePath code as s3://).
    bucket = nemo_env / "bucket"
    monkeypatch.setenv("AIRFLOW_VAR_NEMO_EXPORT_DESTINATION", f"file://{bucket}")
    conf = {
        "prompt": "gentle piano",
        "mood": "calm",
        "duration_s": TRACK_S,
        "output_format": "mp3",
        "loop": True,
    }
    dr = _run(dagbag, "nemo_generate_from_ui", conf)
    result = _xcom(dr, "export")
    assert result["path"].startswith(f"file://{bucket}/"), result["path"]
    path = local(result["path"])
    assert path.suffix == ".mp3" and path.is_relative_to(bucket)
    assert path.stat().st_size == result["size"]
    info = probe(path)
    assert info["has_audio"] and info["video_size"] is None
    assert abs(info["duration"] - TRACK_S) < 1.5


@pytest.mark.e2e
def test_weekly_tracks_runs_green_with_mapping_and_assets(dagbag, nemo_env: Path) -> None:
    prompts = ["calm lo-fi", "upbeat corporate"]
    dr = _run(
        dagbag,
        "nemo_weekly_background_tracks",
        {"prompts": prompts, "duration_s": TRACK_S, "output_dir": str(nemo_env)},
    )
    for i, prompt in enumerate(prompts):
        extra = _xcom(dr, "track.publish", i)
        assert extra["prompt"] == prompt
        assert extra["mp3"].startswith("file://") and extra["mp4"].startswith("file://"), "events carry URIs"
        assert local(extra["mp3"]).is_relative_to(nemo_env)
        assert extra["bpm"] and extra["key"]
        mp3, mp4 = probe(extra["mp3"]), probe(extra["mp4"])
        assert mp3["has_audio"] and mp3["video_size"] is None
        assert mp4["has_audio"] and mp4["video_size"] == (1920, 1080)
        assert abs(mp4["duration"] - TRACK_S) < 1.5
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        events = session.scalars(select(AssetEvent).where(AssetEvent.source_run_id == dr.run_id)).all()
        assert sorted(e.extra["prompt"] for e in events) == sorted(prompts)


@pytest.mark.e2e
def test_video_soundtrack_runs_green_and_feeds_the_consumer(dagbag, nemo_env: Path) -> None:
    dr = _run(
        dagbag,
        "nemo_video_soundtrack",
        {"test_video_seconds": TRACK_S, "title": "Launch Day", "output_dir": str(nemo_env)},
    )
    extra = _xcom(dr, "publish")
    assert extra["path"].startswith("file://"), "the Asset event carries a URI"
    info = probe(extra["path"])
    assert info["video_size"] == (1920, 1080) and info["has_audio"]
    assert abs(info["duration"] - TRACK_S) < 1.5, "the music was fitted to the video's length"
    state = _xcom(dr, "add_title")
    assert "Launch Day" in (state["timeline_summary"] or "")
