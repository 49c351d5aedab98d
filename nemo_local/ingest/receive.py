"""Streaming reception of uploads: bytes go straight to disk; the size limit, the user's storage quota, the
number of files, their names and the content type are checked while the data arrives, and a refused or
interrupted upload never leaves a file on disk. URL uploads (nemo_local.ingest.fetch) share the checks,
the errors and `ReceivedFile` defined here."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

from nemo_local.ingest.sniff import SNIFF_BYTES, Sniffed, check_type
from nemo_local.limits import LimitExceeded, Limits
from nemo_local.store import paths

if TYPE_CHECKING:
    from nemo_local.quota import Room

_END_STATE = MultipartState.END
FILE_TOO_LARGE = 4002  # the contract's code for a file over the size limit (HTTP 413)

DRAIN_FACTOR = 4  # after a refusal, read at most this many limits more so the client can read our answer
# Parts that carry no file (form fields) besides the files: each costs Python callbacks on the event loop,
# and 30 MB of tiny ones held it for 30 s (the body limit allowed 4 GB of them).
EXTRA_PARTS = 16


class UploadRefused(Exception):
    """Base of the refusals the API maps to envelope codes."""


class FileTooLarge(LimitExceeded):
    """One file is over `upload_file_bytes`: the contract's 4002, whose `data` also names the file and its
    size (the client reads `size` and `limit`)."""

    def __init__(self, filename: str, size: int, limits: Limits) -> None:
        super().__init__(
            "upload_file_bytes",
            "files",
            size,
            limits,
            f"File too large: {filename} exceeds the {limits.shown('upload_file_bytes')} limit; "
            "trim or compress it",
            code=FILE_TOO_LARGE,
        )
        self.filename, self.size = filename, size

    @property
    def data(self) -> dict[str, Any]:
        return {**super().data, "filename": self.filename, "size": self.size}


class UnsupportedType(UploadRefused):
    def __init__(self, filename: str, why: str = "") -> None:
        super().__init__(f"{filename}: unsupported file type{': ' + why if why else ''}")
        self.filename = filename


class BadURL(UploadRefused):
    """The URL is refused (scheme, address) or could not be fetched."""


class BadUpload(UploadRefused):
    """The multipart body is malformed or was cut off before its end."""


_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def unsafe_char(c: str) -> bool:
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
    if any(unsafe_char(c) for c in name):
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
    """python-multipart callbacks that write each file part to its own file under `dest`; every byte is
    counted against the user's storage `room` before it is written."""

    def __init__(self, dest: Path, limits: Limits, room: Room | None) -> None:
        self.dest, self.limits, self.limit, self.room = dest, limits, limits.upload_file_bytes, room
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
        try:
            if f.size > self.limit:
                raise FileTooLarge(f.filename, f.size, self.limits)
            if self.room is not None:
                self.room.take(len(chunk))
        except LimitExceeded as exc:
            self._refuse(exc)
            return
        try:
            fh.write(chunk)
        except OSError as exc:
            self._write_failed(exc)

    def _write_failed(self, exc: OSError) -> None:
        """A full disk refuses the upload with the free-disk floor's 507; any other error is a bug."""
        from nemo_local.quota import out_of_space

        full = out_of_space(exc, self.dest, self.limits, "this upload")
        if full is None:
            raise exc
        self._refuse(full)

    def _type_ok(self, f: ReceivedFile) -> bool:
        f.sniffed = check_type(f.filename, f.head)
        if f.sniffed is None:
            self._refuse(UnsupportedType(f.filename, "the content is not one of the accepted formats"))
            return False
        return True

    def on_part_end(self) -> None:
        f, fh = self.part.file, self.part.fh
        if fh is not None:
            self.part.fh = None
            try:
                fh.close()  # flushes the last bytes: a full disk may say so only here
            except OSError as exc:
                self._write_failed(exc)
                return
        if f is not None and self.error is None and f.sniffed is None:
            self._type_ok(f)

    def cleanup(self) -> None:
        if self.part.fh is not None:
            fh, self.part.fh = self.part.fh, None
            with contextlib.suppress(OSError):  # a full disk fails the flush too: the file goes anyway
                fh.close()
        for f in self.files:
            with contextlib.suppress(FileNotFoundError):
                f.path.unlink()


async def receive_multipart(
    content_type: str, body: AsyncIterator[bytes], dest: Path, limits: Limits, room: Room | None = None
) -> list[ReceivedFile]:
    """Parse a multipart body as it streams in; raises UploadRefused or LimitExceeded (nothing left on
    disk) on refusal, BadUpload when the body is malformed or ends early. With `room`, the files together
    may hold no more than the user's storage has left (refused when they pass it, not after)."""
    try:
        ctype, params = parse_options_header(content_type.encode("latin-1"))
    except UnicodeEncodeError as exc:
        raise BadUpload("the Content-Type header is not Latin-1") from exc
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise UnsupportedType("request", "expected multipart/form-data with a boundary")
    limit = limits.upload_file_bytes
    sink = _MultipartSink(dest, limits, room)
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
        if "header size" in str(exc).lower():  # python-multipart's own bound, hit by a very long name
            raise LimitExceeded(
                "filename_chars",
                "files",
                None,
                limits,
                "A part's headers are too long for the multipart parser (file names may have at most "
                f"{limits.shown('filename_chars')} characters)",
            ) from exc
        raise BadUpload(f"the multipart body is malformed ({exc})") from exc
    except BaseException:
        sink.cleanup()
        raise
    if sink.error is not None:
        sink.cleanup()
        raise sink.error
    return sink.files
