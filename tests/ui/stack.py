"""A real Airflow for the browser tests, with users who differ in access.

The components ``airflow standalone`` runs (api-server, scheduler, dag-processor, triggerer), started
one by one because standalone forces the plain simple auth manager and these tests need
nemo_test_auth.RestrictedAuthManager: ``admin`` and ``outsider`` (a viewer who may read none of the
Nemo DAGs). Settings and helpers as tests/e2e/test_standalone.py (its notes on heartbeat and SIGINT).
Example DAGs: the UI form DAG and the review DAG.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.airflow_env import airflow_env, free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DAGS = ("nemo_generate_from_ui", "nemo_review_tracks")
PASSWORDS = {"admin": "admin-pass-ui", "outsider": "outsider-pass-ui"}


COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


class Components:
    """Airflow's four long-running components as separate processes (each its own process group)."""

    def __init__(self, home: Path, port: int, env: dict[str, str]) -> None:
        self.home, self.port, self.env = home, port, env
        self.base = f"http://127.0.0.1:{port}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        airflow = str(Path(sys.executable).parent / "airflow")
        subprocess.run(
            [airflow, "db", "migrate"], env=self.env, cwd=self.home, check=True, capture_output=True
        )
        for name in COMPONENTS:
            self.procs[name] = subprocess.Popen(
                [airflow, name],
                env=self.env,
                cwd=self.home,
                stdout=(self.home / f"{name}.log").open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return "".join(
            (self.home / f"{name}.log").read_text(errors="replace")
            for name in COMPONENTS
            if (self.home / f"{name}.log").exists()
        )

    def stop(self) -> None:
        running = [p for p in self.procs.values() if p.poll() is None]
        for proc in running:
            os.kill(proc.pid, signal.SIGINT)  # SIGTERM would orphan their children
        for proc in running:
            try:
                proc.wait(timeout=45)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@dataclass
class Stack:
    server: Components
    exports: Path

    @property
    def base(self) -> str:
        return self.server.base

    def token(self, user: str) -> str:
        response = httpx.post(
            f"{self.base}/auth/token", json={"username": user, "password": PASSWORDS[user]}, timeout=10
        )
        assert response.status_code in (200, 201), response.text
        return str(response.json()["access_token"])

    def api(self, user: str = "admin") -> httpx.Client:
        return httpx.Client(
            base_url=self.base, headers={"Authorization": f"Bearer {self.token(user)}"}, timeout=15
        )

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        with self.api() as http:
            response = http.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
            assert response.status_code in (200, 201), response.text
            return str(response.json()["dag_run_id"])

    def ti_state(self, dag_id: str, run_id: str, task_id: str) -> str | None:
        with self.api() as http:
            return (
                http.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")
                .json()
                .get("state")
            )

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 240) -> str:
        def finished() -> str | None:
            with self.api() as http:
                state = http.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
            return state if state in ("success", "failed") else None

        return str(wait_for(f"{dag_id} run {run_id} to finish", finished, timeout, interval=2))

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Any:
        with self.api() as http:
            response = http.get(
                f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value",
                params={"deserialize": True, "map_index": map_index},
            )
            assert response.status_code == 200, response.text
            value = response.json()["value"]
            return json.loads(value) if isinstance(value, str) else value


@contextmanager
def airflow_stack(nemo_base_url: str, root: Path, nemo_token: str | None = None) -> Iterator[Stack]:
    """Start the stack; ``nemo_token`` goes into nemo_default (the session's anonymous users share a
    server and their 100 credits with every other test)."""
    home, dags, exports = root / "airflow-home", root / "dags", root / "exports"
    for d in (home, dags, exports):
        d.mkdir(parents=True, exist_ok=True)
    for name in DAGS:
        shutil.copy(REPO / "example_dags" / f"{name}.py", dags)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    port = free_port()
    env = airflow_env(home, dags, port, f"sqlite:///{home / 'airflow.db'}")
    env.update(
        {
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__AUTH_MANAGER": "nemo_test_auth.RestrictedAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,outsider:viewer",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            # one signing key for every component (standalone writes one into airflow.cfg)
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(48),
            "AIRFLOW_CONN_NEMO_DEFAULT": json.dumps(
                {
                    "conn_type": "nemo",
                    "host": nemo_base_url,
                    **({"password": nemo_token} if nemo_token else {}),
                }
            ),
            "NEMO_EXPORT_DIR": str(exports),
            # the restricted auth manager lives beside the tests; every component imports it
            "PYTHONPATH": os.pathsep.join(p for p in (str(HERE), env.get("PYTHONPATH", "")) if p),
        }
    )
    server = Components(home, port, env)
    server.start()
    try:
        stack = Stack(server, exports)
        http = httpx.Client(base_url=server.base, timeout=10)
        wait_for("the api-server", lambda: http.get("/api/v2/monitor/health").status_code == 200, 150)
        with stack.api() as api:
            for dag_id in DAGS:
                wait_for(
                    f"{dag_id} to be parsed",
                    lambda d=dag_id: api.get(f"/api/v2/dags/{d}").status_code == 200,
                    120,
                )
        yield stack
    finally:
        server.stop()
