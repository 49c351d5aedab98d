"""The `/run_sse` request body: what the client builds is what nemo_local's model reads (every key,
none left over in the model's extras), what a genuine ADK server was sent, and a real nemo_local
answers it; and the conversation's timings the client keeps are the contract's."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from nemo_local.api.sse import RunSSE
from nemo_provider.client import NemoClient
from nemo_provider.client.constants import DEFAULT_RETRY_AFTER_S, MESSAGE_CEILING_S, STILL_WORKING_EVERY_S

from .conftest import Recorder, contract_text

ADK_REQUESTS = sorted((Path(__file__).resolve().parents[1] / "data" / "adk-sse").glob("*.request.json"))


def _shape(value: Any) -> Any:
    """Keys and nesting of a JSON value, without its contents."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v) for v in value[:1]]
    return type(value).__name__


@pytest.mark.parametrize("streaming", [True, False])
def test_the_body_the_client_sends_is_the_one_the_server_reads(
    client: NemoClient, recorder: Recorder, streaming: bool
) -> None:
    session_id = client.create_session().session_id
    result = client.send_message(session_id, "hello there", streaming=streaming)
    assert result.text  # nemo_local understood the turn (a help answer, no credits)
    (request,) = recorder.sent("POST", "/run_sse")
    assert request.headers["accept"] == "text/event-stream"
    body = json.loads(request.content)
    parsed = RunSSE.model_validate(body)
    assert parsed.model_extra == {} and parsed.new_message.model_extra == {}
    assert all(part.model_extra == {} for part in parsed.new_message.parts)
    assert (parsed.session_id, parsed.streaming, parsed.app_name) == (session_id, streaming, "nemo_agent")
    assert parsed.new_message.role == "user" and [p.text for p in parsed.new_message.parts] == ["hello there"]
    assert ADK_REQUESTS, "the recorded ADK requests are missing"
    for recorded in ADK_REQUESTS:
        adk = json.loads(recorded.read_text())
        assert _shape(body) == _shape(adk), recorded.name  # the body a real ADK server was sent
        RunSSE.model_validate(adk)  # and the server reads that one too


def test_the_clients_timings_are_the_contracts() -> None:
    text = contract_text()
    (minutes,) = re.findall(r"Allow up to (\d+) minutes", text)
    (still_working,) = re.findall(r'Log "still working" at most every (\d+) minutes', text)
    (retry_after,) = re.findall(r"wait \(Retry-After, else (\d+) s\)", text)
    assert int(minutes) * 60 == MESSAGE_CEILING_S
    assert int(still_working) * 60 == STILL_WORKING_EVERY_S
    assert int(retry_after) == DEFAULT_RETRY_AFTER_S
