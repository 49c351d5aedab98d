"""Reading the `/run_sse` reply: ADK events and the older typed `{"type": ...}` form -> `MessageResult`.

This is a push parser with no I/O (the sync and async clients feed it the body as it arrives), built on
httpx-sse's line and event decoders. It exists as its own layer because the stream needs judgement:

* keep-alives come three ways (heartbeat events, `:` comment lines, empty `data:`), and httpx-sse's
  `EventSource` drops comments silently, so lines are inspected before decoding;
* with `streaming: true` ADK sends the text as `partial` chunks and then once more, whole, in a final
  event with the same `id`: the chunks are shown as they arrive and the final is not shown again.
  The service's own framing is unpublished, so ids are a hint, not a promise (see `_TextLog`): every
  text keeps its place in arrival order and no text is shown twice, whatever ids chunks and finals carry;
* function calls repeat like texts (same call id), and an artifact event is sent twice with one `id`
  (once content-less): whole events are de-duplicated by event id + content (never partial chunks,
  whose text may repeat: "ha", "ha");
* `errorCode: MODEL_RETURNED_NO_CONTENT` is the model's empty turn, not a failure of the work;
* an `{"error": ...}` frame is not an Event: the server failed after the stream started.

Malformed events are skipped with a warning; the only exception raised here is `NemoStreamError`
when the turn runs past its ceiling.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from httpx_sse import ServerSentEvent
from httpx_sse._decoders import SSEDecoder, SSELineDecoder

from nemo_provider.client._logging import LoggerLike
from nemo_provider.client.constants import MESSAGE_CEILING_S, STILL_WORKING_EVERY_S
from nemo_provider.client.errors import NemoStreamError
from nemo_provider.client.models import MessageResult, StreamError, ToolCall, ToolResult

_LOG = logging.getLogger("nemo_provider.client.sse")

#: ADK's code for "the model produced no content": an empty turn after tools ran, not an error.
EMPTY_TURN_CODES = frozenset({"MODEL_RETURNED_NO_CONTENT"})
_KEEPALIVE_EVENTS = frozenset({"heartbeat", "ping", "keepalive", "keep-alive", "keep_alive"})


def _canonical(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


@dataclass
class _Text:
    """One text of the reply, in the place where its first piece arrived."""

    text: str
    author: str
    eids: set[str]  # the event ids its pieces came with


class _TextLog:
    """The reply's texts in arrival order, each shown once, whatever ids partial and final events carry.

    Real ADK gives the chunks and the final aggregate of one text the same event `id`; other framings
    give each chunk its own id, or the final another id, or send no final, or none but finals, and
    several authors (sub-agents) may stream at once. So a text is *open* from its first chunk until a
    whole event of its author arrives; a chunk joins the open text with its id, else its author's.
    A final is that open text's aggregate when it has one of the text's ids, or is its author's and
    starts with what was shown; then only its unseen tail is shown (nothing, if it rewrote the chunks:
    they were shown already) and it replaces the chunks in `texts`. Any other final closes its author's
    open text and is a new text of its own. Typed `{"type": "text"}` pieces join until a non-text event.
    """

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._texts: list[_Text] = []
        self._open: dict[str, _Text] = {}  # author -> its open text
        self._typed: _Text | None = None

    def partial(self, eid: str, author: str, chunk: str) -> None:
        slot = self._open_with(eid) or self._open.get(author)
        if slot is None:
            slot = self._open[author] = self._new(author)
        slot.eids.add(eid)
        slot.text += chunk
        self._emit(chunk)

    def final(self, eid: str, author: str, text: str) -> None:
        slot = self._open_with(eid)
        if slot is None:
            own = self._open.get(author)
            if own is not None and text.startswith(own.text):
                slot = own
        self.close(author)
        if slot is None:
            self._new(author).text = text
            self._emit(text)
            return
        self._open.pop(slot.author, None)
        if text.startswith(slot.text):
            self._emit(text[len(slot.text) :])
        slot.text = text

    def close(self, author: str) -> None:
        """A whole event of `author` arrived: its open text, if any, got no aggregate and stays as is."""
        self._open.pop(author, None)

    def typed(self, chunk: str) -> None:
        if self._typed is None:
            self._typed = self._new("")
        self._typed.text += chunk
        self._emit(chunk)

    def end_typed(self) -> None:
        self._typed = None

    def texts(self) -> list[str]:
        return [t.text for t in self._texts if t.text]

    def _open_with(self, eid: str) -> _Text | None:
        return next((t for t in self._open.values() if eid and eid in t.eids), None)

    def _new(self, author: str) -> _Text:
        slot = _Text("", author, set())
        self._texts.append(slot)
        return slot


class MessageAccumulator:
    """Feed it decoded text as it arrives; `finish()` returns the `MessageResult`."""

    def __init__(
        self,
        *,
        on_text: Callable[[str], None] | None = None,
        on_progress: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        started: float | None = None,
        timeout: float = MESSAGE_CEILING_S,
        logger: LoggerLike | None = None,
    ) -> None:
        self._on_text = on_text
        self._on_progress = on_progress
        self._clock = clock
        self._started = clock() if started is None else started
        self._deadline = self._started + timeout
        self._timeout = timeout
        self._log: LoggerLike = logger or _LOG
        self._lines = SSELineDecoder()
        self._events = SSEDecoder()
        self._last_signal = self._started
        self.keepalives = 0
        self.events = 0
        self._texts = _TextLog(self._emit)
        self._tool_calls: list[ToolCall] = []
        self._tool_results: list[ToolResult] = []
        self._errors: list[StreamError] = []
        self._seen: set[str] = set()

    # -- input ------------------------------------------------------------------------------------
    def feed_text(self, text: str) -> None:
        """Feed the next decoded piece of the body (any split, even mid-line)."""
        if text:
            for line in self._lines.decode(text):
                self._line(line)
        self._check_deadline()

    def finish(self, session_id: str | None = None) -> MessageResult:
        """The stream closed (there is no "done" event in ADK): flush and build the result."""
        for line in self._lines.flush():
            self._line(line)
        self._line("")  # dispatch an event left without its blank line
        return MessageResult(
            texts=self._texts.texts(),
            tool_calls=list(self._tool_calls),
            tool_results=list(self._tool_results),
            errors=list(self._errors),
            elapsed=self._clock() - self._started,
            session_id=session_id,
        )

    # -- internals --------------------------------------------------------------------------------
    def _check_deadline(self) -> None:
        if self._clock() > self._deadline:
            raise NemoStreamError(
                f"No end of the reply after {self._timeout:.0f} s (the ceiling for one message).",
                code="timeout",
            )

    def _line(self, line: str) -> None:
        line = line.rstrip("\n")
        if line.startswith(":"):
            self._keepalive()
            return
        sse = self._events.decode(line)
        if sse is not None:
            self._dispatch(sse)

    def _keepalive(self) -> None:
        self.keepalives += 1
        now = self._clock()
        if now - self._last_signal >= STILL_WORKING_EVERY_S:
            self._last_signal = now
            minutes = (now - self._started) / 60.0
            note = f"Still working... ({minutes:.0f} min so far)"
            if self._on_progress is not None:
                self._on_progress(note)
            else:
                self._log.info("%s", note)

    def _emit(self, text: str) -> None:
        if not text:
            return
        self._last_signal = self._clock()
        if self._on_text is not None:
            self._on_text(text)

    def _dispatch(self, sse: ServerSentEvent) -> None:
        self.events += 1
        if sse.event.strip().lower() in _KEEPALIVE_EVENTS or not sse.data.strip():
            self._keepalive()
            return
        try:
            payload = json.loads(sse.data)
        except ValueError:
            self._log.warning("Skipped an event that is not JSON (%d bytes).", len(sse.data))
            return
        if not isinstance(payload, dict):
            self._log.warning("Skipped an event that is not a JSON object.")
            return
        try:
            if isinstance(payload.get("type"), str) and "invocationId" not in payload:
                self._typed(payload)
            elif "error" in payload and "invocationId" not in payload and "content" not in payload:
                self._error_frame(payload)
            else:
                self._adk(payload)
        except (TypeError, ValueError, AttributeError, KeyError) as exc:  # defensive: never crash the turn
            self._log.warning("Skipped a malformed event: %s", type(exc).__name__)

    # ADK Event ------------------------------------------------------------------------------------
    def _adk(self, event: dict[str, Any]) -> None:
        eid = str(event.get("id") or "")
        content = event.get("content") if isinstance(event.get("content"), dict) else None
        partial = event.get("partial") is True
        if not partial:
            key = f"{eid}|{_canonical(content)}|{event.get('errorCode')}"
            if eid and key in self._seen:
                return  # the same whole event sent twice (e.g. the artifact event)
            self._seen.add(key)
        author = str(event.get("author") or "")
        texts: list[str] = []
        if content is not None:
            parts = content.get("parts") if isinstance(content.get("parts"), list) else []
            for part in parts:
                if not isinstance(part, dict):
                    continue
                if isinstance(part.get("text"), str) and not part.get("thought"):
                    texts.append(part["text"])
                call = part.get("functionCall") or part.get("function_call")
                if isinstance(call, dict):
                    self._tool_call(eid, call)
                response = part.get("functionResponse") or part.get("function_response")
                if isinstance(response, dict):
                    self._tool_result(eid, response)
        text = "".join(texts) if content is not None and content.get("role") != "user" else ""
        if partial:
            if text:
                self._texts.partial(eid, author, text)
        elif text:
            self._texts.final(eid, author, text)
        else:
            self._texts.close(author)
        code = event.get("errorCode") or event.get("error_code")
        if code:
            self._adk_error(eid, str(code), event.get("errorMessage") or event.get("error_message"))

    def _tool_call(self, eid: str, call: dict[str, Any]) -> None:
        key = "call|" + (
            str(call["id"]) if call.get("id") else f"{eid}|{call.get('name')}|{_canonical(call.get('args'))}"
        )
        if key in self._seen:
            return
        self._seen.add(key)
        tool = ToolCall(
            id=str(call["id"]) if call.get("id") else None,
            name=str(call.get("name")) if call.get("name") is not None else None,
            args=call.get("args"),
        )
        self._tool_calls.append(tool)
        self._log.debug("Agent tool call: %s", tool.name)

    def _tool_result(self, eid: str, response: dict[str, Any]) -> None:
        key = "result|" + (str(response["id"]) if response.get("id") else f"{eid}|{response.get('name')}")
        if key in self._seen:
            return
        self._seen.add(key)
        result = ToolResult(
            id=str(response["id"]) if response.get("id") else None,
            name=str(response.get("name")) if response.get("name") is not None else None,
            response=response.get("response"),
        )
        self._tool_results.append(result)
        self._log.debug("Agent tool result: %s", result.name)

    def _adk_error(self, eid: str, code: str, message: Any) -> None:
        key = f"error|{eid}|{code}"
        if key in self._seen:
            return
        self._seen.add(key)
        if code in EMPTY_TURN_CODES:
            self._log.debug("The model ended its turn without content (%s).", code)
            return
        error = StreamError(code=code, message=str(message) if message else None)
        self._errors.append(error)
        self._log.warning("The agent reported %s%s", code, f": {message}" if message else "")

    def _error_frame(self, payload: dict[str, Any]) -> None:
        err = payload.get("error")
        message = err.get("message") if isinstance(err, dict) else err
        self._errors.append(
            StreamError(
                code=str(payload.get("code") or "server_error"),
                message=str(message) if message is not None else None,
                details=payload.get("error_details"),
            )
        )
        self._log.warning("The server reported an error in the stream: %s", message)

    # typed form -----------------------------------------------------------------------------------
    def _typed(self, payload: dict[str, Any]) -> None:
        kind = str(payload.get("type", "")).lower()
        if kind in _KEEPALIVE_EVENTS:
            self._keepalive()
            return
        if kind == "text":
            text = payload.get("content", payload.get("text"))
            if isinstance(text, str):
                self._texts.typed(text)
            return
        self._texts.end_typed()
        if kind == "tool_call":
            self._tool_calls.append(
                ToolCall(
                    id=_opt_str(payload.get("id")),
                    name=_opt_str(payload.get("name")),
                    args=payload.get("args"),
                )
            )
        elif kind == "tool_result":
            self._tool_results.append(
                ToolResult(
                    id=_opt_str(payload.get("id")),
                    name=_opt_str(payload.get("name")),
                    response=payload.get("result", payload.get("response")),
                )
            )
        elif kind == "error":
            message = payload.get("message", payload.get("error", payload.get("content")))
            self._errors.append(
                StreamError(
                    code=_opt_str(payload.get("code")) or "error",
                    message=str(message) if message is not None else None,
                    details=payload.get("details"),
                )
            )
        else:
            self._log.debug("Ignored a typed event of type %r.", kind)


def _opt_str(value: Any) -> str | None:
    return str(value) if value is not None else None


def parse_stream(
    body: bytes | str,
    *,
    on_text: Callable[[str], None] | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> MessageResult:
    """Parse a whole recorded body at once (tests, replays)."""
    acc = MessageAccumulator(on_text=on_text, on_progress=on_progress)
    acc.feed_text(body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body)
    return acc.finish()
