"""Shared fixtures.

Airflow reads its configuration at import time, so the environment is set here, at the top of the
root conftest, before any test module can import Airflow.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = Path(__file__).resolve().parent / "data"

_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="nemo-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO_ROOT / "example_dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}"
os.environ.pop("NEMO_TOKEN", None)
os.environ.pop("NEMO_API_URL", None)


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A fresh Airflow metadata database for the whole test session (~1-2 s, created once)."""
    from airflow.utils import db

    db.resetdb()
    return _AIRFLOW_HOME


@dataclass(frozen=True)
class NemoServer:
    """A running `nemo-local serve` process on 127.0.0.1."""

    base_url: str
    data_dir: Path
    process: subprocess.Popen[str]
    admin_token: str


_LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def start_nemo_server(data_dir: Path, *extra_args: str, timeout: float = 60.0) -> NemoServer:
    """Start the offline backend as a real process and wait until it answers /healthz."""
    import httpx

    admin_token = "test-admin-token"
    cmd = [
        sys.executable,
        "-m",
        "nemo_local",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--data-dir",
        str(data_dir),
        "--admin-token",
        admin_token,
        *extra_args,
    ]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO_ROOT, bufsize=1
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    base_url = None
    seen: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        match = _LISTENING.search(line)
        if match:
            base_url = match.group(1)
            break
    if base_url is None:
        proc.kill()
        raise RuntimeError("nemo-local did not start:\n" + "".join(seen))
    # Keep draining output so the server never blocks on a full pipe.
    import threading

    def _drain() -> None:
        assert proc.stdout is not None
        for _ in proc.stdout:
            pass

    threading.Thread(target=_drain, daemon=True).start()
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return NemoServer(base_url, data_dir, proc, admin_token)
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"nemo-local at {base_url} never answered /healthz")


def stop_nemo_server(server: NemoServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait(timeout=5)


@contextmanager
def running_nemo_server(root: Path, *extra_args: str) -> Iterator[NemoServer]:
    """A nemo_local of its own with its data under ``root`` (started with ``extra_args``), stopped and
    its data removed afterwards: for a module's fixture that needs a switch flipped."""
    server = start_nemo_server(root / "data", *extra_args)
    try:
        yield server
    finally:
        stop_nemo_server(server)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def nemo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NemoServer]:
    """One real nemo_local server shared by the whole session (per-test state lives in sessions)."""
    with running_nemo_server(tmp_path_factory.mktemp("nemo-local")) as server:
        yield server


@pytest.fixture
def fresh_nemo_server(tmp_path: Path) -> Iterator[NemoServer]:
    """A server of the test's own, for tests that flip switches or restart it."""
    server = start_nemo_server(tmp_path / "nemo-data")
    try:
        yield server
    finally:
        stop_nemo_server(server)
