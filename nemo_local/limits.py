"""Every limit of the server, in one place: its default, its switch (CLI flag and environment variable)
and the error a request that crosses it gets. Nothing else in nemo_local restates a limit; the API, the
ingest code, the agent and the renderer import them from here.

`nemo-local serve` builds one `Limits` from its flags (`add_arguments` / `from_args`); the flags take their
defaults from the environment, so `NEMO_LOCAL_MAX_SEGMENTS=50 nemo-local serve` works as well as
`--max-segments 50`. Library code that runs without a server (the renderer from a test) uses
`Limits.from_env()`. docs/local-backend.md ("Limits") lists them all; `limits_table()` prints that table.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MB = 1024 * 1024
BODY_PROGRESS_BYTES = 16 * 1024  # what each body_idle_seconds interval must bring (a drip is not progress)


@dataclass(frozen=True)
class Spec:
    """One limit: the attribute on Limits, its default in the unit users type, its switch and meaning."""

    name: str
    default: float
    unit: str  # what a user types: "MB", "KB", "count", "s", "chars", "megapixels"
    flag: str
    help: str
    scale: float = 1.0  # typed value * scale = the value in Limits (MB -> bytes)
    integer: bool = True

    @property
    def env(self) -> str:
        return "NEMO_LOCAL_" + self.flag.removeprefix("--").replace("-", "_").upper()


SPECS: tuple[Spec, ...] = (
    Spec("body_bytes", 1, "MB", "--max-body-mb", "JSON request body (checked while it streams in)", MB),
    Spec("message_bytes", 16, "KB", "--max-message-kb", "text of one agent message (UTF-8)", 1024),
    Spec("upload_file_bytes", 200, "MB", "--max-upload-mb", "one uploaded or URL-fetched file", MB),
    Spec("upload_files", 20, "count", "--max-upload-files", "files (or URLs) in one upload request"),
    Spec("filename_chars", 255, "chars", "--max-filename-chars", "length of an uploaded file's name"),
    Spec(
        "picture_pixels",
        40,
        "megapixels",
        "--max-picture-mp",
        "width x height of an uploaded picture or video frame",
        1e6,
    ),
    Spec("draft_tracks", 50, "count", "--max-tracks", "tracks in a draft sent for export"),
    Spec(
        "draft_segments", 500, "count", "--max-segments", "segments (all tracks) in a draft sent for export"
    ),
    Spec("text_chars", 1000, "chars", "--max-text-chars", "characters of one text segment (a title)"),
    Spec(
        "titles_at_once", 16, "count", "--max-titles-at-once", "titles (text segments) visible at one instant"
    ),
    Spec(
        "export_seconds",
        600,
        "s",
        "--max-export-seconds",
        "length of an export (draft duration)",
        integer=False,
    ),
    Spec(
        "url_fetch_seconds",
        60,
        "s",
        "--url-fetch-seconds",
        "total time to fetch one URL upload",
        integer=False,
    ),
    Spec("url_redirects", 5, "count", "--url-max-redirects", "redirects followed by one URL upload"),
    Spec(
        "body_idle_seconds",
        30,
        "s",
        "--body-idle-seconds",
        f"longest a request may stall: its headers, then each {BODY_PROGRESS_BYTES // 1024} KB of its body (else 408)",
        integer=False,
    ),
    Spec(
        "render_seconds",
        1800,
        "s",
        "--max-render-seconds",
        "wall-clock time of one render (over it, the render is cancelled and fails)",
        integer=False,
    ),
    Spec(
        "storage_bytes",
        2048,
        "MB",
        "--max-storage-mb",
        "what one user keeps stored: uploads, finished exports, render drafts",
        MB,
    ),
    Spec(
        "free_disk_bytes",
        500,
        "MB",
        "--min-free-disk-mb",
        "free disk space (a floor) the data dir needs to accept an upload or start a render",
        MB,
    ),
    Spec("renders_per_user", 8, "count", "--max-renders-per-user", "renders of one user pending or running"),
    Spec(
        "generations_per_user", 4, "count", "--max-generations-per-user", "agent messages of one user at work"
    ),
    Spec(
        "sessions_per_user",
        10000,
        "count",
        "--max-sessions-per-user",
        "sessions one user may create (kept until the data dir is cleaned; over it: 422)",
    ),
    Spec(
        "draft_versions",
        50,
        "count",
        "--max-draft-versions",
        "draft versions kept per session (the latest ones; older versions are dropped)",
    ),
)
BY_NAME: Mapping[str, Spec] = {s.name: s for s in SPECS}
RETRY_AFTER_S = 5  # what a 429 for a busy user says: a render or a track takes seconds, not minutes
# The request line and headers of one request (fixed: no client needs more; httptools has no cap of its
# own, and a million 1 KB headers grew the server by 1.1 GB in 1.6 s, kept after the request).
HEADER_BYTES = 64 * 1024
# Requests one connection may queue behind the one being answered (HTTP/1.1 pipelining; fixed: no client
# needs more). httptools parses a whole read at once, a request's cycle each: 19 MB of pipelined
# `GET /healthz` grew the server by 800 MB, kept after the connection closed (red team). Over it, the
# queued requests are dropped, the one being answered completes, then a 503 and the connection closes.
PIPELINED_REQUESTS = 32
# Connections held at once: the process's open-file limit less a reserve for the database, uploads, renders
# and ffmpeg's pipes (fixed: one client held 19,000 idle connections of a 20,000 limit; at the limit the
# server can open no file at all). Over it, a new connection is answered 503 and closed at once.
FD_RESERVE_MAX = 512


def connection_cap(open_files_limit: int) -> int:
    """How many connections the server holds at once, given its open-file limit (a quarter of it, at
    most FD_RESERVE_MAX, stays for everything else)."""
    return max(16, open_files_limit - min(FD_RESERVE_MAX, open_files_limit // 4))


def _default(name: str) -> Any:
    spec = BY_NAME[name]
    value = spec.default * spec.scale
    return int(value) if spec.integer else float(value)


@dataclass(frozen=True)
class Limits:
    """The limits one server runs with (internal units: bytes, counts, seconds, pixels)."""

    body_bytes: int = _default("body_bytes")
    message_bytes: int = _default("message_bytes")
    upload_file_bytes: int = _default("upload_file_bytes")
    upload_files: int = _default("upload_files")
    filename_chars: int = _default("filename_chars")
    picture_pixels: int = _default("picture_pixels")
    draft_tracks: int = _default("draft_tracks")
    draft_segments: int = _default("draft_segments")
    text_chars: int = _default("text_chars")
    titles_at_once: int = _default("titles_at_once")
    export_seconds: float = _default("export_seconds")
    url_fetch_seconds: float = _default("url_fetch_seconds")
    url_redirects: int = _default("url_redirects")
    body_idle_seconds: float = _default("body_idle_seconds")
    render_seconds: float = _default("render_seconds")
    storage_bytes: int = _default("storage_bytes")
    free_disk_bytes: int = _default("free_disk_bytes")
    renders_per_user: int = _default("renders_per_user")
    generations_per_user: int = _default("generations_per_user")
    sessions_per_user: int = _default("sessions_per_user")
    draft_versions: int = _default("draft_versions")

    @classmethod
    def from_values(cls, typed: Mapping[str, float]) -> Limits:
        """From values in the units users type (MB, KB, megapixels...), keyed by attribute name."""
        out: dict[str, Any] = {}
        for name, value in typed.items():
            spec = BY_NAME[name]
            scaled = float(value) * spec.scale
            if not math.isfinite(scaled) or scaled <= 0:
                raise ValueError(f"{spec.flag} must be a positive number, not {value!r}")
            # a count is whole, and no integer limit may truncate to 0: `--max-draft-versions 0.5` was
            # 0, which pruned every draft as it was saved (red team); 0.5 files, sessions... likewise
            if spec.integer and (int(scaled) < 1 or (spec.unit == "count" and scaled != int(scaled))):
                raise ValueError(f"{spec.flag} must be a whole number of at least 1, not {value!r}")
            out[name] = int(scaled) if spec.integer else scaled
        return cls(**out)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        env = os.environ if environ is None else environ
        return cls.from_values({s.name: float(env[s.env]) for s in SPECS if env.get(s.env, "").strip()})

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Limits:
        return cls.from_values({s.name: getattr(args, s.name) for s in SPECS})

    def shown(self, name: str) -> str:
        """A limit as a user reads it: '16 KB', '500', '600 s'."""
        spec = BY_NAME[name]
        value = getattr(self, name) / spec.scale
        text = f"{value:g}"
        return text if spec.unit == "count" else f"{text} {spec.unit}"


def _typed_default(spec: Spec, environ: Mapping[str, str]) -> float:
    raw = environ.get(spec.env, "").strip()
    if not raw:
        return spec.default
    try:
        return float(raw)
    except ValueError as exc:
        raise SystemExit(f"nemo-local: {spec.env}={raw!r} is not a number") from exc


def add_arguments(parser: argparse.ArgumentParser, environ: Mapping[str, str] | None = None) -> None:
    """One flag per limit, defaulting to its environment variable, else the built-in default."""
    env = os.environ if environ is None else environ
    group = parser.add_argument_group("limits (each also an environment variable; see docs/local-backend.md)")
    for spec in SPECS:
        group.add_argument(
            spec.flag,
            dest=spec.name,
            type=float,
            default=_typed_default(spec, env),
            help=f"{spec.help} (default {spec.default:g}{'' if spec.unit == 'count' else ' ' + spec.unit}; "
            f"env {spec.env})",
        )


def limits_table() -> str:
    """The Markdown rows of docs/local-backend.md's Limits table (kept true by a test)."""
    rows = ["| limit | default | switch | environment |", "|---|---|---|---|"]
    for s in SPECS:
        default = f"{s.default:g}" + ("" if s.unit == "count" else f" {s.unit}")
        rows.append(f"| {s.help} | {default} | `{s.flag}` | `{s.env}` |")
    return "\n".join(rows)


class LimitExceeded(Exception):
    """A request crossed a limit. `field` names what was too big, `limit` the bound as users read it.

    The API answers it with the envelope: `code` (413 for sizes of bodies and files, 422 for the content
    of a request, 429 for concurrency, with Retry-After), and `data` = {field, limit, value, switch}."""

    def __init__(
        self,
        name: str,
        field: str,
        value: float | str | None,
        limits: Limits,
        message: str | None = None,
        code: int = 422,
    ) -> None:
        spec = BY_NAME[name]
        shown = limits.shown(name)
        text = message or f"{field} is over the limit: {value} (limit {shown})"
        super().__init__(f"{text}; the server's operator can raise it with {spec.flag}")
        self.name, self.field, self.value, self.code = name, field, value, code
        self.limit = getattr(limits, name)
        self.shown = shown
        self.switch = spec.flag

    @property
    def data(self) -> dict[str, Any]:
        return {"field": self.field, "limit": self.limit, "value": self.value, "switch": self.switch}


def check_pixels(width: int, height: int, field: str, limits: Limits, message: str | None = None) -> None:
    """The one picture_pixels rule (an upload, a picture on the timeline, a clip's frame): more than
    ``--max-picture-mp`` raises LimitExceeded naming the size and its megapixels."""
    if width * height > limits.picture_pixels:
        size = f"{width}x{height}"
        text = message or (
            f"{field} is over the limit: {size} = {width * height / 1e6:.1f} megapixels "
            f"(limit {limits.shown('picture_pixels')})"
        )
        raise LimitExceeded("picture_pixels", field, size, limits, text)


class Busy(LimitExceeded):
    """Too much of one user's work is running: 429 with Retry-After, nothing was started or charged."""

    def __init__(self, name: str, running: int, limits: Limits, what: str) -> None:
        super().__init__(
            name,
            name,
            running,
            limits,
            f"Too many {what} running for this user ({running}, limit {limits.shown(name)}); "
            f"wait for one to finish and retry",
            code=429,
        )
        self.retry_after = RETRY_AFTER_S


def replace(limits: Limits, **changes: Any) -> Limits:
    """A copy with some limits changed (tests, and the CLI's legacy --max-upload-mb)."""
    return dataclasses.replace(limits, **changes)
