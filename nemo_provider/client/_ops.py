"""What a flow and its runner exchange: the request a flow describes and the operations it yields.

A flow (``_flows``, ``_message``) is a generator that yields one of these operations and receives its
result; the one drive loop (``_drive``) hands each to a runner's performer (httpx sync or async,
aiohttp) and sends the result back. The flows do no I/O, so every rule lives in them exactly once:

* ``Send(spec)`` -> ``RawResponse``: one HTTP exchange; a network failure is thrown into the flow as
  ``NemoConnectionError``;
* ``Sleep(seconds, why)`` -> None: a wait the server asked for (429 Retry-After);
* ``Backoff(name, attempt)`` -> bool: "attempt ``attempt`` failed transiently; may I repeat it?"
  The drive loop answers from its ``RetryPolicy`` (and sleeps the backoff delay before saying yes);
* ``Drain(handle, on_bytes, deadline)`` -> the exception that ended the body early, or None;
* ``Save(handle, dest, name)`` -> ``DownloadResult``: the runner writes an open body to a file;
* ``Stat(path)`` -> the size of a local file in bytes (an upload is checked before it is sent).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from nemo_provider.client.errors import NemoStreamError

T = TypeVar("T")


@dataclass(frozen=True)
class FilePart:
    """A multipart file the runner opens (per attempt) and streams from disk."""

    field: str
    path: Path
    filename: str
    content_type: str


@dataclass(frozen=True)
class RequestSpec:
    """One HTTP request, described; the runner adds headers and performs it."""

    name: str
    method: str
    path: str  # a path on the API, or an absolute URL (downloads)
    json: Any = None
    files: tuple[FilePart, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    authenticated: bool = True
    idempotent: bool = False  # see errors.may_repeat: only these are repeated after a network error or 5xx
    stream: bool = False
    session_bound: bool = False  # a bare 404 means "session not found"
    session_id: str | None = None
    read_timeout: float | None = None
    raw_body: bool = False  # success bodies are not envelopes (file downloads)
    foreign: bool = False  # not the API (a CDN): its statuses are not Nemo error codes


@dataclass
class RawResponse:
    """What the runner got back. For a successful streamed request `handle` is the open response."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""
    handle: Any = None


@dataclass(frozen=True)
class Send:
    spec: RequestSpec


@dataclass(frozen=True)
class Sleep:
    """Wait ``seconds`` because the server said so; ``why`` is logged by the drive loop."""

    seconds: float
    why: str = field(default="", compare=False)


@dataclass(frozen=True)
class Backoff:
    """Attempt number ``attempt`` (1-based) of request ``name`` failed in a way that may pass.

    The flow has already decided that the request may be repeated (``errors.may_repeat``); how often
    and how long to wait is the runner's ``RetryPolicy``, stated once in ``_retry``.
    """

    name: str
    attempt: int


@dataclass(frozen=True)
class Drain:
    """Feed an open streamed body to `on_bytes` until it ends; the runner closes the handle.

    `deadline` (time.monotonic) lets a runner that can cancel reads (async) enforce it exactly; the
    sync runner relies on the read timeout and on `on_bytes` checking the clock.
    """

    handle: Any
    on_bytes: Callable[[bytes], None]
    deadline: float | None = None


def deadline_passed() -> NemoStreamError:
    """What a runner's ``Drain`` returns when the body did not end by ``deadline``."""
    return NemoStreamError("No end of the reply within the ceiling.", code="timeout")


@dataclass(frozen=True)
class Save:
    """Write an open streamed body to ``dest`` (a file, or an existing directory to put ``name`` in).

    The runner writes ``<file>.part`` and renames it when the body ended, so a broken download never
    leaves a file that looks complete; it closes the handle and returns the ``DownloadResult``.
    """

    handle: Any
    dest: Path
    name: str


@dataclass(frozen=True)
class Stat:
    """The size of the local file ``path``, in bytes; ``FileNotFoundError`` (naming it) if there is none."""

    path: Path


Op = Send | Sleep | Backoff | Drain | Save | Stat
Flow = Generator[Op, Any, T]
