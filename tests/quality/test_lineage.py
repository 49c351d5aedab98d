"""OpenLineage end to end: example DAGs under dag.test() with the OpenLineage provider's file transport.

The DAGs run in a fresh process (the provider reads its configuration once per process) against the
session's real nemo_local server; the emitted events are read back from the file and checked against
the delivered files and nemo_local's own database.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def _complete(events: list[dict[str, Any]], job: str) -> dict[str, Any]:
    done = [e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"] == job]
    assert len(done) == 1, [e["job"]["name"] for e in events]
    return done[0]


@pytest.mark.e2e
@pytest.mark.slow
def test_lineage_events_carry_inputs_outputs_and_the_nemo_facet(nemo_server, tmp_path: Path) -> None:
    events_file = tmp_path / "openlineage.jsonl"
    out = tmp_path / "exports"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "nemo-test",
        # a client id of its own: its anonymous token's credits are not shared with other tests
        "AIRFLOW_CONN_NEMO_DEFAULT": json.dumps(
            {"conn_type": "nemo", "host": nemo_server.base_url, "extra": {"client_id": str(uuid.uuid4())}}
        ),
        "NEMO_EXPORT_DIR": str(out),
        "PYTHONPATH": str(REPO),
    }
    # upload, generate and export run as their own tasks here; the check operator's lineage is
    # exercised in tests/operators/test_quality.py (and its DAG in test_gated_dag.py)
    runs = [f"nemo_video_soundtrack={json.dumps({'test_video_seconds': 4, 'output_dir': str(out)})}"]
    proc = subprocess.run(
        [sys.executable, str(HERE / "lineage_run.py"), str(events_file), *runs],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=420,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith('{"dag_id"')]
    assert [(r["dag_id"], r["state"]) for r in results] == [("nemo_video_soundtrack", "success")], (
        proc.stdout[-3000:]
    )
    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]

    upload = _complete(events, "nemo_video_soundtrack.upload_video")
    [source] = upload["inputs"]
    assert source["namespace"] == "file" and source["name"].endswith("input-video.mp4")
    server_ns = nemo_server.base_url  # http://127.0.0.1:<port>
    assert [d["namespace"] for d in upload["outputs"]] == [server_ns]
    assert upload["run"]["facets"]["nemo"]["nemo"]["uploads"][0]["file_type"] == "video"

    music = _complete(events, "nemo_video_soundtrack.compose_music")
    facet = music["run"]["facets"]["nemo"]["nemo"]
    assert facet["credits_spent"] == 10 and facet["media"][0]["bpm"]
    assert [d["namespace"] for d in music["outputs"]] == [server_ns]

    export = _complete(events, "nemo_video_soundtrack.export_1080p")
    [delivered] = export["outputs"]
    assert delivered["namespace"] == "file" and delivered["name"].endswith("with-soundtrack.mp4")
    facet = export["run"]["facets"]["nemo"]["nemo"]
    assert facet["file"]["sha256"] == hashlib.sha256(Path(delivered["name"]).read_bytes()).hexdigest()
    assert facet["engine"]["name"] == "nemo_local" and "no samples" in facet["licence"]["statement"]
    assert isinstance(facet["quality"]["passed"], bool) and facet["quality"]["summary"]
    db = sqlite3.connect(f"file:{nemo_server.data_dir / 'nemo_local.sqlite3'}?mode=ro", uri=True)
    try:
        # the client names the render (render_<ms>); nemo_local keys it by its own id and keeps the name
        rows = dict(db.execute("SELECT name, status || ' ' || format FROM renders").fetchall())
    finally:
        db.close()
    assert rows.get(facet["render_id"]) == "completed mp4", (facet["render_id"], rows)
