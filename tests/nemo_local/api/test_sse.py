"""The agent over /run_sse: ADK-shaped events, generate and edits on the draft, credits, keep-alives,
the deterministic silent share, Chinese, and the errors that answer before any event."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO_ROOT, NemoServer
from tests.nemo_local.conftest import Api, Stream, User

CALL_ID = re.compile(r"adk-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _music(user: User, sid: str) -> dict:  # type: ignore[type-arg]
    draft = user.state(sid)["state"]["draft"]
    (track,) = [t for t in draft["t"] if t["tt"] == 1]
    return track["sg"][0]  # type: ignore[no-any-return]


def _assert_no_nulls(obj: object) -> None:
    assert obj is not None
    if isinstance(obj, dict):
        for v in obj.values():
            _assert_no_nulls(v)
    elif isinstance(obj, list):
        for v in obj:
            _assert_no_nulls(v)


def _generate(user: User, sid: str, text: str = "generate a calm lo-fi track, 8-second") -> Stream:
    stream = user.say(sid, text)
    assert stream.status == 200, stream.body
    return stream


def test_generate_streams_adk_events_and_lands_on_the_draft(api: Api) -> None:
    user = api.user()
    sid = user.new_session()
    stream = _generate(user, sid)
    for event in stream.events:
        _assert_no_nulls(event)
        assert event["author"] == "nemo_agent" and event["invocationId"] == stream.events[0]["invocationId"]
    (call,) = stream.parts("functionCall")
    (response,) = stream.parts("functionResponse")
    assert CALL_ID.fullmatch(call["id"]) and response["id"] == call["id"]
    assert call["name"] == response["name"] == "compose_music" and call["args"]["duration_s"] == 8
    response_event = next(e for e in stream.events if "functionResponse" in e["content"]["parts"][0])
    assert response_event["content"]["role"] == "user"
    assert "Export" in stream.texts[-1]
    state = user.state(sid)["state"]
    (media,) = state["generated_media"]
    assert media["kind"] == "music" and media["duration_ms"] == 8000 and media["mood"] == "calm"
    assert {"id", "url", "title", "prompt", "bpm", "key", "seed", "lufs"} <= set(media)
    seg = _music(user, sid)
    assert seg["src"] == media["url"] and seg["d"] == 8000 and seg["s"] == 0 and seg["v"] == 1.0
    audio = httpx.get(media["url"])
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    assert user.credits() == {"available": 90, "frozen": 0, "total": 90}


def test_streaming_sends_partials_then_the_aggregate_with_the_same_id(api: Api) -> None:
    user = api.user()
    sid = user.new_session()
    stream = user.say(sid, "hello there", streaming=True)
    partials = [e for e in stream.events if e.get("partial") is True]
    (final,) = [e for e in stream.events if e.get("partial") is False]
    assert len(partials) >= 2 and {e["id"] for e in partials} == {final["id"]}
    assert "".join(e["content"]["parts"][0]["text"] for e in partials) == final["content"]["parts"][0]["text"]
    assert user.credits()["available"] == 100  # chatting is free


def test_edits_change_the_draft_and_cost_two_credits(api: Api, media_files: dict[str, Path]) -> None:
    user = api.user()
    sid = user.new_session()
    _generate(user, sid, "generate an upbeat pop track, 8-second")
    first_bpm = user.state(sid)["state"]["generated_media"][0]["bpm"]

    stream = user.say(sid, "lower the music to 35%")
    (call,) = stream.parts("functionCall")
    assert call["name"] == "edit_timeline" and call["args"]["operations"] == [{"op": "volume", "value": 0.35}]
    assert _music(user, sid)["v"] == 0.35
    user.say(sid, "fade in 1 second and fade out 2 seconds")
    seg = _music(user, sid)
    assert (seg["fi"], seg["fo"]) == (1000, 2000)
    user.say(sid, 'add a title "Urban Dreams" for 3 seconds')
    draft = user.state(sid)["state"]["draft"]
    (titles,) = [t for t in draft["t"] if t["tt"] == 7]
    assert titles["sg"][0]["txt"] == "Urban Dreams" and titles["sg"][0]["d"] == 3000
    assert user.credits()["available"] == 90 - 3 * 2

    user.say(sid, "make it calmer and change the length to 6 seconds")  # 4th edit: silent by default
    state = user.state(sid)["state"]
    assert len(state["generated_media"]) == 2 and state["generated_media"][1]["bpm"] < first_bpm
    seg = _music(user, sid)
    assert seg["d"] == 6000 and seg["v"] == 0.35 and seg["fo"] == 2000  # kept across the new take
    assert state["draft"]["d"] == 6000

    resp = user.post(
        f"/api/upload-video/nemo_agent/me/{sid}",
        files=[("files", ("clip.mp4", media_files["video"].read_bytes()))],
    )
    assert resp.status_code == 200
    user.say(sid, "fit the music to the video length")
    assert abs(_music(user, sid)["d"] - 2000) <= 100
    assert user.credits()["available"] == 90 - 5 * 2


def test_default_share_of_edits_is_silent(api: Api) -> None:
    user = api.user()
    sid = user.new_session()
    _generate(user, sid)
    streams = [user.say(sid, f"set the music volume to {p}%") for p in (90, 80, 70, 60)]
    assert [bool(s.texts) for s in streams] == [True, True, True, False]
    silent = streams[3]
    assert silent.parts("functionCall") and silent.parts("functionResponse")
    assert silent.events[-1]["content"] == {"parts": [], "role": "model"}
    assert _music(user, sid)["v"] == 0.6  # the silent edit was still made


def test_keep_alives_while_composing(fault_api: Api) -> None:
    user = fault_api.user()
    sid = user.new_session()
    stream = user.say(sid, "generate an epic orchestral track, 10-second")
    assert stream.comments and all(c.startswith(":") for c in stream.comments)
    assert stream.parts("functionResponse")


def test_chinese_request_gets_a_chinese_answer(api: Api) -> None:
    user = api.user()
    sid = user.new_session()
    stream = _generate(user, sid, "生成一段8秒的舒缓钢琴音乐")
    assert re.search(r"[\u4e00-\u9fff]", stream.texts[-1]) and "导出" in stream.texts[-1]
    assert _music(user, sid)["d"] == 8000


def test_short_credits_answer_2001_before_the_stream(nemo_server: NemoServer, api: Api) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "nemo_local", "token", "create", "--credits", "5", "--data-dir", str(nemo_server.data_dir)],
        capture_output=True, text=True, check=True, cwd=REPO_ROOT,
    )  # fmt: skip
    user = User(api.http, out.stdout.strip(), "")
    sid = user.new_session()
    stream = user.say(sid, "generate a calm lo-fi track, 8-second")
    assert stream.status == 403 and '"code":2001' in stream.body.replace(" ", "")
    assert user.credits() == {"available": 5, "frozen": 0, "total": 5}


def test_unknown_session_and_malformed_body(api: Api) -> None:
    user = api.user()
    stream = user.say("9999999999999999999", "hello")
    assert stream.status == 404
    assert json.loads(stream.body) == {
        "code": 1002,
        "message": "Session not found: 9999999999999999999",
        "data": None,
        "detail": "Session not found: 9999999999999999999",
    }
    bad = user.post("/run_sse", json={"app_name": "nemo_agent"})
    assert bad.status_code == 422 and "detail" in bad.json() and bad.json()["code"] == 422
    assert "session_id" in bad.json()["message"] and "new_message" in bad.json()["message"]


@pytest.mark.parametrize("keys", ["camel", "snake"])
def test_camel_case_request_keys(api: Api, keys: str) -> None:
    user = api.user()
    sid = user.new_session()
    if keys == "camel":
        body = {
            "appName": "nemo_agent",
            "userId": "me",
            "sessionId": sid,
            "newMessage": {"parts": [{"text": "hi"}]},
        }
    else:
        body = {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": sid,
            "new_message": {"parts": [{"text": "hi"}]},
        }
    resp = user.post("/run_sse", json=body)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
    assert resp.text.startswith("data: {")


def test_seed_makes_the_same_track_and_replace_swaps_it(api: Api) -> None:
    user = api.user()
    first, second = user.new_session(), user.new_session()
    for sid in (first, second):
        _generate(user, sid, "generate a loopable calm piano track, 2-second, seed 7")
    a, b = (user.state(sid)["state"]["generated_media"][0] for sid in (first, second))
    assert a["seed"] == b["seed"] == 7 and (a["title"], a["key"], a["bpm"]) == (
        b["title"],
        b["key"],
        b["bpm"],
    )
    assert httpx.get(a["url"]).content == httpx.get(b["url"]).content
    stream = user.say(first, "replace the track with upbeat jazz")
    (call,) = stream.parts("functionCall")
    assert call["name"] == "compose_music" and call["args"]["duration_s"] == 2
    media = user.state(first)["state"]["generated_media"]
    assert len(media) == 2 and media[1]["mood"] != media[0]["mood"]
    assert _music(user, first)["src"] == media[1]["url"]
    assert user.credits()["available"] == 100 - 3 * 10


def test_music_for_an_uploaded_video_matches_its_length(api: Api, media_files: dict[str, Path]) -> None:
    user = api.user()
    sid = user.new_session()
    files = [("files", ("clip.mp4", media_files["video"].read_bytes()))]
    assert user.post(f"/api/upload-video/nemo_agent/me/{sid}", files=files).status_code == 200
    stream = _generate(user, sid, "generate calm piano music")
    (call,) = stream.parts("functionCall")
    assert abs(call["args"]["duration_s"] - 2.0) < 0.1
    draft = user.state(sid)["state"]["draft"]
    assert {t["tt"] for t in draft["t"]} == {0, 1}
    assert abs(_music(user, sid)["d"] - 2000) <= 100
