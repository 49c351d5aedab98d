"""Send one message to the agent at most once across a task's tries (NemoGenerateOperator's rule).

A message the service accepted is charged, and the agent works on it even if the stream breaks, so a
retry must not send it again. The transitions (docs/retries-timeouts-cancellation.md):

* **fresh**: read the session once (media ids, draft hash) and the balance once, record that with the
  prompt's hash, send (handing the client that read, so it does not read the session again), read the
  session and the balance once more for the result, erase the record;
* **refused**: the send failed with an error that proves the service never took it
  (``refused_before_accept``): erase the record, so the retry sends normally;
* **recover**: a retry finds a record for the same prompt and does not send; it reads the session every
  ``poll_interval`` seconds until new media or a changed draft shows the message was accepted (that read
  is the result's), for at most ``settle_timeout``; then it fails (``NotResending``), or sends anew when
  ``resend_unconfirmed``.

No Airflow operator is needed: the client, the record store and the log are passed in (unit tests use
fakes of all three), and the clock and sleep can be replaced.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nemo_provider._compat import AirflowFailException
from nemo_provider.operators._attempts import RecordStore


class NotResending(AirflowFailException):
    """A previous try may have had this message accepted and its effect is not visible: not sent again."""


def prompt_sha(prompt: str) -> str:
    return hashlib.sha256(str(prompt).encode()).hexdigest()


def draft_sha(draft: Any) -> str | None:
    """A hash of the draft's wire form: "did the timeline change" without keeping the timeline."""
    if draft is None:
        return None
    wire = draft.to_wire() if hasattr(draft, "to_wire") else draft
    return hashlib.sha256(json.dumps(wire, sort_keys=True, default=str).encode()).hexdigest()


def _dump(models: list[Any]) -> list[Any]:
    return [m.model_dump(mode="json") if hasattr(m, "model_dump") else m for m in models]


@dataclass
class MessageOnce:
    """One message's journey through one try. ``run`` is the whole machine; the steps are public for tests."""

    client: Any
    store: RecordStore
    log: logging.Logger | Any
    settle_timeout: float = 60.0
    poll_interval: float = 5.0
    resend_unconfirmed: bool = False
    #: replaceable in tests (None: ``time.monotonic`` / ``time.sleep``, looked up when called)
    clock: Callable[[], float] | None = None
    sleep: Callable[[float], None] | None = None

    def _now(self) -> float:
        return (self.clock or time.monotonic)()

    def _sleep(self, seconds: float) -> None:
        (self.sleep or time.sleep)(seconds)

    def run(
        self,
        prompt: str,
        session_id: str | None,
        *,
        open_session: Callable[[], str],
        send: Callable[[str, Any], Any],
    ) -> dict[str, Any]:
        """The result dict of NemoGenerateOperator; ``send(session_id, before)`` sends the message (and
        logs it), ``before`` being the session's state read for the record just now."""
        sha = prompt_sha(prompt)
        record = self.store.load()
        if record and record.get("prompt_sha") == sha:
            recovered = self.recover(record)
            if recovered is not None:
                self.store.clear()
                return recovered
        elif record:
            self.log.info("Ignoring a record for a different prompt from try %s.", record.get("try_number"))
        session_id = session_id or open_session()
        before = self.client.state(session_id)
        from nemo_provider.client.models import check_before

        check_before(session_id, before)  # a ValueError here, not in send(): no record is left behind
        baseline = self.baseline(session_id, sha, before)
        self.store.save(baseline)  # before sending: a crash from here on must not lead to a second send
        try:
            message = send(session_id, before)
        except Exception as err:
            from nemo_provider.client.errors import refused_before_accept

            if refused_before_accept(err):
                self.store.clear()  # the service refused it: a retry may send again
            raise
        result = self.outcome(baseline, message)
        self.store.clear()
        return result

    def baseline(self, session_id: str, sha: str, state: Any) -> dict[str, Any]:
        """The record kept while the message is out: what the session looked like before it (``state``,
        the read ``run`` made and hands to the client too)."""
        return {
            "session_id": session_id,
            "prompt_sha": sha,
            "media_ids": [m.id for m in state.generated_media],
            "draft_sha": draft_sha(state.draft),
            "credits_before": self._available(),
        }

    def outcome(self, record: dict[str, Any], message: Any = None, state: Any = None) -> dict[str, Any]:
        """The result from the record and the session after the message (read here unless given)."""
        session_id = record["session_id"]  # the client never re-creates a session for a message
        if state is None:
            state = self.client.state(session_id)
        before = set(record.get("media_ids") or [])
        new_media = [m for m in state.generated_media if m.id not in before]
        draft_changed = draft_sha(state.draft) != record.get("draft_sha")
        if message is not None and message.draft_changed is not None:
            draft_changed = bool(message.draft_changed)
        summary = message.timeline_summary if message is not None else None
        if summary is None and state.draft is not None:
            summary = state.draft.summary()
        after = self._available()
        before_credits = record.get("credits_before")
        return {
            "session_id": session_id,
            "texts": list(message.texts) if message is not None else [],
            "tool_calls": _dump(list(message.tool_calls)) if message is not None else [],
            "generated_media": _dump(new_media),
            "timeline_summary": summary,
            "draft_changed": draft_changed,
            "credits_spent": before_credits - after
            if before_credits is not None and after is not None
            else None,
        }

    def recover(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """A previous try sent this message: its result from the session, None to send again, or fail."""
        self.log.info(
            "Try %s already sent this message to session %s; reading the session instead of re-sending.",
            record.get("try_number"),
            record.get("session_id"),
        )
        known = set(record.get("media_ids") or [])
        deadline = self._now() + self.settle_timeout
        while True:
            state = self.client.state(record["session_id"])
            new_media = any(m.id not in known for m in state.generated_media)
            if new_media or draft_sha(state.draft) != record.get("draft_sha"):
                self.log.info("The previous try's message was accepted; returning its result.")
                return self.outcome(record, state=state)
            remaining = deadline - self._now()
            if remaining <= 0:
                break
            self._sleep(min(self.poll_interval, remaining))
        if self.resend_unconfirmed:
            self.log.warning("No effect of the previous try's message is visible; re-sending as asked.")
            return None
        raise NotResending(
            "A previous try sent this message and the service may have accepted it, but the session shows "
            f"no change after {self.settle_timeout:.0f}s. Not re-sending: a repeated message is charged "
            "twice. Clear the task after checking the session, or set resend_unconfirmed=True."
        )

    def _available(self) -> float | None:
        """The balance, or None when it cannot be read (then ``credits_spent`` is None, nothing fails)."""
        try:
            available: float = self.client.credits().available
            return available
        except Exception as err:
            self.log.info("Could not read the credit balance: %s", err)
            return None
