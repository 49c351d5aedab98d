"""Streaming reception of uploads: bytes go straight to disk, the size limit and the content type are
checked while the data arrives, and a refused file never stays on disk."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urljoin, urlsplit

import httpx
from python_multipart.multipart import MultipartParser, parse_options_header

from nemo_local.ingest.sniff import SNIFF_BYTES, Sniffed, check_type
from nemo_local.ingest.urls import URLRefused, check_url

DRAIN_FACTOR = 4  # after a refusal, read at most this many limits more so the client can read our answer


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


@dataclass
class ReceivedFile:
    filename: str
    path: Path
    size: int = 0
    sniffed: Sniffed | None = None
    head: bytes = b""


def safe_name(name: str) -> str:
    """A filename that is safe on disk and in a URL path, keeping the extension."""
    base = os.path.basename(name.replace("\\", "/")) or "upload"
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "upload"
    return cleaned[-120:]


@dataclass
class _PartState:
    filename: str | None = None
    fh: BinaryIO | None = None
    file: ReceivedFile | None = None
    headers: dict[str, str] = field(default_factory=dict)
    header_field: bytes = b""
    header_value: bytes = b""


class _MultipartSink:
    """python-multipart callbacks that write each file part to its own file under `dest`."""

    def __init__(self, dest: Path, limit: int) -> None:
        self.dest, self.limit = dest, limit
        self.files: list[ReceivedFile] = []
        self.error: UploadRefused | None = None
        self.part = _PartState()

    def on_part_begin(self) -> None:
        self.part = _PartState()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.part.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.part.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[self.part.header_field.decode("latin-1").lower()] = self.part.header_value.decode(
            "utf-8", "replace"
        )
        self.part.header_field = self.part.header_value = b""

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self.part.headers.get("content-disposition", ""))
        raw = params.get(b"filename")
        if raw is None or self.error is not None:
            return
        filename = raw.decode("utf-8", "replace")
        path = self.dest / f"{secrets.token_hex(8)}_{safe_name(filename)}"
        self.part.filename = filename
        self.part.file = ReceivedFile(filename, path)
        self.part.fh = path.open("wb")
        self.files.append(self.part.file)

    def _refuse(self, error: UploadRefused) -> None:
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
    content_type: str, body: AsyncIterator[bytes], dest: Path, limit: int
) -> list[ReceivedFile]:
    """Parse a multipart body as it streams in; raises UploadRefused (nothing left on disk) on refusal."""
    ctype, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise UnsupportedType("request", "expected multipart/form-data with a boundary")
    sink = _MultipartSink(dest, limit)
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
    except BaseException:
        sink.cleanup()
        raise
    if sink.error is not None:
        sink.cleanup()
        raise sink.error
    return sink.files


def _url_filename(url: str, response: httpx.Response) -> str:
    disposition = response.headers.get("content-disposition", "")
    _, params = parse_options_header(disposition)
    if params.get(b"filename"):
        return params[b"filename"].decode("utf-8", "replace")
    return unquote(os.path.basename(urlsplit(url).path)) or "download"


async def fetch_url(
    url: str, dest: Path, limit: int, allow_private: bool, timeout: float = 60.0
) -> ReceivedFile:
    """Download `url` to disk under the same limit and type checks; each redirect hop is checked again."""
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        current = url
        for _hop in range(6):
            try:
                check_url(current, allow_private)
            except URLRefused as exc:
                raise BadURL(str(exc)) from exc
            try:
                async with client.stream("GET", current) as resp:
                    if resp.is_redirect and "location" in resp.headers:
                        current = urljoin(current, resp.headers["location"])
                        continue
                    if resp.status_code != 200:
                        raise BadURL(f"fetching the URL answered HTTP {resp.status_code}")
                    return await _save_stream(_url_filename(current, resp), resp, dest, limit)
            except httpx.HTTPError as exc:
                raise BadURL(f"could not fetch the URL: {type(exc).__name__}") from exc
        raise BadURL("too many redirects")


async def _save_stream(filename: str, resp: httpx.Response, dest: Path, limit: int) -> ReceivedFile:
    declared = int(resp.headers.get("content-length") or 0)
    if declared > limit:
        raise FileTooLarge(filename, declared, limit)
    f = ReceivedFile(filename, dest / f"{secrets.token_hex(8)}_{safe_name(filename)}")
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
