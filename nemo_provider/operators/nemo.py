"""Operators for the Nemo agent API: sessions, uploads, generation, export and free-text prompts.

DAG files import this module, so it must stay cheap: the client, the hook, the trigger and the helpers
are imported inside the methods that run on a worker; only the small parameter dataclasses
(``_export.ExportSpec``, ``_generate.MessageOptions``, whose defaults are the operators') load with it.
The operators hold parameters, deferral and ``on_kill``; the rules live in ``_message_once`` (a message
sent at most once across tries) and ``_render_job`` (one render across tries), the flows in ``_generate``
and ``_export``. NemoPromptOperator is in ``prompt.py`` and importable from here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from nemo_provider._compat import conf
from nemo_provider.links.nemo import NemoDownloadLink, NemoTrackLink
from nemo_provider.operators._export import ExportSpec
from nemo_provider.operators._generate import MessageOptions
from nemo_provider.operators._hook import DEFAULT_CONN_ID, hook_for

if TYPE_CHECKING:
    from airflow.sdk import Context

    from nemo_provider.operators._render_job import RenderJob


def _seconds(value: float | timedelta | None) -> float | None:
    if value is None:
        return None
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class NemoCreateSessionOperator(BaseOperator):
    """Create a Nemo session so several tasks of one DAG run can work on the same project.

    Returns ``{"task_id": …, "session_id": …}``; pass ``…output["session_id"]`` to later operators.

    :param task_name: the project name shown in Nemo.
    :param language: the agent's language (default: the connection's ``language`` extra).
    :param nemo_conn_id: the Airflow connection of type ``nemo``.
    """

    template_fields: Sequence[str] = ("task_name", "language")
    ui_color = "#d7e8fb"

    def __init__(
        self,
        *,
        task_name: str = "project",
        language: str | None = None,
        nemo_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("multiple_outputs", True)  # each key is also its own XCom: op.output["session_id"]
        super().__init__(**kwargs)
        self.task_name = task_name
        self.language = language
        self.nemo_conn_id = nemo_conn_id

    def execute(self, context: Context) -> dict[str, str | None]:
        hook = hook_for(self.nemo_conn_id)
        with hook.get_client() as client:
            info = client.create_session(task_name=self.task_name, language=self.language)
            hook.register_acquired_token(client)
        self.log.info("Created Nemo session %s (task %s).", info.session_id, info.task_id)
        return {"task_id": info.task_id, "session_id": info.session_id}


class NemoUploadOperator(BaseOperator):
    """Upload media (video, images, audio) into a session, from paths or URLs.

    Paths may be local or ``ObjectStoragePath`` URIs (``s3://…``); remote files are streamed to a
    temporary local file first, then streamed to Nemo, never read whole into memory. Returns
    ``{"session_id", "files": [{filename, file_type, cdn_url, duration, width, height, fps, hash}],
    "session_state_applied"}``.

    :param session_id: the session to upload into (templated).
    :param files: local paths or object-storage URIs (templated).
    :param urls: public URLs for Nemo to fetch itself (templated).
    """

    template_fields: Sequence[str] = ("session_id", "files", "urls")
    ui_color = "#d7e8fb"

    def __init__(
        self,
        *,
        session_id: str,
        files: Sequence[str] | None = None,
        urls: Sequence[str] | None = None,
        nemo_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("multiple_outputs", True)  # each key is also its own XCom: op.output["session_id"]
        super().__init__(**kwargs)
        if not files and not urls:
            raise ValueError("NemoUploadOperator needs files=… or urls=…")
        self.session_id = session_id
        self.files = files
        self.urls = urls
        self.nemo_conn_id = nemo_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        return self.execute_nested(context)

    def execute_nested(self, context: Context) -> dict[str, Any]:
        """``execute``, for code that runs this operator inside another task (a ``@task`` loop): the
        same work, without Airflow's "called outside of the Task Runner" warning."""
        from nemo_provider.operators._upload import upload_files

        hook = hook_for(self.nemo_conn_id)
        with hook.get_client() as client:
            files, urls = [str(f) for f in self.files or []], list(self.urls or [])
            out, self._lineage = upload_files(client, self.session_id, files, urls, self.log)
            hook.register_acquired_token(client)
        return out

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage from what this task recorded while it ran (no API call): see docs/quality.md."""
        return _lineage_of(self)


class NemoGenerateOperator(BaseOperator):
    """Send one message to the Nemo agent (generate music, add a title, edit the timeline…).

    The agent's text is logged as it arrives, and "still working" during long silences. Returns
    ``{session_id, texts, tool_calls, generated_media, timeline_summary, draft_changed, credits_spent}``.

    **A retry never re-sends a message the service may already have accepted.** Before sending, the
    operator records the attempt (session, prompt hash, the media and draft as they were) in an Airflow
    Variable keyed by the task instance (XCom is wiped between tries). A retry that finds the record
    reads the session instead of re-sending: if new media appeared or the draft changed, the previous try's
    message was accepted and its effect is returned; if nothing changed yet, it watches the session (every
    ``settle_poll_interval`` seconds) up to ``settle_timeout`` seconds for the agent to finish, then fails
    rather than risk paying twice (``resend_unconfirmed=True`` opts into re-sending). A try that failed
    before the service accepted the message (auth, unknown session, credits, rate limit) erases the
    record, so its retry sends normally. The rule itself: ``nemo_provider/operators/_message_once.py``.

    :param prompt: the message (templated).
    :param session_id: the session to talk in (templated); a new one is created when empty.
    :param message_timeout: ceiling for one message's stream, seconds.
    """

    template_fields: Sequence[str] = ("prompt", "session_id", "task_name")
    template_fields_renderers: ClassVar[dict[str, str]] = {"prompt": "md"}
    ui_color = "#c6f0d6"

    def __init__(
        self,
        *,
        prompt: str,
        session_id: str | None = None,
        task_name: str = MessageOptions.task_name,
        language: str | None = MessageOptions.language,
        message_timeout: float = MessageOptions.message_timeout,
        settle_timeout: float = MessageOptions.settle_timeout,
        settle_poll_interval: float = MessageOptions.settle_poll_interval,
        resend_unconfirmed: bool = MessageOptions.resend_unconfirmed,
        nemo_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("multiple_outputs", True)  # each key is also its own XCom: op.output["session_id"]
        super().__init__(**kwargs)
        self.prompt = prompt
        self.session_id = session_id
        self.task_name = task_name
        self.language = language
        self.message_timeout = message_timeout
        self.settle_timeout = settle_timeout
        self.settle_poll_interval = settle_poll_interval
        self.resend_unconfirmed = resend_unconfirmed
        self.nemo_conn_id = nemo_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        return self.execute_nested(context)

    def execute_nested(self, context: Context) -> dict[str, Any]:
        """``execute``, for code that runs this operator inside another task (a ``@task`` loop): the
        same work, without Airflow's "called outside of the Task Runner" warning."""
        from nemo_provider.operators._generate import generate
        from nemo_provider.operators._lineage import generate_info

        options = MessageOptions(
            task_name=self.task_name,
            language=self.language,
            message_timeout=self.message_timeout,
            settle_timeout=self.settle_timeout,
            settle_poll_interval=self.settle_poll_interval,
            resend_unconfirmed=self.resend_unconfirmed,
        )
        hook = hook_for(self.nemo_conn_id)
        with hook.get_client() as client:
            result = generate(context, hook, client, self.log, str(self.prompt), self.session_id, options)
        self._lineage = generate_info(str(self.prompt), result)
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage from what this task recorded while it ran (no API call): see docs/quality.md."""
        return _lineage_of(self)


def _lineage_of(op: BaseOperator) -> Any:
    from nemo_provider.operators._lineage import operator_lineage

    return operator_lineage(getattr(op, "_lineage", None))


class NemoExportOperator(BaseOperator):
    """Render a session's timeline to a file and download it.

    Reads the session's draft, starts a render, publishes the render id to XCom before waiting, then
    waits — in the triggerer when ``deferrable`` (no worker slot held), by polling otherwise. The deadline
    is wall-clock (``timeout`` after the try started) and is kept in the trigger, so a triggerer restart
    does not reset it; at the deadline the render is cancelled and the task fails. A failed or cancelled
    render fails the task with the service's reason. Killing the task cancels the render. A retry resumes
    the render its previous try started (the id is kept in an Airflow Variable for the task instance,
    as Airflow 3.3's ``ResumableJobMixin`` does) instead of paying for a second one.

    Returns ``{render_id, url, path, format, size, duration, media, quality, manifest}``: ``media`` lists
    the session's generated media (title, prompt, bpm, key, mood, seed, lufs, duration_ms);
    ``quality`` and ``manifest`` describe the quality gate's result and the provenance file next to
    the export (``None`` when not made).

    :param session_id: the session whose timeline to export (templated).
    :param format: mp4, mov, webm, mkv, avi, gif, mp3, wav, m4a or aac (templated).
    :param quality: ``high`` (1080p) or the service's other qualities (templated).
    :param destination: local path, folder (trailing ``/``) or ObjectStoragePath URI (templated);
        default the ``nemo_export_destination`` Variable, else ``$NEMO_EXPORT_DIR``, else
        ``<tmp>/nemo-exports``, file ``<render_id>.<format>``.
    :param wait_for_completion: False returns right after the render started (use NemoRenderSensor).
    :param deferrable: wait in the triggerer (default: ``[operators] default_deferrable``).
    :param poll_interval: seconds between status reads.
    :param timeout: seconds (or timedelta) a try may wait for the render.
    :param quality_check: ``"fail"``, ``"warn"`` or ``"off"`` (templated); default ``"warn"`` when the
        ``quality`` extra is installed, else ``"off"``. ``"fail"`` raises NemoQualityError listing each
        miss, after the file was delivered (it is kept for inspection). See docs/quality.md.
    :param expect: expectations overriding those derived from the session and the export (templated):
        keys of ``nemo_provider.quality.Expectations`` (duration_s, lufs, bpm, key, loop, lines, ...).
    :param credits_spent: what making this track cost (e.g. the generate task's ``credits_spent``),
        recorded in the manifest; the export itself costs none.
    :param manifest: write ``<file>.nemo.json`` (provenance and measurements) next to the file.
    """

    template_fields: Sequence[str] = (
        "session_id",
        "format",
        "quality",
        "destination",
        "quality_check",
        "expect",
        "credits_spent",
    )
    operator_extra_links = (NemoTrackLink(), NemoDownloadLink())
    ui_color = "#f7d9a8"

    def __init__(
        self,
        *,
        session_id: str,
        format: str = ExportSpec.format,
        quality: str = ExportSpec.quality,
        destination: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = ExportSpec.poll_interval,
        timeout: float | timedelta = ExportSpec.timeout,
        cancel_on_timeout: bool = ExportSpec.cancel_on_timeout,
        max_consecutive_errors: int = ExportSpec.max_consecutive_errors,
        quality_check: str | None = None,
        expect: dict[str, Any] | None = None,
        credits_spent: float | str | None = None,
        manifest: bool = ExportSpec.manifest,
        nemo_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("multiple_outputs", True)  # each key is also its own XCom: op.output["render_id"]
        super().__init__(**kwargs)
        self.quality_check = quality_check
        self.expect = expect
        self.credits_spent = credits_spent
        self.manifest = manifest
        self.session_id = session_id
        self.format = format
        self.quality = quality
        self.destination = destination
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = float(poll_interval)
        self.timeout = _seconds(timeout) or ExportSpec.timeout
        self.cancel_on_timeout = cancel_on_timeout
        self.max_consecutive_errors = max_consecutive_errors
        self.nemo_conn_id = nemo_conn_id
        self.render_url: str | None = None
        self._job: RenderJob | None = None

    @property
    def render_id(self) -> str | None:
        """The render this try started or resumed (None before that)."""
        return self._job.render_id if self._job is not None else None

    def _spec(self) -> ExportSpec:
        """This try's parameters (templated by now): the operator's attributes named as the spec's fields."""
        import dataclasses

        return ExportSpec(**{f.name: getattr(self, f.name) for f in dataclasses.fields(ExportSpec)})

    def execute(self, context: Context) -> dict[str, Any]:
        return self.execute_nested(context)

    def execute_nested(self, context: Context) -> dict[str, Any]:
        """``execute``, for code that runs this operator inside another task (a ``@task`` loop): the
        same work, without Airflow's "called outside of the Task Runner" warning."""
        spec = self._spec()
        defer = self._defer if self.deferrable else None
        from nemo_provider.operators._export import export_with

        result = export_with(
            hook_for(self.nemo_conn_id), self, context, spec, wait=self.wait_for_completion, defer=defer
        )
        self.render_url = result.get("url")
        return result

    def execute_complete(
        self, context: Context, event: dict[str, Any], facts: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Resume after the trigger fired: download on success, fail with the service's reason otherwise.

        ``facts`` is the session's media and timeline as read before deferring (carried in the defer kwargs).
        """
        from nemo_provider.operators._attempts import TaskAttemptStore
        from nemo_provider.operators._export import finish
        from nemo_provider.operators._render_job import RenderJob

        spec = self._spec()
        hook = hook_for(self.nemo_conn_id)
        with hook.get_client() as client:
            job = RenderJob(client, TaskAttemptStore(context, "render"), self.log, spec.session_id,
                            spec.format, spec.quality)  # fmt: skip
            self._job = job
            job.facts = facts
            job.settle_event(event, cancel_on_timeout=self.cancel_on_timeout)
            assert job.render_id is not None
            context["ti"].xcom_push(key="render_id", value=job.render_id)  # the trigger's, if it was renamed
            status = client.render_status(job.render_id)
            result = finish(spec, context, job, status, log=self.log,
                            lineage=lambda info: setattr(self, "_lineage", info))  # fmt: skip
        self.render_url = result.get("url")
        return result

    def on_kill(self) -> None:
        """Stop the render this try started, so a killed task does not leave work running on Nemo."""
        from nemo_provider.operators._render_job import cancel_quietly

        job = self._job
        if job is None or job.render_id is None or job.finished:
            return
        try:
            with hook_for(self.nemo_conn_id).get_client() as client:
                cancel_quietly(client, job.render_id, self.log)
        except Exception as err:  # on the way out of a killed task: say so, never raise
            self.log.warning("Could not cancel render %s: %s", job.render_id, err)

    def _defer(self, deadline: float, create: dict[str, Any] | None = None) -> None:
        from nemo_provider.triggers.nemo import NemoRenderTrigger

        assert self._job is not None and self.render_id is not None
        facts = self._job.facts
        self.defer(
            trigger=NemoRenderTrigger(
                render_id=self.render_id,
                end_time=deadline,
                nemo_conn_id=self.nemo_conn_id,
                poll_interval=self.poll_interval,
                max_consecutive_errors=self.max_consecutive_errors,
                cancel_on_timeout=self.cancel_on_timeout,
                create=create,
            ),
            method_name="execute_complete",
            kwargs={"facts": facts} if facts is not None else None,
            # A backstop in case no triggerer runs: the scheduler fails the task a little after the deadline.
            timeout=timedelta(seconds=max(0.0, deadline - time.time()) + max(60.0, 2 * self.poll_interval)),
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage from what this task recorded while it ran (no API call): see docs/quality.md."""
        return _lineage_of(self)


# NemoPromptOperator is defined on its own (it reuses the others' work) and is importable from here.
from nemo_provider.operators.prompt import NemoPromptOperator  # noqa: E402

__all__ = [
    "NemoCreateSessionOperator",
    "NemoExportOperator",
    "NemoGenerateOperator",
    "NemoPromptOperator",
    "NemoUploadOperator",
]
