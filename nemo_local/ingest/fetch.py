"""URL uploads: the connection goes only to the address that was checked, a bounded number of redirects is
followed (each hop checked again), and the fetch is cut off after a total time however slowly the bytes
drip. The file is received under the same checks as a multipart one (size, quota, type; nothing is left
on disk when it is refused)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urljoin, urlsplit

import httpx
from python_multipart.multipart import parse_options_header

from nemo_local.ingest.receive import (
    BadURL,
    FileTooLarge,
    ReceivedFile,
    UnsupportedType,
    safe_name,
    unsafe_char,
)
from nemo_local.ingest.sniff import SNIFF_BYTES, check_type
from nemo_local.ingest.urls import Resolver, URLRefused, check_url, redact, resolve
from nemo_local.limits import LimitExceeded, Limits
from nemo_local.store import paths

if TYPE_CHECKING:
    from nemo_local.quota import Room

log = logging.getLogger("nemo_local.ingest")
READ_TIMEOUT_S = 15.0  # between two chunks of a URL download; the whole fetch is bounded separately
# Media are fetched as they are: httpx would otherwise decode a gzip (or "gzip, gzip") body in memory
# before any limit sees it, and 600 bytes of doubly gzipped zeros grew the server by 800 MB (red team).
IDENTITY = "identity"
URL_REFUSED = 4003  # the contract's code for a URL upload that is refused or cannot be fetched


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
    name = "".join(c for c in name if not unsafe_char(c))
    return name[-max_chars:] or "download"


async def fetch_url(
    url: str,
    dest: Path,
    limits: Limits,
    allow_private: bool,
    index: int = 0,
    resolver: Resolver = resolve,
    room: Room | None = None,
) -> ReceivedFile:
    """Download `url` to disk under the same size and type checks as an upload, within
    `limits.url_fetch_seconds` in total (a URL that drips bytes is cut off), following at most
    `limits.url_redirects` redirects; every hop is resolved, checked and then connected to by address.
    With `room`, the file may hold no more than the user's storage has left (several URLs share one)."""
    started = time.monotonic()
    try:
        return await asyncio.wait_for(
            _fetch(url, dest, limits, allow_private, resolver, index, room), timeout=limits.url_fetch_seconds
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
    url: str,
    dest: Path,
    limits: Limits,
    allow_private: bool,
    resolver: Resolver,
    index: int,
    room: Room | None,
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
            headers = {"Host": target.host_header, "Accept-Encoding": IDENTITY}
            request = client.build_request("GET", target.pinned_url, headers=headers, extensions=extensions)
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
                _check_identity(resp)
                try:
                    name = _url_filename(current, resp, limits.filename_chars)
                    return await _save_stream(name, resp, dest, limits, room)
                except httpx.HTTPError as exc:
                    raise BadURL(f"could not fetch the URL: {type(exc).__name__}") from exc
            finally:
                await resp.aclose()
        raise LimitExceeded(
            "url_redirects",
            f"urls[{index}]",
            limits.url_redirects + 1,
            limits,
            f"URL refused: too many redirects (more than {limits.url_redirects})",
            code=URL_REFUSED,
        )


def _check_identity(resp: httpx.Response) -> None:
    """Refuse a body sent encoded (we asked for `identity`): its size on the wire says nothing about
    what decoding it would take, so it is never decoded."""
    encoding = resp.headers.get("content-encoding", "").strip().lower()
    if encoding not in ("", IDENTITY):
        shown = encoding if len(encoding) <= 40 else encoding[:40] + "…"
        raise BadURL(
            f"the server sent the file encoded (Content-Encoding: {shown}); media are fetched only as "
            "they are, without a transfer compression"
        )


async def _save_stream(
    filename: str, resp: httpx.Response, dest: Path, limits: Limits, room: Room | None
) -> ReceivedFile:
    try:
        declared = int(resp.headers.get("content-length") or 0)
    except ValueError as exc:  # h11 checks the syntax; this is defence in depth
        raise BadURL("the server sent an invalid Content-Length") from exc
    if declared > limits.upload_file_bytes:
        raise FileTooLarge(filename, declared, limits)
    if room is not None:
        room.check(declared)
    f = ReceivedFile(filename, paths.under(dest, f"{secrets.token_hex(8)}_{safe_name(filename)}"))
    try:
        with f.path.open("wb") as fh:
            async for chunk in resp.aiter_raw():  # the bytes as sent: never decoded (_check_identity)
                f.size += len(chunk)
                if f.size > limits.upload_file_bytes:
                    raise FileTooLarge(filename, f.size, limits)
                if room is not None:
                    room.take(len(chunk))
                if len(f.head) < SNIFF_BYTES:
                    f.head += chunk[: SNIFF_BYTES - len(f.head)]
                fh.write(chunk)
        f.sniffed = check_type(filename, f.head)
        if f.sniffed is None:
            raise UnsupportedType(filename, "the content is not one of the accepted formats")
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            f.path.unlink()
        if isinstance(exc, OSError):
            from nemo_local.quota import out_of_space

            full = out_of_space(exc, dest, limits, "this upload")
            if full is not None:
                raise full from exc
        raise
    return f
