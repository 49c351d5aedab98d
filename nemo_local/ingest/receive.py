"""Streaming reception of uploads: bytes go straight to disk, the size limit, the number of files, their
names and the content type are checked while the data arrives, and a refused or interrupted upload never
leaves a file on disk. URL uploads connect only to the address that was checked, follow a bounded number
of redirects (each checked again) and are cut off after a total time, however slowly the bytes drip."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import time
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urljoin, urlsplit

import httpx
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from nemo_local.ingest.sniff import SNIFF_BYTES, Sniffed, check_type
from nemo_local.ingest.urls import Resolver, URLRefused, check_url, redact, resolve
from nemo_local.limits import BY_NAME, LimitExceeded, Limits
from nemo_local.store import paths

log = logging.getLogger("nemo_local.ingest")
_END_STATE = MultipartState.END
READ_TIMEOUT_S = 15.0  # between two chunks of a URL download; the whole fetch is bounded separately

DRAIN_FACTOR = 4  # after a refusal, read at most this many limits more so the client can read our answer
# Parts that carry no file (form fields) besides the files: each costs Python callbacks on the event loop,
# and 30 MB of tiny ones held it for 30 s (the body limit allowed 4 GB of them).
EXTRA_PARTS = 16


class UploadRefused(Exception):
    """Base of the refusals the API maps to envelope codes."""


class FileTooLarge(UploadRefused):
    def __init__(self, filename: str, size: int, limit: int) -> None:
        super().__init__(f"{filename} is larger than the {limit // (1024 * 1024)} MB limit")
        self.filename, self.size, self.limit = filename, size, limit


class UnsupportedType(UploadRefused):
    def __init__(self, filename: str, why: str = "") -> None:
        super().__init__(f"{filename}: unsupported file type{': ' + why if why else ''}")
        self.filename = filename


class BadURL(UploadRefused):
    """The URL is refused (scheme, address) or could not be fetched."""


class BadUpload(UploadRefused):
    """The multipart body is malformed or was cut off before its end."""


_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _unsafe_char(c: str) -> bool:
    """Control characters, lone surrogates, and the bidirectional overrides that make `gpj.exe` look like
    `exe.jpg`; joiners (emoji sequences) and marks of any script are fine."""
    return unicodedata.category(c) in ("Cc", "Cs") or c in _BIDI_CONTROLS


def check_filename(name: str, index: int, limits: Limits) -> None:
    """A client's file name: at most `filename_chars` characters, no control characters. Any script is
    fine (the name on disk and in URLs is `safe_name`'s; this one is only shown back)."""
    field_name = f"files[{index}].filename"
    if len(name) > limits.filename_chars:
        raise LimitExceeded(
            "filename_chars",
            field_name,
            len(name),
            limits,
            f"{field_name} is {len(name)} characters long (limit {limits.shown('filename_chars')})",
        )
    if any(_unsafe_char(c) for c in name):
        raise BadUpload(f"{field_name} contains control characters or bidirectional overrides")


def too_many_files(count: int, limits: Limits) -> LimitExceeded:
    return LimitExceeded(
        "upload_files",
        "files",
        count,
        limits,
        f"Too many files in one upload: more than {limits.upload_files}; send them in several uploads",
    )


@dataclass
class ReceivedFile:
    filename: str
    path: Path
    size: int = 0
    sniffed: Sniffed | None = None
    head: bytes = b""


def safe_name(name: str) -> str:
    """A filename that is safe on disk and in a URL path (ASCII letters, digits, `_ - .`, starting with a
    letter or digit, at most 120 characters), keeping the extension: `名字.png` becomes `upload.png`."""
    base = os.path.basename(name.replace("\\", "/"))
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    ext = re.sub(r"[^A-Za-z0-9]+", "", ext)[:10].lower()
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_-")[:100] or "upload"
    return f"{stem}.{ext}" if ext else stem


@dataclass
class _PartState:
    filename: str | None = None
    fh: BinaryIO | None = None
    file: ReceivedFile | None = None
    headers: dict[str, bytes] = field(default_factory=dict)
    header_field: bytes = b""
    header_value: bytes = b""


class _MultipartSink:
    """python-multipart callbacks that write each file part to its own file under `dest`."""

    def __init__(self, dest: Path, limits: Limits) -> None:
        self.dest, self.limits, self.limit = dest, limits, limits.upload_file_bytes
        self.files: list[ReceivedFile] = []
        self.error: UploadRefused | LimitExceeded | None = None
        self.parts = 0
        self.part = _PartState()

    def on_part_begin(self) -> None:
        self.part = _PartState()
        self.parts += 1
        allowed = self.limits.upload_files + EXTRA_PARTS
        if self.parts > allowed and self.error is None:
            self._refuse(
                LimitExceeded(
                    "upload_files",
                    "parts",
                    self.parts,
                    self.limits,
                    f"Too many parts in one multipart upload (more than {allowed}: "
                    f"{self.limits.shown('upload_files')} files and {EXTRA_PARTS} other fields)",
                )
            )

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.part.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.part.header_value += data[start:end]

    def on_header_end(self) -> None:
        # kept as bytes: python-multipart parses bytes, and a UTF-8 file name is not Latin-1
        self.part.headers[self.part.header_field.decode("latin-1").lower()] = self.part.header_value
        self.part.header_field = self.part.header_value = b""

    def on_headers_finished(self) -> None:
        disposition = self.part.headers.get("content-disposition", b"")
        _, params = parse_options_header(disposition)
        raw = params.get(b"filename")
        if raw is None or self.error is not None:
            return
        filename = raw.decode("utf-8", "replace")
        if len(self.files) >= self.limits.upload_files:
            self._refuse(too_many_files(len(self.files) + 1, self.limits))
            return
        try:
            check_filename(filename, len(self.files), self.limits)
        except (UploadRefused, LimitExceeded) as exc:
            self._refuse(exc)
            return
        path = paths.under(self.dest, f"{secrets.token_hex(8)}_{safe_name(filename)}")
        self.part.filename = filename
        self.part.file = ReceivedFile(filename, path)
        self.part.fh = path.open("wb")
        self.files.append(self.part.file)

    def _refuse(self, error: UploadRefused | LimitExceeded) -> None:
        self.error = error
        self.cleanup()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        f, fh = self.part.file, self.part.fh
        if f is None or fh is None or self.error is not None:
            return
        chunk = data[start:end]
        f.size += len(chunk)
        if len(f.head) < SNIFF_BYTES:
            f.head += chunk[: SNIFF_BYTES - len(f.head)]
            if len(f.head) >= SNIFF_BYTES and not self._type_ok(f):
                return
        if f.size > self.limit:
            self._refuse(FileTooLarge(f.filename, f.size, self.limit))
            return
        fh.write(chunk)

    def _type_ok(self, f: ReceivedFile) -> bool:
        f.sniffed = check_type(f.filename, f.head)
        if f.sniffed is None:
            self._refuse(UnsupportedType(f.filename, "the content is not one of the accepted formats"))
            return False
        return True

    def on_part_end(self) -> None:
        f, fh = self.part.file, self.part.fh
        if fh is not None:
            fh.close()
            self.part.fh = None
        if f is not None and self.error is None and f.sniffed is None:
            self._type_ok(f)

    def cleanup(self) -> None:
        if self.part.fh is not None:
            self.part.fh.close()
            self.part.fh = None
        for f in self.files:
            with contextlib.suppress(FileNotFoundError):
                f.path.unlink()


async def receive_multipart(
    content_type: str, body: AsyncIterator[bytes], dest: Path, limits: Limits
) -> list[ReceivedFile]:
    """Parse a multipart body as it streams in; raises UploadRefused or LimitExceeded (nothing left on
    disk) on refusal, BadUpload when the body is malformed or ends early."""
    try:
        ctype, params = parse_options_header(content_type.encode("latin-1"))
    except UnicodeEncodeError as exc:
        raise BadUpload("the Content-Type header is not Latin-1") from exc
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise UnsupportedType("request", "expected multipart/form-data with a boundary")
    limit = limits.upload_file_bytes
    sink = _MultipartSink(dest, limits)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": sink.on_part_begin,
            "on_part_data": sink.on_part_data,
            "on_part_end": sink.on_part_end,
            "on_header_field": sink.on_header_field,
            "on_header_value": sink.on_header_value,
            "on_header_end": sink.on_header_end,
            "on_headers_finished": sink.on_headers_finished,
        },
    )
    drained = 0
    try:
        async for chunk in body:
            if sink.error is not None:
                drained += len(chunk)
                if drained > DRAIN_FACTOR * limit:
                    break
                continue
            parser.write(chunk)
        if sink.error is None:
            parser.finalize()
            if parser.state != _END_STATE:
                raise BadUpload("the multipart body ended before its closing boundary (truncated upload?)")
    except MultipartParseError as exc:
        sink.cleanup()
        if "header size" in str(exc).lower():
            raise BadUpload(
                "a part's headers are too long (file names may have at most "
                f"{limits.shown('filename_chars')} characters)"
            ) from exc
        raise BadUpload(f"the multipart body is malformed ({exc})") from exc
    except BaseException:
        sink.cleanup()
        raise
    if sink.error is not None:
        sink.cleanup()
        raise sink.error
    return sink.files


def _url_filename(url: str, response: httpx.Response, max_chars: int) -> str:
    """The name the server gave the file (Content-Disposition), else the URL path's last part; control
    characters dropped and cut to the file name limit (keeping the end, where the extension is)."""
    name = ""
    for key, value in response.headers.raw:
        if key.lower() == b"content-disposition":
            _, params = parse_options_header(value)
            if params.get(b"filename"):
                name = params[b"filename"].decode("utf-8", "replace")
            break
    if not name:
        name = unquote(os.path.basename(urlsplit(url).path))
    name = "".join(c for c in name if not _unsafe_char(c))
    return name[-max_chars:] or "download"


async def fetch_url(
    url: str,
    dest: Path,
    limits: Limits,
    allow_private: bool,
    index: int = 0,
    resolver: Resolver = resolve,
) -> ReceivedFile:
    """Download `url` to disk under the same size and type checks as an upload, within
    `limits.url_fetch_seconds` in total (a URL that drips bytes is cut off), following at most
    `limits.url_redirects` redirects; every hop is resolved, checked and then connected to by address."""
    started = time.monotonic()
    try:
        return await asyncio.wait_for(
            _fetch(url, dest, limits, allow_private, resolver), timeout=limits.url_fetch_seconds
        )
    except asyncio.TimeoutError as exc:
        waited = time.monotonic() - started
        log.info("URL upload %s cut off after %.1f s", redact(url), waited)
        raise LimitExceeded(
            "url_fetch_seconds",
            f"urls[{index}]",
            round(waited, 1),
            limits,
            f"Fetching urls[{index}] took longer than {limits.shown('url_fetch_seconds')}; "
            "the server answering it is too slow, upload the file itself instead",
        ) from exc


async def _fetch(
    url: str, dest: Path, limits: Limits, allow_private: bool, resolver: Resolver
) -> ReceivedFile:
    timeout = httpx.Timeout(READ_TIMEOUT_S, connect=10.0)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        current = url
        for _hop in range(limits.url_redirects + 1):
            try:
                target = await asyncio.to_thread(check_url, current, allow_private, resolver)
            except URLRefused as exc:
                raise BadURL(str(exc)) from exc
            log.info("fetching URL upload %s (address %s)", redact(current), target.address)
            extensions = {"sni_hostname": target.host} if target.parts.scheme == "https" else {}
            request = client.build_request(
                "GET", target.pinned_url, headers={"Host": target.host_header}, extensions=extensions
            )
            try:
                resp = await client.send(request, stream=True)
            except httpx.HTTPError as exc:
                raise BadURL(f"could not fetch the URL: {type(exc).__name__}") from exc
            try:
                if resp.is_redirect and "location" in resp.headers:
                    try:
                        current = urljoin(current, resp.headers["location"])
                    except ValueError as exc:
                        raise BadURL("the URL redirected to a malformed location") from exc
                    continue
                if resp.status_code != 200:
                    raise BadURL(f"fetching the URL answered HTTP {resp.status_code}")
                try:
                    name = _url_filename(current, resp, limits.filename_chars)
                    return await _save_stream(name, resp, dest, limits.upload_file_bytes)
                except httpx.HTTPError as exc:
                    raise BadURL(f"could not fetch the URL: {type(exc).__name__}") from exc
            finally:
                await resp.aclose()
        raise BadURL(
            f"too many redirects (more than {limits.url_redirects}; {BY_NAME['url_redirects'].flag})"
        )


async def _save_stream(filename: str, resp: httpx.Response, dest: Path, limit: int) -> ReceivedFile:
    declared = int(resp.headers.get("content-length") or 0)
    if declared > limit:
        raise FileTooLarge(filename, declared, limit)
    f = ReceivedFile(filename, paths.under(dest, f"{secrets.token_hex(8)}_{safe_name(filename)}"))
    try:
        with f.path.open("wb") as fh:
            async for chunk in resp.aiter_bytes():
                f.size += len(chunk)
                if f.size > limit:
                    raise FileTooLarge(filename, f.size, limit)
                if len(f.head) < SNIFF_BYTES:
                    f.head += chunk[: SNIFF_BYTES - len(f.head)]
                fh.write(chunk)
        f.sniffed = check_type(filename, f.head)
        if f.sniffed is None:
            raise UnsupportedType(filename, "the content is not one of the accepted formats")
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            f.path.unlink()
        raise
    return f
