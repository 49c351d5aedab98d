"""The "regenerate with another seed until the check passes" example DAG, under dag.test() against a
real nemo_local: a first seed that misses is replaced by the next one; a miss on every seed fails."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest

from nemo_local.composer.form import fit_tempo
from nemo_local.composer.prompt import parse_prompt

REPO = Path(__file__).resolve().parents[2]
PROMPT = "warm acoustic guitar for a travel vlog"
SECONDS = 6


def _bpm(seed: int) -> float:
    """The tempo nemo_local will compose for the DAG's message with this seed (the gate measures it)."""
    plan = parse_prompt(f"Generate {PROMPT}. Make it {SECONDS} seconds long. Use seed {seed}.")
    return fit_tempo(plan.bpm, plan.duration_s, loop=plan.loop, named=plan.bpm_named)[0]


@pytest.fixture
def run(airflow_db, nemo_server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    from airflow.dag_processing.dagbag import DagBag

    # a client id of its own: its anonymous token's 100 credits are not shared with other tests
    conn = {"conn_type": "nemo", "host": nemo_server.base_url, "extra": {"client_id": str(uuid.uuid4())}}
    monkeypatch.setenv("AIRFLOW_CONN_NEMO_DEFAULT", json.dumps(conn))
    dag = DagBag(dag_folder=str(REPO / "example_dags" / "nemo_quality_gated.py"), safe_mode=False).get_dag(
        "nemo_quality_gated"
    )

    def _run(**conf):
        return dag.test(
            run_conf={"prompt": PROMPT, "duration_s": SECONDS, "output_dir": str(tmp_path), **conf}
        )

    return _run


def _renders(nemo_server, names: set[str]) -> int:
    db = sqlite3.connect(f"file:{nemo_server.data_dir / 'nemo_local.sqlite3'}?mode=ro", uri=True)
    try:
        return sum(1 for (name,) in db.execute("SELECT name FROM renders") if name in names)
    finally:
        db.close()


@pytest.mark.e2e
def test_a_missing_seed_is_regenerated_and_the_next_one_passes(run, nemo_server, tmp_path: Path) -> None:
    first = next(
        s for s in range(1, 50) if abs(_bpm(s + 1) / _bpm(s) - 1) > 0.04 and _bpm(s + 1) / _bpm(s) < 1.9
    )
    dr = run(first_seed=first, max_attempts=3, expect={"bpm": _bpm(first + 1)})
    assert dr.state == "success"
    result = dr.get_task_instance("gated_track").xcom_pull(task_ids="gated_track")
    assert result["attempts"] == 2 and result["seed"] == first + 1
    assert "tempo_bpm" in result["earlier_misses"][0]
    assert result["quality"]["passed"] is True
    folder = Path(result["path"]).parent
    kept = json.loads((folder / "attempt-0.mp3.nemo.json").read_text())
    assert kept["seed"] == first and kept["quality"]["passed"] is False, (
        "the missed take is kept with its verdict"
    )
    renders = {kept["render_id"], result["render_id"]}
    assert _renders(nemo_server, renders) == 2, "nemo_local rendered both takes"
    publish = dr.get_task_instance("publish").xcom_pull(task_ids="publish")
    assert publish["quality_passed"] is True and publish["manifest"] == result["manifest"]


@pytest.mark.e2e
def test_every_seed_missing_fails_the_task_after_max_attempts(run, tmp_path: Path) -> None:
    dr = run(max_attempts=2, expect={"duration_s": SECONDS + 1.5})
    assert dr.state == "failed"
    assert dr.get_task_instance("gated_track").state == "failed"
    assert len(list(tmp_path.rglob("attempt-*.mp3"))) == 2
    assert not list(tmp_path.rglob("attempt-2.mp3")), "at most max_attempts takes"
