"""The chat message flow: one ``/run_sse`` turn, read as it streams, never sent twice.

The state is read before sending (unless the caller hands in the state it has just read) so a silent
turn (no text at all, ~30 % of edits) can still be reported; a stream that breaks is reported with what
arrived and the timeline read afterwards.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from typing import Any

from nemo_provider.client._call import call
from nemo_provider.client._core import ClientCore
from nemo_provider.client._flows import state
from nemo_provider.client._logging import LoggerLike
from nemo_provider.client._ops import Drain, Flow, RawResponse, RequestSpec
from nemo_provider.client.constants import MESSAGE_CEILING_S
from nemo_provider.client.errors import NemoError, NemoStreamError
from nemo_provider.client.models import MessageResult, SessionState, check_before
from nemo_provider.client.sse import MessageAccumulator

#: How much longer than the message ceiling a single socket read may block before httpx gives up.
READ_TIMEOUT_GRACE_S = 5.0


def open_message_stream(
    core: ClientCore, session_id: str, text: str, *, streaming: bool, read_timeout: float
) -> Flow[RawResponse]:
    spec = RequestSpec(
        name="run_sse",
        method="POST",
        path="/run_sse",
        json={
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": session_id,
            "new_message": {"role": "user", "parts": [{"text": text}]},
            "streaming": streaming,
        },
        headers={"Accept": "text/event-stream", "Cache-Control": "no-store"},
        stream=True,
        session_bound=True,
        session_id=session_id,
        idempotent=False,
        read_timeout=read_timeout,
    )
    raw = yield from call(core, spec)
    assert isinstance(raw, RawResponse)
    return raw


def _draft_wire(s: SessionState | None) -> dict[str, Any] | None:
    return s.draft.to_wire() if s is not None and s.draft is not None else None


def send_message(
    core: ClientCore,
    session_id: str,
    text: str,
    *,
    on_text: Callable[[str], None] | None = None,
    on_progress: Callable[[str], None] | None = None,
    streaming: bool = True,
    timeout: float = MESSAGE_CEILING_S,
    logger: LoggerLike | None = None,
    before: SessionState | None = None,
) -> Flow[MessageResult]:
    """Send one message and read the reply; never sends it twice.

    The state is read before sending so a silent turn (no text at all, ~30 % of edits) can still be
    reported: the state is read again and the draft compared. ``before`` is that state when the caller
    has just read it (an operator reads it anyway, for its own record): then it is not read twice. A
    stream that breaks is reported as a `NemoStreamError` carrying what arrived and the timeline read
    afterwards.
    """
    started = core.clock()
    if before is None:
        before = yield from state(core, session_id)  # also: 1002 surfaces here, before anything is sent
    else:
        check_before(session_id, before)
    # The ceiling is enforced by the runners (a watchdog / a cancel scope); the read timeout is a backstop.
    raw = yield from open_message_stream(
        core, session_id, text, streaming=streaming, read_timeout=timeout + READ_TIMEOUT_GRACE_S
    )
    acc = MessageAccumulator(
        on_text=on_text,
        on_progress=on_progress,
        clock=core.clock,
        started=started,
        timeout=timeout,
        logger=logger,
    )
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def on_bytes(chunk: bytes) -> None:
        acc.feed_text(decoder.decode(chunk))

    broke: BaseException | None = yield Drain(raw.handle, on_bytes, deadline=started + timeout)
    if broke is None:
        acc.feed_text(decoder.decode(b"", final=True))
    result = acc.finish(session_id=session_id)
    if broke is not None or not result.texts:
        try:
            after: SessionState | None = yield from state(core, session_id)
        except NemoError:
            after = None
        if after is not None:
            before_wire, after_wire = _draft_wire(before), _draft_wire(after)
            result.draft_changed = before_wire != after_wire
            result.timeline_summary = (
                after.draft.summary() if after.draft is not None else "Timeline (0 tracks): empty"
            )
            if broke is None and on_progress is not None:
                what = "The timeline changed" if result.draft_changed else "The timeline did not change"
                on_progress(f"The agent answered without text. {what}: {result.timeline_summary}")
    result.elapsed = core.clock() - started
    if broke is not None:
        reason = "timed out" if isinstance(broke, NemoStreamError) else f"broke ({type(broke).__name__})"
        summary = f" Timeline now: {result.timeline_summary}" if result.timeline_summary else ""
        raise NemoStreamError(
            f"The reply stream {reason} after {result.elapsed:.0f} s. The message was NOT re-sent (a repeat "
            f"is charged twice); check the session before sending again.{summary}",
            partial=result,
        )
    return result
