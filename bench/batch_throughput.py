"""A weekly batch of 24 prompts (short tracks, MP3 + 1080p MP4 each) on the distributed deployment vs the
same DAG under ``airflow dags test``.

Starts the deployment of tests/e2e/distributed (PostgreSQL, Redis, CeleryExecutor with two workers in
their own namespaces, scheduler, dag-processor, triggerer, api-server, nemo_local; run
``scripts/install-services.sh`` first), triggers ``nemo_weekly_background_tracks`` with 24 prompts and
times it to success; then runs the same DAG with the same conf under ``airflow dags test`` (one process,
tasks one after another, SQLite) against the same nemo_local, as the baseline.

Prints tracks per minute for both, the engine's own time per track (nemo_local's compose time, from its
credit holds, plus its render time, from its render rows) and Airflow's overhead per track (the tasks'
summed run time minus the engine's time, per track). Target: the distributed run >= 1.5x the sequential
one. Ends with ONE JSON line.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from e2e.distributed.deployment import Deployment, deployment  # noqa: E402

DAG_ID = "nemo_weekly_background_tracks"
TRACKS = int(os.environ.get("BENCH_TRACKS", "24"))
TRACK_S = 4
TARGET = 1.5
#: Airflow's own defaults for what the fault tests shorten (heartbeats every second, a lost task seen in
#: 25 s, the DAG folder listed every 5 s): a production deployment runs with these.
PRODUCTION_SETTINGS = {
    "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "5",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "300",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "10",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "300",
}
STYLES = [
    "calm lo-fi",
    "upbeat corporate",
    "cinematic build-up",
    "warm acoustic",
    "dark ambient",
    "happy ukulele",
]


def _conf() -> dict[str, Any]:
    return {"prompts": [f"{STYLES[i % len(STYLES)]} take {i}" for i in range(TRACKS)], "duration_s": TRACK_S}


def _ts(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00").replace(" ", "T")).timestamp()


def _engine_seconds(nemo_db: Path, since: float, until: float) -> float:
    """Compose (credit hold open -> spent) plus render (started -> completed) time inside a window."""
    with sqlite3.connect(f"file:{nemo_db}?mode=ro", uri=True) as db:
        compose = db.execute(
            "SELECT COALESCE(SUM(closed_at - created_at), 0) FROM credit_holds WHERE status='spent'"
            " AND created_at BETWEEN ? AND ?",
            (since, until),
        ).fetchone()[0]
        render = db.execute(
            "SELECT COALESCE(SUM(completed_at - started_at), 0) FROM renders WHERE status='completed'"
            " AND created_at BETWEEN ? AND ?",
            (since, until),
        ).fetchone()[0]
    return float(compose) + float(render)


def _cpu_seconds(d: Deployment) -> dict[str, float]:
    """CPU time (user + system, reaped children included) of each component's process group."""
    import psutil

    leaders = {proc.pid: name for name, proc in d.procs.items()}
    cpu = dict.fromkeys(leaders.values(), 0.0)
    for p in psutil.process_iter():
        try:
            group = os.getpgid(p.pid)
            if group in leaders:
                t = p.cpu_times()
                cpu[leaders[group]] += t.user + t.system + t.children_user + t.children_system
        except (psutil.Error, ProcessLookupError):
            continue
    return cpu


def distributed(d: Deployment) -> dict[str, float]:
    d.unpause(DAG_ID)
    d.fail_scheduled_runs(DAG_ID)  # unpausing starts the latest weekly interval with the defaults
    cpu_before = _cpu_seconds(d)
    start = time.time()
    run = d.trigger(DAG_ID, _conf())
    state = d.wait_run(DAG_ID, run, 3600)
    end = time.time()
    cpu_after = _cpu_seconds(d)
    spent = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
    print("CPU seconds per component during the distributed run (per track):")
    for name, sec in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name:14s} {sec:7.1f} s  ({sec / TRACKS:5.2f} s/track)")
    print(f"  {'total':14s} {sum(spent.values()):7.1f} s over {end - start:.1f} s wall")
    if state != "success":
        raise SystemExit(f"the distributed run ended {state}")
    tis = d.task_instances(DAG_ID, run)
    task_s = sum(_ts(t["end_date"]) - _ts(t["start_date"]) for t in tis if t["start_date"] and t["end_date"])
    hosts = sorted({t["hostname"] for t in tis})
    return {"wall_s": end - start, "task_s": task_s, "engine_s": _engine_seconds(d.nemo_db, start, end),
            "workers": float(len(hosts))}  # fmt: skip


def sequential(d: Deployment) -> dict[str, float]:
    home = Path(tempfile.mkdtemp(prefix="nemo-bench-dagstest-", dir=str(d.root)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW_CONN_NEMO_DEFAULT": json.dumps(
                {"conn_type": "nemo", "host": d.nemo_url, "password": d.tokens["default"]}
            ),
            "AIRFLOW_VAR_NEMO_EXPORT_DESTINATION": d.bucket_uri + "/dags-test",
        }
    )
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
    start = time.time()
    out = subprocess.run([airflow, "dags", "test", DAG_ID, "-c", json.dumps(_conf())], env=env,
                         capture_output=True, text=True, timeout=3600)  # fmt: skip
    end = time.time()
    with sqlite3.connect(home / "airflow.db") as db:
        states = [s for (s,) in db.execute("SELECT state FROM dag_run WHERE dag_id=?", (DAG_ID,))]
        rows = db.execute(
            "SELECT start_date, end_date FROM task_instance WHERE dag_id=? AND end_date IS NOT NULL",
            (DAG_ID,),
        ).fetchall()
    if out.returncode != 0 or states != ["success"]:
        raise SystemExit(f"airflow dags test failed ({states}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    task_s = sum(_ts(e) - _ts(s) for s, e in rows)
    return {"wall_s": end - start, "task_s": task_s, "engine_s": _engine_seconds(d.nemo_db, start, end)}


def main() -> None:
    with deployment(PRODUCTION_SETTINGS) as d:
        dist = distributed(d)
        seq = sequential(d)
    rate = {name: TRACKS / (r["wall_s"] / 60) for name, r in (("distributed", dist), ("sequential", seq))}
    for name, r in (("distributed", dist), ("sequential", seq)):
        engine = r["engine_s"] / TRACKS
        overhead = (r["task_s"] - r["engine_s"]) / TRACKS
        print(f"{name:12s} {TRACKS} tracks in {r['wall_s']:6.1f} s = {rate[name]:5.1f} tracks/min; "
              f"engine {engine:5.2f} s/track, Airflow overhead {overhead:5.2f} s/track (task time minus engine)")  # fmt: skip
    ratio = rate["distributed"] / rate["sequential"]
    print(f"distributed / sequential: {ratio:.2f}x (target >= {TARGET}x), {int(dist['workers'])} workers")
    print(json.dumps({"bench": "batch_throughput", "value": round(rate["distributed"], 2), "unit": "tracks/min",
                      "target": TARGET, "baseline": round(rate["sequential"], 2), "ratio": round(ratio, 2),
                      "ok": ratio >= TARGET}))  # fmt: skip


if __name__ == "__main__":
    main()
