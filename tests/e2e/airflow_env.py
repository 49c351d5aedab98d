"""What every test that starts real Airflow processes shares: a free port, a wait on a condition, and the
configuration of components that talk to each other on 127.0.0.1 (standalone, the UI stack, the
distributed deployment each add their own settings on top)."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Poll ``check()`` until it returns something truthy; raise with ``what`` after ``timeout`` s.

    Errors of a component that is still starting (refused connections, a half-written file or row)
    count as "not yet"; any other exception from ``check`` propagates at once.
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (httpx.HTTPError, OSError, KeyError, ValueError, sqlite3.Error) as err:
            last = err
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last!r})")


def airflow_env(
    home: Path, dags: Path, api_port: int, db_url: str, *, strip: tuple[str, ...] = ("AIRFLOW",)
) -> dict[str, str]:
    """This process's environment without any Airflow settings of its own, plus the settings every
    component of a test Airflow needs: its home, DAGs, database, and where the API server listens
    (tasks reach the execution API there, not on the default :8080). Heartbeats every second
    (docs/airflow-notes: a task's end is seen sooner)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(strip)}
    api = f"http://127.0.0.1:{api_port}"
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
        }
    )
    return env
