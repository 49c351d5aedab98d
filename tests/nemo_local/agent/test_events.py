"""Events are shaped like the recorded ADK streams in shared/adk-sse."""

from __future__ import annotations

import json
import re

from nemo_local.agent.events import EventFactory, new_call_id, sse_data, sse_error_frame
from nemo_local.agent.turn import is_silent


def _nulls(obj: object) -> bool:
    if obj is None:
        return True
    if isinstance(obj, dict):
        return any(_nulls(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_nulls(v) for v in obj)
    return False


def test_streaming_text_is_chunks_then_an_aggregate_with_the_same_id() -> None:
    ev = EventFactory()
    events = list(ev.model_turn("Hello there, this text is long enough to be chunked.", streaming=True))
    assert len({e["id"] for e in events}) == 1
    assert all(e["partial"] is True for e in events[:-1]) and events[-1]["partial"] is False
    assert (
        "".join(e["content"]["parts"][0]["text"] for e in events[:-1])
        == events[-1]["content"]["parts"][0]["text"]
    )
    assert not any(_nulls(e) for e in events)
    assert {"invocationId", "author", "actions", "id", "timestamp"} <= set(events[-1])


def test_non_streaming_turn_has_no_partial_key_and_call_ids_look_like_adk() -> None:
    ev = EventFactory()
    call = {"id": new_call_id(), "args": {"prompt": "x"}, "name": "compose_music"}
    (event,) = ev.model_turn("Composing", call)
    assert "partial" not in event and event["longRunningToolIds"] == []
    assert re.fullmatch(r"adk-[0-9a-f-]{36}", event["content"]["parts"][1]["functionCall"]["id"])
    resp = ev.function_response(call["id"], "compose_music", {"ok": True})
    assert resp["content"]["role"] == "user" and resp["author"] == "nemo_agent"
    assert ev.empty_turn()["content"] == {"parts": [], "role": "model"}
    assert "content" not in ev.tool_error("TOOL_ERROR", "boom")


def test_framing() -> None:
    frame = sse_data({"a": "ü"})
    assert frame.startswith(b"data: ") and frame.endswith(b"\n\n") and b"\n" not in frame[:-2]
    err = json.loads(sse_error_frame("bad ü", {"x": 1})[6:])
    assert err == {"error": "bad ü", "error_details": {"x": 1}}


def test_silent_share_is_exact_and_deterministic() -> None:
    picks = [is_silent(i, 0.3) for i in range(100)]
    assert sum(picks) == 30
    assert picks[:10] == [is_silent(i, 0.3) for i in range(10)]
    assert not any(is_silent(i, 0.0) for i in range(20)) and all(is_silent(i, 1.0) for i in range(20))
