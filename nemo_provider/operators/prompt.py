"""NemoPromptOperator: free text routed to the work of the other operators (their modules, not their classes)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from nemo_provider._compat import AirflowFailException
from nemo_provider.operators._export import ExportSpec
from nemo_provider.operators._hook import DEFAULT_CONN_ID, hook_for

if TYPE_CHECKING:
    from airflow.sdk import Context


class NemoPromptOperator(BaseOperator):
    """Act on free text (e.g. from a UI form) the way Nemo's own skill does.

    The text is routed with the skill's table: *export* renders the session's timeline (as
    NemoExportOperator, polling every ``poll_interval`` seconds), *credits* returns the balance, *status*
    the timeline summary, *upload* uploads ``files``, anything else is sent to the agent as a message (as
    NemoGenerateOperator, with its defaults). GUI phrases the agent may use ("click Export") are translated
    to those actions first. Returns ``{"action": …, "result": …}``.

    :param text: the request (templated).
    :param session_id: the session to act on (templated); created when a message needs one.
    :param files: paths for an upload request (templated).
    :param poll_interval: seconds between render status reads of an export.
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
        export_format: str = ExportSpec.format,
        poll_interval: float = 2.0,
        nemo_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("multiple_outputs", True)  # "action" and "result" are also XComs of their own
        super().__init__(**kwargs)
        self.text = text
        self.session_id = session_id
        self.files = files
        self.destination = destination
        self.export_format = export_format
        self.poll_interval = float(poll_interval)
        self.nemo_conn_id = nemo_conn_id

    def execute(self, context: Context) -> dict[str, Any]:
        from nemo_provider.operators._routing import resolve_action

        action = resolve_action(str(self.text), has_files=bool(self.files))
        self.log.info("Routed the request to %r.", action)
        if action == "export":
            spec = ExportSpec(session_id=self._need_session(), format=self.export_format,
                              destination=self.destination, poll_interval=self.poll_interval)  # fmt: skip
            from nemo_provider.operators._export import export_with

            return {"action": action, "result": export_with(hook_for(self.nemo_conn_id), self, context, spec)}
        if action == "upload" and not self.files:
            raise AirflowFailException("The request asks for an upload, but no files were given.")
        result: Any
        hook = hook_for(self.nemo_conn_id)
        with hook.get_client() as client:
            if action == "credits":
                result = client.credits().model_dump(mode="json")
            elif action == "state":
                state = client.state(self._need_session())
                summary = state.draft.summary() if state.draft is not None else None
                result = {"session_id": state.session_id, "timeline_summary": summary}
            elif action == "upload":
                from nemo_provider.operators._upload import upload_files

                files = [str(f) for f in self.files or []]
                result, _lineage = upload_files(client, self._need_session(), files, [], self.log)
            else:
                from nemo_provider.operators._generate import MessageOptions, generate

                result = generate(
                    context, hook, client, self.log, str(self.text), self.session_id, MessageOptions()
                )
            hook.register_acquired_token(client)
        return {"action": action, "result": result}

    def _need_session(self) -> str:
        if not self.session_id:
            raise AirflowFailException("This request needs session_id: it acts on an existing project.")
        return str(self.session_id)
