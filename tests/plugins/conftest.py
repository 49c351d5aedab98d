"""Airflow's real api-server app, in process, with the plugin mounted by Airflow itself.

Users (simple auth manager, restricted by tests/ui/nemo_test_auth.py): ``admin`` (admin),
``viewer`` (viewer: may read every DAG, may not answer reviews) and ``outsider`` (viewer who may
read none of the Nemo DAGs).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

UI_TESTS = Path(__file__).resolve().parents[1] / "ui"
USERS = {"admin": "admin", "viewer": "viewer", "outsider": "viewer"}


@pytest.fixture(scope="session")
def api_app(airflow_db: Path) -> Any:
    """Airflow's FastAPI app (``apps='core'``: REST API, UI, plugins) on the session's database."""
    sys.path.insert(0, str(UI_TESTS))
    settings = {
        "AIRFLOW__CORE__AUTH_MANAGER": "nemo_test_auth.RestrictedAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, r in USERS.items()),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
    }
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    try:
        from airflow.api_fastapi.app import create_app, purge_cached_app

        purge_cached_app()
        return create_app(apps="core")
    finally:  # the app holds its auth manager; later test modules see the session's settings again
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def tokens(api_app: Any) -> dict[str, str]:
    """A JWT per user, minted by the auth manager the app uses."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    manager = get_auth_manager()
    return {u: manager.generate_jwt(SimpleAuthManagerUser(username=u, role=r)) for u, r in USERS.items()}


@pytest.fixture(scope="session")
def http(api_app: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    with TestClient(api_app, base_url="http://127.0.0.1") as client:
        yield client


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
