"""The real thing: `airflow standalone` (api-server, scheduler, dag-processor, triggerer) in a temp home.

Triggers `nemo_generate_from_ui` over the REST API with form values, waits for the run to succeed,
and checks that the export was waited for by the triggerer (the trigger ran in the triggerer process,
and the task's log shows the deferral and the resume) and that the exported file is there.
Settings follow the team's measured notes: PARALLELISM=4, MIN_HEARTBEAT_INTERVAL=1, all users admin,
started in its own process group and stopped with SIGINT.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.airflow_env import airflow_env, free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
DAG_ID = "nemo_generate_from_ui"
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(420)]


class Standalone:
    def __init__(self, home: Path, port: int, env: dict[str, str]) -> None:
        self.home, self.port, self.env = home, port, env
        self.log_path = home / "standalone.log"
        self.base = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        airflow = str(Path(sys.executable).parent / "airflow")
        self.proc = subprocess.Popen(
            [airflow, "standalone"],
            env=self.env,
            cwd=self.home,
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stopping it reaches every component
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGINT)  # SIGTERM would orphan the components
        try:
            self.proc.wait(timeout=45)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture(scope="module")
def standalone(nemo_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Standalone, Path]]:
    """One standalone for both scenarios of this module (starting one takes about a minute)."""
    tmp_path = tmp_path_factory.mktemp("standalone")
    home = tmp_path / "airflow-home"
    dags = tmp_path / "dags"
    out = tmp_path / "exports"
    for d in (home, dags, out):
        d.mkdir()
    shutil.copy(REPO / "example_dags" / f"{DAG_ID}.py", dags)
    port = free_port()
    env = airflow_env(home, dags, port, f"sqlite:///{home / 'airflow.db'}")
    env.update(
        {
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW_CONN_NEMO_DEFAULT": json.dumps({"conn_type": "nemo", "host": nemo_server.base_url}),
            "NEMO_EXPORT_DIR": str(out),
        }
    )
    server = Standalone(home, port, env)
    server.start()
    try:
        yield server, out
    finally:
        server.stop()


def _api(server: Standalone) -> httpx.Client:
    """An authenticated REST client, once the api-server answers and the DAG is parsed."""
    http = httpx.Client(base_url=server.base, timeout=10)
    wait_for(
        "the api-server's health endpoint", lambda: http.get("/api/v2/monitor/health").status_code == 200, 150
    )
    token = http.get("/auth/token").json()["access_token"]  # all-admins mode: a token without credentials
    http.headers["Authorization"] = f"Bearer {token}"
    wait_for(f"{DAG_ID} to be parsed", lambda: http.get(f"/api/v2/dags/{DAG_ID}").status_code == 200, 120)
    return http


def _trigger_run(http: httpx.Client, out: Path) -> str:
    conf = {"prompt": "warm guitar for a cooking video", "mood": "happy", "duration_s": 6, "output_format": "mp3",
            "loop": False, "output_dir": str(out)}  # fmt: skip
    response = http.post(f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": conf})
    assert response.status_code in (200, 201), response.text
    return str(response.json()["dag_run_id"])


def test_ui_dag_runs_through_the_triggerer(standalone: tuple[Standalone, Path]) -> None:
    server, out = standalone
    http = _api(server)
    run_id = _trigger_run(http, out)

    def finished() -> str | None:
        state = http.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"]
        return state if state in ("success", "failed") else None

    state = wait_for("the DAG run to finish", finished, 240, interval=2)
    ti_url = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances"
    assert state == "success", json.dumps(http.get(ti_url).json(), indent=1)[:3000] + server.log()[-4000:]

    # The export went through the triggerer: the task deferred, and the triggerer ran our trigger for it
    # (Airflow writes a trigger's log next to the task's log, as `attempt=1.log.trigger.<id>.log`).
    task_logs = server.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / "task_id=export"
    assert "Pausing task as DEFERRED" in (task_logs / "attempt=1.log").read_text()
    trigger_logs = sorted(task_logs.glob("attempt=1.log.trigger.*.log"))
    assert trigger_logs, f"no trigger log in {task_logs}: the export did not go through the triggerer"
    trigger_log = trigger_logs[0].read_text()
    assert "Trigger fired event" in trigger_log and "'status': 'success'" in trigger_log, trigger_log[-2000:]

    # The form's values reached the export, and the file is on disk with the size the service reported.
    result = http.get(f"{ti_url}/export/xcomEntries/return_value", params={"deserialize": True}).json()[
        "value"
    ]
    if isinstance(result, str):
        result = json.loads(result)
    path = Path(result["path"])
    assert path.suffix == ".mp3" and path.is_relative_to(out)
    assert path.stat().st_size == result["size"] > 0


def _set_faults(nemo_server: Any, **switches: Any) -> None:
    response = httpx.post(
        f"{nemo_server.base_url}/admin/faults",
        json=switches,
        headers={"X-Admin-Token": nemo_server.admin_token},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def test_killing_a_deferred_export_cancels_its_render(
    standalone: tuple[Standalone, Path], nemo_server
) -> None:
    """Mark the deferred export failed over REST: Airflow 3.3's triggerer cancels the trigger with its
    "user action" reason and calls ``NemoRenderTrigger.on_kill``, which must cancel the remote render.
    No worker holds the task while it is deferred, so only the trigger can have sent that cancel."""
    from nemo_provider.client import NemoClient

    server, out = standalone
    http = _api(server)
    _set_faults(nemo_server, render_stuck=True)  # every render stays `processing` until cancelled
    try:
        run_id = _trigger_run(http, out)
        ti_url = f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/export"
        wait_for("the export to defer", lambda: http.get(ti_url).json()["state"] == "deferred", 240, 2)
        render_id = http.get(f"{ti_url}/xcomEntries/render_id", params={"deserialize": True}).json()["value"]
        # `deferred` only means the trigger row exists; kill once the triggerer really runs the trigger
        # (a kill before the triggerer picks it up never reaches it: docs/retries-timeouts-cancellation.md).
        task_logs = server.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / "task_id=export"

        def trigger_running() -> bool:
            logs = task_logs.glob("attempt=1.log.trigger.*.log")
            return any("Waiting for render" in log.read_text() for log in logs)

        wait_for("the triggerer to run the export's trigger", trigger_running, 120)

        # The hook's derived client id: the same anonymous user as the task, so the render is visible.
        client_id = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"airflow-provider-nemo:nemo_default:{nemo_server.base_url}")
        )
        with NemoClient(base_url=nemo_server.base_url, client_id=client_id) as nemo:
            assert nemo.render_status(render_id).status == "processing"

            response = http.patch(ti_url, json={"new_state": "failed"})
            assert response.status_code == 200, response.text

            def render_ended() -> str | None:
                status = nemo.render_status(render_id).status
                return status if status != "processing" else None

            final = wait_for(f"render {render_id} to leave `processing`", render_ended, 90)
        assert final == "cancelled", server.log()[-4000:]
        assert http.get(ti_url).json()["state"] == "failed"
    finally:
        _set_faults(nemo_server, render_stuck=False)
