"""The client's flows performed on a caller's ``aiohttp.ClientSession`` instead of httpx.

Why this exists: a process that polls many renders at once (an Airflow triggerer with a thousand
deferred tasks) spends most of its CPU building an httpx request per poll (measured by
``bench/trigger_density.py``). ``AsyncNemoClient(session=...)`` performs every call through
:class:`OnSession`, and :func:`poll_render_status` one status read for a client without a session:
the client's own flows (the same request definitions, parser, 1001/400/429 recoveries and errors)
with the one drive loop. A poller polls again on its own schedule and counts transient errors itself,
so its retry policy is ``NO_REPEATS``.

aiohttp is imported only when a request runs: plain client use never needs it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from nemo_provider.client._core import ClientCore, connection_error
from nemo_provider.client._drive import drive
from nemo_provider.client._flows import render_status
from nemo_provider.client._ops import Drain, RawResponse, RequestSpec
from nemo_provider.client._retry import NO_REPEATS

if TYPE_CHECKING:
    import aiohttp

    from nemo_provider.client.async_ import AsyncNemoClient
    from nemo_provider.client.models import RenderStatus

__all__ = ["poll_render_status"]


async def poll_render_status(
    client: AsyncNemoClient, session: aiohttp.ClientSession, render_id: str
) -> RenderStatus:
    """``client.render_status(render_id)``, sent on ``session`` without repeating transient failures.

    Uses the client's URL, headers, token state and timeout; a refused anonymous token is renewed on
    the client exactly as ``client.render_status`` would. Network failures raise
    ``NemoConnectionError``, API errors the client's own ``NemoError`` subclasses.
    """
    core = client._core  # same package: the client's request state, not a seam
    io = OnSession(core, session, client.timeout)
    return await drive(render_status(core, render_id), io, NO_REPEATS, client._log)


class OnSession:
    """Plain requests on an aiohttp session (a trigger's calls); streamed or multipart bodies are refused."""

    __slots__ = ("_core", "_session", "_timeout")  # one per call of every trigger

    def __init__(self, core: ClientCore, session: aiohttp.ClientSession, timeout: float) -> None:
        self._core = core
        self._session = session
        self._timeout = timeout

    async def send(self, spec: RequestSpec) -> RawResponse:
        import aiohttp

        if spec.stream or spec.files:
            raise NotImplementedError(f"polling does not stream or upload ({spec.name})")
        try:
            async with self._session.request(
                spec.method,
                self._core.url_for(spec),
                headers=self._core.headers_for(spec),
                json=spec.json,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=spec.read_timeout or self._timeout),
                skip_auto_headers=("Accept-Encoding", "User-Agent"),
            ) as response:
                return RawResponse(response.status, response.headers, await response.read())
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise connection_error(self._core, spec, exc, retried=False) from exc

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def drain(self, op: Drain) -> BaseException | None:
        raise NotImplementedError("polling does not drain streamed bodies")
