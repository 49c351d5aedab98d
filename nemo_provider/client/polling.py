"""The client's flows performed on a caller's ``aiohttp.ClientSession`` instead of httpx.

Why this exists: a process that polls many renders at once (an Airflow triggerer with a thousand
deferred tasks) spends most of its CPU building an httpx request and a tenacity retry controller per
poll (measured by ``bench/trigger_density.py``). A poller polls again on its own schedule and tolerates
transient errors itself, so it needs none of that machinery. ``AsyncNemoClient(session=...)`` runs
every call here (:func:`run_on_session`), and :func:`poll_render_status` runs one status read for a
client that has no session: the client's own flows (the same request definitions, the same parser,
the same 1001/400/429 recoveries, the same errors) straight on the given session.

aiohttp is imported only when a request runs: plain client use never needs it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from nemo_provider.client import _requests as api
from nemo_provider.client.errors import NemoConnectionError

if TYPE_CHECKING:
    import aiohttp

    from nemo_provider.client.async_ import AsyncNemoClient
    from nemo_provider.client.models import RenderStatus

__all__ = ["poll_render_status", "run_on_session"]


async def poll_render_status(
    client: AsyncNemoClient, session: aiohttp.ClientSession, render_id: str
) -> RenderStatus:
    """``client.render_status(render_id)``, sent on ``session`` without the client's retry layer.

    Uses the client's URL, headers, token state and timeout; a refused anonymous token is renewed on
    the client exactly as ``client.render_status`` would. Network failures raise
    ``NemoConnectionError``, API errors the client's own ``NemoError`` subclasses.
    """
    core = client._core  # same package: the client's request state, not a seam
    result: RenderStatus = await run_on_session(
        core, api.render_status(core, render_id), session, client.timeout
    )
    return result


async def run_on_session(
    core: api.ClientCore, flow: Any, session: aiohttp.ClientSession, timeout: float
) -> Any:
    """Drive a flow on ``session``: perform each ``Send``, honour ``Sleep``, no repeats of transient
    failures; streamed or multipart bodies are refused."""
    try:
        op = next(flow)
        while True:
            if isinstance(op, api.Send):
                try:
                    raw = await _send(core, session, op.spec, timeout)
                except NemoConnectionError as exc:
                    op = flow.throw(exc)
                    continue
                op = flow.send(raw)
            elif isinstance(op, api.Sleep):
                await asyncio.sleep(op.seconds)
                op = flow.send(None)
            else:
                raise NotImplementedError("an aiohttp session does not drain streamed bodies here")
    except StopIteration as stop:
        return stop.value


async def _send(
    core: api.ClientCore, session: aiohttp.ClientSession, spec: api.RequestSpec, timeout: float
) -> api.RawResponse:
    import aiohttp

    if spec.stream or spec.files:
        raise NotImplementedError(f"an aiohttp session does not stream or upload here ({spec.name})")
    try:
        async with session.request(
            spec.method,
            core.url_for(spec),
            headers=core.headers_for(spec),
            json=spec.json,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=spec.read_timeout or timeout),
            skip_auto_headers=("Accept-Encoding", "User-Agent"),
        ) as response:
            return api.RawResponse(response.status, response.headers, await response.read())
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        raise api.connection_error(core, spec, exc) from exc
