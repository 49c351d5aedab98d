from __future__ import annotations

import os
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from nemo_provider._compat import AirflowException, AirflowFailException, TaskDeferred
from nemo_provider.client.errors import NemoInsufficientCreditsError, NemoStreamError
from nemo_provider.links.nemo import NemoDownloadLink
from nemo_provider.operators.nemo import (
    NemoCreateSessionOperator,
    NemoExportOperator,
    NemoGenerateOperator,
    NemoPromptOperator,
    NemoUploadOperator,
)
from nemo_provider.triggers.nemo import NemoRenderTrigger

SID = "1234567890123456789"


def started_by_trigger(fake_client, deferred) -> str:
    """What the deferred export's trigger does first: start the render under the planned id."""
    trigger = deferred.value.trigger
    create = trigger.create
    fake_client.create_render(create["session_id"], create["draft"], create["format"], create["quality"],
                              render_id=trigger.render_id)  # fmt: skip
    return str(trigger.render_id)


def export_op(tmp_path: Path, **kw) -> NemoExportOperator:
    kw.setdefault("deferrable", False)
    kw.setdefault("poll_interval", 0.01)
    kw.setdefault("destination", str(tmp_path) + "/")
    return NemoExportOperator(task_id="export", session_id=SID, **kw)


# -- session / upload -----------------------------------------------------------------------------
def test_create_session_returns_ids(fake_client, ti) -> None:
    out = NemoCreateSessionOperator(task_id="s", task_name="weekly").execute({"ti": ti})
    assert out == {"task_id": "t1", "session_id": SID}
    assert ("create_session", "weekly") in fake_client.calls


def test_upload_needs_files_or_urls() -> None:
    with pytest.raises(ValueError, match="files"):
        NemoUploadOperator(task_id="u", session_id=SID)


# -- export: waiting modes ------------------------------------------------------------------------
def test_export_polls_downloads_and_verifies(fake_client, records, ti, tmp_path) -> None:
    op = export_op(tmp_path)
    out = op.execute({"ti": ti})
    assert out["render_id"] == ti.xcom["render_id"]
    assert Path(out["path"]).read_bytes() == fake_client.payload
    assert out["size"] == len(fake_client.payload)
    assert out["format"] == "mp4" and out["duration"] == 6.0
    assert ti.xcom["render_url"] == out["url"]
    key = SimpleNamespace(
        dag_id="d", run_id="r", task_id="t", map_index=-1
    )  # the link names the TI, not a URL
    assert "/nemo/media?dag_id=d&run_id=r&task_id=t&map_index=-1&download=1" in NemoDownloadLink().get_link(
        op, ti_key=key
    )
    assert records.records == {}, "a finished export leaves no resume record behind"


def test_export_defers_with_the_right_trigger_after_pushing_the_id(
    fake_client, records, ti, tmp_path
) -> None:
    op = export_op(tmp_path, deferrable=True, poll_interval=7, timeout=120)
    before = time.time()
    with pytest.raises(TaskDeferred) as exc:
        op.execute({"ti": ti})
    trigger = exc.value.trigger
    assert isinstance(trigger, NemoRenderTrigger)
    assert exc.value.method_name == "execute_complete"
    assert trigger.render_id == ti.xcom["render_id"], "the id is in XCom before the task waits"
    assert before + 120 <= trigger.end_time <= time.time() + 120
    assert trigger.poll_interval == 7
    assert exc.value.timeout is not None and exc.value.timeout.total_seconds() >= 120
    # The trigger starts the render, not the worker: a kill before a triggerer picks the trigger up
    # then leaves nothing running on the service.
    assert fake_client.names().count("create_render") == 0
    assert trigger.create is not None
    assert trigger.create["session_id"] == SID and trigger.create["format"] == "mp4"
    assert trigger.create["draft"] == fake_client.draft
    assert records.records and next(iter(records.records.values()))["render_id"] == trigger.render_id


def test_execute_complete_success_downloads(fake_client, records, ti, tmp_path) -> None:
    op = export_op(tmp_path, deferrable=True)
    with pytest.raises(TaskDeferred) as exc:
        op.execute({"ti": ti})
    rid = exc.value.trigger.render_id
    fake_client._render_status[rid] = ["completed"]
    out = NemoExportOperator.execute_complete(
        op, {"ti": ti}, {"status": "success", "render_id": rid, "message": "ok", "render": None}
    )
    assert Path(out["path"]).stat().st_size == len(fake_client.payload)


@pytest.mark.parametrize("status", ["failed", "cancelled", "error"])
def test_execute_complete_failure_paths_raise_with_reason(fake_client, records, ti, tmp_path, status) -> None:
    op = export_op(tmp_path)
    event = {"status": status, "render_id": "render_1", "message": f"Render render_1 {status}: boom"}
    with pytest.raises(AirflowException, match="boom"):
        op.execute_complete({"ti": ti}, event)
    assert "cancel_render" not in fake_client.names()


def test_execute_complete_timeout_cancels_if_trigger_could_not(fake_client, records, ti, tmp_path) -> None:
    op = export_op(tmp_path)
    event = {"status": "timeout", "render_id": "render_9", "message": "deadline", "cancelled": False}
    with pytest.raises(AirflowException, match="deadline"):
        op.execute_complete({"ti": ti}, event)
    assert ("cancel_render", "render_9") in fake_client.calls


def test_polling_timeout_cancels_the_render(fake_client, records, ti, tmp_path) -> None:
    fake_client.statuses = ["processing"]
    op = export_op(tmp_path, timeout=0.05)
    with pytest.raises(AirflowException, match="cancelled"):
        op.execute({"ti": ti})
    assert ("cancel_render", ti.xcom["render_id"]) in fake_client.calls
    assert records.records == {}


def test_failed_render_fails_the_task_with_the_service_reason(fake_client, records, ti, tmp_path) -> None:
    fake_client.statuses = ["processing", "failed"]
    fake_client.render_error = "ffmpeg exploded"
    with pytest.raises(AirflowException, match="ffmpeg exploded"):
        export_op(tmp_path).execute({"ti": ti})


def test_transient_poll_errors_are_tolerated(fake_client, records, ti, tmp_path) -> None:
    fake_client.statuses = ["flaky", "flaky", "completed"]
    out = export_op(tmp_path).execute({"ti": ti})
    assert out["size"] == len(fake_client.payload)


def test_size_mismatch_fails(fake_client, records, ti, tmp_path) -> None:
    fake_client.reported_size = 99999
    with pytest.raises(AirflowException, match="cut short"):
        export_op(tmp_path).execute({"ti": ti})


def test_empty_timeline_fails_without_rendering(fake_client, records, ti, tmp_path) -> None:
    fake_client.draft = None
    with pytest.raises(AirflowFailException, match="nothing to export"):
        export_op(tmp_path).execute({"ti": ti})
    assert fake_client.renders_created == 0


def test_on_kill_cancels_the_running_render(fake_client, records, ti, tmp_path) -> None:
    op = export_op(tmp_path, deferrable=True)
    with pytest.raises(TaskDeferred):
        op.execute({"ti": ti})
    op.on_kill()
    assert ("cancel_render", ti.xcom["render_id"]) in fake_client.calls


def test_on_kill_before_start_does_nothing(fake_client, tmp_path) -> None:
    export_op(tmp_path).on_kill()
    assert fake_client.calls == []


# -- export: retries resume -------------------------------------------------------------------------
def test_retry_resumes_the_same_render(fake_client, records, ti, new_try, tmp_path) -> None:
    op = export_op(tmp_path, deferrable=True)
    with pytest.raises(TaskDeferred) as first:
        op.execute({"ti": ti})
    started_by_trigger(fake_client, first)
    # try 1 dies (worker lost); try 2 starts from scratch with a fresh XCom
    retry_ti = new_try(ti)
    with pytest.raises(TaskDeferred) as second:
        export_op(tmp_path, deferrable=True).execute({"ti": retry_ti})
    assert second.value.trigger.render_id == first.value.trigger.render_id
    assert retry_ti.xcom["render_id"] == ti.xcom["render_id"]
    assert fake_client.renders_created == 1


@pytest.mark.parametrize("lookup_error", ["auth", "flaky"])
def test_retry_that_cannot_read_its_render_starts_no_second_one(
    fake_client, records, ti, new_try, tmp_path, lookup_error
) -> None:
    from nemo_provider.client.errors import NemoAuthError, NemoConnectionError

    op = export_op(tmp_path, deferrable=True)
    with pytest.raises(TaskDeferred) as first:
        op.execute({"ti": ti})
    started_by_trigger(fake_client, first)
    render_id = first.value.trigger.render_id
    err = (
        NemoAuthError("bad token", http_status=401)
        if lookup_error == "auth"
        else NemoConnectionError("reset")
    )

    def unreadable(rid: str) -> None:
        raise err

    fake_client.render_status = unreadable  # only a 404 says the render does not exist
    with pytest.raises(AirflowException, match=f"Could not read render {render_id}"):
        export_op(tmp_path, deferrable=True).execute({"ti": new_try(ti)})
    assert fake_client.renders_created == 1
    assert records.records, "the resume record stays for the next try"


def test_retry_after_completion_only_downloads(fake_client, records, ti, new_try, tmp_path) -> None:
    fake_client.statuses = ["completed"]
    op = export_op(tmp_path, deferrable=True)
    with pytest.raises(TaskDeferred) as first:
        # the render completes between create and the first poll: simulate by deferring first
        fake_client.statuses = ["processing", "completed"]
        op.execute({"ti": ti})
    started_by_trigger(fake_client, first)
    out = export_op(tmp_path).execute({"ti": new_try(ti)})
    assert fake_client.renders_created == 1
    assert Path(out["path"]).exists()


def test_retry_after_failed_render_starts_a_new_one(fake_client, records, ti, new_try, tmp_path) -> None:
    fake_client.statuses = ["processing", "failed"]
    with pytest.raises(AirflowException):
        export_op(tmp_path).execute({"ti": ti})
    fake_client.statuses = ["processing", "completed"]
    export_op(tmp_path).execute({"ti": new_try(ti)})
    assert fake_client.renders_created == 2


def test_retry_with_changed_parameters_starts_a_new_render(
    fake_client, records, ti, new_try, tmp_path
) -> None:
    with pytest.raises(TaskDeferred) as first:
        export_op(tmp_path, deferrable=True).execute({"ti": ti})
    started_by_trigger(fake_client, first)
    with pytest.raises(TaskDeferred) as second:
        export_op(tmp_path, deferrable=True, format="mp3").execute({"ti": new_try(ti)})
    assert second.value.trigger.render_id != first.value.trigger.render_id
    assert second.value.trigger.create["format"] == "mp3"


def test_wait_for_completion_false_returns_the_started_render(fake_client, records, ti, tmp_path) -> None:
    out = export_op(tmp_path, wait_for_completion=False).execute({"ti": ti})
    assert out["render_id"] == ti.xcom["render_id"]
    assert out["status"] == "pending"
    assert "download" not in fake_client.names()


def test_default_destination_uses_env_dir(fake_client, records, ti, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NEMO_EXPORT_DIR", str(tmp_path / "exports"))
    out = NemoExportOperator(task_id="e", session_id=SID, deferrable=False, poll_interval=0.01).execute(
        {"ti": ti}
    )
    assert Path(out["path"]).parent == (tmp_path / "exports").resolve()
    assert Path(out["path"]).name == f"{out['render_id']}.mp4"


def test_object_storage_destination(fake_client, records, ti, tmp_path, monkeypatch) -> None:
    # A memory:// URI stands for any object store: the export goes through ObjectStoragePath.
    from airflow.sdk.io import fs
    from fsspec.implementations.memory import MemoryFileSystem

    monkeypatch.setitem(fs._register_filesystems(), "memory", lambda conn_id: MemoryFileSystem())
    out = export_op(tmp_path, destination="memory://nemo-bucket/exports/track.mp4").execute({"ti": ti})
    from airflow.sdk import ObjectStoragePath

    target = ObjectStoragePath("memory://nemo-bucket/exports/track.mp4")
    assert target.read_bytes() == fake_client.payload
    assert out["path"] == "memory://nemo-bucket/exports/track.mp4"


# -- generate ---------------------------------------------------------------------------------------
def test_generate_returns_the_effect(fake_client, records, ti) -> None:
    out = NemoGenerateOperator(task_id="g", prompt="calm lo-fi", session_id=SID).execute({"ti": ti})
    assert out["session_id"] == SID
    assert out["texts"] == ["Here is your track."]
    assert [m["id"] for m in out["generated_media"]] == ["m1"]
    assert out["credits_spent"] == 10
    assert out["draft_changed"] is True
    assert out["timeline_summary"]
    assert records.records == {}
    # once before sending (the record) and once after (the result): no read is repeated
    assert fake_client.names() == ["state", "credits", "send_message", "state", "credits"]


def test_generate_creates_a_session_when_none_given(fake_client, records, ti) -> None:
    out = NemoGenerateOperator(task_id="g", prompt="calm").execute({"ti": ti})
    assert out["session_id"] == SID
    assert fake_client.names()[0] == "create_session"


def test_generate_retry_after_accepted_message_does_not_resend(fake_client, records, ti, new_try) -> None:
    # try 1: the service takes the message and acts, then the stream breaks
    def accept_then_break(session_id, text, **kw):
        fake_client.calls.append(("send_message", text))
        fake_client.media.append(fake_client.media_factory())
        raise NemoStreamError("stream broke")

    from nemo_provider.client.models import GeneratedMedia

    fake_client.media_factory = lambda: GeneratedMedia(id="m-accepted", kind="music")  # type: ignore[attr-defined]
    fake_client.send_message = accept_then_break  # type: ignore[method-assign]
    op = NemoGenerateOperator(task_id="g", prompt="calm", session_id=SID, settle_timeout=0)
    with pytest.raises(NemoStreamError):
        op.execute({"ti": ti})
    before = len(fake_client.calls)
    out = NemoGenerateOperator(task_id="g", prompt="calm", session_id=SID, settle_timeout=0).execute(
        {"ti": new_try(ti)}
    )
    assert fake_client.names().count("send_message") == 1
    assert [m["id"] for m in out["generated_media"]] == ["m-accepted"]
    assert fake_client.names()[before:] == ["state", "credits"], (
        "the read that showed the effect is the result's"
    )


def test_generate_retry_without_visible_effect_refuses_to_resend(fake_client, records, ti, new_try) -> None:
    fake_client.send_raises = NemoStreamError("stream broke")
    with pytest.raises(NemoStreamError):
        NemoGenerateOperator(task_id="g", prompt="calm", session_id=SID).execute({"ti": ti})
    fake_client.send_raises = None
    with pytest.raises(AirflowFailException, match="Not re-sending"):
        NemoGenerateOperator(task_id="g", prompt="calm", session_id=SID, settle_timeout=0).execute(
            {"ti": new_try(ti)}
        )
    assert fake_client.names().count("send_message") == 1


def test_generate_retry_can_opt_into_resending(fake_client, records, ti, new_try) -> None:
    fake_client.send_raises = NemoStreamError("stream broke")
    with pytest.raises(NemoStreamError):
        NemoGenerateOperator(task_id="g", prompt="calm", session_id=SID).execute({"ti": ti})
    fake_client.send_raises = None
    op = NemoGenerateOperator(
        task_id="g", prompt="calm", session_id=SID, settle_timeout=0, resend_unconfirmed=True
    )
    op.execute({"ti": new_try(ti)})
    assert fake_client.names().count("send_message") == 2


def test_generate_refused_message_is_resent_on_retry(fake_client, records, ti, new_try) -> None:
    fake_client.send_raises = NemoInsufficientCreditsError("out of credits", code=2001)
    with pytest.raises(NemoInsufficientCreditsError):
        NemoGenerateOperator(task_id="g", prompt="calm", session_id=SID).execute({"ti": ti})
    assert records.records == {}, "a refused message leaves no record, so the retry sends it"
    fake_client.send_raises = None
    NemoGenerateOperator(task_id="g", prompt="calm", session_id=SID).execute({"ti": new_try(ti)})
    assert fake_client.names().count("send_message") == 2


# -- prompt -----------------------------------------------------------------------------------------
def test_prompt_routes_credits(fake_client, records, ti) -> None:
    out = NemoPromptOperator(task_id="p", text="how many credits do I have?").execute({"ti": ti})
    assert out["action"] == "credits"
    assert out["result"]["available"] == fake_client.credits_available


def test_prompt_routes_export(fake_client, records, ti, tmp_path, monkeypatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("nemo_provider.operators._render_job.time.sleep", slept.append)
    out = NemoPromptOperator(
        task_id="p", text="export it", session_id=SID, destination=str(tmp_path) + "/", poll_interval=0.25
    ).execute({"ti": ti})
    assert out["action"] == "export"
    assert os.path.exists(out["result"]["path"])
    assert slept == [0.25, 0.25], "the render is polled at the prompt operator's own poll_interval"
    assert (
        ti.xcom["render_id"] == out["result"]["render_id"] and ti.xcom["render_url"] == out["result"]["url"]
    )
    assert records.records == {}


def test_prompt_routes_other_text_to_a_message(fake_client, records, ti) -> None:
    out = NemoPromptOperator(task_id="p", text="make an upbeat corporate track", session_id=SID).execute(
        {"ti": ti}
    )
    assert out["action"] == "message"
    assert ("send_message", "make an upbeat corporate track") in fake_client.calls


def test_prompt_translates_gui_phrases(fake_client, records, ti, tmp_path) -> None:
    out = NemoPromptOperator(
        task_id="p", text="click Export", session_id=SID, destination=str(tmp_path) + "/", poll_interval=0.01
    ).execute({"ti": ti})
    assert out["action"] == "export"


class FakeTaskStateStore:
    """Airflow 3.3's per-task-instance store: survives retries of the same task instance."""

    def __init__(self) -> None:
        self.data: dict[str, object] = {}

    def get(self, key: str, default: object = None) -> object:
        return self.data.get(key, default)

    def set(self, key: str, value: object) -> None:
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


def test_retry_resumes_through_the_task_state_store(fake_client, records, ti, new_try, tmp_path) -> None:
    store = FakeTaskStateStore()
    with pytest.raises(TaskDeferred) as first:
        export_op(tmp_path, deferrable=True).execute({"ti": ti, "task_state_store": store})
    assert store.data["nemo_provider.render"]["render_id"] == first.value.trigger.render_id
    assert records.records == {}, "with a task_state_store, no Variable is used"
    started_by_trigger(fake_client, first)
    with pytest.raises(TaskDeferred) as second:
        export_op(tmp_path, deferrable=True).execute({"ti": new_try(ti), "task_state_store": store})
    assert second.value.trigger.render_id == first.value.trigger.render_id
    assert fake_client.renders_created == 1


def test_upload_streams_local_files_and_reports_them(fake_client, ti, tmp_path) -> None:
    from nemo_provider.client.models import UploadedFile, UploadResult

    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00" * 64)
    sent: list[list[str]] = []

    def upload(session_id, files=None, urls=None):
        sent.append(list(files or []))
        return UploadResult(files=[UploadedFile(filename="clip.mp4", file_type="video", duration=6.0)])

    fake_client.upload = upload  # type: ignore[attr-defined]
    out = NemoUploadOperator(task_id="u", session_id=SID, files=[str(video)]).execute({"ti": ti})
    assert sent == [[str(video)]]
    assert out["session_id"] == SID
    assert out["files"][0]["filename"] == "clip.mp4" and out["files"][0]["duration"] == 6.0


def test_upload_takes_file_uris_and_object_storage_paths(fake_client, ti, tmp_path, monkeypatch) -> None:
    from airflow.sdk import ObjectStoragePath
    from airflow.sdk.io import fs
    from fsspec.implementations.memory import MemoryFileSystem

    monkeypatch.setitem(fs._register_filesystems(), "memory", lambda conn_id: MemoryFileSystem())

    from nemo_provider.client.models import UploadedFile, UploadResult

    local = tmp_path / "local clip.mp4"
    local.write_bytes(b"local-bytes")
    remote = ObjectStoragePath("memory://nemo-test-bucket/remote.mp4")
    with remote.open("wb") as f:
        f.write(b"remote-bytes" * 1000)
    received: list[tuple[str, bytes]] = []

    def upload(session_id, files=None, urls=None):
        # read while the operator's temp copy still exists
        received.extend((f, Path(f).read_bytes()) for f in files or [])
        return UploadResult(files=[UploadedFile(filename=os.path.basename(f)) for f in files or []])

    fake_client.upload = upload  # type: ignore[attr-defined]
    uri = local.as_uri()
    out = NemoUploadOperator(task_id="u", session_id=SID, files=[uri, str(remote)]).execute({"ti": ti})
    assert received[0] == (str(local), b"local-bytes")
    assert os.path.basename(received[1][0]) == "remote.mp4"
    assert received[1][1] == b"remote-bytes" * 1000
    assert [f["filename"] for f in out["files"]] == ["local clip.mp4", "remote.mp4"]


# -- export: the session's media in the result ------------------------------------------------------
def _one_track(fake_client) -> None:
    from nemo_provider.client.models import GeneratedMedia

    fake_client.media.append(
        GeneratedMedia(
            id="med_1", kind="music", title="Calm Lo-Fi", prompt="calm lo-fi", bpm=80, key="C major",
            mood="calm", seed=7, lufs=-14.1, duration_ms=6000,
        )
    )  # fmt: skip


def test_export_result_lists_the_session_media(fake_client, records, ti, tmp_path) -> None:
    _one_track(fake_client)
    out = export_op(tmp_path).execute({"ti": ti})
    assert out["media"] == [
        {
            "id": "med_1", "kind": "music", "title": "Calm Lo-Fi", "prompt": "calm lo-fi", "bpm": 80,
            "key": "C major", "mood": "calm", "seed": 7, "lufs": -14.1, "duration_ms": 6000,
        }
    ]  # fmt: skip
    # the fake payload is not media: the default gate ("warn") says so without failing the task
    assert out["quality"]["passed"] is False
    assert [m["name"] for m in out["quality"]["misses"]] == ["readable"]
    assert Path(out["manifest"]).name == Path(out["path"]).name + ".nemo.json"
    assert fake_client.names().count("state") == 1, "the media comes from the state read for the draft"


def test_deferred_export_carries_the_media_through_the_trigger(fake_client, records, ti, tmp_path) -> None:
    _one_track(fake_client)
    op = export_op(tmp_path, deferrable=True)
    with pytest.raises(TaskDeferred) as exc:
        op.execute({"ti": ti})
    assert exc.value.kwargs["facts"]["media"][0]["seed"] == 7
    rid = exc.value.trigger.render_id
    fake_client._render_status[rid] = ["completed"]
    fake_client.media.clear()  # whatever the session says now, the result uses what was carried
    resumed = export_op(tmp_path, deferrable=True)  # a fresh operator object, as after deferral
    out = resumed.execute_complete(
        {"ti": ti}, {"status": "success", "render_id": rid, "message": "ok"}, **exc.value.kwargs
    )
    assert [m["title"] for m in out["media"]] == ["Calm Lo-Fi"]


def test_resumed_render_reads_the_media_it_never_carried(fake_client, records, ti, new_try, tmp_path) -> None:
    _one_track(fake_client)
    with pytest.raises(TaskDeferred) as first:
        export_op(tmp_path, deferrable=True).execute({"ti": ti})
    # try 1 dies while deferred (its defer kwargs are lost); the render finishes; try 2 resumes it
    rid = first.value.trigger.render_id
    fake_client._render_status[rid] = ["completed"]
    states_before = fake_client.names().count("state")
    out = export_op(tmp_path).execute({"ti": new_try(ti)})
    # the trigger started that render (it never reached this fake client); try 2 resumes it, starts none
    assert out["render_id"] == rid and fake_client.renders_created == 0
    assert out["media"][0]["seed"] == 7
    assert fake_client.names().count("state") == states_before + 1, "read once, only because it was missing"


def test_prompt_message_keeps_the_once_rule_across_tries(fake_client, records, ti, new_try) -> None:
    """The prompt's message is the generate work itself: a retry after a broken stream does not re-send."""
    fake_client.send_raises = NemoStreamError("stream broke")
    with pytest.raises(NemoStreamError):
        NemoPromptOperator(task_id="p", text="make an upbeat corporate track", session_id=SID).execute(
            {"ti": ti}
        )
    assert records.records, "the message is recorded before it is sent"
    fake_client.send_raises = None
    fake_client.media.append(_accepted())  # the agent acted on the message before the stream broke
    out = NemoPromptOperator(task_id="p", text="make an upbeat corporate track", session_id=SID).execute(
        {"ti": new_try(ti)}
    )
    assert out["action"] == "message" and [m["id"] for m in out["result"]["generated_media"]] == [
        "m-accepted"
    ]
    assert fake_client.names().count("send_message") == 1 and records.records == {}


def _accepted():
    from nemo_provider.client.models import GeneratedMedia

    return GeneratedMedia(id="m-accepted", kind="music")
