"""A distributed Airflow deployment on one machine, for the tests and the throughput bench.

PostgreSQL (metadata database) and Redis (Celery broker) from Debian's packages, each on 127.0.0.1 with
its data in the deployment's folder; Airflow 3 with CeleryExecutor: scheduler, dag-processor, triggerer
and api-server as separate processes; two Celery workers, each in its own mount and UTS namespace
(``unshare -m -u``) with a private ``/tmp`` bind-mounted over the shared one and its own hostname, so a
local path written on one worker does not exist on the other; ``nemo_local`` as the service; and one
object-storage location (a ``file://`` URI outside ``/tmp``, standing in for a bucket) that every
worker reaches.

Everything is started as a child process in its own process group and stopped by PID. Readiness is
always a condition (a port answering, a health endpoint, a log line), never a sleep. The facts this
relies on were measured here (the team's airflow-notes, "A bigger stack" and the Celery notes).

No pytest import: ``bench/batch_throughput.py`` uses it too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..airflow_env import airflow_env, free_port, wait_for

REPO = Path(__file__).resolve().parents[3]
FAULT_DAGS = Path(__file__).resolve().parent / "dags"
ADMIN_TOKEN = "deployment-admin-token"
#: Named nemo_local accounts (one token each), so a test can read *its* charges from the ledger.
ACCOUNTS = ("default", "fault_export", "fault_generate", "fault_batch")
WORKERS = ("worker-a", "worker-b")
#: The pool every Nemo call of the fault DAGs runs in (docs/deployment.md).
NEMO_POOL = "nemo_api"
NEMO_POOL_SLOTS = 3


def _pg_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} not found: run scripts/install-services.sh")
    return str(found[-1])


@dataclass
class Proc:
    """One started process: its own process group, output in a log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    #: where this process's output starts in the (appended) log file
    offset: int = 0

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def text(self) -> str:
        """This process's output (a restarted component appends to the same file)."""
        if not self.log.exists():
            return ""
        with self.log.open("rb") as fh:
            fh.seek(self.offset)
            return fh.read().decode(errors="replace")

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> None:
        """Signal the whole group, wait, then SIGKILL the group if it did not exit."""
        if self.alive():
            self.signal_group(sig)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.popen.wait(timeout=10)
        # children that outlived their leader (a task runner, a celery pool process)
        self.signal_group(signal.SIGKILL)


@dataclass
class Deployment:
    """The whole stack. ``start()`` brings it up, ``stop()`` takes every process down."""

    root: Path
    procs: dict[str, Proc] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, str] = field(default_factory=dict)
    worker_hostnames: tuple[str, ...] = WORKERS
    #: configuration that replaces the defaults below (the throughput bench restores Airflow's own
    #: heartbeat and parsing intervals, which the fault tests shorten to see a lost worker fast)
    settings: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pg_port = free_port()
        self.redis_port = free_port()
        self.api_port = free_port()
        self.nemo_port = free_port()
        self.home = self.root / "airflow-home"
        self.dags = self.root / "dags"
        self.logs = self.root / "logs"
        self.nemo_data = self.root / "nemo-data"
        #: the "bucket": outside /tmp, so every worker sees it despite its private /tmp
        self.bucket = self.root / "bucket"
        for d in (self.home, self.dags, self.logs, self.nemo_data, self.bucket):
            d.mkdir(parents=True, exist_ok=True)
        self.api = f"http://127.0.0.1:{self.api_port}"
        self.nemo_url = f"http://127.0.0.1:{self.nemo_port}"
        self.db_url = f"postgresql+psycopg2://airflow@127.0.0.1:{self.pg_port}/airflow"
        self._http: httpx.Client | None = None

    # -- layout --------------------------------------------------------------------------------------
    @property
    def bucket_uri(self) -> str:
        return "file://" + str(self.bucket)

    @property
    def nemo_db(self) -> Path:
        return self.nemo_data / "nemo_local.sqlite3"

    def env(self) -> dict[str, str]:
        """The configuration every Airflow component shares (the same as an ``airflow.cfg`` would be)."""
        env = airflow_env(self.home, self.dags, self.api_port, self.db_url, strip=("AIRFLOW", "NEMO_"))
        conns = {
            account: {"conn_type": "nemo", "host": self.nemo_url, "password": token}
            for account, token in self.tokens.items()
        }
        env.update(
            {
                # paused until a test unpauses its DAG (the weekly example's schedule would start a run at once)
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__EXECUTOR": "airflow.providers.celery.executors.celery_executor.CeleryExecutor",
                "AIRFLOW__CORE__PARALLELISM": "16",
                "AIRFLOW__CORE__FERNET_KEY": self._fernet,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "socket.gethostname",
                "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{self.redis_port}/0",
                # SQLAlchemy 2.1: a bare postgresql:// means psycopg 3; name the driver.
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://airflow@127.0.0.1:{self.pg_port}/airflow",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API__SECRET_KEY": self._secret,
                "AIRFLOW__API_AUTH__JWT_SECRET": self._secret,
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.logs),
                # a killed worker is noticed within ~65 s (default 300 s); 25 s failed live tasks whose
                # heartbeats were late on a machine at load 50 (8 tasks "without heartbeat" at once)
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                # the one connection, shared by every component through the environment (a secrets
                # backend does the same in production): nemo_default plus one per test account
                **{
                    f"AIRFLOW_CONN_{('NEMO_' + a).upper() if a != 'default' else 'NEMO_DEFAULT'}": json.dumps(
                        c
                    )
                    for a, c in conns.items()
                },
                # the examples' export destination on this deployment: object storage, not a local folder
                "AIRFLOW_VAR_NEMO_EXPORT_DESTINATION": self.bucket_uri,
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.settings)
        return env

    # -- processes -----------------------------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None, **kw: Any) -> Proc:
        log = self.root / f"{name}.log"
        offset = log.stat().st_size if log.exists() else 0
        with log.open("ab") as out:
            popen = subprocess.Popen(
                cmd,
                env=env if env is not None else self.env(),
                cwd=self.root,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stopping it reaches every child
                **kw,
            )
        proc = Proc(name, popen, log, offset)
        self.procs[name] = proc
        return proc

    def _airflow(self) -> str:
        return str(Path(sys.executable).parent / "airflow")

    def start(self) -> Deployment:
        self._fernet = _fernet_key()
        self._secret = secrets.token_urlsafe(32)
        self._install_dags()
        self._start_postgres()
        self._start_redis()
        self._create_tokens()
        self.start_nemo()
        migrate = subprocess.run(
            [self._airflow(), "db", "migrate"], env=self.env(), capture_output=True, text=True, timeout=240
        )
        if migrate.returncode != 0:
            raise RuntimeError(
                "airflow db migrate failed:\n" + migrate.stdout[-3000:] + migrate.stderr[-3000:]
            )
        for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
            self.start_component(component)
        for name in self.worker_hostnames:
            self.start_worker(name)
        self.wait_healthy()
        for name in self.worker_hostnames:
            self.wait_worker_ready(name)
        self.ensure_pool()
        return self

    def start_component(self, component: str) -> Proc:
        return self._spawn(component, [self._airflow(), component])

    def start_worker(self, name: str) -> Proc:
        """A Celery worker in its own mount + UTS namespace: a private /tmp and hostname ``name``."""
        private_tmp = self.root / f"{name}-tmp"
        private_tmp.mkdir(exist_ok=True)
        env = self.env()
        env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
        # The code and the interpreter stay visible when they live under /tmp (a checkout there): each is
        # bind-mounted into the private /tmp at its own path before that /tmp covers the shared one.
        keep = " && ".join(f'mkdir -p "$1{p}" && mount --bind "/tmp{p}" "$1{p}"' for p in _kept_under_tmp())
        script = (
            keep + " && " if keep else ""
        ) + 'mount --rbind "$1" /tmp && hostname "$2" && shift 2 && exec "$@"'
        cmd = ["unshare", "--mount", "--uts", "--propagation", "private", "sh", "-c", script, "sh",
               str(private_tmp), name, self._airflow(), "celery", "worker", "--celery-hostname",
               f"{name}@{name}", "--without-mingle", "--without-gossip"]  # fmt: skip
        return self._spawn(name, cmd, env=env)

    def restart(self, name: str, sig: int = signal.SIGTERM) -> Proc:
        """Stop one component (by PID, signal ``sig``) and start it again."""
        self.procs[name].stop(sig)
        if name in self.worker_hostnames:
            proc = self.start_worker(name)
            self.wait_worker_ready(name)
        elif name == "nemo":
            proc = self.start_nemo()
        else:
            proc = self.start_component(name)
        return proc

    def kill_worker(self, name: str) -> None:
        """SIGKILL a worker and everything in it (the celery pool and its task processes)."""
        proc = self.procs[name]
        proc.signal_group(signal.SIGKILL)
        proc.popen.wait(timeout=10)

    def stop(self) -> None:
        """Airflow's processes first, all signalled at once (each waits for its own children), then the
        services they use; whatever has not exited within the bound is SIGKILLed, group and all."""
        services = ("postgres", "redis", "nemo")
        for group in ([n for n in self.procs if n not in services], ["nemo", "redis", "postgres"]):
            procs = [self.procs[n] for n in group if n in self.procs]
            for proc in procs:
                if proc.alive():
                    proc.signal_group(signal.SIGINT if proc.name == "postgres" else signal.SIGTERM)
            deadline = time.monotonic() + 30
            for proc in procs:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                proc.signal_group(signal.SIGKILL)
                proc.popen.wait(timeout=10)
        if self._http is not None:
            self._http.close()

    # -- services ------------------------------------------------------------------------------------
    def _install_dags(self) -> None:
        for src in [*sorted((REPO / "example_dags").glob("*.py")), *sorted(FAULT_DAGS.glob("*.py"))]:
            shutil.copy(src, self.dags / src.name)

    def _start_postgres(self) -> None:
        data = self.root / "pg"
        data.mkdir()
        shutil.chown(data, "postgres", "postgres")
        os.chmod(self.root, 0o755)  # postgres must traverse the root (mkdtemp makes it 0700)
        init = subprocess.run(
            [_pg_bin("initdb"), "-D", str(data), "-U", "airflow", "-A", "trust", "--no-sync", "-E", "UTF8"],
            user="postgres", group="postgres", extra_groups=[], capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        if init.returncode != 0:
            raise RuntimeError("initdb failed: " + init.stderr[-2000:])
        self._spawn(
            "postgres",
            [_pg_bin("postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(self.pg_port), "-k", str(data),
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
             "-c", "max_connections=300"],
            env={"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"},
            user="postgres", group="postgres", extra_groups=[],
        )  # fmt: skip
        import psycopg2

        def ready() -> bool:
            try:
                conn = psycopg2.connect(
                    host="127.0.0.1", port=self.pg_port, user="airflow", dbname="postgres"
                )
            except psycopg2.OperationalError:
                return False
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname='airflow'")
                if cur.fetchone() is None:
                    cur.execute("CREATE DATABASE airflow")
            conn.close()
            return True

        wait_for("PostgreSQL to accept connections", ready, 60)

    def _start_redis(self) -> None:
        data = self.root / "redis"
        data.mkdir()
        self._spawn(
            "redis",
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port), "--dir", str(data),
             "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
        )  # fmt: skip

        def ping() -> bool:
            with socket.create_connection(("127.0.0.1", self.redis_port), timeout=2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")

        wait_for("Redis to answer PING", ping, 30, 0.2)

    def _create_tokens(self) -> None:
        for account in ACCOUNTS:
            out = subprocess.run(
                [sys.executable, "-m", "nemo_local", "token", "create", "--name", account, "--credits", "100000",
                 "--data-dir", str(self.nemo_data)],
                cwd=REPO, capture_output=True, text=True, check=True, timeout=60,
            )  # fmt: skip
            self.tokens[account] = out.stdout.strip().splitlines()[-1]
        with self.nemo_sql() as db:
            for account in ACCOUNTS:
                row = db.execute("SELECT id FROM users WHERE kind='named' AND name=?", (account,)).fetchone()
                self.user_ids[account] = row[0]

    def start_nemo(self) -> Proc:
        """nemo_local on a fixed port, so a restart comes back at the same address."""
        proc = self._spawn(
            "nemo",
            [sys.executable, "-m", "nemo_local", "serve", "--host", "127.0.0.1", "--port", str(self.nemo_port),
             "--data-dir", str(self.nemo_data), "--admin-token", ADMIN_TOKEN, "--render-workers", "2",
             # the examples run without a pool, several at once on one account: above the per-user
             # defaults (8 renders, 4 messages), which answer 429 (the pool test covers that path)
             "--max-renders-per-user", "32", "--max-generations-per-user", "16"],
            env={k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        )  # fmt: skip
        wait_for(
            "nemo_local /healthz", lambda: httpx.get(f"{self.nemo_url}/healthz", timeout=2).is_success, 60
        )
        return proc

    # -- readiness -----------------------------------------------------------------------------------
    def wait_healthy(self, timeout: float = 180) -> None:
        """The api-server answers and reports scheduler, triggerer and dag-processor healthy."""

        def healthy() -> bool:
            body = httpx.get(f"{self.api}/api/v2/monitor/health", timeout=5).json()
            parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            return all((body.get(p) or {}).get("status") == "healthy" for p in parts)

        wait_for("every Airflow component to report healthy", healthy, timeout, 1)

    def wait_worker_ready(self, name: str, timeout: float = 120) -> None:
        proc = self.procs[name]
        marker = re.compile(rf"{re.escape(name)}@{re.escape(name)} ready")

        def ready() -> bool:
            if not proc.alive():
                raise RuntimeError(f"{name} exited:\n{proc.text()[-3000:]}")
            return bool(marker.search(proc.text()))

        wait_for(f"Celery worker {name} to be ready", ready, timeout)

    # -- REST ----------------------------------------------------------------------------------------
    @property
    def http(self) -> httpx.Client:
        if self._http is None:
            http = httpx.Client(base_url=self.api, timeout=20)
            token = http.get("/auth/token").json()["access_token"]  # all-admins mode
            http.headers["Authorization"] = f"Bearer {token}"
            self._http = http
        return self._http

    def ensure_pool(self) -> None:
        """The pool that caps concurrent Nemo calls (docs/deployment.md creates it the same way)."""
        body = {"name": NEMO_POOL, "slots": NEMO_POOL_SLOTS, "description": "concurrent Nemo API calls",
                "include_deferred": False}  # fmt: skip
        r = self.http.post("/api/v2/pools", json=body)
        if r.status_code == 409:
            r = self.http.patch(f"/api/v2/pools/{NEMO_POOL}", json=body)
        r.raise_for_status()

    def wait_dag(self, dag_id: str, timeout: float = 120) -> None:
        wait_for(
            f"{dag_id} to be parsed", lambda: self.http.get(f"/api/v2/dags/{dag_id}").is_success, timeout
        )

    def unpause(self, dag_id: str) -> None:
        self.wait_dag(dag_id)
        self.http.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Start a manual run (unpausing the DAG first, as a user would)."""
        self.unpause(dag_id)
        r = self.http.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        assert r.status_code in (200, 201), r.text
        return str(r.json()["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        return str(self.http.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json()["state"])

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        def finished() -> str | None:
            state = self.run_state(dag_id, run_id)
            return state if state in ("success", "failed") else None

        return str(wait_for(f"run {dag_id}/{run_id} to finish", finished, timeout, 1))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        r = self.http.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 500})
        r.raise_for_status()
        return list(r.json()["task_instances"])

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[dict[str, Any]]:
        """Every try of one task instance (hostname, state, try_number), oldest first."""
        url = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/{map_index}/tries"
        if map_index < 0:
            url = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/tries"
        r = self.http.get(url)
        r.raise_for_status()
        return sorted(r.json()["task_instances"], key=lambda t: t["try_number"])

    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        url = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        if map_index >= 0:
            url += f"/{map_index}"
        r = self.http.get(url)
        r.raise_for_status()
        return dict(r.json())

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1
    ) -> Any:
        r = self.http.get(
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
            params={"deserialize": True, "map_index": map_index},
        )
        r.raise_for_status()
        value = r.json()["value"]
        return json.loads(value) if isinstance(value, str) and value[:1] in "{[" else value

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1
    ) -> str:
        """The task's log files as written by the worker (the log folder is shared), trigger logs too."""
        folder = self.logs / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            folder = folder / f"map_index={map_index}"
        return "".join(
            p.read_text(errors="replace") for p in sorted(folder.glob(f"attempt={try_number}.log*"))
        )

    def ti_state(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str | None:
        state = self.task_instance(dag_id, run_id, task_id, map_index).get("state")
        return str(state) if state else None

    def wait_ti(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        states: tuple[str, ...],
        timeout: float = 120,
        map_index: int = -1,
    ) -> dict[str, Any]:
        """Wait until a task instance is in one of ``states``; returns its REST record."""

        def reached() -> dict[str, Any] | None:
            ti = self.task_instance(dag_id, run_id, task_id, map_index)
            return ti if ti.get("state") in states else None

        return dict(wait_for(f"{dag_id}/{run_id}/{task_id} to be {'/'.join(states)}", reached, timeout))

    def wait_log(self, what: str, dag_id: str, run_id: str, task_id: str, text: str, try_number: int = 1,
                 timeout: float = 120) -> None:  # fmt: skip
        """Wait until the task's log (or its trigger's log) contains ``text``."""
        wait_for(what, lambda: text in self.task_log(dag_id, run_id, task_id, try_number), timeout)

    def fail_scheduled_runs(self, dag_id: str, timeout: float = 60) -> list[str]:
        """Unpausing a scheduled DAG starts its latest interval at once (catchup=False); fail that run."""

        def scheduled() -> list[str]:
            runs = self.http.get(f"/api/v2/dags/{dag_id}/dagRuns").json()["dag_runs"]
            return [r["dag_run_id"] for r in runs if r["run_type"] == "scheduled"]

        ids = list(wait_for(f"the scheduled run of {dag_id}", scheduled, timeout))
        for run_id in ids:
            url = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}"

            def failed(u: str = url) -> bool:
                # a 500 was seen here when the scheduler updated the new run at the same moment: ask again
                if self.http.patch(u, json={"state": "failed"}).is_success:
                    return True
                return bool(self.http.get(u).json()["state"] == "failed")

            wait_for(f"{run_id} to be marked failed", failed, 30)
        return ids

    # -- nemo_local ----------------------------------------------------------------------------------
    @contextlib.contextmanager
    def nemo_sql(self) -> Iterator[sqlite3.Connection]:
        """nemo_local's own database, read-only: what the service really did."""
        conn = sqlite3.connect(f"file:{self.nemo_db}?mode=ro", uri=True, timeout=10)
        try:
            yield conn
        finally:
            conn.close()

    def renders(self, session_id: str) -> list[tuple[str, str, str]]:
        """(render id as the client named it, format, status) of every render of a session."""
        with self.nemo_sql() as db:
            rows = db.execute("SELECT COALESCE(name, id), format, status FROM renders WHERE session_id=?"
                              " ORDER BY created_at", (session_id,)).fetchall()  # fmt: skip
        return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]

    def render(self, render_id: str) -> str | None:
        with self.nemo_sql() as db:
            row = db.execute("SELECT status FROM renders WHERE COALESCE(name, id)=?", (render_id,)).fetchone()
        return str(row[0]) if row else None

    def charges(self, account: str) -> list[int]:
        """Credits spent by an account (ledger rows other than the grant), oldest first."""
        with self.nemo_sql() as db:
            rows = db.execute("SELECT delta FROM credit_ledger WHERE user_id=? AND reason != 'grant' ORDER BY id",
                              (self.user_ids[account],)).fetchall()  # fmt: skip
        return [int(r[0]) for r in rows]

    def held(self, account: str) -> int:
        with self.nemo_sql() as db:
            row = db.execute("SELECT COUNT(*) FROM credit_holds WHERE user_id=? AND status='held'",
                             (self.user_ids[account],)).fetchone()  # fmt: skip
        return int(row[0])

    def media_count(self, session_id: str) -> int:
        with self.nemo_sql() as db:
            row = db.execute(
                "SELECT COUNT(*) FROM generated_media WHERE session_id=?", (session_id,)
            ).fetchone()
        return int(row[0])

    def faults(self, **switches: Any) -> dict[str, Any]:
        r = httpx.post(f"{self.nemo_url}/admin/faults", json=switches, headers={"X-Admin-Token": ADMIN_TOKEN},
                       timeout=10)  # fmt: skip
        r.raise_for_status()
        return dict(r.json()["faults"])

    def describe(self) -> str:
        """The tail of every component's log, for assertion messages."""
        return "\n".join(f"--- {n} ---\n{p.text()[-1500:]}" for n, p in self.procs.items())


def _kept_under_tmp() -> list[str]:
    """The checkout and the interpreter's folders that lie under /tmp, outermost only, relative to /tmp."""
    tmp = Path("/tmp").resolve()
    found: list[Path] = []
    for place in (REPO, Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent):
        real = place.resolve()
        if real.is_relative_to(tmp) and real != tmp:
            found.append(real)
    outer = [p for p in found if not any(p != q and p.is_relative_to(q) for q in found)]
    return sorted({"/" + str(p.relative_to(tmp)) for p in outer})


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def make_root() -> Path:
    """The deployment's folder: outside /tmp, since every worker bind-mounts its own /tmp."""
    base = os.environ.get("NEMO_DEPLOYMENT_DIR") or "/var/tmp"
    return Path(tempfile.mkdtemp(prefix="nemo-deployment-", dir=base))


@contextlib.contextmanager
def deployment(settings: dict[str, str] | None = None) -> Iterator[Deployment]:
    """Start everything, yield, stop everything and remove the folder (kept on ``NEMO_KEEP_DEPLOYMENT``)."""
    dep = Deployment(make_root(), settings=dict(settings or {}))
    try:
        dep.start()
        yield dep
    finally:
        dep.stop()
        if not os.environ.get("NEMO_KEEP_DEPLOYMENT"):
            shutil.rmtree(dep.root, ignore_errors=True)
