"""The connection form comes from the provider info (no wtforms), and the Test button's two answers."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from nemo_provider.get_provider_info import CONN_FIELDS, UI_FIELD_BEHAVIOUR, get_provider_info
from nemo_provider.hooks.nemo import NemoHook, user_connection_id
from tests._helpers import fake_token


def test_provider_info_declares_the_form() -> None:
    (conn,) = get_provider_info()["connection-types"]
    assert conn["hook-name"] == "Nemo"
    assert conn["ui-field-behaviour"] is UI_FIELD_BEHAVIOUR and conn["conn-fields"] is CONN_FIELDS
    assert {"port", "schema", "login"} <= set(UI_FIELD_BEHAVIOUR["hidden-fields"])
    assert CONN_FIELDS["timeout"]["schema"]["type"] == ["number", "null"]


def test_the_hook_returns_the_same_behaviour_in_python_spelling() -> None:
    behaviour = NemoHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == UI_FIELD_BEHAVIOUR["hidden-fields"]
    assert behaviour["relabeling"] == {"host": "API base URL", "password": "API token"}


def test_airflow_reads_the_form_without_importing_the_hook(airflow_db: Path) -> None:
    """What the api-server's connection form uses: ProvidersManager's UI metadata."""
    import airflow
    from airflow.providers_manager import ProvidersManager
    from packaging.version import Version

    pm = ProvidersManager()
    if Version(airflow.__version__) < Version("3.2"):
        # Airflow 3.1's ProvidersManager reads a form only from the hook, and only with wtforms
        # installed; its api-server stands in for wtforms itself (the test below checks that form)
        assert "nemo" in pm.hooks and "nemo" not in pm.field_behaviours
        return
    behaviour = pm.field_behaviours["nemo"]
    assert behaviour["relabeling"]["host"] == "API base URL"
    assert "port" in behaviour["hidden_fields"]
    widgets = pm.connection_form_widgets
    assert {"extra__nemo__client_id", "extra__nemo__language", "extra__nemo__timeout"} <= set(widgets)
    assert widgets["extra__nemo__timeout"].field["schema"]["title"] == "Timeout (seconds)"


#: What the api-server's connection form is built from (GET /ui/connections/hook_meta), on every minor:
#: 3.2+ read the provider info; 3.1 calls the hook's methods with stand-ins for wtforms and FAB.
_HOOK_META = """
import json
from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
(nemo,) = [h for h in HookMetaService.hook_meta_data() if h.connection_type == "nemo"]
print(json.dumps(nemo.model_dump(mode="json")))
"""


def test_the_api_servers_form_has_the_typed_fields_and_labels(airflow_db: Path) -> None:
    import subprocess
    import sys

    # a fresh interpreter: ProvidersManager is a process-wide singleton that other tests initialise
    out = subprocess.run(
        [sys.executable, "-c", _HOOK_META], capture_output=True, text=True, check=True, timeout=120
    )
    meta = json.loads(out.stdout.strip().splitlines()[-1])
    assert meta["hook_name"] == "Nemo"
    standard = meta["standard_fields"]
    assert standard["host"]["title"] == "API base URL" and standard["password"]["title"] == "API token"
    assert standard["port"]["hidden"] and standard["login"]["hidden"]
    extra = meta["extra_fields"]
    assert set(extra) == set(CONN_FIELDS)
    assert extra["timeout"]["schema"]["title"] == "Timeout (seconds)"
    assert "integer" in extra["timeout"]["schema"]["type"] or "number" in extra["timeout"]["schema"]["type"]
    assert {"en", "zh"} <= set(extra["language"]["schema"]["enum"])
    assert extra["client_id"]["schema"]["title"] == "Client id"


def test_connection_passes_against_nemo_local_as_the_docs_set_it_up(
    nemo_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # URL in Host, no port, no token: what docs/connection.md shows; the UI sends port 0 for it
    conn = {"conn_type": "nemo", "host": nemo_server.base_url, "port": 0}
    monkeypatch.setenv("AIRFLOW_CONN_NEMO_FORM", json.dumps(conn))
    ok, message = NemoHook("nemo_form").test_connection()
    assert ok, message
    assert "anonymous token" in message and "credits available" in message


def test_bad_token_failure_names_the_users_connection(
    airflow_db: Path, nemo_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Airflow tests a copy under a random id; the message names the stored connection instead."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session

    token = fake_token("bad")
    stored = Connection(conn_id="my_nemo", conn_type="nemo", host=nemo_server.base_url, password=token)
    with create_session() as session:
        session.add(stored)
    try:
        transient = "zqxjkvbwpa"  # what Airflow's test endpoint generates
        monkeypatch.setenv(f"AIRFLOW_CONN_{transient.upper()}", stored.get_uri())
        assert user_connection_id(transient) == "my_nemo"
        ok, message = NemoHook(transient).test_connection()
        assert not ok
        assert "'my_nemo'" in message and transient not in message
        assert token not in message
        assert "NemoAuthError" in message
    finally:
        with create_session() as session:
            session.query(Connection).filter(Connection.conn_id == "my_nemo").delete()


def test_an_unsaved_connection_is_called_the_one_being_tested(
    airflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_QWERTYUIOP", "nemo://:secret@example.invalid")
    assert user_connection_id("qwertyuiop") is None
    assert user_connection_id("nemo_default") == "nemo_default"
    assert os.environ.get("AIRFLOW_CONN_NEMO_DEFAULT") is None
