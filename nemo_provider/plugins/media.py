"""Serve a delivered file with HTTP range requests, from a local folder or an ObjectStoragePath URI.

The location always comes from the task instance's XCom (the catalogue), never from the request, and is
checked before anything is opened: the name must end in an export format the provider produces, the
object must be a regular file, and its size must still be the size the export recorded (a file replaced
since delivery is refused rather than served under the track's name).
"""

from __future__ import annotations

import mimetypes
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from nemo_provider.client.constants import EXPORT_FORMATS
from nemo_provider.operators._destination import local_path, storage_path

CHUNK = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_EXTRA_TYPES = {"m4a": "audio/mp4", "aac": "audio/aac", "mkv": "video/x-matroska", "webm": "video/webm"}


class MediaError(Exception):
    """Why a track's file cannot be served; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class MediaFile:
    """An opened-on-demand delivered file: where, how big, what type."""

    location: str
    size: int
    content_type: str
    name: str

    def open(self) -> IO[bytes]:
        if local_path(self.location) is None:
            return storage_path(self.location).open("rb")
        return open(self.location, "rb")


#: Schemes whose "object store" is a web request made by the api-server on a viewer's behalf.
_FETCHING_SCHEMES = frozenset({"http", "https", "ftp", "ftps"})


def content_type(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower()
    return _EXTRA_TYPES.get(ext) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def locate(path: str, expected_size: int | None) -> MediaFile:
    """Check a delivered location (from XCom) and describe it; raise MediaError when it fails a check."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in EXPORT_FORMATS:
        raise MediaError(404, f"{name!r} is not an export format this provider delivers.")
    local = local_path(path)
    if local is None:
        from urllib.parse import urlsplit

        parts = urlsplit(path)
        # An XCom can be written by task code or the REST API: never let one make the api-server fetch a
        # web address, and judge the extension on the object's own path, not on a query string.
        if parts.scheme.lower() in _FETCHING_SCHEMES or parts.query or parts.fragment:
            raise MediaError(404, f"{path!r} is not an object-storage location this page serves.")
        remote = storage_path(path)
        try:
            if not remote.is_file():
                raise MediaError(404, f"The delivered file {path} is no longer there.")
            size = int(remote.stat().st_size)
        except MediaError:
            raise
        except Exception as err:
            raise MediaError(502, f"The object store holding {path} could not be read: {err}") from err
        location = path
    else:
        location = os.path.realpath(local)
        real_ext = location.rsplit(".", 1)[-1].lower() if "." in os.path.basename(location) else ""
        if real_ext not in EXPORT_FORMATS:  # a link named like a track that points at something else
            raise MediaError(404, f"{name!r} does not point at an export format this provider delivers.")
        if not os.path.isfile(location):
            raise MediaError(
                404,
                f"The delivered file {path} is not on the api-server's disk (it may be on a worker's): "
                "deliver to a shared folder or an object-storage URI to play it here.",
            )
        size = os.path.getsize(location)
    if expected_size is not None and size != expected_size:
        raise MediaError(
            409, f"{path} changed since it was delivered ({size} bytes, the export saw {expected_size})."
        )
    return MediaFile(location=location, size=size, content_type=content_type(name), name=name)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``Range: bytes=a-b`` -> inclusive (start, end); None for a whole-file answer; MediaError(416) if unsatisfiable.

    Multi-range requests are answered with the whole file (browsers' media elements never send them).
    """
    if not header or "," in header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        if length == 0:
            raise MediaError(416, "Requested an empty suffix range.")
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise MediaError(416, f"Range {header} is outside the file's {size} bytes.")
    return start, end


def stream(media: MediaFile, start: int, end: int) -> Iterator[bytes]:
    """The bytes start..end (inclusive), read in chunks; the file is closed when the response ends."""
    handle = media.open()
    try:
        handle.seek(start)
        left = end - start + 1
        while left > 0:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        handle.close()


def response_headers(media: MediaFile, span: tuple[int, int] | None, download: bool) -> dict[str, Any]:
    from urllib.parse import quote

    start, end = span if span is not None else (0, media.size - 1)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(max(0, end - start + 1)),
        "Content-Type": media.content_type,
        "Cache-Control": "private, max-age=300",
        "Content-Disposition": f"{'attachment' if download else 'inline'}; filename*=UTF-8''{quote(media.name)}",
    }
    if span is not None:
        headers["Content-Range"] = f"bytes {start}-{end}/{media.size}"
    return headers
