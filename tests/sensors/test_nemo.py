from __future__ import annotations

import time
from typing import Any

import pytest
from airflow.sdk import PokeReturnValue

from nemo_provider._compat import AirflowException, AirflowFailException, AirflowSensorTimeout, TaskDeferred
from nemo_provider.client.models import RenderStatus
from nemo_provider.hooks.nemo import NemoHook
from nemo_provider.sensors.nemo import NemoRenderSensor
from nemo_provider.triggers.nemo import NemoRenderTrigger


class FakeClient:
    def __init__(self, status: str) -> None:
        self.status = status

    def __enter__(self) -> FakeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def render_status(self, render_id: str) -> RenderStatus:
        return RenderStatus(
            id=render_id,
            status=self.status,  # type: ignore[arg-type]
            progress=100 if self.status == "completed" else 30,
            url="http://nemo.test/r.mp4" if self.status == "completed" else None,
            error="out of disk" if self.status == "failed" else None,
        )


@pytest.fixture
def status(monkeypatch: pytest.MonkeyPatch):
    def _set(value: str) -> FakeClient:
        client = FakeClient(value)
        monkeypatch.setattr(NemoHook, "get_client", lambda self, **kw: client)
        return client

    return _set


def sensor(**kw: Any) -> NemoRenderSensor:
    return NemoRenderSensor(task_id="wait", render_id="render_1", **kw)


def test_poke_done_returns_the_render(status) -> None:
    status("completed")
    result = sensor().poke({})
    assert isinstance(result, PokeReturnValue) and result.is_done
    assert result.xcom_value["url"] == "http://nemo.test/r.mp4"


@pytest.mark.parametrize("mode", ["poke", "reschedule"])
def test_poke_running_is_not_done(status, mode: str) -> None:
    status("processing")
    assert sensor(mode=mode).poke({}) is False


@pytest.mark.parametrize("terminal", ["failed", "cancelled"])
def test_poke_failed_or_cancelled_fails_without_retry(status, terminal: str) -> None:
    status(terminal)
    with pytest.raises(AirflowFailException, match=terminal):
        sensor().poke({})


class FlakyClient(FakeClient):
    """Fails the first ``failures`` polls with a transient error, then answers normally."""

    def __init__(self, status: str, failures: int, error: Exception) -> None:
        super().__init__(status)
        self.failures = failures
        self.error = error

    def render_status(self, render_id: str) -> RenderStatus:
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        return super().render_status(render_id)


def test_poke_rides_out_a_few_transient_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from nemo_provider.client.errors import NemoServerError

    client = FlakyClient("completed", failures=2, error=NemoServerError("bad gateway", http_status=502))
    monkeypatch.setattr(NemoHook, "get_client", lambda self, **kw: client)
    s = sensor(max_consecutive_errors=2)
    assert s.poke({}) is False
    assert s.poke({}) is False
    result = s.poke({})
    assert isinstance(result, PokeReturnValue) and result.is_done


def test_poke_fails_after_too_many_transient_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from nemo_provider.client.errors import NemoConnectionError

    client = FlakyClient("completed", failures=5, error=NemoConnectionError("connection refused"))
    monkeypatch.setattr(NemoHook, "get_client", lambda self, **kw: client)
    s = sensor(max_consecutive_errors=2)
    assert s.poke({}) is False
    assert s.poke({}) is False
    with pytest.raises(NemoConnectionError):
        s.poke({})


def test_poke_does_not_ride_out_a_permanent_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from nemo_provider.client.errors import NemoAuthError

    client = FlakyClient("completed", failures=1, error=NemoAuthError("token invalid", code=1001))
    monkeypatch.setattr(NemoHook, "get_client", lambda self, **kw: client)
    with pytest.raises(NemoAuthError):
        sensor(max_consecutive_errors=3).poke({})


def test_deferrable_defers_with_wall_clock_deadline(status) -> None:
    status("processing")
    before = time.time()
    with pytest.raises(TaskDeferred) as exc:
        sensor(deferrable=True, timeout=300, poke_interval=12).execute({})
    trig = exc.value.trigger
    assert isinstance(trig, NemoRenderTrigger)
    assert trig.render_id == "render_1" and trig.poll_interval == 12
    assert before + 300 <= trig.end_time <= time.time() + 300
    assert trig.cancel_on_timeout is False, "a sensor does not own the render"


def test_deferrable_returns_at_once_when_already_done(status) -> None:
    status("completed")
    assert sensor(deferrable=True).execute({})["status"] == "completed"


def test_execute_complete_paths() -> None:
    s = sensor(deferrable=True)
    render = {"id": "render_1", "status": "completed"}
    assert s.execute_complete({}, {"status": "success", "render": render, "message": "ok"}) == render
    with pytest.raises(AirflowSensorTimeout):
        s.execute_complete({}, {"status": "timeout", "message": "late"})
    for failed in ("failed", "cancelled"):
        with pytest.raises(AirflowFailException):
            s.execute_complete({}, {"status": failed, "message": failed})
    with pytest.raises(AirflowException):
        s.execute_complete({}, {"status": "error", "message": "network"})
