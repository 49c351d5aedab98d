"""Wire models: tolerant parsing, both render shapes, secrets hidden."""

from __future__ import annotations

from nemo_provider.client.models import (
    AnonymousToken,
    Credits,
    MessageResult,
    RenderStatus,
    SessionInfo,
    SessionState,
    UploadResult,
)
from tests._helpers import fake_token


def test_token_never_shows_in_repr_or_dump() -> None:
    secret = fake_token("topsecret")
    tok = AnonymousToken.model_validate({"token": secret, "user_id": "u1", "credits": 100})
    assert "topsecret" not in repr(tok)
    assert "topsecret" not in str(tok)
    assert "topsecret" not in tok.model_dump_json()
    assert tok.token.get_secret_value() == secret


def test_extra_fields_tolerated_and_numeric_ids_become_strings() -> None:
    info = SessionInfo.model_validate({"session_id": 7234567890123456789, "task_id": 9, "new_field": [1]})
    assert info.session_id == "7234567890123456789"
    assert info.task_id == "9"
    assert info.model_extra == {"new_field": [1]}
    credits = Credits.model_validate({"available": 90, "frozen": 10, "total": 100, "currency": "cr"})
    assert (credits.available, credits.frozen, credits.total) == (90, 10, 100)


def test_session_state_flattens_state_and_parses_draft() -> None:
    state = SessionState.from_api(
        {
            "session_id": "1",
            "task_id": "2",
            "task_name": "project",
            "state": {
                "draft": {"t": [{"tt": 1, "sg": [{"s": 0, "d": 4000, "v": 0.5}]}]},
                "video_infos": None,
                "generated_media": [{"id": "m1", "kind": "music", "bpm": 80, "mystery": 1}, "junk"],
                "canvas_config": {"w": 1},
            },
        }
    )
    assert state.draft is not None and state.draft.is_exportable
    assert state.video_infos == []
    assert [m.id for m in state.generated_media] == ["m1"]
    assert state.generated_media[0].bpm == 80
    assert state.canvas_config == {"w": 1}


def test_session_state_with_json_string_draft_or_none() -> None:
    assert SessionState.from_api({"state": {"draft": '{"t": []}'}}).draft is not None
    assert SessionState.from_api({"state": {"draft": None}}).draft is None
    assert SessionState.from_api(None).draft is None


def test_render_status_shape_a() -> None:
    status = RenderStatus.from_api(
        {
            "taskId": "render_1",
            "status": "completed",
            "progress": 100,
            "output": {"url": "https://cdn/x.mp4", "duration": 12.5, "size": 2048},
            "error": None,
        },
        "fallback",
    )
    assert (status.id, status.status, status.url, status.size, status.duration) == (
        "render_1",
        "completed",
        "https://cdn/x.mp4",
        2048,
        12.5,
    )
    assert status.is_terminal and status.error is None


def test_render_status_shape_b_and_aliases() -> None:
    status = RenderStatus.from_api(
        {"id": "render_2", "status": "RUNNING", "progress": "40", "outputUrl": None, "createdAt": "t"},
        "fallback",
    )
    assert (status.id, status.status, status.progress, status.url) == ("render_2", "processing", 40.0, None)
    assert not status.is_terminal
    assert status.model_extra == {"createdAt": "t", "outputUrl": None} or status.model_extra == {
        "createdAt": "t"
    }
    failed = RenderStatus.from_api({"status": "failed", "error": {"message": "ffmpeg died"}}, "render_3")
    assert (failed.id, failed.status, failed.error) == ("render_3", "failed", "ffmpeg died")
    assert RenderStatus.from_api({"status": "canceled"}, "r").status == "cancelled"
    assert RenderStatus.from_api({"status": "weird-new-state"}, "r").status == "processing"


def test_message_result_text_joins_texts() -> None:
    result = MessageResult(texts=["one", "", "two"])
    assert result.text == "one\n\ntwo"
    assert UploadResult.model_validate({"files": [{"filename": "a.mp4", "width": 1}]}).files[0].width == 1
