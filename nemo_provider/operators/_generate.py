"""One message from an operator: a session when none is given, the agent's text in the log, sent once.

NemoGenerateOperator and NemoPromptOperator's message action both run this; the at-most-once rule
itself is ``_message_once``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context

    from nemo_provider.client import NemoClient
    from nemo_provider.hooks.nemo import NemoHook


@dataclass(frozen=True)
class MessageOptions:
    """How one message is sent (NemoGenerateOperator's parameters; the defaults are the operator's)."""

    task_name: str = "project"
    language: str | None = None
    message_timeout: float = 900.0
    settle_timeout: float = 60.0
    settle_poll_interval: float = 5.0
    resend_unconfirmed: bool = False


def generate(
    context: Context, hook: NemoHook, client: NemoClient, log: Any, prompt: str, session_id: str | None,
    options: MessageOptions,
) -> dict[str, Any]:  # fmt: skip
    """One message, sent at most once across tries (``_message_once``), with the agent's text logged."""
    from nemo_provider.operators._agent_log import AgentLog
    from nemo_provider.operators._attempts import TaskAttemptStore
    from nemo_provider.operators._message_once import MessageOnce

    def open_session() -> str:
        created = client.create_session(task_name=options.task_name, language=options.language).session_id
        log.info("Created Nemo session %s.", created)
        return created

    def send(sid: str, before: Any) -> Any:
        hook.register_acquired_token(client)
        log.info("Sending the message to session %s.", sid)
        agent_log = AgentLog(log)  # whole sentences in Airflow's words, not 24-character fragments
        try:
            result = client.send_message(
                sid,
                prompt,
                on_text=agent_log.feed,
                on_progress=lambda note: log.info("%s", note),
                timeout=options.message_timeout,
                before=before,  # the state the record was made from: not read a second time
            )
        finally:
            agent_log.close()
        for error in result.errors:
            log.warning("The agent reported an error: %s", getattr(error, "message", error))
        return result

    machine = MessageOnce(
        client,
        TaskAttemptStore(context, "message"),
        log,
        settle_timeout=options.settle_timeout,
        poll_interval=options.settle_poll_interval,
        resend_unconfirmed=options.resend_unconfirmed,
    )
    return machine.run(prompt, session_id, open_session=open_session, send=send)
