"""ADK Event JSON as a genuine ADK server serialises it (see shared/adk-sse): camelCase, nulls left out,
streamed text as `partial` chunks followed by a non-partial aggregate that keeps the same event id."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

AUTHOR = "nemo_agent"
CHUNK_CHARS = 24


def _actions(state_delta: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "stateDelta": state_delta or {},
        "artifactDelta": {},
        "requestedAuthConfigs": {},
        "requestedToolConfirmations": {},
    }


def new_call_id() -> str:
    return f"adk-{uuid.uuid4()}"


class EventFactory:
    """Builds the events of one invocation (one user message)."""

    def __init__(self, author: str = AUTHOR) -> None:
        self.author = author
        self.invocation_id = f"e-{uuid.uuid4()}"

    def _base(self, event_id: str | None = None, state_delta: dict[str, Any] | None = None) -> dict[str, Any]:
        return {
            "invocationId": self.invocation_id,
            "author": self.author,
            "actions": _actions(state_delta),
            "nodeInfo": {"path": f"{self.author}@1"},
            "id": event_id or str(uuid.uuid4()),
            "timestamp": time.time(),
        }

    def model_turn(
        self, text: str | None, call: dict[str, Any] | None = None, streaming: bool = False
    ) -> Iterator[dict[str, Any]]:
        """A model turn: optional text and optional function call. Streaming yields partial text chunks
        first and then the whole turn once more, non-partial, under the same id."""
        event_id = str(uuid.uuid4())
        if streaming and text:
            for i in range(0, len(text), CHUNK_CHARS):
                chunk = {
                    "content": {"parts": [{"text": text[i : i + CHUNK_CHARS]}], "role": "model"},
                    "partial": True,
                }
                yield {**chunk, **self._base(event_id)}
        parts: list[dict[str, Any]] = []
        if text:
            parts.append({"text": text})
        if call is not None:
            parts.append({"functionCall": call})
        event: dict[str, Any] = {"content": {"parts": parts, "role": "model"}}
        if streaming:
            event["partial"] = False
        event.update(self._base(event_id))
        if call is not None:
            event["longRunningToolIds"] = []
        yield event

    def function_response(
        self, call_id: str, name: str, response: dict[str, Any], state_delta: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The tool's answer: role "user", the agent as author, as ADK records it."""
        part = {"functionResponse": {"id": call_id, "name": name, "response": response}}
        return {"content": {"parts": [part], "role": "user"}, **self._base(state_delta=state_delta)}

    def empty_turn(self) -> dict[str, Any]:
        """The model's silent turn after a tool: content with no parts at all."""
        return {"content": {"parts": [], "role": "model"}, **self._base()}

    def tool_error(self, code: str, message: str) -> dict[str, Any]:
        """A failing tool: errorCode/errorMessage and no content."""
        return {"errorCode": code, "errorMessage": message, **self._base()}


def sse_data(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


def sse_error_frame(message: str, details: dict[str, Any] | None = None) -> bytes:
    """A server failure after the stream started: not an Event, snake_case, ASCII-escaped like ADK's."""
    return b"data: " + json.dumps({"error": message, "error_details": details or {}}).encode() + b"\n\n"


def sse_comment(text: str = "keep-alive") -> bytes:
    return f": {text}\n\n".encode()
