from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from nemo_provider.client.errors import NemoAuthError, NemoConnectionError, NemoServerError
from nemo_provider.client.models import RenderStatus
from nemo_provider.hooks.nemo import NemoHook
from nemo_provider.triggers.nemo import NemoRenderTrigger

pytestmark = pytest.mark.timeout(30)


class FakeAsyncClient:
    """Serves a script of statuses (or exceptions); the last entry repeats."""

    def __init__(self, script: list[Any]) -> None:
        self.script = list(script)
        self.polls = 0
        self.cancelled: list[str] = []
        self.cancel_errors: list[Exception] = []
        self.polled = asyncio.Event()

    async def render_status(self, render_id: str) -> RenderStatus:
        self.polls += 1
        self.polled.set()
        item = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(item, Exception):
            raise item
        return RenderStatus(
            id=render_id,
            status=item,
            progress=100 if item == "completed" else 10,
            url="http://nemo.test/r.mp4" if item == "completed" else None,
            error="bad draft" if item == "failed" else None,
        )

    async def cancel_render(self, render_id: str) -> RenderStatus:
        if self.cancel_errors:
            raise self.cancel_errors.pop(0)
        self.cancelled.append(render_id)
        return RenderStatus(id=render_id, status="cancelled")


@pytest.fixture
def client_with(monkeypatch: pytest.MonkeyPatch):
    def _install(script: list[Any]) -> FakeAsyncClient:
        client = FakeAsyncClient(script)

        async def get_async_client(self: NemoHook, **kwargs: Any) -> FakeAsyncClient:
            assert kwargs.get("shared") is True, "triggers must use the shared pool"
            return client

        monkeypatch.setattr(NemoHook, "get_async_client", get_async_client)
        return client

    return _install


def trigger(**kw: Any) -> NemoRenderTrigger:
    kw.setdefault("end_time", time.time() + 60)
    kw.setdefault("poll_interval", 0.01)
    return NemoRenderTrigger(render_id="render_1", **kw)


async def first_event(t: NemoRenderTrigger) -> dict[str, Any]:
    """Iterate run() directly, as the triggerer does (no wrapper task that would swallow cancel reasons)."""
    async for event in t.run():
        return event.payload
    raise AssertionError("the trigger ended without an event")


def test_serialize_round_trip_is_plain_json() -> None:
    import json

    t = trigger(nemo_conn_id="other", max_consecutive_errors=5, cancel_on_timeout=False)
    classpath, kwargs = t.serialize()
    assert classpath == "nemo_provider.triggers.nemo.NemoRenderTrigger"
    assert json.loads(json.dumps(kwargs)) == kwargs
    again = NemoRenderTrigger(**kwargs)
    assert again.serialize() == (classpath, kwargs)


@pytest.mark.asyncio
async def test_every_trigger_logs_through_the_classs_one_logger(
    client_with, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not a structlog logger kept per trigger (about 1 KB each, a thousand in one triggerer)."""
    client_with(["processing", "completed"])
    first, second = trigger(), trigger()
    assert first.log is second.log is NemoRenderTrigger.logger()
    assert "_log" not in vars(first) and "_log" not in vars(second)
    assert (await first_event(first))["status"] == "success"
    assert "_log" not in vars(first)
    assert "Waiting for render render_1" in capsys.readouterr().out


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("final", "expected"), [("completed", "success"), ("failed", "failed"), ("cancelled", "cancelled")]
)
async def test_terminal_statuses_map_to_events(client_with, final: str, expected: str) -> None:
    client = client_with(["pending", "processing", final])
    payload = await first_event(trigger())
    assert payload["status"] == expected
    assert payload["render_id"] == "render_1"
    assert payload["render"]["status"] == final
    assert client.polls == 3
    if expected == "failed":
        assert "bad draft" in payload["message"]


@pytest.mark.asyncio
async def test_deadline_cancels_the_render(client_with) -> None:
    client = client_with(["processing"])
    payload = await first_event(trigger(end_time=time.time() + 0.05))
    assert payload["status"] == "timeout"
    assert payload["cancelled"] is True
    assert client.cancelled == ["render_1"]


@pytest.mark.asyncio
async def test_a_cancel_that_fails_in_transit_is_asked_again(client_with) -> None:
    """The trigger's client does not repeat calls itself: the trigger repeats a transient cancel failure."""
    client = client_with(["processing"])
    client.cancel_errors = [NemoConnectionError("reset")]
    payload = await first_event(trigger(end_time=time.time() + 0.05))
    assert payload["status"] == "timeout" and payload["cancelled"] is True
    assert client.cancelled == ["render_1"]


@pytest.mark.asyncio
async def test_a_refused_cancel_is_not_repeated(client_with) -> None:
    client = client_with(["processing"])
    client.cancel_errors = [NemoAuthError("token rejected", code=1001)]
    payload = await first_event(trigger(end_time=time.time() + 0.05))
    assert payload["status"] == "timeout" and payload["cancelled"] is False
    assert "Cancelling it failed" in payload["message"] and client.cancelled == []


@pytest.mark.asyncio
async def test_deadline_already_past_after_restart_still_polls_once(client_with) -> None:
    # A triggerer that restarts after the deadline must not wait a fresh interval: it fires at once.
    client = client_with(["completed"])
    payload = await first_event(trigger(end_time=time.time() - 10))
    assert payload["status"] == "success"
    assert client.polls == 1


@pytest.mark.asyncio
async def test_cancel_on_timeout_can_be_disabled(client_with) -> None:
    client = client_with(["processing"])
    payload = await first_event(trigger(end_time=time.time() + 0.02, cancel_on_timeout=False))
    assert payload["status"] == "timeout"
    assert client.cancelled == []


@pytest.mark.asyncio
async def test_transient_errors_are_tolerated(client_with) -> None:
    client_with([NemoConnectionError("reset"), NemoServerError("502", http_status=502), "completed"])
    payload = await first_event(trigger(max_consecutive_errors=2))
    assert payload["status"] == "success"


@pytest.mark.asyncio
async def test_too_many_transient_errors_give_up(client_with) -> None:
    client = client_with([NemoConnectionError("reset")])
    payload = await first_event(trigger(max_consecutive_errors=2))
    assert payload["status"] == "error"
    assert client.polls == 3
    assert "3 polls in a row" in payload["message"]


@pytest.mark.asyncio
async def test_non_transient_error_gives_up_at_once(client_with) -> None:
    client = client_with([NemoAuthError("token rejected", code=1001)])
    payload = await first_event(trigger())
    assert payload["status"] == "error"
    assert client.polls == 1


@pytest.mark.asyncio
async def test_on_kill_cancels(client_with) -> None:
    client = client_with(["processing"])
    await trigger().on_kill()
    assert client.cancelled == ["render_1"]


def test_on_kill_overrides_the_airflow_hook() -> None:
    from airflow.triggers.base import BaseTrigger

    from nemo_provider.triggers import nemo as module

    if hasattr(BaseTrigger, "on_kill"):  # Airflow 3.3+ calls it
        assert NemoRenderTrigger.on_kill is not BaseTrigger.on_kill
        assert module._AIRFLOW_CALLS_ON_KILL
    else:  # older Airflow never calls it: the trigger calls it itself on a cancel (tests below)
        assert not module._AIRFLOW_CALLS_ON_KILL


async def _cancel_while_polling(client: FakeAsyncClient, reason: str | None) -> None:
    task = asyncio.create_task(first_event(trigger(poll_interval=5)))
    await client.polled.wait()
    task.cancel(reason)
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.asyncio
async def test_airflow_3_2_kill_while_deferred_cancels_the_render(client_with, monkeypatch) -> None:
    """Airflow < 3.3 cancels the trigger's task (no reason given) when its task instance is killed."""
    from nemo_provider.triggers import nemo

    monkeypatch.setattr(nemo, "_AIRFLOW_CALLS_ON_KILL", False)
    client = client_with(["processing"])
    await _cancel_while_polling(client, None)
    assert client.cancelled == ["render_1"]


@pytest.mark.asyncio
@pytest.mark.parametrize("reason", ["EOF - shutting down", "Supervisor closed"])
async def test_airflow_3_2_triggerer_shutdown_leaves_the_render(client_with, monkeypatch, reason) -> None:
    from nemo_provider.triggers import nemo

    monkeypatch.setattr(nemo, "_AIRFLOW_CALLS_ON_KILL", False)
    client = client_with(["processing"])
    await _cancel_while_polling(client, reason)
    assert client.cancelled == []


@pytest.mark.asyncio
@pytest.mark.parametrize("reason", [None, "EOF - shutting down", "__airflow_user_action__"])
async def test_airflow_3_3_leaves_cancelling_to_on_kill(client_with, monkeypatch, reason) -> None:
    """On 3.3+ the triggerer calls on_kill for user actions; the trigger itself never guesses."""
    from nemo_provider.triggers import nemo

    monkeypatch.setattr(nemo, "_AIRFLOW_CALLS_ON_KILL", True)
    client = client_with(["processing"])
    await _cancel_while_polling(client, reason)
    assert client.cancelled == []


def test_preload_loads_what_a_poll_needs_so_nothing_is_imported_on_the_loop() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from nemo_provider.triggers.nemo import _preload_client_modules as p; p();"
        "print(sorted(m for m in ('nemo_provider.client.async_', 'nemo_provider.client.models',"
        " 'nemo_provider.client.polling', 'aiohttp', 'anyio') if m not in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"  # the last line: Airflow may log before it


@pytest.mark.asyncio
async def test_a_waiting_trigger_keeps_no_render_status_model_across_its_sleep(client_with) -> None:
    """A triggerer holds a thousand waiting triggers: each keeps its last poll's JSON (what a later error
    or timeout event carries), not the RenderStatus model (~1.2 KB, ~4x the JSON, tracemalloc)."""
    import gc

    n = 50
    gc.collect()
    before = sum(1 for o in gc.get_objects() if type(o) is RenderStatus)  # other tests' may still be alive
    client = client_with(["processing"])
    triggers = [trigger(poll_interval=30) for _ in range(n)]
    tasks = [asyncio.ensure_future(first_event(t)) for t in triggers]
    try:
        deadline = time.monotonic() + 20
        while client.polls < n:  # a poll and the step to the sleep after it are one step of the loop
            assert time.monotonic() < deadline, f"only {client.polls} of {n} triggers polled"
            await asyncio.sleep(0.01)
        gc.collect()
        alive = sum(1 for o in gc.get_objects() if type(o) is RenderStatus) - before
        assert alive <= 0, f"{alive} RenderStatus models kept by {n} sleeping triggers"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.mark.asyncio
async def test_what_a_trigger_keeps_of_its_last_poll_is_what_its_error_event_carries(client_with) -> None:
    client_with(["processing", NemoAuthError("token revoked", code=1001)])
    payload = await first_event(trigger())
    assert payload["status"] == "error"
    assert payload["render"] == RenderStatus(id="render_1", status="processing", progress=10).model_dump(
        mode="json"
    )
