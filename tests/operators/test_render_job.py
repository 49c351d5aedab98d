"""One render across tries (operators/_render_job.py) without an operator: a fake client, a dict store
and a fake clock; each test names a transition and asserts the calls and the record."""

from __future__ import annotations

from typing import Any

import pytest

from nemo_provider._compat import AirflowException, AirflowFailException
from nemo_provider.client.draft import Draft
from nemo_provider.client.errors import NemoAuthError, NemoConnectionError
from nemo_provider.operators._render_job import RenderJob
from tests.operators.conftest import FakeNemoClient
from tests.operators.test_message_once import Clock, Log, Store

SID = "1234567890123456789"
JOB = {"session_id": SID, "format": "mp4", "quality": "high"}


def job_of(client: FakeNemoClient, store: Store, clock: Clock | None = None, **kw: Any) -> RenderJob:
    clock = clock or Clock()
    kw = {**JOB, **kw}
    return RenderJob(client, store, Log(), kw["session_id"], kw["format"], kw["quality"], clock=clock,
                     sleep=clock.sleep)  # fmt: skip


def started(client: FakeNemoClient, statuses: list[str]) -> str:
    """A render a previous try started; its statuses from now on."""
    client.statuses = statuses
    rid = client.create_render(SID, {}, render_id="render_1").id
    client.calls.clear()
    return rid


# -- resume ----------------------------------------------------------------------------------------
def test_resume_without_a_record_starts_nothing() -> None:
    client = FakeNemoClient()
    assert job_of(client, Store()).resume() is None
    assert client.calls == []


@pytest.mark.parametrize("status", ["processing", "completed"])
def test_resume_a_running_or_finished_render(status: str) -> None:
    client = FakeNemoClient()
    rid = started(client, [status])
    job = job_of(client, Store({**JOB, "render_id": rid, "try_number": 1}))
    assert job.resume().status == status
    assert job.render_id == rid and client.renders_created == 1


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_resume_an_ended_render_erases_the_record(status: str) -> None:
    client = FakeNemoClient()
    rid = started(client, [status])
    store = Store({**JOB, "render_id": rid, "try_number": 1})
    assert job_of(client, store).resume() is None
    assert store.record is None


def test_resume_an_unknown_render_erases_the_record() -> None:
    client, store = FakeNemoClient(), Store({**JOB, "render_id": "render_gone", "try_number": 1})
    assert job_of(client, store).resume() is None
    assert store.history == ["clear"]


def test_resume_with_changed_parameters_erases_the_record_unread() -> None:
    client, store = FakeNemoClient(), Store({**JOB, "render_id": "render_1", "try_number": 1})
    assert job_of(client, store, format="mp3").resume() is None
    assert store.record is None and client.calls == []


@pytest.mark.parametrize("err", [NemoAuthError("bad token", http_status=401), NemoConnectionError("reset")])
def test_resume_an_unreadable_render_fails_and_keeps_the_record(err: Exception) -> None:
    client, store = FakeNemoClient(), Store({**JOB, "render_id": "render_1", "try_number": 1})

    def unreadable(rid: str) -> Any:
        raise err

    client.render_status = unreadable  # type: ignore[method-assign]
    with pytest.raises(AirflowException, match="Could not read render render_1 started by try 1"):
        job_of(client, store).resume()
    assert store.record is not None and store.history == []


# -- plan / start ----------------------------------------------------------------------------------
def test_start_records_the_planned_id_before_creating_and_passes_the_draft_as_is() -> None:
    client, store = FakeNemoClient(), Store()
    seen: list[tuple[Any, Any]] = []
    real_create = client.create_render

    def create(session_id: str, draft: Any, **kw: Any) -> Any:
        seen.append((dict(store.record or {}), draft))
        return real_create(session_id, draft, **kw)

    client.create_render = create  # type: ignore[method-assign]
    job = job_of(client, store)
    draft = job.read_timeline()
    status = job.start(draft)
    recorded, sent = seen[0]
    assert recorded == {**JOB, "render_id": status.id, "try_number": 1}
    assert sent is draft and isinstance(sent, Draft), "no wire round-trip on the way to the client"
    assert job.facts is not None and job.facts["timeline"]["duration_ms"] == 6000
    assert client.names() == ["state", "create_render"]


def test_a_render_renamed_by_the_service_is_recorded_under_its_new_id() -> None:
    client, store = FakeNemoClient(), Store()
    client.create_render = lambda *a, **kw: _pending("render_other")  # type: ignore[method-assign]
    job = job_of(client, store)
    job.start(job.read_timeline())
    assert job.render_id == "render_other" and store.record is not None
    assert store.record["render_id"] == "render_other" and store.history == ["save", "save"]


def _pending(rid: str) -> Any:
    from nemo_provider.client.models import RenderStatus

    return RenderStatus(id=rid, status="pending")


def test_planned_create_carries_the_wire_draft_for_the_trigger() -> None:
    client, store = FakeNemoClient(), Store()
    job = job_of(client, store)
    create = job.planned_create(job.read_timeline())
    assert create == {**JOB, "draft": client.draft}
    rid = job.plan()
    assert store.record == {**JOB, "render_id": rid, "try_number": 1} and client.renders_created == 0


def test_an_empty_timeline_fails_without_rendering() -> None:
    client = FakeNemoClient(draft=None)
    with pytest.raises(AirflowFailException, match="nothing to export"):
        job_of(client, Store()).read_timeline()
    assert client.renders_created == 0


# -- poll ------------------------------------------------------------------------------------------
def poll(job: RenderJob, clock: Clock, **kw: Any) -> Any:
    opts = {"poll_interval": 7.0, "max_consecutive_errors": 3, "cancel_on_timeout": True, "timeout_s": 60.0}
    return job.poll(deadline=clock.now + opts.pop("timeout_s"), timeout_s=60.0, **{**opts, **kw})


def test_poll_reads_every_interval_and_rides_out_transient_errors() -> None:
    client, clock = FakeNemoClient(), Clock()
    job = job_of(client, Store(), clock)
    job.render_id = started(client, ["processing", "flaky", "flaky", "completed"])
    assert poll(job, clock).status == "completed"
    assert clock.slept == [7.0] * 4 and client.names() == ["render_status"] * 4


def test_poll_gives_up_after_too_many_errors_in_a_row() -> None:
    client, clock = FakeNemoClient(), Clock()
    job = job_of(client, Store(), clock)
    job.render_id = started(client, ["flaky"])
    with pytest.raises(NemoConnectionError):
        poll(job, clock, max_consecutive_errors=2)
    assert client.names().count("render_status") == 3


@pytest.mark.parametrize("cancel", [True, False])
def test_poll_deadline_cancels_erases_and_fails(cancel: bool) -> None:
    client, clock = FakeNemoClient(), Clock()
    store = Store({**JOB, "render_id": "render_1", "try_number": 1})
    job = job_of(client, store, clock)
    job.render_id = started(client, ["processing"])
    with pytest.raises(
        AirflowException, match="did not finish within 60s" + ("; it was cancelled" if cancel else "")
    ):
        poll(job, clock, cancel_on_timeout=cancel)
    assert sum(clock.slept) == 60.0, "the last sleep ends at the deadline"
    assert (("cancel_render", "render_1") in client.calls) is cancel
    assert store.record is None and job.finished


# -- settle ----------------------------------------------------------------------------------------
def test_settle_a_failed_render_fails_with_the_reason_and_erases_the_record() -> None:
    client, store = (
        FakeNemoClient(render_error="ffmpeg exploded"),
        Store({**JOB, "render_id": "r", "try_number": 1}),
    )
    job = job_of(client, store)
    job.render_id = started(client, ["failed"])
    with pytest.raises(AirflowException, match="Render render_1 failed: ffmpeg exploded"):
        job.settle(client.render_status("render_1"))
    assert store.record is None and job.finished


def test_settle_a_completed_render_keeps_the_record_until_done() -> None:
    client, store = FakeNemoClient(), Store({**JOB, "render_id": "render_1", "try_number": 1})
    job = job_of(client, store)
    job.settle(client.render_status(started(client, ["completed"])))
    assert store.record is not None and not job.finished
    job.done()
    assert store.record is None and job.finished


@pytest.mark.parametrize(
    ("event", "cancelled", "kept"),
    [
        ({"status": "failed", "message": "Render render_1 failed: boom"}, False, False),
        ({"status": "cancelled", "message": "Render render_1 cancelled: boom"}, False, False),
        ({"status": "timeout", "message": "boom deadline", "cancelled": False}, True, False),
        ({"status": "timeout", "message": "boom deadline", "cancelled": True}, False, False),
        ({"status": "error", "message": "boom: token rejected"}, False, True),
    ],
)
def test_settle_event(event: dict[str, Any], cancelled: bool, kept: bool) -> None:
    client, store = FakeNemoClient(), Store({**JOB, "render_id": "render_1", "try_number": 1})
    job = job_of(client, store)
    with pytest.raises(AirflowException, match="boom"):
        job.settle_event({**event, "render_id": "render_1"}, cancel_on_timeout=True)
    assert (("cancel_render", "render_1") in client.calls) is cancelled
    assert (store.record is not None) is kept and job.finished is not kept


def test_settle_event_success_returns_with_the_triggers_id() -> None:
    client, store = FakeNemoClient(), Store({**JOB, "render_id": "render_1", "try_number": 1})
    job = job_of(client, store)
    job.settle_event({"status": "success", "render_id": "render_9", "message": "ok"}, cancel_on_timeout=True)
    assert job.render_id == "render_9" and store.record is not None and client.calls == []
