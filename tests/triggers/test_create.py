"""A deferrable export's trigger starts the render itself (``create``), so a kill before a triggerer picks
the trigger up leaves nothing running; these pin that start: once, idempotent across restarts, cancelled
by ``on_kill`` even when the kill lands while the start is in flight."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from nemo_provider.client.errors import NemoAPIError, NemoAuthError, NemoConnectionError
from nemo_provider.client.models import RenderStatus
from nemo_provider.hooks.nemo import NemoHook
from nemo_provider.triggers.nemo import _AIRFLOW_CALLS_ON_KILL, NemoRenderTrigger

pytestmark = pytest.mark.timeout(30)

CREATE = {"session_id": "s1", "draft": {"t": [{"tt": 1, "sg": [{"id": "a", "s": 0, "d": 1000}]}]},
          "format": "mp3", "quality": "high"}  # fmt: skip


def _missing(render_id: str) -> NemoAPIError:
    return NemoAPIError(f"Render not found: {render_id}", code=404, http_status=404)


class FakeService:
    """Renders by id, as the service keeps them; `create_errors` fail the next creates."""

    def __init__(self) -> None:
        self.renders: dict[str, list[str]] = {}
        self.created: list[tuple[str, str, str]] = []
        self.cancelled: list[str] = []
        self.create_errors: list[Exception] = []
        self.create_gate: asyncio.Event | None = None
        self.create_started = asyncio.Event()
        self.created_event = asyncio.Event()
        self.polled_after_create = asyncio.Event()
        self.cancel_missed = asyncio.Event()
        self.script = ["processing", "completed"]
        self.renamable: list[bool] = []

    async def render_status(self, render_id: str) -> RenderStatus:
        if render_id not in self.renders:
            raise _missing(render_id)
        script = self.renders[render_id]
        self.polled_after_create.set()
        status = script.pop(0) if len(script) > 1 else script[0]
        return RenderStatus(id=render_id, status=status, progress=50, url="http://n/r.mp3")

    async def create_render(
        self, session_id: str, draft: Any, format: str, quality: str, render_id: str,
        rename_on_duplicate: bool = True,
    ) -> RenderStatus:  # fmt: skip
        self.renamable.append(rename_on_duplicate)
        self.create_started.set()
        if self.create_gate is not None:
            await self.create_gate.wait()
        if self.create_errors:
            raise self.create_errors.pop(0)
        self.created.append((render_id, session_id, format))
        self.renders[render_id] = list(self.script)
        self.created_event.set()
        return RenderStatus(id=render_id, status="pending")

    async def cancel_render(self, render_id: str) -> RenderStatus:
        if render_id not in self.renders:
            self.cancel_missed.set()
            raise _missing(render_id)
        self.cancelled.append(render_id)
        self.renders[render_id] = ["cancelled"]
        return RenderStatus(id=render_id, status="cancelled")


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> FakeService:
    fake = FakeService()

    async def get_async_client(self: NemoHook, **kwargs: Any) -> FakeService:
        return fake

    monkeypatch.setattr(NemoHook, "get_async_client", get_async_client)
    return fake


def trigger(**kw: Any) -> NemoRenderTrigger:
    kw.setdefault("end_time", time.time() + 60)
    kw.setdefault("poll_interval", 0.01)
    kw.setdefault("create", CREATE)
    return NemoRenderTrigger(render_id="render_7", **kw)


async def first_event(t: NemoRenderTrigger) -> dict[str, Any]:
    async for event in t.run():
        return event.payload
    raise AssertionError("the trigger ended without an event")


def test_create_survives_serialization() -> None:
    _, kwargs = trigger().serialize()
    assert kwargs["create"] == CREATE
    assert NemoRenderTrigger(**kwargs).create == CREATE


@pytest.mark.asyncio
async def test_the_trigger_starts_the_render_once_and_waits_for_it(service: FakeService) -> None:
    payload = await first_event(trigger())
    assert payload["status"] == "success"
    assert service.created == [("render_7", "s1", "mp3")]


class _DeferredTI:
    dag_id, run_id, task_id, map_index = "d", "r", "export", -1


@pytest.mark.asyncio
@pytest.mark.parametrize(("deferred", "started"), [(0, False), (1, True)])
async def test_a_trigger_whose_task_was_stopped_meanwhile_starts_nothing(
    service: FakeService, monkeypatch: pytest.MonkeyPatch, deferred: int, started: bool
) -> None:
    """A triggerer back from a restart can be handed the trigger of a task killed while it was down."""
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    asked: list[dict[str, Any]] = []

    def get_ti_count(**kw: Any) -> int:
        asked.append(kw)
        return deferred

    monkeypatch.setattr(RuntimeTaskInstance, "get_ti_count", staticmethod(get_ti_count))
    t = trigger()
    t.task_instance = _DeferredTI()  # type: ignore[assignment]
    payload = await first_event(t)
    assert asked == [
        {"dag_id": "d", "map_index": -1, "task_ids": ["export"], "run_ids": ["r"], "states": ["deferred"]}
    ]
    assert bool(service.created) is started
    assert payload["status"] == ("success" if started else "cancelled")


@pytest.mark.asyncio
async def test_a_restarted_trigger_does_not_start_the_render_again(service: FakeService) -> None:
    service.renders["render_7"] = ["processing", "completed"]  # the first triggerer started it
    payload = await first_event(trigger())
    assert payload["status"] == "success"
    assert service.created == []


@pytest.mark.asyncio
async def test_a_create_lost_in_transit_is_checked_before_it_is_repeated(service: FakeService) -> None:
    service.create_errors = [NemoConnectionError("connection reset")]
    payload = await first_event(trigger())
    assert payload["status"] == "success"
    assert service.created == [("render_7", "s1", "mp3")]


@pytest.mark.asyncio
async def test_a_duplicate_of_the_planned_id_is_the_render_already_started(service: FakeService) -> None:
    """The service took a create the trigger never heard back from: a second render must not start."""
    from nemo_provider.client.errors import NemoDuplicateRenderIdError

    async def landed_then_duplicate(*args: Any, **kwargs: Any) -> RenderStatus:
        service.renamable.append(kwargs.get("rename_on_duplicate", True))
        service.renders["render_7"] = ["processing", "completed"]
        raise NemoDuplicateRenderIdError("duplicate render id", code=3005, http_status=400)

    service.create_render = landed_then_duplicate  # type: ignore[method-assign]
    payload = await first_event(trigger())
    assert payload["status"] == "success"
    assert service.renamable == [False], "the trigger never lets the client rename its render"
    assert service.created == []


@pytest.mark.asyncio
async def test_a_trigger_picked_up_after_its_deadline_starts_nothing(service: FakeService) -> None:
    payload = await first_event(trigger(end_time=time.time() - 1))
    assert payload["status"] == "timeout" and payload["cancelled"] is True
    assert "was not started" in payload["message"]
    assert service.created == [] and service.cancelled == []


@pytest.mark.asyncio
async def test_a_refused_create_is_an_error_event(service: FakeService) -> None:
    service.create_errors = [NemoAuthError("token rejected", code=1001)]
    payload = await first_event(trigger())
    assert payload["status"] == "error"
    assert "could not be started" in payload["message"]
    assert service.created == []


@pytest.mark.asyncio
async def test_a_full_server_disk_fails_the_start_at_once_instead_of_riding_it_out(
    service: FakeService,
) -> None:
    """507 is the server operator's to fix: the trigger's transient budget must not spend itself on it."""
    from nemo_provider.client._error_map import ErrorContext, error_for

    full = {
        "field": "free disk space",
        "limit": 500 * 1024 * 1024,
        "value": 0,
        "switch": "--min-free-disk-mb",
    }
    service.create_errors = [
        error_for(507, 507, "disk nearly full", ErrorContext("http://n"), data=full) for _ in range(3)
    ]
    payload = await first_event(trigger(max_consecutive_errors=3))
    assert payload["status"] == "error"
    assert "could not be started" in payload["message"] and "500.0 MB free" in payload["message"]
    assert len(service.create_errors) == 2, "one create, not a retry per tolerated error"
    assert service.created == []


@pytest.mark.asyncio
async def test_on_kill_after_the_start_cancels_the_render(service: FakeService) -> None:
    service.script = ["processing"]
    t = trigger()
    run = asyncio.ensure_future(first_event(t))
    await service.polled_after_create.wait()  # the trigger is in its polling loop
    run.cancel("__airflow_user_action__")
    with pytest.raises(asyncio.CancelledError):
        await run
    await t.on_kill()
    assert service.cancelled == ["render_7"]


@pytest.mark.asyncio
async def test_on_kill_while_the_start_is_in_flight_cancels_what_lands(service: FakeService) -> None:
    """The kill cuts the create short, but the service may still take it: on_kill asks again."""
    service.script = ["processing"]
    service.create_gate = asyncio.Event()
    t = trigger()
    run = asyncio.ensure_future(first_event(t))
    await service.create_started.wait()
    run.cancel("__airflow_user_action__")
    if _AIRFLOW_CALLS_ON_KILL:  # Airflow 3.3+: the triggerer calls on_kill after cancelling run()
        with pytest.raises(asyncio.CancelledError):
            await run
        kill = asyncio.ensure_future(t.on_kill())
    else:  # Airflow 3.1/3.2: run()'s own cancel path calls on_kill before it re-raises
        kill = run
    await service.cancel_missed.wait()  # on_kill's first cancel finds nothing yet
    service.renders["render_7"] = ["processing"]  # the create the kill interrupted lands on the service
    if _AIRFLOW_CALLS_ON_KILL:
        await kill
    else:
        with pytest.raises(asyncio.CancelledError):
            await kill
    assert service.cancelled == ["render_7"]


@pytest.mark.asyncio
async def test_on_kill_before_any_start_has_nothing_to_cancel(service: FakeService) -> None:
    t = trigger()
    await t.on_kill()  # e.g. cancelled before the first await
    assert service.cancelled == []
    assert service.created == []
