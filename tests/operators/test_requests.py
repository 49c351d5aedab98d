"""What an operator's path costs the service, counted on a real nemo_local: every request the real client
sends, and what nemo_local's own database recorded."""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import pytest

from nemo_provider.client import NemoClient
from nemo_provider.hooks.nemo import NemoHook
from nemo_provider.operators.nemo import NemoGenerateOperator
from tests._helpers import Recorder
from tests.conftest import NemoServer

from .conftest import FakeTI


@pytest.fixture
def recorded_client(nemo_server: NemoServer, monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """The operators get a real client on the session's nemo_local, whose requests are recorded."""
    recorder = Recorder()
    client_id = str(uuid.uuid4())

    def get_client(self: NemoHook, **kwargs: Any) -> NemoClient:
        return NemoClient(nemo_server.base_url, client_id=client_id, transport=recorder)

    monkeypatch.setattr(NemoHook, "get_client", get_client)
    return recorder


def test_a_message_reads_the_session_once_before_it_and_once_after(
    recorded_client: Recorder, records: Any, ti: FakeTI, nemo_server: NemoServer
) -> None:
    """The operator's record of the session before the message is also the client's "before": the
    client does not read /state a second time before /run_sse."""
    out = NemoGenerateOperator(task_id="g", prompt="Generate calm background music, 4 seconds long.").execute(
        {"ti": ti}
    )
    sid = out["session_id"]
    sent = [(r.method, r.url.path) for r in recorded_client.requests]
    state = ("GET", f"/api/state/nemo_agent/me/{sid}/latest")
    message = sent.index(("POST", "/run_sse"))
    assert sent[:message].count(state) == 1, sent
    assert sent.count(("POST", "/run_sse")) == 1
    assert sent[message + 1 :].count(state) == (1 if out["texts"] else 2), sent  # + the silent turn's own
    with sqlite3.connect(f"file:{nemo_server.data_dir / 'nemo_local.sqlite3'}?mode=ro", uri=True) as db:
        (kept,) = db.execute("SELECT COUNT(*) FROM generated_media WHERE session_id=?", (sid,)).fetchone()
    assert kept == len(out["generated_media"]) == 1 and out["credits_spent"] == 10
