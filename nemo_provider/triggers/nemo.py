"""NemoRenderTrigger: waits for a Nemo render in the triggerer, fully async.

Lessons from the dbt Cloud trigger's issue tracker applied here: the deadline is an absolute wall-clock
time stored in the trigger's kwargs (so a triggerer restart does not reset it); reaching it cancels the
remote render instead of leaving it running and billing; a single flaky poll does not fail the task; and
all triggers of a process share one aiohttp pool per base URL (``hooks/_pool.py``) instead of
building a client per poll.

A deferrable export hands the trigger the render to *start* (``create``), not a render already running:
between a task's deferral and a triggerer picking its trigger up, no code of the provider runs, so a task
killed in that window could never cancel a render started before it deferred. Started by the trigger,
a render exists only while the trigger runs, and every kill from then on reaches ``on_kill``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

if TYPE_CHECKING:
    from nemo_provider.client import AsyncNemoClient

#: Airflow 3.3+ calls ``BaseTrigger.on_kill`` itself when a user kills a deferred task, and only then.
_AIRFLOW_CALLS_ON_KILL = hasattr(BaseTrigger, "on_kill")

#: Airflow 3.1/3.2: the reasons the triggerer gives when it cancels triggers because *it* is stopping.
#: A trigger cancelled with no reason there was removed because its task left the deferred state —
#: killed by a user or timed out by the scheduler — and then the remote render should stop too.
_SHUTDOWN_REASONS = ("EOF - shutting down", "Supervisor closed", "Reader loop exited")

#: Tries of one remote cancel (0.5, 1 and 2 s apart): transient failures, or a create still landing.
_CANCEL_ATTEMPTS = 4


def _preload_client_modules() -> None:
    """Import everything a poll touches. ``nemo_provider.client`` itself is lazy (PEP 562), so the
    runner, the models and the aiohttp sender must be named, or they load later on the shared loop."""
    import aiohttp  # noqa: F401

    import nemo_provider.client.async_
    import nemo_provider.client.errors
    import nemo_provider.client.models
    import nemo_provider.client.polling
    import nemo_provider.hooks.nemo  # noqa: F401


def _json_of(render: Any) -> dict[str, Any] | None:
    """A render status as an event carries it (JSON-safe); None and JSON already made pass through."""
    if render is None or isinstance(render, dict):
        return render
    dumped: dict[str, Any] = render.model_dump(mode="json")
    return dumped


class NemoRenderTrigger(BaseTrigger):
    """Poll a render until it completes, fails, is cancelled, or the deadline passes.

    Yields exactly one event whose payload is ``{"status", "render_id", "message", "render"}`` with
    status one of ``success``, ``failed``, ``cancelled``, ``timeout``, ``error``; ``render`` is the last
    render status seen (JSON-safe), or ``None`` if none was read.

    :param render_id: the render to wait for.
    :param end_time: absolute deadline, seconds since the epoch (wall clock, survives restarts).
    :param nemo_conn_id: the Airflow connection of type ``nemo``.
    :param poll_interval: seconds between polls.
    :param max_consecutive_errors: transient poll errors tolerated in a row before giving up.
    :param cancel_on_timeout: cancel the remote render when the deadline passes.
    :param create: ``{"session_id", "draft", "format", "quality"}`` to start the render under
        ``render_id`` first (idempotent: a render that already exists, e.g. after a triggerer restart, is
        only polled); ``None`` waits for an existing render (the sensor).
    """

    def __init__(
        self,
        render_id: str,
        end_time: float,
        nemo_conn_id: str = "nemo_default",
        poll_interval: float = 30.0,
        max_consecutive_errors: int = 3,
        cancel_on_timeout: bool = True,
        create: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.render_id = render_id
        self.end_time = float(end_time)
        self.nemo_conn_id = nemo_conn_id
        self.poll_interval = float(poll_interval)
        self.max_consecutive_errors = int(max_consecutive_errors)
        self.cancel_on_timeout = bool(cancel_on_timeout)
        self.create = dict(create) if create else None
        self._client: AsyncNemoClient | None = None
        self._creating = False
        self._finished = False
        self._cancel_sent = False

    @property
    def log(self) -> Any:
        """One logger for every trigger of this class, not one per trigger.

        Airflow's ``LoggingMixin`` builds and keeps a structlog logger per instance, about 1 KB each in
        a triggerer holding a thousand (bench/trigger_density.py). A triggerer routes each trigger's lines
        to its task's log by the context it binds around that trigger's run (``trigger_id``), not by the
        logger object, so the class's one logger lands in the same files.
        """
        return type(self).logger()

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Plain JSON values only: Airflow 3.2+ serializes trigger kwargs with serde, which rejects others."""
        return (
            "nemo_provider.triggers.nemo.NemoRenderTrigger",
            {
                "render_id": self.render_id,
                "end_time": self.end_time,
                "nemo_conn_id": self.nemo_conn_id,
                "poll_interval": self.poll_interval,
                "max_consecutive_errors": self.max_consecutive_errors,
                "cancel_on_timeout": self.cancel_on_timeout,
                "create": self.create,
            },
        )

    async def _get_client(self) -> AsyncNemoClient:
        if self._client is None:
            # The first import of the client (httpx, pydantic models, aiohttp) takes a few hundred ms; do
            # it in a thread so the triggerer's loop, shared by every trigger, is never blocked by it.
            await asyncio.to_thread(_preload_client_modules)
            from nemo_provider.hooks.nemo import NemoHook

            self._client = await NemoHook(self.nemo_conn_id).get_async_client(shared=True)
        return self._client

    def _event(self, status: str, message: str, render: Any = None, **extra: Any) -> TriggerEvent:
        """``render``: a RenderStatus, or the JSON of one (what a waiting trigger keeps of its last poll)."""
        self._finished = True
        payload = {
            "status": status,
            "render_id": self.render_id,
            "message": message,
            "render": _json_of(render),
            **extra,
        }
        return TriggerEvent(payload)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll with the async client; every wait is ``asyncio.sleep``, never a blocking call.

        Across a sleep the trigger keeps of its last poll only what a later event needs, the status's
        JSON (~0.3 KB), not the RenderStatus model (~1.2 KB): a triggerer holds a thousand of them.
        """
        last: dict[str, Any] | None = None
        try:
            client = await self._get_client()
            # loaded with the client, off the loop
            from nemo_provider.client.errors import TransientErrorBudget, is_transient

            errors = TransientErrorBudget(self.max_consecutive_errors)
            if self.create is not None:
                failure = await self._ensure_started(client, errors)
                if failure is not None:
                    yield failure
                    return
            self.log.info(
                "Waiting for render %s (polling every %.0f s, deadline in %.0f s).",
                self.render_id,
                self.poll_interval,
                self.end_time - time.time(),
            )

            while True:
                try:
                    render = await self._poll(client)
                    errors.reset()
                except Exception as err:
                    if not errors.tolerate(err):
                        message = (
                            f"Render {self.render_id}: {errors.count} polls in a row failed: {err}"
                            if is_transient(err)
                            else f"Render {self.render_id}: {err}"
                        )
                        yield self._event("error", message, last)
                        return
                    self.log.warning(
                        "Polling render %s failed (%d in a row, %d tolerated): %s",
                        self.render_id,
                        errors.count,
                        self.max_consecutive_errors,
                        err,
                    )
                else:
                    event = self._terminal_event(render)
                    if event is not None:
                        yield event
                        return
                    last = _json_of(render)
                    del render  # not kept across the sleep: the next event needs only its JSON
                remaining = self.end_time - time.time()
                if remaining <= 0:
                    yield await self._timeout_event(client, last)
                    return
                await asyncio.sleep(min(self.poll_interval, remaining))
        except asyncio.CancelledError as cancelled:
            reason = cancelled.args[0] if cancelled.args else None
            if not _AIRFLOW_CALLS_ON_KILL and not self._finished and reason not in _SHUTDOWN_REASONS:
                # Airflow < 3.3 never calls on_kill: a cancel without a shutdown reason means the task
                # was killed or timed out while deferred, so stop the render it was waiting for.
                await asyncio.shield(self.on_kill())
            raise

    async def _ensure_started(self, client: AsyncNemoClient, errors: Any) -> TriggerEvent | None:
        """Start the render unless it exists already; an ``error`` event when it cannot be started."""
        assert self.create is not None
        from nemo_provider.client.errors import NemoDuplicateRenderIdError, is_missing_render, is_transient

        while True:
            try:
                await self._poll(client)
                self.log.info(
                    "Render %s already exists (a restarted trigger); waiting for it.", self.render_id
                )
                return None
            except Exception as err:
                if not is_missing_render(err):
                    if errors.tolerate(err):
                        await asyncio.sleep(min(self.poll_interval, 5.0))
                        continue
                    return self._event("error", f"Render {self.render_id} could not be checked: {err}")
            if time.time() >= self.end_time:  # picked up after the deadline: starting it would only cancel it
                return self._event(
                    "timeout",
                    f"Render {self.render_id} was not started: its deadline passed before a triggerer ran it.",
                    cancelled=True,  # nothing exists to cancel
                )
            if not await self._task_still_deferred():
                self.log.info(
                    "Not starting render %s: its task is no longer deferred (stopped while it waited "
                    "for a triggerer).",
                    self.render_id,
                )
                return self._event("cancelled", f"Render {self.render_id} was not started: task stopped.")
            self._creating = True
            try:
                status = await client.create_render(
                    self.create["session_id"],
                    self.create["draft"],
                    format=self.create.get("format", "mp4"),
                    quality=self.create.get("quality", "high"),
                    render_id=self.render_id,
                    rename_on_duplicate=False,
                )
            except NemoDuplicateRenderIdError:
                # A create lost in transit that the service did take: the render is ours, already started.
                self._creating = False
                errors.reset()
                self.log.info(
                    "Render %s already exists (an earlier create landed); waiting for it.", self.render_id
                )
                return None
            except Exception as err:
                self._creating = False
                if is_transient(err) and errors.tolerate(err):
                    # a create that failed in transit may still have reached the service: check first
                    await asyncio.sleep(min(self.poll_interval, 5.0))
                    continue
                return self._event("error", f"Render {self.render_id} could not be started: {err}")
            # (a kill while the create is in flight leaves _creating set, for on_kill)
            self._creating = False
            errors.reset()
            if status.id != self.render_id:
                self.log.info("The service named the render %s (asked for %s).", status.id, self.render_id)
                self.render_id = status.id
            self.log.info("Started render %s.", self.render_id)
            return None

    async def _task_still_deferred(self) -> bool:
        """False only when Airflow says this trigger's task has left the deferred state.

        A triggerer that was down while a user killed a deferred task may still be handed that task's
        trigger when it comes back, before Airflow removes it, and no ``on_kill`` follows for it; asking
        Airflow just before starting the render closes that window. Anything unknown (``dag.test()``
        runs triggers without a triggerer, an older Airflow, a failed lookup) answers True, as before.
        """
        ti = self.task_instance
        if ti is None:
            return True
        try:
            from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
            from asgiref.sync import sync_to_async

            count = await sync_to_async(RuntimeTaskInstance.get_ti_count)(
                dag_id=ti.dag_id,
                map_index=ti.map_index,
                task_ids=[ti.task_id],
                run_ids=[ti.run_id],
                states=["deferred"],
            )
        except Exception as err:
            self.log.debug("Could not read the state of task %s: %s", ti.task_id, err)
            return True
        return bool(count)

    async def _poll(self, client: AsyncNemoClient) -> Any:
        """One status read, on the process's shared pool."""
        return await client.render_status(self.render_id)

    def _terminal_event(self, render: Any) -> TriggerEvent | None:
        if render.status == "completed":
            return self._event("success", f"Render {self.render_id} completed.", render)
        if render.status == "failed":
            reason = render.error or "no reason given"
            return self._event("failed", f"Render {self.render_id} failed: {reason}", render)
        if render.status == "cancelled":
            return self._event("cancelled", f"Render {self.render_id} was cancelled.", render)
        return None

    async def _timeout_event(self, client: AsyncNemoClient, last: dict[str, Any] | None) -> TriggerEvent:
        message = f"Render {self.render_id} did not finish before its deadline."
        render: Any = last
        if self.cancel_on_timeout:
            try:
                render = await self._cancel_remote(client)
                self._cancel_sent = True
                message += " It was cancelled."
            except Exception as err:
                message += f" Cancelling it failed: {err}"
        return self._event("timeout", message, render, cancelled=self._cancel_sent)

    async def _cancel_remote(self, client: AsyncNemoClient) -> Any:
        """Cancel the render, asking again briefly after a transient failure (the trigger's client does
        not repeat calls itself) and, when a create was cut short, after "no such render": that create
        may still land on the service just after."""
        from nemo_provider.client.errors import is_missing_render, is_transient

        for attempt in range(_CANCEL_ATTEMPTS):
            try:
                return await client.cancel_render(self.render_id)
            except Exception as err:
                again = is_transient(err) or (self._creating and is_missing_render(err))
                if not again or attempt + 1 == _CANCEL_ATTEMPTS:
                    raise
                await asyncio.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    async def on_kill(self) -> None:
        """Cancel the remote render when a user kills the deferred task (mark failed/success, clear).

        Airflow 3.3+ calls this only for user actions — not on triggerer restarts or redistribution —
        so a rolling deploy of triggerers never cancels renders.
        """
        if self._cancel_sent or self._finished:
            return
        self._cancel_sent = True
        from nemo_provider.client.errors import is_missing_render

        try:
            await self._cancel_remote(await self._get_client())
        except Exception as err:
            if is_missing_render(err):
                self.log.info("Render %s was never started; nothing to cancel.", self.render_id)
            else:
                self.log.warning("Could not cancel render %s: %s", self.render_id, err)
            return
        self.log.info("Cancelled render %s because its task was stopped.", self.render_id)
