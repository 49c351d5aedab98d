"""Operators for the Nemo agent API: sessions, uploads, generation, export and free-text prompts.

DAG files import this module, so it must stay cheap: the client (httpx, pydantic), the trigger and the
helpers are imported inside the methods that run on a worker, never at module top level.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from nemo_provider._compat import AirflowFailException, conf
from nemo_provider.links.nemo import RENDER_URL_XCOM_KEY, NemoDownloadLink, NemoTrackLink

if TYPE_CHECKING:
    from airflow.sdk import Context

    from nemo_provider.client import NemoClient
    from nemo_provider.client.models import RenderStatus
    from nemo_provider.hooks.nemo import NemoHook
    from nemo_provider.operators._attempts import TaskAttemptStore

DEFAULT_CONN_ID = "nemo_default"


def _hook(conn_id: str) -> NemoHook:
    from nemo_provider.hooks.nemo import NemoHook

    return NemoHook(nemo_conn_id=conn_id)


def _dump(model: Any) -> Any:
    """JSON-safe form of a client model (or list of them) for XCom."""
    if isinstance(model, list | tuple):
        return [_dump(m) for m in model]
    if hasattr(model, "model_dump"):
        return model.model_dump(mode="json")
    return model


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
        # Each key is also its own XCom, so DAGs can write `op.output["session_id"]`.
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(**kwargs)
        self.task_name = task_name
        self.language = language
        self.nemo_conn_id = nemo_conn_id

    def execute(self, context: Context) -> dict[str, str | None]:
        hook = _hook(self.nemo_conn_id)
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
        # Each key is also its own XCom, so DAGs can write `op.output["session_id"]`.
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(**kwargs)
        if not files and not urls:
            raise ValueError("NemoUploadOperator needs files=… or urls=…")
        self.session_id = session_id
        self.files = files
        self.urls = urls
        self.nemo_conn_id = nemo_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        return self.run_in(context)

    def run_in(self, context: Context) -> dict[str, Any]:
        """The work of ``execute``, callable from another operator (NemoPromptOperator)."""
        import tempfile

        from nemo_provider.operators._destination import local_path

        hook = _hook(self.nemo_conn_id)
        files = [str(f) for f in (self.files or [])]
        with tempfile.TemporaryDirectory(prefix="nemo-upload-") as tmp, hook.get_client() as client:
            # a file:// source is read in place (no copy); other URIs are streamed to a temp file first
            local_files = [local_path(f) or self._localise(f, tmp) for f in files]
            result = client.upload(
                self.session_id, files=local_files or None, urls=list(self.urls) if self.urls else None
            )
            hook.register_acquired_token(client)
        for f in result.files:
            self.log.info("Uploaded %s (%s) into session %s.", f.filename, f.file_type, self.session_id)
        out = {
            # the client re-creates an expired session (1002) and says which one it used
            "session_id": getattr(result, "session_id", None) or self.session_id,
            "files": _dump(result.files),
            "session_state_applied": result.session_state_applied,
        }
        from nemo_provider.operators._lineage import upload_info

        self._lineage = upload_info(files, list(self.urls or []), out)
        return out

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage from what this task recorded while it ran (no API call): see docs/quality.md."""
        from nemo_provider.operators._lineage import operator_lineage

        return operator_lineage(getattr(self, "_lineage", None))

    @staticmethod
    def _localise(uri: str, folder: str) -> str:
        """Stream an object-storage file to a local temp file (the client uploads from disk)."""
        import os
        import shutil

        from nemo_provider.operators._destination import storage_path

        source = storage_path(uri)
        target = os.path.join(folder, source.name)
        with source.open("rb") as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, length=1024 * 1024)
        return target


class NemoGenerateOperator(BaseOperator):
    """Send one message to the Nemo agent (generate music, add a title, edit the timeline…).

    The agent's text is logged as it arrives, and "still working" during long silences. Returns
    ``{session_id, texts, tool_calls, generated_media, timeline_summary, draft_changed, credits_spent}``.

    **A retry never re-sends a message the service may already have accepted.** Before sending, the
    operator records the attempt (session, prompt hash, the media and draft as they were) in an Airflow
    Variable keyed by the task instance (XCom is wiped between tries). A retry that finds the record
    reads the session instead of re-sending: if new media appeared or the draft changed, the previous try's
    message was accepted and its effect is returned; if nothing changed yet, it waits up to
    ``settle_timeout`` seconds for the agent to finish, then fails rather than risk paying twice
    (``resend_unconfirmed=True`` opts into re-sending). A try that failed before the service accepted the
    message (auth, unknown session, credits, rate limit) erases the record, so its retry sends normally.

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
        task_name: str = "project",
        language: str | None = None,
        message_timeout: float = 900.0,
        settle_timeout: float = 60.0,
        resend_unconfirmed: bool = False,
        nemo_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        # Each key is also its own XCom, so DAGs can write `op.output["session_id"]`.
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(**kwargs)
        self.prompt = prompt
        self.session_id = session_id
        self.task_name = task_name
        self.language = language
        self.message_timeout = message_timeout
        self.settle_timeout = settle_timeout
        self.resend_unconfirmed = resend_unconfirmed
        self.nemo_conn_id = nemo_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        return self.run_in(context)

    def run_in(self, context: Context) -> dict[str, Any]:
        """The work of ``execute``, callable from another operator (NemoPromptOperator)."""
        from nemo_provider.operators._attempts import TaskAttemptStore

        store = TaskAttemptStore(context, "message")
        hook = _hook(self.nemo_conn_id)
        prompt_sha = hashlib.sha256(str(self.prompt).encode()).hexdigest()
        with hook.get_client() as client:
            record = store.load()
            if record and record.get("prompt_sha") == prompt_sha:
                recovered = self._recover(client, record)
                if recovered is not None:
                    store.clear()
                    return self._recorded(recovered)
            elif record:
                self.log.info(
                    "Ignoring a record for a different prompt from try %s.", record.get("try_number")
                )
            result = self._send(client, hook, store, prompt_sha)
        store.clear()
        return self._recorded(result)

    def _recorded(self, result: dict[str, Any]) -> dict[str, Any]:
        from nemo_provider.operators._lineage import generate_info

        self._lineage = generate_info(str(self.prompt), result)
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage from what this task recorded while it ran (no API call): see docs/quality.md."""
        from nemo_provider.operators._lineage import operator_lineage

        return operator_lineage(getattr(self, "_lineage", None))

    def _baseline(self, client: NemoClient, session_id: str, prompt_sha: str) -> dict[str, Any]:
        state = client.state(session_id)
        return {
            "session_id": session_id,
            "prompt_sha": prompt_sha,
            "media_ids": [m.id for m in state.generated_media],
            "draft_sha": _draft_sha(state.draft),
            "credits_before": _available(client),
        }

    def _send(
        self, client: NemoClient, hook: NemoHook, store: TaskAttemptStore, prompt_sha: str
    ) -> dict[str, Any]:
        session_id = self.session_id
        if not session_id:
            session_id = client.create_session(task_name=self.task_name, language=self.language).session_id
            self.log.info("Created Nemo session %s.", session_id)
        hook.register_acquired_token(client)
        baseline = self._baseline(client, session_id, prompt_sha)
        store.save(baseline)  # before sending: a crash from here on must not lead to a second send
        self.log.info("Sending the message to session %s.", session_id)
        from nemo_provider.operators._agent_log import AgentLog

        agent_log = AgentLog(self.log)  # whole sentences in Airflow's words, not 24-character fragments
        try:
            result = client.send_message(
                session_id,
                self.prompt,
                on_text=agent_log.feed,
                on_progress=lambda note: self.log.info("%s", note),
                timeout=self.message_timeout,
            )
        except Exception as err:
            from nemo_provider.client.errors import refused_before_accept

            if refused_before_accept(err):
                store.clear()  # the service refused it: a retry may send again
            raise
        finally:
            agent_log.close()
        for error in result.errors:
            self.log.warning("The agent reported an error: %s", getattr(error, "message", error))
        return self._result(client, baseline, result)

    def _result(self, client: NemoClient, baseline: dict[str, Any], result: Any = None) -> dict[str, Any]:
        # The client may have re-created an expired session (1002) before the message was accepted.
        session_id = getattr(result, "session_id", None) or baseline["session_id"]
        state = client.state(session_id)
        before = set(baseline.get("media_ids") or [])
        new_media = [m for m in state.generated_media if m.id not in before]
        draft_changed = _draft_sha(state.draft) != baseline.get("draft_sha")
        if result is not None and result.draft_changed is not None:
            draft_changed = bool(result.draft_changed)
        summary = result.timeline_summary if result is not None else None
        if summary is None and state.draft is not None:
            summary = state.draft.summary()
        credits_after = _available(client)
        spent = None
        if baseline.get("credits_before") is not None and credits_after is not None:
            spent = baseline["credits_before"] - credits_after
        return {
            "session_id": session_id,
            "texts": list(result.texts) if result is not None else [],
            "tool_calls": _dump(list(result.tool_calls)) if result is not None else [],
            "generated_media": _dump(new_media),
            "timeline_summary": summary,
            "draft_changed": draft_changed,
            "credits_spent": spent,
        }

    def _recover(self, client: NemoClient, record: dict[str, Any]) -> dict[str, Any] | None:
        """A previous try sent this message: find its effect in the session instead of re-sending."""
        self.log.info(
            "Try %s already sent this message to session %s; reading the session instead of re-sending.",
            record.get("try_number"),
            record.get("session_id"),
        )
        deadline = time.monotonic() + self.settle_timeout
        while True:
            state = client.state(record["session_id"])
            known = set(record.get("media_ids") or [])
            if any(m.id not in known for m in state.generated_media) or _draft_sha(state.draft) != record.get(
                "draft_sha"
            ):
                self.log.info("The previous try's message was accepted; returning its result.")
                return self._result(client, record)
            if time.monotonic() >= deadline:
                break
            time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
        if self.resend_unconfirmed:
            self.log.warning("No effect of the previous try's message is visible; re-sending as asked.")
            return None
        raise AirflowFailException(
            "A previous try sent this message and the service may have accepted it, but the session shows "
            f"no change after {self.settle_timeout:.0f}s. Not re-sending: a repeated message is charged "
            "twice. Clear the task after checking the session, or set resend_unconfirmed=True."
        )


def _draft_sha(draft: Any) -> str | None:
    if draft is None:
        return None
    import json

    wire = draft.to_wire() if hasattr(draft, "to_wire") else draft
    return hashlib.sha256(json.dumps(wire, sort_keys=True, default=str).encode()).hexdigest()


def _available(client: NemoClient) -> float | None:
    try:
        return client.credits().available
    except Exception:
        return None


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
        format: str = "mp4",
        quality: str = "high",
        destination: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30.0,
        timeout: float | timedelta = 3600.0,
        cancel_on_timeout: bool = True,
        max_consecutive_errors: int = 3,
        quality_check: str | None = None,
        expect: dict[str, Any] | None = None,
        credits_spent: float | str | None = None,
        manifest: bool = True,
        nemo_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        # Each key is also its own XCom, so DAGs can write `op.output["session_id"]`.
        kwargs.setdefault("multiple_outputs", True)
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
        self.timeout = _seconds(timeout) or 3600.0
        self.cancel_on_timeout = cancel_on_timeout
        self.max_consecutive_errors = max_consecutive_errors
        self.nemo_conn_id = nemo_conn_id
        self.render_id: str | None = None
        self.render_url: str | None = None
        self._done = False
        self._facts: dict[str, Any] | None = None  # the session's media and timeline, read with the draft

    # -- run ----------------------------------------------------------------------------------------
    def execute(self, context: Context) -> dict[str, Any]:
        return self.run_in(context)

    def run_in(self, context: Context) -> dict[str, Any]:
        """The work of ``execute``, callable from another operator (NemoPromptOperator)."""
        from nemo_provider.operators._attempts import TaskAttemptStore

        store = TaskAttemptStore(context, "render")
        hook = _hook(self.nemo_conn_id)
        deadline = time.time() + self.timeout
        with hook.get_client() as client:
            status = self._resume(client, store)
            if status is None and self.deferrable and self.wait_for_completion:
                # The trigger starts the render: a task killed before a triggerer picks the trigger up
                # then leaves nothing running on the service (docs/retries-timeouts-cancellation.md).
                render_id, create = self._plan(client, hook, store)
                self.render_id = render_id
                context["ti"].xcom_push(key="render_id", value=render_id)
                self._defer(deadline, create=create)
            if status is None:
                status = self._start(client, hook, store)
            self.render_id = status.id
            context["ti"].xcom_push(key="render_id", value=status.id)
            if not self.wait_for_completion:
                return {"render_id": status.id, "status": status.status, "url": status.url}
            if not status.is_terminal and self.deferrable:
                self._defer(deadline)
            if not status.is_terminal:
                status = self._poll(client, store, deadline)
            return self._finish(context, client, store, status)

    def execute_complete(
        self, context: Context, event: dict[str, Any], facts: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Resume after the trigger fired: download on success, fail with the service's reason otherwise.

        ``facts`` is the session's media and timeline as read before deferring (carried in the defer kwargs).
        """
        from nemo_provider.operators._attempts import TaskAttemptStore

        store = TaskAttemptStore(context, "render")
        self.render_id = event["render_id"]
        if facts is not None:
            self._facts = facts
        kind = event["status"]
        if kind == "timeout":
            if self.cancel_on_timeout and not event.get("cancelled"):
                self._cancel_quietly()
            store.clear()
            self._done = True
            raise AirflowException(event["message"])
        if kind in ("failed", "cancelled"):
            store.clear()
            self._done = True
            raise AirflowException(event["message"])
        if kind != "success":
            # "error": the render may still be running; keep the record so a retry resumes it.
            raise AirflowException(event["message"])
        context["ti"].xcom_push(key="render_id", value=self.render_id)  # the trigger's, if it was renamed
        with _hook(self.nemo_conn_id).get_client() as client:
            status = client.render_status(self.render_id)
            return self._finish(context, client, store, status)

    def on_kill(self) -> None:
        """Stop the render this try started, so a killed task does not leave work running on Nemo."""
        if self.render_id and not self._done:
            self._cancel_quietly()

    # -- steps --------------------------------------------------------------------------------------
    def _resume(self, client: NemoClient, store: TaskAttemptStore) -> RenderStatus | None:
        record = store.load()
        if not record:
            return None
        same_job = (record.get("session_id"), record.get("format"), record.get("quality")) == (
            self.session_id,
            self.format,
            self.quality,
        )
        if not same_job:
            self.log.info(
                "The export's parameters changed since try %s; starting anew.", record["try_number"]
            )
            store.clear()
            return None
        try:
            status = client.render_status(record["render_id"])
        except Exception as err:
            from nemo_provider.client.errors import is_missing_render

            if not is_missing_render(err):
                # the render may well exist: fail this try (the record stays) rather than start a second
                raise AirflowException(
                    f"Could not read render {record['render_id']} started by try {record['try_number']}: {err}. "
                    "The next try resumes it."
                ) from err
            self.log.info(
                "Render %s from try %s is unknown (%s).", record["render_id"], record["try_number"], err
            )
            store.clear()
            return None
        if status.status in ("failed", "cancelled"):
            self.log.info(
                "Render %s from try %s ended %s; starting a new one.",
                status.id,
                record["try_number"],
                status.status,
            )
            store.clear()
            return None
        self.log.info(
            "Resuming render %s started by try %s (%s).", status.id, record["try_number"], status.status
        )
        return status

    def _plan(
        self, client: NemoClient, hook: NemoHook, store: TaskAttemptStore
    ) -> tuple[str, dict[str, Any]]:
        """Read the timeline, pick the render id and record it: everything but starting the render."""
        state = client.state(self.session_id)
        hook.register_acquired_token(client)
        draft = state.draft
        from nemo_provider.operators._media import session_facts

        self._facts = session_facts(state)
        if draft is None or not getattr(draft, "is_exportable", True):
            raise AirflowFailException(
                f"Session {self.session_id} has nothing to export yet: its timeline is empty. "
                "Generate music or upload media first."
            )
        self.log.info("Exporting %s", draft.summary())
        from nemo_provider.client._requests import new_render_id

        planned = new_render_id()
        job = {"session_id": self.session_id, "format": self.format, "quality": self.quality}
        store.save({**job, "render_id": planned})  # before creating: a crash here must not cost a 2nd render
        return planned, {**job, "draft": draft.to_wire()}

    def _start(self, client: NemoClient, hook: NemoHook, store: TaskAttemptStore) -> RenderStatus:
        planned, create = self._plan(client, hook, store)
        draft = create["draft"]
        job = {k: create[k] for k in ("session_id", "format", "quality")}
        status = client.create_render(
            self.session_id, draft, format=self.format, quality=self.quality, render_id=planned
        )
        if status.id != planned:
            store.save({**job, "render_id": status.id})
        self.log.info("Started render %s (%s, %s).", status.id, self.format, self.quality)
        return status

    def _defer(self, deadline: float, create: dict[str, Any] | None = None) -> None:
        from nemo_provider.triggers.nemo import NemoRenderTrigger

        assert self.render_id is not None
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
            kwargs={"facts": self._facts} if self._facts is not None else None,
            # A backstop in case no triggerer runs: the scheduler fails the task a little after the deadline.
            timeout=timedelta(seconds=max(0.0, deadline - time.time()) + max(60.0, 2 * self.poll_interval)),
        )

    def _poll(self, client: NemoClient, store: TaskAttemptStore, deadline: float) -> RenderStatus:
        from nemo_provider.client.errors import TransientErrorBudget

        assert self.render_id is not None
        errors = TransientErrorBudget(self.max_consecutive_errors)
        last_progress = -1.0
        while True:
            remaining = deadline - time.time()
            if remaining <= 0:
                if self.cancel_on_timeout:
                    self._cancel_quietly(client)
                store.clear()
                self._done = True
                raise AirflowException(
                    f"Render {self.render_id} did not finish within {self.timeout:.0f}s"
                    + ("; it was cancelled." if self.cancel_on_timeout else ".")
                )
            time.sleep(min(self.poll_interval, remaining))
            try:
                status = client.render_status(self.render_id)
                errors.reset()
            except Exception as err:
                if not errors.tolerate(err):
                    raise
                self.log.warning(
                    "Polling render %s failed (%d in a row): %s", self.render_id, errors.count, err
                )
                continue
            if status.is_terminal:
                return status
            if status.progress != last_progress:
                self.log.info("Render %s: %s, %.0f%%", status.id, status.status, status.progress)
                last_progress = status.progress

    def _finish(
        self, context: Context, client: NemoClient, store: TaskAttemptStore, status: RenderStatus
    ) -> dict[str, Any]:
        from nemo_provider.operators._destination import deliver, resolve_destination

        if status.status != "completed":
            store.clear()
            self._done = True
            reason = status.error or "no reason given"
            raise AirflowException(f"Render {status.id} {status.status}: {reason}")
        destination = resolve_destination(self.destination, status.id, self.format)
        delivered = deliver(client, status.url or status.id, destination, status.size)
        self.render_url = status.url
        if status.url:
            context["ti"].xcom_push(key=RENDER_URL_XCOM_KEY, value=status.url)
        store.clear()
        self._done = True
        self.log.info("Render %s saved to %s (%d bytes).", status.id, delivered.path, delivered.size)
        return {
            "render_id": status.id,
            "url": status.url,
            "path": delivered.path,
            "format": self.format,
            "size": delivered.size,
            "duration": status.duration,
            **self._gate_and_manifest(context, client, status, delivered.path, delivered.size),
        }

    def _gate_and_manifest(
        self, context: Context, client: NemoClient, status: RenderStatus, path: str, size: int
    ) -> dict[str, Any]:
        """``media``, ``quality`` and ``manifest`` of the result (nemo_provider/operators/_export_gate.py)."""
        from nemo_provider.operators._export_gate import finish_export

        if self._facts is None:  # this try never read the session (it resumed a render): read it once
            from nemo_provider.operators._media import session_facts

            try:
                self._facts = session_facts(client.state(self.session_id))
            except Exception as err:  # the file is delivered: a missing description must not fail it
                self.log.warning("Could not read session %s: %s", self.session_id, err)
        return finish_export(self, context, client, status, path, size, self._facts or {})

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Lineage from what this task recorded while it ran (no API call): see docs/quality.md."""
        from nemo_provider.operators._lineage import operator_lineage

        return operator_lineage(getattr(self, "_lineage", None))

    def _cancel_quietly(self, client: NemoClient | None = None) -> None:
        if not self.render_id:
            return
        try:
            if client is not None:
                client.cancel_render(self.render_id)
            else:
                with _hook(self.nemo_conn_id).get_client() as own:
                    own.cancel_render(self.render_id)
            self.log.info("Cancelled render %s.", self.render_id)
        except Exception as err:
            self.log.warning("Could not cancel render %s: %s", self.render_id, err)


class NemoPromptOperator(BaseOperator):
    """Act on free text (e.g. from a UI form) the way Nemo's own skill does.

    The text is routed with the skill's table: *export* renders the session's timeline (as
    NemoExportOperator, polling), *credits* returns the balance, *status* the timeline summary, *upload*
    uploads ``files``, anything else is sent to the agent as a message (as NemoGenerateOperator). GUI
    phrases the agent may use ("click Export") are translated to those actions first. Returns
    ``{"action": …, "result": …}``.

    :param text: the request (templated).
    :param session_id: the session to act on (templated); created when a message needs one.
    :param files: paths for an upload request (templated).
    """

    template_fields: Sequence[str] = ("text", "session_id", "files", "destination")
    ui_color = "#e8d7fb"

    def __init__(
        self,
        *,
        text: str,
        session_id: str | None = None,
        files: Sequence[str] | None = None,
        destination: str | None = None,
        export_format: str = "mp4",
        nemo_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        # Each key is also its own XCom, so DAGs can write `op.output["session_id"]`.
        kwargs.setdefault("multiple_outputs", True)
        super().__init__(**kwargs)
        self.text = text
        self.session_id = session_id
        self.files = files
        self.destination = destination
        self.export_format = export_format
        self.nemo_conn_id = nemo_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from nemo_provider.operators._routing import resolve_action

        action = resolve_action(str(self.text), has_files=bool(self.files))
        self.log.info("Routed the request to %r.", action)
        kwargs: dict[str, Any] = {"task_id": f"{self.task_id}__{action}", "nemo_conn_id": self.nemo_conn_id}
        result: Any
        if action == "credits":
            with _hook(self.nemo_conn_id).get_client() as client:
                result = _dump(client.credits())
        elif action == "state":
            with _hook(self.nemo_conn_id).get_client() as client:
                state = client.state(self._need_session())
                result = {
                    "session_id": state.session_id,
                    "timeline_summary": state.draft.summary() if state.draft is not None else None,
                }
        elif action == "export":
            op = NemoExportOperator(
                session_id=self._need_session(),
                format=self.export_format,
                destination=self.destination,
                deferrable=False,
                poll_interval=2.0,
                **kwargs,
            )
            result = op.run_in(context)
        elif action == "upload":
            if not self.files:
                raise AirflowFailException("The request asks for an upload, but no files were given.")
            result = NemoUploadOperator(session_id=self._need_session(), files=self.files, **kwargs).run_in(
                context
            )
        else:
            result = NemoGenerateOperator(prompt=self.text, session_id=self.session_id, **kwargs).run_in(
                context
            )
        return {"action": action, "result": result}

    def _need_session(self) -> str:
        if not self.session_id:
            raise AirflowFailException("This request needs session_id: it acts on an existing project.")
        return str(self.session_id)
