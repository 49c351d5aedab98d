"""Pydantic models of what the Nemo API returns, normalised where the service has used several shapes.

Every model tolerates extra fields (the real service adds fields without notice) and numbers where
strings are expected (session ids are ~19-digit numeric strings that a JSON producer may send as
numbers). Tokens are `SecretStr` so no repr, log or dump shows them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from nemo_provider.client.draft import Draft


class WireModel(BaseModel):
    """Base for wire models: unknown fields are kept, ids may arrive as numbers."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, coerce_numbers_to_str=True)


class AnonymousToken(WireModel):
    token: SecretStr
    user_id: str | None = None
    expires_at: str | int | float | None = None
    credits: int | float | None = None


class SessionInfo(WireModel):
    task_id: str | None = None
    session_id: str
    user_id: str | None = None


class UploadedFile(WireModel):
    filename: str | None = None
    file_type: str | None = None
    cdn_url: str | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    hash: str | None = None


class UploadResult(WireModel):
    files: list[UploadedFile] = Field(default_factory=list)
    session_state_applied: bool = False
    #: The session the files went to: differs from the one asked for if it had to be re-created (1002).
    session_id: str | None = None


class Credits(WireModel):
    available: float = 0.0
    frozen: float = 0.0
    total: float = 0.0


class GeneratedMedia(WireModel):
    id: str | None = None
    kind: str | None = None
    url: str | None = None
    duration_ms: float | None = None
    title: str | None = None
    prompt: str | None = None
    bpm: float | None = None
    key: str | None = None
    mood: str | None = None
    seed: int | None = None
    lufs: float | None = None


class SessionState(WireModel):
    session_id: str | None = None
    task_id: str | None = None
    task_name: str | None = None
    draft: Draft | None = None
    video_infos: list[dict[str, Any]] = Field(default_factory=list)
    generated_media: list[GeneratedMedia] = Field(default_factory=list)
    canvas_config: dict[str, Any] | None = None

    @field_validator("draft", mode="before")
    @classmethod
    def _draft_from_wire(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return None
        if isinstance(value, dict):
            return Draft.from_wire(value)
        return value if isinstance(value, Draft) else None

    @field_validator("video_infos", "generated_media", mode="before")
    @classmethod
    def _list_or_empty(cls, value: Any) -> Any:
        if value is None:
            return []
        return [v for v in value if isinstance(v, dict | BaseModel)] if isinstance(value, list) else []

    @field_validator("canvas_config", mode="before")
    @classmethod
    def _dict_or_none(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else None

    @classmethod
    def from_api(cls, data: Any) -> SessionState:
        """`data` is `{session_id, task_id, task_name, state: {draft, video_infos, ...}}`."""
        if not isinstance(data, dict):
            return cls()
        merged = {k: v for k, v in data.items() if k != "state"}
        state = data.get("state")
        if isinstance(state, dict):
            merged.update(state)
        return cls.model_validate(merged)


def check_before(session_id: str, before: object) -> None:
    """``before`` as ``send_message(before=...)`` takes it: the state ``state(session_id)`` returned.

    A state of another session, or one naming none (built by hand, or read some other way), would make
    the silent-turn check compare the wrong drafts; ValueError, before anything is sent. The one rule
    for callers that must check before they record that a message is going out (the message-once rule).
    Read by its ``session_id`` only, so a stand-in client's state that names its session passes.
    """
    named = getattr(before, "session_id", None)
    if named != session_id:
        held = f"the state of session {named}" if named else "a state naming no session"
        raise ValueError(
            f"send_message(before=...) holds {held}, not of session {session_id}: pass the state "
            f"state({session_id!r}) returned, or leave before out to let the client read it."
        )


RenderState = Literal["pending", "processing", "completed", "failed", "cancelled"]

_STATUS_ALIASES: dict[str, RenderState] = {
    "pending": "pending",
    "queued": "pending",
    "waiting": "pending",
    "created": "pending",
    "processing": "processing",
    "running": "processing",
    "rendering": "processing",
    "in_progress": "processing",
    "started": "processing",
    "completed": "completed",
    "complete": "completed",
    "done": "completed",
    "success": "completed",
    "succeeded": "completed",
    "finished": "completed",
    "failed": "failed",
    "failure": "failed",
    "error": "failed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}


def _num(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


class RenderStatus(WireModel):
    id: str
    status: RenderState = "pending"
    progress: float = 0.0
    url: str | None = None
    size: int | None = None
    duration: float | None = None
    error: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in ("completed", "failed", "cancelled")

    @classmethod
    def from_api(cls, data: Any, fallback_id: str) -> RenderStatus:
        """Read shape A (`{taskId, status, progress, output: {url, duration, size}, error}`) or
        shape B (`{id, status, progress, outputUrl, createdAt, completedAt}`, already unwrapped from
        `{success, data}`) into one model. Unknown statuses count as "processing" so pollers go on."""
        d: dict[str, Any] = data if isinstance(data, dict) else {}
        output = d.get("output") if isinstance(d.get("output"), dict) else {}
        assert isinstance(output, dict)
        raw_status = str(d.get("status") or "pending").strip().lower()
        status = _STATUS_ALIASES.get(raw_status, "processing")
        url = output.get("url") or d.get("outputUrl") or d.get("output_url") or d.get("url")
        size = _num(output.get("size", d.get("size")))
        duration = _num(output.get("duration", d.get("duration")))
        error = d.get("error")
        if isinstance(error, dict):
            error = error.get("message") or json.dumps(error)
        progress = _num(d.get("progress"))
        if progress is None:
            progress = 100.0 if status == "completed" else 0.0
        rid = d.get("id") or d.get("taskId") or d.get("task_id") or fallback_id
        extras = {
            k: v
            for k, v in d.items()
            if k
            not in {"id", "taskId", "status", "progress", "output", "outputUrl", "url", "size", "duration"}
            and k not in {"error"}
        }
        return cls(
            id=str(rid),
            status=status,
            progress=max(0.0, min(100.0, progress)),
            url=str(url) if url else None,
            size=int(size) if size is not None else None,
            duration=duration,
            error=str(error) if error not in (None, "") else None,
            **extras,
        )


class ToolCall(BaseModel):
    id: str | None = None
    name: str | None = None
    args: Any = None


class ToolResult(BaseModel):
    id: str | None = None
    name: str | None = None
    response: Any = None


class StreamError(BaseModel):
    """An error reported inside the stream: an ADK `errorCode` event or an `{"error": ...}` frame."""

    code: str | None = None
    message: str | None = None
    details: Any = None


class MessageResult(BaseModel):
    texts: list[str] = Field(default_factory=list)
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_results: list[ToolResult] = Field(default_factory=list)
    errors: list[StreamError] = Field(default_factory=list)
    #: Set when the turn ended without text: the timeline read afterwards, as one line.
    timeline_summary: str | None = None
    #: Whether the draft differs from the one read before sending (None: not checked / unknown).
    draft_changed: bool | None = None
    elapsed: float = 0.0
    session_id: str | None = None

    @property
    def text(self) -> str:
        return "\n\n".join(t for t in self.texts if t)


class DownloadResult(BaseModel):
    path: Path
    size: int
