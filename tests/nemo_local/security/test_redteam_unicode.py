"""Red-team finding: JSON may spell a lone UTF-16 surrogate ("\\ud800"), which is not Unicode. In a
session's name, a session id or a prompt it ended in a 500 "internal error (UnicodeEncodeError)"; in a
draft's title the render failed as "internal error". Each is now a 422 naming the body or the draft, with
nothing created or charged."""

from __future__ import annotations

import pytest

from tests.nemo_local.security.conftest import Client, envelope

SURROGATE = "\\ud800"  # as it is spelled in the JSON text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/tasks/me/with-session/nemo_agent", '{"task_name": "a{sur}"}'),
        ("/api/tasks/me/with-session/nemo_agent", '{"language": "{sur}"}'),
        ("/run_sse", '{"session_id": "{sid}{sur}", "new_message": {"parts": [{"text": "hi"}]}}'),
        (
            "/run_sse",
            '{"session_id": "{sid}", "new_message": {"parts": [{"text": "make a calm track {sur}"}]}}',
        ),
    ],
)
def test_a_lone_surrogate_in_a_request_is_a_422(strict: Client, path: str, body: str) -> None:
    user = strict.user()
    sid = user.new_session()
    before = user.credits()
    resp = user.post(
        path,
        content=body.replace("{sid}", sid).replace("{sur}", SURROGATE).encode(),
        headers={"Content-Type": "application/json"},
    )
    data = envelope(resp, 422)
    assert "surrogate" in data["message"]
    assert user.credits() == before
    assert user.state(sid)["state"]["draft"] is None


@pytest.mark.parametrize(
    "draft",
    [
        '{"t": [{"tt": 7, "sg": [{"s": 0, "d": 1000, "txt": "hi"}]}], "m": {"title": "x{sur}"}}',
        '{"t": [{"tt": 7, "sg": [{"s": 0, "d": 1000, "txt": "hi {sur}"}]}]}',
        '{"t": [{"tt": 7, "sg": [{"s": 0, "d": 1000, "txt": "hi", "m": {"{sur}": 1}}]}]}',
    ],
)
def test_a_lone_surrogate_in_a_draft_refuses_the_render(strict: Client, draft: str) -> None:
    user = strict.user()
    sid = user.new_session()
    body = '{"id": "sur", "sessionId": "{sid}", "draft": {draft}, "output": {"format": "mp4"}}'
    body = body.replace("{sid}", sid).replace("{draft}", draft.replace("{sur}", SURROGATE))
    resp = user.post(
        "/api/render/proxy/lambda", content=body.encode(), headers={"Content-Type": "application/json"}
    )
    data = envelope(resp, 422)
    assert "surrogate" in data["message"] and data["data"]["field"] == "draft"
    envelope(user.get("/api/render/proxy/lambda/sur"), 404)
