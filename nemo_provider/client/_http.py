"""The httpx request for a spec: one builder for the sync and the async httpx runner (no I/O)."""

from __future__ import annotations

import contextlib

import httpx

from nemo_provider.client._core import ClientCore
from nemo_provider.client._ops import RequestSpec


def build_http_request(
    http: httpx.Client | httpx.AsyncClient,
    core: ClientCore,
    spec: RequestSpec,
    default_timeout: float,
    stack: contextlib.ExitStack,
) -> httpx.Request:
    """The httpx request for a spec, the same for both runners (building a request does no I/O).

    Upload files are opened in ``stack`` and handed to httpx as file objects, so the body is
    streamed from disk in chunks rather than read into memory.
    """
    timeout = httpx.Timeout(default_timeout, read=spec.read_timeout) if spec.read_timeout else default_timeout
    files = [
        (part.field, (part.filename, stack.enter_context(open(part.path, "rb")), part.content_type))  # noqa: SIM115 - streamed in chunks, closed by the caller's stack
        for part in spec.files
    ]
    return http.build_request(
        spec.method,
        core.url_for(spec),
        headers=core.headers_for(spec),
        json=spec.json if not files else None,
        files=files or None,
        timeout=timeout,
    )
