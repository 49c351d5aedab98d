"""An export from start to delivered file, as NemoExportOperator and NemoPromptOperator both run it.

``ExportSpec`` holds the export's parameters as plain values (the operator's, after templating), so the
flow needs no operator: ``run_export`` resumes or starts the render (``_render_job``), publishes its id,
hands the wait to ``defer`` when given (the deferrable operator raises TaskDeferred there) or polls, and
``finish`` delivers the file, publishes its URL and runs the gate and manifest (``_export_gate``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from nemo_provider.links.nemo import RENDER_URL_XCOM_KEY

if TYPE_CHECKING:
    from nemo_provider.operators._render_job import RenderJob

#: ``defer(deadline, create)``: wait in the triggerer until ``deadline`` (epoch seconds); ``create`` is the
#: render the trigger starts, None when it is already running (``job.render_id``).
Defer = Callable[[float, "dict[str, Any] | None"], None]


@dataclass
class ExportSpec:
    """NemoExportOperator's parameters (docs/operators.md); the defaults are the operator's."""

    session_id: str
    format: str = "mp4"
    quality: str = "high"
    destination: str | None = None
    poll_interval: float = 30.0
    timeout: float = 3600.0
    cancel_on_timeout: bool = True
    max_consecutive_errors: int = 3
    quality_check: str | None = None
    expect: dict[str, Any] | None = None
    credits_spent: float | str | None = None
    manifest: bool = True


def run_export(
    spec: ExportSpec,
    context: Any,
    job: RenderJob,
    *,
    deadline: float,
    wait: bool = True,
    defer: Defer | None = None,
    log: Any,
    lineage: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """Resume or start the render, wait for it (``defer`` or poll) and deliver it; returns the XCom."""
    ti = context["ti"]
    status = job.resume()
    if status is None and defer is not None and wait:
        # The trigger starts the render: a task killed before a triggerer picks the trigger up
        # then leaves nothing running on the service (docs/retries-timeouts-cancellation.md).
        draft = job.read_timeline()
        ti.xcom_push(key="render_id", value=job.plan())
        defer(deadline, job.planned_create(draft))
    if status is None:
        status = job.start(job.read_timeline())
    ti.xcom_push(key="render_id", value=status.id)
    if not wait:
        return {"render_id": status.id, "status": status.status, "url": status.url}
    if not status.is_terminal and defer is not None:
        defer(deadline, None)
    if not status.is_terminal:
        status = job.poll(
            deadline=deadline,
            poll_interval=spec.poll_interval,
            max_consecutive_errors=spec.max_consecutive_errors,
            cancel_on_timeout=spec.cancel_on_timeout,
            timeout_s=spec.timeout,
        )
    return finish(spec, context, job, status, log=log, lineage=lineage)


def finish(
    spec: ExportSpec,
    context: Any,
    job: RenderJob,
    status: Any,
    *,
    log: Any,
    lineage: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """A terminal status -> the delivered, verified file, its ``render_url`` XCom, gate and manifest."""
    from nemo_provider.operators._destination import deliver, resolve_destination
    from nemo_provider.operators._export_gate import finish_export

    job.settle(status)
    destination = resolve_destination(spec.destination, status.id, spec.format)
    delivered = deliver(job.client, status.url or status.id, destination, status.size)
    if status.url:
        context["ti"].xcom_push(key=RENDER_URL_XCOM_KEY, value=status.url)
    job.done()
    log.info("Render %s saved to %s (%d bytes).", status.id, delivered.path, delivered.size)
    if job.facts is None:  # this try never read the session (it resumed a render): read it once
        from nemo_provider.operators._media import session_facts

        try:
            job.facts = session_facts(job.client.state(spec.session_id))
        except Exception as err:  # the file is delivered: a missing description must not fail it
            log.warning("Could not read session %s: %s", spec.session_id, err)
    return {
        "render_id": status.id,
        "url": status.url,
        "path": delivered.path,
        "format": spec.format,
        "size": delivered.size,
        "duration": status.duration,
        **finish_export(
            spec, log, job.client, status, delivered.path, delivered.size, job.facts or {}, lineage
        ),
    }


def export_with(
    hook: Any, op: Any, context: Any, spec: ExportSpec, *, wait: bool = True, defer: Defer | None = None
) -> dict[str, Any]:
    """``run_export`` on a client of ``hook``, for operator ``op``: ``op._job`` is its render (``on_kill``
    cancels it), ``op._lineage`` what lineage reports, ``op.log`` its log."""
    import time

    from nemo_provider.operators._attempts import TaskAttemptStore
    from nemo_provider.operators._render_job import RenderJob

    deadline = time.time() + spec.timeout
    with hook.get_client() as client:
        store = TaskAttemptStore(context, "render")
        job = RenderJob(client, store, op.log, spec.session_id, spec.format, spec.quality,
                        on_first_read=lambda: hook.register_acquired_token(client))  # fmt: skip
        op._job = job
        return run_export(spec, context, job, deadline=deadline, wait=wait, defer=defer, log=op.log,
                          lineage=lambda info: setattr(op, "_lineage", info))  # fmt: skip
