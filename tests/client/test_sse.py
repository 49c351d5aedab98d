"""The /run_sse reader on genuine ADK recordings and on hand-made typed-form streams."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nemo_provider.client.errors import NemoStreamError
from nemo_provider.client.models import MessageResult
from nemo_provider.client.sse import MessageAccumulator, parse_stream

from .fake_api import recorded

RECORDINGS = [
    "text_plain.sse",
    "text_streaming.sse",
    "tool_then_text.sse",
    "tool_only_silent.sse",
    "probe_02_text_streaming.sse",
    "probe_06_tool_only_nonstreaming.sse",
    "probe_14_safety_block_streaming.sse",
    "probe_20_artifact_streaming.sse",
]


def _final_texts(name: str) -> list[str]:
    """Independent oracle: the texts of non-partial model events, as a careful human would read them."""
    texts = []
    for block in recorded(name).decode().split("\n\n"):
        if not block.startswith("data: "):
            continue
        event = json.loads(block[len("data: ") :])
        content = event.get("content") or {}
        if event.get("partial") or content.get("role") != "model":
            continue
        parts = [p["text"] for p in content.get("parts", []) if "text" in p]
        if parts:
            texts.append("".join(parts))
    return texts


@pytest.mark.parametrize("name", RECORDINGS)
def test_recordings_show_each_text_exactly_once(name: str) -> None:
    shown: list[str] = []
    result = parse_stream(recorded(name), on_text=shown.append)
    assert result.texts == _final_texts(name)
    assert "".join(shown) == "".join(result.texts)


def test_streaming_chunks_arrive_as_they_come() -> None:
    shown: list[str] = []
    parse_stream(recorded("text_streaming.sse"), on_text=shown.append)
    assert shown == [
        "Hi! Tell me what bac",
        "kground music you ne",
        "ed: mood, length, an",
        "d where it will play",
        ".",
    ]


def test_tool_call_and_result_are_kept_not_shown() -> None:
    shown: list[str] = []
    result = parse_stream(recorded("tool_then_text.sse"), on_text=shown.append)
    assert [(c.name, c.args) for c in result.tool_calls] == [
        ("compose_music", {"prompt": "calm lo-fi", "duration_s": 60})
    ]
    assert result.tool_calls[0].id == result.tool_results[0].id
    assert result.tool_results[0].response == {
        "track_id": "trk_0001",
        "duration_ms": 60000,
        "bpm": 78,
        "key": "A minor",
    }
    assert shown == result.texts  # only the texts went to the user, not the tool traffic


def test_silent_turn_has_no_text() -> None:
    result = parse_stream(recorded("tool_only_silent.sse"))
    assert result.texts == [] and result.text == ""
    assert [c.name for c in result.tool_calls] == ["edit_timeline"] and len(result.tool_results) == 1


def test_empty_model_turn_is_not_an_error() -> None:
    result = parse_stream(recorded("probe_06_tool_only_nonstreaming.sse"))
    assert result.errors == [] and result.texts == []
    assert [c.name for c in result.tool_calls] == ["generate_music"]


def test_safety_error_reported_once() -> None:
    result = parse_stream(recorded("probe_14_safety_block_streaming.sse"))
    assert [(e.code, e.message) for e in result.errors] == [("SAFETY", None)]


def test_partial_function_call_and_duplicate_artifact_event_deduplicated() -> None:
    result = parse_stream(recorded("probe_20_artifact_streaming.sse"))
    assert [c.name for c in result.tool_calls] == ["render_music_file"]
    assert [r.name for r in result.tool_results] == ["render_music_file"]
    assert result.texts == ["Saved the audio as trk_58989db7e7.wav (version 0)."]


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(RECORDINGS), cuts=st.lists(st.integers(1, 400), min_size=1, max_size=40))
def test_any_chunking_of_a_recording_gives_the_same_result(name: str, cuts: list[int]) -> None:
    body = recorded(name).decode()
    whole = parse_stream(body)
    acc = MessageAccumulator()
    pos = 0
    for cut in cuts * (len(body) // max(1, sum(cuts)) + 1):
        acc.feed_text(body[pos : pos + cut])
        pos += cut
        if pos >= len(body):
            break
    acc.feed_text(body[pos:])
    assert acc.finish().model_dump(exclude={"elapsed"}) == whole.model_dump(exclude={"elapsed"})


# -- typed form and keep-alives -------------------------------------------------------------------------
def _typed(*events: dict[str, Any] | str) -> str:
    out = []
    for e in events:
        out.append(e if isinstance(e, str) else f"data: {json.dumps(e)}\n\n")
    return "".join(out)


def test_typed_form_text_tools_errors() -> None:
    body = _typed(
        {"type": "heartbeat"},
        {"type": "text", "content": "Composing "},
        {"type": "text", "content": "now."},
        {"type": "tool_call", "name": "compose_music", "args": {"mood": "calm"}},
        {"type": "tool_result", "name": "compose_music", "result": {"track_id": "t1"}},
        {"type": "text", "content": "Done."},
        {"type": "error", "message": "render node busy"},
        {"type": "something_new", "x": 1},
    )
    shown: list[str] = []
    result = parse_stream(body, on_text=shown.append)
    assert result.texts == ["Composing now.", "Done."]
    assert shown == ["Composing ", "now.", "Done."]
    assert [(c.name, c.args) for c in result.tool_calls] == [("compose_music", {"mood": "calm"})]
    assert result.tool_results[0].response == {"track_id": "t1"}
    assert [(e.code, e.message) for e in result.errors] == [("error", "render node busy")]


def test_error_frame_after_the_stream_started() -> None:
    body = _typed(
        {"content": {"parts": [{"text": "Working"}], "role": "model"}, "id": "e1", "invocationId": "i"},
        'data: {"error": "Tool \\u0027x\\u0027 failed", "error_details": {"type": "ValueError"}}\n\n',
    )
    result = parse_stream(body)
    assert result.texts == ["Working"]
    assert [(e.code, e.message, e.details) for e in result.errors] == [
        ("server_error", "Tool 'x' failed", {"type": "ValueError"})
    ]


def test_adk_tool_error_event_is_reported() -> None:
    body = _typed(
        {"errorCode": "TOOL_ERROR", "errorMessage": "compose failed", "id": "e9", "invocationId": "i"}
    )
    assert [(e.code, e.message) for e in parse_stream(body).errors] == [("TOOL_ERROR", "compose failed")]


def test_partial_and_final_with_different_ids_still_shown_once() -> None:
    body = _typed(
        {
            "content": {"parts": [{"text": "Hel"}], "role": "model"},
            "partial": True,
            "id": "p1",
            "invocationId": "i",
        },
        {
            "content": {"parts": [{"text": "lo"}], "role": "model"},
            "partial": True,
            "id": "p1",
            "invocationId": "i",
        },
        {"content": {"parts": [{"text": "Hello!"}], "role": "model"}, "id": "f2", "invocationId": "i"},
    )
    shown: list[str] = []
    result = parse_stream(body, on_text=shown.append)
    assert shown == ["Hel", "lo", "!"] and result.texts == ["Hello!"]


def test_partial_chunks_without_final_are_kept() -> None:
    body = _typed({"content": {"parts": [{"text": "cut "}], "role": "model"}, "partial": True, "id": "a"})
    assert parse_stream(body).texts == ["cut "]


def test_crlf_framing_and_multiline_data() -> None:
    event = {"type": "text", "content": "crlf ok"}
    body = f"data: {json.dumps(event)}\r\n\r\n: comment\r\n\r\ndata: \r\n\r\n"
    assert parse_stream(body).texts == ["crlf ok"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_keepalives_of_every_kind_and_still_working_at_most_every_two_minutes() -> None:
    clock = FakeClock()
    notes: list[str] = []
    acc = MessageAccumulator(on_progress=notes.append, clock=clock, timeout=3600)
    keepalives = [
        ": ping\n\n",
        "data:\n\n",
        "event: heartbeat\ndata: {}\n\n",
        'data: {"type": "heartbeat"}\n\n',
    ]
    for second in range(0, 601, 10):  # ten minutes of keep-alives only, one every 10 s
        clock.now = float(second)
        acc.feed_text(keepalives[second // 10 % 4])
    assert acc.keepalives == 61
    assert len(notes) == 5  # at 120, 240, 360, 480, 600 s
    assert notes[0].startswith("Still working") and "2 min" in notes[0]


def test_text_resets_the_still_working_timer() -> None:
    clock = FakeClock()
    notes: list[str] = []
    acc = MessageAccumulator(on_progress=notes.append, clock=clock, timeout=3600)
    clock.now = 100
    acc.feed_text(_typed({"type": "text", "content": "hi"}))
    clock.now = 200
    acc.feed_text(": ping\n\n")
    assert notes == []
    clock.now = 221
    acc.feed_text(": ping\n\n")
    assert len(notes) == 1


def test_ceiling_raises_a_stream_error() -> None:
    clock = FakeClock()
    acc = MessageAccumulator(clock=clock, timeout=900)
    clock.now = 899
    acc.feed_text(": ping\n\n")
    clock.now = 901
    with pytest.raises(NemoStreamError, match="900 s"):
        acc.feed_text(": ping\n\n")


def test_garbage_events_are_skipped() -> None:
    body = 'data: not json\n\ndata: [1, 2]\n\ndata: {"content": 5, "id": 1}\n\n' + _typed(
        {"type": "text", "content": "still here"}
    )
    assert parse_stream(body).texts == ["still here"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_crash_the_reader(data: bytes) -> None:
    try:
        result = parse_stream(data)
    except NemoStreamError:
        return
    assert isinstance(result, MessageResult)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=6,
)
eventish = st.dictionaries(
    st.sampled_from(
        ["type", "content", "parts", "text", "id", "partial", "errorCode", "error", "invocationId"]
    ),
    json_values,
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(eventish, max_size=6))
def test_arbitrary_json_events_never_crash_the_reader(events: list[dict[str, Any]]) -> None:
    result = parse_stream("".join(f"data: {json.dumps(e)}\n\n" for e in events))
    assert isinstance(result, MessageResult)
