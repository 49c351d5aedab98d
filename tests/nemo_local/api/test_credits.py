"""The balance: available + frozen = total; a named token from the CLI carries its own credits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import REPO_ROOT, start_nemo_server, stop_nemo_server
from tests.nemo_local.conftest import Api


def test_fresh_anonymous_balance(api: Api) -> None:
    assert api.user().credits() == {"available": 100, "frozen": 0, "total": 100}


def test_token_create_prints_a_working_named_token(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    out = subprocess.run(
        [sys.executable, "-m", "nemo_local", "token", "create", "--credits", "7", "--name", "ci", "--data-dir", str(data_dir)],
        capture_output=True, text=True, check=True, cwd=REPO_ROOT,
    )  # fmt: skip
    token = out.stdout.strip()
    assert token.startswith("nmv_usr_")
    assert token not in out.stderr
    server = start_nemo_server(data_dir)
    try:
        resp = httpx.get(
            f"{server.base_url}/api/credits/balance/simple", headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.json()["data"] == {"available": 7, "frozen": 0, "total": 7}
    finally:
        stop_nemo_server(server)
