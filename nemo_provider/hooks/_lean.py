"""A lean runner for the client's request flows, used for the triggers' status polls.

The client describes every request once, sans I/O (``nemo_provider.client._requests``: a flow yields
``Send(spec)`` and parses what it gets back, including the 1001/400/429 recoveries), and its sync and
async runners perform them over httpx with tenacity retries. A trigger's poll needs none of that
machinery — it polls again on its own schedule and tolerates transient errors itself — and with a
thousand triggers in one event loop, building an httpx request and a retry controller per poll was
most of the triggerer's CPU (bench/trigger_density.py). This runner performs the same flows straight
on the shared aiohttp pool: the same request definition, the same parser, the same errors.
Falls back to the client's own method whenever the pieces it needs are not there.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nemo_provider.client import AsyncNemoClient
    from nemo_provider.client.models import RenderStatus


async def lean_render_status(client: AsyncNemoClient, render_id: str) -> RenderStatus:
    """``client.render_status(render_id)``, performed on the shared aiohttp pool when possible."""
    from nemo_provider.client import _requests as api
    from nemo_provider.hooks._pool import shared_aiohttp_session

    core = getattr(client, "_core", None)
    base_url = getattr(client, "base_url", None)
    session = shared_aiohttp_session(base_url) if core is not None and base_url else None
    if session is None or core is None:
        return await client.render_status(render_id)
    result: RenderStatus = await run_flow(core, api.render_status(core, render_id), session, client.timeout)
    return result


async def run_flow(core: Any, flow: Any, session: Any, timeout: float) -> Any:
    """Drive a client flow: perform each ``Send``, honour ``Sleep``; streamed bodies are not supported."""
    import aiohttp

    from nemo_provider.client import _requests as api

    try:
        op = next(flow)
        while True:
            if isinstance(op, api.Send):
                spec = op.spec
                if spec.stream or spec.files:
                    raise NotImplementedError(f"the lean runner does not stream ({spec.name})")
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
                        raw = api.RawResponse(response.status, response.headers, await response.read())
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    op = flow.throw(api.connection_error(core, spec, exc))
                    continue
                op = flow.send(raw)
            elif isinstance(op, api.Sleep):
                await asyncio.sleep(op.seconds)
                op = flow.send(None)
            else:
                raise NotImplementedError("the lean runner does not drain streamed bodies")
    except StopIteration as stop:
        return stop.value
